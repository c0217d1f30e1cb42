"""An impaired link between lab nodes: a user-space relay that does what
`tc qdisc ... netem` does (loss, delay with jitter, reordering,
duplication) plus timed outages, for the HA sync link (and, in the pair,
the peer link) of the pair and cluster labs.

Why not netem itself: the lab machine's kernel has no sch_netem (`tc qdisc
add ... netem` answers "Specified qdisc kind is unknown"), and a lab must
run on the machines it is given. The relay sits where a switch would: each
node's veth ends on a port of the relay's namespace (`sw`), the relay reads
every frame on its ports (AF_PACKET), learns source MACs, and sends each
frame out of the port its destination MAC was seen on (flooding the other
ports of its group until then), after the impairment decided its fate:

  loss P       dropped with probability P
  delay D, J   held D +- J ms (uniform, as netem's default jitter), so
               frames overtake each other when J exceeds their spacing
  reorder P    with probability P sent at once instead of after the delay
               (netem's `reorder`: with a delay, the others overtake)
  duplicate P  sent twice
  outages      [t0, t1] windows on CLOCK_MONOTONIC (shared by every
               namespace): every frame arriving inside one is dropped

Each frame is impaired once (on its way through the relay), as netem on
each node's egress impairs each frame once. Ports belong to groups (`ha`,
`peer`): frames never cross groups, and each group has its own settings.

    traffic.py impair-relay --port ha:IFACE --port ha:IFACE [--port peer:IFACE ...]
                            --control FILE

The control file holds {"GROUP": {"loss": 0.05, "delay_ms": 20, "jitter_ms":
10, "reorder": 0.1, "duplicate": 0.02, "outages": [[t0, t1], ...]}, ...};
SIGHUP re-reads it (answer: {"event": "applied"}), SIGUSR1 prints the
counts ({"event": "stats"}), SIGTERM prints them and exits
({"event": "stopped"}).
"""
from __future__ import annotations

import heapq
import json
import os
import random
import select
import signal
import socket
import time

from traffic import emit

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
COUNTS = ("frames", "forwarded", "lost", "outage_dropped", "delayed", "reordered",
          "duplicated", "flooded")


class _Group:
    def __init__(self, name: str) -> None:
        self.name = name
        self.settings: dict = {}
        self.counts = {k: 0 for k in COUNTS}
        self.macs: dict[bytes, int] = {}   # source MAC -> port index


def _impairment_of(settings: dict) -> dict:
    s = dict(settings or {})
    return {"loss": float(s.get("loss", 0.0)), "delay_ms": float(s.get("delay_ms", 0.0)),
            "jitter_ms": float(s.get("jitter_ms", 0.0)), "reorder": float(s.get("reorder", 0.0)),
            "duplicate": float(s.get("duplicate", 0.0)),
            "outages": [(float(a), float(b)) for a, b in s.get("outages", [])]}


class _Relay:
    """impair-relay's ports, groups, signal flags and the frames it holds back."""

    def __init__(self, a) -> None:
        self.a = a
        self.rng = random.Random(a.seed)
        self.ports = []    # (group, iface, socket)
        self.groups: dict[str, _Group] = {}
        for spec in a.port:
            self.open_port(spec)
        self.rfd = self.install_signals()
        self.ep = select.epoll()
        self.ep.register(self.rfd, select.EPOLLIN)
        self.by_fd = {}
        for i, (_g, _iface, s) in enumerate(self.ports):
            self.ep.register(s.fileno(), select.EPOLLIN)
            self.by_fd[s.fileno()] = i
        self.reload()
        self.due: list = []        # (send time, arrival seq, out port, frame)
        self.last_sent = {}        # out port -> highest arrival seq sent (reordering seen)
        self.seq = 0

    def open_port(self, spec: str) -> None:
        """A raw socket on GROUP:IFACE."""
        gname, _, iface = spec.partition(":")
        g = self.groups.setdefault(gname, _Group(gname))
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.bind((iface, 0))
        s.setblocking(False)
        self.ports.append((g, iface, s))

    def install_signals(self) -> int:
        """Flags set by SIGTERM/SIGINT (stop), SIGUSR1 (stats) and SIGHUP
        (reload); returns the read end of the signal wake-up pipe."""
        rfd, wfd = os.pipe()
        os.set_blocking(rfd, False)
        os.set_blocking(wfd, False)
        signal.set_wakeup_fd(wfd)
        flags = {"stop": False, "stats": False, "reload": False}
        signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
        signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
        signal.signal(signal.SIGUSR1, lambda *_: flags.__setitem__("stats", True))
        signal.signal(signal.SIGHUP, lambda *_: flags.__setitem__("reload", True))
        self.flags = flags
        return rfd

    def reload(self) -> None:
        """Reads each group's settings from the control file."""
        try:
            with open(self.a.control) as f:
                conf = json.load(f)
        except (OSError, ValueError):
            conf = {}
        for g in self.groups.values():
            g.settings = _impairment_of(conf.get(g.name))

    def stats(self, event: str) -> dict:
        return {"event": event, "t": time.monotonic(), "pending": len(self.due),
                "groups": {g.name: dict(g.counts, settings=g.settings)
                           for g in self.groups.values()}}

    def send(self, out: int, aseq: int, frame: bytes) -> None:
        g, _iface, s = self.ports[out]
        try:
            s.send(frame)
        except OSError:
            return   # a full queue drops, as a real link would
        g.counts["forwarded"] += 1
        if aseq < self.last_sent.get(out, -1):
            g.counts["reordered"] += 1
        else:
            self.last_sent[out] = aseq

    def outputs(self, g: _Group, i: int, frame: bytes) -> list[int]:
        """The ports a frame from port i goes out of: where its destination
        MAC was seen, else every other port of its group (flooded)."""
        dst = g.macs.get(frame[0:6]) if len(frame) >= 6 and not frame[0] & 1 else None
        if dst is not None and dst != i:
            return [dst]
        g.counts["flooded"] += 1
        return [j for j, p in enumerate(self.ports) if p[0] is g and j != i]

    def take(self, i: int, frame: bytes, now: float) -> None:
        """A frame that arrived on port i: dropped, or sent or held (once or twice)."""
        rng = self.rng
        g = self.ports[i][0]
        st = g.settings
        g.counts["frames"] += 1
        if len(frame) >= 12:
            g.macs[frame[6:12]] = i
        if any(t0 <= now <= t1 for t0, t1 in st["outages"]):
            g.counts["outage_dropped"] += 1
            return
        if st["loss"] and rng.random() < st["loss"]:
            g.counts["lost"] += 1
            return
        outs = self.outputs(g, i, frame)
        copies = 2 if st["duplicate"] and rng.random() < st["duplicate"] else 1
        if copies == 2:
            g.counts["duplicated"] += 1
        for _ in range(copies):
            self.seq += 1
            delay = st["delay_ms"]
            if delay and st["jitter_ms"]:
                delay += rng.uniform(-st["jitter_ms"], st["jitter_ms"])
            if st["reorder"] and rng.random() < st["reorder"]:
                delay = 0.0
            for out in outs:
                if delay > 0:
                    g.counts["delayed"] += 1
                    heapq.heappush(self.due, (now + delay / 1000.0, self.seq, out, frame))
                else:
                    self.send(out, self.seq, frame)

    def send_due(self, now: float) -> None:
        """Sends every held frame whose time has come."""
        due = self.due
        while due and due[0][0] <= now:
            _t, aseq, out, frame = heapq.heappop(due)
            self.send(out, aseq, frame)

    def receive(self, fd: int) -> None:
        """Takes up to 64 frames that arrived on port socket fd."""
        i = self.by_fd[fd]
        s = self.ports[i][2]
        for _ in range(64):
            try:
                frame, addr = s.recvfrom(65535)
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue   # what this relay (or the kernel) sent on the port
            self.take(i, frame, time.monotonic())

    def on_flags(self) -> None:
        """Answers SIGHUP (settings re-read) and SIGUSR1 (the counts)."""
        flags = self.flags
        if flags["reload"]:
            flags["reload"] = False
            self.reload()
            emit({"event": "applied", "t": time.monotonic(),
                  "groups": {g.name: g.settings for g in self.groups.values()}})
        if flags["stats"]:
            flags["stats"] = False
            emit(self.stats("stats"))

    def relay(self) -> None:
        """Runs until SIGTERM or --max-seconds, then sends what is in flight."""
        end = time.monotonic() + self.a.max_seconds
        while not self.flags["stop"] and time.monotonic() < end:
            now = time.monotonic()
            self.send_due(now)
            wait = max(0.0, min(0.2, self.due[0][0] - now)) if self.due else 0.2
            for fd, _ev in self.ep.poll(wait):
                if fd == self.rfd:
                    try:
                        while os.read(self.rfd, 512):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                self.receive(fd)
            self.on_flags()
        while self.due:   # what is in flight still arrives
            _t, aseq, out, frame = heapq.heappop(self.due)
            self.send(out, aseq, frame)


def cmd_impair_relay(a) -> int:
    relay = _Relay(a)
    emit({"event": "ready", "ports": [f"{g.name}:{iface}" for g, iface, _s in relay.ports]})
    relay.relay()
    emit(relay.stats("stopped"))
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("impair-relay", help="a switch that impairs frames as netem would "
                                            "(loss, delay, reordering, duplication, outages)")
    p.add_argument("--port", action="append", required=True, help="GROUP:IFACE")
    p.add_argument("--control", required=True, help="JSON file of each group's impairment")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.set_defaults(fn=cmd_impair_relay)


# --- the orchestrator's side -------------------------------------------------------------------


class ImpairedLinks:
    """The relay of one lab, started before the nodes (so the HA link goes
    through it from the start) and told what to do to each group."""

    SERVICE = "impair-relay"

    def __init__(self, lab, ports: list[str]) -> None:
        self.lab = lab
        self.control = os.path.join(lab.workdir, "impairment.json")
        self.settings: dict[str, dict] = {}
        self._write()
        self.ready = lab.start_service(self.SERVICE, "sw", [
            "impair-relay", "--control", self.control,
            *[w for p in ports for w in ("--port", p)]], timeout=15.0)

    def _write(self) -> None:
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.settings, f)
        os.replace(tmp, self.control)

    def set(self, group: str, **settings) -> None:
        """Replaces the impairment of `group` (none: a clean link) and waits
        until the relay applies it."""
        self.settings[group] = settings
        self._write()
        proc = self.lab.service(self.SERVICE)
        proc.send_signal(signal.SIGHUP)
        while True:
            msg = proc.read_json(5.0)
            if msg.get("event") == "applied":
                return

    def clear(self) -> None:
        for g in list(self.settings):
            self.set(g)

    def counts(self) -> dict[str, dict]:
        """{group: {frames, forwarded, lost, outage_dropped, delayed,
        reordered, duplicated, flooded}} since the start."""
        return self.lab.service_stats(self.SERVICE)["groups"]


def counts_delta(after: dict, before: dict) -> dict[str, dict]:
    return {g: {k: v - before.get(g, {}).get(k, 0) for k, v in c.items() if k in COUNTS}
            for g, c in after.items()}
