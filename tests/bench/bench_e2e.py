#!/usr/bin/python3
"""End-to-end packet rate of a running tandemd against DPDK's own ceiling.

The same input, two captures of N flows (client -> server on the inside
port, server -> client on the outside port), is replayed from memory by
DPDK's pcap driver (`net_pcap`, `infinite_rx=1`; transmitted frames are
dropped by the driver) into:

  testpmd   dpdk-testpmd in io-forward mode: the machine's ceiling for this
            input path (receive a burst, transmit it, nothing else);
  tandemd   one inline node, one worker: parse, session lookup, TCP
            tracking, policy on new flows, counters, transmit.

Each runs on one forwarding core (lcore 1; lcore 0 is the main thread) for
--seconds after a warm-up; the rate is read from each program's own
counters (testpmd's per-port Tx-pps, tandemd's `forwarded`). Rounds
alternate between the two (testpmd, tandemd, testpmd, tandemd, ...) so
that a noisy neighbour hits both; the medians and their ratio are printed.

Traffic: TCP segments of established connections (tandemd picks them up
mid-stream, `[tcp] pickup = true`, so every flow is a session from its
first segment on), 64-byte frames or an IMIX (7 x 64, 4 x 576, 1 x 1500).

The captures stay in packet buffers for the whole run: both programs get
a pool that holds them besides their own needs (tandemd: `[dataplane]
packet-buffers`), and the EAL the memory for it.

--baseline PATH: a second tandemd binary (an earlier build) measured in the
same rounds, interleaved (testpmd, baseline, tandemd in each round), so that
a change is judged against its baseline on the same machine at the same
time.

--workers N: tandemd with N workers and testpmd with N forwarding cores,
each port with N queues (one capture file per queue, flow i in queue
i mod N). Which queue a flow arrives on has nothing to do with tandemd's
own choice of worker, so about (N-1)/N of the frames are handed from the
worker that received them to the one that holds their flow: the figure
is "with the hand-off". With --presplit each flow arrives on the queue of
the worker that holds it (the flow_workers program says which, by tandemd's
own software steering), as a device with RSS would deliver it: no frame
crosses to another worker, but each is still parsed once more to find its
worker (rss steering skips that too; no device here can be programmed
for it).

--hugepages: EAL memory in 2 MiB pages (reserved beforehand, e.g.
`echo 2900 > /proc/sys/vm/nr_hugepages` at 1 M flows, 0 afterwards) instead
of 4 KiB pages, as a deployment runs.

    /usr/bin/python3 tests/bench/bench_e2e.py [--tandemd PATH] [--flows N] [--hugepages]
        [--size 64|imix] [--workers N [--presplit]] [--rounds N] [--seconds S] [--perf FILE]
        [--baseline PATH]
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lab"))
from lab import ControlClient, flatten_counters  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
# The EAL's runtime folder (/var/run/dpdk/PREFIX), removed at the end: the
# programs run one at a time, so they share it.
EAL_PREFIX = f"tandem-bench-e2e-{os.getpid()}"
EAL_COMMON = f"--no-pci --no-telemetry --file-prefix {EAL_PREFIX}"
# Without hugepages (4 KiB pages) testpmd's pool keeps a packet buffer from
# crossing a page: one buffer (2048 to 2176 bytes of data) a page. tandemd
# packs its buffers where every port copies frames, as net_pcap does
# (dataplane/packet_pool.h: ~2.3 KiB each), but a --baseline build from
# before that needs a page each, so both get as much.
NO_HUGE_BUFFER_KIB = 4.1
# On 2 MiB pages (--hugepages, as a deployment runs) buffers lie back to back
# in both programs: ~2.4 KiB each.
HUGE_BUFFER_KIB = 2.5


# Set from --hugepages: EAL memory in 2 MiB hugepages the operator reserved
# (`--in-memory`: no hugetlbfs mount needed) instead of 4 KiB pages.
HUGEPAGES = False


def buffer_kib() -> float:
    return HUGE_BUFFER_KIB if HUGEPAGES else NO_HUGE_BUFFER_KIB


def eal_mib(buffers: int) -> int:
    """EAL memory for `buffers` packet buffers and 512 MiB besides."""
    return int(buffers * buffer_kib() / 1024) + 512


def free_huge_mib() -> int:
    info = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            info[k] = int(v.split()[0])
    return info.get("HugePages_Free", 0) * info.get("Hugepagesize", 0) // 1024


def eal(workers: int, buffers: int) -> str:
    """EAL arguments: lcore 0 for the main thread, 1..workers forwarding,
    memory for `buffers` packet buffers and 512 MiB besides."""
    mib = eal_mib(buffers)
    base = f"--in-memory {EAL_COMMON}" if HUGEPAGES else f"--no-huge --no-shconf {EAL_COMMON}"
    cpus = os.cpu_count() or 1
    if workers + 1 <= cpus:
        return f"{base} -m {mib} -l 0-{workers}"
    # More lcores than CPUs: forwarding lcore k on CPU k mod cpus (the main
    # thread, which mostly sleeps, shares CPU 0).
    lcores = ",".join(f"{k}@{k % cpus}" for k in range(workers + 1))
    return f"{base} -m {mib} --lcores {lcores}"


def capture_buffers(flows: int) -> int:
    """Packet buffers the captures occupy (both ports), with room to work."""
    return 2 * flows + 32768
IMIX = (64,) * 7 + (576,) * 4 + (1500,)


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def tcp_frame(src: int, dst: int, sport: int, dport: int, seq: int, ack: int, size: int) -> bytes:
    """An Ethernet/IPv4/TCP ACK segment of `size` bytes on the wire."""
    payload = max(0, size - 14 - 20 - 20)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 65535, 0, 0)
    tcp += b"\x55" * payload
    pseudo = struct.pack("!IIBBH", src, dst, 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
    frame = eth + ip + tcp
    return frame + b"\0" * max(0, 60 - len(frame))


def write_pcap(path: str, frames: list[bytes]) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for fr in frames:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)) + fr)


def flow_tuple(i: int) -> tuple[int, int, int, int]:
    """Flow i's client, server (IPv4, host order), client port, server port."""
    client = 0x0A010000 + (i >> 8) * 256 + (i & 0xFF) + 1   # 10.1.x.y
    server = 0x0A020001 + (i % 16)                           # 10.2.0.1..16
    return client, server, 10000 + (i % 50000), 443


def flow_queues(flows: int, queues: int, flow_workers: str | None) -> list[int]:
    """Each flow's queue: i mod queues, or with `flow_workers` (the
    flow_workers program) the worker tandemd's software steering gives it."""
    if queues <= 1 or not flow_workers:
        return [i % queues for i in range(flows)]
    text = "".join("%d %d %d %d 6\n" % flow_tuple(i) for i in range(flows))
    out = subprocess.run([flow_workers, str(queues)], input=text, capture_output=True,
                         text=True, check=True).stdout.split()
    if len(out) != flows:
        raise RuntimeError(f"flow_workers answered {len(out)} of {flows} flows")
    return [int(w) for w in out]


def make_captures(workdir: str, flows: int, size: str, queues: int,
                  flow_workers: str | None = None) -> tuple[list[str], list[str]]:
    """Per port, one capture file per queue (flow_queues)."""
    sizes = IMIX if size == "imix" else (64,)
    inside: list[list[bytes]] = [[] for _ in range(queues)]
    outside: list[list[bytes]] = [[] for _ in range(queues)]
    for i, q in enumerate(flow_queues(flows, queues, flow_workers)):
        client, server, sport, dport = flow_tuple(i)
        sz = sizes[i % len(sizes)]
        inside[q].append(tcp_frame(client, server, sport, dport, 1000, 5000, sz))
        outside[q].append(tcp_frame(server, client, dport, sport, 5000, 1000 + 64, sz))
    files: tuple[list[str], list[str]] = ([], [])
    for side, frames in (("inside", inside), ("outside", outside)):
        for q, fr in enumerate(frames):
            path = os.path.join(workdir, f"{side}{q}.pcap")
            write_pcap(path, fr)
            files[0 if side == "inside" else 1].append(path)
    return files


def vdevs(inside: list[str], outside: list[str]) -> list[str]:
    def one(n: int, files: list[str]) -> str:
        return f"net_pcap{n}," + ",".join(f"rx_pcap={f}" for f in files) + ",infinite_rx=1"
    return [one(0, inside), one(1, outside)]


def run_testpmd(inside: list[str], outside: list[str], flows: int, warmup: float,
                seconds: float) -> float:
    workers = len(inside)
    buffers = capture_buffers(flows)
    argv = ["dpdk-testpmd", *eal(workers, buffers).split()]
    for v in vdevs(inside, outside):
        argv += ["--vdev", v]
    argv += ["--", "--forward-mode=io", "--stats-period", "1",
             f"--total-num-mbufs={buffers}", f"--nb-cores={workers}", f"--rxq={workers}",
             f"--txq={workers}"]
    # Per-second statistics: two ports, each with a Tx-pps line. It loads
    # the whole capture first (tens of seconds at a million flows): the
    # window starts at the first second that moved frames.
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, tx, per_second = "", [], []
    give_up = time.monotonic() + 300
    try:
        for line in p.stdout:
            out += line
            m = re.search(r"Tx-pps:\s+(\d+)", line)
            if m:
                tx.append(int(m.group(1)))
                if len(tx) % 2 == 0 and tx[-1] + tx[-2] > 0:
                    per_second.append(tx[-1] + tx[-2])
            if len(per_second) >= warmup + seconds or time.monotonic() > give_up:
                break
    finally:
        p.send_signal(signal.SIGINT)
        try:
            out += p.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
    skip = int(warmup)
    samples = per_second[skip:]
    if not samples:
        raise RuntimeError("testpmd reported no rate:\n" + out[-2000:])
    return statistics.median(samples)


def tandemd_config(workdir: str, inside: list[str], outside: list[str],
                   flows: int) -> tuple[str, str]:
    sock = os.path.join(workdir, "tandemd.sock")
    path = os.path.join(workdir, "tandemd.conf")
    workers = len(inside)
    buffers = capture_buffers(flows)
    with open(path, "w") as f:
        f.write("[node]\nid = 1\nname = bench\n\n"
                f"[dataplane]\nmode = inline\n"
                f"eal-args = {eal(workers, buffers)}\nworkers = {workers}\n"
                f"session-capacity = {max(65536, 4 * flows)}\nbusy-poll = true\n"
                f"packet-buffers = {buffers}\n\n"
                f"[port.inside]\ndevice = {vdevs(inside, outside)[0]}\nzone = inside\n\n"
                f"[port.outside]\ndevice = {vdevs(inside, outside)[1]}\nzone = outside\n\n"
                "[tcp]\npickup = true\n\n"
                f"[control]\nsocket = {sock}\n\n"
                "[policy]\nrule = allow name bench from inside to outside proto tcp dport 443\n")
    return path, sock


def run_tandemd(binary: str, workdir: str, inside: list[str], outside: list[str], flows: int,
                warmup: float, seconds: float, perf: str | None = None) -> tuple[float, dict]:
    conf, sock = tandemd_config(workdir, inside, outside, flows)
    log = open(os.path.join(workdir, "tandemd.log"), "w")
    p = subprocess.Popen([binary, "--config", conf], stdout=log, stderr=subprocess.STDOUT)
    try:
        client = ControlClient(sock)
        end = time.monotonic() + 300  # a large capture takes a while to load
        while True:
            if p.poll() is not None:
                raise RuntimeError("tandemd exited: " + open(log.name).read()[-2000:])
            try:
                client.request("show counters", timeout=0.5)
                break
            except Exception:
                if time.monotonic() > end:
                    raise
                time.sleep(0.1)
        time.sleep(warmup)
        c0, t0 = flatten_counters(client.request("show counters", timeout=3.0)), time.monotonic()
        if perf:
            # The whole process: its worker is the one busy thread.
            subprocess.run(["perf", "record", "-q", "-o", perf, "-p", str(p.pid), "--",
                            "sleep", str(seconds)], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        else:
            time.sleep(seconds)
        c1, t1 = flatten_counters(client.request("show counters", timeout=3.0)), time.monotonic()
        delta = {k: c1.get(k, 0) - c0.get(k, 0) for k in c1 if c1.get(k, 0) != c0.get(k, 0)}
        return delta.get("forwarded", 0) / (t1 - t0), delta
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD") or
                    os.path.join(REPO, "build", "release", "src", "daemon", "tandemd"))
    ap.add_argument("--baseline", metavar="PATH",
                    help="an earlier tandemd binary, measured in every round beside --tandemd")
    ap.add_argument("--flows", type=int, default=1000)
    ap.add_argument("--size", choices=("64", "imix"), default="64")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--presplit", action="store_true",
                    help="with --workers: each flow on the queue of the worker that holds it "
                         "(as a device with RSS would deliver it): no hand-off")
    ap.add_argument("--flow-workers", default=os.path.join(REPO, "build", "release", "tests",
                                                           "bench", "flow_workers"),
                    help="the flow_workers program (--presplit)")
    ap.add_argument("--perf", metavar="FILE",
                    help="perf record tandemd's last measured window into FILE and print its "
                         "top symbols (the rate of that round is then perf's too)")
    ap.add_argument("--hugepages", action="store_true",
                    help="EAL memory on 2 MiB hugepages, as a deployment has it (reserve them "
                         "first: vm.nr_hugepages); default: 4 KiB pages (--no-huge)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=4.0)
    a = ap.parse_args()
    if not shutil.which("dpdk-testpmd"):
        print("dpdk-testpmd not found (Debian package dpdk-dev)")
        return 2
    global HUGEPAGES
    HUGEPAGES = a.hugepages
    if a.hugepages:
        need, free = eal_mib(capture_buffers(a.flows)), free_huge_mib()
        if free < need:
            print(f"--hugepages: {need} MiB of free hugepages needed, {free} free "
                  f"(echo {need // 2 + 1} > /proc/sys/vm/nr_hugepages; 0 afterwards)")
            return 2
    workdir = tempfile.mkdtemp(prefix="tandem-bench-e2e-")
    try:
        inside, outside = make_captures(workdir, a.flows, a.size, a.workers,
                                        a.flow_workers if a.presplit else None)
        ref, ours, base, last = [], [], [], {}
        for r in range(a.rounds):
            ref.append(run_testpmd(inside, outside, a.flows, a.warmup, a.seconds))
            line = f"round {r + 1}: testpmd {ref[-1] / 1e6:.2f} Mpps"
            if a.baseline:
                base.append(run_tandemd(a.baseline, workdir, inside, outside, a.flows, a.warmup,
                                        a.seconds)[0])
                line += f", baseline {base[-1] / 1e6:.2f} Mpps"
            rate, last = run_tandemd(a.tandemd, workdir, inside, outside, a.flows, a.warmup,
                                     a.seconds, a.perf if r == a.rounds - 1 else None)
            ours.append(rate)
            print(f"{line}, tandemd {ours[-1] / 1e6:.2f} Mpps", flush=True)
        drops = {k: v for k, v in last.items() if k.startswith("dropped_") or "malformed" in k}
        m_ref = statistics.median(ref)

        def summary(rates: list[float]) -> str:
            m = statistics.median(rates)
            return (f"{m / 1e6:8.2f} Mpps ({min(rates) / 1e6:.2f}-{max(rates) / 1e6:.2f})  "
                    f"= {100 * m / m_ref:.0f} % of testpmd")
        print(f"flows {a.flows}, frames {a.size} B, {a.workers} forwarding core(s), "
              f"{'2 MiB hugepages' if a.hugepages else '4 KiB pages'}, "
              f"{a.rounds} rounds (alternating), medians (range):")
        print(f"  testpmd io-forward  {m_ref / 1e6:8.2f} Mpps ({min(ref) / 1e6:.2f}-"
              f"{max(ref) / 1e6:.2f})")
        if base:
            print(f"  baseline tandemd    {summary(base)}")
        print(f"  tandemd             {summary(ours)}")
        if base:
            # Each round's two tandemd runs are back to back: their ratio
            # cancels most of what a noisy neighbour does to both.
            paired = [o / b for o, b in zip(ours, base)]
            print(f"  tandemd / baseline, same round: median {statistics.median(paired):.3f} "
                  f"({min(paired):.3f}-{max(paired):.3f})")
        handed = last.get("io.handoff_out", 0)
        print(f"  frames handed to another worker in the last round: {handed} "
              f"({100 * handed / max(1, last.get('forwarded', 0)):.0f} % of those forwarded)")
        print(f"  tandemd drops in the last round: {drops or 'none'}; sessions created "
              f"{last.get('sessions_created', 0)} (picked up at the first loop, before the "
              f"measured window)")
        if a.perf:
            report = subprocess.run(["perf", "report", "-i", a.perf, "--stdio", "--sort",
                                     "dso,symbol", "--percent-limit", "1"],
                                    capture_output=True, text=True).stdout
            print("where tandemd's time went (perf, last round):")
            print("\n".join(line for line in report.splitlines()
                            if line.strip() and not line.startswith("#")))
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(f"/var/run/dpdk/{EAL_PREFIX}", ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
