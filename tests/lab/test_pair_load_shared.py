#!/usr/bin/python3
"""Pair scenario 2: load sharing with ECMP on both routers.

Both routers spread flows over both nodes (multipath routes, L4 hash, a
different hash seed per router), so each direction of a flow picks its node
independently: about a quarter of the flows cross A both ways, a quarter B
both ways, and half are asymmetric. 10,000 short TCP connections (connect,
request, echo, close), 64 at a time: 0 failures. Printed: the share of
asymmetric flows `ip route get` predicts, the frames each node received from
each router, the peer-link frames, the nodes' counters.

    /usr/bin/python3 tests/lab/test_pair_load_shared.py --node tandemd [--owner primary]
    /usr/bin/python3 tests/lab/test_pair_load_shared.py --node kernel
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import TCP_ECHO, pair_main, spread_check, storm  # noqa: E402


def configure(ap):
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-syn-retrans", type=int, default=0)


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"load-shared (ECMP both routers): {args.connections} connections, "
                         f"{args.concurrency} concurrent (owner {args.owner})")
    lab.set_routes("ecmp")
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
    sec.line("handshakes seen (SYN node > SYN-ACK node, by client port): " +
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
    sec.data = {k: r[k] for k in ("attempted", "completed", "reset", "timed_out", "rate",
                                  "connect_ms", "syn_retrans", "synack_retrans", "frames",
                                  "node_deltas")}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: load sharing, ECMP on both routers", body, configure=configure))
