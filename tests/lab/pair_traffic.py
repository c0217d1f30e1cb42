"""Traffic tools of the two-node (pair) lab, run as `traffic.py CMD ...`.

traffic.py registers these subcommands (add_commands); like its own tools
they run inside a namespace and print JSON lines.

    stream-serve   epoll server: echo-as-it-arrives ports (request/response)
                   and source ports (a bulk byte pattern streamed to the client)
    rr-long        N long-lived connections doing request/response every
                   INTERVAL, plus bulk download streams; records every
                   response time, and at the end measures, for each event
                   the orchestrator marked (kill, restart, ...), the largest
                   gap between responses measured from that event
    idle-conns     N connections that answer one request each, then stay
                   silent until told (SIGUSR2) to send one request more each,
                   and report how many were answered; SIGTERM closes them
    ha-garbage     garbage bytes, and ZeroMQ connections with an unknown
                   CURVE key or none, to a node's HA listen port
    peer-garbage   scapy: malformed frames with the peer-link EtherType, or
                   (--udp-dst) malformed and foreign IPv4/UDP peer-link datagrams
    syn-flood      TCP SYNs from spoofed sources, each a new flow (syn_flood.py)

The event marks: the orchestrator appends JSON lines {"name": N, "t": T} to
the file given by --marks (T: time.monotonic(), which every namespace
shares); rr-long reads the file when it stops.
"""

from __future__ import annotations

import errno
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import time
from array import array

from traffic import emit, errno_name, ms, percentile, ports

# --- stream-serve ---------------------------------------------------------------------------

PATTERN_PERIOD = 251
PATTERN = bytes(range(PATTERN_PERIOD)) * 600          # ~150 KB; any offset % 251 is a start
CHUNK = 65536


class _Conn:
    __slots__ = ("sock", "kind", "port", "out", "rate", "t0", "sent", "header", "eof",
                 "want_out")

    def __init__(self, sock, kind, port):
        self.sock, self.kind, self.port = sock, kind, port
        self.out = bytearray()
        self.rate = None          # source: bytes per second, 0 = unlimited, None = no header yet
        self.header = b""
        self.t0 = 0.0
        self.sent = 0
        self.eof = False
        self.want_out = False


class _StreamServer:
    """The epoll loop of stream-serve: its listeners, connections and per-port counts."""

    def __init__(self, a) -> None:
        self.ep = select.epoll()
        self.listeners = {}
        self.stats = {}
        for kind, text in (("echo", a.echo), ("source", a.source)):
            for p in ports(text):
                self.listen(a.bind, p, kind)
        self.conns: dict[int, _Conn] = {}

    def listen(self, bind: str, p: int, kind: str) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((bind, p))
        s.listen(4096)
        s.setblocking(False)
        self.ep.register(s.fileno(), select.EPOLLIN)
        self.listeners[s.fileno()] = (s, kind, p)
        self.stats[str(p)] = {"kind": kind, "accepted": 0, "active": 0, "closed_clean": 0,
                              "reset": 0, "errors": 0, "bytes_in": 0, "bytes_out": 0}

    def snapshot(self, event):
        return {"event": event, "ports": self.stats, "pid": os.getpid()}

    def close(self, c: _Conn, outcome: str) -> None:
        st = self.stats[str(c.port)]
        st["active"] -= 1
        st[outcome] += 1
        try:
            self.ep.unregister(c.sock.fileno())
        except (OSError, ValueError):
            pass
        self.conns.pop(c.sock.fileno(), None)
        c.sock.close()

    def set_out(self, c: _Conn, on: bool) -> None:
        if c.want_out != on:
            c.want_out = on
            self.ep.modify(c.sock.fileno(), select.EPOLLIN | (select.EPOLLOUT if on else 0))

    def flush(self, c: _Conn) -> bool:
        """Sends what is queued; False when the connection is gone."""
        st = self.stats[str(c.port)]
        try:
            while c.out:
                n = c.sock.send(c.out)
                del c.out[:n]
                st["bytes_out"] += n
        except BlockingIOError:
            pass
        except ConnectionResetError:
            self.close(c, "reset")
            return False
        except OSError:
            self.close(c, "errors")
            return False
        return True

    def pump_source(self, c: _Conn, now: float) -> bool:
        st = self.stats[str(c.port)]
        if c.rate:
            budget = int(c.rate * (now - c.t0)) - c.sent
            if budget > 4 * CHUNK:
                # behind schedule (the path stalled): no catch-up burst
                c.t0 = now - (c.sent + 4 * CHUNK) / c.rate
                budget = 4 * CHUNK
            if budget <= 0:
                return True
        else:
            budget = 16 * CHUNK
        try:
            while budget > 0:
                off = c.sent % PATTERN_PERIOD
                n = c.sock.send(memoryview(PATTERN)[off:off + min(budget, CHUNK)])
                c.sent += n
                st["bytes_out"] += n
                budget -= n
            self.set_out(c, not c.rate)
        except BlockingIOError:
            self.set_out(c, True)
        except ConnectionResetError:
            self.close(c, "reset")
            return False
        except OSError:
            self.close(c, "errors")
            return False
        return True

    def finish_eof(self, c: _Conn) -> None:
        """The client half-closed: finish and close our side."""
        c.eof = True
        if c.kind == "echo" and not self.flush(c):
            return
        if c.out:
            self.set_out(c, True)
            return
        try:
            c.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.close(c, "closed_clean")

    def on_readable(self, c: _Conn) -> None:
        st = self.stats[str(c.port)]
        try:
            data = c.sock.recv(CHUNK)
        except BlockingIOError:
            return
        except ConnectionResetError:
            self.close(c, "reset")
            return
        except OSError:
            self.close(c, "errors")
            return
        if not data:
            self.finish_eof(c)
            return
        st["bytes_in"] += len(data)
        if c.kind == "echo":
            c.out += data
            if self.flush(c) and c.out:
                self.set_out(c, True)
        elif c.rate is None:
            c.header += data
            if len(c.header) >= 8:
                c.rate = struct.unpack("!Q", c.header[:8])[0]
                c.t0 = time.monotonic()
                self.pump_source(c, c.t0)

    def on_writable(self, c: _Conn) -> None:
        if c.kind == "echo" or c.eof:
            if self.flush(c) and not c.out:
                self.set_out(c, False)
                if c.eof:
                    try:
                        c.sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    self.close(c, "closed_clean")
        elif c.rate is not None:
            self.pump_source(c, time.monotonic())

    def accept_all(self, fd: int) -> None:
        """Accepts every connection waiting on listener fd."""
        ls, kind, p = self.listeners[fd]
        while True:
            try:
                s, _ = ls.accept()
            except BlockingIOError:
                break
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = _Conn(s, kind, p)
            self.conns[s.fileno()] = c
            self.ep.register(s.fileno(), select.EPOLLIN)
            self.stats[str(p)]["accepted"] += 1
            self.stats[str(p)]["active"] += 1

    def handle(self, fd: int, ev: int) -> None:
        """One epoll event of a listener or a connection."""
        if fd in self.listeners:
            self.accept_all(fd)
            return
        c = self.conns.get(fd)
        if c is None:
            return
        if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            self.on_readable(c)
            if fd not in self.conns:
                return
        if ev & select.EPOLLOUT:
            self.on_writable(c)

    def serve(self, rfd: int, flags: dict) -> None:
        """Runs until flags["stop"]; emits a stats snapshot on each SIGUSR1."""
        while not flags["stop"]:
            sources = [c for c in self.conns.values() if c.kind == "source" and c.rate]
            timeout = 0.005 if sources else 0.5
            try:
                events = self.ep.poll(timeout)
            except InterruptedError:
                events = []
            for fd, ev in events:
                if fd == rfd:
                    drain_wakeup(rfd)
                    continue
                self.handle(fd, ev)
            now = time.monotonic()
            for c in sources:
                if not c.eof and self.conns.get(c.sock.fileno()) is c:
                    self.pump_source(c, now)
            if flags["stats"]:
                flags["stats"] = False
                emit(self.snapshot("stats"))


def cmd_stream_serve(a) -> int:
    server = _StreamServer(a)
    rfd, flags = signal_flags(server.ep, stats=signal.SIGUSR1)
    emit({"event": "ready", "echo": ports(a.echo), "source": ports(a.source), "pid": os.getpid()})
    server.serve(rfd, flags)
    for c in list(server.conns.values()):
        c.sock.close()
    emit(server.snapshot("stopped"))
    return 0


# --- rr-long ------------------------------------------------------------------------------------


class _RR:
    """One long-lived request/response connection."""
    __slots__ = ("idx", "sock", "sport", "state", "seq", "req", "buf", "sent_at", "next_due",
                 "times", "requests", "responses", "mismatch", "error", "error_t", "closed")

    def __init__(self, idx):
        self.idx = idx
        self.sock = None
        self.sport = 0
        self.state = "connecting"   # connecting | idle | waiting | closing | done | broken
        self.seq = 0
        self.req = b""
        self.buf = bytearray()
        self.sent_at = 0.0
        self.next_due = 0.0
        self.times = array("d")     # monotonic time of every good response
        self.requests = self.responses = self.mismatch = 0
        self.error = ""
        self.error_t = 0.0
        self.closed = ""


class _Bulk:
    __slots__ = ("idx", "sock", "sport", "state", "bytes", "bad", "last_rx", "first_rx", "gaps",
                 "max_gap", "error", "error_t", "closed")

    def __init__(self, idx):
        self.idx = idx
        self.sock = None
        self.sport = 0
        self.state = "connecting"
        self.bytes = 0
        self.bad = 0
        self.first_rx = 0.0
        self.last_rx = 0.0
        self.gaps = []              # (start, end) of receive gaps above the threshold
        self.max_gap = 0.0
        self.error = ""
        self.error_t = 0.0
        self.closed = ""


def signal_flags(ep, **extra: int) -> tuple[int, dict[str, bool]]:
    """Flags set by signals, and a wake-up pipe registered with `ep` so
    that a signal ends its poll: "stop" on SIGTERM and SIGINT, and each
    name in `extra` on its signal. Returns (the pipe's read end, flags)."""
    rfd, wfd = os.pipe()
    os.set_blocking(rfd, False)
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    flags = {"stop": False, **{name: False for name in extra}}
    signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
    for name, sig in extra.items():
        signal.signal(sig, lambda *_, n=name: flags.__setitem__(n, True))
    ep.register(rfd, select.EPOLLIN)
    return rfd, flags


def drain_wakeup(fd: int) -> None:
    """Empties the signal wake-up pipe (signal.set_wakeup_fd) after a poll."""
    try:
        os.read(fd, 512)
    except BlockingIOError:
        pass


def read_marks(path: str | None) -> list[dict]:
    if not path or not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def overlap(spans, a: float, b: float) -> float:
    """How much of [a, b] the (start, end) spans cover (they do not overlap)."""
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in spans)


def gap_from(times, t_mark: float, window: float, t_end: float,
             stalls=()) -> tuple[float, float]:
    """The largest silence measured from `t_mark` in [t_mark, t_mark+window]:
    over consecutive responses (t_i, t_i+1) with t_i+1 > t_mark, the length
    t_i+1 - max(t_i, t_mark), less the time the measuring process itself did
    not run in it (`stalls`: (start, end) spans, see udp-probe); a
    connection silent until t_end counts up to t_end. Returns (gap seconds,
    time the gap ended)."""
    best, best_end = 0.0, t_mark
    prev = None
    w_end = t_mark + window
    for t in times:
        if t <= t_mark:
            prev = t
            continue
        start = t_mark if prev is None or prev < t_mark else prev
        if start > w_end:
            break
        gap = t - start - overlap(stalls, start, t)
        if gap > best:
            best, best_end = gap, t
        prev = t
    last = times[-1] if len(times) else t_mark
    tail_start = max(last, t_mark)
    tail_end = min(t_end, w_end)
    tail = tail_end - tail_start - overlap(stalls, tail_start, tail_end)
    if tail_start < w_end and tail > best and t_end > tail_start:
        best, best_end = tail, float("inf")
    return best, best_end


def max_gap_between(times, t0: float, t1: float) -> float:
    """Largest interval between consecutive responses inside [t0, t1]."""
    best, prev = 0.0, None
    for t in times:
        if t < t0:
            continue
        if t > t1:
            break
        if prev is not None and t - prev > best:
            best = t - prev
        prev = t
    return best


def bulk_gap_from(b: _Bulk, t_mark: float, window: float, t_end: float) -> float:
    best = 0.0
    w_end = t_mark + window
    for s, e in b.gaps:
        if e <= t_mark or s > w_end:
            continue
        best = max(best, e - max(s, t_mark))
    if b.state in ("broken",) or (b.last_rx and b.last_rx < w_end and t_end > b.last_rx):
        tail = min(t_end, w_end) - max(b.last_rx, t_mark)
        if b.state == "broken" or tail > 0.5:
            best = max(best, tail)
    return best


class _RrLong:
    """rr-long's state: the connections, the epoll set, the counts. One
    thread; `run()` drives it and emits the JSON lines."""

    def __init__(self, a) -> None:
        self.a = a
        self.ep = select.epoll()
        self.rng = random.Random(a.seed)
        self.rrs = [_RR(i) for i in range(a.conns)]
        self.bulks = [_Bulk(i) for i in range(a.bulk_conns if a.bulk_port else 0)]
        self.by_fd: dict[int, object] = {}
        self.connect_failed = 0
        self.connect_errors: dict[str, int] = {}
        self.started = time.monotonic()
        self.hard_end = self.started + a.max_seconds
        self.gap_threshold = a.bulk_gap_ms / 1000.0
        self.rfd, self.flags = signal_flags(self.ep, stats=signal.SIGUSR1)
        self.due: list[tuple[float, int]] = []     # (time, connection) of the next requests
        self.ready_sent = False
        self.stop_at: float | None = None

    def open_conn(self, c, port: int) -> None:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((self.a.dst, port))
        except BlockingIOError:
            pass
        c.sock = s
        c.sport = s.getsockname()[1]
        self.by_fd[s.fileno()] = c
        self.ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)

    def fail(self, c, reason: str, now: float) -> None:
        if c.state in ("broken", "done"):
            return
        if c.state == "connecting":
            self.connect_failed += 1
            self.connect_errors[reason] = self.connect_errors.get(reason, 0) + 1
        c.state = "broken"
        c.error, c.error_t = reason, now
        try:
            self.ep.unregister(c.sock.fileno())
        except (OSError, ValueError):
            pass
        self.by_fd.pop(c.sock.fileno(), None)
        c.sock.close()

    def send_request(self, c: _RR, now: float) -> None:
        c.seq += 1
        head = struct.pack("!IQ", c.idx, c.seq)
        c.req = head + self.rng.randbytes(max(0, self.a.size - len(head)))
        try:
            n = c.sock.send(c.req)
        except (BlockingIOError, InterruptedError):
            n = 0
        except ConnectionResetError:
            self.fail(c, "reset", now)
            return
        except OSError as e:
            self.fail(c, errno_name(e), now)
            return
        if n != len(c.req):
            # a 64-byte request that does not fit the socket buffer: the
            # connection is stuck far beyond anything this test tolerates
            self.fail(c, "send_blocked", now)
            return
        c.requests += 1
        c.sent_at = now
        c.state = "waiting"
        c.buf.clear()

    def connected(self, c, ev: int, now: float) -> bool:
        """A connecting socket's outcome: True once connected (now waiting
        for input), False while pending or failed (counted)."""
        err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.fail(c, errno.errorcode.get(err, str(err)), now)
            return False
        if not ev & select.EPOLLOUT:
            return False
        self.ep.modify(c.sock.fileno(), select.EPOLLIN)
        return True

    def receive(self, c, size: int, now: float) -> bytes | None:
        """Up to `size` bytes, b"" at end of stream, None when nothing is
        there or the connection broke (counted); a clean end of stream
        after closing marks the connection done."""
        try:
            data = c.sock.recv(size)
        except BlockingIOError:
            return None
        except ConnectionResetError:
            self.fail(c, "reset", now)
            return None
        except OSError as e:
            self.fail(c, errno_name(e), now)
            return None
        if not data:
            if c.state == "closing":
                c.state, c.closed = "done", "clean"
                self.ep.unregister(c.sock.fileno())
                self.by_fd.pop(c.sock.fileno(), None)
                c.sock.close()
            else:
                self.fail(c, "eof", now)
        return data

    def on_rr(self, c: _RR, ev: int, now: float) -> None:
        if c.state == "connecting":
            if self.connected(c, ev, now):
                c.state = "idle"
                self.send_request(c, now)
            return
        data = self.receive(c, 65536, now)
        if not data:
            return
        if c.state != "waiting":
            c.mismatch += 1
            return
        c.buf += data
        if len(c.buf) < len(c.req):
            return
        if bytes(c.buf) != c.req:
            c.mismatch += 1
            self.fail(c, "mismatch", now)
            return
        c.responses += 1
        c.times.append(now)
        c.state = "idle"
        c.next_due = max(now, c.sent_at + self.a.interval)

    def on_bulk(self, b: _Bulk, ev: int, now: float) -> None:
        if b.state == "connecting":
            if self.connected(b, ev, now):
                b.sock.send(struct.pack("!Q", self.a.bulk_rate))
                b.state = "running"
            return
        while True:
            data = self.receive(b, 262144, now)
            if not data:
                return
            off = b.bytes % PATTERN_PERIOD
            if data != PATTERN[off:off + len(data)] and len(data) <= len(PATTERN) - off:
                b.bad += 1
            b.bytes += len(data)
            if b.last_rx:
                g = now - b.last_rx
                if g > b.max_gap:
                    b.max_gap = g
                if g > self.gap_threshold and len(b.gaps) < 1000:
                    b.gaps.append((b.last_rx, now))
            else:
                b.first_rx = now
            b.last_rx = now
            if len(data) < 262144:
                return

    def stats(self, event: str, now: float) -> dict:
        rrs = self.rrs
        live = [c for c in rrs if c.state in ("idle", "waiting")]
        last = [c.times[-1] if len(c.times) else 0.0 for c in live]
        return {"event": event, "t": now, "connected": sum(1 for c in rrs if len(c.times)),
                "live": len(live), "broken": sum(1 for c in rrs if c.state == "broken"),
                "responses": sum(c.responses for c in rrs),
                "oldest_last_response": min(last) if last else 0.0,
                "bulk": [{"bytes": b.bytes, "last_rx": b.last_rx, "state": b.state}
                         for b in self.bulks]}

    def scan(self, now: float) -> bool:
        """Every 50 ms (and while stopping): timeouts, readiness, closing.
        True when the run is over (every connection closed or broken, or
        the stop timeout passed)."""
        a = self.a
        for c in self.rrs:
            if c.state == "waiting" and now - c.sent_at > a.io_timeout:
                self.fail(c, "timeout", now)
            elif c.state == "connecting" and now - self.started > a.connect_timeout:
                self.fail(c, "connect_timeout", now)
        for b in self.bulks:
            if b.state == "running" and b.last_rx and now - b.last_rx > a.io_timeout:
                self.fail(b, "timeout", now)
            elif b.state == "connecting" and now - self.started > a.connect_timeout:
                self.fail(b, "connect_timeout", now)
        if not self.ready_sent and all(len(c.times) or c.state == "broken" for c in self.rrs) \
                and all(b.bytes or b.state == "broken" for b in self.bulks):
            self.ready_sent = True
            emit({**self.stats("ready", now), "sports": [c.sport for c in self.rrs],
                  "bulk_sports": [b.sport for b in self.bulks],
                  "connect_failed": self.connect_failed})
        if self.stop_at is None:
            return False
        # no new requests; close each connection once it is idle
        for c in self.rrs + self.bulks:
            if c.state in ("idle", "running"):
                try:
                    c.sock.shutdown(socket.SHUT_WR)
                except OSError as e:
                    self.fail(c, errno_name(e), now)
                    continue
                c.state = "closing"
        return all(c.state in ("done", "broken") for c in self.rrs + self.bulks) or \
            now - self.stop_at > a.stop_timeout

    def poll(self, now: float, next_scan: float) -> None:
        """Waits for socket events until the next scan or the next request
        due, and handles them."""
        timeout = min(0.05, max(0.0, next_scan - now))
        if self.due and self.stop_at is None:
            timeout = max(0.0, min(timeout, self.due[0][0] - now))
        try:
            events = self.ep.poll(timeout)
        except InterruptedError:
            events = []
        now = time.monotonic()
        for fd, ev in events:
            if fd == self.rfd:
                drain_wakeup(self.rfd)
                continue
            c = self.by_fd.get(fd)
            if c is None:
                continue
            if isinstance(c, _RR):
                was = c.state
                self.on_rr(c, ev, now)
                if was == "waiting" and c.state == "idle" and self.stop_at is None:
                    heapq.heappush(self.due, (c.next_due, c.idx))
            else:
                self.on_bulk(c, ev, now)

    def run(self) -> float:
        """Connects, exchanges until told to stop (SIGTERM) or the hard end,
        closes. Returns the time it ended."""
        for c in self.rrs:
            self.open_conn(c, self.a.port)
        for b in self.bulks:
            self.open_conn(b, self.a.bulk_port)
        next_scan = 0.0
        while True:
            now = time.monotonic()
            if (self.flags["stop"] or now > self.hard_end) and self.stop_at is None:
                self.stop_at = now
            if now >= next_scan or self.stop_at is not None:
                next_scan = now + 0.05
                if self.scan(now):
                    break
            if self.stop_at is None:
                while self.due and self.due[0][0] <= now:
                    _, i = heapq.heappop(self.due)
                    c = self.rrs[i]
                    if c.state == "idle":
                        self.send_request(c, now)
            if self.flags["stats"]:
                self.flags["stats"] = False
                emit(self.stats("stats", now))
            self.poll(now, next_scan)
        t_end = time.monotonic()
        for c in self.rrs + self.bulks:
            if c.state not in ("done", "broken"):
                c.closed = f"unfinished ({c.state})"
                c.sock.close()
        return t_end

    def mark_gaps(self, m: dict, t_end: float) -> dict:
        """The largest gap of every connection from the event mark `m`
        within its window: max, p99, p50, how many over the target, the
        five worst, the bulk streams' gaps."""
        t_mark = m["t"]
        window = m.get("window", self.a.window)
        per = []
        for c in self.rrs:
            g, g_end = gap_from(c.times, t_mark, window, c.error_t if c.state == "broken"
                                else self.stop_at or t_end)
            per.append((g, c.idx, c.sport, g_end))
        per.sort(reverse=True)
        gaps = sorted(p[0] for p in per)
        bulk = [bulk_gap_from(b, t_mark, window, self.stop_at or t_end) for b in self.bulks]
        return {
            "name": m.get("name", "?"), "t": t_mark, "window_s": window,
            "gap_ms": {"max": ms(gaps[-1] if gaps else None), "p99": ms(percentile(gaps, 0.99)),
                       "p50": ms(percentile(gaps, 0.50))},
            "over_target": sum(1 for g in gaps if g * 1000 > self.a.target_ms),
            "worst": [{"conn": p[1], "sport": p[2], "gap_ms": ms(p[0]),
                       "resumed_after_ms": None if p[3] == float("inf") else ms(p[3] - t_mark)}
                      for p in per[:5]],
            "bulk_gap_ms": [ms(x) for x in bulk]}

    def steady_gaps(self, marks: list[dict], t_end: float) -> list[float]:
        """Each connection's largest gap before the first event (sorted)."""
        first_mark = min((m["t"] for m in marks if m["t"] > self.started + 0.5),
                         default=self.stop_at or t_end)
        return sorted(max_gap_between(c.times, c.times[0] + 0.2, first_mark)
                      for c in self.rrs if len(c.times) >= 2)

    def result(self, t_end: float) -> dict:
        """The "stopped" line: counts, broken connections and why, the
        steady gaps, the bulk streams, the gaps after every event mark."""
        a, rrs, bulks = self.a, self.rrs, self.bulks
        marks = read_marks(a.marks)
        broken_reasons: dict[str, int] = {}
        for c in rrs:
            if c.state == "broken":
                broken_reasons[c.error] = broken_reasons.get(c.error, 0) + 1
        steady = self.steady_gaps(marks, t_end)
        return {
            "event": "stopped", "tool": "rr-long", "dst": a.dst, "port": a.port, "conns": a.conns,
            "interval_ms": a.interval * 1000, "size": a.size,
            "connected": sum(1 for c in rrs if len(c.times)),
            "connect_failed": self.connect_failed, "connect_errors": self.connect_errors,
            "requests": sum(c.requests for c in rrs), "responses": sum(c.responses for c in rrs),
            "mismatch": sum(c.mismatch for c in rrs),
            "broken": sum(1 for c in rrs if c.state == "broken"),
            "closed_clean": sum(1 for c in rrs if c.closed == "clean"),
            "broken_reasons": broken_reasons,
            "broken_detail": [{"conn": c.idx if isinstance(c, _RR) else f"bulk{c.idx}",
                               "sport": c.sport, "reason": c.error, "t": c.error_t,
                               "responses": c.responses if isinstance(c, _RR) else c.bytes}
                              for c in rrs + bulks if c.state == "broken"][:20],
            "unfinished": sum(1 for c in rrs + bulks if c.closed.startswith("unfinished")),
            "steady_gap_ms": {"max": ms(steady[-1] if steady else None),
                              "p99": ms(percentile(steady, 0.99)),
                              "p50": ms(percentile(steady, 0.50))},
            "bulk": [{"sport": b.sport, "bytes": b.bytes, "bad_chunks": b.bad, "state": b.state,
                      "closed": b.closed, "error": b.error, "max_gap_ms": ms(b.max_gap),
                      "mbit_s": round(b.bytes * 8 / 1e6 / max(1e-3, (b.last_rx - b.first_rx)), 1)
                      if b.first_rx else 0.0} for b in bulks],
            "marks": [self.mark_gaps(m, t_end) for m in marks], "target_ms": a.target_ms,
            "started": self.started, "stop_at": self.stop_at,
            "elapsed_s": round(t_end - self.started, 3)}


def cmd_rr_long(a) -> int:
    rr = _RrLong(a)
    t_end = rr.run()
    emit(rr.result(t_end))
    return 0


# --- ha-garbage -------------------------------------------------------------------------------


def _zmq_probe(endpoint: str, server_key: bytes | None, socket_type: str, messages: list,
               timeout: float) -> dict:
    """Connects a ZeroMQ socket (CURVE with a fresh, unknown key pair when
    server_key is given, else no security), sends `messages`, and reports
    the handshake events the socket monitor saw."""
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    ctx = zmq.Context.instance()
    s = ctx.socket(getattr(zmq, socket_type))
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDTIMEO, 200)
    if server_key:
        pub, sec = zmq.curve_keypair()
        s.curve_publickey, s.curve_secretkey, s.curve_serverkey = pub, sec, server_key
    mon = s.get_monitor_socket()
    s.connect(endpoint)
    sent = 0
    for m in messages:
        try:
            if socket_type in ("DEALER", "REQ"):
                s.send(m, zmq.NOBLOCK)
            else:
                s.send(m, zmq.NOBLOCK)
            sent += 1
        except zmq.ZMQError:
            pass
    seen = []
    end = time.monotonic() + timeout
    names = {getattr(zmq, n): n for n in dir(zmq) if n.startswith("EVENT_")}
    while time.monotonic() < end:
        if not mon.poll(int(max(1, (end - time.monotonic()) * 1000))):
            break
        ev = recv_monitor_message(mon)
        name = names.get(ev["event"], str(ev["event"]))
        seen.append(name.replace("EVENT_", "").lower())
        if ev["event"] in (getattr(zmq, "EVENT_HANDSHAKE_SUCCEEDED", -1),):
            # give the queued messages a moment to leave
            t = time.monotonic() + 0.3
            while time.monotonic() < t:
                time.sleep(0.05)
            break
        if len(seen) > 20:
            break
    replies = 0
    try:
        while s.poll(50):
            s.recv(zmq.NOBLOCK)
            replies += 1
    except zmq.ZMQError:
        pass
    s.disable_monitor()
    mon.close(0)
    s.close(0)
    ok = "handshake_succeeded" in seen
    failed = [e for e in seen if e.startswith("handshake_failed")]
    return {"socket": socket_type, "curve": bool(server_key), "messages_queued": sent,
            "handshake_succeeded": ok, "handshake_failed": failed, "replies": replies,
            "events": seen[:20]}


def _ha_messages(cluster_id: int, to_node: int, as_nodes: list[int]) -> list[bytes]:
    """msgpack envelopes (proto/ha_messages.h): a HELLO and a HEARTBEAT
    claiming each node id in `as_nodes`."""
    import msgpack

    out = []
    for n in as_nodes:
        hello = {0: 1, 1: 1, 2: cluster_id, 3: n, 4: to_node,
                 5: {0: n, 1: f"intruder{n}", 2: "0.1.0", 3: 0, 4: 9000, 5: 100,
                     6: random.getrandbits(48), 7: 0, 8: True, 9: False, 10: 20, 11: 100,
                     12: (1 << (to_node - 1)) | (1 << (n - 1))}}
        heartbeat = {0: 1, 1: 2, 2: cluster_id, 3: n, 4: to_node,
                     5: {0: 2, 1: 100, 2: 1, 3: int(time.time() * 1e6), 4: 1, 5: True, 6: []}}
        out += [msgpack.packb(hello), msgpack.packb(heartbeat)]
    out.append(b"\x00garbage\xff" * 10)
    return out


def cmd_ha_garbage(a) -> int:
    rng = random.Random(a.seed)
    result = {"tool": "ha-garbage", "dst": a.dst, "port": a.port}
    # 1. raw TCP garbage: random bytes, a ZMTP signature with a bogus
    # version, an oversized length; did the listener hang up?
    tcp = {"connections": 0, "refused": 0, "bytes_sent": 0, "closed_by_peer": 0,
           "still_open": 0, "errors": {}}
    payloads = [rng.randbytes(n) for n in (1, 7, 64, 1500, 65536)]
    payloads.append(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x09\x09" + b"CURVE".ljust(20, b"\0") +
                    b"\0" * 32)
    payloads.append(b"\xff" + b"\xff" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") +
                    b"\0" * 32 + rng.randbytes(4096))
    for p in payloads:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2.0)
        try:
            s.connect((a.dst, a.port))
        except ConnectionRefusedError:
            tcp["refused"] += 1
            s.close()
            continue
        except OSError as e:
            tcp["errors"][errno_name(e)] = tcp["errors"].get(errno_name(e), 0) + 1
            s.close()
            continue
        tcp["connections"] += 1
        try:
            s.sendall(p)
            tcp["bytes_sent"] += len(p)
            s.settimeout(a.listen)
            while True:
                d = s.recv(65536)
                if not d:
                    tcp["closed_by_peer"] += 1
                    break
        except socket.timeout:
            tcp["still_open"] += 1
        except (ConnectionResetError, BrokenPipeError):
            tcp["closed_by_peer"] += 1
        except OSError as e:
            tcp["errors"][errno_name(e)] = tcp["errors"].get(errno_name(e), 0) + 1
        finally:
            s.close()
    result["tcp_garbage"] = tcp
    # 2. ZeroMQ: CURVE with an unknown key (claiming the real peer's id and
    # an unknown id), and no security at all.
    endpoint = f"tcp://{a.dst}:{a.port}"
    msgs = _ha_messages(a.cluster_id, a.to_node, [a.as_node, 9])
    probes = []
    server_key = a.server_key.encode() if a.server_key else None
    for st in ("DEALER", "PUSH"):
        if server_key:
            probes.append(_zmq_probe(endpoint, server_key, st, msgs, a.listen))
        probes.append(_zmq_probe(endpoint, None, st, msgs, a.listen))
    result["zmq"] = probes
    result["messages_per_probe"] = len(msgs)
    emit(result)
    return 0


# --- peer-garbage ---------------------------------------------------------------------------------


def peer_header(version=1, ftype=1, cluster=1, src=2, dst=1, reason=1, port=0, hint=0,
                payload_len=0, flags=0) -> bytes:
    return struct.pack("!BBHBBBBIHBB", version, ftype, cluster, src, dst, reason, port, hint,
                       payload_len, 0, flags)


AUTH_TRAILER = 4 + 8 + 16   # salt, seq, tag (proto/peer_link_auth.h)


def forged_payloads(a, rng, inner: bytes, egress_inner: bytes) -> dict:
    """Well-formed peer-link frames (after the transport's headers) that a
    node with an authenticated peer link must refuse, with the counter each
    must land in: a forwarded frame claiming to have entered by the inside
    port (zone 0) and by the outside, an egress frame to go out of each data
    port as it is (a SYN addressed to the router behind it), a heartbeat,
    and a forwarded frame with a trailer of random bytes (a wrong tag)."""
    c, me, peer = a.cluster_id, a.from_node, a.to_node
    out = {}
    for port in (0, 1):
        out[f"forged_forwarded_port{port}"] = (
            peer_header(ftype=1, cluster=c, src=me, dst=peer, port=port,
                        payload_len=len(inner)) + inner, "unauthenticated")
        out[f"forged_egress_port{port}"] = (
            peer_header(ftype=3, cluster=c, src=me, dst=peer, reason=4, port=port,
                        payload_len=len(egress_inner)) + egress_inner, "unauthenticated")
    out["forged_heartbeat"] = (peer_header(ftype=2, cluster=c, src=me, dst=peer, reason=0,
                                           payload_len=8) + struct.pack("!IBxxx", 1 << 30, 4),
                               "unauthenticated")
    out["forged_tag"] = (peer_header(ftype=1, cluster=c, src=me, dst=peer, port=0, flags=1,
                                     payload_len=len(inner)) + inner +
                         rng.randbytes(AUTH_TRAILER), "bad_tag")
    return out


def cmd_peer_frame(a) -> int:
    """Captures --count peer-link frames arriving on --iface from node
    --from-node (raw: the peer-link EtherType; udp: IPv4/UDP from --udp-src
    to --udp-port), of peer-link type --type if given, and prints them in
    hex: real, authenticated frames for peer-garbage --replay or peer-replay
    to send again."""
    from traffic import PACKET_OUTGOING, open_capture

    s = open_capture(a.iface)
    s.settimeout(0.2)
    end = time.monotonic() + a.seconds
    want_ip = socket.inet_aton(a.udp_src) if a.udp_src else b""
    header = 42 if a.udp_src else 14   # where the peer-link header starts
    frames = []
    try:
        while len(frames) < a.count and time.monotonic() < end:
            try:
                f, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] == PACKET_OUTGOING or len(f) < header + 16:
                continue
            if a.udp_src:
                ok = (f[12:14] == b"\x08\x00" and f[23] == 17 and f[26:30] == want_ip and
                      struct.unpack("!H", f[36:38])[0] == a.udp_port)
            else:
                ok = struct.unpack("!H", f[12:14])[0] == 0x88B5
            if ok and f[header + 4] == a.from_node and (not a.type or f[header + 1] == a.type):
                frames.append(f.hex())
    finally:
        s.close()
    emit({"tool": "peer-frame", "iface": a.iface, "frames": frames,
          "frame": frames[0] if frames else None})
    return 0 if len(frames) == a.count else 1


def cmd_peer_replay(a) -> int:
    """Sends the frames of --frames-file (hex, one per line) on --iface again
    and again, one every --interval seconds in turn, until SIGTERM or
    --seconds: replayed peer-link frames (a dead node's heartbeats, say)."""
    with open(a.frames_file) as f:
        frames = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    flags = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
    emit({"event": "ready", "tool": "peer-replay", "frames": len(frames)})
    sent = 0
    started = time.monotonic()
    next_at = started
    while not flags["stop"] and time.monotonic() - started < a.seconds:
        s.send(frames[sent % len(frames)])
        sent += 1
        next_at += a.interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    s.close()
    emit({"event": "stopped", "tool": "peer-replay", "sent": sent,
          "elapsed_s": round(time.monotonic() - started, 3)})
    return 0


def udp_garbage(a, rng, inner: bytes, egress_inner: bytes):
    """Frames for a udp peer link (IPv4/UDP to the target's listen address),
    one kind per rejection reason; the well-formed ones carry `inner` (with
    --auth, also the forged kinds of forged_payloads())."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    c, me, peer = a.cluster_id, a.from_node, a.to_node
    src_ip, (dst_ip, dst_port) = a.udp_src, a.udp_dst.rsplit(":", 1)
    dst_port = int(dst_port)
    good = peer_header(cluster=c, src=me, dst=peer, payload_len=len(inner)) + inner

    def dgram(payload, src=src_ip, dst=dst_ip, dport=dst_port, **ip):
        return (Ether(src=a.src_mac, dst=a.dst_mac) /
                IP(src=src, dst=dst, ttl=64, **ip) / UDP(sport=dst_port, dport=dport) /
                Raw(payload))

    def bad_ip_checksum():
        p = dgram(good)
        p[IP].chksum = 0x1234
        return p

    def bad_udp_checksum():
        raw = bytearray(bytes(dgram(good)))
        raw[40] ^= 0x55   # UDP checksum (scapy filled it in)
        raw[41] ^= 0xaa
        return Ether(bytes(raw))

    # No IPv4 fragment among them: a lone fragment sent here never reaches
    # the node (DPDK's af_packet socket joins a fanout group with the
    # kernel's defragment flag, so the kernel holds fragments for a
    # reassembly that never completes). The unit tests cover `ip_fragment`.
    kinds = {
        # name: (frame, the counter it should land in)
        "unknown_source": (dgram(good, src=a.udp_unknown_src), "unknown_source"),
        "wrong_cluster": (dgram(peer_header(cluster=(c % 65535) + 1, src=me, dst=peer,
                                            payload_len=len(inner)) + inner), "wrong_cluster"),
        "unknown_node": (dgram(peer_header(cluster=c, src=9, dst=peer, payload_len=len(inner))
                               + inner), "unknown_node"),
        "not_for_us": (dgram(peer_header(cluster=c, src=me, dst=5, payload_len=len(inner))
                             + inner), "not_for_us"),
        "bad_version": (dgram(peer_header(version=9, cluster=c, src=me, dst=peer,
                                          payload_len=len(inner)) + inner), "bad_version"),
        "bad_length": (dgram(peer_header(cluster=c, src=me, dst=peer, payload_len=1400) + inner),
                       "bad_length"),
        "truncated": (dgram(b"\x01\x01\x00"), "truncated"),
        "not_our_address": (dgram(good, dport=dst_port + 1), "not_our_address"),
        "bad_ip_checksum": (bad_ip_checksum(), "bad_ip_checksum"),
        "bad_udp_checksum": (bad_udp_checksum(), "bad_udp_checksum"),
        "random": (dgram(peer_header(version=rng.randint(2, 255)) +
                         rng.randbytes(rng.randint(0, 200))), None),
    }
    if a.auth:
        kinds.update({k: (dgram(p), counter)
                      for k, (p, counter) in forged_payloads(a, rng, inner, egress_inner).items()})
    # ARP naming the sender's (a peer's) address with another MAC, answering
    # no request of the target's: a reply, and a request for a third address.
    # Taken, they would send the target's peer-link frames elsewhere.
    from scapy.layers.l2 import ARP
    bogus = "02:00:00:00:00:66"
    kinds["arp_unsolicited_reply"] = (
        Ether(src=a.src_mac, dst=a.dst_mac) /
        ARP(op=2, hwsrc=bogus, psrc=src_ip, hwdst=a.dst_mac, pdst=dst_ip), "arp_unsolicited")
    kinds["arp_forged_request"] = (
        Ether(src=a.src_mac, dst="ff:ff:ff:ff:ff:ff") /
        ARP(op=1, hwsrc=bogus, psrc=src_ip, pdst=a.udp_unknown_src), "arp_unsolicited")
    return {k: (None, v[1]) for k, v in kinds.items()}, {k: v[0] for k, v in kinds.items()}


def cmd_peer_garbage(a) -> int:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw
    from scapy.sendrecv import sendp

    rng = random.Random(a.seed)
    et = 0x88B5
    inner = bytes(Ether(src="02:00:00:00:00:99", dst=a.inner_dst_mac or "02:00:00:00:00:98") /
                  IP(src=a.inner_src, dst=a.inner_dst, ttl=64) /
                  TCP(sport=rng.randint(40000, 60000), dport=a.inner_dport, flags="S",
                      seq=rng.getrandbits(32)))
    c, me, peer = a.cluster_id, a.from_node, a.to_node
    kinds = {
        # name: (payload after the Ethernet header, the counter it should land in)
        "truncated": (b"\x01\x01\x00", "truncated"),
        "bad_version": (peer_header(version=9, cluster=c, src=me, dst=peer,
                                    payload_len=len(inner)) + inner, "bad_version"),
        "bad_type": (peer_header(ftype=77, cluster=c, src=me, dst=peer,
                                 payload_len=len(inner)) + inner, "bad_type"),
        "wrong_cluster": (peer_header(cluster=(c % 65535) + 1, src=me, dst=peer,
                                      payload_len=len(inner)) + inner, "wrong_cluster"),
        "unknown_node": (peer_header(cluster=c, src=9, dst=peer, payload_len=len(inner)) + inner,
                         "unknown_node"),
        "not_for_us": (peer_header(cluster=c, src=me, dst=5, payload_len=len(inner)) + inner,
                       "not_for_us"),
        "bad_length": (peer_header(cluster=c, src=me, dst=peer, payload_len=1400) + inner,
                       "bad_length"),
        "random": (None, None),
    }
    egress_inner = bytes(Ether(src="02:00:00:00:00:99", dst=a.egress_mac or "02:00:00:00:00:98") /
                         IP(src=a.inner_src, dst=a.inner_dst, ttl=64) /
                         TCP(sport=rng.randint(40000, 60000), dport=a.inner_dport, flags="S",
                             seq=rng.getrandbits(32)))
    frames = {}
    if a.udp_dst:
        kinds, frames = udp_garbage(a, rng, inner, egress_inner)
    else:
        if a.auth:
            kinds.update(forged_payloads(a, rng, inner, egress_inner))
        for name, (payload, _) in kinds.items():
            if payload is None:
                payload = (peer_header(version=rng.randint(2, 255)) +
                           rng.randbytes(rng.randint(0, 200)))
            frames[name] = Ether(src=a.src_mac, dst=a.dst_mac, type=et) / Raw(payload)
    if a.replay:
        # A real frame of the sender's to the target, sent again: a replay.
        kinds["replayed"] = (None, "replayed")
        frames["replayed"] = Ether(bytes.fromhex(a.replay))
    sent = {}
    for name, fr in frames.items():
        sendp(fr, iface=a.iface, count=a.count, inter=a.interval, verbose=False)
        sent[name] = a.count
    emit({"tool": "peer-garbage", "iface": a.iface, "sent": sent,
          "expected_counter": {k: v[1] for k, v in kinds.items()},
          "total": sum(sent.values()), "inner": {"src": a.inner_src, "dst": a.inner_dst,
                                                 "dport": a.inner_dport}})
    return 0


# --- syn-map ---------------------------------------------------------------------------------------


# Classic BPF for "IPv4 TCP with SYN set, not a fragment" (what `tcpdump -dd
# 'tcp[tcpflags] & tcp-syn != 0'` gives): the capture then wakes only for
# handshakes, not for every frame of the traffic around them.
_SYN_FILTER = [
    (0x28, 0, 0, 12), (0x15, 0, 8, 0x0800), (0x30, 0, 0, 23), (0x15, 0, 6, 6),
    (0x28, 0, 0, 20), (0x45, 4, 0, 0x1FFF), (0xB1, 0, 0, 14), (0x50, 0, 0, 27),
    (0x45, 0, 1, 0x02), (0x06, 0, 0, 65535), (0x06, 0, 0, 0),
]
SO_ATTACH_FILTER = 26


def attach_syn_filter(sock: socket.socket) -> None:
    import ctypes
    prog = b"".join(struct.pack("HBBI", *ins) for ins in _SYN_FILTER)
    buf = ctypes.create_string_buffer(prog)
    fprog = struct.pack("HL", len(_SYN_FILTER), ctypes.addressof(buf))   # buf outlives the call
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def cmd_syn_map(a) -> int:
    """Which interface each connection's SYN and SYN-ACK crossed: captures
    on every --iface (AF_PACKET, incoming frames) until SIGTERM; reports, per
    interface, the client ports of SYNs to and SYN-ACKs from --port."""
    from traffic import PACKET_OUTGOING, open_capture, parse_tcp

    by_fd = {}
    for i in a.iface:
        s = open_capture(i)
        attach_syn_filter(s)
        by_fd[s.fileno()] = (i, s)
    want = set(a.port)
    syn = {i: [] for i in a.iface}
    synack = {i: [] for i in a.iface}
    flags = {"stop": False}
    signal.signal(signal.SIGTERM, lambda *_: flags.__setitem__("stop", True))
    signal.signal(signal.SIGINT, lambda *_: flags.__setitem__("stop", True))
    emit({"event": "ready", "ifaces": a.iface})
    end = time.monotonic() + a.seconds
    while not flags["stop"] and time.monotonic() < end:
        try:
            r, _, _ = select.select(list(by_fd), [], [], 0.2)
        except InterruptedError:
            continue
        for fd in r:
            iface, s = by_fd[fd]
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            t = parse_tcp(frame)
            if not t:
                continue
            _, _, sport, dport, fl = t
            if fl & 0x02 and not fl & 0x10 and dport in want:
                syn[iface].append(sport)
            elif fl & 0x12 == 0x12 and sport in want:
                synack[iface].append(dport)
    emit({"event": "stopped", "tool": "syn-map", "syn": syn, "synack": synack})
    return 0


# --- idle-conns -----------------------------------------------------------------------------------


def cmd_udp_probe(a) -> int:
    """The firewall's own outage over an event, free of any endpoint's
    retransmission timer: --flows UDP flows (one socket each, to an echo
    service) each send a numbered datagram every --interval seconds, without
    waiting for the echo. A lost datagram is not sent again, so the largest
    silence in a flow's echoes after an event mark is how long the cluster
    could not carry that flow (plus at most one interval). Emits `ready`
    once every flow was echoed; on SIGTERM, per mark: the largest silence of
    any flow (gap_from, as rr-long), the flows that never answered again,
    and datagrams sent / echoed.

    The probe's own stalls are not the firewall's: on a loaded machine this
    process may not run for a while, and the echoes that came meanwhile are
    read, and timed, only when it runs again. A loop that comes round more
    than --stall-intervals intervals after the last one is such a stall; it
    is left out of every silence (and its length reported per mark)."""
    sel = select.epoll()
    rfd, flags = signal_flags(sel)
    flows = []
    by_fd = {}
    for i in range(a.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
        s.connect((a.dst, a.port))
        f = {"sock": s, "sport": s.getsockname()[1], "seq": 0, "times": [], "sent": 0}
        flows.append(f)
        by_fd[s.fileno()] = f
        sel.register(s.fileno(), select.EPOLLIN)
    started = time.monotonic()
    hard_end = started + a.max_seconds
    next_send = started
    ready = False
    stalls = []  # (start, end): this process did not run
    last_loop = started
    while not flags["stop"] and time.monotonic() < hard_end:
        now = time.monotonic()
        if now - last_loop > a.stall_intervals * a.interval:
            stalls.append((last_loop, now))
        last_loop = now
        if now >= next_send:
            for i, f in enumerate(flows):
                f["seq"] += 1
                try:
                    f["sock"].send(f"{i}:{f['seq']}:".encode() + b"p" * a.size)
                    f["sent"] += 1
                except OSError:
                    pass  # an ICMP error of an earlier datagram: this one is lost
            next_send += a.interval
            if next_send < now:
                next_send = now + a.interval
        for fd, _ev in sel.poll(max(0.0, next_send - time.monotonic())):
            if fd == rfd:
                drain_wakeup(rfd)
                continue
            f = by_fd.get(fd)
            while f is not None:
                try:
                    f["sock"].recv(65535)
                except (BlockingIOError, OSError):
                    break
                f["times"].append(time.monotonic())
        if not ready and all(f["times"] for f in flows):
            ready = True
            emit({"event": "ready", "tool": "udp-probe", "flows": a.flows,
                  "sports": [f["sport"] for f in flows]})
    t_end = time.monotonic()
    for f in flows:
        f["sock"].close()
    events = []
    for m in read_marks(a.marks):
        window = m.get("window", a.window)
        per = sorted(((*gap_from(f["times"], m["t"], window, t_end, stalls), f["sport"])
                      for f in flows), reverse=True)
        own = [e - s for s, e in stalls if e > m["t"] and s < m["t"] + window]
        gaps = sorted(p[0] for p in per)
        events.append({"name": m.get("name", "?"), "t": m["t"], "window_s": window,
                       "gap_ms": {"max": ms(gaps[-1] if gaps else None),
                                  "p99": ms(percentile(gaps, 0.99)),
                                  "p50": ms(percentile(gaps, 0.50))},
                       "silent_to_the_end": sum(1 for p in per if p[1] == float("inf")),
                       # the probe's own stalls in the window (left out of the silences)
                       "own_stalls": {"count": len(own), "max_ms": ms(max(own, default=0.0))},
                       # end_ms: when the silence ended, after the mark (None: never)
                       "worst": [{"sport": p[2], "gap_ms": ms(p[0]),
                                  "end_ms": None if p[1] == float("inf") else ms(p[1] - m["t"])}
                                 for p in per[:5]]})
    emit({"event": "stopped", "tool": "udp-probe", "flows": a.flows,
          "interval_ms": a.interval * 1000, "sent": sum(f["sent"] for f in flows),
          "echoed": sum(len(f["times"]) for f in flows), "marks": events,
          "elapsed_s": round(t_end - started, 3)})
    return 0


class _IdleConns:
    """idle-conns' connections (dicts: sock, sport, state, expect, got, error)
    and the epoll set they are polled in."""

    def __init__(self, a) -> None:
        self.a = a
        self.rng = random.Random(a.seed)
        self.sel = select.epoll()
        self.conns = []
        self.rfd, self.flags = signal_flags(self.sel, use=signal.SIGUSR2)
        self.by_fd = {}

    def request(self, c) -> None:
        c["expect"] = bytes(self.rng.getrandbits(8) for _ in range(self.a.size))
        c["got"] = b""
        c["state"] = "waiting"
        c["sock"].sendall(c["expect"])

    def fail(self, c, why: str) -> None:
        c["state"] = "broken"
        c["error"] = why
        try:
            self.sel.unregister(c["sock"].fileno())
        except (OSError, ValueError):
            pass
        c["sock"].close()

    def open_all(self) -> None:
        """Starts --conns non-blocking connects to --dst:--port."""
        for _ in range(self.a.conns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                s.connect((self.a.dst, self.a.port))
            except BlockingIOError:
                pass
            c = {"sock": s, "sport": s.getsockname()[1], "state": "connecting", "expect": b"",
                 "got": b""}
            self.conns.append(c)
            self.by_fd[s.fileno()] = c
            self.sel.register(s.fileno(), select.EPOLLOUT)

    def on_event(self, fd: int) -> None:
        """One connection's event: connected (then its first request), data or EOF."""
        c = self.by_fd.get(fd)
        if c is None or c["state"] == "broken":
            return
        try:
            if c["state"] == "connecting":
                err = c["sock"].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    self.fail(c, errno.errorcode.get(err, str(err)))
                    return
                self.sel.modify(fd, select.EPOLLIN)
                self.request(c)
                return
            data = c["sock"].recv(65536)
        except OSError as e:
            self.fail(c, errno_name(e))
            return
        if not data:
            if c["state"] == "closing":
                c["state"] = "closed"
                self.sel.unregister(fd)
                c["sock"].close()
            else:
                self.fail(c, "eof")
            return
        c["got"] += data
        if c["state"] == "waiting" and len(c["got"]) >= len(c["expect"]):
            c["state"] = "idle" if c["got"] == c["expect"] else "mismatch"

    def wait_round(self, timeout: float, done) -> None:
        """Polls until done(c) for every connection or `timeout`; then fails
        each one not done (and not already broken) as "timeout"."""
        end = time.monotonic() + timeout
        while not all(done(c) for c in self.conns):
            left = end - time.monotonic()
            if left <= 0:
                break
            for fd, ev in self.sel.poll(min(left, 0.1)):
                if fd == self.rfd:
                    try:
                        os.read(self.rfd, 64)
                    except BlockingIOError:
                        pass
                    continue
                self.on_event(fd)
        for c in self.conns:
            if not done(c) and c["state"] not in ("broken", "mismatch"):
                self.fail(c, "timeout")

    def counts(self, event: str, **extra) -> dict:
        reasons: dict[str, int] = {}
        for c in self.conns:
            if c["state"] in ("broken", "mismatch"):
                why = c.get("error") or c["state"]
                reasons[why] = reasons.get(why, 0) + 1
        return {"event": event, "conns": len(self.conns),
                "live": sum(1 for c in self.conns if c["state"] in ("idle", "closed")),
                "broken": sum(reasons.values()), "broken_reasons": reasons, **extra}

    def use_round(self, rounds: int) -> None:
        """One request on every idle connection; emits how many were answered."""
        t0 = time.monotonic()
        for c in self.conns:
            if c["state"] == "idle":
                try:
                    self.request(c)
                except OSError as e:
                    self.fail(c, errno_name(e))
        self.wait_round(self.a.io_timeout, lambda c: c["state"] != "waiting")
        emit({**self.counts("used", round=rounds),
              "answered": sum(1 for c in self.conns if c["state"] == "idle"),
              "elapsed_ms": ms(time.monotonic() - t0)})

    def idle_until_stopped(self) -> None:
        """Sleeps until SIGTERM or --max-seconds, running a round on each SIGUSR2."""
        flags = self.flags
        rounds = 0
        hard_end = time.monotonic() + self.a.max_seconds
        while not flags["stop"] and time.monotonic() < hard_end:
            if flags["use"]:
                flags["use"] = False
                rounds += 1
                self.use_round(rounds)
                continue
            try:
                self.sel.poll(0.2)
            except InterruptedError:
                pass
            try:
                os.read(self.rfd, 64)
            except BlockingIOError:
                pass

    def close_all(self) -> None:
        """FIN on every idle connection, then waits for the server's FIN."""
        for c in self.conns:
            if c["state"] == "idle":
                try:
                    c["sock"].shutdown(socket.SHUT_WR)
                    c["state"] = "closing"
                except OSError as e:
                    self.fail(c, errno_name(e))
        self.wait_round(self.a.stop_timeout, lambda c: c["state"] != "closing")


def cmd_idle_conns(a) -> int:
    """Idle connections (an SSH session, a database pool): each does one
    request/response, then nothing, so a firewall sees no packet of them
    for as long as the orchestrator waits. On SIGUSR2 every connection sends
    one request and the round reports how many were answered with the right
    bytes within --io-timeout (a TCP retransmission or two fits; a
    connection the cluster lost is reset or never answered). SIGTERM closes
    each live connection (FIN both ways) and reports the clean closes."""
    idle = _IdleConns(a)
    idle.open_all()
    idle.wait_round(a.connect_timeout, lambda c: c["state"] in ("idle", "broken", "mismatch"))
    emit({**idle.counts("ready"), "sports": [c["sport"] for c in idle.conns]})
    idle.idle_until_stopped()
    idle.close_all()
    emit({**idle.counts("stopped"),
          "closed_clean": sum(1 for c in idle.conns if c["state"] == "closed")})
    return 0


# --- registration ---------------------------------------------------------------------------------


def _parser_stream_serve(sub) -> None:
    p = sub.add_parser("stream-serve", help="echo-as-it-arrives and bulk source ports (epoll)")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--echo", default="")
    p.add_argument("--source", default="")
    p.set_defaults(fn=cmd_stream_serve)


def _parser_rr_long(sub) -> None:
    p = sub.add_parser("rr-long", help="long-lived request/response connections + bulk")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--interval", type=float, default=0.010, help="seconds between requests")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--bulk-port", type=int, default=0)
    p.add_argument("--bulk-conns", type=int, default=1)
    p.add_argument("--bulk-rate", type=int, default=0, help="bytes/s the server sends, 0 = max")
    p.add_argument("--bulk-gap-ms", type=float, default=20.0,
                   help="record bulk receive gaps longer than this")
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--io-timeout", type=float, default=15.0,
                   help="a response (or bulk data) missing this long breaks the connection")
    p.add_argument("--stop-timeout", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=150.0)
    p.add_argument("--marks", help="file of {name, t} event marks, read at the end")
    p.add_argument("--window", type=float, default=5.0,
                   help="seconds after each mark in which gaps are measured")
    p.add_argument("--target-ms", type=float, default=300.0)
    p.add_argument("--seed", type=int, default=3)
    p.set_defaults(fn=cmd_rr_long)


def _parser_udp_probe(sub) -> None:
    p = sub.add_parser("udp-probe", help="UDP flows echoed every interval: the firewall's "
                                         "outage over each event mark")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--flows", type=int, default=64)
    p.add_argument("--interval", type=float, default=0.005, help="seconds between datagrams")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--max-seconds", type=float, default=170.0)
    p.add_argument("--marks", help="file of {name, t} event marks, read at the end")
    p.add_argument("--window", type=float, default=5.0,
                   help="seconds after each mark in which silences are measured")
    p.add_argument("--stall-intervals", type=float, default=3.0,
                   help="a loop this many intervals after the last one: the probe itself "
                        "did not run (left out of the silences)")
    p.set_defaults(fn=cmd_udp_probe)


def _parser_idle_conns(sub) -> None:
    p = sub.add_parser("idle-conns", help="connections idle until SIGUSR2, then used once")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--conns", type=int, default=100)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--connect-timeout", type=float, default=10.0)
    p.add_argument("--io-timeout", type=float, default=10.0,
                   help="a request not answered this long breaks its connection")
    p.add_argument("--stop-timeout", type=float, default=5.0)
    p.add_argument("--max-seconds", type=float, default=170.0)
    p.add_argument("--seed", type=int, default=11)
    p.set_defaults(fn=cmd_idle_conns)


def _parser_syn_map(sub) -> None:
    p = sub.add_parser("syn-map", help="which interface each SYN / SYN-ACK crossed")
    p.add_argument("--iface", action="append", required=True)
    p.add_argument("--port", type=int, action="append", required=True, help="server port")
    p.add_argument("--seconds", type=float, default=60.0, help="upper bound")
    p.set_defaults(fn=cmd_syn_map)


def _parser_ha_garbage(sub) -> None:
    p = sub.add_parser("ha-garbage", help="garbage and unknown CURVE keys to an HA port")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-key", default="", help="the node's CURVE public key (Z85)")
    p.add_argument("--cluster-id", type=int, default=1)
    p.add_argument("--to-node", type=int, default=1)
    p.add_argument("--as-node", type=int, default=2)
    p.add_argument("--listen", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=5)
    p.set_defaults(fn=cmd_ha_garbage)


def _parser_peer_frame(sub) -> None:
    p = sub.add_parser("peer-frame", help="peer-link frames from a node, captured (hex)")
    p.add_argument("--iface", required=True)
    p.add_argument("--from-node", type=int, default=2)
    p.add_argument("--udp-src", default="", help="udp peer link: the sender's IP")
    p.add_argument("--udp-port", type=int, default=4790, help="udp peer link: the port it goes to")
    p.add_argument("--type", type=int, default=0, help="only this peer-link type (2: heartbeat)")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--seconds", type=float, default=5.0)
    p.set_defaults(fn=cmd_peer_frame)


def _parser_peer_replay(sub) -> None:
    p = sub.add_parser("peer-replay", help="captured peer-link frames sent again, in a loop")
    p.add_argument("--iface", required=True)
    p.add_argument("--frames-file", required=True, help="hex frames, one per line")
    p.add_argument("--interval", type=float, default=0.01)
    p.add_argument("--seconds", type=float, default=5.0)
    p.set_defaults(fn=cmd_peer_replay)


def _parser_peer_garbage(sub) -> None:
    p = sub.add_parser("peer-garbage", help="malformed peer-link frames (EtherType 0x88B5, or "
                                            "IPv4/UDP with --udp-dst)")
    p.add_argument("--iface", required=True)
    p.add_argument("--src-mac", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--cluster-id", type=int, default=1)
    p.add_argument("--from-node", type=int, default=2)
    p.add_argument("--to-node", type=int, default=1)
    p.add_argument("--inner-src", default="10.1.0.99")
    p.add_argument("--inner-dst", default="10.3.0.2")
    p.add_argument("--inner-dst-mac", default="")
    p.add_argument("--inner-dport", type=int, default=5001)
    p.add_argument("--egress-mac", default="",
                   help="the destination MAC of the SYN in forged egress frames (the router "
                        "behind the target's data port)")
    p.add_argument("--replay", default="",
                   help="a real peer-link frame (hex, from peer-frame) to send again")
    p.add_argument("--auth", action="store_true",
                   help="the target authenticates its peer link: also send well-formed forged "
                        "frames and a replayed real one, each to be refused for its reason")
    p.add_argument("--udp-dst", default="", help="udp peer link: the target's IP:PORT")
    p.add_argument("--udp-src", default="", help="udp peer link: the sender's (a peer's) IP")
    p.add_argument("--udp-unknown-src", default="10.8.0.99",
                   help="udp peer link: a source address that is no peer's")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=9)
    p.set_defaults(fn=cmd_peer_garbage)


def add_commands(sub) -> None:
    import syn_flood
    syn_flood.add_command(sub)
    _parser_stream_serve(sub)
    _parser_rr_long(sub)
    _parser_udp_probe(sub)
    _parser_idle_conns(sub)
    _parser_syn_map(sub)
    _parser_ha_garbage(sub)
    _parser_peer_frame(sub)
    _parser_peer_replay(sub)
    _parser_peer_garbage(sub)
