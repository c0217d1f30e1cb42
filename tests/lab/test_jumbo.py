#!/usr/bin/python3
"""Jumbo frames through one inline tandemd whose ports have `mtu = 9000`.

The endpoints' veths run at MTU 9000; the node's two veths start at the
kernel's 1500, which drops any larger frame on its way into the node. tandemd
sets its ports' MTU at start (af_packet sets it on the kernel interface), so:

- the node-side interfaces report MTU 9000, and `show interfaces` shows 9000
  for both ports;
- UDP datagrams of 8,900 payload bytes (8,942-byte frames, sent with DF)
  are echoed end to end: every request answered, none lost, and tandemd's
  ports counted frames of that size (rx bytes / rx packets);
- ordinary 64-byte datagrams still pass;
- the node stops cleanly;
- a port whose af_packet blocks do not hold whole frames (which would lose
  frames silently) stops start-up with the reason.

Without the port setting the node-side veths stay at 1500 and every jumbo
datagram is dropped before tandemd sees it.

    /usr/bin/python3 tests/lab/test_jumbo.py [--tandemd PATH]

Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import InlineLab, LabError, link_info  # noqa: E402
from labkit.checks import Checklist  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
from nodes import Rule, TandemdNode  # noqa: E402

MTU = 9000
UDP = 5353
PAYLOAD = 8900      # + ~24 bytes of request tag, + 8 UDP + 20 IPv4 < 9000
POLICY = (Rule("udp", (UDP,), name="udp-echo"),)


class BadRingNode(TandemdNode):
    """tandemd whose af_packet blocks (16 KiB) do not hold whole frames."""

    def config_text(self, lab, socket_path: str) -> str:
        return super().config_text(lab, socket_path).replace("blocksz=36864", "blocksz=16384")


def run(args) -> int:
    checks = Checklist()
    check = checks.check

    with InlineLab() as lab:
        for ns, iface in ((lab.client, lab.client_if), (lab.server, lab.server_if)):
            ns.run(["ip", "link", "set", iface, "mtu", str(MTU)])
        before = {i: link_info(lab.node_ns, i)["mtu"] for i in (lab.inside_if, lab.outside_if)}
        print(f"node-side interfaces before tandemd: {before}")
        lab.start_service("server", "server", ["serve", "--udp", str(UDP)])
        node = TandemdNode(POLICY, binary=args.tandemd, port_mtu=MTU)
        lab.set_node(node)

        after = {i: link_info(lab.node_ns, i)["mtu"] for i in (lab.inside_if, lab.outside_if)}
        check(f"tandemd set its ports' interfaces to MTU {MTU} (were {sorted(before.values())}, "
              f"now {sorted(after.values())})", all(m == MTU for m in after.values()))
        shown = node.control.request("show interfaces", timeout=3.0).get("interfaces", [])
        check(f"show interfaces reports mtu {MTU} on both ports "
              f"({[(p.get('name'), p.get('mtu')) for p in shown]})",
              len(shown) == 2 and all(p.get("mtu") == MTU for p in shown))

        c0 = node.counters()
        big = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(UDP),
                                  "--flows", "4", "--requests", str(args.requests),
                                  "--size", str(PAYLOAD), "--timeout", "1.0"], timeout=60)
        snap = lab.snapshot(timeout=10.0)
        c1 = node.counters()
        check(f"jumbo UDP echo: {big.get('replies')}/{args.requests} answered "
              f"(timeouts {big.get('timeouts')}, errors {big.get('other')})",
              big.get("replies") == args.requests and not big.get("other"))
        def delta(key: str) -> int:
            return c1.get(key, 0) - c0.get(key, 0)
        # ARP (passed without inspection) may ride along; the rest is the echo.
        ip_frames = delta("rx_packets") - delta("passed_non_ip")
        mean = delta("rx_bytes") / delta("rx_packets") if delta("rx_packets") else 0
        check(f"tandemd received {ip_frames} IP frames == 2 x {args.requests} requests and "
              f"replies, {mean:.0f} bytes each on average (> {PAYLOAD})",
              ip_frames == 2 * args.requests and mean > PAYLOAD)
        check("the wire went quiet", snap.settled)

        small = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(UDP),
                                    "--flows", "2", "--requests", "50", "--size", "64"],
                         timeout=30)
        check(f"64-byte UDP echo still passes: {small.get('replies')}/50",
              small.get("replies") == 50)
        stopped = lab.stop_node()
        check(f"tandemd stopped cleanly (exit {stopped.get('exit_code')})",
              stopped.get("exit_code") == 0)

        # An af_packet ring whose blocks do not hold whole frames loses every
        # frame but the first of each block: refused at start, with the fix.
        bad = BadRingNode(POLICY, binary=args.tandemd, port_mtu=MTU)
        try:
            lab.set_node(bad)
            refused, why = False, "tandemd started"
            lab.stop_node()
        except LabError as e:
            refused, why = True, str(e)
        check("a ring with blocksz 16384 and framesz 9216 stops start-up naming both "
              f"({why.splitlines()[-1][:160] if why else ''})",
              refused and "blocksz 16384 is not a multiple of framesz 9216" in why)
    return checks.result()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD"))
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--deadline", type=float, default=120.0)
    a = ap.parse_args()
    return run_standalone(a, run, a.deadline)

if __name__ == "__main__":
    sys.exit(main())
