#!/usr/bin/python3
"""Pair scenario 2: load sharing with ECMP on both routers.

Both routers spread flows over both nodes (multipath routes, L4 hash, a
different hash seed per router), so each direction of a flow picks its node
independently: about a quarter of the flows cross A both ways, a quarter B
both ways, and half are asymmetric. 10,000 short TCP connections (connect,
request, echo, close), 64 at a time: 0 failures. Meanwhile 32 long-lived
connections (--held, a request every 100 ms) stay open: afterwards both
nodes report an active state and see each other alive, each of those
sessions is in both nodes' tables with the same owner and backup owner, and
(owner first-packet) both nodes own some of them; the held connections
answer throughout and close cleanly. Printed: the share of asymmetric flows
`ip route get` predicts, the frames each node received from each router,
the peer-link frames, the nodes' counters.

    /usr/bin/python3 tests/lab/test_pair_load_shared.py --node tandemd [--owner primary]
    /usr/bin/python3 tests/lab/test_pair_load_shared.py --node kernel
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import (LINUX_KINDS, RR_PORT, TCP_ECHO, pair_main, report_rr, spread_check, start_rr,  # noqa: E402
                  stop_rr, storm)
from labkit.ha import ha_ready, ha_summary  # noqa: E402
from session_tables import disagreements, owners, ownership, readable  # noqa: E402


def configure(ap):
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-syn-retrans", type=int, default=0)
    ap.add_argument("--held", type=int, default=32,
                    help="long-lived connections kept open across the storm (their sessions "
                         "are checked on both nodes)")


def check_ha(lab, sec, label: str) -> None:
    """Both nodes active and each sees its peer alive and active."""
    if not lab.ha_supported:
        sec.check(f"{label}: both nodes active and paired", None, optional_for=LINUX_KINDS)
        return
    states = {s.letter: lab.ha_state(s) for s in lab.slots}
    sec.check(f"{label}: both nodes active, each seeing its peer alive and active ("
              + "; ".join(f"node{k.upper()}: {ha_summary(v)}" for k, v in states.items()) + ")",
              all(v is not None and ha_ready(v) for v in states.values()))


def check_held_sessions(lab, sec, args) -> None:
    """Every held connection's session is in both tables, the tables agree
    on its owner and backup owner, and (first-packet) both nodes own some."""
    if lab.opts.node in LINUX_KINDS:
        sec.check("held sessions: on both nodes, one owner each, owned by both nodes", None,
                  optional_for=LINUX_KINDS)
        return
    own = ownership(lab, RR_PORT)
    keys = {k: (set(t) if t is not None else None) for k, t in own.items()}
    by = owners(own) if readable(own) else None
    sizes = ", ".join(f"node{'A' if k == 1 else 'B'} {'n/a' if v is None else len(v)}"
                      for k, v in sorted(keys.items()))
    sec.check(f"held sessions: both tables hold the same {args.held} sessions ({sizes})",
              readable(own) and len(keys) == 2 and
              all(v == keys[1] for v in keys.values()) and len(keys[1]) == args.held)
    bad = disagreements(own) if readable(own) else ["a table could not be read"]
    for b in bad[:5]:
        sec.line(f"held sessions: {b}")
    sec.check(f"held sessions: both tables name the same owner and backup owner for each, and "
              f"the owner holds it ({len(bad)} disagreements)", not bad)
    text = "n/a" if by is None else ", ".join(f"node {k}: {v}" for k, v in sorted(by.items()))
    if lab.opts.owner == "first-packet":
        sec.check(f"held sessions: owned by both nodes ({text})",
                  by is not None and set(by) == {1, 2})
    else:
        sec.check(f"held sessions: owned by one node, the primary (owner {lab.opts.owner}: "
                  f"{text})", by is not None and len(by) == 1)


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"load-shared (ECMP both routers): {args.connections} connections, "
                         f"{args.concurrency} concurrent (owner {args.owner})")
    lab.set_routes("ecmp")
    if args.held:
        ready = start_rr(lab, args.held, 0.1, 0, bulk_conns=0, name="held", timeout=30.0)
        sec.line(f"held: {ready['connected']}/{args.held} long-lived connections answering")
    check_ha(lab, sec, "before the storm")
    lab.start_syn_map([TCP_ECHO])
    try:
        r = storm(lab, sec, "ECMP", args.connections, args.concurrency, deadline,
                  budget=max(30.0, deadline.remaining() - 20.0))
    finally:
        fmap = lab.stop_syn_map()
    paths = {}
    for v in fmap.values():
        paths[v] = paths.get(v, 0) + 1
    asym = paths.get("A>B", 0) + paths.get("B>A", 0)
    sec.line("handshakes seen (SYN node > SYN-ACK node, by client port; with --nat by "
             "translated port, the SYN node from its port block): " +
             ", ".join(f"{k} {v}" for k, v in sorted(paths.items())) +
             f" (asymmetric {asym} of {sum(paths.values())})")
    sec.check(f"ECMP made flows asymmetric ({asym} of {sum(paths.values())} handshakes crossed "
              f"one node one way and the other node back)", asym >= 0.2 * max(1, len(fmap)))
    spread_check(sec, r["frames"], "ECMP", show=False)
    retrans = r["syn_retrans"] + r["synack_retrans"]
    sec.check(f"retransmitted SYNs {r['syn_retrans']} + SYN-ACKs {r['synack_retrans']} <= "
              f"{args.max_syn_retrans}", retrans <= args.max_syn_retrans)
    sec.check(f"connections slower than 1 s: {r['slow_connects']} (of {r['completed']})",
              r["slow_connects"] == 0 and r["completed"] > 0)
    check_ha(lab, sec, "after the storm")
    if args.held:
        check_held_sessions(lab, sec, args)
        report_rr(sec, stop_rr(lab, "held"), label="held", target_ms=None)
    sec.data = {k: r[k] for k in ("attempted", "completed", "reset", "timed_out", "rate",
                                  "connect_ms", "syn_retrans", "synack_retrans", "frames",
                                  "node_deltas")}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: load sharing, ECMP on both routers", body, configure=configure))
