#!/usr/bin/python3
"""A mid-stream TCP segment with no session is dropped and counted.

A control storm proves the path forwards. Then scapy, in the client
namespace, sends bare ACKs to the server's open port for a connection that
never existed: the node must drop each one (dropped_no_session), the
server's interface must never see them (AF_PACKET capture in the server
namespace) and no RST may come back to the client.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import MidstreamAck, TcpStorm, main  # noqa: E402


def configure(ap):
    ap.add_argument("--acks", type=int, default=5)


def build(a):
    return [TcpStorm(20, 10), MidstreamAck(a.acks)]


if __name__ == "__main__":
    sys.exit(main("Mid-stream TCP segment without a session", build, configure=configure))
