"""The gwlb-emulator program: `run`, `ctl`, `reflect` (docs/gwlb-emulator.md)."""
from __future__ import annotations

import argparse
import errno
import json
import os
import select
import signal
import socket
import sys
import time

from .balancer import ALL_UNHEALTHY, FAILOVER, Balancer
from .health import HealthChecks, parse_matcher
from .packet import GENEVE_PORT, STICKINESS, cookie_of, inner_text, parse_header

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23   # linux/if_packet.h (Linux 4.20)
SO_RCVBUFFORCE = 33
BATCH = 256                   # datagrams read from one socket per wake-up

DESCRIPTION = """\
An AWS Gateway Load Balancer (GWLB) emulator for network-namespace labs.

  run      the load balancer: takes every IPv4 frame the endpoints send on
           --endpoint-if (AF_PACKET; the namespace must not forward), wraps it
           in GENEVE with the GWLB options and sends it to a target; checks
           what targets return and sends the inner packet on
  ctl      talks to a running emulator's control socket (register,
           deregister, stats, targets, flows, set)
  reflect  a stateless GENEVE target that returns every datagram unchanged
           (to measure the emulator, or to stand in for an appliance)

`gwlb-emulator COMMAND --help` for each command's options.
"""


def emit(obj: dict, stream=None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(obj, sort_keys=True) + "\n")
    stream.flush()


def hex_id(text: str, size: int) -> bytes:
    t = text.lower().removeprefix("0x")
    try:
        b = bytes.fromhex(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hex") from None
    if len(b) != size:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {size} bytes ({2 * size} hex digits)")
    return b


def positive(text: str) -> float:
    v = float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def big_rcvbuf(s: socket.socket, size: int) -> None:
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, size)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


# --- run ----------------------------------------------------------------------------------------


class Totals:
    __slots__ = ("encapsulated", "returned", "delivered", "not_ipv4", "malformed_endpoint",
                 "unknown_source", "option_mismatches", "malformed_returns", "deliver_errors",
                 "send_errors")

    def __init__(self) -> None:
        for k in self.__slots__:
            setattr(self, k, 0)


class Emulator:
    def __init__(self, a) -> None:
        self.a = a
        self.started = time.monotonic()
        self.stopping = False
        self.want_stats = False
        self.totals = Totals()
        self.bal = Balancer(stickiness=a.stickiness, failover=a.target_failover,
                            deregistration_delay=a.deregistration_delay,
                            health_checks=a.health_check != "none",
                            healthy_threshold=a.healthy_threshold,
                            unhealthy_threshold=a.unhealthy_threshold,
                            all_unhealthy=a.all_unhealthy, tcp_idle_timeout=a.tcp_idle_timeout,
                            idle_timeout=a.idle_timeout, endpoint_id=a.endpoint_id,
                            attachment_id=a.attachment_id, vni=a.vni, port=a.port,
                            seed=a.seed, log=self.log)
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.health = None
        if a.health_check != "none":
            self.health = HealthChecks(a.health_check, a.listen, a.health_check_port,
                                       a.health_check_path, a.health_check_interval,
                                       a.health_check_timeout, a.health_check_matcher,
                                       self.wake_w)
        self.taps: list[socket.socket] = []
        self.ignore_outgoing = True
        self.clients: dict[int, list] = {}
        self.control = None

    def log(self, event: str, **kw) -> None:
        if not self.a.quiet:
            emit({"event": event, "t": round(time.monotonic() - self.started, 3), **kw},
                 sys.stderr)

    # sockets ----------------------------------------------------------------------

    def open(self) -> None:
        a = self.a
        for name in a.endpoint_if:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            try:
                s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:
                self.ignore_outgoing = False
            s.bind((name, 0))
            big_rcvbuf(s, a.rcvbuf)
            s.setblocking(False)
            self.taps.append(s)
        self.tunnel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        big_rcvbuf(self.tunnel, a.rcvbuf)
        self.tunnel.bind((a.listen, a.port))
        self.tunnel.setblocking(False)
        self.raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        if a.control:
            try:
                os.unlink(a.control)
            except FileNotFoundError:
                pass
            self.control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.control.bind(a.control)
            self.control.listen(16)
            self.control.setblocking(False)

    def close(self) -> None:
        if self.health:
            self.health.stop_all()
        for s in self.taps + [self.tunnel, self.raw]:
            s.close()
        for fd in list(self.clients):
            self._drop_client(fd)
        if self.control is not None:
            self.control.close()
            try:
                os.unlink(self.a.control)
            except OSError:
                pass

    # targets ---------------------------------------------------------------------------

    def register(self, ip: str) -> None:
        t = self.bal.register(ip, time.monotonic())
        if self.health:
            self.health.start(ip, t.generation)

    def deregister(self, ip: str) -> None:
        self.bal.deregister(ip, time.monotonic())
        if self.health:
            self.health.stop(ip)

    # the packet paths -----------------------------------------------------------------

    def from_endpoints(self, s: socket.socket, now: float) -> None:
        """Frames the endpoints sent: wrapped and sent to their flow's target."""
        tot = self.totals
        flows = self.bal.flows
        key_fn = self.bal.key_fn
        new_flow = self.bal.new_flow
        send = self.tunnel.sendto
        ignore = self.ignore_outgoing
        for _ in range(BATCH):
            try:
                if ignore:
                    frame = s.recv(65535)
                else:
                    frame, addr = s.recvfrom(65535)
                    if addr[2] == PACKET_OUTGOING:
                        continue
            except BlockingIOError:
                return
            if frame[12:14] != b"\x08\x00":
                tot.not_ipv4 += 1
                continue
            if len(frame) < 34 or frame[14] >> 4 != 4:
                tot.malformed_endpoint += 1
                continue
            inner = frame[14:14 + ((frame[16] << 8) | frame[17])]  # without Ethernet padding
            key = key_fn(inner)
            flow = flows.get(key)
            if flow is None:
                flow = new_flow(key, inner[9], now)
                if flow is None:
                    continue
            flow.last = now
            flow.packets += 1
            t = flow.target
            data = flow.header + inner
            try:
                send(data, t.addr)
            except OSError:
                t.send_errors += 1
                tot.send_errors += 1
                continue
            t.packets_to_target += 1
            t.bytes_to_target += len(data)
            tot.encapsulated += 1

    def from_targets(self, now: float) -> None:
        """GENEVE back from targets: checked, then the inner packet sent on."""
        tot = self.totals
        targets = self.bal.targets
        by_cookie = self.bal.by_cookie
        key_fn = self.bal.key_fn
        recvfrom = self.tunnel.recvfrom
        out = self.raw.sendto
        ntoa = socket.inet_ntoa
        for _ in range(BATCH):
            try:
                data, src = recvfrom(65535)
            except BlockingIOError:
                return
            tot.returned += 1
            t = targets.get(src[0])
            if t is None:
                tot.unknown_source += 1
                continue
            t.packets_from_target += 1
            t.bytes_from_target += len(data)
            got = cookie_of(data)
            if got is None or len(data) < got[0] + 20:
                t.malformed_returns += 1
                tot.malformed_returns += 1
                continue
            hlen, cookie = got
            flow = by_cookie.get(cookie)
            inner = data[hlen:]
            if flow is None or data[:hlen] != flow.header or key_fn(inner) != flow.key:
                t.option_mismatches += 1
                tot.option_mismatches += 1
                continue
            if flow.target is not t:
                t.stray_returns += 1
            flow.last = now
            try:
                out(inner, (ntoa(inner[16:20]), 0))
            except OSError:
                tot.deliver_errors += 1
                continue
            tot.delivered += 1

    # control ---------------------------------------------------------------------------

    def stats(self, event: str = "stats") -> dict:
        now = time.monotonic()
        tot = {k: getattr(self.totals, k) for k in Totals.__slots__}
        tot["bad_return"] = (tot["option_mismatches"] + tot["malformed_returns"]
                             + tot["unknown_source"])
        b = self.bal
        tot.update(flows_created=b.flows_created, flows_active=len(b.flows),
                   flows_expired=b.flows_expired, flows_rebalanced=b.flows_rebalanced,
                   flows_forgotten=b.flows_forgotten, no_target=b.no_target)
        cfg = b.config()
        cfg["health_check"] = self.health.config() if self.health else {"protocol": "none"}
        return {"event": event, "uptime_s": round(now - self.started, 3), "totals": tot,
                "targets": {ip: t.as_dict(now) for ip, t in b.targets.items()},
                "config": cfg}

    def command(self, req: dict) -> dict:
        cmd = req.get("cmd")
        ips = req.get("targets") or ([req["target"]] if req.get("target") else [])
        if cmd in ("register", "deregister"):
            if not ips:
                return {"ok": False, "error": f"{cmd}: no target given"}
            done = []
            for ip in ips:
                try:
                    (self.register if cmd == "register" else self.deregister)(ip)
                except (KeyError, OSError, ValueError) as e:
                    return {"ok": False, "error": f"{cmd} {ip}: {e}", "done": done}
                done.append(ip)
            return {"ok": True, "done": done}
        if cmd == "stats":
            return {"ok": True, **self.stats()}
        if cmd == "targets":
            return {"ok": True, "targets": {ip: {"state": t.state, "active_flows": len(t.flows),
                                                 "last_check": t.last_check}
                                            for ip, t in self.bal.targets.items()}}
        if cmd == "flows":
            flows = self.bal.flow_list(limit=req.get("limit"), target=req.get("target"))
            return {"ok": True, "total": len(self.bal.flows), "flows": flows}
        if cmd == "forget-flows":
            return {"ok": True, "forgotten": self.bal.forget_all()}
        if cmd == "set":
            if "target_failover" in req:
                if req["target_failover"] not in FAILOVER:
                    return {"ok": False, "error": f"target_failover: one of {', '.join(FAILOVER)}"}
                self.bal.failover = req["target_failover"]
            if "deregistration_delay" in req:
                self.bal.deregistration_delay = float(req["deregistration_delay"])
            return {"ok": True, "config": self.bal.config()}
        return {"ok": False, "error": f"unknown command {cmd!r}; expected register, deregister, "
                                      f"stats, targets, flows, forget-flows, set"}

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.control.accept()
            except BlockingIOError:
                return
            c.setblocking(False)
            self.clients[c.fileno()] = [c, b""]
            self.ep.register(c.fileno(), select.EPOLLIN)

    def _drop_client(self, fd: int) -> None:
        c, _ = self.clients.pop(fd)
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass
        c.close()

    def _client(self, fd: int) -> None:
        entry = self.clients[fd]
        c = entry[0]
        try:
            chunk = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop_client(fd)
            return
        entry[1] += chunk
        while b"\n" in entry[1]:
            line, entry[1] = entry[1].split(b"\n", 1)
            if not line.strip():
                continue
            try:
                req = json.loads(line)
                reply = self.command(req) if isinstance(req, dict) else \
                    {"ok": False, "error": "expected a JSON object"}
            except json.JSONDecodeError as e:
                reply = {"ok": False, "error": f"not JSON: {e}"}
            try:
                c.setblocking(True)
                c.settimeout(5.0)
                c.sendall((json.dumps(reply, sort_keys=True) + "\n").encode())
                c.setblocking(False)
            except OSError:
                self._drop_client(fd)
                return

    # main loop ---------------------------------------------------------------------------

    def run(self) -> int:
        a = self.a
        self.open()
        now = time.monotonic()
        for ip in a.target:
            self.register(ip)
        ep = self.ep = select.epoll()
        handlers = {}
        for s in self.taps:
            handlers[s.fileno()] = ("tap", s)
        handlers[self.tunnel.fileno()] = ("tunnel", None)
        handlers[self.wake_r] = ("wake", None)
        if self.control is not None:
            handlers[self.control.fileno()] = ("accept", None)
        for fd in handlers:
            ep.register(fd, select.EPOLLIN)

        def on_signal(signum, _frame):
            if signum == signal.SIGUSR1:
                self.want_stats = True
            else:
                self.stopping = True

        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, on_signal)
        emit({"event": "ready", "pid": os.getpid(), "listen": a.listen, "port": a.port,
              "control": a.control, "endpoint_if": a.endpoint_if,
              "targets": list(a.target), "stickiness": a.stickiness,
              "target_failover": a.target_failover, "health_check": a.health_check})
        next_sweep = now + 1.0
        try:
            while not self.stopping:
                try:
                    events = ep.poll(0.2)
                except InterruptedError:
                    events = []
                now = time.monotonic()
                for fd, _ev in events:
                    h = handlers.get(fd)
                    if h is None:
                        if fd in self.clients:
                            self._client(fd)
                        continue
                    kind, s = h
                    if kind == "tap":
                        self.from_endpoints(s, now)
                    elif kind == "tunnel":
                        self.from_targets(now)
                    elif kind == "accept":
                        self._accept()
                    else:
                        try:
                            while os.read(self.wake_r, 4096):
                                pass
                        except BlockingIOError:
                            pass
                if self.health is not None:
                    while True:
                        try:
                            ip, gen, ok, detail = self.health.results.get_nowait()
                        except Exception:
                            break
                        self.bal.health_result(ip, gen, ok, detail, now)
                if self.want_stats:
                    self.want_stats = False
                    emit(self.stats())
                if now >= next_sweep:
                    self.bal.tick(now)
                    self.bal.expire(now)
                    next_sweep = now + min(1.0, max(0.05, self.bal.deregistration_delay / 4 or 1.0))
        finally:
            signal.set_wakeup_fd(-1)
            final = self.stats("stopped")
            self.close()
            emit(final)
        return 0


def cmd_run(a) -> int:
    if a.health_check != "none":
        if a.health_check_timeout > a.health_check_interval:
            print("gwlb-emulator: --health-check-timeout must not exceed "
                  "--health-check-interval (as AWS requires)", file=sys.stderr)
            return 2
        try:
            parse_matcher(a.health_check_matcher)
        except ValueError as e:
            print(f"gwlb-emulator: --health-check-matcher: {e}", file=sys.stderr)
            return 2
    try:
        return Emulator(a).run()
    except OSError as e:
        print(f"gwlb-emulator: {e}", file=sys.stderr)
        return 1


# --- ctl ---------------------------------------------------------------------------------------


def request(path: str, req: dict, timeout: float = 10.0) -> dict:
    """One request to a running emulator's control socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf.split(b"\n", 1)[0])


def cmd_ctl(a) -> int:
    req: dict = {"cmd": a.command}
    if a.command in ("register", "deregister"):
        if not a.args:
            print(f"gwlb-emulator ctl {a.command}: name at least one target address",
                  file=sys.stderr)
            return 2
        req["targets"] = a.args
    elif a.command == "flows":
        if a.limit is not None:
            req["limit"] = a.limit
        if a.args:
            req["target"] = a.args[0]
    elif a.command == "set":
        if len(a.args) != 2 or a.args[0] not in ("target-failover", "deregistration-delay"):
            print("gwlb-emulator ctl set: target-failover rebalance|no_rebalance, or "
                  "deregistration-delay SECONDS", file=sys.stderr)
            return 2
        req[a.args[0].replace("-", "_")] = a.args[1]
    try:
        reply = request(a.socket, req, timeout=a.timeout)
    except (OSError, json.JSONDecodeError) as e:
        print(f"gwlb-emulator ctl: {a.socket}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(reply, indent=2, sort_keys=True))
    return 0 if reply.get("ok") else 1


# --- reflect -------------------------------------------------------------------------------------


def cmd_reflect(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_rcvbuf(s, a.rcvbuf)
    s.bind((a.listen, a.port))
    counts = {"packets": 0, "bytes": 0, "not_geneve": 0}
    flows: dict[str, int] = {}
    state = {"stop": False, "stats": False}

    def on_signal(signum, _frame):
        state["stats" if signum == signal.SIGUSR1 else "stop"] = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
        signal.signal(sig, on_signal)
    s.settimeout(0.2)

    def snapshot(event):
        d = {"event": event, "listen": a.listen, **counts}
        if a.flows:
            d["flows"] = flows
        return d

    emit({"event": "ready", "pid": os.getpid(), "listen": a.listen, "port": a.port})
    recvfrom, sendto = s.recvfrom, s.sendto
    while not state["stop"]:
        if state["stats"]:
            state["stats"] = False
            emit(snapshot("stats"))
        try:
            data, src = recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        if a.flows:
            parsed = parse_header(data)
            if parsed is None:
                counts["not_geneve"] += 1
                continue
            k = inner_text(data[parsed[0]:])
            flows[k] = flows.get(k, 0) + 1
        try:
            sendto(data, src)
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise
            continue
        counts["packets"] += 1
        counts["bytes"] += len(data)
    emit(snapshot("stopped"))
    return 0


# --- command line -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="gwlb-emulator", description=DESCRIPTION,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run", help="run the load balancer",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Run the load balancer. Prints one JSON line when ready, the counters "
                    "as one JSON line on SIGUSR1 (and the control command `stats`), and "
                    "once more when it stops (SIGTERM, SIGINT). Target state changes and "
                    "rebalancing are logged to stderr as JSON lines (not with --quiet).")
    g = p.add_argument_group("wiring")
    g.add_argument("--endpoint-if", action="append", required=True, metavar="IF",
                   help="interface facing endpoints whose traffic goes through the targets "
                        "(repeat); every IPv4 frame arriving there is taken")
    g.add_argument("--listen", required=True, metavar="IP",
                   help="the emulator's own address on the targets' subnet: GENEVE is sent "
                        "from and received at it, health checks come from it")
    g.add_argument("--port", type=int, default=GENEVE_PORT, help="GENEVE UDP port")
    g.add_argument("--target", action="append", default=[], metavar="IP",
                   help="a target registered at start (repeat); more at run time with "
                        "`ctl register`")
    g.add_argument("--control", metavar="PATH",
                   help="unix socket for run-time commands (JSON lines; see `ctl`)")
    g = p.add_argument_group("GENEVE")
    g.add_argument("--vni", type=int, default=0)
    g.add_argument("--endpoint-id", type=lambda t: hex_id(t, 8),
                   default=bytes.fromhex("0e5a1b2c3d4e5f60"), metavar="HEX16",
                   help="GWLB option type 1, 8 bytes in hex (default 0e5a1b2c3d4e5f60)")
    g.add_argument("--attachment-id", type=lambda t: hex_id(t, 8),
                   default=bytes.fromhex("0a77ac4e00000001"), metavar="HEX16",
                   help="GWLB option type 2, 8 bytes in hex (default 0a77ac4e00000001)")
    g = p.add_argument_group("target group attributes (defaults as AWS)")
    g.add_argument("--stickiness", choices=STICKINESS, default="5-tuple",
                   help="what defines a flow: 5-tuple (proto, addresses, ports), 3-tuple "
                        "(proto, addresses), 2-tuple (addresses); both directions alike")
    g.add_argument("--target-failover", choices=FAILOVER, default="no_rebalance",
                   help="existing flows of an unhealthy or deregistered target: keep going "
                        "there (no_rebalance) or are rehashed to the others (rebalance)")
    g.add_argument("--deregistration-delay", type=float, default=300.0, metavar="S",
                   help="seconds a deregistered target drains before it is unused")
    g.add_argument("--all-unhealthy", choices=ALL_UNHEALTHY, default="fail-open",
                   help="new flows when no registered target is healthy: spread over all "
                        "registered targets, or dropped")
    g.add_argument("--tcp-idle-timeout", type=positive, default=350.0, metavar="S")
    g.add_argument("--idle-timeout", type=positive, default=120.0, metavar="S",
                   help="idle timeout of non-TCP flows")
    g = p.add_argument_group("health checks (defaults as AWS)")
    g.add_argument("--health-check", choices=("tcp", "http", "none"), default="tcp",
                   help="none: every registered target is healthy")
    g.add_argument("--health-check-port", type=int, default=80)
    g.add_argument("--health-check-path", default="/")
    g.add_argument("--health-check-matcher", default="200-399",
                   help="HTTP codes that pass: 200, 200,204 or 200-299")
    g.add_argument("--health-check-interval", type=positive, default=10.0, metavar="S")
    g.add_argument("--health-check-timeout", type=positive, default=5.0, metavar="S")
    g.add_argument("--healthy-threshold", type=int, default=5, metavar="N",
                   help="consecutive passed checks that make a target healthy")
    g.add_argument("--unhealthy-threshold", type=int, default=2, metavar="N",
                   help="consecutive failed checks that make a target unhealthy")
    g = p.add_argument_group("other")
    g.add_argument("--seed", type=int, default=None, help="seed of the flow cookies")
    g.add_argument("--rcvbuf", type=int, default=8 << 20, help="socket receive buffers, bytes")
    g.add_argument("--quiet", action="store_true", help="no event lines on stderr")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser(
        "ctl", help="send a command to a running emulator",
        description="Sends one command to a running emulator's --control socket and prints "
                    "the JSON reply; exit 0 when it says ok. The socket takes JSON lines, "
                    "e.g. {\"cmd\": \"register\", \"targets\": [\"10.9.0.12\"]}, and answers "
                    "each with one JSON line.")
    p.add_argument("--socket", required=True, metavar="PATH")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--limit", type=int, help="flows: at most this many")
    p.add_argument("command", choices=("register", "deregister", "stats", "targets", "flows",
                                       "forget-flows", "set"))
    p.add_argument("args", nargs="*",
                   help="register/deregister: target addresses; flows: [TARGET]; set: "
                        "target-failover VALUE | deregistration-delay SECONDS")
    p.set_defaults(fn=cmd_ctl)

    p = sub.add_parser(
        "reflect", help="a stateless target returning every datagram",
        description="Binds IP:PORT and sends every datagram back to where it came from, "
                    "unchanged. Prints a ready line, its counts on SIGUSR1 and at SIGTERM; "
                    "with --flows, also packets per inner flow (direction kept).")
    p.add_argument("--listen", required=True, metavar="IP")
    p.add_argument("--port", type=int, default=GENEVE_PORT)
    p.add_argument("--flows", action="store_true", help="count packets per inner flow")
    p.add_argument("--rcvbuf", type=int, default=8 << 20)
    p.set_defaults(fn=cmd_reflect)
    return ap


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    return a.fn(a)
