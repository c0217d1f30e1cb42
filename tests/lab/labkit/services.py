"""The long-running traffic services a lab starts (`lab.start_service`):
asking them for a round of work and reading its result."""
from __future__ import annotations

import signal


def use_idle_conns(lab, name: str, timeout: float) -> dict:
    """Signals the idle-conns service `name` (SIGUSR2) to send one request on
    each of its idle connections; returns its "used" result (answered,
    broken, conns, elapsed_ms), reading each line within `timeout`."""
    proc = lab.service(name)
    proc.send_signal(signal.SIGUSR2)
    while True:
        r = proc.read_json(timeout)
        if r.get("event") == "used":
            return r
