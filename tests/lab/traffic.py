#!/usr/bin/python3
"""Traffic tools for the namespace lab, on real Linux sockets.

Run inside a namespace (`ip netns exec NS /usr/bin/python3 traffic.py CMD ...`).
One-shot tools print one JSON object with counted outcomes on stdout and exit
0 (a failed connection is an outcome, not an error). Long-running tools
(`serve`, `capture`) print {"event":"ready",...} once listening, a
{"event":"stats",...} line on SIGUSR1, and a final line on SIGTERM.

    serve       TCP echo (read to EOF, echo, close) and UDP echo listeners
    tcp-storm   N connections, bounded concurrency, random payload echoed
    udp         request/reply over F connected sockets (also: closed port)
    icmp-echo   echo requests on a raw socket, replies matched by id/seq
    bare-ack    scapy: TCP ACK segments that belong to no connection
    capture     count matching TCP frames on an interface (AF_PACKET)
    flows       UDP flows and TCP connections from chosen source addresses
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def ports(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p]


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def errno_name(e: OSError) -> str:
    return errno.errorcode.get(e.errno or 0, type(e).__name__)


# --- serve ----------------------------------------------------------------------------


def cmd_serve(a) -> int:
    return asyncio.run(_serve(a))


async def _serve(a) -> int:
    loop = asyncio.get_running_loop()
    tcp = {p: {"accepted": 0, "echoed": 0, "bytes": 0, "errors": 0} for p in ports(a.tcp)}
    udp = {p: {"received": 0, "sent": 0, "bytes": 0} for p in ports(a.udp)}

    def handler(port):
        async def handle(reader, writer):
            st = tcp[port]
            st["accepted"] += 1
            try:
                data = await asyncio.wait_for(reader.read(-1), a.io_timeout)
                writer.write(data)
                await asyncio.wait_for(writer.drain(), a.io_timeout)
                st["echoed"] += 1
                st["bytes"] += len(data)
            except (asyncio.TimeoutError, OSError):
                st["errors"] += 1
            finally:
                writer.close()
        return handle

    class UdpEcho(asyncio.DatagramProtocol):
        def __init__(self, port):
            self.port = port

        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            st = udp[self.port]
            st["received"] += 1
            st["bytes"] += len(data)
            self.transport.sendto(data, addr)
            st["sent"] += 1

    servers = []
    for p in tcp:
        servers.append(await asyncio.start_server(handler(p), host=a.bind, port=p,
                                                  backlog=4096, reuse_address=True))
    transports = []
    for p in udp:
        t, _ = await loop.create_datagram_endpoint(lambda p=p: UdpEcho(p), local_addr=(a.bind, p))
        transports.append(t)

    stop = asyncio.Event()

    def snapshot(event):
        return {"event": event, "tcp": {str(k): v for k, v in tcp.items()},
                "udp": {str(k): v for k, v in udp.items()}}

    loop.add_signal_handler(signal.SIGUSR1, lambda: emit(snapshot("stats")))
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    emit({"event": "ready", "tcp": list(tcp), "udp": list(udp), "pid": os.getpid()})
    await stop.wait()
    for s in servers:
        s.close()
    for t in transports:
        t.close()
    emit(snapshot("stopped"))
    return 0


# --- tcp-storm -----------------------------------------------------------------------------

# struct tcp_info: 8 one-byte fields, then u32 tcpi_rto ... tcpi_rtt is the
# 16th u32 (microseconds). Right after connect it is the handshake's RTT as
# the kernel measured it, free of this process's scheduling delays.
_TCPI_RTT_OFFSET = 8 + 15 * 4


def handshake_rtt(sock) -> float | None:
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
        return struct.unpack_from("I", info, _TCPI_RTT_OFFSET)[0] / 1e6
    except (OSError, struct.error, AttributeError):
        return None



def cmd_tcp_storm(a) -> int:
    emit(asyncio.run(_tcp_storm(a)))
    return 0


async def _tcp_storm(a) -> dict:
    rng = random.Random(a.seed)
    counts = {"attempted": 0, "completed": 0, "refused": 0, "reset": 0, "connect_timeout": 0,
              "io_timeout": 0, "mismatch": 0, "not_started": 0}
    other: dict[str, int] = {}
    latencies: list[float] = []
    rtts: list[float] = []
    bytes_sent = bytes_verified = 0
    sem = asyncio.Semaphore(a.concurrency)
    payloads = [rng.randbytes(rng.randint(a.min_size, a.max_size)) for _ in range(a.count)]
    started = time.monotonic()
    end = started + a.deadline

    async def one(i: int, payload: bytes) -> None:
        nonlocal bytes_sent, bytes_verified
        if a.rate:   # paced: connection i starts no earlier than i / rate seconds in
            await asyncio.sleep(max(0.0, started + i / a.rate - time.monotonic()))
        async with sem:
            if time.monotonic() > end:
                counts["not_started"] += 1
                return
            counts["attempted"] += 1
            t0 = time.perf_counter()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(a.dst, a.port), a.connect_timeout)
            except asyncio.TimeoutError:
                counts["connect_timeout"] += 1
                return
            except ConnectionRefusedError:
                counts["refused"] += 1
                return
            except ConnectionResetError:
                counts["reset"] += 1
                return
            except OSError as e:
                other[errno_name(e)] = other.get(errno_name(e), 0) + 1
                return
            latencies.append(time.perf_counter() - t0)
            rtt = handshake_rtt(writer.get_extra_info("socket"))
            if rtt is not None:
                rtts.append(rtt)
            try:
                writer.write(payload)
                bytes_sent += len(payload)
                await asyncio.wait_for(writer.drain(), a.io_timeout)
                writer.write_eof()
                got = await asyncio.wait_for(reader.read(-1), a.io_timeout)
                if got == payload:
                    counts["completed"] += 1
                    bytes_verified += len(got)
                else:
                    counts["mismatch"] += 1
            except asyncio.TimeoutError:
                counts["io_timeout"] += 1
            except (ConnectionResetError, BrokenPipeError):
                counts["reset"] += 1
            except OSError as e:
                other[errno_name(e)] = other.get(errno_name(e), 0) + 1
            finally:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), 1.0)
                except (asyncio.TimeoutError, OSError):
                    pass

    await asyncio.gather(*(one(i, p) for i, p in enumerate(payloads)))
    latencies.sort()
    rtts.sort()
    return {"tool": "tcp-storm", "dst": a.dst, "port": a.port, "count": a.count,
            "concurrency": a.concurrency, **counts, "other": other,
            "timed_out": counts["connect_timeout"] + counts["io_timeout"],
            "bytes_sent": bytes_sent, "bytes_verified": bytes_verified,
            "connect_ms": {"p50": ms(percentile(latencies, 0.50)),
                           "p99": ms(percentile(latencies, 0.99)),
                           "max": ms(latencies[-1] if latencies else None)},
            "slow_connects": sum(1 for x in latencies if x >= 1.0),
            "handshake_rtt_ms": {"p50": ms(percentile(rtts, 0.50)),
                                 "p99": ms(percentile(rtts, 0.99))},
            "elapsed_s": round(time.monotonic() - started, 3)}


# --- udp ------------------------------------------------------------------------------


def cmd_udp(a) -> int:
    rng = random.Random(a.seed)
    socks = []
    for _ in range(a.flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((a.dst, a.port))
        socks.append(s)
    counts = {"sent": 0, "replies": 0, "refused": 0, "late_refused": 0, "timeouts": 0,
              "mismatch": 0}
    other: dict[str, int] = {}
    rtts = []
    started = time.monotonic()
    for i in range(a.requests):
        s = socks[i % a.flows]
        payload = f"{i}:{rng.getrandbits(64):016x}:".encode() + rng.randbytes(a.size)
        try:
            s.send(payload)
        except ConnectionRefusedError:
            # the error of an earlier datagram that arrived after its wait
            counts["late_refused"] += 1
            s.send(payload)
        counts["sent"] += 1
        t0 = time.perf_counter()
        deadline = t0 + a.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                counts["timeouts"] += 1
                break
            s.settimeout(left)
            try:
                got = s.recv(65535)
            except socket.timeout:
                counts["timeouts"] += 1
                break
            except ConnectionRefusedError:
                counts["refused"] += 1
                break
            except OSError as e:
                other[errno_name(e)] = other.get(errno_name(e), 0) + 1
                break
            if got == payload:
                counts["replies"] += 1
                rtts.append(time.perf_counter() - t0)
                break
            if not got.startswith(f"{i}:".encode()):
                continue  # a late reply to an earlier request
            counts["mismatch"] += 1
            break
        if a.interval:
            time.sleep(a.interval)
    sports = sorted(s.getsockname()[1] for s in socks)
    for s in socks:
        s.close()
    rtts.sort()
    emit({"tool": "udp", "dst": a.dst, "port": a.port, "flows": a.flows,
          "requests": a.requests, **counts, "other": other, "sports": sports,
          "rtt_ms": {"p50": ms(percentile(rtts, 0.5)), "p99": ms(percentile(rtts, 0.99))},
          "elapsed_s": round(time.monotonic() - started, 3)})
    return 0


# --- icmp-echo -----------------------------------------------------------------------------


def inet_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def cmd_icmp_echo(a) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = a.ident if a.ident is not None else os.getpid() & 0xFFFF
    counts = {"sent": 0, "replies": 0, "lost": 0, "other_icmp": 0}
    rtts = []
    started = time.monotonic()
    for seq in range(a.count):
        body = struct.pack("!d", time.time()) + bytes(range(48))
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        csum = inet_checksum(hdr + body)
        s.sendto(struct.pack("!BBHHH", 8, 0, csum, ident, seq) + body, (a.dst, 0))
        counts["sent"] += 1
        t0 = time.perf_counter()
        deadline = t0 + a.timeout
        got = False
        while not got:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            r, _, _ = select.select([s], [], [], left)
            if not r:
                break
            pkt, addr = s.recvfrom(65535)
            ihl = (pkt[0] & 0x0F) * 4
            if len(pkt) < ihl + 8 or addr[0] != a.dst:
                continue
            typ, _, _, rid, rseq = struct.unpack("!BBHHH", pkt[ihl:ihl + 8])
            if typ == 0 and rid == ident and rseq == seq:
                got = True
                rtts.append(time.perf_counter() - t0)
            elif typ != 8:
                counts["other_icmp"] += 1
        if got:
            counts["replies"] += 1
        else:
            counts["lost"] += 1
        if a.interval:
            time.sleep(a.interval)
    rtts.sort()
    emit({"tool": "icmp-echo", "dst": a.dst, "ident": ident, **counts,
          "rtt_ms": {"p50": ms(percentile(rtts, 0.5)), "p99": ms(percentile(rtts, 0.99))},
          "elapsed_s": round(time.monotonic() - started, 3)})
    return 0


# --- raw frames: bare-ack and capture ----------------------------------------------------

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TCP_FLAG_NAMES = "FSRPAUEC"


def tcp_flags_text(flags: int) -> str:
    return "".join(n for i, n in enumerate(TCP_FLAG_NAMES) if flags & (1 << i)) or "."


def parse_tcp(frame: bytes):
    """(src, dst, sport, dport, flags) of an untagged IPv4/TCP frame, else None."""
    if len(frame) < 14 + 20 + 20 or frame[12:14] != b"\x08\x00":
        return None
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 6 or len(ip) < ihl + 20:
        return None
    src = socket.inet_ntoa(ip[12:16])
    dst = socket.inet_ntoa(ip[16:20])
    sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
    return src, dst, sport, dport, ip[ihl + 13]


def open_capture(iface: str) -> socket.socket:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    return s


def collect(sock: socket.socket, seconds: float, match, stop=lambda: False) -> tuple[list, int]:
    """Frames accepted by `match(tuple)` within `seconds` (incoming only)."""
    hits, seen = [], 0
    end = time.monotonic() + seconds
    while not stop():
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([sock], [], [], min(left, 0.2))
        if not r:
            continue
        frame, addr = sock.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        seen += 1
        t = parse_tcp(frame)
        if t and match(t):
            hits.append({"src": t[0], "dst": t[1], "sport": t[2], "dport": t[3],
                         "flags": tcp_flags_text(t[4])})
    return hits, seen


def cmd_bare_ack(a) -> int:
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.sendrecv import sendp

    rng = random.Random(a.seed)
    sport = a.sport or rng.randint(40000, 60000)
    rx = open_capture(a.iface)
    frame = (Ether(src=a.src_mac, dst=a.dst_mac) /
             IP(src=a.src, dst=a.dst, ttl=64) /
             TCP(sport=sport, dport=a.dport, flags="A",
                 seq=rng.getrandbits(32), ack=rng.getrandbits(32), window=502))
    sendp(frame, iface=a.iface, count=a.count, inter=a.interval, verbose=False)
    replies, _ = collect(rx, a.listen,
                         lambda t: t[0] == a.dst and t[1] == a.src and t[3] == sport)
    emit({"tool": "bare-ack", "sent": a.count, "sport": sport, "dport": a.dport,
          "frame_len": len(bytes(frame)), "replies": len(replies), "reply_flags":
          sorted({r["flags"] for r in replies})})
    return 0


def cmd_capture(a) -> int:
    sock = open_capture(a.iface)
    stopping = {"now": False}

    def on_term(_s, _f):
        stopping["now"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    def match(t):
        src, dst, sport, dport, _ = t
        return ((a.src is None or src == a.src) and (a.dst is None or dst == a.dst) and
                (a.sport is None or sport == a.sport) and (a.dport is None or dport == a.dport))

    emit({"event": "ready", "iface": a.iface})
    hits, seen = collect(sock, a.seconds, match, stop=lambda: stopping["now"])
    emit({"event": "stopped", "tool": "capture", "matched": len(hits), "frames_seen": seen,
          "hits": hits[:20]})
    return 0


# --- command line -----------------------------------------------------------------------


def _parser_serve(sub) -> None:
    p = sub.add_parser("serve")
    p.add_argument("--bind", default="0.0.0.0")
    p.add_argument("--tcp", default="")
    p.add_argument("--udp", default="")
    p.add_argument("--io-timeout", type=float, default=10.0)
    p.set_defaults(fn=cmd_serve)


def _parser_tcp_storm(sub) -> None:
    p = sub.add_parser("tcp-storm")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=50)
    p.add_argument("--min-size", type=int, default=1024)
    p.add_argument("--max-size", type=int, default=4096)
    p.add_argument("--connect-timeout", type=float, default=3.0)
    p.add_argument("--io-timeout", type=float, default=5.0)
    p.add_argument("--deadline", type=float, default=90.0,
                   help="start no new connection after this many seconds")
    p.add_argument("--rate", type=float, default=0.0,
                   help="start at most this many connections a second (0: as fast as they go)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(fn=cmd_tcp_storm)


def _parser_udp(sub) -> None:
    p = sub.add_parser("udp")
    p.add_argument("--dst", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--flows", type=int, default=1)
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--interval", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(fn=cmd_udp)


def _parser_icmp_echo(sub) -> None:
    p = sub.add_parser("icmp-echo")
    p.add_argument("--dst", required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--ident", type=int)
    p.add_argument("--timeout", type=float, default=1.0)
    p.add_argument("--interval", type=float, default=0.01)
    p.set_defaults(fn=cmd_icmp_echo)


def _parser_bare_ack(sub) -> None:
    p = sub.add_parser("bare-ack")
    p.add_argument("--iface", required=True)
    p.add_argument("--src", required=True)
    p.add_argument("--dst", required=True)
    p.add_argument("--src-mac", required=True)
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--sport", type=int, default=0)
    p.add_argument("--count", type=int, default=5)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--listen", type=float, default=1.5,
                   help="seconds to watch for an answer from dst")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(fn=cmd_bare_ack)


def _parser_capture(sub) -> None:
    p = sub.add_parser("capture")
    p.add_argument("--iface", required=True)
    p.add_argument("--src")
    p.add_argument("--dst")
    p.add_argument("--sport", type=int)
    p.add_argument("--dport", type=int)
    p.add_argument("--seconds", type=float, default=10.0, help="upper bound on the capture")
    p.set_defaults(fn=cmd_capture)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    _parser_serve(sub)
    _parser_tcp_storm(sub)
    _parser_udp(sub)
    _parser_icmp_echo(sub)
    _parser_bare_ack(sub)
    _parser_capture(sub)
    # the pair lab's tools (stream-serve, rr-long, ha-garbage, peer-garbage)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        import pair_traffic
    except ImportError:
        pair_traffic = None
    if pair_traffic is not None:
        pair_traffic.add_commands(sub)
    import flows_traffic  # the GWLB emulator's lab test: flows from chosen sources
    flows_traffic.add_commands(sub)
    import health_traffic  # the GENEVE failover lab: health checks by hand, garbage
    health_traffic.add_commands(sub)
    import link_impairer  # the impaired sync link labs: netem's impairments in a relay
    link_impairer.add_commands(sub)
    import app_traffic  # the application identity labs: TLS, HTTP and DNS
    app_traffic.add_commands(sub)
    import nat_traffic  # the address translation lab: sources seen, translations shared
    nat_traffic.add_commands(sub)

    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
