"""`health-probe`: what a load balancer's health checker sees, and garbage
for the health-check port (traffic.py CMD; the GENEVE failover lab).

    health-probe  from this namespace to --dst:--port, in this order:
                  --tcp N        N TCP handshakes: accepted / refused (reset) /
                                 no answer, each closed at once
                  --http "METHOD PATH" (repeat)   one connection each: the
                                 request, then the status line (or reset /
                                 no answer / end of stream without a reply)
                  --payload TEXT (repeat)  one connection each: TEXT as is,
                                 then whatever comes back within --timeout
                  --segments N   N hand-made TCP segments that belong to no
                                 connection (ACK, PSH-ACK with data, FIN-ACK,
                                 no flags, URG-PSH-FIN; random sequence and
                                 acknowledgement numbers, random source
                                 ports), sent through a raw socket; any
                                 segment from dst:port back to those ports
                                 within --listen seconds is counted as a reply

Prints one JSON object: per item its outcome, and the totals.
"""
from __future__ import annotations

import json
import os
import random
import select
import socket
import struct
import sys
import time


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def _connect(dst: str, port: int, timeout: float) -> tuple[socket.socket | None, str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((dst, port))
    except socket.timeout:
        s.close()
        return None, "no answer"
    except ConnectionRefusedError:
        s.close()
        return None, "refused"
    except OSError as e:
        s.close()
        return None, os.strerror(e.errno) if e.errno else str(e)
    return s, "accepted"


def _read_reply(s: socket.socket, timeout: float, until_status: bool) -> tuple[bytes, str]:
    """What the peer sends within `timeout` (up to the end of the status
    line when `until_status`), and how the read ended."""
    end = time.monotonic() + timeout
    buf = b""
    while True:
        if until_status and b"\r\n" in buf:
            return buf, "status"
        left = end - time.monotonic()
        if left <= 0:
            return buf, "timeout"
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            return buf, "timeout"
        except ConnectionResetError:
            return buf, "reset"
        except OSError as e:
            return buf, os.strerror(e.errno) if e.errno else str(e)
        if not chunk:
            return buf, "eof"
        buf += chunk


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _segment(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
             payload: bytes, ident: int) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(tcp) + len(payload))
    csum = _checksum(pseudo + tcp + payload)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, 0x4000, 64, socket.IPPROTO_TCP, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return ip + tcp + payload


FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
GARBAGE_KINDS = (("ack", ACK, 0), ("psh-ack+data", PSH | ACK, 48), ("fin-ack", FIN | ACK, 0),
                 ("no-flags+data", 0, 16), ("urg-psh-fin", URG | PSH | FIN, 8))


def _source_for(dst: str) -> str:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect((dst, 9))
        return s.getsockname()[0]
    finally:
        s.close()


def send_garbage(a, rng: random.Random) -> dict:
    src = _source_for(a.dst)
    tx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    rx.setblocking(False)
    dst_raw = socket.inet_aton(a.dst)
    sports: dict[int, str] = {}
    by_kind: dict[str, int] = {}
    for i in range(a.segments):
        name, flags, size = GARBAGE_KINDS[i % len(GARBAGE_KINDS)]
        sport = rng.randrange(20000, 32000)   # below the ephemeral ports
        while sport in sports:
            sport = rng.randrange(20000, 32000)
        sports[sport] = name
        payload = rng.randbytes(size)
        tx.sendto(_segment(src, a.dst, sport, a.port, rng.getrandbits(32), rng.getrandbits(32),
                           flags, payload, rng.getrandbits(16)), (a.dst, 0))
        by_kind[name] = by_kind.get(name, 0) + 1
        time.sleep(a.segment_interval)
    replies = 0
    replied: dict[str, int] = {}
    end = time.monotonic() + a.listen
    while time.monotonic() < end:
        r, _, _ = select.select([rx], [], [], max(0.0, end - time.monotonic()))
        if not r:
            break
        try:
            pkt = rx.recv(65535)
        except BlockingIOError:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        if pkt[12:16] != dst_raw or len(pkt) < ihl + 4:
            continue
        sp, dp = struct.unpack("!HH", pkt[ihl:ihl + 4])
        if sp == a.port and dp in sports:
            replies += 1
            flags = pkt[ihl + 13] if len(pkt) > ihl + 13 else 0
            what = f"{sports[dp]} -> flags 0x{flags:02x}"
            replied[what] = replied.get(what, 0) + 1
    tx.close()
    rx.close()
    return {"sent": a.segments, "by_kind": by_kind, "replies": replies, "replied": replied,
            "source": src}


def cmd_health_probe(a) -> int:
    rng = random.Random(a.seed)
    out: dict = {"event": "done", "tool": "health-probe", "dst": a.dst, "port": a.port}
    tcp = []
    for _ in range(a.tcp):
        s, how = _connect(a.dst, a.port, a.timeout)
        if s is not None:
            s.close()
        tcp.append(how)
    out["tcp"] = tcp
    http = []
    for req in a.http:
        method, _, path = req.partition(" ")
        s, how = _connect(a.dst, a.port, a.timeout)
        if s is None:
            http.append({"request": req, "connect": how, "status": None})
            continue
        s.sendall(f"{method} {path or '/'} HTTP/1.1\r\nHost: {a.dst}\r\n"
                  f"User-Agent: lab-health-probe\r\nConnection: close\r\n\r\n".encode())
        buf, ended = _read_reply(s, a.timeout, until_status=True)
        s.close()
        line = buf.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        status = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
        http.append({"request": req, "connect": how, "status": status, "line": line[:80],
                     "ended": ended})
    out["http"] = http
    raw = []
    for text in a.payload:
        s, how = _connect(a.dst, a.port, a.timeout)
        if s is None:
            raw.append({"payload": text[:40], "connect": how, "reply_bytes": None})
            continue
        s.sendall(text.encode("latin-1").decode("unicode_escape").encode("latin-1"))
        buf, ended = _read_reply(s, a.timeout, until_status=False)
        s.close()
        raw.append({"payload": text[:40], "connect": how, "reply_bytes": len(buf),
                    "reply": buf[:60].decode("latin-1"), "ended": ended})
    out["payload"] = raw
    if a.segments:
        out["segments"] = send_garbage(a, rng)
    emit(out)
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("health-probe",
                       help="health checks by hand and garbage to the health-check port")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--tcp", type=int, default=0, help="TCP handshakes")
    p.add_argument("--http", action="append", default=[], metavar="'METHOD PATH'")
    p.add_argument("--payload", action="append", default=[],
                   help="bytes sent after a handshake (backslash escapes allowed)")
    p.add_argument("--segments", type=int, default=0, help="TCP segments of no connection")
    p.add_argument("--segment-interval", type=float, default=0.002)
    p.add_argument("--listen", type=float, default=1.0,
                   help="seconds to watch for replies to the segments")
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=13)
    p.set_defaults(fn=cmd_health_probe)
