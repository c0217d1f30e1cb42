#!/usr/bin/python3
"""Pair scenario 6: the HA control link is cut while both nodes live.

200 long-lived connections + a bulk stream over ECMP. The HA control veth is
set down in one node's namespace for --cut-seconds (default 4 s). Heartbeats
still cross the peer link, so neither node may declare the other dead (no
split brain: never two primaries, the peer stays alive). While the link is
down, 50 more long-lived connections start (and live on after the link
returns) and 500 short connections run: sessions created during the cut
must work. The link is restored; both nodes must report it up again, and
replication must catch up: both nodes' tables hold the same long-lived
sessions (by addresses and ports, those created during the cut included),
each with the same owner and backup owner.
Everything each node reports is printed (states, peer alive / control link /
peer link, HA counters).

    /usr/bin/python3 tests/lab/test_pair_control_link.py --node tandemd [--cut a|b]
    /usr/bin/python3 tests/lab/test_pair_control_link.py --node kernel
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pair import (LINUX_KINDS, RR_PORT, add_longlived_args, hold, pair_main, report_rr, show_ha,  # noqa: E402
                  show_ownership, start_longlived, stop_rr, storm)
from labkit.ha import ha_local_state, ha_peers, wait_until  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import disagreements, ownership, readable  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--cut", choices=("a", "b"), default="a",
                    help="the node whose HA veth goes down")
    ap.add_argument("--cut-seconds", type=float, default=4.0)
    ap.add_argument("--connections", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--after", type=float, default=3.0)


class HaWatch(threading.Thread):
    """Polls both nodes' HA state every ~50 ms and keeps what it saw. A poll
    that raised or got no state from a node that has one is an error:
    counted, its first reason kept (sampled() says whether the watch saw
    enough to judge)."""

    def __init__(self, lab):
        super().__init__(daemon=True)
        self.lab = lab
        self.stop_flag = threading.Event()
        self.samples = {"a": [], "b": []}
        self.errors = {"a": 0, "b": 0}
        self.first_error = ""

    def run(self):
        while not self.stop_flag.is_set():
            for s in self.lab.slots:
                errors = self.lab.ha_errors
                try:
                    st = self.lab.ha_state(s)
                except Exception as e:   # e.g. a control socket that did not answer in time
                    st = None
                    self.first_error = self.first_error or f"{s.label}: {type(e).__name__}: {e}"
                if st is not None:
                    self.samples[s.letter].append((time.monotonic(), st))
                elif self.lab.ha_supported:
                    self.errors[s.letter] += 1
                    if not self.first_error and self.lab.ha_errors > errors:
                        self.first_error = f"{s.label}: the state request failed (see the log)"
            self.stop_flag.wait(0.05)

    def sampled(self, seconds: float) -> bool:
        """Both nodes answered every poll, at least once per second of `seconds`."""
        return (not any(self.errors.values()) and
                all(len(v) >= max(1, int(seconds)) for v in self.samples.values()))

    def summary(self):
        out = {}
        for k, samples in self.samples.items():
            states = {}
            peer_alive = {}
            control = {}
            peer_link = {}
            for _, st in samples:
                states[ha_local_state(st)] = states.get(ha_local_state(st), 0) + 1
                for p in ha_peers(st):
                    for dst, key in ((peer_alive, "alive"), (control, "control_link"),
                                     (peer_link, "peer_link")):
                        v = str(p.get(key, "n/a"))
                        dst[v] = dst.get(v, 0) + 1
            out[k] = {"samples": len(samples), "states": states, "peer_alive": peer_alive,
                      "control_link": control, "peer_link": peer_link}
        both_primary = 0
        by_t = sorted([(t, k, ha_local_state(st)) for k, v in self.samples.items()
                       for t, st in v])
        last = {}
        for t, k, state in by_t:
            last[k] = state
            if last.get("a") == "active-primary" and last.get("b") == "active-primary":
                both_primary += 1
        out["both_primary_samples"] = both_primary
        return out


def cut_link(lab, args, sec, deadline, node) -> tuple[HaWatch, float, float]:
    """Cuts node's HA control veth for --cut-seconds while new long-lived
    connections and a storm start; the HA states are watched throughout.
    Returns the watch and the times of the cut and the restore."""
    watch = HaWatch(lab)
    t_cut = lab.mark("cut", window=args.cut_seconds)
    node.node_ns.run(["ip", "link", "set", node.ha_if, "down"])
    watch.start()
    sec.line(f"{node.ha_if} (HA control veth of {node.label}) set down")
    try:
        start_longlived(lab, args, sec, name="rr-cut", conns=50, bulk=False,
                        window=args.after, must_connect=False, connect_timeout=2.5)
        # new connections only while the link is down; each gets 3 s to connect
        storm(lab, sec, "during the cut", args.connections, args.concurrency, deadline,
              budget=max(30.0, args.cut_seconds + 20), seed=21, connect_timeout=3.0,
              start_for=max(1.0, t_cut + args.cut_seconds - time.monotonic() - 0.5))
        hold(lab, max(0.0, t_cut + args.cut_seconds - time.monotonic()))
        show_ha(lab, sec, f"during the cut ({time.monotonic() - t_cut:.1f} s)")
    finally:
        t_restore = lab.mark("restore", window=args.after)
        node.node_ns.run(["ip", "link", "set", node.ha_if, "up"])
        watch.stop_flag.set()
        watch.join(5)
    sec.line(f"{node.ha_if} set up again after {t_restore - t_cut:.2f} s")
    return watch, t_cut, t_restore


def check_during_cut(lab, sec, watch: HaWatch, seconds: float) -> dict:
    """What the nodes said during the cut: sampled throughout, no peer
    declared dead, never two primaries, the control link seen down."""
    w = watch.summary()
    for k in ("a", "b"):
        s = w[k]
        sec.line(f"node{k.upper()} during the cut ({s['samples']} samples): states {s['states']}, "
                 f"peer alive {s['peer_alive']}, control link {s['control_link']}, peer link "
                 f"{s['peer_link']}")
    sampled = watch.sampled(seconds)
    sec.check(f"the HA state of both nodes was sampled throughout the cut (samples A "
              f"{w['a']['samples']}, B {w['b']['samples']}; failed polls A {watch.errors['a']}, "
              f"B {watch.errors['b']}{'; first: ' + watch.first_error if watch.first_error else ''})",
              sampled if lab.ha_supported else None, optional_for=LINUX_KINDS)
    dead = {k: w[k]["peer_alive"].get("False", 0) for k in ("a", "b")}
    sec.check(f"no node declared its peer dead during the cut (samples with peer alive=false: "
              f"A {dead['a']}, B {dead['b']})",
              (dead["a"] == 0 and dead["b"] == 0) if sampled else None, optional_for=LINUX_KINDS)
    sec.check(f"no split brain: never two active-primary nodes "
              f"({w['both_primary_samples']} samples with both)",
              (w["both_primary_samples"] == 0) if sampled else None, optional_for=LINUX_KINDS)
    noticed = {k: w[k]["control_link"].get("False", 0) for k in ("a", "b")}
    sec.check(f"both nodes reported the control link down during the cut (samples with "
              f"control link false: A {noticed['a']}, B {noticed['b']})",
              (noticed["a"] > 0 and noticed["b"] > 0) if sampled else None,
              optional_for=LINUX_KINDS)
    return w


def check_link_back(lab, sec, deadline, t_restore: float) -> None:
    """Both nodes report the control link up again, and the pair is ready."""
    def link_up():
        for s in lab.slots:
            peers = ha_peers(lab.ha_state(s))  # none: no answer, not up
            if not peers or any(p.get("control_link") is not True for p in peers):
                return False
        return True
    up = wait_until(link_up, 10.0) if lab.ha_supported else None
    sec.check(f"both nodes report the control link up again ({time.monotonic() - t_restore:.2f} s)",
              None if up is None else bool(up), optional_for=LINUX_KINDS)
    lab.wait_ha_ready(deadline)


def check_tables_agree(lab, args, sec, t_restore: float) -> None:
    """Replication caught up: each node's table holds every session the other
    owns (those created during the cut included), naming the same owners."""
    def tables_agree():
        own = ownership(lab, RR_PORT)
        if not readable(own):
            return own, None
        a, b = (set(t) for t in own.values())
        return own, a == b and len(a) >= args.conns + 50 and not disagreements(own)
    end = time.monotonic() + 10.0
    while True:
        own, agree = tables_agree()
        if agree is not False or time.monotonic() > end:
            break
        time.sleep(0.2)
    hold(lab, max(0.0, t_restore + args.after - time.monotonic()))
    show_ha(lab, sec, "after the restore")
    show_ownership(lab, sec, "after the restore")
    if agree is False:
        for b in disagreements(own)[:5]:
            sec.line(f"after the restore: {b}")
    sec.check("after the restore both tables hold the same long-lived sessions ("
              + ", ".join(f"node{'A' if k == 1 else 'B'} {'n/a' if t is None else len(t)}"
                          for k, t in sorted(own.items()))
              + f"; {args.conns} + 50 started), each with the same owner and backup owner "
              "(those created during the cut replicated)", agree, optional_for=LINUX_KINDS)


def check_no_peer_down(lab, sec, c0: dict) -> None:
    """Each node's counters over the cut; ha.peer_down did not move."""
    for s in lab.slots:
        d = delta(lab.counters(s), c0[s.letter])
        if d:
            sec.line(f"{s.label} counters over the cut: {counter_line(d, limit=40)}")
        if lab.ha_supported:  # tandemd must report the counter
            reported = "ha.peer_down" in (c0[s.letter] or {})
            sec.check(f"{s.label}: ha.peer_down +{d.get('ha.peer_down', 0)} == 0"
                      f"{'' if reported else ' (counter not reported)'}",
                      reported and d.get("ha.peer_down", 0) == 0)


def body(lab, args, report, deadline, variant=None):
    node = lab.slot(args.cut)
    sec = report.section(f"control link cut at {node.label} for {args.cut_seconds:g} s under "
                         f"{args.conns} long-lived connections + bulk (owner {args.owner})")
    lab.set_routes(args.spread)
    start_longlived(lab, args, sec, window=args.after)
    hold(lab, args.steady)
    show_ha(lab, sec, "before the cut")
    c0 = {s.letter: lab.counters(s) for s in lab.slots}
    watch, t_cut, t_restore = cut_link(lab, args, sec, deadline, node)
    w = check_during_cut(lab, sec, watch, t_restore - t_cut)
    check_link_back(lab, sec, deadline, t_restore)
    check_tables_agree(lab, args, sec, t_restore)
    check_no_peer_down(lab, sec, c0)
    r2 = stop_rr(lab, "rr-cut")
    report_rr(sec, r2, label="created during the cut", marks=("restore",),
              target_ms=args.target_ms)
    r = stop_rr(lab)
    report_rr(sec, r, marks=("cut", "restore"), target_ms=args.target_ms)
    sec.data = {"rr": r, "rr_cut": r2, "watch": w}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: the HA control link is cut while both nodes live", body,
                       configure=configure))
