"""Health checks: one thread per registered target.

Each check opens a TCP connection from the emulator's own address (the
`--listen` address on the targets' subnet) to the target's address and the
health-check port: `tcp` passes when the connection is accepted; `http`
sends `GET PATH HTTP/1.1` and passes when the status is in the matcher
(AWS's default 200-399). No answer within the timeout fails. The
connection is closed after every check, as AWS does.

Results are posted to the main loop (a queue and a wake-up pipe); the
state machine is in balancer.Balancer.health_result.
"""
from __future__ import annotations

import os
import queue
import socket
import threading
import time


def parse_matcher(text: str):
    """'200', '200,204', '200-399' -> a predicate on status codes."""
    ranges = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        lo_i, hi_i = int(lo), int(hi or lo)
        if not (100 <= lo_i <= hi_i <= 599):
            raise ValueError(f"bad HTTP code range {part!r}")
        ranges.append((lo_i, hi_i))
    if not ranges:
        raise ValueError("empty matcher")
    return lambda code: any(lo <= code <= hi for lo, hi in ranges)


def check_once(protocol: str, source: str, ip: str, port: int, path: str, timeout: float,
               matcher) -> tuple[bool, str]:
    """One health check. Returns (passed, what happened)."""
    end = time.monotonic() + timeout
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(timeout)
        try:
            s.connect((ip, port))
        except socket.timeout:
            return False, f"tcp {port}: no answer within {timeout:g} s"
        except OSError as e:
            return False, f"tcp {port}: {os.strerror(e.errno) if e.errno else e}"
        if protocol == "tcp":
            return True, f"tcp {port}: connected"
        req = (f"GET {path} HTTP/1.1\r\nHost: {ip}:{port}\r\nUser-Agent: gwlb-emulator\r\n"
               f"Connection: close\r\n\r\n").encode()
        buf = b""
        try:
            s.sendall(req)
            while b"\r\n" not in buf and len(buf) < 4096:
                left = end - time.monotonic()
                if left <= 0:
                    raise socket.timeout
                s.settimeout(left)
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        except socket.timeout:
            return False, f"http {port}{path}: no status line within {timeout:g} s"
        except OSError as e:
            return False, f"http {port}{path}: {os.strerror(e.errno) if e.errno else e}"
        line = buf.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            return False, f"http {port}{path}: not an HTTP status line: {line[:60]!r}"
        code = int(parts[1])
        return matcher(code), f"http {port}{path}: {code}"
    finally:
        s.close()


class HealthChecks:
    """Runs the checks of every registered target; results come back through
    `results` (a queue of (ip, generation, passed, detail)) with a byte
    written to `wake_fd`."""

    def __init__(self, protocol: str, source: str, port: int, path: str, interval: float,
                 timeout: float, matcher: str, wake_fd: int) -> None:
        self.protocol = protocol
        self.source = source
        self.port = port
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.matcher = parse_matcher(matcher)
        self.matcher_text = matcher
        self.wake_fd = wake_fd
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self._stops: dict[str, threading.Event] = {}

    def start(self, ip: str, generation: int) -> None:
        """(Re)starts the checks of a target just registered."""
        self.stop(ip)
        ev = self._stops[ip] = threading.Event()
        threading.Thread(target=self._run, args=(ip, generation, ev), daemon=True,
                         name=f"health {ip}").start()

    def stop(self, ip: str) -> None:
        ev = self._stops.pop(ip, None)
        if ev is not None:
            ev.set()

    def stop_all(self) -> None:
        for ip in list(self._stops):
            self.stop(ip)

    def _run(self, ip: str, generation: int, stop: threading.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            ok, detail = check_once(self.protocol, self.source, ip, self.port, self.path,
                                    self.timeout, self.matcher)
            if stop.is_set():
                return
            self.results.put((ip, generation, ok, detail))
            try:
                os.write(self.wake_fd, b"h")
            except OSError:
                pass
            next_at += self.interval
            stop.wait(max(0.0, next_at - time.monotonic()))

    def config(self) -> dict:
        return {"protocol": self.protocol, "port": self.port, "path": self.path,
                "matcher": self.matcher_text, "interval_s": self.interval,
                "timeout_s": self.timeout, "source": self.source}
