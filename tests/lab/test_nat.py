#!/usr/bin/python3
"""Source translation through one inline tandemd: real Linux TCP clients
behind it, a real server in front, counted outcomes.

    [nat]
    pool = tiny   10.77.0.110 ports 30000-30063 block-size 32   (64 ports)
    pool = public 10.77.0.100 ports 1024-65535
    rule = snat from inside to outside proto tcp dport 7001 pool tiny
    rule = snat from inside to outside pool public

The client side has 100 addresses; the server learns the pool addresses'
MAC statically (the node is a bump in the wire and answers no ARP).

1. --count connections (default 10,000, 100 at a time) from the 100
   client addresses to tcp/7000: every one is echoed; the server saw only
   the public pool's one address, and never two connections at once from
   the same address:port; tandemd translated each (sessions_translated)
   and put every reply back (nat_replies_translated).
2. `show session` gives a held connection's translation (nat, nat_src,
   nat_sport), within the pool; the traffic log's start lines give every
   translated session's.
3. ICMP echo from the client reaches the server from a pool address and
   the reply comes back. UDP to a closed port of the server (traceroute
   style): the server's ICMP port unreachable, sent to the pool address,
   reaches each client socket as ECONNREFUSED (nat_icmp_errors_translated).
4. A port forward (dnat 10.77.0.120:443 to the client's 8443): 200
   connections from the server's side are echoed by a listener on the
   client's side, which sees their real source. UDP from the server's
   side to a forwarded port nothing listens on (10.77.0.121:53 to the
   client's 5300): each sender socket gets the client host's port
   unreachable (ECONNREFUSED), translated to quote what it sent.
5. The tiny pool: 100 connections held open at once to tcp/7001: exactly
   64 get through, the rest are dropped and counted
   (dropped_nat_exhausted); `show nat pools` says so while they are held
   (64 of 64 ports in use, exhausted as counted); tandemd keeps running
   and, once they are cleared, the pool's ports serve 64 of 100 held
   connections again.

With --workers 2 the same steps run through two workers: each hands out
ports of its own blocks (one of the tiny pool's two), and replies to a
translated port are steered to the worker whose block it is.

Without translation the server sees the client addresses (step 1 fails);
with translations shared it sees one address:port twice at once.

    /usr/bin/python3 tests/lab/test_nat.py [--tandemd PATH] [--count N] [--workers 2]

Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import InlineLab  # noqa: E402
from labkit.checks import Checklist, check_node_stopped  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
from nodes import Rule, TandemdNode  # noqa: E402

PORT, TINY_PORT = 7000, 7001
CLOSED_PORT = 33434   # nothing listens there on the server
FORWARD = ("10.77.0.120", 443, 8443)   # dnat: this address and port to the client's 8443
UDP_FORWARD = ("10.77.0.121", 53, 5300)  # dnat to the client's 5300, where nothing listens
PUBLIC = ("10.77.0.100",)
TINY = "10.77.0.110"
SOURCES = [f"10.77.0.{150 + i}" for i in range(100)]
POLICY = (
    Rule("tcp", (PORT, TINY_PORT), name="out", log=True),
    Rule("icmp", icmp_types=(8,), name="ping"),
    Rule("udp", (CLOSED_PORT,), name="trace"),
    Rule("tcp", (FORWARD[1],), from_zone="outside", to_zone="inside", name="forward"),
    Rule("udp", (UDP_FORWARD[1],), from_zone="outside", to_zone="inside", name="forward-udp"),
)
NAT = ("[nat]\n"
       f"pool = tiny {TINY} ports 30000-30063 block-size 32\n"
       f"pool = public {PUBLIC[0]} ports 1024-65535\n"
       f"rule = snat from inside to outside proto tcp dport {TINY_PORT} pool tiny\n"
       "rule = snat from inside to outside pool public\n"
       f"rule = dnat from outside to inside dst {FORWARD[0]} proto tcp dport {FORWARD[1]} "
       f"to 10.77.0.1:{FORWARD[2]}\n"
       f"rule = dnat from outside to inside dst {UDP_FORWARD[0]} proto udp dport {UDP_FORWARD[1]} "
       f"to 10.77.0.1:{UDP_FORWARD[2]}\n")


def prepare(lab) -> None:
    """The client's extra addresses; the pool addresses' MAC on the server."""
    for src in SOURCES:
        lab.client.run(["ip", "addr", "add", f"{src}/24", "dev", lab.client_if])
    for pool in (*PUBLIC, TINY, FORWARD[0], UDP_FORWARD[0]):
        lab.server.run(["ip", "neigh", "replace", pool, "lladdr", lab.client_mac, "dev",
                        lab.server_if, "nud", "permanent"])


def clients(lab, port: int, count: int, concurrency: int, hold: float = 0.0) -> dict:
    r = lab.tool("client", ["nat-clients", "--dst", lab.addr.server_ip, "--port", str(port),
                            "--sources", ",".join(SOURCES), "--count", str(count),
                            "--concurrency", str(concurrency), "--hold", str(hold)],
                 timeout=120 + hold)
    print(f"clients to {port}: {json.dumps(r, sort_keys=True)}")
    return r


def step_many(lab, node, check, n: int) -> None:
    c0 = node.counters()
    r = clients(lab, PORT, n, 100)
    c1 = node.counters()
    check(f"{n} connections from {len(SOURCES)} addresses through the translation: "
          f"{r['ok']} echoed", r["ok"] == n)
    translated = c1.get("sessions_translated", 0) - c0.get("sessions_translated", 0)
    back = c1.get("nat_replies_translated", 0) - c0.get("nat_replies_translated", 0)
    check(f"tandemd translated every connection (sessions_translated +{translated}) and put "
          f"their replies back (nat_replies_translated +{back})",
          translated == n and back >= 2 * n)


def step_show_session(lab, node, check) -> None:
    lab.start_service("held", "client", ["nat-clients", "--dst", lab.addr.server_ip,
                                         "--port", str(PORT), "--sources", SOURCES[0],
                                         "--count", "1", "--hold", "20"])
    try:
        # Filtered: the table still holds the closed sessions of step 1.
        shown = [s for s in node.sessions(src=SOURCES[0], dport=PORT, state="established")
                 if s.get("dport") == PORT
                 and s.get("state") == "established" and s.get("src") == SOURCES[0]]
        nat = [(s.get("nat"), s.get("nat_src"), s.get("nat_sport")) for s in shown]
        check(f"show session: the held connection from {SOURCES[0]} leaves as {nat}",
              len(nat) == 1 and nat[0][0] == "snat" and nat[0][1] in PUBLIC
              and 1024 <= (nat[0][2] or 0) <= 65535)
    finally:
        lab.stop_service("held", timeout=10.0)


def check_traffic_log(path: str, check, n: int) -> None:
    """Every session of step 1 logged its start with its translation."""
    end = time.monotonic() + 10
    starts: list = []
    while time.monotonic() < end:
        with open(path) if os.path.exists(path) else open(os.devnull) as f:
            starts = [r for r in map(json.loads, f)
                      if r.get("event") == "start" and r.get("dport") == PORT]
        if len(starts) >= n:
            break
        time.sleep(0.5)
    translated = [r for r in starts if r.get("nat") == "snat" and r.get("nat_src") in PUBLIC]
    check(f"the traffic log's start lines give the translation: {len(translated)} of "
          f"{len(starts)} ({n} expected)", len(starts) >= n and len(translated) == len(starts))


def step_ping(lab, check) -> None:
    r = lab.tool("client", ["icmp-echo", "--dst", lab.addr.server_ip, "--count", "5",
                            "--interval", "0.1"], timeout=30)
    check(f"ICMP echo through the translation answered ({r.get('replies')}/5 replies)",
          r.get("replies") == 5)


def udp_refused(lab, node, where: str, dst: str, port: int, flows: int) -> tuple[dict, int]:
    """`flows` UDP sockets in `where` send one datagram each to dst:port
    where nothing listens: the udp tool's counts, and how many ICMP errors
    the node translated meanwhile."""
    c0 = node.counters()
    r = lab.tool(where, ["udp", "--dst", dst, "--port", str(port), "--flows", str(flows),
                         "--requests", str(flows), "--timeout", "2"], timeout=60)
    c1 = node.counters()
    return r, c1.get("nat_icmp_errors_translated", 0) - c0.get("nat_icmp_errors_translated", 0)


def step_port_unreachable(lab, node, check, flows: int = 20) -> None:
    r, back = udp_refused(lab, node, "client", lab.addr.server_ip, CLOSED_PORT, flows)
    check(f"UDP to a closed port: {r.get('refused')} of {flows} client sockets got the "
          f"server's port unreachable (ECONNREFUSED; timeouts {r.get('timeouts')}), each error "
          f"translated back (nat_icmp_errors_translated +{back})",
          r.get("refused") == flows and back == flows)


def step_forward_unreachable(lab, node, check, flows: int = 20) -> None:
    """UDP from outside to a forwarded port whose target listens nowhere:
    the target's host answers port unreachable, which reaches each sender
    from the public address about what it sent."""
    r, back = udp_refused(lab, node, "server", UDP_FORWARD[0], UDP_FORWARD[1], flows)
    check(f"UDP to a forwarded port nothing listens on ({UDP_FORWARD[0]}:{UDP_FORWARD[1]} -> "
          f"10.77.0.1:{UDP_FORWARD[2]}): {r.get('refused')} of {flows} sender sockets got the "
          f"port unreachable (ECONNREFUSED; timeouts {r.get('timeouts')}), each error "
          f"translated (nat_icmp_errors_translated +{back})",
          r.get("refused") == flows and back == flows)


def step_port_forward(lab, node, check, n: int = 200) -> None:
    """Connections from the outside to the forwarded address reach the
    listener inside, which sees their real source."""
    lab.start_service("inside-server", "client", ["nat-serve", "--port", str(FORWARD[2])])
    c0 = node.counters()
    r = lab.tool("server", ["nat-clients", "--dst", FORWARD[0], "--port", str(FORWARD[1]),
                            "--sources", lab.addr.server_ip, "--count", str(n),
                            "--concurrency", "50"], timeout=120)
    c1 = node.counters()
    served = lab.stop_service("inside-server", timeout=10.0)
    translated = c1.get("sessions_translated", 0) - c0.get("sessions_translated", 0)
    check(f"dnat {FORWARD[0]}:{FORWARD[1]} -> 10.77.0.1:{FORWARD[2]}: {r.get('ok')} of {n} "
          f"connections from outside echoed by the listener inside (it accepted "
          f"{served.get('accepted')}, from {sorted(served.get('sources', {}))}; "
          f"sessions_translated +{translated})",
          r.get("ok") == n and served.get("echoed") == n and
          set(served.get("sources", {})) == {lab.addr.server_ip} and translated == n)


def nat_pool(node, name: str) -> dict:
    """The pool's object of `show nat pools`."""
    pools = node.control.request("show nat pools", timeout=5.0).get("pools", [])
    return next((p for p in pools if p.get("name") == name), {})


def hold_tiny(lab, node) -> tuple[dict, int, dict]:
    """100 connections held open at once to the tiny pool's port: what the
    clients saw, the first packets refused for want of a port, and `show
    nat pools`' tiny pool while they were held."""
    c0 = node.counters()
    lab.start_service("tiny-held", "client", [
        "nat-clients", "--dst", lab.addr.server_ip, "--port", str(TINY_PORT),
        "--sources", ",".join(SOURCES), "--count", "100", "--concurrency", "100",
        "--hold", "30"], timeout=60.0)
    held = nat_pool(node, "tiny")
    r = lab.stop_service("tiny-held", timeout=10.0)
    c1 = node.counters()
    return r, c1.get("dropped_nat_exhausted", 0) - c0.get("dropped_nat_exhausted", 0), held


def step_exhaustion(lab, node, check) -> None:
    r, refused, held = hold_tiny(lab, node)
    check(f"the tiny pool (64 ports): {r.get('ok')} of 100 held connections got through, its "
          f"full pool counted (dropped_nat_exhausted +{refused})",
          r.get("ok") == 64 and refused >= 36)
    check(f"show nat pools, while they are held: the tiny pool {held.get('addresses')} ports "
          f"{held.get('ports')}, {held.get('blocks_here')}/{held.get('blocks')} blocks here, "
          f"{held.get('ports_in_use')}/{held.get('ports_here')} ports in use, exhausted "
          f"{held.get('exhausted')} (= dropped_nat_exhausted {refused})",
          held.get("addresses") == f"{TINY}-{TINY}" and held.get("blocks") == 2
          and held.get("blocks_here") == 2 and held.get("ports_here") == 64
          and held.get("ports_in_use") == 64 and held.get("exhausted") == refused)
    node.control.request("clear session all", timeout=5.0)
    cleared = nat_pool(node, "tiny")
    check(f"cleared: the tiny pool's ports in use {cleared.get('ports_in_use')}",
          cleared.get("ports_in_use") == 0)
    r, _, _ = hold_tiny(lab, node)
    check(f"once cleared, the tiny pool's 64 ports serve again: {r.get('ok')} of 100 held",
          r.get("ok") == 64)


def run(args) -> int:
    checks = Checklist()
    check = checks.check
    with InlineLab() as lab:
        prepare(lab)
        lab.start_service("server", "server", ["nat-serve", "--port", str(PORT)])
        lab.start_service("tiny-server", "server", ["nat-serve", "--port", str(TINY_PORT),
                                                     "--hold", "10"])
        log_path = os.path.join(lab.workdir, "traffic.log")
        node = TandemdNode(POLICY, binary=args.tandemd, workers=args.workers, extra_config=NAT,
                           control_extra=f"traffic-log = {log_path}\n")
        lab.set_node(node)
        step_many(lab, node, check, args.count)
        check_traffic_log(log_path, check, args.count)
        step_show_session(lab, node, check)
        step_ping(lab, check)
        step_port_unreachable(lab, node, check)
        step_port_forward(lab, node, check)
        step_forward_unreachable(lab, node, check)
        step_exhaustion(lab, node, check)
        served = lab.stop_service("server", timeout=10.0)
        lab.stop_service("tiny-server", timeout=10.0)
        sources = served.get("sources", {})
        print(f"server: {json.dumps(served, sort_keys=True)}")
        check(f"the server saw only the pool's addresses ({sorted(sources)})",
              bool(sources) and set(sources) <= set(PUBLIC))
        check(f"... and never one address:port on two connections at once "
              f"({served.get('shared_at_once')} times)", served.get("shared_at_once") == 0)
        check_node_stopped(check, lab.stop_node())
    return checks.result()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD"))
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=1,
                    help="tandemd workers (with 2: each hands out one of the tiny pool's blocks)")
    ap.add_argument("--deadline", type=float, default=240.0)
    a = ap.parse_args()
    return run_standalone(a, run, a.deadline)


if __name__ == "__main__":
    sys.exit(main())
