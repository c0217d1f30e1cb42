"""GENEVE (RFC 8926) with the AWS Gateway Load Balancer options, and the
flow keys of inner IPv4 packets.

A GWLB sends its targets UDP datagrams to port 6081: an 8-byte GENEVE base
header (version 0, protocol IPv4 0x0800, VNI) followed by three options of
class 0x0108 — type 1 the GWLB endpoint id (8 bytes), type 2 the attachment
id (8 bytes), type 3 the flow cookie (4 bytes) — then the inner IP packet.
A target must return each packet with the header and options unchanged.
"""
from __future__ import annotations

import socket
import struct

GENEVE_PORT = 6081
GWLB_CLASS = 0x0108
OPT_ENDPOINT_ID = 1
OPT_ATTACHMENT_ID = 2
OPT_FLOW_COOKIE = 3
ETH_P_IP = 0x0800

# The header this emulator writes: base header + the three options in type
# order. The flow cookie sits at a fixed place in it.
HEADER_LEN = 8 + (4 + 8) + (4 + 8) + (4 + 4)
COOKIE_OPTION_AT = HEADER_LEN - 8
COOKIE_AT = HEADER_LEN - 4
COOKIE_OPTION = struct.pack("!HBB", GWLB_CLASS, OPT_FLOW_COOKIE, 1)

STICKINESS = ("5-tuple", "3-tuple", "2-tuple")
# protocols whose first four payload bytes are source and destination port
PORTED = frozenset((6, 17, 132, 136))  # TCP, UDP, SCTP, UDP-Lite
PROTO_NAMES = {1: "icmp", 6: "tcp", 17: "udp", 47: "gre", 50: "esp", 132: "sctp"}


def geneve_header(vni: int, endpoint_id: bytes, attachment_id: bytes, cookie: bytes) -> bytes:
    """Base header plus the GWLB options (endpoint id, attachment id, flow
    cookie), inner protocol IPv4."""
    if len(endpoint_id) != 8 or len(attachment_id) != 8 or len(cookie) != 4:
        raise ValueError("endpoint and attachment ids are 8 bytes, the cookie 4")
    options = b"".join(struct.pack("!HBB", GWLB_CLASS, t, len(d) // 4) + d
                       for t, d in ((OPT_ENDPOINT_ID, endpoint_id),
                                    (OPT_ATTACHMENT_ID, attachment_id),
                                    (OPT_FLOW_COOKIE, cookie)))
    return struct.pack("!BBHI", len(options) // 4, 0, ETH_P_IP, (vni & 0xFFFFFF) << 8) + options


def parse_header(data: bytes) -> tuple[int, dict[tuple[int, int], bytes]] | None:
    """(header length, {(class, type): option data}) of a GENEVE datagram, or
    None when it is not version 0 or its options run past its end."""
    if len(data) < 8 or data[0] >> 6 != 0:
        return None
    hlen = 8 + (data[0] & 0x3F) * 4
    if len(data) < hlen:
        return None
    options: dict[tuple[int, int], bytes] = {}
    at = 8
    while at < hlen:
        if at + 4 > hlen:
            return None
        cls, typ, length = struct.unpack_from("!HBB", data, at)
        end = at + 4 + (length & 0x1F) * 4
        if end > hlen:
            return None
        options[(cls, typ & 0x7F)] = bytes(data[at + 4:end])
        at = end
    return hlen, options


def cookie_of(data: bytes) -> tuple[int, bytes] | None:
    """(header length, flow cookie) of a returned datagram; None when it has
    no GWLB flow-cookie option or is malformed."""
    if len(data) >= HEADER_LEN and data[COOKIE_OPTION_AT:COOKIE_AT] == COOKIE_OPTION \
            and (data[0] & 0x3F) * 4 + 8 == HEADER_LEN:
        return HEADER_LEN, data[COOKIE_AT:HEADER_LEN]
    parsed = parse_header(data)
    if parsed is None:
        return None
    hlen, options = parsed
    cookie = options.get((GWLB_CLASS, OPT_FLOW_COOKIE))
    if cookie is None or len(cookie) != 4:
        return None
    return hlen, cookie


# --- flow keys ------------------------------------------------------------------------------
#
# A key is the same for both directions of a flow (the two endpoints are
# put in byte order), so a reply is sent to the target of its request. Only
# the first fragment of a datagram carries ports: every fragment (MF set or
# an offset) is keyed without ports, so all fragments of one datagram reach
# one target. ICMP and other protocols without ports are keyed by
# (protocol, addresses) in every mode but 2-tuple.


def key_5tuple(p: bytes) -> bytes:
    a = p[12:16]
    b = p[16:20]
    proto = p[9]
    if proto in PORTED and not (p[6] & 0x3F or p[7]):
        ihl = (p[0] & 0x0F) << 2
        a += p[ihl:ihl + 2]
        b += p[ihl + 2:ihl + 4]
    return bytes((proto,)) + (a + b if a <= b else b + a)


def key_3tuple(p: bytes) -> bytes:
    a = p[12:16]
    b = p[16:20]
    return bytes((p[9],)) + (a + b if a <= b else b + a)


def key_2tuple(p: bytes) -> bytes:
    a = p[12:16]
    b = p[16:20]
    return a + b if a <= b else b + a


KEY_FUNCTIONS = {"5-tuple": key_5tuple, "3-tuple": key_3tuple, "2-tuple": key_2tuple}


def key_text(key: bytes) -> str:
    """A key as text: 'tcp 10.1.0.2:40000 10.3.0.2:5001', 'icmp 10.1.0.2
    10.3.0.2', '10.1.0.2 10.3.0.2' (2-tuple)."""
    if len(key) == 8:
        return f"{socket.inet_ntoa(key[:4])} {socket.inet_ntoa(key[4:])}"
    proto = PROTO_NAMES.get(key[0], str(key[0]))
    rest = key[1:]
    if len(rest) == 12:
        a, pa = socket.inet_ntoa(rest[:4]), int.from_bytes(rest[4:6], "big")
        b, pb = socket.inet_ntoa(rest[6:10]), int.from_bytes(rest[10:12], "big")
        return f"{proto} {a}:{pa} {b}:{pb}"
    return f"{proto} {socket.inet_ntoa(rest[:4])} {socket.inet_ntoa(rest[4:8])}"


def inner_text(p: bytes) -> str:
    """The directional 5-tuple of an inner IPv4 packet, 'udp
    10.1.0.2:1000>10.3.0.2:53' (no ports for fragments and portless
    protocols)."""
    if len(p) < 20:
        return "short"
    proto = PROTO_NAMES.get(p[9], str(p[9]))
    src, dst = socket.inet_ntoa(p[12:16]), socket.inet_ntoa(p[16:20])
    if p[9] in PORTED and not (p[6] & 0x3F or p[7]):
        ihl = (p[0] & 0x0F) << 2
        if len(p) >= ihl + 4:
            sport, dport = struct.unpack_from("!HH", p, ihl)
            return f"{proto} {src}:{sport}>{dst}:{dport}"
    return f"{proto} {src}>{dst}"
