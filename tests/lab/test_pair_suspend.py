#!/usr/bin/python3
"""Pair scenario 5: operator suspend, then functional.

200 long-lived connections + a bulk stream over ECMP. `request
high-availability suspend` on one node (through the `tandem` CLI when built,
else the control socket): it must report `suspended`, hand its sessions to
the peer (it owned some of the long-lived sessions before; once drained it
owns none, the peer owns every one it owned, and every session that
existed before is still there, compared by addresses and ports) and own
nothing new — 1000 short connections run while it is suspended and it
creates no session. Then `request high-availability functional`: it reports
an active state again and another 1000 connections run. Traffic keeps
flowing throughout: 0 broken connections, every gap measured from each
request <= 300 ms.

    /usr/bin/python3 tests/lab/test_pair_suspend.py --node tandemd [--suspend a|b]
    /usr/bin/python3 tests/lab/test_pair_suspend.py --node kernel
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import (LINUX_KINDS, RR_PORT, add_longlived_args, hold, owned_by, pair_main, report_rr,  # noqa: E402
                  show_ha, show_ownership, start_longlived, stop_rr, storm)
from labkit.ha import ACTIVE_STATES, ha_local_state, wait_until  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import describe, named_owner, owned_by_node, ownership, sessions_of  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--suspend", choices=("a", "b"), default="a", help="the node to suspend")
    ap.add_argument("--connections", type=int, default=1000,
                    help="short connections while suspended, and again after")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--after", type=float, default=3.0)


def body(lab, args, report, deadline, variant=None):
    node = lab.slot(args.suspend)
    tandemd = lab.opts.node == "tandemd"
    sec = report.section(f"suspend / functional {node.label} under {args.conns} long-lived "
                         f"connections + bulk (owner {args.owner})")
    lab.set_routes(args.spread)
    start_longlived(lab, args, sec, window=args.after)
    hold(lab, args.steady)
    own0 = show_ownership(lab, sec, "before")
    tables0 = ownership(lab, RR_PORT)
    show_ha(lab, sec, "before")

    # --- suspend ----------------------------------------------------------------------------
    c0 = lab.counters(node)
    t = lab.mark("suspend", window=args.after)
    ok, res = lab.request(node, "request high-availability suspend")
    sec.line(f"request high-availability suspend on {node.label}: "
             f"{'ok' if ok else 'refused'}: {str(res)[:200]}")
    sec.check(f"{node.label} accepted `request high-availability suspend`", ok if tandemd else None,
              optional_for=LINUX_KINDS)
    state = wait_until(lambda: ha_local_state(lab.ha_state(node)) == "suspended", 10.0) \
        if ok and lab.ha_supported else None
    sec.check(f"{node.label} reports state suspended "
              f"({ha_local_state(lab.ha_state(node)) if lab.ha_supported else 'n/a'})",
              bool(state) if ok and lab.ha_supported else None, optional_for=LINUX_KINDS)
    if ok:
        # drained: the node owns none of the long-lived sessions any more
        wait_until(lambda: owned_by(sessions_now(lab), node.node_id) == 0, 10.0)
    own1 = show_ownership(lab, sec, f"after suspend ({time_since(t):.1f} s)")
    tables1 = ownership(lab, RR_PORT)
    handed_over(sec, lab, node, tables0, tables1, args.conns)
    rs = storm(lab, sec, f"while {node.label} is suspended", args.connections, args.concurrency,
               deadline, budget=60.0, seed=11)
    c1 = lab.counters(node)
    d = delta(c1, c0)
    if tandemd:  # tandemd must report the counter
        reported = c0 is not None and c1 is not None and "sessions_created" in c1
        sec.line(f"{node.label} counters while suspended: {counter_line(d)}")
        sec.check(f"{node.label} created no session while suspended "
                  f"(sessions_created +{d.get('sessions_created', 0)})"
                  f"{'' if reported else ' (counter not reported)'}",
                  reported and d.get("sessions_created", 0) == 0)
    hold(lab, max(0.0, t + args.after - time.monotonic()))

    # --- functional ---------------------------------------------------------------------------
    t2 = lab.mark("functional", window=args.after)
    ok2, res2 = lab.request(node, "request high-availability functional")
    sec.line(f"request high-availability functional on {node.label}: "
             f"{'ok' if ok2 else 'refused'}: {str(res2)[:200]}")
    sec.check(f"{node.label} accepted `request high-availability functional`",
              ok2 if tandemd else None, optional_for=LINUX_KINDS)
    if ok2 and lab.ha_supported:
        active = wait_until(lambda: ha_local_state(lab.ha_state(node)) in ACTIVE_STATES, 15.0)
        sec.check(f"{node.label} reports an active state again "
                  f"({ha_local_state(lab.ha_state(node))}, {time_since(t2):.2f} s)", bool(active))
    else:
        sec.check(f"{node.label} reports an active state again", None, optional_for=LINUX_KINDS)
    storm(lab, sec, f"after {node.label} is functional", args.connections, args.concurrency,
          deadline, budget=60.0, seed=12)
    hold(lab, max(0.0, t2 + args.after - time.monotonic()))
    show_ownership(lab, sec, "at the end")
    if lab.opts.node not in LINUX_KINDS:
        before, end = sessions_of(tables0), sessions_of(ownership(lab, RR_PORT))
        sec.check(f"every long-lived session of the start is still there at the end, the same "
                  f"sessions ({describe(end)} now, {describe(before)} before)",
                  before is not None and before == end)
    show_ha(lab, sec, "at the end")
    r = stop_rr(lab)
    report_rr(sec, r, marks=("suspend", "functional"), target_ms=args.target_ms)
    sec.data = {"rr": r, "own_before": own0, "own_suspended": own1, "storm_suspended": {
        k: rs[k] for k in ("attempted", "completed", "rate", "connect_ms")}}


def handed_over(sec, lab, node, before_tables: dict, after_tables: dict, expect: int) -> None:
    """`node` owned long-lived sessions before; now no table names it the
    owner of any, its peer owns exactly those it owned, and every session
    that existed before is still there (by addresses and ports)."""
    if lab.opts.node in LINUX_KINDS:
        sec.check(f"{node.label} handed its long-lived sessions to {node.other.label}", None,
                  optional_for=LINUX_KINDS)
        return
    before, after = sessions_of(before_tables), sessions_of(after_tables)
    had = owned_by_node(before_tables, node.node_id)
    still = named_owner(after_tables, node.node_id)
    peer_now = owned_by_node(after_tables, node.other.node_id)
    sec.check(f"{node.label} owned long-lived sessions before ({describe(had)} of "
              f"{describe(before)})", had is not None and len(had) > 0)
    sec.check(f"{node.label} owns none of them once drained (named owner of {describe(still)})",
              still is not None and not still)
    sec.check(f"{node.other.label} now owns every session {node.label} owned, and every "
              f"session that existed before is still there ({describe(after)} now, "
              f"{describe(before)} before; of {node.label}'s, "
              f"{describe(had - peer_now if had is not None and peer_now is not None else None)} "
              f"not owned by {node.other.label})",
              None not in (had, peer_now, before, after) and had <= peer_now and
              before == after and len(before) == expect)


def sessions_now(lab):
    return {s.letter: lab.sessions(s, RR_PORT) for s in lab.slots if not s.dead}


def time_since(t):
    return time.monotonic() - t


if __name__ == "__main__":
    sys.exit(pair_main("Pair: request high-availability suspend / functional under traffic",
                       body, configure=configure))
