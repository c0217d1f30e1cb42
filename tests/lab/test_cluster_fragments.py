#!/usr/bin/python3
"""Cluster scenario: IP fragments of one datagram crossing different nodes
(3 or 4 tandemd nodes).

UDP request/response with 4,000-byte datagrams (three IPv4 fragments each
way: the client's and the server's kernels fragment them) while both
routers send every fragment they forward over the next node in turn
(per-packet paths for fragments, nftables `numgen`; other packets keep
their ECMP routes). So the fragments of each datagram enter the cluster at
different nodes, and the first one (the only one with the ports) is not
always the first to reach its datagram's fragment owner. Every fragment
that entered away from the fragment owner goes there over the peer link;
the fragment owner decides the first fragment (as if it had entered there)
and sends the others where it went, holding those that came before it.
Checked: every request answered, fragments crossed every node both ways,
fragments_to_owner at least one per datagram, nothing dropped, no held
fragment expired or found the hold full.

The nodes' data ports use DPDK's pcap driver here: af_packet's socket joins
a fanout group with the kernel's defragment flag, so the kernel holds
fragments for reassembly before the node sees them (it never sees a
datagram whose fragments took different paths).

    /usr/bin/python3 tests/lab/test_cluster_fragments.py --nodes 3 --tandemd PATH --cli PATH
    /usr/bin/python3 tests/lab/test_cluster_fragments.py --nodes 3 --node kernel   # reference
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import cluster_main, spread_check  # noqa: E402
from lab import NodeFailed  # noqa: E402
from pair import SERVER_IP, UDP_ECHO  # noqa: E402
from labkit.report import delta  # noqa: E402
from test_cluster_ecmp import TCP_DROPS, drop_check, wait_quiet  # noqa: E402

FRAGMENT_HOLD_FAILURES = ("io.fragments_hold_expired", "io.fragments_hold_full")


def configure(ap):
    ap.add_argument("--flows", type=int, default=16)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--size", type=int, default=4000,
                    help="UDP payload (4000: three fragments on a 1500-byte MTU)")


def body(lab, args, report, deadline, variant=None):
    all_nodes = lab.ids
    n = len(all_nodes)
    sec = report.section(f"UDP datagrams of {args.size} B, each fragment over the next node "
                         f"({n} nodes, peer link {args.peer_link})")
    lab.set_routes(fwd=all_nodes, rev=all_nodes)
    lab.spray_fragments(True)
    try:
        wait_quiet(lab)
        f0, c0 = lab.node_frames(), {sl.letter: lab.counters(sl) for sl in lab.slots}
        u = lab.tool("client", ["udp", "--dst", SERVER_IP, "--port", str(UDP_ECHO), "--flows",
                                str(args.flows), "--requests", str(args.requests),
                                "--size", str(args.size), "--timeout", "1.0", "--seed", "9"],
                     timeout=deadline.cap(args.requests * 1.0 + 20))
        f1, c1 = lab.node_frames(), {sl.letter: lab.counters(sl) for sl in lab.slots}
    finally:
        lab.spray_fragments(False)
    ff = {k: delta(v, f0[k]) for k, v in f1.items()}
    fd = {k: delta(c1[k], c0[k]) for k in c1}
    sec.line(f"{u['flows']} flows, {u['sent']} datagrams each way, {u['replies']} answered, "
             f"timeouts {u['timeouts']}, mismatch {u['mismatch']}; rtt p50 {u['rtt_ms']['p50']} "
             f"ms, p99 {u['rtt_ms']['p99']} ms")
    keys = ("fragments_to_owner", "fragments_held", "fragments_followed", "fragments_forwarded",
            "io.fragments_released", *FRAGMENT_HOLD_FAILURES)
    for letter, d in sorted(fd.items()):
        sec.line(f"node{letter}: " + ("  ".join(f"{k} {d.get(k, 0)}" for k in keys)
                                      if d else "counters n/a"))
    sec.check(f"every request answered ({u['replies']}/{u['sent']})",
              u["replies"] == u["sent"] == args.requests)
    spread_check(lab, sec, ff, all_nodes, "fragments")
    if lab.opts.node == "tandemd":
        to_owner = sum((d or {}).get("fragments_to_owner", 0) for d in fd.values())
        # Six fragments per request and answer, (n-1)/n of them entering away
        # from their fragment owner: about 4 per request with 3 nodes.
        sec.check(f"fragments that entered away from their datagram's fragment owner went "
                  f"there (fragments_to_owner {to_owner} >= {args.requests})",
                  to_owner >= args.requests)
        waiting = {f"node{k} {c}": v for k, d in fd.items() for c, v in (d or {}).items()
                   if c in FRAGMENT_HOLD_FAILURES and v}
        sec.check("no held fragment expired or found the hold full"
                  + (f" ({waiting})" if waiting else ""), not waiting)
    drop_check(lab, sec, "fragments", fd, allowed=TCP_DROPS)
    sec.data = {"udp": u, "frames": ff, "node_deltas": fd}
    lab.check_node()


if __name__ == "__main__":
    try:
        sys.exit(cluster_main("Cluster: the fragments of one datagram over different nodes", body,
                              configure=configure, variants=[{"port_driver": "pcap"}]))
    except NodeFailed as e:   # pragma: no cover - cluster_main reports these
        print(f"NODE FAILED: {e}")
