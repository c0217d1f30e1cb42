#!/usr/bin/python3
"""TCP connection storm through the node.

1000 connections (50 at a time) to an allowed port; each sends a random
1-4 KiB payload, half-closes and must read the same bytes back. Counted:
attempted / completed / refused / reset / timed out / mismatched, connect
latency p50/p99; the node must show one session per connection, no drops,
and every frame the endpoints sent received and forwarded.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import TcpStorm, main  # noqa: E402


def configure(ap):
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)


def build(a):
    return [TcpStorm(a.connections, a.concurrency)]


if __name__ == "__main__":
    sys.exit(main("TCP connection storm through the node", build, configure=configure))
