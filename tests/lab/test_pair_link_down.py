#!/usr/bin/python3
"""Pair: a data link of one node goes down, then comes back.

200 long-lived connections + a bulk stream over ECMP. The router's interface
facing one node's outside port is set down, so that port loses carrier (what
a pulled cable or a failed switch port looks like to the node). The node must
notice within its link poll, report `non-functional`, hand its sessions to
the peer (it owned some of the long-lived sessions; once drained it owns
none and the peer owns every one it owned, compared by addresses and
ports, none lost) and keep
passing what still reaches it through the peer; the router's own route
through the dead link is withdrawn by the kernel. When the interface comes
back, the node reports an active state again (and, with revert on, takes
back exactly the sessions it owned). 0 broken connections; every gap measured from each event
<= 300 ms.

    /usr/bin/python3 tests/lab/test_pair_link_down.py --node tandemd [--node-down a|b]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import (LINUX_KINDS, RR_PORT, add_longlived_args, hold, owned_by, pair_main, report_rr,  # noqa: E402
                  show_ha, show_ownership, start_longlived, stop_rr)
from labkit.ha import ACTIVE_STATES, ha_local_state, wait_until  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import describe, named_owner, owned_by_node, ownership, sessions_of  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--node-down", choices=("a", "b"), default="a",
                    help="the node whose outside link goes down")
    ap.add_argument("--after", type=float, default=3.0)


def sessions_now(lab):
    return {s.letter: lab.sessions(s, RR_PORT) for s in lab.slots if not s.dead}


def body(lab, args, report, deadline, variant=None):
    node = lab.slot(args.node_down)
    tandemd = lab.opts.node == "tandemd"
    router_if = lab.srt_if[args.node_down]
    sec = report.section(f"data link down on {node.label} (outside) under {args.conns} "
                         f"long-lived connections + bulk")
    lab.set_routes(args.spread)
    start_longlived(lab, args, sec, window=args.after)
    hold(lab, args.steady)
    own0 = show_ownership(lab, sec, "before")
    tables0 = ownership(lab, RR_PORT)
    had = owned_by_node(tables0, node.node_id)
    all0 = sessions_of(tables0)

    t = lab.mark("link down", window=args.after)
    lab.srt.run(["ip", "link", "set", router_if, "down"])
    sec.line(f"srt: {router_if} (facing {node.label}'s outside port) set down")
    nf = wait_until(lambda: ha_local_state(lab.ha_state(node)) == "non-functional", 5.0) \
        if lab.ha_supported else None
    sec.check(f"{node.label} reports non-functional after its link went down "
              f"({ha_local_state(lab.ha_state(node)) if lab.ha_supported else 'n/a'}, "
              f"{time.monotonic() - t:.2f} s)", bool(nf) if tandemd else None,
              optional_for=LINUX_KINDS)
    if tandemd:
        wait_until(lambda: owned_by(sessions_now(lab), node.node_id) == 0, 10.0)
    own1 = show_ownership(lab, sec, "link down")
    if tandemd:
        tables1 = ownership(lab, RR_PORT)
        still = named_owner(tables1, node.node_id)
        peer_now = owned_by_node(tables1, node.other.node_id)
        all1 = sessions_of(tables1)
        sec.check(f"{node.label} handed over every long-lived session it owned, the same "
                  f"sessions to {node.other.label} (owned {describe(had)} of {describe(all0)} "
                  f"before; named owner of {describe(still)} now; {node.other.label} owns "
                  f"{describe(peer_now)} of {describe(all1)})",
                  None not in (had, still, peer_now, all0, all1) and len(had) > 0 and
                  not still and had <= peer_now and all1 == all0 and len(all0) == args.conns)
    else:
        sec.check(f"{node.label} handed over every long-lived session it owned", None,
                  optional_for=LINUX_KINDS)
    show_ha(lab, sec, "link down")
    hold(lab, max(0.0, t + args.after - time.monotonic()))

    c_up = {s.letter: lab.counters(s) for s in lab.slots}
    t2 = lab.mark("link up", window=args.after)
    lab.srt.run(["ip", "link", "set", router_if, "up"])
    lab.set_routes(args.spread)  # the router uses the path again
    sec.line(f"srt: {router_if} up again, routes: {lab.describe_routes()}")
    if lab.ha_supported:
        active = wait_until(lambda: ha_local_state(lab.ha_state(node)) in ACTIVE_STATES, 10.0)
        sec.check(f"{node.label} reports an active state again "
                  f"({ha_local_state(lab.ha_state(node))}, {time.monotonic() - t2:.2f} s)",
                  bool(active))
    hold(lab, max(0.0, t2 + args.after - time.monotonic()))
    own2 = show_ownership(lab, sec, "at the end")
    for s in lab.slots:
        c = lab.counters(s)
        if c is not None and c_up.get(s.letter) is not None:
            sec.line(f"{s.label} counters after the link came back: "
                     f"{counter_line(delta(c, c_up[s.letter]))}")
    if tandemd:
        tables2 = ownership(lab, RR_PORT)
        all2 = sessions_of(tables2)
        sec.check(f"every long-lived session of the start is still there at the end, the same "
                  f"sessions ({describe(all2)} now, {describe(all0)} before)",
                  all0 is not None and all2 == all0)
        if lab.opts.revert and lab.opts.owner == "first-packet":
            back = owned_by_node(tables2, node.node_id)
            sec.check(f"revert on: {node.label} owns again exactly the sessions it owned "
                      f"({describe(back)} == {describe(had)})",
                      had is not None and back == had and len(had) > 0)
    show_ha(lab, sec, "at the end")
    r = stop_rr(lab)
    report_rr(sec, r, marks=("link down", "link up"), target_ms=args.target_ms)
    sec.data = {"rr": r, "own": {"before": own0, "down": own1, "end": own2}}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: a node's data link goes down and comes back", body,
                       configure=configure))
