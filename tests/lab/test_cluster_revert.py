#!/usr/bin/python3
"""Cluster scenario 3: a killed node comes back (revert on and off), 3 or 4 nodes.

The failover of test_cluster_failover.py (the node owning the most
long-lived sessions SIGKILLed under 200 long-lived connections, a bulk
stream and 100 idle connections, its paths moved away at once), then the
killed node restarts with the same config; once it reports active and every
other node sees it, the segment through it is pinged and its paths move
back (ECMP over all nodes). 0 broken throughout; gaps from the kill, the
restart and the paths' return <= 300 ms. Sessions by owner are printed
before the kill, after the failover, after the restart and after revert
settled. Revert on: the returning node owns again what it owned before the
kill (long-lived and idle sessions; the idle ones sent no packet
meanwhile); off: it owns none of them. At the end every idle connection is
used and must answer. Both modes run, each in a fresh lab
(--revert-modes).

    /usr/bin/python3 tests/lab/test_cluster_revert.py --nodes 3 [--revert-modes true]
    /usr/bin/python3 tests/lab/test_cluster_revert.py --nodes 4 --peer-link udp
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster import (add_longlived_args, failover_phase, owners, report_gaps,  # noqa: E402
                     settle_ownership, show_ha, show_ownership)
from cluster import cluster_main  # noqa: E402
from pair import (IDLE_PORT, LINUX_KINDS, RR_PORT, hold, stop_idle, stop_rr, use_idle,  # noqa: E402
                  wait_rr_recovered)
from labkit.ha import ha_summary  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--revert-modes", default="true,false",
                    help="revert settings to run, each in a fresh lab (tandemd only)")


def variants(args):
    if args.node != "tandemd":
        return [{}]
    return [{"revert": m.strip() == "true"} for m in args.revert_modes.split(",") if m.strip()]


def restart_victim(lab, args, sec, deadline, victim) -> dict:
    """The killed node restarts (paths not back yet): active and seen by
    every node, its segment passes traffic; returns the ownership then."""
    c_restart = {s.letter: lab.counters(s) for s in lab.live()}
    t_restart = lab.mark("restart", window=args.after)
    lab.restart_node(victim)
    t_started = time.monotonic()
    states = lab.wait_ha_ready(deadline)
    t_active = time.monotonic()
    sec.line(f"{victim.label} restarted: control socket after {t_started - t_restart:.2f} s, "
             f"active and seen by every node after {t_active - t_restart:.2f} s: "
             f"{ha_summary(states.get(victim.letter))}")
    ping = lab.ping_segment(victim.letter)
    sec.check(f"the segment through {victim.label} passes traffic again (ping from crt: "
              f"{ping['replies']}/{ping['sent']})", ping["replies"] == ping["sent"])
    own_restarted = show_ownership(lab, sec, "after the restart, paths not back yet")
    hold(lab, max(0.0, t_restart + 1.0 - time.monotonic()))
    for s in lab.live():
        c0, c1 = c_restart.get(s.letter), lab.counters(s)
        if c1 is not None:
            moved = delta(c1, c0) if c0 is not None else {k: v for k, v in c1.items() if v}
            sec.line(f"{s.label} counters from the restart to the paths' return "
                     f"({'since its start' if c0 is None else 'delta'}): {counter_line(moved)}")
    return own_restarted


def paths_back(lab, args, sec, deadline) -> tuple[dict, dict]:
    """The paths move back over every node; ownership settles. Returns the
    long-lived and the idle sessions' ownership at the end."""
    ids = lab.ids
    t_back = lab.mark("path back", window=args.after)
    lab.set_routes(fwd=ids, rev=ids)
    sec.line(f"paths back: {lab.describe_routes()}")
    rec = wait_rr_recovered(lab, t_back, timeout=deadline.cap(args.after + 10))
    sec.line(f"every long-lived connection answered after the paths moved back "
             f"{'%.0f ms later' % (rec * 1000) if rec is not None else 'NOT within the wait'}")
    settle_ownership(lab, RR_PORT, timeout=deadline.cap(10.0))
    hold(lab, max(0.0, t_back + args.after - time.monotonic()))
    own_final = settle_ownership(lab, RR_PORT, timeout=deadline.cap(5.0))
    show_ownership(lab, sec, "after revert settled")
    idle_final = show_ownership(lab, sec, "idle, after revert settled (still no packet)",
                                port=IDLE_PORT) if args.idle else {}
    show_ha(lab, sec, "at the end")
    return own_final, idle_final


def check_revert(lab, args, sec, tag: str, victim, fo: dict, own_restarted: dict,
                 own_final: dict, idle_final: dict) -> None:
    """Ownership after the return follows the revert setting, for the
    long-lived and (with --idle) the idle sessions."""
    revert = lab.opts.revert

    def owned(own):
        o = owners(own)
        return None if o is None else o.get(victim.node_id, 0)

    before, during = owned(fo["own_before"]), owned(fo["own_after"])
    restarted, final = owned(own_restarted), owned(own_final)
    sec.line(f"long-lived sessions owned by {victim.label}: before the kill {before}, after the "
             f"failover {during}, after the restart {restarted}, at the end {final}; by owner at "
             f"the end: {owners(own_final)}")
    if final is None or before is None:
        sec.check(f"ownership after the return follows revert ({tag})", None,
                  optional_for=LINUX_KINDS)
    elif lab.opts.owner != "first-packet":
        sec.line(f"(owner {lab.opts.owner}: ownership after the return shown, not checked)")
    elif revert:
        sec.check(f"revert on: {victim.label} owns again what it owned before the kill "
                  f"({final} == {before})", final == before and before > 0)
    else:
        sec.check(f"revert off: {victim.label} took none of its sessions back ({final} == 0)",
                  final == 0)
    if args.idle and lab.opts.owner == "first-packet":
        ib, ifinal = owned(fo["idle_before"]), owned(idle_final)
        sec.line(f"idle sessions owned by {victim.label}: before the kill {ib}, after the "
                 f"failover {owned(fo['idle_after'])}, after revert settled {ifinal}")
        if ib is None or ifinal is None:
            sec.check("idle sessions follow revert", None, optional_for=LINUX_KINDS)
        elif revert:
            sec.check(f"revert on: {victim.label} owns again the idle sessions it owned before "
                      f"the kill, none of which sent a packet ({ifinal} == {ib})",
                      ifinal == ib and ib > 0)
        else:
            sec.check(f"revert off: {victim.label} took none of the idle sessions back "
                      f"({ifinal} == 0; it owned {ib} before the kill)", ifinal == 0 and ib > 0)


def body(lab, args, report, deadline, variant=None):
    revert = lab.opts.revert
    tag = f"revert {'on' if revert else 'off'}" if lab.opts.node == "tandemd" else "revert n/a"
    sec = report.section(f"revert ({tag}, {args.nodes} nodes, peer link {args.peer_link}): kill "
                         f"the busiest node, restart it, paths back")
    fo = failover_phase(lab, args, sec, deadline, lab.ids, after=args.after)
    victim = fo["killed"][0]
    own_restarted = restart_victim(lab, args, sec, deadline, victim)
    own_final, idle_final = paths_back(lab, args, sec, deadline)
    if args.idle:
        use_idle(lab, sec, "after the kill, the restart and revert")
        stop_idle(lab, sec)
    r = stop_rr(lab)
    report_gaps(lab, args, sec, r, ("kill", "restart", "path back"))
    check_revert(lab, args, sec, tag, victim, fo, own_restarted, own_final, idle_final)
    sec.data = {"rr": r, "kills": fo["kills"],
                "own": {"before": fo["own_before"], "after_failover": fo["own_after"],
                        "restarted": own_restarted, "final": own_final}}


if __name__ == "__main__":
    sys.exit(cluster_main("Cluster: a killed node returns (revert on / off)", body,
                          configure=configure, variants=variants))
