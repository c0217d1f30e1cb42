#!/usr/bin/python3
"""The policy is enforced: what it does not allow never reaches a listener.

First a small control storm on an allowed port (a node that forwards nothing
must not pass this test). Then: TCP to a denied port where the server
listens (every attempt times out, dropped_policy counts the SYNs), UDP to a
denied port (one dropped_policy per datagram), and connections in the
reverse direction, from the server side to a client-side listener on a port
that is allowed only from inside to outside.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenarios import DeniedTcp, DeniedUdp, ReverseTcp, TcpStorm, main  # noqa: E402


def configure(ap):
    ap.add_argument("--attempts", type=int, default=5)


def build(a):
    return [TcpStorm(20, 10), DeniedTcp(a.attempts), DeniedUdp(a.attempts),
            ReverseTcp(a.attempts)]


if __name__ == "__main__":
    sys.exit(main("Policy: denied ports and the reverse direction", build, configure=configure))
