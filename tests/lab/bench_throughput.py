#!/usr/bin/python3
"""TCP throughput through the node: tandemd against the Linux kernel.

One lab (client ns -- node ns -- server ns), the same wires and offload
settings for every node; the node namespace runs each implementation in turn:

  tandemd  DPDK af_packet ports, the lab policy plus iperf3's port
  kernel   Linux bridge + nftables connection tracking, the same policy
  bridge   Linux bridge without filtering (optional reference)

For each: iperf3 for --seconds (default 5) from the client to the server,
repeated --repeat times; prints Gbit/s (received), retransmissions and the
node's own counters, then the ratio tandemd / kernel. A benchmark, not a
test: it exits 0 whenever it could measure, 2 when it could not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import (InlineLab, LabError, LabInterrupted, LabSkip, arm_watchdog,  # noqa: E402
                 install_signal_handlers, require_lab_environment)
from skip_policy import skip_exit  # noqa: E402
from nodes import Rule, make_node  # noqa: E402
from scenarios import LAB_POLICY  # noqa: E402

IPERF_PORT = 5201
BENCH_POLICY = LAB_POLICY + (Rule("tcp", (IPERF_PORT,), name="iperf3"),)


def iperf_once(lab: InlineLab, seconds: float, parallel: int) -> dict:
    server = lab.server.spawn("iperf3 server", ["iperf3", "-s", "-1", "-p", str(IPERF_PORT),
                                                "-B", lab.addr.server_ip])
    try:
        _wait_listening(lab, IPERF_PORT, 5.0)
        p = lab.client.run(["iperf3", "-c", lab.addr.server_ip, "-p", str(IPERF_PORT),
                            "-t", str(seconds), "-P", str(parallel), "-J",
                            "--connect-timeout", "3000"],
                           timeout=seconds + 30, check=False)
        try:
            data = json.loads(p.stdout)
        except json.JSONDecodeError:
            raise LabError(f"iperf3 client gave no JSON (exit {p.returncode}): "
                           f"{(p.stderr or p.stdout)[-500:]}") from None
        if "error" in data:
            raise LabError(f"iperf3: {data['error']}")
        end = data["end"]
        return {"gbps": end["sum_received"]["bits_per_second"] / 1e9,
                "sent_gbps": end["sum_sent"]["bits_per_second"] / 1e9,
                "retransmits": end["sum_sent"].get("retransmits", 0),
                "bytes": end["sum_received"]["bytes"]}
    finally:
        server.stop(timeout=5)


def _wait_listening(lab: InlineLab, port: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = lab.server.run(["ss", "-Hltn", f"sport = :{port}"], check=False).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise LabError(f"iperf3 server did not listen on {port} within {timeout} s")


def measure(lab: InlineLab, kind: str, args) -> dict:
    node = make_node(kind, BENCH_POLICY, args.tandemd)
    lab.set_node(node)
    try:
        # One ARP exchange and a first connection before timing anything.
        lab.tool("client", ["tcp-storm", "--dst", lab.addr.server_ip, "--port", "5001",
                            "--count", "3", "--concurrency", "1"], timeout=20)
        lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", "5353",
                            "--requests", "3"], timeout=20)
        before = lab.snapshot().counters
        runs = [iperf_once(lab, args.seconds, args.parallel) for _ in range(args.repeat)]
        after = lab.snapshot().counters
    finally:
        stopped = lab.stop_node()
    gbps = [r["gbps"] for r in runs]
    deltas = {}
    if before and after:
        deltas = {k: v - before.get(k, 0) for k, v in after.items()
                  if isinstance(v, int) and v - before.get(k, 0)}
    return {"node": kind, "describe": node.describe(), "runs": runs,
            "gbps_median": statistics.median(gbps), "gbps_min": min(gbps),
            "gbps_max": max(gbps), "retransmits": sum(r["retransmits"] for r in runs),
            "node_counters": deltas, "exit_code": stopped.get("exit_code")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", default="tandemd,kernel",
                    help="comma-separated, in order: tandemd, kernel, bridge")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=1, help="iperf3 -P streams")
    ap.add_argument("--tandemd", default=None)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    kinds = [k for k in args.nodes.split(",") if k]

    try:
        require_lab_environment(("ip", "ethtool", "iperf3", "ss") +
                                (("nft", "conntrack") if "kernel" in kinds else ()))
    except LabSkip as e:
        return skip_exit(e)
    install_signal_handlers()
    arm_watchdog(len(kinds) * args.repeat * (args.seconds + 40) + 60)
    results, errors = [], {}
    try:
        with InlineLab() as lab:
            for kind in kinds:
                try:
                    r = measure(lab, kind, args)
                except LabError as e:
                    errors[kind] = str(e)
                    print(f"{kind}: could not measure: {e}", flush=True)
                    continue
                results.append(r)
                print(f"{kind:<8} {r['gbps_median']:6.2f} Gbit/s  (min {r['gbps_min']:.2f}, max "
                      f"{r['gbps_max']:.2f}, {len(r['runs'])} x {args.seconds:g} s, "
                      f"retransmits {r['retransmits']})  {r['describe']}", flush=True)
                if r["node_counters"]:
                    shown = {k: v for k, v in r["node_counters"].items()
                             if not k.endswith("bytes") and k != "io.idle_sleeps"}
                    print("         node: " + "  ".join(f"{k} +{v}" for k, v in sorted(shown.items())))
    except LabInterrupted as e:
        print(f"interrupted by {e}")
        return 2
    except LabError as e:
        print(f"ERROR {e}")
        return 2
    finally:
        arm_watchdog(0)

    by = {r["node"]: r for r in results}
    print("-" * 72)
    print(f"iperf3 TCP, {args.parallel} stream(s), {args.seconds:g} s x {args.repeat}, "
          f"same namespaces and veths for every node")
    for r in results:
        print(f"  {r['node']:<8} {r['gbps_median']:6.2f} Gbit/s")
    if "tandemd" in by and "kernel" in by and by["kernel"]["gbps_median"] > 0:
        ratio = by["tandemd"]["gbps_median"] / by["kernel"]["gbps_median"]
        print(f"  tandemd / kernel = {ratio:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "errors": errors}, f, indent=2)
    return 0 if results else 2


if __name__ == "__main__":
    sys.exit(main())
