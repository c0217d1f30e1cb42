#!/usr/bin/python3
"""Pair scenario: both nodes source-translating at once, never colliding.

Both routers spread flows over both nodes (ECMP), so each node owns about
half of the new connections (first packet) and about half of every node's
replies belong to the other node's sessions (they reach it by the pool
address, are put back to the client there from the replica's translation,
and go to the owner over the peer link). Every session from inside to
outside is translated to one pool address in the client's subnet
(pair.NAT_CONFIG); each node hands out ports of its own blocks only.

--connections short connections (default 20,000; connect, a line, its
echo, close; 128 at a time) from 50 client addresses to a server that
notes every connection's source address:port. Checked: every connection
echoed; the server saw only the pool address and never one address:port on
two connections at once; both nodes translated (sessions_translated on
each, together one per connection) and put back replies for the other
node's sessions; each hands out ports of half the pool's blocks (`show nat
pools`); no reply found no translation; the peer link refused nothing. Failover, revert and asymmetric paths with translation are the
other pair scenarios run with --nat (tests/lab/CMakeLists.txt).

    /usr/bin/python3 tests/lab/test_pair_nat.py --tandemd PATH [--connections N]
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import NAT_POOL, NAT_SERVE_PORT as PORT, SERVER_IP, pair_main  # noqa: E402
from labkit.report import delta  # noqa: E402

SOURCES = [f"10.1.0.{10 + i}" for i in range(50)]
PEER_LINK_FAILURES = ("io.peer_link_tx_dropped", "io.peer_link_no_headroom",
                      "io.peer_link_unknown_peer")


def configure(ap):
    ap.add_argument("--connections", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=128)


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"both nodes translating at once (ECMP both ways): {args.connections} "
                         f"connections from {len(SOURCES)} client addresses to pool {NAT_POOL}")
    if lab.opts.node != "tandemd":
        sec.check("translation needs tandemd nodes", False)
        return
    for a in SOURCES:
        lab.client.run(["ip", "addr", "add", f"{a}/24", "dev", lab.client_if])
    lab.set_routes("ecmp")
    lab.start_service("nat-server", "server", ["nat-serve", "--port", str(PORT), "--hold", "5"])
    c0 = {s.letter: lab.counters(s) for s in lab.slots}
    r = lab.tool("client", ["nat-clients", "--dst", SERVER_IP, "--port", str(PORT),
                            "--sources", ",".join(SOURCES), "--count", str(args.connections),
                            "--concurrency", str(args.concurrency), "--timeout", "10"],
                 timeout=deadline.cap(240.0))
    served = lab.stop_service("nat-server", timeout=15.0)
    c1 = {s.letter: lab.counters(s) for s in lab.slots}
    d = {k: delta(c1[k] or {}, c0[k] or {}) for k in c1}
    for letter, dd in sorted(d.items()):
        sec.line(f"node{letter.upper()}: " + "  ".join(
            f"{k} {dd.get(k, 0)}" for k in ("sessions_translated", "nat_replies_translated",
                                            "forwarded_to_peer", "received_from_peer",
                                            "nat_no_translation", "dropped_nat_exhausted",
                                            "nat_replica_port_taken")))
    sec.line(f"clients: attempted {r.get('attempted')}, echoed {r.get('ok')}, failed "
             f"{r.get('failed')} {r.get('errors') or ''}; server: accepted "
             f"{served.get('accepted')}, from {sorted(served.get('sources', {}))}, the same "
             f"address:port on two connections at once {served.get('shared_at_once')}")
    n = args.connections
    sec.check(f"every connection echoed ({r.get('ok')}/{n}, failed {r.get('failed')})",
              r.get("ok") == n and r.get("failed") == 0)
    sec.check(f"the server saw only the pool address ({sorted(served.get('sources', {}))}) and "
              f"all {n} connections ({served.get('accepted')})",
              set(served.get("sources", {})) == {NAT_POOL} and served.get("accepted") == n)
    sec.check(f"never one address:port on two connections at once "
              f"({served.get('shared_at_once')})", served.get("shared_at_once") == 0)
    per_node = {k: v.get("sessions_translated", 0) for k, v in d.items()}
    sec.check(f"both nodes translated, one session per connection ({per_node}, sum "
              f"{sum(per_node.values())})",
              all(v >= n // 10 for v in per_node.values()) and sum(per_node.values()) == n)
    # A reply to the other node's session is put back where it arrives, then
    # goes to the owner: each node put back more replies than its own
    # sessions' share, and sent frames to its peer.
    sec.check("each node put back replies of the other node's sessions and sent them there "
              f"(forwarded_to_peer {[v.get('forwarded_to_peer', 0) for v in d.values()]})",
              all(v.get("forwarded_to_peer", 0) > 0 and v.get("nat_replies_translated", 0) > 0
                  for v in d.values()))
    pools = {s.letter: s.node.control.request("show nat pools", timeout=5.0)["pools"][0]
             for s in lab.slots}
    sec.line("show nat pools: " + "; ".join(
        f"node{k.upper()} {p['blocks_here']}/{p['blocks']} blocks, {p['ports_here']} ports, "
        f"{p['ports_in_use']} in use" for k, p in sorted(pools.items())))
    sec.check("each node hands out ports of half the pool's blocks (show nat pools)",
              all(2 * p["blocks_here"] == p["blocks"] and p["ports_here"] == 64 * p["blocks_here"]
                  for p in pools.values()))
    bad = {f"node{k.upper()} {c}": v.get(c, 0) for k, v in d.items()
           for c in ("nat_no_translation", "nat_replica_port_taken", "dropped_nat_exhausted",
                     *PEER_LINK_FAILURES) if v.get(c, 0)}
    sec.check(f"no reply without its translation, no port given twice, nothing refused on the "
              f"peer link ({bad or 'none'})", not bad)


if __name__ == "__main__":
    sys.exit(pair_main(__doc__.split("\n")[0], body, configure=configure,
                       variants=[{"nat": True}]))
