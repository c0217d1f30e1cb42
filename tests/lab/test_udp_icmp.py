#!/usr/bin/python3
"""UDP request/reply, ICMP echo, and an ICMP error for a live session.

UDP: 200 requests over 10 connected sockets to an allowed port, every reply
checked (10 sessions). ICMP: 50 echo requests with one identifier (1 session).
ICMP error: a connected UDP socket sends 20 datagrams to a closed port the
policy allows; each ICMP port unreachable must cross the node back to the
sender (ECONNREFUSED) and be counted as icmp_errors_forwarded.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import IcmpEcho, IcmpError, UdpEcho, main  # noqa: E402


def configure(ap):
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--flows", type=int, default=10)
    ap.add_argument("--pings", type=int, default=50)
    ap.add_argument("--errors", type=int, default=20)


def build(a):
    return [UdpEcho(a.requests, a.flows), IcmpEcho(a.pings), IcmpError(a.errors)]


if __name__ == "__main__":
    sys.exit(main("UDP echo, ICMP echo and ICMP errors through the node", build,
                  configure=configure))
