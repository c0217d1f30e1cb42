#!/usr/bin/python3
"""Packet rate of the GWLB emulator (tools/gwlb-emulator).

One Linux target running `gwlb-emulator reflect` (stateless: every GENEVE
datagram straight back) on the GENEVE segment of geneve_cluster.py. The
client sends UDP datagrams to the server as fast as one Python process can,
over --flows flows, for --seconds; the server's kernel drops them at
ingress (nftables netdev) after its interface counted them. Each datagram
crosses the emulator twice (endpoint -> target, target -> server). Printed:
offered, encapsulated, delivered per second, the emulator's CPU share, and
the rate per CPU second it implies.

    /usr/bin/python3 tests/lab/bench_gwlb_emulator.py [--size 64] [--seconds 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from geneve_cluster import GeneveClusterLab, SERVER_IP  # noqa: E402
from lab import (GWLB_EMULATOR, LabError, LabSkip, PYTHON, arm_watchdog,  # noqa: E402
                 install_signal_handlers, link_stats, require_lab_environment)
from skip_policy import skip_exit  # noqa: E402

BLAST = r"""
import socket, sys, time
dst, flows, size, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
socks = []
for i in range(flows):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((dst, 9000 + i))
    socks.append(s)
payload = bytes(size)
sent = errors = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    for s in socks:
        for _ in range(32):
            try:
                s.send(payload)
                sent += 1
            except OSError:
                errors += 1
print(sent, errors)
"""


def cpu_ticks(pid: int) -> int:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--size", type=int, action="append",
                    help="UDP payload bytes (repeat; default 64 and 1400)")
    ap.add_argument("--flows", type=int, default=64)
    args = ap.parse_args(argv)
    sizes = args.size or [64, 1400]
    try:
        require_lab_environment(("ip", "ethtool", "bridge", "nft"))
    except LabSkip as e:
        return skip_exit(e)
    install_signal_handlers()
    arm_watchdog(60 + len(sizes) * (args.seconds + 10))
    rows = []
    try:
        with GeneveClusterLab(1, "linux") as lab:
            t = lab.slots[0]
            proc = lab.namespace(t.letter).spawn("reflect", [PYTHON, GWLB_EMULATOR, "reflect",
                                                             "--listen", t.ip])
            lab._services["reflect"] = proc
            proc.read_json(10.0)
            lab.server.run(["nft", "-f", "-"], input=(
                "table netdev bench_sink {\n    chain ingress {\n"
                f"        type filter hook ingress device {lab.server_if} priority 0;"
                " policy drop;\n    }\n}\n"))
            lab.start_gwlb([t.ip], ["--health-check", "none", "--quiet"])
            gw_pid = lab._services["gwlb"].pid
            hz = os.sysconf("SC_CLK_TCK")
            for size in sizes:
                s0 = lab.gwlb("stats")["totals"]
                rx0 = link_stats(lab.server, lab.server_if)["rx_packets"]
                c0, w0 = cpu_ticks(gw_pid), time.monotonic()
                out = lab.client.run([PYTHON, "-c", BLAST, SERVER_IP, str(args.flows), str(size),
                                      str(args.seconds)], timeout=args.seconds + 30).stdout
                c1, w1 = cpu_ticks(gw_pid), time.monotonic()
                time.sleep(0.5)
                s1 = lab.gwlb("stats")["totals"]
                rx1 = link_stats(lab.server, lab.server_if)["rx_packets"]
                sent = int(out.split()[0])
                enc, dlv = s1["encapsulated"] - s0["encapsulated"], s1["delivered"] - s0["delivered"]
                cpu = (c1 - c0) / hz / (w1 - w0)
                rows.append({"size": size, "offered_pps": sent / args.seconds,
                             "encapsulated_pps": enc / args.seconds,
                             "delivered_pps": dlv / args.seconds,
                             "server_rx_pps": (rx1 - rx0) / args.seconds, "cpu": cpu,
                             "bad": s1["bad_return"] - s0["bad_return"]})
            lab.stop_gwlb()
    except LabError as e:
        print(f"RESULT: ERROR (lab could not run): {e}")
        return 2
    finally:
        arm_watchdog(0)
    cpus = os.cpu_count()
    print(f"\nGWLB emulator packet rate ({cpus} CPUs shared by sender, emulator, reflector; "
          f"{args.flows} flows, {args.seconds:g} s each)")
    print(f"{'payload':>8} {'offered/s':>10} {'to target/s':>12} {'delivered/s':>12} "
          f"{'server rx/s':>12} {'emulator CPU':>13} {'per CPU-s':>10} {'bad':>4}")
    for r in rows:
        per_cpu = r["delivered_pps"] / r["cpu"] if r["cpu"] else 0
        print(f"{r['size']:>8} {r['offered_pps']:>10.0f} {r['encapsulated_pps']:>12.0f} "
              f"{r['delivered_pps']:>12.0f} {r['server_rx_pps']:>12.0f} {r['cpu']:>12.0%} "
              f"{per_cpu:>10.0f} {r['bad']:>4}")
    print("(each delivered packet crossed the emulator twice: to the target and back)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
