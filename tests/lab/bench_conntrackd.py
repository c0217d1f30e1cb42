#!/usr/bin/python3
"""Session replication: tandem's HA sync against Debian's conntrackd, same N.

conntrackd side, per repeat, in two namespaces this script creates (joined by
one veth, 192.168.213.1/.2), each running conntrackd with FTFW over UDP on
that veth and its own lock, socket and log in a work directory:

  live  N conntrack entries are created in the sender's kernel table (TCP,
        ESTABLISHED, ASSURED, 1 h timeout) by ctnetlink requests, as
        `conntrack -I` makes them, but 64 per send() (`conntrack -I` or
        `-R` manage ~30 k/s here, which would bound the figure). conntrackd
        sees them as ctnetlink NEW events, as it sees real connections, and
        sends them to its peer. Timed from the start of the load to the
        receiver's external cache holding N (`conntrackd -s`, polled); the
        load alone is timed too.
  bulk  the receiver's external cache is flushed (`conntrackd -f external`)
        and it asks for a resync (`conntrackd -n`): the sender sends its
        whole internal cache. Timed from the request to the external cache
        holding N again.

tandem side: tests/bench/repl_bench (two HA agents, real ZeroMQ transport on
loopback, CURVE on) with the same N, and at 1 M sessions; its live figure
(incremental replication, closed loop) and its bulk sync time.

N defaults to 200 000: the kernel's nf_conntrack_max (a host-wide setting,
262 144 here) caps the table of any namespace, and this script changes
nothing outside the namespaces it creates. A benchmark, not a test: exit 0
when it measured, 2 when it could not, 77 when the machine cannot run it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import (LabError, LabInterrupted, LabSkip, Namespace, add_veth,  # noqa: E402
                 arm_watchdog, install_signal_handlers, make_workdir,
                 require_lab_environment, run, unique_prefix, Process)
from skip_policy import skip_exit  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBNET = "192.168.213"
PORT = 3780

CONF = """Sync {{
	Mode FTFW {{
		ResendQueueSize 262144
		DisableExternalCache Off
	}}
	UDP {{
		IPv4_address {me}
		IPv4_Destination_Address {peer}
		Port {port}
		Interface {dev}
		SndSocketBuffer 24985600
		RcvSocketBuffer 24985600
		Checksum on
	}}
}}
General {{
	Systemd off
	HashSize 262144
	HashLimit 4194304
	LogFile {dir}/{name}.log
	Syslog off
	LockFile {dir}/{name}.lock
	UNIX {{
		Path {dir}/{name}.ctl
	}}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 268435456
}}
"""


def ensure_conntrackd() -> None:
    """Installs conntrackd and conntrack when missing (benchmarks may)."""
    import shutil
    if shutil.which("conntrackd") and shutil.which("conntrack"):
        return
    print("installing conntrackd and conntrack (apt-get)", flush=True)
    p = subprocess.run(["apt-get", "install", "-y", "conntrackd", "conntrack"],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0 or not shutil.which("conntrackd"):
        raise LabSkip("conntrackd is not installed and apt-get could not install it")


class Node:
    """One namespace with conntrackd."""

    def __init__(self, ns: Namespace, name: str, dev: str, me: str, peer: str,
                 workdir: str) -> None:
        self.ns, self.name = ns, name
        self.conf = os.path.join(workdir, f"{name}.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(me=me, peer=peer, port=PORT, dev=dev, dir=workdir, name=name))
        self.log = os.path.join(workdir, f"{name}.log")
        # Foreground (no -d): the Process is ours to kill on every exit path.
        self.proc = ns.spawn(f"conntrackd {name}", ["conntrackd", "-C", self.conf],
                             log_path=os.path.join(workdir, f"{name}.out"))

    def ctl(self, *args: str, timeout: float = 30.0) -> str:
        return self.ns.run(["conntrackd", "-C", self.conf, *args], timeout=timeout).stdout

    def cache(self, which: str) -> int:
        """Current entries of the internal or external cache."""
        out = self.ctl("-s")
        m = re.search(rf"cache {which}:\s*\ncurrent active connections:\s*(\d+)", out)
        if not m:
            raise LabError(f"conntrackd {self.name}: unexpected `-s` output:\n{out}")
        return int(m.group(1))

    def wait_ready(self, seconds: float = 10.0) -> None:
        end = time.monotonic() + seconds
        while True:
            if not self.proc.alive():
                raise LabError(f"conntrackd {self.name} exited: {tail(self.log)}")
            try:
                self.cache("internal")
                return
            except LabError:
                if time.monotonic() > end:
                    raise
            time.sleep(0.05)

    def wait_external(self, n: int, seconds: float) -> float:
        """Polls until the external cache holds n; returns when (monotonic)."""
        end = time.monotonic() + seconds
        while True:
            now = time.monotonic()
            have = self.cache("external")
            if have >= n:
                return now if have == n else time.monotonic()
            if now > end:
                raise LabError(f"conntrackd {self.name}: external cache holds {have} of {n} "
                               f"after {seconds:.0f} s")
            time.sleep(0.01)


def tail(path: str, lines: int = 5) -> str:
    try:
        with open(path) as f:
            return " | ".join(f.read().splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ctnetlink (linux/netfilter/nfnetlink_conntrack.h): enough to create
# established TCP entries in bulk, many per send(), as `conntrack -I` does
# one at a time.
NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW = 0
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLA_F_NESTED = 0x8000
CTA_TUPLE_ORIG, CTA_TUPLE_REPLY, CTA_STATUS, CTA_PROTOINFO, CTA_TIMEOUT = 1, 2, 3, 4, 7
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_PROTOINFO_TCP, CTA_PROTOINFO_TCP_STATE = 1, 1
IPS_SEEN_REPLY, IPS_ASSURED, IPS_CONFIRMED = 1 << 1, 1 << 2, 1 << 3
TCP_CONNTRACK_ESTABLISHED = 3


def _nla(kind: int, payload: bytes, nested: bool = False) -> bytes:
    import struct
    head = struct.pack("=HH", 4 + len(payload), kind | (NLA_F_NESTED if nested else 0))
    return head + payload + b"\0" * ((4 - len(payload) % 4) % 4)


def _tuple(kind: int, src: bytes, dst: bytes, sport: int, dport: int) -> bytes:
    import struct
    ip = _nla(CTA_TUPLE_IP, _nla(CTA_IP_V4_SRC, src) + _nla(CTA_IP_V4_DST, dst), True)
    proto = _nla(CTA_TUPLE_PROTO, _nla(CTA_PROTO_NUM, b"\x06") +
                 _nla(CTA_PROTO_SRC_PORT, struct.pack(">H", sport)) +
                 _nla(CTA_PROTO_DST_PORT, struct.pack(">H", dport)), True)
    return _nla(kind, ip + proto, True)


def insert_entries(n: int) -> int:
    """Creates n established TCP entries (10.a.b.c:1024 -> 10.200.0.1:443,
    n <= 2^22) in this
    namespace's conntrack table, one ctnetlink request each, many requests
    per send(); every 1024th asks for an ack so errors and the end are seen.
    Returns 0, or 1 after printing the first error."""
    import socket
    import struct
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind((0, 0))
    server = socket.inet_aton("10.200.0.1")
    tail = (_nla(CTA_STATUS, struct.pack(">I", IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED)) +
            _nla(CTA_TIMEOUT, struct.pack(">I", 3600)) +
            _nla(CTA_PROTOINFO, _nla(CTA_PROTOINFO_TCP, _nla(CTA_PROTOINFO_TCP_STATE,
                                                             bytes([TCP_CONNTRACK_ESTABLISHED])),
                                     True), True))
    msg_type = NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW
    # One message, built once around a marker address and cut where the
    # client address goes: each entry is then a join of bytes.
    marker = b"\xde\xad\xbe\xef"
    body = (struct.pack("=BBH", socket.AF_INET, 0, 0) +
            _tuple(CTA_TUPLE_ORIG, marker, server, 1024, 443) +
            _tuple(CTA_TUPLE_REPLY, server, marker, 443, 1024) + tail)
    parts = body.split(marker)
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL
    head = struct.pack("=IHHII", 16 + len(body), msg_type, flags, 0, 0)
    head_ack = struct.pack("=IHHII", 16 + len(body), msg_type, flags | NLM_F_ACK, 0, 0)
    acks_due, batch = 0, []
    for i in range(n):
        client = bytes((10, i >> 14 & 255, i >> 6 & 255, i & 63))
        if i % 1024 == 1023 or i == n - 1:
            batch.append(head_ack)
            acks_due += 1
        else:
            batch.append(head)
        batch += (parts[0], client, parts[1], client, parts[2])
        if len(batch) >= 6 * 64 or i == n - 1:
            sock.send(b"".join(batch))
            batch = []
        while acks_due > 8 or (i == n - 1 and acks_due):
            data = sock.recv(1 << 20)
            off = 0
            while off + 20 <= len(data):
                length, kind = struct.unpack_from("=IH", data, off)
                if kind == 2:  # NLMSG_ERROR: error 0 is an ack
                    err = struct.unpack_from("=i", data, off + 16)[0]
                    if err:
                        print(f"ctnetlink: creating an entry failed: {os.strerror(-err)}",
                              file=sys.stderr)
                        return 1
                    acks_due -= 1
                off += (length + 3) & ~3
    return 0


def conntrackd_once(n: int) -> dict:
    prefix = unique_prefix()
    a = Namespace(f"{prefix}-fwa").create()
    b = Namespace(f"{prefix}-fwb").create()
    sender = receiver = None
    try:
        add_veth(a, f"{prefix}a", b, f"{prefix}b")
        for ns, dev, ip in ((a, f"{prefix}a", f"{SUBNET}.1"), (b, f"{prefix}b", f"{SUBNET}.2")):
            ns.run(["ip", "addr", "add", f"{ip}/24", "dev", dev])
            ns.run(["ip", "link", "set", dev, "up"])
        limit = int(a.run(["sysctl", "-n", "net.netfilter.nf_conntrack_max"]).stdout.strip())
        if n > limit:
            raise LabError(f"N={n} exceeds nf_conntrack_max={limit} (a host-wide setting)")
        workdir = make_workdir(prefix)
        sender = Node(a, "a", f"{prefix}a", f"{SUBNET}.1", f"{SUBNET}.2", workdir)
        receiver = Node(b, "b", f"{prefix}b", f"{SUBNET}.2", f"{SUBNET}.1", workdir)
        sender.wait_ready()
        receiver.wait_ready()

        t0 = time.monotonic()
        loader = Process("ctnetlink load", a.argv([sys.executable, os.path.abspath(__file__),
                                                   "--insert", str(n)]),
                         log_path=os.path.join(workdir, "load.out"))
        code = loader.wait(600)
        t_loaded = time.monotonic()
        loader.stop()
        if code != 0:
            raise LabError(f"loading entries failed: {tail(os.path.join(workdir, 'load.out'))}")
        in_kernel = int(a.run(["conntrack", "-C"]).stdout.strip())
        if in_kernel != n:
            raise LabError(f"the sender's kernel table holds {in_kernel} entries, not {n}")
        t_live = receiver.wait_external(n, 600)
        internal = sender.cache("internal")

        receiver.ctl("-f", "external")
        if receiver.cache("external") != 0:
            raise LabError("conntrackd b: external cache not empty after a flush")
        t1 = time.monotonic()
        receiver.ctl("-n")
        t_bulk = receiver.wait_external(n, 600)
        return {"live_s": t_live - t0, "load_s": t_loaded - t0, "bulk_s": t_bulk - t1,
                "internal": internal}
    finally:
        for node in (receiver, sender):
            if node:
                node.proc.stop()
        b.delete()
        a.delete()


TANDEM_RUN = re.compile(r"run \d+ \((CURVE|plain)\): bulk ([\d.]+) s, live ([\d.]+) M/s")


def tandem_runs(bench: str, n: int, runs: int, curve: str) -> list[dict]:
    argv = [bench, "--sessions", str(n), "--runs", str(runs), "--curve", curve,
            "--paced", str(max(1000, n // 10))]
    p = run(argv, timeout=600 + 120 * runs * max(1, n // 200000))
    out = []
    for m in TANDEM_RUN.finditer(p.stdout):
        out.append({"curve": m.group(1), "bulk_s": float(m.group(2)),
                    "live_per_s": float(m.group(3)) * 1e6})
    if len(out) != runs * (2 if curve == "both" else 1):
        raise LabError(f"repl_bench printed no figures:\n{p.stdout}\n{p.stderr}")
    print("\n".join("  " + line for line in p.stdout.splitlines()
                    if "median" in line or line.startswith("  ")), flush=True)
    return out


def med(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f} - {max(values):.3f})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=200000, help="N for both (default 200000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--also", type=int, default=1000000,
                    help="tandem also runs at this N (0: no)")
    ap.add_argument("--repl-bench", default=os.path.join(ROOT, "build/release/tests/bench/repl_bench"))
    ap.add_argument("--insert", type=int, metavar="N", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.insert is not None:  # run by this script inside the sender's namespace
        return insert_entries(args.insert)
    n = args.sessions
    try:
        require_lab_environment(("ip", "sysctl"))
        if not os.access(args.repl_bench, os.X_OK):
            raise LabSkip(f"{args.repl_bench} is not built "
                          "(cmake --build build/release --target repl_bench)")
        ensure_conntrackd()
    except LabSkip as e:
        return skip_exit(e)
    install_signal_handlers()
    arm_watchdog(args.repeat * 900 + 600)
    try:
        ct = []
        for r in range(args.repeat):
            f = conntrackd_once(n)
            ct.append(f)
            print(f"conntrackd run {r + 1}: live {f['live_s']:.3f} s (kernel load alone "
                  f"{f['load_s']:.3f} s), resync {f['bulk_s']:.3f} s", flush=True)
        print(f"tandem repl_bench at N={n}:", flush=True)
        td = tandem_runs(args.repl_bench, n, args.repeat, "on")
        if args.also and args.also != n:
            print(f"tandem repl_bench at N={args.also}:", flush=True)
            tandem_runs(args.repl_bench, args.also, args.repeat, "on")
    except LabInterrupted as e:
        print(f"interrupted by {e}")
        return 2
    except LabError as e:
        print(f"could not measure: {e}")
        return 2

    ct_live = [n / f["live_s"] for f in ct]
    ct_bulk = [n / f["bulk_s"] for f in ct]
    ct_load = [n / f["load_s"] for f in ct]
    td_live = [f["live_per_s"] for f in td]
    td_bulk = [n / f["bulk_s"] for f in td]
    k = 1e3
    print(f"\nN = {n} sessions, median of {args.repeat} (range), sessions/s in thousands:")
    print(f"  live   conntrackd {med([v / k for v in ct_live])}  "
          f"(kernel insertion alone {med([v / k for v in ct_load])})")
    print(f"         tandem     {med([v / k for v in td_live])}")
    print(f"  bulk   conntrackd {med([v / k for v in ct_bulk])}  (resync of the whole cache)")
    print(f"         tandem     {med([v / k for v in td_bulk])}")
    print(f"  ratio tandem / conntrackd: live {statistics.median(td_live) / statistics.median(ct_live):.2f}, "
          f"bulk {statistics.median(td_bulk) / statistics.median(ct_bulk):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
