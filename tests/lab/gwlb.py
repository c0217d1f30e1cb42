#!/usr/bin/python3
"""A stand-in for an AWS Gateway Load Balancer, for the GENEVE lab.

Runs in the lab's gateway namespace, between the client and server subnets,
with IP forwarding off: every IPv4 frame the client or the server sends to
the gateway is taken from its interface (AF_PACKET), wrapped in GENEVE (UDP
6081, protocol IPv4, VNI 0, the three GWLB options: endpoint id, attachment
id, flow cookie) and sent to the appliance (tandemd in geneve mode). What
the appliance returns is checked (GENEVE header and options unchanged) and
its inner packet sent on towards its destination (a raw IP socket: the
namespace's routes and neighbours). What the appliance drops never arrives.

Prints one JSON line when ready and one with its counts when it gets
SIGTERM:
  encapsulated  frames wrapped and sent to the appliance
  returned      GENEVE datagrams back from the appliance
  delivered     inner packets sent on
  not_ipv4      frames from the endpoints that were not IPv4 (ignored)
  bad_return    datagrams back that were not GENEVE as sent (header or
                options changed, or truncated); not delivered
"""
import argparse
import json
import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
GWLB_CLASS = 0x0108


def geneve_header(vni: int, endpoint: bytes, attachment: bytes, cookie: bytes) -> bytes:
    """GENEVE base header (RFC 8926) plus the GWLB options, inner protocol IPv4."""
    options = b""
    for opt_type, data in ((1, endpoint), (2, attachment), (3, cookie)):
        options += struct.pack("!HBB", GWLB_CLASS, opt_type, len(data) // 4) + data
    return struct.pack("!BBHI", len(options) // 4, 0, ETH_P_IP, vni << 8) + options


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint-if", action="append", required=True,
                    help="interface facing a client or server subnet (repeat)")
    ap.add_argument("--listen", required=True, help="this side's address to the appliance")
    ap.add_argument("--appliance", required=True, help="the appliance's address")
    ap.add_argument("--port", type=int, default=6081)
    ap.add_argument("--vni", type=int, default=0)
    args = ap.parse_args()

    header = geneve_header(args.vni, bytes(range(1, 9)), bytes([9] * 8), bytes.fromhex("cafef00d"))
    counts = {"encapsulated": 0, "returned": 0, "delivered": 0, "not_ipv4": 0, "bad_return": 0}

    taps = []
    for name in args.endpoint_if:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((name, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        taps.append(s)
    tunnel = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tunnel.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    tunnel.bind((args.listen, args.port))
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    stopping = False

    def on_term(_sig, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(json.dumps({"event": "ready", "header_len": len(header)}), flush=True)

    appliance = (args.appliance, args.port)
    while not stopping:
        try:
            ready, _, _ = select.select(taps + [tunnel], [], [], 0.2)
        except InterruptedError:
            continue
        for s in ready:
            if s is tunnel:
                data, _ = tunnel.recvfrom(65535)
                counts["returned"] += 1
                if len(data) < len(header) + 20 or data[:len(header)] != header:
                    counts["bad_return"] += 1
                    continue
                inner = data[len(header):]
                dst = socket.inet_ntoa(inner[16:20])
                out.sendto(inner, (dst, 0))
                counts["delivered"] += 1
                continue
            frame, addr = s.recvfrom(65535)
            if addr[2] == PACKET_OUTGOING:
                continue
            if len(frame) < 34 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
                counts["not_ipv4"] += 1
                continue
            total = struct.unpack("!H", frame[16:18])[0]
            tunnel.sendto(header + frame[14:14 + total], appliance)  # without Ethernet padding
            counts["encapsulated"] += 1
    print(json.dumps({"event": "stopped", **counts}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
