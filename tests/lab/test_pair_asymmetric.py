#!/usr/bin/python3
"""Pair scenario 1: asymmetric paths.

crt sends client->server traffic through nodeA, srt sends the replies
through nodeB: every SYN crosses A and its SYN-ACK crosses B (through two
Linux firewalls the SYN-ACK reached the second ~0.05 ms after the SYN crossed
the first: docs/architecture.md, "The asymmetric race").
10,000 short TCP connections (connect, 64-256 B request, echo, close), 64 at a
time, on a symmetric path (both directions through A) for comparison, then
the same on the asymmetric path. Counted: attempted / completed /
failed / reset per path; setup rate (conn/s), connect latency p50/p99 and
their asymmetric/symmetric ratio; SYNs and SYN-ACKs retransmitted by the
endpoints (TcpExtTCPSynRetrans in the client's and the server's namespace);
for tandemd, that the peer link (--peer-link raw|udp) carried what the
traffic implies: the frames the nodes sent to their peer (forwarded_to_peer,
forwarded_new_to_peer, forwarded_unsynced_to_peer) all arrived
(received_from_peer), at least 3 per completed connection (the direction
that reaches the node not owning the flow has a SYN-ACK or SYN, data and a
FIN), and nothing was refused or failed to be sent.

    /usr/bin/python3 tests/lab/test_pair_asymmetric.py --node tandemd --owner first-packet
    /usr/bin/python3 tests/lab/test_pair_asymmetric.py --node tandemd --peer-link udp --owner primary
    /usr/bin/python3 tests/lab/test_pair_asymmetric.py --node kernel      # reference
    /usr/bin/python3 tests/lab/test_pair_asymmetric.py --node kernel-ct   # must FAIL
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import pair_main, storm  # noqa: E402


def configure(ap):
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--max-syn-retrans", type=int, default=0,
                    help="SYN + SYN-ACK retransmissions tolerated on the asymmetric path")


# Counters that say a frame for the peer link was refused on arrival or
# could not be sent (ARP traffic itself is not a failure).
PEER_LINK_FAILURES = ("io.peer_link_tx_dropped", "io.peer_link_no_headroom",
                      "io.peer_link_unknown_peer")


# What a node sent to its peer over the peer link, and what arrived.
TO_PEER = ("forwarded_to_peer", "forwarded_new_to_peer", "forwarded_unsynced_to_peer")
FROM_PEER = "received_from_peer"


def check_peer_link(sec, args, node_deltas, completed: int):
    """The asymmetric phase: one direction of every connection crossed the
    peer link to the session's owner, every frame sent there arrived, and
    nothing was refused or left unsent on it."""
    ok = sum(d.get("peer_link.ok", 0) for d in node_deltas.values())
    sent = sum(d.get(k, 0) for d in node_deltas.values() for k in TO_PEER)
    received = sum(d.get(FROM_PEER, 0) for d in node_deltas.values())
    # (a delta lists only counters that moved; an empty one: not read)
    reported = all(node_deltas.values())
    bad = {f"node{n.upper()} {k}": v for n, d in node_deltas.items() for k, v in d.items()
           if v and ((k.startswith("peer_link.") and k != "peer_link.ok"
                      and not k.startswith("peer_link.arp_")) or k in PEER_LINK_FAILURES)}
    arp = ", ".join(f"node{n.upper()} " + " ".join(
        f"{k.split('.', 1)[1]} +{v}" for k, v in d.items() if k.startswith("peer_link.arp_") and v)
        for n, d in node_deltas.items())
    sec.line(f"asymmetric: peer link ({args.peer_link}) frames accepted {ok}"
             + (f"; ARP {arp}" if args.peer_link == "udp" else ""))
    hb = {n: (d.get("ha.peer_link_hb_rx", 0) if d else None) for n, d in node_deltas.items()}
    sec.check("asymmetric: heartbeats arrived over the peer link (membership's second path): "
              + ", ".join(f"node{n.upper()} ha.peer_link_hb_rx +{v}" for n, v in hb.items()),
              all(v for v in hb.values()) if all(v is not None for v in hb.values()) else None)
    sec.line("asymmetric: sent to the peer " + ", ".join(
        f"node{n.upper()} " + " ".join(f"{k} +{d.get(k, 0)}" for k in TO_PEER)
        for n, d in node_deltas.items()) + "; received from the peer " + ", ".join(
        f"node{n.upper()} +{d.get(FROM_PEER, 0)}" for n, d in node_deltas.items()))
    sec.check(f"asymmetric: the peer link ({args.peer_link}) carried one direction of every "
              f"connection to the owner: frames sent to the peer {sent} == received from the "
              f"peer {received} (accepted {ok}) >= 3 x {completed} completed connections = "
              f"{3 * completed}{'' if reported else ' (counters not reported)'}",
              reported and sent == received and ok >= received and sent >= 3 * completed
              and completed > 0)
    sec.check(f"asymmetric: the peer link ({args.peer_link}) refused or dropped nothing "
              f"({', '.join(f'{k} +{v}' for k, v in bad.items()) or 'none'})", not bad)


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"asymmetric vs symmetric: {args.connections} connections each, "
                         f"{args.concurrency} concurrent (owner {args.owner}"
                         + (f", peer link {args.peer_link})" if args.node == "tandemd" else ")"))
    lab.set_routes("symmetric-a")
    storm(lab, sec, "warm-up", 200, args.concurrency, deadline, check=False, seed=99)
    results = {}
    # The symmetric baseline first: connections that fail on the asymmetric
    # path leave half-open sessions in the nodes, which a later phase reusing
    # those client ports would run into.
    for i, mode in enumerate(("symmetric-a", "asymmetric")):
        lab.set_routes(mode)
        label = "asymmetric (fwd A, rev B)" if mode == "asymmetric" else "symmetric (A both ways)"
        # each phase gets its share of what is left, so a failing first phase
        # (connect timeouts) still leaves time for the second
        share = max(20.0, (deadline.remaining() - 15.0) / (2 - i))
        results[mode] = storm(lab, sec, label, args.connections, args.concurrency, deadline,
                              seed=1 if mode == "asymmetric" else 2, budget=share)
    a, s = results["asymmetric"], results["symmetric-a"]

    def ratio(x, y):
        return round(x / y, 2) if x is not None and y else None

    sec.line(f"asymmetric / symmetric: setup rate {a['rate']} / {s['rate']} conn/s = "
             f"{ratio(a['rate'], s['rate'])}; connect p50 {a['connect_ms']['p50']} / "
             f"{s['connect_ms']['p50']} ms = {ratio(a['connect_ms']['p50'], s['connect_ms']['p50'])}"
             f"; p99 {a['connect_ms']['p99']} / {s['connect_ms']['p99']} ms = "
             f"{ratio(a['connect_ms']['p99'], s['connect_ms']['p99'])}; kernel handshake RTT p50 "
             f"{a['handshake_rtt_ms']['p50']} / {s['handshake_rtt_ms']['p50']} ms, p99 "
             f"{a['handshake_rtt_ms']['p99']} / {s['handshake_rtt_ms']['p99']} ms")
    retrans = a["syn_retrans"] + a["synack_retrans"]
    sec.check(f"asymmetric: retransmitted SYNs {a['syn_retrans']} + SYN-ACKs "
              f"{a['synack_retrans']} <= {args.max_syn_retrans}", retrans <= args.max_syn_retrans)
    sec.check(f"asymmetric: connections slower than 1 s: {a['slow_connects']} (of "
              f"{a['completed']} completed)", a["slow_connects"] == 0 and a["completed"] > 0)
    f = a["frames"]
    sec.check(f"asymmetric: the path really was asymmetric (nodeA got {f['a'].get('from_crt', 0)}"
              f" frames from crt and {f['a'].get('from_srt', 0)} from srt; nodeB "
              f"{f['b'].get('from_crt', 0)} and {f['b'].get('from_srt', 0)})",
              f["a"].get("from_crt", 0) > 0 and f["b"].get("from_srt", 0) > 0 and
              f["a"].get("from_srt", 0) < f["a"].get("from_crt", 0) / 10 and
              f["b"].get("from_crt", 0) < f["b"].get("from_srt", 0) / 10)
    if args.node == "tandemd":
        check_peer_link(sec, args, a["node_deltas"], a["completed"])
    sec.data = {k: {x: v[x] for x in ("attempted", "completed", "reset", "timed_out", "rate",
                                      "connect_ms", "syn_retrans", "synack_retrans",
                                      "slow_connects", "elapsed_s")}
                for k, v in results.items()}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: asymmetric paths (SYN via A, SYN-ACK via B) vs symmetric", body,
                       configure=configure))
