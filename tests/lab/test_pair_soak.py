#!/usr/bin/python3
"""Pair scenario: soak. --minutes of churn through a pair (ctest label
`soak`, outside the default run: 10 minutes).

Traffic for the whole run: --conns long-lived connections (a request every
50 ms) and --idle connections that answer once, then stay silent until the
end. Each minute is one cycle:

  1. a node is SIGKILLed (--victim: b, a, or alternate) and its paths move
     to the survivor; 3 s later it restarts, goes active, and its paths
     move back (revert hands its sessions back);
  2. --short short connections (connect, request, echo, close), all of
     which must complete;
  3. for the rest of the minute the HA link flaps: `ip link set down` on
     node A's HA veth for --flap-down-s every --flap-every-s seconds (the
     peer-link heartbeats keep the peer alive; replication stalls and
     catches up by resend);
  4. checks: both nodes active and paired; the long-lived and idle
     sessions in both tables, the same sessions with the same owner and
     backup owner on both nodes, every owner a live member (no stale
     owner); each node's RSS recorded.

The node that is never killed (--victim a or b) must have declared its peer
dead once per kill and never for a flap (ha.peer_down). Then the long-lived
and idle connections end (every one must have lived through every cycle: 0
broken, every idle one answers), both nodes are SIGKILLed together and
started together (a cold start of the whole cluster): both go active and
pair, a round of short connections completes,
and once the short timeouts of this run (below) have passed both tables are
back to their baseline (no session left), no deferred first packet and no
sync message waits.

Leaks: node A is never killed before the cold start with --victim b (the
default), so its RSS after the last cycle is compared with its RSS after
the second (the first two reach the high-water marks of its buffers: each
run measured a step of ~2.7 MiB from the first cycle to the second, then
tens of KiB per cycle; with fewer than three cycles, after the first): it
may grow by at most --rss-tolerance-mib (4 MiB by default; a leak of 100
bytes per session created or installed on node A, ~10,000 a cycle, exceeds
it within 10 minutes).
The figures of every cycle are printed (RSS per node, sessions, the
counters that matter) as FIGURES: lines.

    flock /tmp/tandem-lab.lock /usr/bin/python3 tests/lab/test_pair_soak.py --node tandemd \
        --minutes 10
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import LabError  # noqa: E402
from pair import (IDLE_PORT, RR_PORT, SERVER_IP, pair_main, report_rr, stop_idle,  # noqa: E402
                  stop_rr, storm, use_idle)
from labkit.ha import ha_ready, ha_summary  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import ownership, same_on_every_node, sessions_of  # noqa: E402

# Short timeouts, so that the tables empty within seconds of the traffic's
# end and "back to baseline" can be checked without waiting two minutes.
SOAK_TIMEOUTS = ("\n[timeouts]\ntcp-syn-sent = 5\ntcp-syn-recv = 5\ntcp-fin-wait = 5\n"
                 "tcp-close-wait = 5\ntcp-last-ack = 5\ntcp-time-wait = 2\ntcp-close = 2\n"
                 "udp-unreplied = 3\nudp-replied = 3\nicmp = 2\n")
DRAIN_S = 8.0     # longer than every short timeout above, plus the aging wheel's slack
# gauges that are back to zero when the pair is quiet
QUIET_GAUGES = ("sessions.active",)


def minutes_default(argv) -> float:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--minutes", type=float, default=10.0)
    return pre.parse_known_args(argv)[0].minutes


def configure(ap):
    minutes = minutes_default(sys.argv[1:])
    ap.add_argument("--minutes", type=float, default=10.0, help="cycles of one minute each")
    ap.add_argument("--victim", choices=("a", "b", "alternate"), default="b",
                    help="the node killed and restarted each minute")
    ap.add_argument("--conns", type=int, default=50, help="long-lived connections")
    ap.add_argument("--idle", type=int, default=50, help="idle connections")
    ap.add_argument("--short", type=int, default=2000, help="short connections per cycle")
    ap.add_argument("--flap-every-s", type=float, default=4.0)
    ap.add_argument("--flap-down-s", type=float, default=1.0)
    ap.add_argument("--rss-tolerance-mib", type=float, default=4.0)
    ap.add_argument("--drain-s", type=float, default=DRAIN_S,
                    help="seconds after the last traffic before the tables must be back to "
                         "their baseline")
    ap.set_defaults(deadline=minutes * 60 + 240)


def variants(args):
    return [{"label": "", "extra_config": SOAK_TIMEOUTS}]


def rss_kib(lab, s) -> int | None:
    n = s.node
    if n is None or s.dead or getattr(n, "proc", None) is None:
        return None
    try:
        with open(f"/proc/{n.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Flapper:
    """Takes node A's HA veth down and up on a timer while enabled."""

    def __init__(self, lab, every: float, down: float) -> None:
        self.lab, self.every, self.down = lab, every, down
        self.enabled = threading.Event()
        self.stop = threading.Event()
        self.flaps = 0
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _set(self, state: str) -> None:
        a = self.lab.a
        a.node_ns.run(["ip", "link", "set", a.ha_if, state], check=False)

    def _run(self) -> None:
        while not self.stop.is_set():
            if not self.enabled.wait(0.1):
                continue
            try:
                self._set("down")
                self.flaps += 1
                time.sleep(self.down)
            except Exception as e:  # a failed flap is reported, never left down
                self.errors.append(repr(e))
            finally:
                self._set("up")
            self.stop.wait(max(0.0, self.every - self.down))

    def pause(self) -> None:
        """Stops flapping; returns once the link is up again."""
        self.enabled.clear()
        time.sleep(self.down + 0.2)
        self._set("up")

    def close(self) -> None:
        self.enabled.clear()
        self.stop.set()
        self.thread.join(timeout=self.down + 5)
        self._set("up")


def quiet_state(lab, s) -> dict:
    """The gauges that must be back to zero on a quiet pair."""
    c = lab.counters(s) or {}
    st = lab.ha_state(s) or {}
    sync = st.get("sync") or []
    return {"sessions": c.get("sessions.active"),
            "pending_defer_tokens": st.get("pending_defer_tokens"),
            "window_messages": sum(int(y.get("window_messages", 0)) for y in sync),
            "inbound_queued": sum(int(y.get("inbound_queued", 0)) for y in sync)}


def check_tables(lab, sec, label: str, expect: dict[int, int]) -> bool:
    own = {port: ownership(lab, port) for port in expect}
    counts = {port: len(sessions_of(v) or ()) for port, v in own.items()}
    live = {s.node_id for s in lab.slots if not s.dead}
    owners = {o for v in own.values() for t in v.values() if t for (o, _b) in t.values()}
    ok = (all(same_on_every_node(v) for v in own.values()) and counts == expect
          and owners <= live)
    return sec.check(f"{label}: every long-lived and idle session in both tables, one owner "
                     f"each, the same on both nodes, every owner live (sessions by port "
                     f"{counts}, owners {sorted(owners)})", ok)


def cycle(lab, args, sec, deadline, n: int, flapper: Flapper, t_end: float) -> dict:
    letter = ("a" if n % 2 else "b") if args.victim == "alternate" else args.victim
    victim, survivor = lab.slot(letter), lab.slot("b" if letter == "a" else "a")
    t_kill = lab.kill_node(victim)
    lab.mark(f"kill {n}", t_kill)
    time.sleep(3.0)
    lab.restart_node(victim)
    lab.wait_ha_ready(deadline, nodes=(victim, survivor))
    t_active = time.monotonic() - t_kill
    lab.prewarm()
    lab.set_routes("ecmp")
    r = storm(lab, sec, f"cycle {n}: short connections", args.short, 20, deadline,
              connect_timeout=5.0)
    flapper.enabled.set()
    while time.monotonic() < t_end:
        lab.check_node()
        time.sleep(0.2)
    flapper.pause()
    states = lab.wait_ha_ready(deadline, timeout=10.0)
    ready = all(st is not None and ha_ready(st) for st in states.values())
    sec.check(f"cycle {n}: both nodes active and paired after the flaps "
              f"({'; '.join(ha_summary(v) for v in states.values())})", ready)
    time.sleep(1.0)  # replication caught up after the last flap
    check_tables(lab, sec, f"cycle {n}", {RR_PORT: args.conns, IDLE_PORT: args.idle})
    fig = {"cycle": n, "victim": victim.label, "active_after_s": round(t_active, 2),
           "short_completed": r["completed"], "short_rate": r["rate"],
           "rss_kib": {s.label: rss_kib(lab, s) for s in lab.slots},
           "sessions": {s.label: (lab.counters(s) or {}).get("sessions.active")
                        for s in lab.slots},
           "flaps": flapper.flaps}
    print(f"FIGURES: {fig}", flush=True)
    return fig


def start_soak_traffic(lab, args, sec) -> None:
    """The long-lived and the idle connections, alive for the whole soak."""
    life = args.minutes * 60 + 120
    ready = lab.start_service("rr", "client", [
        "rr-long", "--dst", SERVER_IP, "--port", str(RR_PORT), "--conns", str(args.conns),
        "--interval", "0.05", "--marks", lab.marks_path, "--window", "5", "--max-seconds",
        str(life), "--io-timeout", "15"], timeout=30.0)
    sec.line(f"rr: {ready['connected']}/{args.conns} long-lived connections answering")
    idle = lab.start_service("idle", "client", [
        "idle-conns", "--dst", SERVER_IP, "--port", str(IDLE_PORT), "--conns", str(args.idle),
        "--max-seconds", str(life)], timeout=30.0)
    sec.line(f"idle: {idle['live']}/{args.idle} idle connections answered once, then silent")


def run_cycles(lab, args, sec, deadline) -> list[dict]:
    """One cycle a minute under the flapping HA link; returns each cycle's figures."""
    flapper = Flapper(lab, args.flap_every_s, args.flap_down_s)
    figs = []
    t0 = time.monotonic()
    try:
        for n in range(1, int(round(args.minutes)) + 1):
            figs.append(cycle(lab, args, sec, deadline, n, flapper, t0 + 60.0 * n))
    finally:
        flapper.close()
    sec.line(f"HA link flaps: {flapper.flaps} (down {args.flap_down_s:g} s every "
             f"{args.flap_every_s:g} s), errors {flapper.errors or 0}")
    return figs


def check_peer_down(lab, args, sec, c_start: dict, kills: int) -> str | None:
    """The counters over the cycles; the node never killed declared its peer
    dead once per kill. Returns that node's letter (None: both were killed)."""
    c_end = {s.letter: lab.counters(s) for s in lab.slots}
    for s in lab.slots:
        if c_end[s.letter] and c_start[s.letter]:
            sec.line(f"{s.label} counters over the cycles (this incarnation): "
                     f"{counter_line(delta(c_end[s.letter], c_start[s.letter]), limit=80)}")
    keeper = {"b": "a", "a": "b"}.get(args.victim)
    if keeper and c_end[keeper] and c_start[keeper]:
        d = delta(c_end[keeper], c_start[keeper])
        label = lab.slot(keeper).label
        sec.check(f"{label} declared its peer dead once per kill and never for a flap "
                  f"(ha.peer_down {d.get('ha.peer_down', 0)}, kills {kills})",
                  d.get("ha.peer_down", 0) == kills)
    return keeper


def check_rss(lab, args, sec, keeper: str | None, figs: list[dict]) -> None:
    """Leaks: the node that lived through every cycle."""
    if keeper and len(figs) >= 2:
        label = lab.slot(keeper).label
        b = 1 if len(figs) >= 3 else 0   # the baseline cycle (see the top)
        first, last = figs[b]["rss_kib"][label], figs[-1]["rss_kib"][label]
        series = [f["rss_kib"][label] for f in figs]
        tol = args.rss_tolerance_mib * 1024
        sec.check(f"{label} (never killed) RSS after the last cycle {last} KiB <= after cycle "
                  f"{b + 1} {first} KiB + {tol:.0f} KiB (every cycle: {series})",
                  first is not None and last is not None and last <= first + tol)


def cold_start(lab, args, sec, deadline, base: dict) -> dict:
    """Cold start of the whole cluster: both nodes killed and started
    together, short connections, then back to the baseline. Returns the
    nodes' quiet state at the end."""
    t_cold = time.monotonic()
    for s in lab.slots:
        s.dead = True
        s.node.kill()
    for s in lab.slots:
        s.node.reap()
    for s in lab.slots:
        lab.start_node(s)
    states = lab.wait_ha_ready(deadline)
    sec.line(f"cold start: both nodes SIGKILLed together and started together; active and "
             f"paired after {time.monotonic() - t_cold:.2f} s "
             f"({'; '.join(ha_summary(v) for v in states.values())})")
    lab.prewarm()
    lab.set_routes("ecmp")
    fresh = {s.label: quiet_state(lab, s) for s in lab.slots}
    sec.line(f"after the cold start, before traffic: {fresh}")
    rss_cold = {s.label: rss_kib(lab, s) for s in lab.slots}
    storm(lab, sec, "after the cold start: short connections", args.short, 20, deadline,
          connect_timeout=5.0)
    time.sleep(args.drain_s)
    end = {s.label: quiet_state(lab, s) for s in lab.slots}
    rss_end = {s.label: rss_kib(lab, s) for s in lab.slots}
    sec.line(f"baseline at the start {base}; {args.drain_s:g} s after the last traffic {end}")
    sec.line(f"RSS after the cold start {rss_cold} KiB, at the end {rss_end} KiB")
    sec.check("both tables back to their baseline, no deferred first packet, no sync message "
              "waiting, nothing queued to apply",
              all(end[k] == base[k] for k in base) and
              all(v.get("sessions") == 0 for v in end.values()))
    print(f"FIGURES: {{'baseline': {base}, 'end': {end}, 'rss_cold_kib': {rss_cold}, "
          f"'rss_end_kib': {rss_end}}}", flush=True)
    return end


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"soak: {args.minutes:g} minutes, a node killed and restarted every "
                         f"minute ({args.victim}), {args.conns} long-lived + {args.idle} idle "
                         f"connections, {args.short} short ones a minute, HA link flapping "
                         f"every {args.flap_every_s:g} s")
    time.sleep(3.0)  # the start's own pings expire (icmp = 2 s)
    base = {s.label: quiet_state(lab, s) for s in lab.slots}
    c_start = {s.letter: lab.counters(s) for s in lab.slots}
    start_soak_traffic(lab, args, sec)
    figs = run_cycles(lab, args, sec, deadline)
    keeper = check_peer_down(lab, args, sec, c_start, len(figs))
    use_idle(lab, sec, "at the end")
    stop_idle(lab, sec)
    report_rr(sec, stop_rr(lab), target_ms=None)
    check_rss(lab, args, sec, keeper, figs)
    end = cold_start(lab, args, sec, deadline, base)
    if not figs:
        raise LabError("no cycle ran (--minutes below 1)")
    sec.data = {"cycles": figs, "baseline": base, "end": end}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: soak (kills, restarts, HA link flaps, churn; leaks and stale "
                       "owners)", body, configure=configure, variants=variants))
