#!/usr/bin/python3
"""Pair figures: connection setup on asymmetric vs symmetric paths, and the
failover gap, for tandemd and the kernel stand-in, on the same topology.

For each node kind in --nodes (default tandemd,kernel), in a fresh pair lab:

  1. --connections short TCP connections (64 at a time) on the symmetric path
     (A both ways) and on the asymmetric path (A forward, B back): setup rate
     (conn/s), connect latency p50/p99, SYN and SYN-ACK retransmissions;
  2. --rounds failover rounds under --conns long-lived request/response
     connections + a bulk stream (ECMP): kill nodeA and move its paths, 3 s,
     restart it, move the paths back, 3 s; the largest gap between responses
     measured from the kill (max and p99 over the connections) per round.

Prints one table per figure and writes --json. A benchmark, not a test: exit
0 whenever it could measure, 2 when it could not, 77 when it cannot run here.

    /usr/bin/python3 tests/lab/bench_pair.py --nodes tandemd,kernel --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import (Deadline, LabError, LabInterrupted, LabSkip, arm_watchdog,  # noqa: E402
                 install_signal_handlers, require_lab_environment)
from skip_policy import skip_exit  # noqa: E402
from outage_probe import check_probe  # noqa: E402
from pair import (PairLab, PairOptions, add_longlived_args, failover_phase, revert_phase,  # noqa: E402
                  start_servers, stop_rr, storm)
from labkit.checks import Section  # noqa: E402


def measure(kind: str, args, deadline: Deadline) -> dict:
    opts = PairOptions(node=kind, tandemd=args.tandemd, owner=args.owner)
    out = {"node": kind, "storms": {}, "rounds": []}
    quiet = Section(f"{kind}")
    with PairLab(opts) as lab:
        start_servers(lab)
        lab.start_nodes(deadline)
        lab.set_routes("symmetric-a")
        storm(lab, quiet, f"{kind} warm-up", 200, args.concurrency, deadline, check=False)
        for mode in ("symmetric-a", "asymmetric"):
            lab.set_routes(mode)
            r = storm(lab, quiet, f"{kind} {mode}", args.connections, args.concurrency,
                      deadline, check=False, budget=max(30.0, args.connections / 100))
            out["storms"][mode] = {k: r[k] for k in (
                "completed", "attempted", "rate", "connect_ms", "handshake_rtt_ms",
                "syn_retrans", "synack_retrans", "slow_connects", "elapsed_s")}
        for i in range(args.rounds):
            sec = Section(f"{kind} round {i + 1}")
            fo = failover_phase(lab, args, sec, deadline, victim_letter="a", after=3.0)
            revert_phase(lab, args, sec, deadline, fo, after=3.0)
            r = stop_rr(lab)
            probe = check_probe(lab, args, sec, ("kill",))  # failover_phase started it
            kill = next(m for m in r["marks"] if m["name"] == "kill")
            outage = next((m["gap_ms"] for m in (probe or {}).get("marks", [])
                           if m["name"] == "kill"), None)
            out["rounds"].append({"gap_ms": kill["gap_ms"], "bulk_gap_ms": kill["bulk_gap_ms"],
                                  "broken": r["broken"], "detect_s": fo["detect"],
                                  "steady_gap_ms": r["steady_gap_ms"], "outage_ms": outage})
            open(lab.marks_path, "w").close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="tandemd,kernel",
                    help="comma-separated: tandemd, kernel, kernel-ct")
    ap.add_argument("--tandemd", default=None)
    ap.add_argument("--owner", choices=("first-packet", "primary"), default="first-packet")
    ap.add_argument("--connections", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", metavar="FILE")
    add_longlived_args(ap)
    args = ap.parse_args(argv)
    kinds = [k for k in args.nodes.split(",") if k]
    try:
        require_lab_environment(("ip", "ethtool") +
                                (("nft", "conntrack") if "kernel-ct" in kinds else ()))
    except LabSkip as e:
        return skip_exit(e)
    install_signal_handlers()
    budget = len(kinds) * (args.connections / 100 + args.rounds * 30 + 60) + 60
    arm_watchdog(budget + 30)
    deadline = Deadline(budget, "the benchmark's deadline")
    results, errors = [], {}
    try:
        for kind in kinds:
            try:
                results.append(measure(kind, args, deadline))
            except LabError as e:
                errors[kind] = str(e)
                print(f"{kind}: could not measure: {e}", flush=True)
    except LabInterrupted as e:
        print(f"interrupted by {e}")
        return 2
    finally:
        arm_watchdog(0)

    print("\n" + "=" * 78)
    print(f"Connection setup, {args.connections} short connections, {args.concurrency} "
          f"concurrent (owner {args.owner})")
    print(f"{'node':<10}{'path':<13}{'done':>7}{'conn/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'>1 s':>6}{'SYN rtx':>9}{'SYNACK rtx':>11}")
    for r in results:
        for mode in ("symmetric-a", "asymmetric"):
            s = r["storms"][mode]
            print(f"{r['node']:<10}{mode.replace('-a', ''):<13}{s['completed']:>7}{s['rate']:>9}"
                  f"{str(s['connect_ms']['p50']):>9}{str(s['connect_ms']['p99']):>9}"
                  f"{s['slow_connects']:>6}{s['syn_retrans']:>9}{s['synack_retrans']:>11}")
        sy, asy = r["storms"]["symmetric-a"], r["storms"]["asymmetric"]
        if sy["rate"]:
            print(f"{'':<10}asymmetric / symmetric setup rate = {asy['rate'] / sy['rate']:.2f}")
    print(f"\nFailover: kill nodeA under {args.conns} connections (request every "
          f"{args.interval_ms:g} ms) + bulk {args.bulk_mbit:g} Mbit/s; largest gap between "
          f"responses measured from the kill")
    print(f"{'node':<10}{'round':>6}{'max ms':>10}{'p99 ms':>10}{'p50 ms':>10}{'bulk ms':>10}"
          f"{'broken':>8}{'detect ms':>11}{'steady p99':>12}")
    for r in results:
        for i, x in enumerate(r["rounds"]):
            det = f"{x['detect_s'] * 1000:.0f}" if x["detect_s"] else "-"
            bulk = max([b for b in x["bulk_gap_ms"] if b is not None], default=0)
            print(f"{r['node']:<10}{i + 1:>6}{str(x['gap_ms']['max']):>10}"
                  f"{str(x['gap_ms']['p99']):>10}{str(x['gap_ms']['p50']):>10}{bulk:>10}"
                  f"{x['broken']:>8}{det:>11}{str(x['steady_gap_ms']['p99']):>12}")
        if r["rounds"]:
            med = statistics.median(x["gap_ms"]["max"] or 0 for x in r["rounds"])
            print(f"{'':<10}median of the rounds' max gap: {med:.1f} ms")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "errors": errors,
                       "when": time.strftime("%Y-%m-%d %H:%M:%S")}, f, indent=2)
    return 0 if results else 2


if __name__ == "__main__":
    sys.exit(main())
