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
pools`); no reply found no translation; the peer link refused nothing.

Then node B is killed: after [nat] reassign-after-s (2 s here) node A hands
out ports of every block; 200 connections held through it take ports of
both nodes' blocks; node B restarted: node A is back to half the blocks,
and node B counts the ports of its blocks that node A's sessions still
hold (it learned them in its bulk sync, before owning anything); every
held connection echoed, no address:port twice at once. Failover, revert and asymmetric paths with translation are the
other pair scenarios run with --nat (tests/lab/CMakeLists.txt).

    /usr/bin/python3 tests/lab/test_pair_nat.py --tandemd PATH [--connections N]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import (NAT_POOL, NAT_REASSIGN_S, NAT_SERVE_PORT as PORT, SERVER_IP,  # noqa: E402
                  nat_block_owner, pair_main)
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


def pool_of(slot) -> dict:
    return slot.node.control.request("show nat pools", timeout=5.0)["pools"][0]


def wait_pool(slot, want, timeout: float) -> tuple[dict, float]:
    """Polls `show nat pools` until want(pool); (pool, seconds waited)."""
    t0 = time.monotonic()
    while True:
        p = pool_of(slot)
        if want(p) or time.monotonic() - t0 > timeout:
            return p, time.monotonic() - t0
        time.sleep(0.1)


def departed(lab, args, report, deadline):
    """Node B killed: after reassign-after-s node A hands out ports of B's
    blocks too, never one that a session still holds; B back: its blocks are
    its own again, and it knows which of their ports A's sessions hold."""
    sec = report.section(f"node B gone for good ({NAT_REASSIGN_S} s): its port blocks lent to "
                         f"node A, then given back")
    a, b = lab.slots
    lab.kill_node(b)
    pool, waited = wait_pool(a, lambda p: p["blocks_here"] == p["blocks"],
                             NAT_REASSIGN_S + 5.0)
    sec.check(f"node A hands out every block {waited:.1f} s after the kill ({pool['blocks_here']}"
              f"/{pool['blocks']})", pool["blocks_here"] == pool["blocks"]
              and waited >= NAT_REASSIGN_S - 0.5)
    lab.start_service("nat-server-2", "server", ["nat-serve", "--port", str(PORT), "--hold", "60"])
    lab.start_service("held", "client", [
        "nat-clients", "--dst", SERVER_IP, "--port", str(PORT), "--sources", ",".join(SOURCES),
        "--count", "200", "--concurrency", "200", "--timeout", "10", "--hold", "60"],
        timeout=60.0)
    ports = [s.get("nat_sport") for s in a.node.sessions(dport=PORT, state="established")
             if s.get("nat") == "snat"]
    in_b = [p for p in ports if nat_block_owner(p) == "b"]
    sec.check(f"200 connections held through node A: {len(ports)} translated, {len(in_b)} of "
              f"them to ports of node B's blocks", len(ports) == 200 and 0 < len(in_b) < 200)
    lab.restart_node(b)
    lab.wait_ha_ready(deadline)
    pool, _ = wait_pool(a, lambda p: 2 * p["blocks_here"] == p["blocks"], 10.0)
    pool_b, _ = wait_pool(b, lambda p: p["ports_in_use"] >= len(in_b), 10.0)
    sec.check(f"node B back: node A hands out half the blocks again ({pool['blocks_here']}/"
              f"{pool['blocks']}), node B counts the {len(in_b)} ports of its blocks that node "
              f"A's sessions hold ({pool_b['ports_in_use']} in use)",
              2 * pool["blocks_here"] == pool["blocks"] and pool_b["ports_in_use"] >= len(in_b))
    r = lab.stop_service("held", timeout=15.0)
    served = lab.stop_service("nat-server-2", timeout=15.0)
    sec.check(f"every held connection was echoed ({r.get('ok')}/200) and the server never saw "
              f"one address:port twice at once ({served.get('shared_at_once')})",
              r.get("ok") == 200 and served.get("shared_at_once") == 0)


def body_all(lab, args, report, deadline, variant=None):
    body(lab, args, report, deadline, variant)
    if lab.opts.node == "tandemd":
        departed(lab, args, report, deadline)


if __name__ == "__main__":
    sys.exit(pair_main(__doc__.split("\n")[0], body_all, configure=configure,
                       variants=[{"nat": True}]))
