#!/usr/bin/python3
"""Every single-node inline scenario on one node, then the node's counters
over the whole run against the sum of what each scenario sent.

TCP storm (1000 connections), denied TCP and UDP, reverse direction,
mid-stream ACK, UDP echo, ICMP echo, ICMP error. At the end, e.g.
sessions_created == connections + UDP flows + ICMP identifiers + ICMP-error
flows, dropped_no_session == ACKs sent, rx_packets == frames the endpoints
sent, forwarded + drops == rx_packets.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import (DeniedTcp, DeniedUdp, IcmpEcho, IcmpError, MidstreamAck,  # noqa: E402
                       ReverseTcp, TcpStorm, UdpEcho, main)


def configure(ap):
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)


def build(a):
    return [TcpStorm(a.connections, a.concurrency), DeniedTcp(), DeniedUdp(), ReverseTcp(),
            MidstreamAck(), UdpEcho(), IcmpEcho(), IcmpError()]


if __name__ == "__main__":
    sys.exit(main("All single-node inline scenarios, counters reconciled", build,
                  configure=configure))
