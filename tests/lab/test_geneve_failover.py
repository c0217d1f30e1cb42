#!/usr/bin/python3
"""A cluster in AWS behind a Gateway Load Balancer: 3 tandemd nodes (udp peer
link) behind the GWLB emulator, which sends each node traffic only while
its health checks pass; tandemd answers the checks itself ([health-check]).
Real Linux TCP client and server; the load is pair.py's: 200 long-lived
request/response connections, a bulk download stream and 100 idle
connections (one request at the start, one at the end).

Scenarios (--scenario):

  kill     SIGKILL the node whose target carries the most long-lived flows.
           Variants (--target-failover, default both, one lab each):
           rebalance: the emulator's checks fail, the target turns
           unhealthy and its flows are rehashed over the others, whose
           replicas (or the flow's director) take them: 0 broken, every
           idle connection answers; printed: the gap and its parts (every
           survivor declared the node dead; the emulator marked the target
           unhealthy and moved N flows, from its log; every connection
           answered again). no_rebalance: the dead target keeps its flows,
           which break (rr-long: no response for --io-timeout) while the
           others' do not: broken == the long-lived flows the emulator had
           on it, > 0. Then: broken 0 with rebalance, > 0 without.
  rejoin   the kill with rebalance, then the node restarts: it must not be
           healthy while `tentative` (its HA state and the emulator's view
           polled together every 20 ms), healthy only after its bulk sync;
           new flows reach it again; 0 broken.
  suspend  `request high-availability suspend` (the tandem CLI, --cli): the
           node reports suspended, answers the checks unhealthy, the
           emulator marks it unhealthy and gives it no new flow during a
           storm of short connections; `functional`: healthy again and new
           flows reach it; 0 broken.
  upgrade  a rolling upgrade of all three nodes, one at a time: suspend,
           wait until the emulator has moved its flows away, SIGTERM (exit
           0), start, active and paired, functional, healthy; 0 broken.
  protocol --health-check tcp and http (one lab each): the checks by hand
           from the emulator's namespace (healthy: TCP accepted / HTTP 200,
           404 on another path, 405 on another method; suspended: TCP reset
           / HTTP 503), the node's counters (health_checks_healthy,
           _unhealthy, _other), garbage to the health port (TCP segments of
           no connection, a payload that is no HTTP request) counted as
           health_check_garbage with no reply, ICMP to the target dropped
           (dropped_not_tunnel); the long-lived traffic undisturbed and no
           healthy target's check failing meanwhile.

Health checks at lab timings (geneve_cluster.HealthSettings): every 1 s,
timeout 0.5 s, healthy after 2 passes, unhealthy after 2 failures.

    /usr/bin/python3 tests/lab/test_geneve_failover.py --scenario kill \\
        --tandemd PATH --cli PATH
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from geneve_cluster import GeneveClusterLab, HealthSettings  # noqa: E402
from geneve_lab import geneve_policy  # noqa: E402
from lab import LabSkip, NodeFailed  # noqa: E402
from skip_policy import skip_exit  # noqa: E402
from pair import (BULK_PORT, IDLE_PORT, PAIR_POLICY, RR_PORT, SERVER_IP,  # noqa: E402
                  SERVER_SERVICES, hold, report_rr, start_idle, stop_rr, storm, use_idle)
from labkit.checks import Report  # noqa: E402
from labkit.ha import ACTIVE_STATES, ha_local_state, ha_peers, ha_summary, wait_until  # noqa: E402
from labkit.report import counter_line, delta, save_artifacts  # noqa: E402
from labkit.runner import LabRun, check_stopped, preflight  # noqa: E402

SCENARIOS = ("kill", "rejoin", "suspend", "upgrade", "protocol")
HEALTH_KEYS = ("health_checks_healthy", "health_checks_unhealthy", "health_checks_other",
               "health_check_closes", "health_check_ignored", "health_check_garbage",
               "health_check_segments", "dropped_not_tunnel")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", choices=SCENARIOS, required=True)
    ap.add_argument("--tandemd", default=None,
                    help="tandemd binary (default: $TANDEMD, else build/release/src/daemon/tandemd)")
    ap.add_argument("--cli", default=None,
                    help="the tandem CLI: suspend / functional go through it (else the control "
                         "socket)")
    ap.add_argument("--target-failover", default=None,
                    help="kill: comma-separated variants (default rebalance,no_rebalance); "
                         "others: the emulator's target failover (default rebalance)")
    ap.add_argument("--health-check", default=None,
                    help="protocol: comma-separated variants (default tcp,http); others: "
                         "tcp (default) or http")
    ap.add_argument("--hc-interval", type=float, default=1.0)
    ap.add_argument("--hc-timeout", type=float, default=0.5)
    ap.add_argument("--healthy-threshold", type=int, default=2)
    ap.add_argument("--unhealthy-threshold", type=int, default=2)
    ap.add_argument("--conns", type=int, default=200, help="long-lived connections")
    ap.add_argument("--interval-ms", type=float, default=50.0,
                    help="request interval per long-lived connection (every packet crosses the "
                         "Python emulator twice: 200 x 20/s keeps it below its rate on 2 CPUs)")
    ap.add_argument("--bulk-mbit", type=float, default=20.0, help="bulk stream rate")
    ap.add_argument("--idle", type=int, default=100, help="idle connections")
    ap.add_argument("--io-timeout", type=float, default=10.0,
                    help="a long-lived connection without a response this long is broken")
    ap.add_argument("--steady", type=float, default=1.5, help="seconds of traffic before events")
    ap.add_argument("--after", type=float, default=8.0,
                    help="seconds of traffic measured after a kill")
    ap.add_argument("--target-ms", type=float, default=7000.0,
                    help="largest gap allowed after a kill: the health checks' detection "
                         "(<= interval x unhealthy threshold + timeout = 2.5 s) plus the "
                         "client's TCP retransmission backoff (0.2, 0.4, 0.8, 1.6, 3.2 s: a "
                         "connection resumes at its next retransmission, 3.0 or 6.2 s after "
                         "its first lost segment)")
    ap.add_argument("--planned-target-ms", type=float, default=1000.0,
                    help="largest gap allowed after suspend, functional, stop and start")
    ap.add_argument("--connections", type=int, default=600,
                    help="short connections while a node is suspended, and after")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--heartbeat-ms", type=int, default=50)
    ap.add_argument("--hold-ms", type=int, default=500)
    ap.add_argument("--deadline", type=float, default=200.0, help="overall limit in seconds")
    ap.add_argument("--json", metavar="FILE", help="write the counted outcomes here")
    ap.add_argument("--artifacts", metavar="DIR", help="keep the nodes' configs and logs here")
    a = ap.parse_args(argv)
    if a.target_failover is None:
        a.target_failover = "rebalance,no_rebalance" if a.scenario == "kill" else "rebalance"
    if a.health_check is None:
        a.health_check = "tcp,http" if a.scenario == "protocol" else "tcp"
    a.failovers = [x for x in a.target_failover.split(",") if x]
    a.protocols = [x for x in a.health_check.split(",") if x]
    for x in a.failovers:
        if x not in ("rebalance", "no_rebalance"):
            ap.error(f"--target-failover: {x}")
    for x in a.protocols:
        if x not in ("tcp", "http"):
            ap.error(f"--health-check: {x}")
    if a.scenario != "kill" and len(a.failovers) > 1:
        ap.error("several --target-failover variants: kill only")
    if a.scenario != "protocol" and len(a.protocols) > 1:
        ap.error("several --health-check variants: protocol only")
    return a


# --- helpers ---------------------------------------------------------------------------------


def health_settings(args, protocol: str) -> HealthSettings:
    return HealthSettings(protocol=protocol, interval=args.hc_interval, timeout=args.hc_timeout,
                          healthy_threshold=args.healthy_threshold,
                          unhealthy_threshold=args.unhealthy_threshold)


def flow_ports(key: str) -> tuple[int, int]:
    """(client port, server port) of an emulator flow key 'tcp A:pa B:pb'."""
    parts = key.split()
    eps = [p.rsplit(":", 1) for p in parts[1:3]] if len(parts) == 3 else []
    if len(eps) != 2 or not all(len(e) == 2 for e in eps):
        return 0, 0
    (a, pa), (b, pb) = eps
    return (int(pa), int(pb)) if b == SERVER_IP else (int(pb), int(pa))


def flows_by_target(lab: GeneveClusterLab, ports: tuple[int, ...]) -> dict[str, set[int]]:
    """{target ip: client ports of its live flows to one of the server `ports`}."""
    out: dict[str, set[int]] = {s.ip: set() for s in lab.slots}
    for f in lab.gwlb("flows")["flows"]:
        cport, sport = flow_ports(f["key"])
        if sport in ports:
            out.setdefault(f["target"], set()).add(cport)
    return out


def health_counters(c: dict | None) -> dict:
    if not c:
        return {}
    out = {}
    for k in HEALTH_KEYS:
        for name in (k, f"io.{k}", f"pipeline.{k}"):
            if name in c:
                out[k] = c[name]
                break
    return out


def health_line(d: dict) -> str:
    return ", ".join(f"{k} {d.get(k, 0):+d}" for k in HEALTH_KEYS if d.get(k)) or "none moved"


def target_view(lab: GeneveClusterLab, s) -> dict:
    st = lab.gwlb("stats")
    return st["targets"].get(s.ip, {})


def start_traffic(lab: GeneveClusterLab, args, sec, window: float) -> dict:
    """rr-long (long-lived request/response + bulk) and idle-conns."""
    rr = lab.start_service("rr", "client", [
        "rr-long", "--dst", SERVER_IP, "--port", str(RR_PORT), "--conns", str(args.conns),
        "--interval", str(args.interval_ms / 1000.0), "--marks", lab.marks_path,
        "--window", str(window), "--target-ms", str(args.target_ms),
        "--io-timeout", str(args.io_timeout), "--bulk-port", str(BULK_PORT),
        "--bulk-conns", "1", "--bulk-rate", str(int(args.bulk_mbit * 1e6 / 8)),
        "--max-seconds", str(max(60.0, args.deadline))], timeout=30.0)
    sec.line(f"rr: {rr['connected']}/{args.conns} long-lived connections answering (a request "
             f"every {args.interval_ms:g} ms, broken after {args.io_timeout:g} s without a "
             f"response), 1 bulk stream at {args.bulk_mbit:g} Mbit/s; connect failures "
             f"{rr['connect_failed']}")
    if rr["connected"] < args.conns:
        raise NodeFailed(f"only {rr['connected']} of {args.conns} long-lived connections "
                         f"answered; the scenario cannot go on")
    idle = start_idle(lab, sec, args.idle) if args.idle else None
    lab.c_start = {s.letter: (s.node.proc.pid if s.node and s.node.proc else None,
                              lab.counters(s)) for s in lab.slots}
    return {"rr": rr, "idle": idle}


def counters_over(lab: GeneveClusterLab, sec, label: str) -> None:
    """Each live node's counters since the traffic started (since its own
    start for a node restarted meanwhile)."""
    for s in lab.live():
        pid, c0 = getattr(lab, "c_start", {}).get(s.letter, (None, None))
        c1 = lab.counters(s)
        if c1 is None:
            continue
        same = s.node.proc is not None and s.node.proc.pid == pid
        d = delta(c1, c0) if same and c0 else {k: v for k, v in c1.items()
                                               if isinstance(v, int) and v}
        sec.line(f"{s.label} counters {label}{'' if same else ' (since its restart)'}: "
                 f"{counter_line(d, limit=60)}")


def spread_line(lab: GeneveClusterLab, sec, label: str) -> dict[str, set[int]]:
    rr = flows_by_target(lab, (RR_PORT,))
    idle = flows_by_target(lab, (IDLE_PORT,))
    sec.line(f"{label}: long-lived flows by target " + ", ".join(
        f"{ip} {len(v)}" for ip, v in sorted(rr.items())) + "; idle " + ", ".join(
        f"{ip} {len(v)}" for ip, v in sorted(idle.items())))
    return rr


def busiest(lab: GeneveClusterLab, rr: dict[str, set[int]]):
    return max(lab.live(), key=lambda s: (len(rr.get(s.ip, ())), -s.node_id))


def ha_of(lab: GeneveClusterLab, s) -> str | None:
    return ha_local_state(lab.ha_state(s))


def sees_all(lab: GeneveClusterLab, s, ids: list[int]) -> bool:
    st = lab.ha_state(s)
    if ha_local_state(st) not in ACTIVE_STATES:
        return False
    alive = {str(p.get("id")) for p in ha_peers(st) if p.get("alive")}
    return all(str(i) in alive for i in ids if i != s.node_id)


def wait_cluster(lab: GeneveClusterLab, timeout: float) -> bool:
    ids = [s.node_id for s in lab.live()]
    return bool(wait_until(lambda: all(sees_all(lab, s, ids) for s in lab.live()), timeout))


def operator(lab: GeneveClusterLab, args, sec, s, what: str) -> bool:
    ok, res = lab.request(s, f"request high-availability {what}", cli=args.cli)
    via = "tandem CLI" if args.cli and os.path.isfile(args.cli) else "control socket"
    sec.line(f"`request high-availability {what}` on {s.label} ({via}): "
             f"{'ok' if ok else 'refused'}: {json.dumps(res)[:160] if not isinstance(res, str) else res[:160]}")
    return ok


def emulator_parts(lab: GeneveClusterLab, s, since: float) -> dict:
    """When the emulator marked target `s` unhealthy / healthy after
    `since`, and how many flows it moved then (its event log)."""
    out: dict = {}
    for ev in lab.gwlb_events(since):
        if ev.get("target") != s.ip:
            continue
        if ev.get("event") == "target" and ev.get("state") in ("unhealthy", "healthy") \
                and ev["state"] not in out:
            out[ev["state"]] = ev["at"]
            out[ev["state"] + "_why"] = ev.get("why", "")
        elif ev.get("event") == "rebalance" and "moved" not in out:
            out["moved"] = ev.get("moved", 0)
            out["moved_at"] = ev["at"]
    return out


def finish_traffic(lab: GeneveClusterLab, args, sec, marks: tuple[str, ...],
                   target_ms: float | None, idle_label: str = "at the end") -> dict:
    counters_over(lab, sec, "since the traffic started")
    sec.line(f"frames the switch dropped for a foreign source MAC (as a VPC would): "
             f"{lab.foreign_source_text(lab.foreign_source_frames())}")
    idle = None
    if args.idle:
        idle = use_idle(lab, sec, idle_label)
        final = lab.stop_service("idle", timeout=15.0)
        sec.check(f"idle: every idle connection closed cleanly ({final.get('closed_clean')}/"
                  f"{final.get('conns')})", final.get("closed_clean") == final.get("conns"))
    r = stop_rr(lab)
    report_rr(sec, r, marks=marks, target_ms=target_ms)
    return {"rr": r, "idle": idle}


# --- scenarios -------------------------------------------------------------------------------


def kill_phase(lab: GeneveClusterLab, args, sec, after: float) -> dict:
    """SIGKILL the busiest target; watch the cluster, the emulator and the
    long-lived connections until each has done its part."""
    start_traffic(lab, args, sec, window=after)
    hold(lab, args.steady)
    rr = spread_line(lab, sec, "before the kill")
    idle = flows_by_target(lab, (IDLE_PORT,))
    victim = busiest(lab, rr)
    survivors = [s for s in lab.live() if s is not victim]
    c0 = {s.letter: lab.counters(s) for s in survivors}
    t_kill = lab.kill_node(victim)
    lab.mark("kill", t_kill, window=after)
    sec.line(f"{victim.label} ({victim.ip}, {len(rr.get(victim.ip, ()))} long-lived and "
             f"{len(idle.get(victim.ip, ()))} idle flows) SIGKILLed")
    dead_at = unhealthy_at = recovered = None
    pending = {s.letter for s in survivors}
    end = t_kill + after + 2.0
    while time.monotonic() < end:
        now = time.monotonic()
        for s in survivors:
            if s.letter in pending:
                st = lab.ha_state(s)
                if any(str(p.get("id")) == str(victim.node_id) and p.get("alive") is False
                       for p in ha_peers(st)):
                    pending.discard(s.letter)
        if not pending and dead_at is None:
            dead_at = time.monotonic()
        if unhealthy_at is None and lab.target_state(victim) == "unhealthy":
            unhealthy_at = time.monotonic()
        if recovered is None:
            st = lab.service_stats("rr", timeout=5.0)
            if st["oldest_last_response"] > t_kill and st["live"] == args.conns:
                recovered = st["t"]
        if dead_at and unhealthy_at and (recovered or lab.opts["target_failover"] != "rebalance"):
            break
        lab.check_node()
        time.sleep(max(0.0, 0.02 - (time.monotonic() - now)))
    parts = emulator_parts(lab, victim, t_kill)
    tv = target_view(lab, victim)

    def ms(t):
        return f"{(t - t_kill) * 1000:.0f} ms" if t else "never"
    sec.line(f"cluster failover: every survivor declared {victim.label} dead after {ms(dead_at)} "
             f"(hold time {lab.opts['hold_ms']} ms)")
    sec.line(f"health-check detection: the emulator marked {victim.ip} unhealthy after "
             f"{ms(parts.get('unhealthy'))} (its log; polled: {ms(unhealthy_at)}) - "
             f"{parts.get('unhealthy_why', '?')}; checks failed {tv.get('checks_failed')}, "
             f"last: {tv.get('last_check')}")
    if lab.opts["target_failover"] == "rebalance":
        sec.line(f"rehash: {parts.get('moved', 0)} flows moved to the other targets at "
                 f"{ms(parts.get('moved_at'))} (flows_rebalanced_out "
                 f"{tv.get('flows_rebalanced_out')})")
        sec.line(f"every long-lived connection answered again {ms(recovered)} after the kill "
                 f"(after the rehash: "
                 f"{(recovered - parts['moved_at']) * 1000:.0f} ms: TCP retransmission backoff "
                 f"and the new node taking the flow)" if recovered and parts.get("moved_at")
                 else f"every long-lived connection answered again: {ms(recovered)}")
    else:
        sec.line(f"no_rebalance: {tv.get('active_flows')} flows stay with {victim.ip} "
                 f"(flows_rebalanced_out {tv.get('flows_rebalanced_out')})")
    sec.check(f"every survivor declared {victim.label} dead", dead_at is not None)
    sec.check(f"the emulator's health checks marked {victim.ip} unhealthy within "
              f"{lab.health.detection_bound() + 1:.1f} s ({ms(parts.get('unhealthy'))})",
              parts.get("unhealthy") is not None and
              parts["unhealthy"] - t_kill <= lab.health.detection_bound() + 1.0)
    hold(lab, max(0.0, t_kill + after - time.monotonic()))
    for s in survivors:
        c = lab.counters(s)
        if c is not None and c0.get(s.letter) is not None:
            sec.line(f"{s.label} counters over the failover: "
                     f"{counter_line(delta(c, c0[s.letter]), limit=24)}")
    return {"victim": victim, "t_kill": t_kill, "rr_flows": rr, "idle_flows": idle,
            "dead_ms": (dead_at - t_kill) * 1000 if dead_at else None,
            "unhealthy_ms": (parts["unhealthy"] - t_kill) * 1000 if parts.get("unhealthy") else None,
            "moved": parts.get("moved"),
            "recovered_ms": (recovered - t_kill) * 1000 if recovered else None}


def scenario_kill(lab, args, report, deadline, variant) -> dict:
    fo = lab.opts["target_failover"]
    sec = report.section(f"kill, target failover {fo}")
    if fo == "rebalance":
        k = kill_phase(lab, args, sec, after=args.after)
        res = finish_traffic(lab, args, sec, ("kill",), args.target_ms)
        r = res["rr"]
        g = next((m["gap_ms"] for m in r["marks"] if m["name"] == "kill"), {})
        sec.line(f"GAP (rebalance): max {g.get('max')} ms, p99 {g.get('p99')} ms = health-check "
                 f"detection {k['unhealthy_ms'] and round(k['unhealthy_ms'])} ms (rehash of "
                 f"{k['moved']} flows at the same moment) + TCP backoff and takeover; cluster "
                 f"failover {k['dead_ms'] and round(k['dead_ms'])} ms, inside the detection")
        return {"failover": fo, "broken": r["broken"],
                "idle_broken": res["idle"]["broken"] if res["idle"] else 0, "gap_ms": g,
                **{x: k[x] for x in ("dead_ms", "unhealthy_ms", "moved", "recovered_ms")}}
    # no_rebalance: the dead target's flows stay there and break
    after = args.io_timeout + 2.0
    k = kill_phase(lab, args, sec, after=after)
    victim = k["victim"]
    pinned = k["rr_flows"].get(victim.ip, set())
    pinned_idle = k["idle_flows"].get(victim.ip, set())
    idle = None
    if args.idle:
        proc = lab.service("idle")
        proc.send_signal(signal.SIGUSR2)
        while True:
            idle = proc.read_json(args.io_timeout + 20)
            if idle.get("event") == "used":
                break
        sec.line(f"idle: {idle['answered']}/{idle['conns']} answered, broken {idle['broken']} "
                 f"{idle['broken_reasons']}; {len(pinned_idle)} were on {victim.ip}")
        lab.stop_service("idle", timeout=15.0)
    r = stop_rr(lab)
    broken_ports = {d["sport"] for d in r["broken_detail"]}
    sec.line(f"long-lived: broken {r['broken']} {r['broken_reasons']}; {len(pinned)} flows were "
             f"on {victim.ip}; bulk {[b['state'] for b in r['bulk']]}")
    sec.check(f"no_rebalance: the dead target's long-lived connections broke "
              f"({r['broken']} broken, {len(pinned)} flows on {victim.ip}), none of the others",
              r["broken"] == len(pinned) > 0 and
              all(p in pinned for p in broken_ports))
    if idle is not None:
        sec.check(f"no_rebalance: the idle connections on {victim.ip} broke, the others answered "
                  f"({idle['broken']} broken, {len(pinned_idle)} on it)",
                  idle["broken"] == len(pinned_idle) and
                  idle["answered"] == idle["conns"] - len(pinned_idle))
    return {"failover": fo, "broken": r["broken"], "pinned": len(pinned),
            "idle_broken": idle["broken"] if idle else 0,
            **{x: k[x] for x in ("dead_ms", "unhealthy_ms", "moved")}}


def scenario_rejoin(lab, args, report, deadline, variant) -> dict:
    sec = report.section("kill, then the node restarts and rejoins (rebalance)")
    after = 5.0
    k = kill_phase(lab, args, sec, after=after)
    victim = k["victim"]
    sec = report.section(f"{victim.label} restarts")
    t_restart = lab.mark("restart", window=6.0)
    lab.start_node(victim, lab.policy, args.tandemd)
    t_up = time.monotonic()
    timeline: list[tuple[float, str | None, str | None]] = []
    bad: list[str] = []

    def watch():
        node, target = ha_of(lab, victim), lab.target_state(victim)
        timeline.append((time.monotonic(), node, target))
        if target == "healthy" and node not in ACTIVE_STATES:
            bad.append(f"{(time.monotonic() - t_restart) * 1000:.0f} ms: emulator healthy "
                       f"while the node is {node}")
    t_healthy = lab.wait_target(victim, ("healthy",), timeout=deadline.cap(40.0), watch=watch)
    seen = []
    for t, node, target in timeline:
        if not seen or seen[-1][1:] != (node, target):
            seen.append((t, node, target))
    sec.line(f"control socket after {t_up - t_restart:.2f} s; node state / emulator view: " +
             "; ".join(f"{(t - t_restart) * 1000:.0f} ms {n} / {tg}" for t, n, tg in seen[:12]))
    t_tent = [t for t, n, _ in timeline if n == "tentative"]
    t_act = next((t for t, n, _ in timeline if n in ACTIVE_STATES), None)
    sec.line(f"tentative seen {len(t_tent)} times (last at "
             f"{(t_tent[-1] - t_restart) * 1000 if t_tent else 0:.0f} ms), active at "
             f"{(t_act - t_restart) * 1000 if t_act else -1:.0f} ms, healthy at the emulator at "
             f"{(t_healthy - t_restart) * 1000 if t_healthy else -1:.0f} ms")
    hc = health_counters(lab.counters(victim))
    sec.line(f"{victim.label} health-check counters since its restart: {health_line(hc)}")
    sec.check(f"{victim.label} healthy at the emulator again", t_healthy is not None)
    sec.check(f"never healthy while not active ({len(bad)} samples{': ' + bad[0] if bad else ''})"
              , not bad and t_act is not None and t_healthy is not None and t_healthy >= t_act)
    lab.mark("healthy", window=4.0)
    ok = wait_cluster(lab, deadline.cap(15.0))
    sec.check("every node active and seeing the others", ok)
    v0 = target_view(lab, victim)
    storm(lab, sec, "after the rejoin", args.connections, args.concurrency, deadline,
          budget=60.0, seed=21)
    v1 = target_view(lab, victim)
    got = v1.get("flows_assigned", 0) - v0.get("flows_assigned", 0)
    sec.check(f"new flows reach {victim.label} again ({got} of {args.connections})", got > 0)
    hold(lab, 1.0)
    res = finish_traffic(lab, args, sec, ("kill", "restart", "healthy"), args.target_ms)
    return {"broken": res["rr"]["broken"], "kill": {x: k[x] for x in (
        "dead_ms", "unhealthy_ms", "moved", "recovered_ms")},
        "tentative_samples": len(t_tent),
        "active_ms": (t_act - t_restart) * 1000 if t_act else None,
        "healthy_ms": (t_healthy - t_restart) * 1000 if t_healthy else None}


def suspend_node(lab, args, sec, s, deadline) -> dict:
    """suspend; wait for `suspended` and for the emulator's unhealthy."""
    t = lab.mark("suspend " + s.label, window=4.0)
    ok = operator(lab, args, sec, s, "suspend")
    sec.check(f"{s.label} accepted suspend", ok)
    st = wait_until(lambda: ha_of(lab, s) == "suspended", deadline.cap(10.0))
    sec.check(f"{s.label} reports suspended ({ha_of(lab, s)})", bool(st))
    t_un = lab.wait_target(s, ("unhealthy",), timeout=deadline.cap(15.0))
    parts = emulator_parts(lab, s, t)
    sec.line(f"the emulator marked {s.ip} unhealthy "
             f"{(t_un - t) * 1000 if t_un else -1:.0f} ms after the suspend "
             f"({parts.get('unhealthy_why', '?')}); moved {parts.get('moved', 0)} flows")
    sec.check(f"{s.ip} unhealthy at the emulator after the suspend", t_un is not None)
    return {"t": t, "unhealthy_ms": (t_un - t) * 1000 if t_un else None,
            "moved": parts.get("moved", 0)}


def functional_node(lab, args, sec, s, deadline, mark: bool = True) -> dict:
    t = lab.mark("functional " + s.label, window=4.0) if mark else time.monotonic()
    ok = operator(lab, args, sec, s, "functional")
    sec.check(f"{s.label} accepted functional", ok)
    act = wait_until(lambda: ha_of(lab, s) in ACTIVE_STATES, deadline.cap(15.0))
    sec.check(f"{s.label} active again ({ha_of(lab, s)})", bool(act))
    t_h = lab.wait_target(s, ("healthy",), timeout=deadline.cap(15.0))
    sec.line(f"the emulator marked {s.ip} healthy {(t_h - t) * 1000 if t_h else -1:.0f} ms "
             f"after functional")
    sec.check(f"{s.ip} healthy at the emulator again", t_h is not None)
    return {"healthy_ms": (t_h - t) * 1000 if t_h else None}


def scenario_suspend(lab, args, report, deadline, variant) -> dict:
    sec = report.section(f"suspend / functional (target failover {lab.opts['target_failover']})")
    start_traffic(lab, args, sec, window=4.0)
    hold(lab, args.steady)
    rr = spread_line(lab, sec, "before")
    s = busiest(lab, rr)
    c0 = health_counters(lab.counters(s))
    sus = suspend_node(lab, args, sec, s, deadline)
    v0 = target_view(lab, s)
    spread_line(lab, sec, "suspended")
    storm(lab, sec, f"while {s.label} is suspended", args.connections, args.concurrency,
          deadline, budget=60.0, seed=11)
    v1 = target_view(lab, s)
    new = v1.get("flows_assigned", 0) - v0.get("flows_assigned", 0)
    sec.check(f"drained: no new flow to {s.ip} while suspended ({new})", new == 0)
    c1 = health_counters(lab.counters(s))
    sec.line(f"{s.label} health-check counters while suspended: {health_line(delta(c1, c0))}")
    sec.check(f"{s.label} answered checks unhealthy while suspended "
              f"(+{delta(c1, c0).get('health_checks_unhealthy', 0)})",
              delta(c1, c0).get("health_checks_unhealthy", 0) >= args.unhealthy_threshold)
    fun = functional_node(lab, args, sec, s, deadline)
    v2 = target_view(lab, s)
    storm(lab, sec, f"after {s.label} is functional", args.connections, args.concurrency,
          deadline, budget=60.0, seed=12)
    v3 = target_view(lab, s)
    back = v3.get("flows_assigned", 0) - v2.get("flows_assigned", 0)
    sec.check(f"new flows reach {s.ip} again ({back} of {args.connections})", back > 0)
    res = finish_traffic(lab, args, sec, (f"suspend {s.label}", f"functional {s.label}"),
                         args.planned_target_ms)
    return {"broken": res["rr"]["broken"], "unhealthy_ms": sus["unhealthy_ms"],
            "moved": sus["moved"], "healthy_ms": fun["healthy_ms"], "new_while_suspended": new,
            "new_after": back}


def scenario_upgrade(lab, args, report, deadline, variant) -> dict:
    sec = report.section(f"rolling upgrade of {len(lab.slots)} nodes "
                         f"(target failover {lab.opts['target_failover']})")
    start_traffic(lab, args, sec, window=4.0)
    hold(lab, args.steady)
    spread_line(lab, sec, "before")
    marks, out = [], []
    for s in lab.slots:
        sus = suspend_node(lab, args, sec, s, deadline)
        marks.append(f"suspend {s.label}")
        gone = wait_until(lambda: target_view(lab, s).get("active_flows", 1) == 0,
                          deadline.cap(10.0))
        sec.check(f"{s.ip} has no flow left at the emulator before the stop "
                  f"({target_view(lab, s).get('active_flows')})", bool(gone))
        t = lab.mark("stop " + s.label, window=4.0)
        marks.append(f"stop {s.label}")
        r = lab.stop_node(s)
        sec.check(f"{s.label} exited 0 on SIGTERM ({r.get('exit_code')}, "
                  f"{time.monotonic() - t:.2f} s)", r.get("exit_code") == 0)
        lab.mark("start " + s.label, window=4.0)
        marks.append(f"start {s.label}")
        t0 = time.monotonic()
        lab.start_node(s, lab.policy, args.tandemd)
        ok = wait_cluster(lab, deadline.cap(30.0))
        sec.line(f"{s.label} started: active and paired with all after "
                 f"{time.monotonic() - t0:.2f} s: {ha_summary(lab.ha_state(s))}")
        sec.check(f"{s.label} active and seen by every node after the restart", ok)
        fun = functional_node(lab, args, sec, s, deadline)
        marks.append(f"functional {s.label}")
        out.append({"node": s.node_id, "unhealthy_ms": sus["unhealthy_ms"],
                    "moved": sus["moved"], "healthy_ms": fun["healthy_ms"]})
    spread_line(lab, sec, "after the upgrade")
    res = finish_traffic(lab, args, sec, tuple(marks), args.planned_target_ms)
    return {"broken": res["rr"]["broken"], "steps": out}


def health_probe(lab, s, extra, timeout=20.0) -> dict:
    """`traffic.py health-probe` from the emulator's namespace to node s's health port."""
    return lab.tool("gw", ["health-probe", "--dst", s.ip, "--port", str(lab.health.port)]
                    + extra, timeout=timeout)


def probe_active(lab, sec, a) -> list:
    """Checks by hand of an active node: TCP accepted, or HTTP 200 / 404 / 405;
    its counters; returns the answers."""
    proto, path = lab.health.protocol, lab.health.path
    c0 = health_counters(lab.counters(a))
    if proto == "tcp":
        r = health_probe(lab, a, ["--tcp", "5"])
        sec.line(f"{a.label} active, 5 TCP handshakes by hand: {r['tcp']}")
        sec.check(f"{a.label} active: every handshake accepted",
                  r["tcp"] == ["accepted"] * 5)
        want_h, want_o = 5, 0
    else:
        reqs = [f"GET {path}", f"HEAD {path}", "GET /other", f"POST {path}", f"PUT {path}"]
        r = health_probe(lab, a, sum((["--http", q] for q in reqs), []))
        got = [x["status"] for x in r["http"]]
        sec.line(f"{a.label} active, by hand: " + ", ".join(
            f"{q} -> {x['status']}" for q, x in zip(reqs, r["http"])))
        sec.check(f"{a.label} active: {path} 200 (GET, HEAD), another path 404, another method "
                  f"405 ({got})", got == [200, 200, 404, 405, 405])
        want_h, want_o = 2, 3
    c1 = health_counters(lab.counters(a))
    d = delta(c1, c0)
    sec.line(f"{a.label} counters (the emulator's checks included): {health_line(d)}")
    sec.check(f"{a.label}: health_checks_healthy +{d.get('health_checks_healthy', 0)} >= "
              f"{want_h} by hand, health_checks_unhealthy +{d.get('health_checks_unhealthy', 0)}"
              f" == 0, health_checks_other +{d.get('health_checks_other', 0)} == {want_o}",
              d.get("health_checks_healthy", 0) >= want_h and
              not d.get("health_checks_unhealthy") and d.get("health_checks_other", 0) == want_o)
    return r.get("tcp") or [x["status"] for x in r["http"]]


def probe_suspended(lab, args, sec, b, deadline) -> list:
    """Suspends node b; checks by hand: TCP reset, or HTTP 503; its counters;
    makes it functional again; returns the answers."""
    proto, path = lab.health.protocol, lab.health.path
    suspend_node(lab, args, sec, b, deadline)
    c0 = health_counters(lab.counters(b))
    if proto == "tcp":
        r = health_probe(lab, b, ["--tcp", "5"])
        sec.line(f"{b.label} suspended, 5 TCP handshakes by hand: {r['tcp']}")
        sec.check(f"{b.label} suspended: every handshake reset (refused)",
                  r["tcp"] == ["refused"] * 5)
    else:
        r = health_probe(lab, b, ["--http", f"GET {path}", "--http", f"GET {path}"])
        got = [x["status"] for x in r["http"]]
        sec.line(f"{b.label} suspended, by hand: GET {path} -> {got}")
        sec.check(f"{b.label} suspended: {path} 503 ({got})", got == [503, 503])
    c1 = health_counters(lab.counters(b))
    d = delta(c1, c0)
    sec.line(f"{b.label} counters: {health_line(d)}")
    sec.check(f"{b.label}: health_checks_unhealthy +{d.get('health_checks_unhealthy', 0)} >= 2 "
              f"by hand, health_checks_healthy +{d.get('health_checks_healthy', 0)} == 0",
              d.get("health_checks_unhealthy", 0) >= 2 and not d.get("health_checks_healthy"))
    out = r.get("tcp") or [x["status"] for x in r["http"]]
    functional_node(lab, args, sec, b, deadline, mark=False)
    return out


def probe_garbage(lab, sec, a) -> dict:
    """Garbage to the active node's health port and ICMP to its address: no
    reply, counted as garbage and dropped_not_tunnel; returns the counters moved."""
    proto, path, port = lab.health.protocol, lab.health.path, lab.health.port
    c0 = health_counters(lab.counters(a))
    seg = 50
    payloads = ["\\x16\\x03\\x01\\x00\\x05hello", "NOT HTTP AT ALL\\r\\n\\r\\n"]
    extra = ["--segments", str(seg), "--listen", "1.0"]
    for p in payloads:
        extra += ["--payload", p]
    if proto == "http":
        extra += ["--http", f"BREW {path}"]
    r = health_probe(lab, a, extra)
    ping = lab.tool("gw", ["icmp-echo", "--dst", a.ip, "--count", "5", "--timeout", "0.5"],
                    timeout=15.0)
    time.sleep(0.2)
    c1 = health_counters(lab.counters(a))
    d = delta(c1, c0)
    sg = r["segments"]
    sec.line(f"garbage to {a.ip}:{port}: {sg['sent']} segments {sg['by_kind']}, replies "
             f"{sg['replies']} {sg.get('replied') or ''}; payloads: " + "; ".join(
                 f"{x['payload']!r} -> {x['connect']}, reply {x['reply_bytes']} bytes "
                 f"{x.get('reply', '')!r} ({x.get('ended')})" for x in r["payload"])
             + ("; " + ", ".join(f"{x['request']} -> {x['status']}" for x in r["http"])
                if r["http"] else ""))
    sec.line(f"ICMP echo to {a.ip}: {ping.get('replies')}/{ping.get('sent')} answered")
    sec.line(f"{a.label} counters: {health_line(d)}")
    n_garbage = seg + (len(payloads) if proto == "http" else 0)
    sec.check(f"no reply to the {seg} segments of no connection ({sg['replies']})",
              sg["replies"] == 0)
    sec.check(f"health_check_garbage +{d.get('health_check_garbage', 0)} >= {n_garbage} "
              f"(segments{' and payloads that are no HTTP request' if proto == 'http' else ''})",
              d.get("health_check_garbage", 0) >= n_garbage)
    if proto == "http":
        sec.check(f"the payloads that are no HTTP request got no reply "
                  f"({[x['reply_bytes'] for x in r['payload']]})",
                  all(x["reply_bytes"] == 0 for x in r["payload"]))
        brew = r["http"][0]["status"] if r["http"] else None
        sec.check(f"a request with another method (BREW) -> 405 ({brew}), counted in "
                  f"health_checks_other (+{d.get('health_checks_other', 0)})",
                  brew == 405 and d.get("health_checks_other", 0) >= 1)
    sec.check(f"ICMP to the target address unanswered ({ping.get('replies')}) and counted as "
              f"dropped_not_tunnel (+{d.get('dropped_not_tunnel', 0)} >= 5)",
              ping.get("replies") == 0 and d.get("dropped_not_tunnel", 0) >= 5)
    return d


def check_emulator_checks(lab, sec, suspended, views0: dict) -> None:
    """The emulator's own checks of the active nodes never failed meanwhile."""
    views1 = {s.ip: target_view(lab, s) for s in lab.slots}
    for s in lab.slots:
        if s is suspended:
            continue
        f = views1[s.ip].get("checks_failed", 0) - views0[s.ip].get("checks_failed", 0)
        sec.check(f"{s.ip}: none of the emulator's checks failed during the scenario ({f}), "
                  f"state {views1[s.ip].get('state')}, last: {views1[s.ip].get('last_check')}",
                  f == 0 and views1[s.ip].get("state") == "healthy")


def scenario_protocol(lab, args, report, deadline, variant) -> dict:
    proto = lab.health.protocol
    sec = report.section(f"health-check protocol {proto}: answers per state, garbage")
    start_traffic(lab, args, sec, window=4.0)
    hold(lab, args.steady)
    a, b = lab.slots[0], lab.slots[1]
    views0 = {s.ip: target_view(lab, s) for s in lab.slots}
    out: dict = {"protocol": proto}
    out["active"] = probe_active(lab, sec, a)
    out["suspended"] = probe_suspended(lab, args, sec, b, deadline)
    out["garbage"] = probe_garbage(lab, sec, a)
    check_emulator_checks(lab, sec, b, views0)
    res = finish_traffic(lab, args, sec, (f"suspend {b.label}",), args.planned_target_ms)
    out["broken"] = res["rr"]["broken"]
    return out


BODIES = {"kill": scenario_kill, "rejoin": scenario_rejoin, "suspend": scenario_suspend,
          "upgrade": scenario_upgrade, "protocol": scenario_protocol}


# --- runner ------------------------------------------------------------------------------------


def run_variant(args, report, deadline, variant: dict) -> dict:
    health = health_settings(args, variant["health"])
    opts = {"owner": "first-packet", "heartbeat_ms": args.heartbeat_ms, "hold_ms": args.hold_ms,
            "health": health, "target_failover": variant["failover"],
            "deregistration_delay": 0}
    with GeneveClusterLab(3, "tandemd", opts) as lab:
        try:
            lab.policy = geneve_policy(PAIR_POLICY)
            for name, argv in SERVER_SERVICES.items():
                lab.start_service(name, "server", argv)
            lab.start_gwlb([])
            sec = report.section(f"cluster up ({variant['failover']}, {health.protocol})")
            t0 = time.monotonic()
            for s in lab.slots:
                lab.start_node(s, lab.policy, args.tandemd)
            states = lab.wait_ha(lab.slots, paired=True, timeout=deadline.cap(40.0))
            for k, v in states.items():
                sec.line(f"node{k}: {ha_summary(v)}")
            lab.gwlb("register", targets=[s.ip for s in lab.slots])
            took = lab.wait_healthy(lab.slots, timeout=deadline.cap(20.0))
            sec.line(f"{health.describe()}; target failover {variant['failover']}")
            sec.check(f"3 nodes active and paired, registered, every target healthy "
                      f"({took:.1f} s after registration, {time.monotonic() - t0:.1f} s in all)",
                      True)
            figures = BODIES[args.scenario](lab, args, report, deadline, variant)
            sec = report.section(f"shutdown ({variant['failover']}, {health.protocol})")
            lab.gwlb_log = lab._services["gwlb"].stderr_text()
            final = lab.stop_gwlb()
            tot = final.get("totals", {})
            sec.line(f"emulator: {json.dumps({k: tot.get(k) for k in ('flows_created', 'flows_rebalanced', 'encapsulated', 'delivered', 'no_target', 'bad_return')})}")
            sec.check(f"emulator: no option mismatch or bad return (bad_return "
                      f"{tot.get('bad_return')})", tot.get("bad_return") == 0)
            for s in lab.live():
                hc = health_counters(lab.counters(s))
                sec.line(f"{s.label} health-check counters: {health_line(hc)}")
            foreign = lab.foreign_source_frames()
            sec.check(f"every frame a station sent carried its own source MAC (dropped by the "
                      f"switch otherwise, as a VPC does: {lab.foreign_source_text(foreign)})",
                      sum(foreign.values()) == 0)
            check_stopped(sec, lab.stop_nodes(), skip_unknown=False)
            return figures
        finally:
            if args.artifacts:
                tag = f"{args.scenario}-{variant['failover']}-{variant['health']}"
                dst = save_artifacts(lab.workdir, args.artifacts, tag)
                proc = lab._services.get("gwlb")
                text = proc.stderr_text() if proc is not None else getattr(lab, "gwlb_log", "")
                with open(os.path.join(dst, "gwlb-emulator.log"), "w") as f:
                    f.write(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        args.tandemd = preflight(("ip", "ethtool", "nft", "bridge"), args.tandemd,
                                 need_tandemd=True)
    except LabSkip as e:
        return skip_exit(e)
    lab_run = LabRun(args.deadline)
    report = Report()
    figures: dict = {}
    variants = ([{"failover": f, "health": args.protocols[0]} for f in args.failovers]
                if args.scenario == "kill" else
                [{"failover": args.failovers[0], "health": p} for p in args.protocols])
    print(f"GENEVE cluster of 3 behind the GWLB emulator, scenario {args.scenario}: tandemd "
          f"{args.tandemd}; {health_settings(args, args.protocols[0]).describe()}", flush=True)
    with lab_run.guard():
        for v in variants:
            tag = f"{v['failover']}, {v['health']}"
            print(f"\n#### variant: {tag}", flush=True)
            try:
                figures[tag] = run_variant(args, report, lab_run.deadline, v)
            except NodeFailed as e:
                lab_run.node_failed(e, tag)
        if args.scenario == "kill" and len(figures) == 2:
            sec = report.section("rebalance vs no_rebalance")
            rb = figures.get("rebalance, " + args.protocols[0], {})
            nr = figures.get("no_rebalance, " + args.protocols[0], {})
            sec.check(f"long-lived connections broken: rebalance {rb.get('broken')}, "
                      f"no_rebalance {nr.get('broken')} (0 with rebalance, > 0 without)",
                      rb.get("broken") == 0 and (nr.get("broken") or 0) > 0)
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    print("\n" + "-" * 72)
    report.print_summary()
    print(f"FIGURES: {json.dumps(figures, default=str, sort_keys=True)}")
    failed = report.failed() + [f"node: {f}" for f in lab_run.node_failures]
    return lab_run.finish(failed, report.n_checks(), f"scenario {args.scenario}",
                          json_path=args.json,
                          json_data={"scenario": args.scenario,
                                     "node_failures": lab_run.node_failures,
                                     "figures": figures, "sections": report.sections_json()})


if __name__ == "__main__":
    sys.exit(main())
