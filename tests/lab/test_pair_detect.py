#!/usr/bin/python3
"""Pair scenario: death detection on the peer link ([ha] peer-link-detect-ms).

The pair runs with a detect time shorter than the hold time (defaults:
heartbeat 20 ms, detect 50 ms, hold 400 ms) under the failover scenario's
traffic (test_pair_failover.py: long-lived connections, a bulk stream, idle
connections, the UDP probe). After the steady baseline, and before the
failover, what must NOT be a death:

  - brief pauses: the victim is stopped (SIGSTOP) for --pause-ms (20 ms),
    --pauses times, 300 ms apart: both paths fall silent for less than the
    detect time;
  - a starved agent: the victim's HA agent thread (named ha-agent) alone
    is held (ptrace stops one thread) for --starve-ms (300 ms, under the
    hold time), --starves times: its control link falls silent, but its
    workers go on sending peer-link heartbeats. Its scheduler statistics
    must show that it did not run meanwhile (else nothing was tested).

Neither node's ha.peer_down may move over these phases. Then the victim is
frozen (SIGSTOP, a power cut: no socket closes) with its paths moved to the
survivor, and the failover scenario's checks follow with the detect time as
the bound: the survivor declares it dead and the probe's outage stays
within detect + 50 ms + one interval, every long-lived and idle session
goes on at the survivor.

    /usr/bin/python3 tests/lab/test_pair_detect.py --node tandemd
"""
import ctypes
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_pair_failover as failover  # noqa: E402
from pair import pair_main  # noqa: E402
from labkit.report import delta  # noqa: E402


def configure(ap):
    failover.configure(ap)
    ap.add_argument("--pauses", type=int, default=10)
    ap.add_argument("--pause-ms", type=float, default=20.0)
    ap.add_argument("--starves", type=int, default=3)
    ap.add_argument("--starve-ms", type=float, default=300.0)
    ap.set_defaults(freeze=True, detect_ms=50, hold_ms=400)


def agent_thread(pid: int) -> int | None:
    """The thread id of tandemd's HA agent (its name is ha-agent)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == "ha-agent":
                    return int(tid)
        except OSError:
            continue
    return None


def schedstat(tid: int) -> tuple[float, int]:
    """The thread's time spent waiting on a run queue (ms) and how many
    times it ran, in total (/proc schedstat)."""
    with open(f"/proc/{tid}/schedstat") as f:
        fields = f.read().split()
    return int(fields[1]) / 1e6, int(fields[2])


def pause(lab, args, sec, victim) -> None:
    t0 = lab.mark("pauses", window=args.pauses * 0.3 + 1)
    for _ in range(args.pauses):
        victim.node.proc.send_signal(signal.SIGSTOP)
        time.sleep(args.pause_ms / 1000.0)
        victim.node.proc.send_signal(signal.SIGCONT)
        time.sleep(0.3)
    sec.line(f"{victim.label} stopped {args.pauses} times for {args.pause_ms:g} ms "
             f"({time.monotonic() - t0:.1f} s)")


PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000   # waitpid: any child or traced thread


def ptrace(request: int, tid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p)
    if libc.ptrace(request, tid, None, None) != 0:
        raise OSError(ctypes.get_errno(), f"ptrace({request:#x}, {tid})")


def starve(lab, args, sec, victim) -> list[tuple[float, int]]:
    """Stops the victim's agent thread alone (ptrace stops one thread; the
    workers and the rest run on) for --starve-ms, --starves times. Returns
    for each how long it was held (ms) and how many times it ran then."""
    tid = agent_thread(victim.node.proc.pid)
    if tid is None:
        sec.check(f"{victim.label}: its ha-agent thread was found", False)
        return []
    seen = []
    lab.mark("starved", window=args.starves * 1.0 + 1)
    for _ in range(args.starves):
        ptrace(PTRACE_SEIZE, tid)
        try:
            ptrace(PTRACE_INTERRUPT, tid)
            os.waitpid(tid, WALL)
            t0, (_, runs0) = time.monotonic(), schedstat(tid)
            time.sleep(args.starve_ms / 1000.0)
            held, (_, runs1) = (time.monotonic() - t0) * 1000, schedstat(tid)
        finally:
            ptrace(PTRACE_DETACH, tid)
        seen.append((held, runs1 - runs0))
        time.sleep(0.5)
    sec.line(f"{victim.label}'s HA agent (thread {tid}) stopped alone {args.starves} times: "
             f"{', '.join(format(h, '.0f') + ' ms' for h, _ in seen)}, running "
             f"{', '.join(str(r) for _, r in seen)} times meanwhile")
    return seen


def before_kill(lab, args, sec, victim, survivor) -> None:
    c0 = {s.letter: lab.counters(s) for s in (victim, survivor)}
    pause(lab, args, sec, victim)
    seen = starve(lab, args, sec, victim)
    sec.check(f"{victim.label}'s agent was held still through each starvation "
              f"(>= {args.starve_ms:g} ms, never running: {seen})",
              len(seen) == args.starves and all(h >= args.starve_ms and r == 0 for h, r in seen))
    downs = {s.label: delta(lab.counters(s), c0[s.letter]).get("ha.peer_down", 0)
             for s in (victim, survivor)}
    sec.check(f"no death over {args.pauses} pauses of {args.pause_ms:g} ms and {args.starves} "
              f"starved agents of {args.starve_ms:g} ms with peer-link-detect-ms "
              f"{args.detect_ms} (ha.peer_down {downs})",
              all(v == 0 for v in downs.values()))


def body(lab, args, report, deadline, variant=None):
    failover.body(lab, args, report, deadline, variant, before_kill=before_kill)


if __name__ == "__main__":
    sys.exit(pair_main("Pair: peer-link death detection: pauses and a starved agent are no "
                       "death, a power cut is found by the detect time", body,
                       configure=configure))
