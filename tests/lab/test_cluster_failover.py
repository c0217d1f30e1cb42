#!/usr/bin/python3
"""Cluster scenario 2: nodes SIGKILLed in the middle of traffic (3 or 4 nodes).

200 long-lived TCP connections doing a 64-byte request/response every 10 ms,
one bulk download stream (100 Mbit/s) and 100 idle connections (one request
at the start, then silent until the end), spread by ECMP over every node.
After a steady baseline, the node that owns the most long-lived sessions is
SIGKILLed and at the same moment both routers drop its paths (the other
nodes take its share); traffic goes on for --after seconds. Every
connection must survive (0 broken, every response verified, clean close at
the end); per connection the largest gap between responses measured from
the kill, max and p99 <= 300 ms (--target-ms), printed beside the hold time
+ 50 ms. No session may be left owned by the dead node (each live table
agrees), the idle ones adopted before they send anything, and each idle
connection answers when used at the end.

  --kill-idle-node  routes over nodes 1..N-1 only; kill node N, which carries
                    no traffic (it only holds replicas and director / backup
                    roles): 0 broken
  --kill-two        (4 nodes) kill the busiest node, then --spacing seconds
                    later the busiest of the rest: 0 broken, gaps from each kill

    /usr/bin/python3 tests/lab/test_cluster_failover.py --nodes 3 [--peer-link udp]
    /usr/bin/python3 tests/lab/test_cluster_failover.py --nodes 4 --kill-two
    /usr/bin/python3 tests/lab/test_cluster_failover.py --nodes 3 --kill-idle-node
    /usr/bin/python3 tests/lab/test_cluster_failover.py --nodes 3 --node kernel   # reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (add_longlived_args, check_failover_ownership, cluster_main,  # noqa: E402
                     failover_phase, owners, report_gaps)
from lab import LabError  # noqa: E402
from pair import stop_idle, stop_rr, use_idle  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--kill-idle-node", action="store_true",
                    help="routes over nodes 1..N-1; kill node N (no traffic through it)")
    ap.add_argument("--kill-two", action="store_true",
                    help="kill two nodes one after the other (needs --nodes 4)")
    ap.add_argument("--spacing", type=float, default=3.0,
                    help="--kill-two: seconds between the two kills")


def body(lab, args, report, deadline, variant=None):
    ids = lab.ids
    if args.kill_two and args.nodes < 4:
        raise LabError("--kill-two needs --nodes 4 (two survivors)")
    if args.kill_idle_node and args.kill_two:
        raise LabError("--kill-idle-node and --kill-two are separate scenarios")
    if args.kill_idle_node:
        paths, victims, fixed = ids[:-1], 1, ids[-1]
        what = f"kill node{fixed}, which carries no traffic (routes over {'+'.join(map(str, paths))})"
    elif args.kill_two:
        paths, victims, fixed = ids, 2, None
        what = f"kill the two busiest nodes {args.spacing:g} s apart"
    else:
        paths, victims, fixed = ids, 1, None
        what = "kill the node that owns the most long-lived sessions"
    sec = report.section(f"failover ({args.nodes} nodes, peer link {args.peer_link}): {what}, "
                         f"under {args.conns} long-lived connections + bulk + {args.idle} idle")
    fo = failover_phase(lab, args, sec, deadline, paths, victims=victims, fixed_victim=fixed,
                        spacing=args.spacing, after=args.after)
    if args.kill_idle_node:
        v = fo["killed"][0]
        ob = owners(fo["own_before"])
        sec.check(f"{v.label} owned no long-lived session before the kill (it carried no traffic): "
                  f"{'n/a' if ob is None else ob.get(v.node_id, 0)}",
                  None if ob is None else ob.get(v.node_id, 0) == 0)
    if args.idle:
        use_idle(lab, sec, "after the failover")
        stop_idle(lab, sec)
    r = stop_rr(lab)
    report_gaps(lab, args, sec, r, tuple(k["mark"] for k in fo["kills"]))
    check_failover_ownership(lab, args, sec, fo)
    sec.data = {"rr": r, "kills": [{k: v for k, v in x.items()} for x in fo["kills"]]}


if __name__ == "__main__":
    sys.exit(cluster_main("Cluster: SIGKILL nodes under long-lived, bulk and idle connections",
                          body, configure=configure))
