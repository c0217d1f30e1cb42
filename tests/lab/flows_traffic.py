"""`flows`: many small flows from chosen source addresses (traffic.py CMD).

    flows  UDP request/response flows and short TCP connections from each of
           --src (and, for UDP, several source ports each), to an echo
           server; --duration 0: --rounds requests per UDP flow, then exit;
           else a request on every UDP flow each --interval until SIGTERM
           (or the duration), then the counts. TCP: --tcp-per-src connections
           per address, each one request/echo, opened at the start.

Prints {"event": "ready", ...} once every flow has its socket, then the
final counts: per flow (proto, src, sport) sent / replies, and totals.
"""
from __future__ import annotations

import json
import select
import signal
import socket
import sys
import time


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def open_udp_flows(a, srcs: list[str]) -> list[dict]:
    """--udp-per-src connected UDP sockets from each source address."""
    udp = []
    for src in srcs:
        for i in range(a.udp_per_src):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, a.sport_base + i if a.sport_base else 0))
            s.connect((a.dst, a.port))
            s.setblocking(False)
            udp.append({"sock": s, "src": src, "sport": s.getsockname()[1], "sent": 0,
                        "replies": 0, "proto": "udp"})
    return udp


def tcp_echo(a, src: str) -> dict:
    """One TCP connection from `src`: one request, its echo checked."""
    rec = {"src": src, "sport": 0, "sent": 1, "replies": 0, "proto": "tcp", "error": ""}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((src, 0))
        rec["sport"] = s.getsockname()[1]
        s.settimeout(a.timeout)
        s.connect((a.dst, a.tcp_port))
        payload = f"{src}:{rec['sport']}".encode()
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        rec["replies"] = int(got == payload)
    except OSError as e:
        rec["error"] = type(e).__name__
    finally:
        s.close()
    return rec


def take_replies(by_fd: dict, ready: list) -> None:
    """Counts every reply waiting on the ready UDP sockets."""
    for fd in ready:
        f = by_fd[fd]
        try:
            while True:
                f["sock"].recv(2048)
                f["replies"] += 1
        except (BlockingIOError, ConnectionRefusedError):
            pass


def udp_rounds(a, udp: list[dict], by_fd: dict, stop: dict, end: float | None) -> int:
    """A request on every UDP flow per round (--rounds of them, or each
    --interval until `end` or SIGTERM); returns the rounds sent."""
    rounds = 0
    while not stop["now"]:
        if end is None and rounds >= a.rounds:
            break
        if end is not None and time.monotonic() >= end:
            break
        t0 = time.monotonic()
        for f in udp:
            try:
                f["sock"].send(f"{f['sport']}:{f['sent']}".encode())
                f["sent"] += 1
            except OSError:
                pass
        rounds += 1
        # collect replies until the next round is due
        wait_until = t0 + (a.interval if end is not None else a.timeout)
        while not stop["now"]:
            left = wait_until - time.monotonic()
            if left <= 0:
                break
            try:
                ready, _, _ = select.select(list(by_fd), [], [], left)
            except InterruptedError:
                continue
            take_replies(by_fd, ready)
            if end is None and all(f["replies"] >= f["sent"] for f in udp):
                break
    return rounds


def cmd_flows(a) -> int:
    srcs = [s for s in a.src.split(",") if s]
    udp = open_udp_flows(a, srcs)
    tcp = [tcp_echo(a, src) for src in srcs for _ in range(a.tcp_per_src)]
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    emit({"event": "ready", "udp_flows": len(udp), "tcp_flows": len(tcp)})
    by_fd = {f["sock"].fileno(): f for f in udp}
    started = time.monotonic()
    end = started + a.duration if a.duration else None
    rounds = udp_rounds(a, udp, by_fd, stop, end)
    # late replies of the last round
    t_end = time.monotonic() + a.timeout
    while time.monotonic() < t_end and any(f["replies"] < f["sent"] for f in udp):
        ready, _, _ = select.select(list(by_fd), [], [], 0.05)
        take_replies(by_fd, ready)
    flows = [{k: v for k, v in f.items() if k != "sock"} for f in udp] + tcp
    for f in udp:
        f["sock"].close()
    emit({"event": "stopped", "tool": "flows", "rounds": rounds, "flows": flows,
          "sent": sum(f["sent"] for f in flows), "replies": sum(f["replies"] for f in flows),
          "elapsed_s": round(time.monotonic() - started, 3)})
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("flows", help="UDP flows and TCP connections from chosen sources")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=5353, help="UDP echo port")
    p.add_argument("--tcp-port", type=int, default=5001, help="TCP echo port")
    p.add_argument("--src", required=True, help="source addresses, comma-separated")
    p.add_argument("--udp-per-src", type=int, default=4)
    p.add_argument("--tcp-per-src", type=int, default=0)
    p.add_argument("--sport-base", type=int, default=0, help="first UDP source port (0: any)")
    p.add_argument("--rounds", type=int, default=3, help="--duration 0: requests per flow")
    p.add_argument("--duration", type=float, default=0.0,
                   help="seconds to keep sending (0: --rounds, then exit)")
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=1.0)
    p.set_defaults(fn=cmd_flows)
