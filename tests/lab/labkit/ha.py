"""Reading a node's `show high-availability state` (as its JSON result):
the local state, the peers as the node sees them, whether it is ready."""
from __future__ import annotations

import time

ACTIVE_STATES = ("active-primary", "active-secondary", "active")


def ha_local_state(st: dict | None) -> str | None:
    if not isinstance(st, dict):
        return None
    local = st.get("local")
    return local.get("state") if isinstance(local, dict) else None


def ha_peers(st: dict | None) -> list[dict]:
    if not isinstance(st, dict) or not isinstance(st.get("peers"), list):
        return []
    return [p for p in st["peers"] if isinstance(p, dict)]


def peer_alive(st: dict | None, node_id: int) -> bool | None:
    """Whether `st` (a node's HA state) sees node `node_id` alive; None when
    it does not list it."""
    for p in ha_peers(st):
        if str(p.get("id")) == str(node_id):
            return p.get("alive")
    return None


def declared_dead_at(st: dict | None, node_id: int, t_answered: float) -> float | None:
    """When (time.monotonic()) the node whose HA state is `st` declared node
    `node_id` dead, or None while it sees it alive (or the state says
    nothing). The node's own `down_ms` says how long before its snapshot;
    the snapshot is no newer than the answer (`t_answered`), so the time
    returned is at or after the declaration: a slow poll does not make the
    death look late, and nothing makes it look early. Without `down_ms`, the
    answer's time."""
    for p in ha_peers(st):
        if str(p.get("id")) != str(node_id) or p.get("alive") is not False:
            continue
        down_ms = p.get("down_ms")
        if isinstance(down_ms, int) and down_ms >= 0:
            return t_answered - down_ms / 1000.0
        return t_answered
    return None


def ha_ready(st: dict, expect_peer: bool = True) -> bool:
    """This node is active and, with `expect_peer`, lists its peers, every one
    alive and active (a field a node does not report is not taken as yes)."""
    if ha_local_state(st) not in ACTIVE_STATES:
        return False
    if expect_peer:
        peers = ha_peers(st)
        if not peers:
            return False
        for p in peers:
            if p.get("alive") is not True or p.get("state") not in ACTIVE_STATES:
                return False
    return True


def ha_summary(st: dict | None) -> str:
    if st is None:
        return "n/a"
    parts = [f"state {ha_local_state(st)}"]
    for p in ha_peers(st):
        fields = [f"{k} {p[k]}" for k in ("state", "alive", "control_link", "peer_link")
                  if k in p]
        parts.append(f"peer {p.get('id', '?')}: " + ", ".join(fields))
    return "; ".join(parts)


def wait_until(fn, timeout: float, interval: float = 0.05):
    """Polls fn() until it returns something truthy; returns it, or the last
    value after `timeout`."""
    end = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > end:
            return v
        time.sleep(interval)
