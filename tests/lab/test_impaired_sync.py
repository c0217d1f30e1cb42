#!/usr/bin/python3
"""Pair and cluster scenario: the HA sync link impaired (loss, delay with
jitter, reordering, duplication, short outages) under traffic.

The HA link of every node goes through a relay that does what netem does
(link_impairer.py: the lab kernel has no sch_netem); in the pair the raw
peer link can go through it too. 100 long-lived connections (a request
every 20 ms) + a 10 Mbit/s bulk stream + 50 idle connections run over ECMP
on every node before the first phase and across all of them. Each phase
(--plan) impairs the link, and while it is impaired:

  - 30 more long-lived connections start (sessions born under the
    impairment, to be replicated through it) and 300 short connections run
    (8 at a time): every one completes, and their setup latency (connect
    p50 / p99 / max, SYNs and SYN-ACKs retransmitted) is the figure of the
    first packets that the owner parks until the backup owner acknowledged
    the session (or until the defer timeout releases them);
  - every node's HA state is polled every ~50 ms: no node may ever see a
    peer dead (both paths lost for less than the hold time is no death),
    and ha.peer_down must not move;
  - the tables are read once mid-phase: no session may be named with two
    different owners.

Then the link is clean again, and the tables must converge (bounded):
every node holds every long-lived session its role says it holds (a pair:
both nodes all of them; a cluster: owner and backup owner), every table
that holds a session names the same owner and backup owner, and each has
exactly one owner. At the end every idle connection answers, no
connection broke or was reset, and the relay's counts show that the
impairment really happened (frames lost, delayed, reordered, duplicated,
dropped in an outage).

Plans (--plan):
  loss       1 % loss, then 5 % loss
  delay      20 +- 10 ms delay, 10 % reordered, 2 % duplicated
  outage     five 200 ms outages of the HA link 1 s apart; in the pair then
             three 200 ms outages of the HA and the peer link together (both
             paths of the heartbeats: below a hold time of 300 ms, no death)
  over-hold  (pair) one outage of both links longer than the hold time: it
             must be declared a death on both nodes (--expect-death: the
             check turns round), and the pair must heal: paired again,
             tables converged, one owner per session, nothing broken

    /usr/bin/python3 tests/lab/test_impaired_sync.py --plan loss --tandemd PATH --cli PATH
    /usr/bin/python3 tests/lab/test_impaired_sync.py --plan delay --nodes 3 --tandemd PATH
    /usr/bin/python3 tests/lab/test_impaired_sync.py --plan outage --hold-ms 300 ...
    /usr/bin/python3 tests/lab/test_impaired_sync.py --plan over-hold --hold-ms 300 \\
        --outage-ms 600 --expect-death ...
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from link_impairer import counts_delta  # noqa: E402
from pair import (IDLE_PORT, RR_PORT, pair_main, report_rr, start_idle, start_rr,  # noqa: E402
                  stop_idle, stop_rr, storm, use_idle)
from labkit.ha import ha_local_state, ha_peers  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import disagreements, ownership, readable  # noqa: E402


@dataclass
class Phase:
    name: str
    ha: dict = field(default_factory=dict)      # the relay's settings for the HA link
    outages: tuple[str, ...] = ()               # links cut by the outages
    count: int = 0                              # outages (of --outage-ms), --outage-every apart


PLANS = {
    "loss": [Phase("1 % loss", ha={"loss": 0.01}), Phase("5 % loss", ha={"loss": 0.05})],
    "delay": [Phase("20 +- 10 ms delay, 10 % reordered, 2 % duplicated",
                    ha={"delay_ms": 20, "jitter_ms": 10, "reorder": 0.10, "duplicate": 0.02})],
    "outage": [Phase("outages of the HA link", outages=("ha",), count=4),
               Phase("outages of the HA and the peer link", outages=("ha", "peer"), count=3)],
    "over-hold": [Phase("an outage of the HA and the peer link", outages=("ha", "peer"),
                        count=1)],
}


def configure(ap) -> None:
    ap.add_argument("--plan", choices=sorted(PLANS), default="loss")
    ap.add_argument("--conns", type=int, default=100, help="long-lived connections")
    ap.add_argument("--conns-per-phase", type=int, default=30,
                    help="long-lived connections started during each phase")
    ap.add_argument("--interval-ms", type=float, default=20.0)
    ap.add_argument("--bulk-mbit", type=float, default=10.0)
    ap.add_argument("--idle", type=int, default=50)
    ap.add_argument("--connections", type=int, default=300,
                    help="short connections during each phase, paced over it")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--phase-seconds", type=float, default=5.0,
                    help="each phase lasts at least this long")
    ap.add_argument("--outage-ms", type=float, default=200.0)
    ap.add_argument("--outage-every", type=float, default=1.2,
                    help="seconds between outages (not 1 s: a SYN sent again after 1 s would "
                         "meet the next one)")
    ap.add_argument("--settle-timeout", type=float, default=15.0,
                    help="the tables must converge within this after the link is clean")
    ap.add_argument("--expect-death", action="store_true",
                    help="the outages are longer than the hold time: every node must declare "
                         "its peer dead (and the nodes must heal afterwards)")


class HaWatch(threading.Thread):
    """Polls every live node's HA state every ~50 ms: for each node, the
    samples, those in which it saw a peer dead (and which), and those in
    which a peer's control link was down (the impairment seen). Every
    ~0.5 s it also reads the tables (long-lived sessions): how many
    readings, and the most sessions one of them named with two owners."""

    def __init__(self, lab) -> None:
        super().__init__(daemon=True)
        self.lab = lab
        self.stop_flag = threading.Event()
        self.samples = {s.node_id: 0 for s in lab.slots}
        self.failed = {s.node_id: 0 for s in lab.slots}
        self.saw_dead = {s.node_id: set() for s in lab.slots}
        self.first_dead = {}      # node id -> seconds from the watch's start
        self.control_down = {s.node_id: 0 for s in lab.slots}
        self.states = {s.node_id: set() for s in lab.slots}
        self.tables_read = 0
        self.two_owners_max = 0
        self.t0 = time.monotonic()

    def run(self) -> None:
        rounds = 0
        while not self.stop_flag.is_set():
            rounds += 1
            if rounds % 10 == 1:
                own = ownership(self.lab, RR_PORT)
                if readable(own):
                    self.tables_read += 1
                    self.two_owners_max = max(self.two_owners_max, len(self_claims(own)))
            for s in self.lab.slots:
                if s.dead or s.node is None:
                    continue
                try:
                    st = self.lab.ha_state(s)
                except Exception:   # a control socket that did not answer in time
                    st = None
                if st is None:
                    self.failed[s.node_id] += 1
                    continue
                self.samples[s.node_id] += 1
                self.states[s.node_id].add(ha_local_state(st))
                for p in ha_peers(st):
                    if p.get("alive") is False:
                        self.saw_dead[s.node_id].add(p.get("id"))
                        self.first_dead.setdefault(s.node_id, time.monotonic() - self.t0)
                    if p.get("control_link") is False:
                        self.control_down[s.node_id] += 1
            self.stop_flag.wait(0.05)

    def stop(self) -> None:
        self.stop_flag.set()
        self.join(5)

    def sampled(self, seconds: float) -> bool:
        """Every node answered at least 4 polls a second and failed few."""
        return all(n >= 4 * seconds and self.failed[k] <= max(2, n // 10)
                   for k, n in self.samples.items())


def self_claims(own: dict) -> dict:
    """{session: {node ids named its owner by some table}} for the sessions
    named with more than one owner (across tables), or claimed as its own by
    more than one node's table."""
    named: dict = {}
    claims: dict = {}
    for n, t in own.items():
        for key, (owner, _b) in (t or {}).items():
            named.setdefault(key, set()).add(owner)
            if owner == int(n):
                claims.setdefault(key, set()).add(int(n))
    return {k: v for k, v in named.items() if len(v) > 1} | \
        {k: v for k, v in claims.items() if len(v) > 1}


def converged(lab, own: dict, expected: int) -> tuple[bool, str]:
    """Every node's table holds what its role says, the tables agree
    (owner and backup owner), each session has one owner, and the union
    holds `expected` sessions."""
    if not readable(own):
        return False, "a table could not be read"
    tables = {int(k): t for k, t in own.items()}
    union = set().union(*(set(t) for t in tables.values()))
    missing = 0
    for key in union:
        owner, backup = next(t[key] for t in tables.values() if key in t)
        holders = {n for n, t in tables.items() if key in t}
        # a pair: both nodes hold every session; a cluster: owner and backup
        must = set(tables) if len(tables) == 2 else {owner, backup} & set(tables)
        if not must <= holders or owner not in tables:
            missing += 1
    bad = disagreements(own)
    two = self_claims(own)
    ok = len(union) == expected and missing == 0 and not bad and not two
    return ok, (f"{len(union)} sessions (expected {expected}), {missing} not where their roles "
                f"say, {len(bad)} disagreeing, {len(two)} with two owners"
                + (f"; first: {bad[0]}" if bad else ""))


def schedule_outages(lab, phase: Phase, args, t0: float) -> list[tuple[float, float]]:
    """Sets the phase's impairment: its settings and, for an outage phase,
    `count` windows of --outage-ms on the links it names, the first 0.5 s
    from now. Returns the windows."""
    windows = [(t0 + 0.5 + i * args.outage_every,
                t0 + 0.5 + i * args.outage_every + args.outage_ms / 1000.0)
               for i in range(phase.count)]
    for link in lab.opts.impair_links:
        settings = dict(phase.ha) if link == "ha" else {}
        if link in phase.outages:
            settings["outages"] = windows
        lab.impaired.set(link, **settings)
    return windows


@dataclass
class PhaseRun:
    """One phase under way: what it started with and what its steps measured."""
    lab: object
    args: object
    sec: object
    phase: Phase
    index: int
    live: list
    c0: dict                                    # node id -> counters at the start
    r0: dict                                    # the relay's counts at the start
    watch: HaWatch
    t0: float = 0.0
    windows: list = field(default_factory=list)
    st: dict = field(default_factory=dict)      # the storm's result
    t_clean: float = 0.0
    seconds: float = 0.0
    counts: dict = field(default_factory=dict)  # the relay's counts over the phase
    dead: dict = field(default_factory=dict)    # node id -> peers it saw dead
    downs: dict = field(default_factory=dict)   # node id -> ha.peer_down over the phase

    @property
    def rr_name(self) -> str:
        return f"rr-phase{self.index + 1}"


def start_phase(lab, args, report, phase: Phase, index: int) -> PhaseRun:
    """Opens the phase's section, takes the counters, starts the HA watch and
    sets the impairment (outages marked on the test's clock)."""
    hold_ms = lab.opts.hold_ms
    what = phase.name if not phase.count else (
        f"{phase.count} x {args.outage_ms:g} ms {phase.name} ({args.outage_every:g} s apart; "
        f"hold time {hold_ms} ms)")
    sec = report.section(f"impaired sync link, phase {index + 1}: {what}")
    live = [s for s in lab.slots if not s.dead]
    c0 = {s.node_id: lab.counters(s) for s in live}
    r0 = lab.impaired.counts()
    pr = PhaseRun(lab, args, sec, phase, index, live, c0, r0, HaWatch(lab))
    pr.t0 = lab.mark(f"phase {index + 1}", window=args.phase_seconds)
    pr.windows = schedule_outages(lab, phase, args, pr.t0)
    for i, (a, _b) in enumerate(pr.windows):
        lab.mark(f"outage {index + 1}.{i + 1}", a, window=2.0)
    pr.watch.start()
    return pr


def load_phase(pr: PhaseRun, deadline) -> None:
    """Sessions born under the impairment: long-lived ones and a storm paced
    over the phase; then waits out the phase and cleans the link."""
    lab, args, index = pr.lab, pr.args, pr.index
    ready = start_rr(lab, args.conns_per_phase, args.interval_ms / 1000.0, 0, bulk_conns=0,
                     name=pr.rr_name, window=args.phase_seconds, timeout=30.0, seed=40 + index,
                     connect_timeout=10.0)
    pr.sec.line(f"{pr.rr_name}: {ready['connected']}/{args.conns_per_phase} long-lived "
                f"connections started under the impairment answering")
    # paced over the phase, so that they meet every outage
    span = max(1.0, pr.t0 + args.phase_seconds - 0.5 - time.monotonic())
    pr.st = storm(lab, pr.sec, "short connections under the impairment", args.connections,
                  args.concurrency, deadline, seed=60 + index, connect_timeout=10.0,
                  budget=max(60.0, args.phase_seconds + 40), rate=args.connections / span)
    windows = pr.windows
    left = pr.t0 + max(args.phase_seconds, (windows[-1][1] - pr.t0 + 0.5) if windows else 0.0) \
        - time.monotonic()
    if left > 0:
        time.sleep(left)
    pr.watch.stop()
    lab.impaired.clear()
    pr.t_clean = lab.mark(f"clean {index + 1}", window=2.0)
    pr.seconds = pr.t_clean - pr.t0


def check_impairment(pr: PhaseRun) -> None:
    """The relay's counts over the phase show the impairment happened."""
    sec, phase = pr.sec, pr.phase
    pr.counts = counts = counts_delta(pr.lab.impaired.counts(), pr.r0)
    for link, c in counts.items():
        sec.line(f"relay, {link} link: {c['frames']} frames, lost {c['lost']}, in outages "
                 f"{c['outage_dropped']}, delayed {c['delayed']}, reordered {c['reordered']}, "
                 f"duplicated {c['duplicated']}")
    ha = counts.get("ha", {})
    shown = []
    if phase.ha.get("loss"):
        shown.append(("lost", ha.get("lost", 0)))
    if phase.ha.get("delay_ms"):
        shown.append(("delayed", ha.get("delayed", 0)))
        shown.append(("reordered", ha.get("reordered", 0)))
    if phase.ha.get("duplicate"):
        shown.append(("duplicated", ha.get("duplicated", 0)))
    for link in phase.outages:
        shown.append((f"{link} frames dropped in outages",
                      counts.get(link, {}).get("outage_dropped", 0)))
    sec.check("the impairment happened: " + ", ".join(f"{k} {v}" for k, v in shown),
              all(v > 0 for _k, v in shown))


def check_peers_alive(pr: PhaseRun) -> None:
    """Peers alive throughout (or, with --expect-death, declared dead by every node)."""
    lab, args, sec, watch = pr.lab, pr.args, pr.sec, pr.watch
    hold_ms = lab.opts.hold_ms
    pr.dead = dead = {n: sorted(v, key=str) for n, v in watch.saw_dead.items() if v}
    sec.line("HA polls during the phase: " + "; ".join(
        f"node{n}: {watch.samples[n]} samples ({watch.failed[n]} failed), states "
        f"{sorted(map(str, watch.states[n]))}, control link seen down in {watch.control_down[n]}, "
        f"peers seen dead {dead.get(n, [])}"
        + (f" first after {watch.first_dead[n] * 1000:.0f} ms" if n in watch.first_dead else "")
        for n in watch.samples))
    sec.check(f"the HA state of every node was polled throughout the {pr.seconds:.1f} s",
              watch.sampled(pr.seconds))
    downs = pr.downs
    for s in pr.live:
        d = delta(lab.counters(s), pr.c0[s.node_id])
        downs[s.node_id] = d.get("ha.peer_down", 0)
        sec.line(f"{s.label} counters over the phase: " + counter_line(
            d, keys=("ha.", "deferred", "forwarded_", "dropped_", "sessions_", "replicas_")))
    if args.expect_death:
        sec.check(f"an outage longer than the hold time ({args.outage_ms:g} ms > {hold_ms} ms) "
                  f"was declared a death by every node (peers seen dead: {dead or 'none'}; "
                  f"ha.peer_down {downs})",
                  all(watch.saw_dead[s.node_id] for s in pr.live) and
                  all(v > 0 for v in downs.values()))
    else:
        sec.check(f"no node saw a peer dead (hold time {hold_ms} ms; seen dead: "
                  f"{dead or 'none'}), ha.peer_down +0 on every node ({downs})",
                  not dead and all(v == 0 for v in downs.values()))


def check_setup_and_owners(pr: PhaseRun) -> None:
    """First packets released (setup latency shown); never two owners of one session."""
    sec, st, watch = pr.sec, pr.st, pr.watch
    sec.line(f"setup latency under the impairment: connect p50 {st['connect_ms']['p50']} ms, "
             f"p99 {st['connect_ms']['p99']} ms, max {st['connect_ms']['max']} ms; SYNs "
             f"retransmitted {st['syn_retrans']}, SYN-ACKs {st['synack_retrans']}")
    two = (f"{watch.tables_read} readings of the tables during the phase, the most sessions "
           f"one named with two owners: {watch.two_owners_max}")
    if pr.args.expect_death:
        # while they cannot hear each other, each side serves every session
        sec.line(f"during the partition: {two}")
    else:
        sec.check(f"never two owners of one session: {two}",
                  watch.tables_read >= 3 and watch.two_owners_max == 0)
        # A first packet released by the defer timeout has a reply that may
        # outrun the session's copy; it waits for the copy where the copy
        # goes (awaiting_replica) instead of being dropped, which cost each
        # such connection a 1 s retransmission (5-8 % of them at 5 % loss).
        retrans = max(st["syn_retrans"], st["synack_retrans"])
        bound = max(1, pr.args.connections // 100)
        sec.check(f"the handshakes did not wait for TCP to retransmit: {retrans} SYNs or "
                  f"SYN-ACKs sent again of {pr.args.connections} connections (at most {bound}; "
                  f"a reply with no session waits for its copy)", retrans <= bound)


def check_convergence(pr: PhaseRun, deadline, expected: int) -> float:
    """Once the link is clean (and, with --expect-death, the pair formed
    again) the tables converge within --settle-timeout; returns after how long."""
    lab, args, sec = pr.lab, pr.args, pr.sec
    if args.expect_death:
        lab.wait_ha_ready(deadline, timeout=deadline.cap(20.0))
        sec.line(f"paired again {time.monotonic() - pr.t_clean:.2f} s after the link came back")
    end = time.monotonic() + deadline.cap(args.settle_timeout)
    while True:
        own = ownership(lab, RR_PORT)
        ok, text = converged(lab, own, expected + args.conns_per_phase)
        if ok or time.monotonic() > end:
            break
        time.sleep(0.2)
    t_conv = time.monotonic() - pr.t_clean
    sec.check(f"replication converged {t_conv:.2f} s after the link was clean: {text}", ok)
    idle_own = ownership(lab, IDLE_PORT)
    ok_idle, text_idle = converged(lab, idle_own, args.idle)
    sec.check(f"idle connections' sessions converged too: {text_idle}", ok_idle)
    return t_conv


def report_phase(pr: PhaseRun, t_conv: float) -> None:
    """The phase's JSON data and its FIGURES line."""
    st, dead = pr.st, pr.dead
    pr.sec.data = {"phase": pr.phase.name, "seconds": round(pr.seconds, 2), "relay": pr.counts,
                   "connect_ms": st["connect_ms"], "syn_retrans": st["syn_retrans"],
                   "synack_retrans": st["synack_retrans"], "storm_failures": st["failures"],
                   "converged_s": round(t_conv, 2),
                   "dead_seen": {str(k): v for k, v in dead.items()}, "peer_down": pr.downs}
    print(f"FIGURES: phase {pr.phase.name!r}: connect p50 {st['connect_ms']['p50']} ms p99 "
          f"{st['connect_ms']['p99']} ms max {st['connect_ms']['max']} ms, SYN retrans "
          f"{st['syn_retrans']}, SYN-ACK retrans {st['synack_retrans']}; converged "
          f"{t_conv:.2f} s after; peers seen dead {dead or 'none'}", flush=True)


def run_phase(lab, args, report, deadline, phase: Phase, index: int, expected: int) -> dict:
    """One phase: impaired link under load, then its checks (README, "Impaired sync link")."""
    pr = start_phase(lab, args, report, phase, index)
    load_phase(pr, deadline)
    check_impairment(pr)
    check_peers_alive(pr)
    check_setup_and_owners(pr)
    t_conv = check_convergence(pr, deadline, expected)
    report_phase(pr, t_conv)
    return {"rr_name": pr.rr_name, "expected": expected + args.conns_per_phase}


def body(lab, args, report, deadline, variant=None):
    plan = [p for p in PLANS[args.plan]
            if "peer" not in p.outages or "peer" in lab.opts.impair_links]
    sec = report.section(f"before the impairment ({len(lab.slots)} nodes, hold time "
                         f"{lab.opts.hold_ms} ms, heartbeat {lab.opts.heartbeat_ms} ms)")
    start_rr(lab, args.conns, args.interval_ms / 1000.0, int(args.bulk_mbit * 1e6 / 8),
             bulk_conns=1, window=2.0, timeout=30.0)
    if args.idle:
        start_idle(lab, sec, args.idle)
    time.sleep(1.0)
    expected = args.conns
    names = []
    for i, phase in enumerate(plan):
        out = run_phase(lab, args, report, deadline, phase, i, expected)
        expected = out["expected"]
        names.append(out["rr_name"])
    end = report.section("after the impairment")
    if args.idle:
        use_idle(lab, end, "after the impaired phases")
        stop_idle(lab, end)
    for name in names:
        report_rr(end, stop_rr(lab, name), label=name, target_ms=None)
    report_rr(end, stop_rr(lab), target_ms=None)


def main() -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--nodes", type=int, default=2)
    pre.add_argument("--plan", default="loss")
    known = pre.parse_known_args()[0]
    nodes = known.nodes
    # the peer link through the relay only where a phase cuts it (the pair)
    cut_peer = any("peer" in p.outages for p in PLANS.get(known.plan, []))
    links = ("ha", "peer") if nodes == 2 and cut_peer else ("ha",)
    title = "the HA sync link impaired (loss, delay, reordering, duplication, outages)"
    if nodes == 2:
        def conf(ap):
            configure(ap)
            ap.add_argument("--nodes", type=int, choices=(2,), default=2)
        return pair_main(f"Pair: {title}", body, configure=conf,
                         variants=[{"impair_links": links}])
    from cluster import cluster_main
    return cluster_main(f"Cluster: {title}", body, configure=configure,
                        variants=[{"impair_links": links}])


if __name__ == "__main__":
    sys.exit(main())
