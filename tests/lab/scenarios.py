"""Lab scenarios with counted outcomes, and the runner the test_*.py share.

A scenario drives real sockets through the node (traffic.py in the client or
server namespace) and returns what it counted, its checks, and what the node's
counters must show for it (Expect). The runner snapshots the endpoints' frame
counts and the node's counters around each scenario (on a quiet wire) and
checks, for every scenario and then for the whole run:

- the node received every frame the endpoints sent (rx_packets == frames sent);
- every received frame was forwarded or dropped for a named reason
  (forwarded + sum(dropped_*) == rx_packets);
- every forwarded frame reached an endpoint (frames received == forwarded);
- no drop counter moved that the scenario does not expect to move;
- the scenario's own expectations (sessions_created == connections, ...).

A check the node cannot answer (a counter it does not report) is n/a, and
n/a is a failure, unless the check is declared optional for the node kind
under test (the bridge reports frame counts only: its expectations of
named counters are optional); the summary counts the optional checks
skipped. A counter tandemd does not report fails its check.
Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, field

from lab import Deadline, InlineLab, LabSkip
from skip_policy import skip_exit  # noqa: E402
from nodes import NODE_KINDS, Rule, make_node
from labkit.checks import Check
from labkit.options import add_run_args, add_tandemd_arg
from labkit.report import save_artifacts
from labkit.runner import LabRun, preflight

# Ports the lab policy allows or denies; the server listens on all of them
# (a denied connection must fail because of the node, not for lack of a
# listener), except UDP_CLOSED, where only an ICMP error answers.
TCP_ECHO = 5001
TCP_ALT = 8080
TCP_DENIED = 5002
UDP_ECHO = 5353
UDP_CLOSED = 5354
UDP_DENIED = 5355

LAB_POLICY = (
    Rule("tcp", (TCP_ECHO, TCP_ALT), name="echo"),
    Rule("udp", (UDP_ECHO, UDP_CLOSED), name="udp-echo"),
    Rule("icmp", icmp_types=(8,), name="ping"),
)

SERVER_SERVICE = ["serve", "--tcp", f"{TCP_ECHO},{TCP_DENIED},{TCP_ALT}",
                  "--udp", f"{UDP_ECHO},{UDP_DENIED}"]
CLIENT_SERVICE = ["serve", "--tcp", f"{TCP_ECHO}"]


# --- results -------------------------------------------------------------------------


@dataclass
class Expect:
    """sum(delta of `counters` and of `optional`) OP value, for one scenario.
    A node must report every one of `counters` (else the check fails, unless
    the node kind is one of `optional_for`: then it is skipped); `optional`
    ones it does not report count as 0."""
    counters: tuple[str, ...]
    op: str                    # "==" or ">="
    value: int
    why: str
    optional: tuple[str, ...] = ()
    # the bridge filters nothing and counts only frames (nodes.py)
    optional_for: tuple[str, ...] = ("bridge",)

    def label(self) -> str:
        return " + ".join(self.counters + self.optional)


def sessions(n: int, why: str) -> Expect:
    """New sessions. A SYN that reopens a closing session on the same tuple (a
    client reusing a source port) also counts as created: tandemd counts it
    in sessions_created and, besides, in sessions_reopened; nftables counts
    it in the rule that admits new connections."""
    return Expect(("sessions_created",), "==", n, why)


@dataclass
class Outcome:
    counts: dict
    summary: str
    checks: list[Check]
    expects: list[Expect]
    allowed_drops: tuple[str, ...] = ()


@dataclass
class Result:
    name: str
    title: str
    outcome: Outcome
    checks: list[Check] = field(default_factory=list)     # outcome checks + counter checks
    deltas: dict = field(default_factory=dict)
    frames_sent: int = 0
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(c.failed for c in self.checks)


def _count(d: dict, *path, default=0):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


# --- scenarios --------------------------------------------------------------------------


class Scenario:
    name = "scenario"

    def title(self) -> str:
        return self.name

    def run(self, lab: InlineLab, deadline: Deadline) -> Outcome:
        raise NotImplementedError


class TcpStorm(Scenario):
    """N connections to an allowed port, `concurrency` at a time; each sends a
    random 1-4 KiB payload, half-closes, and must read the same bytes back."""

    name = "tcp-storm"

    def __init__(self, count: int = 1000, concurrency: int = 50, port: int = TCP_ECHO,
                 seed: int = 1) -> None:
        self.count, self.concurrency, self.port, self.seed = count, concurrency, port, seed

    def title(self) -> str:
        return (f"{self.count} TCP connections to port {self.port}, {self.concurrency} at a "
                f"time, 1-4 KiB echoed")

    def run(self, lab, deadline) -> Outcome:
        before = lab.service_stats("server")
        budget = deadline.cap(90.0)
        r = lab.tool("client", ["tcp-storm", "--dst", lab.addr.server_ip, "--port", str(self.port),
                                "--count", str(self.count), "--concurrency", str(self.concurrency),
                                "--deadline", str(max(1.0, budget - 15)),
                                "--seed", str(self.seed)], timeout=budget)
        after = lab.service_stats("server")
        p = str(self.port)
        accepted = _count(after, "tcp", p, "accepted") - _count(before, "tcp", p, "accepted")
        echoed = _count(after, "tcp", p, "echoed") - _count(before, "tcp", p, "echoed")
        failures = {k: r[k] for k in ("refused", "reset", "connect_timeout", "io_timeout",
                                      "mismatch", "not_started") if r[k]}
        failures.update(r["other"])
        n = self.count
        return Outcome(
            counts=r,
            summary=(f"attempted {r['attempted']}  completed {r['completed']}  refused "
                     f"{r['refused']}  reset {r['reset']}  timed out {r['timed_out']}  mismatch "
                     f"{r['mismatch']}  other {sum(r['other'].values())}  | bytes verified "
                     f"{r['bytes_verified']}/{r['bytes_sent']}  | connect p50 "
                     f"{r['connect_ms']['p50']} ms  p99 {r['connect_ms']['p99']} ms, "
                     f"over 1 s {r['slow_connects']}  | handshake RTT p50 "
                     f"{r['handshake_rtt_ms']['p50']} ms  p99 {r['handshake_rtt_ms']['p99']} ms  "
                     f"| {r['elapsed_s']} s"),
            checks=[
                Check(f"{r['completed']}/{n} connections completed with every byte verified",
                      r["completed"] == n and r["bytes_verified"] == r["bytes_sent"] > 0),
                Check(f"no refused, reset, timed-out or corrupted connection "
                      f"{failures or ''}".rstrip(), not failures),
                Check(f"server accepted {accepted}/{n} and echoed {echoed}/{n}",
                      accepted == n and echoed == n),
            ],
            expects=[sessions(n, "one session per connection")])


class DeniedTcp(Scenario):
    """Connections to a port the server listens on but the policy denies
    must time out (silently dropped), and never reach the listener."""

    name = "denied-tcp"

    def __init__(self, attempts: int = 5, port: int = TCP_DENIED, connect_timeout: float = 2.0):
        self.attempts, self.port, self.connect_timeout = attempts, port, connect_timeout

    def title(self) -> str:
        return f"{self.attempts} TCP connections to denied port {self.port} (server listening)"

    def run(self, lab, deadline) -> Outcome:
        return _denied_tcp(lab, deadline, "client", lab.addr.server_ip, self.port,
                           self.attempts, self.connect_timeout, "server")


class ReverseTcp(Scenario):
    """A connection from the server side to a listener on the client side
    fails: the policy allows only inside -> outside."""

    name = "reverse-tcp"

    def __init__(self, attempts: int = 5, port: int = TCP_ECHO, connect_timeout: float = 2.0):
        self.attempts, self.port, self.connect_timeout = attempts, port, connect_timeout

    def title(self) -> str:
        return (f"{self.attempts} TCP connections from the server side to a client-side "
                f"listener on {self.port}")

    def run(self, lab, deadline) -> Outcome:
        return _denied_tcp(lab, deadline, "server", lab.addr.client_ip, self.port,
                           self.attempts, self.connect_timeout, "client")


def _denied_tcp(lab, deadline, where, dst, port, attempts, connect_timeout, listener) -> Outcome:
    before = lab.service_stats(listener)
    r = lab.tool(where, ["tcp-storm", "--dst", dst, "--port", str(port), "--count", str(attempts),
                         "--concurrency", str(attempts), "--connect-timeout", str(connect_timeout),
                         "--io-timeout", "2"], timeout=deadline.cap(connect_timeout + 20))
    after = lab.service_stats(listener)
    p = str(port)
    accepted = _count(after, "tcp", p, "accepted") - _count(before, "tcp", p, "accepted")
    return Outcome(
        counts=r,
        summary=(f"attempted {r['attempted']}  completed {r['completed']}  timed out "
                 f"{r['connect_timeout']}  refused {r['refused']}  reset {r['reset']}  other "
                 f"{sum(r['other'].values())}  | {listener} listener accepted {accepted}"),
        checks=[
            Check(f"{r['connect_timeout']}/{attempts} attempts timed out (dropped silently), "
                  f"{r['completed']} completed", r["connect_timeout"] == attempts),
            Check(f"the {listener}-side listener on {port} accepted {accepted} connections",
                  accepted == 0),
        ],
        expects=[Expect(("dropped_policy",), ">=", attempts,
                        "at least one SYN per attempt (plus retransmissions)"),
                 sessions(0, "a denied SYN creates no session")],
        allowed_drops=("dropped_policy",))


class DeniedUdp(Scenario):
    """Datagrams to a denied UDP port (server listening) get no reply; each
    one is a first packet denied by the policy."""

    name = "denied-udp"

    def __init__(self, count: int = 5, port: int = UDP_DENIED) -> None:
        self.count, self.port = count, port

    def title(self) -> str:
        return f"{self.count} UDP datagrams to denied port {self.port} (server listening)"

    def run(self, lab, deadline) -> Outcome:
        before = lab.service_stats("server")
        r = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(self.port),
                                "--requests", str(self.count), "--timeout", "0.5"],
                     timeout=deadline.cap(self.count * 0.5 + 15))
        after = lab.service_stats("server")
        p = str(self.port)
        got = _count(after, "udp", p, "received") - _count(before, "udp", p, "received")
        return Outcome(
            counts=r,
            summary=(f"sent {r['sent']}  replies {r['replies']}  timeouts {r['timeouts']}  "
                     f"refused {r['refused']}  | server received {got}"),
            checks=[Check(f"{r['timeouts']}/{self.count} datagrams unanswered, "
                          f"{r['replies']} replies", r["timeouts"] == self.count),
                    Check(f"server received {got} datagrams on {self.port}", got == 0)],
            expects=[Expect(("dropped_policy",), "==", self.count, "one drop per datagram"),
                     sessions(0, "denied: no session")],
            allowed_drops=("dropped_policy",))


class MidstreamAck(Scenario):
    """scapy sends bare ACKs to the server's open port from the client side,
    for a connection that never existed. The node must drop them (no session):
    the server's interface never sees them, and no RST comes back."""

    name = "midstream-ack"

    def __init__(self, count: int = 5, port: int = TCP_ECHO, seed: int = 11) -> None:
        self.count, self.port, self.seed = count, port, seed

    def title(self) -> str:
        return f"{self.count} bare TCP ACKs (no session) to open port {self.port}"

    def run(self, lab, deadline) -> Outcome:
        sport = random.Random(self.seed).randint(40000, 60000)
        lab.start_service("capture", "server",
                          ["capture", "--iface", lab.server_if, "--src", lab.addr.client_ip,
                           "--dst", lab.addr.server_ip, "--sport", str(sport),
                           "--dport", str(self.port), "--seconds", "30"])
        try:
            r = lab.tool("client", ["bare-ack", "--iface", lab.client_if,
                                    "--src", lab.addr.client_ip, "--dst", lab.addr.server_ip,
                                    "--src-mac", lab.client_mac, "--dst-mac", lab.server_mac,
                                    "--sport", str(sport), "--dport", str(self.port),
                                    "--count", str(self.count), "--listen", "1.5"],
                         timeout=deadline.cap(30))
        finally:
            cap = lab.stop_service("capture")
        seen = cap.get("matched")
        return Outcome(
            counts={**r, "server_saw": seen},
            summary=(f"sent {r['sent']} ACKs (sport {sport}, {r['frame_len']} B)  | server "
                     f"interface saw {seen}  | answers to the client {r['replies']} "
                     f"{r['reply_flags'] or ''}").rstrip(),
            checks=[Check(f"scapy sent {r['sent']}/{self.count}", r["sent"] == self.count),
                    Check(f"the server's interface saw {seen} of them", seen == 0),
                    Check(f"no answer (RST) reached the client: {r['replies']}",
                          r["replies"] == 0)],
            expects=[Expect(("dropped_no_session",), "==", self.count,
                            "each ACK dropped: no session"),
                     sessions(0, "an ACK cannot start a session")],
            allowed_drops=("dropped_no_session",))


class UdpEcho(Scenario):
    """Request/reply over `flows` connected UDP sockets; every reply checked."""

    name = "udp-echo"

    def __init__(self, requests: int = 200, flows: int = 10, port: int = UDP_ECHO) -> None:
        self.requests, self.flows, self.port = requests, flows, port

    def title(self) -> str:
        return f"{self.requests} UDP requests over {self.flows} flows to port {self.port}"

    def run(self, lab, deadline) -> Outcome:
        before = lab.service_stats("server")
        r = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(self.port),
                                "--flows", str(self.flows), "--requests", str(self.requests),
                                "--timeout", "1.0"],
                     timeout=deadline.cap(60))
        after = lab.service_stats("server")
        p = str(self.port)
        got = _count(after, "udp", p, "received") - _count(before, "udp", p, "received")
        bad = {k: r[k] for k in ("timeouts", "refused", "late_refused", "mismatch") if r[k]}
        return Outcome(
            counts=r,
            summary=(f"sent {r['sent']}  replies {r['replies']}  timeouts {r['timeouts']}  "
                     f"refused {r['refused']}  mismatch {r['mismatch']}  | server received "
                     f"{got}  | rtt p50 {r['rtt_ms']['p50']} ms  p99 {r['rtt_ms']['p99']} ms"),
            checks=[Check(f"{r['replies']}/{self.requests} replies, content verified",
                          r["replies"] == self.requests),
                    Check(f"no lost, refused or wrong reply {bad or ''}".rstrip(), not bad),
                    Check(f"server received {got}/{self.requests}", got == self.requests)],
            expects=[sessions(self.flows, "one session per flow")])


class IcmpEcho(Scenario):
    """Echo requests with one identifier (one session); every reply matched."""

    name = "icmp-echo"

    def __init__(self, count: int = 50, ident: int = 0x4C41) -> None:
        self.count, self.ident = count, ident

    def title(self) -> str:
        return f"{self.count} ICMP echo requests (one identifier)"

    def run(self, lab, deadline) -> Outcome:
        r = lab.tool("client", ["icmp-echo", "--dst", lab.addr.server_ip, "--count",
                                str(self.count), "--ident", str(self.ident), "--interval", "0.005"],
                     timeout=deadline.cap(self.count * 1.0 + 15))
        return Outcome(
            counts=r,
            summary=(f"sent {r['sent']}  replies {r['replies']}  lost {r['lost']}  | rtt p50 "
                     f"{r['rtt_ms']['p50']} ms  p99 {r['rtt_ms']['p99']} ms"),
            checks=[Check(f"{r['replies']}/{self.count} echo replies", r["replies"] == self.count)],
            expects=[sessions(1, "one identifier, one session")])


class IcmpError(Scenario):
    """A connected UDP socket sends to a closed port the policy allows; the
    server's kernel answers ICMP port unreachable, which must cross the node
    (it belongs to a live session) so the client's recv gets ECONNREFUSED."""

    name = "icmp-error"

    def __init__(self, count: int = 20, flows: int = 1, port: int = UDP_CLOSED) -> None:
        self.count, self.flows, self.port = count, flows, port

    def title(self) -> str:
        return (f"{self.count} UDP datagrams to closed port {self.port}: ICMP port unreachable "
                f"must reach the sender")

    def run(self, lab, deadline) -> Outcome:
        r = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(self.port),
                                "--flows", str(self.flows), "--requests", str(self.count),
                                "--timeout", "1.0", "--interval", "0.01"],
                     timeout=deadline.cap(self.count * 1.0 + 15))
        refused = r["refused"] + r["late_refused"]
        return Outcome(
            counts=r,
            summary=(f"sent {r['sent']}  ECONNREFUSED {refused}  timeouts {r['timeouts']}  "
                     f"replies {r['replies']}"),
            checks=[Check(f"{refused}/{self.count} sends answered by ICMP port unreachable "
                          f"(ECONNREFUSED at the client)", refused == self.count)],
            expects=[sessions(self.flows, "one session per socket"),
                     Expect(("icmp_errors_forwarded",), "==", self.count,
                            "each ICMP error forwarded to its session")])


# --- counter checks ---------------------------------------------------------------------------


# Parse results that are not drops; every other parse.* counter is a drop reason.
_PARSE_PASS = {"parse.ok", "parse.non_ip"}


def _is_loss_counter(name: str) -> bool:
    """Counters outside dataplane.dropped_* that mean a frame was lost
    (I/O drops, parse errors, missed frames)."""
    if name.startswith("parse."):
        return name not in _PARSE_PASS
    leaf = name.rsplit(".", 1)[-1]
    return "." in name and ("dropped" in leaf or leaf.endswith("_missed")
                            or leaf in ("rx_no_mbuf", "rx_errors", "tx_errors"))


def _value(delta: dict, e: Expect) -> int | None:
    if not all(c in delta for c in e.counters):
        return None
    return sum(delta[c] for c in e.counters) + sum(delta.get(c, 0) for c in e.optional)


def counter_checks(before, after, expects: list[Expect], allowed_drops,
                   node_kind: str) -> tuple[list[Check], dict]:
    """The reconciliation of frames and counters, and `expects`, between two
    snapshots of a node of kind `node_kind`. Every node kind reports
    rx_packets and forwarded: without them the checks fail."""
    checks: list[Check] = []
    frames = after.frames_sent - before.frames_sent
    delivered = after.frames_received - before.frames_received
    if not after.settled:
        checks.append(Check("the wire went quiet before counting", False))
    if after.counters is None or before.counters is None:
        checks.append(Check("node counters (this node reports none)", None))
        return checks, {"frames_sent": frames, "frames_delivered": delivered}
    delta = {k: v - before.counters.get(k, 0) for k, v in after.counters.items()
             if isinstance(v, int)}
    rx, fwd = delta.get("rx_packets"), delta.get("forwarded")
    drops = {k: v for k, v in delta.items() if k.startswith("dropped_") and v}
    losses = {k: v for k, v in delta.items() if v and _is_loss_counter(k)}
    known = rx is not None and fwd is not None
    checks.append(Check(f"node received every frame sent: rx_packets +{rx} == frames "
                        f"sent by the endpoints +{frames}", rx == frames if rx is not None else None))
    checks.append(Check(f"every frame forwarded or dropped with a reason: forwarded "
                        f"+{fwd} + dropped +{sum(drops.values())} == rx_packets +{rx}",
                        fwd + sum(drops.values()) == rx if known else None))
    checks.append(Check(f"every forwarded frame was delivered: endpoints received "
                        f"+{delivered} == forwarded +{fwd}",
                        delivered == fwd if fwd is not None else None))
    unexpected = {k: v for k, v in {**drops, **losses}.items() if k not in allowed_drops}
    checks.append(Check(f"no unexpected drops {unexpected or ''}".rstrip(), not unexpected))
    for e in expects:
        got = _value(delta, e)
        text = f"{e.label()} {'+' if got is not None else ''}{got if got is not None else ''} " \
               f"{e.op} {e.value} ({e.why})"
        if got is None:
            checks.append(Check(f"{e.label()} {e.op} {e.value}: not reported by this node", None,
                                optional=node_kind in e.optional_for))
        else:
            checks.append(Check(" ".join(text.split()),
                                got == e.value if e.op == "==" else got >= e.value))
    return checks, {"frames_sent": frames, "frames_delivered": delivered, **delta}


def total_expects(results: list[Result]) -> tuple[list[Expect], tuple[str, ...]]:
    """The run's expectations: each counter's scenario expectations summed
    ("==" only if every scenario's is exact)."""
    by_label: dict[tuple, Expect] = {}
    for r in results:
        for e in r.outcome.expects:
            key = (e.counters, e.optional)
            cur = by_label.get(key)
            if cur is None:
                by_label[key] = Expect(e.counters, e.op, e.value, "whole run", e.optional,
                                       e.optional_for)
            else:
                cur.value += e.value
                if e.op != "==":
                    cur.op = ">="
    allowed = tuple(sorted({d for r in results for d in r.outcome.allowed_drops}))
    return list(by_label.values()), allowed


# --- runner -----------------------------------------------------------------------------------


# Deltas not worth a line of output (they move whenever time passes).
_NOT_SHOWN = {"frames_sent", "frames_delivered", "io.idle_sleeps", "io.rx_bursts"}


def print_result(r: Result) -> None:
    print(f"\n== {r.name}: {r.title}", flush=True)
    print(f"   {r.outcome.summary}")
    shown = {k: v for k, v in r.deltas.items()
             if v and k not in _NOT_SHOWN and not k.endswith("_bytes")}
    if shown:
        print("   node: " + "  ".join(f"{k} +{v}" for k, v in sorted(shown.items())))
    print(f"   endpoints: frames sent {r.deltas.get('frames_sent', 0)}, received "
          f"{r.deltas.get('frames_delivered', 0)}  ({r.elapsed_s:.1f} s)")
    for c in r.checks:
        print(f"   {c.mark}  {c.shown}")
    sys.stdout.flush()


def run_scenario(lab: InlineLab, sc: Scenario, deadline: Deadline, node_kind: str) -> Result:
    before = lab.snapshot()
    t0 = time.monotonic()
    outcome = sc.run(lab, deadline)
    elapsed = time.monotonic() - t0
    after = lab.snapshot()
    checks, deltas = counter_checks(before, after, outcome.expects, outcome.allowed_drops,
                                    node_kind)
    res = Result(sc.name, sc.title(), outcome, outcome.checks + checks, deltas,
                 deltas.get("frames_sent", 0), elapsed)
    print_result(res)
    return res


def common_args(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--node", choices=NODE_KINDS, default="tandemd",
                    help="what runs in the node namespace: tandemd, kernel (bridge + nftables "
                         "ct rules from the same policy), bridge (no filtering: tests must fail)")
    add_tandemd_arg(ap)
    ap.add_argument("--workers", type=int, default=1,
                    help="tandemd workers (more than one: frames are handed between them, "
                         "and the run checks that both directions met one worker)")
    add_run_args(ap, deadline=150.0,
                 artifacts="copy the lab's configs and logs here before cleaning up")
    return ap


def worker_checks(node, workers: int) -> list[Check]:
    """With several workers: frames were handed between them (the kernel's
    queue choice differs from tandemd's flow placement), none was lost on the
    way, and every worker holds sessions of its own. The scenarios' own
    checks (every connection completes, counters reconcile) show that both
    directions of each flow met its session."""
    c = node.counters()
    result = node.control.request("show counters", timeout=3.0, all=True)
    by_worker = result.get("sessions", {}).get("by_worker", {})
    out_, in_, lost = c.get("io.handoff_out", 0), c.get("io.handoff_in", 0), c.get("io.handoff_dropped", 0)
    print(f"workers: {workers}, handed off {out_}, taken {in_}, lost {lost}, "
          f"sessions by worker {by_worker}", flush=True)
    return [
        Check(f"frames handed between workers ({out_})", out_ > 0),
        Check(f"every handed-off frame taken by its worker ({in_} of {out_}, {lost} lost)",
              in_ == out_ and lost == 0),
        Check(f"all {workers} workers hold sessions ({by_worker})",
              len(by_worker) == workers and all(v > 0 for v in by_worker.values())),
    ]


def pool_check(node) -> Check:
    """The lab's ports are af_packet (frames copied in software) and EAL
    runs without hugepages: tandemd packs its packet buffers back to back
    (dataplane/packet_pool.h) and says so in its start-up log."""
    with open(node.log_path, errors="replace") as f:
        line = next((x.strip() for x in f if "packet buffers:" in x), "")
    return Check(f"packet buffers packed ({line or 'no start-up line about them'})",
                 ", packed (" in line)


def run_all(lab: InlineLab, node, args, scenarios: list[Scenario], deadline: Deadline,
            started: float, final=None) -> tuple[list[Result], list[Check]]:
    """Runs the scenarios on the lab's node (the services started), then
    the checks over the whole run (since `started`, a monotonic time): the
    counters against the sums, the workers, `final(lab, node)`, the node's
    exit code on SIGTERM (last). Returns the scenarios' results and the
    final checks."""
    lab.set_node(node)
    lab.start_service("server", "server", SERVER_SERVICE)
    lab.start_service("client", "client", CLIENT_SERVICE)
    base = lab.snapshot()
    results = [run_scenario(lab, sc, deadline, args.node) for sc in scenarios]
    final_checks: list[Check] = []
    if len(results) > 1:
        expects, allowed = total_expects(results)
        checks, deltas = counter_checks(base, lab.snapshot(), expects, allowed, args.node)
        whole = Result("whole run", f"{len(results)} scenarios, node counters since start",
                       Outcome({}, "counters over the whole run", [], expects, allowed),
                       checks, deltas, deltas.get("frames_sent", 0), time.monotonic() - started)
        print_result(whole)
        final_checks += checks
    if args.node == "tandemd":
        final_checks.append(pool_check(node))
    if args.node == "tandemd" and args.workers > 1:
        final_checks += worker_checks(node, args.workers)
    if final:
        final_checks += final(lab, node)
    stopped = lab.stop_node()
    code = stopped.get("exit_code")
    final_checks.append(Check(f"node stopped cleanly on SIGTERM (exit code {code})", code == 0))
    if code != 0 and stopped.get("log_tail"):
        print(f"node log ends:\n{stopped['log_tail']}")
    return results, final_checks


def main(description: str, build, argv=None, configure=None, lab_class=InlineLab,
         policy=LAB_POLICY, mode: str = "inline", final=None) -> int:
    """Parses the common options (plus `configure(parser)`), builds the lab
    (`lab_class`, a node running `policy` in `mode`), runs `build(args)`
    scenarios, then `final(lab, node)` (more checks, with the node still
    running), prints the summary. Returns the exit code."""
    ap = common_args(description)
    if configure:
        configure(ap)
    args = ap.parse_args(argv)
    scenarios = build(args)
    try:
        preflight(("ip", "ethtool") + (("nft", "conntrack") if args.node == "kernel" else ()))
    except LabSkip as e:
        return skip_exit(e)
    lab_run = LabRun(args.deadline)
    results: list[Result] = []
    final_checks: list[Check] = []
    node = None
    print(f"{description}\nnode: {args.node}", flush=True)
    with lab_run.guard():
        with lab_class() as lab:
            node = make_node(args.node, policy, args.tandemd, args.workers, mode)
            try:
                results, final_checks = run_all(lab, node, args, scenarios, lab_run.deadline,
                                                lab_run.started, final)
            finally:
                if args.artifacts:
                    save_artifacts(lab.workdir, args.artifacts)
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    return _finish(lab_run, args, node, results, final_checks)


def _finish(lab_run: LabRun, args, node, results: list[Result], final_checks: list[Check]) -> int:
    """The last check (the node's exit), one line per scenario, the
    optional checks skipped, then the RESULT line."""
    failed = [f"{r.name}: {c.shown}" for r in results for c in r.checks if c.failed]
    failed += [f"node: {c.shown}" for c in final_checks if c.failed]
    failed += [f"node: {f}" for f in lab_run.node_failures]
    for c in final_checks[-1:]:
        print(f"\n   {c.mark}  {c.shown}")
    print("\n" + "-" * 72)
    for r in results:
        print(f"{'PASS' if r.ok else 'FAIL'}  {r.name:<14} {r.outcome.summary[:90]}")
    skipped = sum(1 for r in results for c in r.checks if c.skipped) + \
        sum(1 for c in final_checks if c.skipped)
    print(f"optional checks skipped (node kind {args.node}): {skipped}")
    hint = (f"(tandemd log was {node.log_path}; use --artifacts DIR to keep it)"
            if node is not None and getattr(node, "log_path", "") else "")
    data = {"node": args.node,
            "scenarios": [{"name": r.name, "title": r.title, "ok": r.ok,
                           "counts": r.outcome.counts, "node_deltas": r.deltas,
                           "checks": [c.as_json() for c in r.checks]} for r in results],
            "final_checks": [c.as_json() for c in final_checks]}
    n_checks = sum(len(r.checks) for r in results) + len(final_checks)
    return lab_run.finish(failed, n_checks, f"node {args.node}", json_path=args.json,
                          json_data=data, sort_keys=True, error_hint=hint)
