#!/usr/bin/python3
"""Pair scenario 4: the killed node comes back (revert on and off).

Scenario 3 (failover under 200 long-lived connections and a bulk stream),
then the killed node is restarted with the same config; once it reports an
active state again (`show high-availability state`) and the survivor sees it,
the segment through it is checked with a ping and its paths move back (ECMP).
The connections must keep working throughout (0 broken); the firewall's
own outage (the UDP probe of outage_probe.py) at the kill, the restart and
the paths' return is within the hold time + 50 ms + one interval. Printed:
sessions of the long-lived connections by owner in each node's table before
the kill, after the failover, after the restart and after revert settled.
Compared by identity (addresses and ports): with revert on, the returning
node owns again exactly the sessions it owned before the kill; with revert
off, it owns none of them; either way every session that existed before
the kill is still in the tables. 100 idle connections (--idle) answer one
request before the kill and nothing more until the end, when each must
answer again; with revert on, the returning node owns again the idle
sessions it owned before the kill (they carried no packet). Runs both
(--revert-modes true,false) in two fresh labs.

    /usr/bin/python3 tests/lab/test_pair_revert.py --node tandemd [--revert-modes true]
    /usr/bin/python3 tests/lab/test_pair_revert.py --node kernel
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from outage_probe import check_probe  # noqa: E402
from pair import (LINUX_KINDS, add_longlived_args, failover_phase, owned_by, pair_main, report_rr,  # noqa: E402
                  revert_phase, stop_idle, stop_rr, use_idle)
from session_tables import describe, owned_by_node, sessions_of  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--kill", choices=("a", "b"), default="a")
    ap.add_argument("--after", type=float, default=3.0,
                    help="seconds of traffic after each event")
    ap.add_argument("--revert-modes", default="true,false",
                    help="revert settings to run, each in a fresh lab (tandemd only; the "
                         "kernel stand-ins run once)")


def follows_revert(sec, lab, victim, what: str, before_tables: dict, final_tables: dict,
                   expect: int, revert: bool) -> None:
    """Every session that existed before the kill is still in the tables
    (by identity); with owner first-packet, revert on: the victim owns
    exactly the sessions it owned before the kill; off: none."""
    before, final = sessions_of(before_tables), sessions_of(final_tables)
    had = owned_by_node(before_tables, victim.node_id)
    owns = owned_by_node(final_tables, victim.node_id)
    sec.check(f"{what}: every session that existed before the kill is still there, the same "
              f"sessions ({describe(before)} before, {describe(final)} at the end)",
              before is not None and final is not None and before == final and
              len(before) == expect)
    if lab.opts.owner != "first-packet":
        sec.line(f"{what}: (owner {lab.opts.owner}: which node owns after the return is shown, "
                 f"not checked)")
    elif revert:
        sec.check(f"revert on, {what}: {victim.label} owns again exactly the sessions it owned "
                  f"before the kill ({describe(owns)} == {describe(had)})",
                  had is not None and owns is not None and owns == had and len(had) > 0)
    else:
        sec.check(f"revert off, {what}: {victim.label} took none of its sessions back "
                  f"({describe(owns)}; it owned {describe(had)} before the kill)",
                  had is not None and owns is not None and not owns and len(had) > 0)


def variants(args):
    if args.node != "tandemd":
        return [{}]
    return [{"revert": m.strip() == "true"} for m in args.revert_modes.split(",") if m.strip()]


def body(lab, args, report, deadline, variant=None):
    revert = lab.opts.revert
    tag = f"revert {'on' if revert else 'off'}" if lab.opts.node == "tandemd" else "revert n/a"
    sec = report.section(f"revert ({tag}): kill node{args.kill.upper()}, restart it, paths back")
    fo = failover_phase(lab, args, sec, deadline, victim_letter=args.kill, after=args.after)
    rv = revert_phase(lab, args, sec, deadline, fo, after=args.after)
    if args.idle:
        use_idle(lab, sec, "after the kill, the restart and revert")
        stop_idle(lab, sec)
    r = stop_rr(lab)
    report_rr(sec, r, marks=("kill", "restart", "path back"), target_ms=args.target_ms)
    check_probe(lab, args, sec, ("kill", "restart", "path back"))
    victim = fo["victim"]
    before = owned_by(fo["own_before"], victim.node_id)
    during = owned_by(fo["own_after"], victim.node_id)
    final = owned_by(rv["own_final"], victim.node_id)
    survivor_final = owned_by(rv["own_final"], fo["survivor"].node_id)
    sec.line(f"sessions owned by {victim.label} (node {victim.node_id}): before the kill "
             f"{before}, after the failover {during}, after the restart "
             f"{owned_by(rv['own_restarted'], victim.node_id)}, at the end {final}; "
             f"{fo['survivor'].label} at the end {survivor_final}")
    if lab.opts.node in LINUX_KINDS:
        sec.check(f"ownership after the return follows revert ({tag})", None,
                  optional_for=LINUX_KINDS)
    else:
        follows_revert(sec, lab, victim, "long-lived", fo["tables_before"], rv["tables_final"],
                       args.conns, revert)
    if args.idle and lab.opts.node in LINUX_KINDS:
        sec.check("idle sessions follow revert", None, optional_for=LINUX_KINDS)
    elif args.idle:
        follows_revert(sec, lab, victim, "idle (none of which sent a packet)",
                       fo["idle_tables_before"], rv["idle_tables_final"], args.idle, revert)
    sec.data = {"rr": r, "own": {"before": fo["own_before"], "after_failover": fo["own_after"],
                                 "restarted": rv["own_restarted"], "final": rv["own_final"]}}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: a killed node returns (revert on / off)", body,
                       configure=configure, variants=variants))
