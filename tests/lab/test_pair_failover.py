#!/usr/bin/python3
"""Pair scenario 3: a node SIGKILLed in the middle of traffic.

200 long-lived TCP connections doing a 64-byte request/response every 10 ms
plus one bulk download stream (100 Mbit/s), spread over both nodes by ECMP on
both routers. After a steady baseline, one node is SIGKILLed and at the same
moment its paths move to the survivor (crt and srt routes replaced); traffic
goes on for 5 s. Every connection must survive (0 broken, 0 reset, every
response verified, clean close at the end). For each connection the largest
gap between responses measured from the kill is taken; max and p99 over the
connections are printed and must be <= 300 ms (--target-ms); they include
the endpoints' retransmission timer. The firewall's own outage is measured
by a UDP probe (32 flows echoed every 10 ms, a lost datagram never sent
again: outage_probe.py): its largest silence from the kill must be within
the hold time + 50 ms + one interval. The survivor must report the peer
dead within the hold time + 400 ms (polled), and own afterwards every
long-lived session that existed before the kill, the same sessions by their
addresses and ports. Beside them, 100 idle connections (--idle) answer one
request before the kill and send nothing until the end: the survivor must
own every one of them before any sends a packet (adopted by its scan, not on
a packet), and each must answer when used at the end.

    /usr/bin/python3 tests/lab/test_pair_failover.py --node tandemd [--kill a|b] [--owner primary]
    /usr/bin/python3 tests/lab/test_pair_failover.py --node kernel      # reference
    /usr/bin/python3 tests/lab/test_pair_failover.py --node kernel-ct   # must FAIL
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outage_probe import check_probe  # noqa: E402
from pair import (LINUX_KINDS, add_longlived_args, failover_phase, pair_main,  # noqa: E402
                  report_rr, stop_idle, stop_rr, use_idle)
from session_tables import describe, owned_by_node, sessions_of  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--kill", choices=("a", "b"), default="a", help="the node to kill")
    ap.add_argument("--after", type=float, default=5.0, help="seconds of traffic after the kill")
    ap.add_argument("--freeze", action="store_true",
                    help="SIGSTOP the node instead (a power cut: nothing closes); the survivor "
                         "finds it by the detection time (--detect-ms, else --hold-ms)")


def body(lab, args, report, deadline, variant=None, before_kill=None):
    how = "freeze (SIGSTOP)" if args.freeze else "kill"
    sec = report.section(f"failover: {how} node{args.kill.upper()} under {args.conns} long-lived "
                         f"connections + bulk (owner {args.owner})")
    fo = failover_phase(lab, args, sec, deadline, victim_letter=args.kill, after=args.after,
                        freeze=args.freeze,
                        before_kill=(lambda v, s: before_kill(lab, args, sec, v, s))
                        if before_kill else None)
    if args.idle:
        use_idle(lab, sec, "after the failover")
        stop_idle(lab, sec)
    r = stop_rr(lab)
    report_rr(sec, r, marks=("kill",), target_ms=args.target_ms)
    check_probe(lab, args, sec, ("kill",))
    survivor, victim = fo["survivor"], fo["victim"]
    # The same sessions, by their addresses and ports (and, with --nat,
    # their translations: session_tables.py), before and after; a table
    # that could not be read (after retries) fails the check.
    before = sessions_of(fo["tables_before"])
    after = owned_by_node(fo["tables_after"], survivor.node_id)
    had = owned_by_node(fo["tables_before"], victim.node_id)
    if lab.opts.node in LINUX_KINDS:
        sec.check(f"{survivor.label} owns every long-lived session after the failover", None,
                  optional_for=LINUX_KINDS)
    else:
        sec.check(f"{survivor.label} owns every long-lived session that existed before the "
                  f"kill{', each with its translation' if lab.opts.nat else ''} "
                  f"({describe(before)} before, {describe(had)} of them {victim.label}'s; "
                  f"{survivor.label} owns {describe(after)} after, "
                  f"{describe(before - after if before is not None and after is not None else None)} "
                  f"of those before not)",
                  before is not None and after is not None and had is not None and
                  before == after and len(before) == args.conns and len(had) > 0)
    if args.idle:
        idle_before = sessions_of(fo["idle_tables_before"])
        idle_victim = owned_by_node(fo["idle_tables_before"], victim.node_id)
        idle_after = owned_by_node(fo["idle_tables_after"], survivor.node_id)
        if lab.opts.node in LINUX_KINDS:
            sec.check("the survivor owns every idle session after the failover", None,
                      optional_for=LINUX_KINDS)
        else:
            # Adopted without a packet: the idle connections sent nothing yet.
            sec.check(f"{victim.label} owned idle sessions before the kill "
                      f"({describe(idle_victim)}) and {survivor.label} owns all "
                      f"{describe(idle_before)} after the failover, the same sessions, before "
                      f"any of them sent a packet ({describe(idle_after)})",
                      idle_victim is not None and idle_after is not None and
                      idle_before is not None and len(idle_victim) > 0 and
                      idle_after == idle_before and len(idle_before) == args.idle)
    sec.data = {"rr": r, "detect_s": fo["detect"], "recovered_s": fo["recovered"]}
    return sec


if __name__ == "__main__":
    sys.exit(pair_main("Pair: SIGKILL a node under long-lived connections and a bulk stream",
                       body, configure=configure))
