"""What a lab run leaves: counter deltas and the lines that show them, the
JSON file of counted outcomes (--json), the configs and logs kept
(--artifacts)."""
from __future__ import annotations

import json
import os
import shutil


def delta(after: dict | None, before: dict | None) -> dict:
    if not after or not before:
        return {}
    return {k: v - before.get(k, 0) for k, v in after.items()
            if isinstance(v, int) and v - before.get(k, 0)}


_NOISE = ("io.idle_sleeps", "io.rx_bursts", "io.polls")


def counter_line(d: dict, keys: tuple[str, ...] | None = None, limit: int = 40) -> str:
    """Counters that moved: the dataplane's first (drops and forwarding
    decisions), then the groups (ha., io., peer_link., ...)."""
    items = [(k, v) for k, v in sorted(d.items(), key=lambda kv: ("." in kv[0], kv[0]))
             if v and k not in _NOISE and not k.endswith("bytes") and
             (keys is None or any(k == x or k.endswith("." + x) or k.startswith(x) for x in keys))]
    if not items:
        return "(no counter moved)"
    return "  ".join(f"{k} {v:+d}" for k, v in items[:limit]) + \
        (f"  (+{len(items) - limit} more)" if len(items) > limit else "")


def write_json(path: str, data: dict, sort_keys: bool = False) -> None:
    """Writes a runner's counted outcomes (--json FILE); values JSON cannot
    hold are written as their text."""
    with open(path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=sort_keys, default=str)


def save_artifacts(workdir: str | None, target: str, sub: str = "") -> str:
    """Copies every file under the lab's work directory (configs, logs,
    captures) to `target`/`sub`, a nested path flattened with '_'. Returns
    the folder written; a file that vanished meanwhile is passed over."""
    dst = os.path.join(target, sub) if sub else target
    os.makedirs(dst, exist_ok=True)
    if not workdir or not os.path.isdir(workdir):
        return dst
    for root, _, files in os.walk(workdir):
        for name in files:
            src = os.path.join(root, name)
            rel = os.path.relpath(src, workdir).replace(os.sep, "_")
            try:
                shutil.copy2(src, os.path.join(dst, rel))
            except OSError:
                pass
    return dst
