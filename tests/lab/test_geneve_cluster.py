#!/usr/bin/python3
"""GENEVE cluster: N tandemd nodes behind the GWLB emulator, as on EC2.

Each node in mode geneve with one GENEVE data port, the udp peer link and
the HA control link (geneve_cluster.py). First only node 1 runs and is
registered with the emulator: a storm of short TCP connections gives the
single-node setup rate. Then the other nodes start; once `show
high-availability state` shows every node active and seeing every other,
they are registered, and a storm of 10,000 short connections (5-tuple
stickiness) spreads over all targets. Checked: every connection completed
with its echo verified; every packet a target returned carried the GENEVE
options sent for its flow (the emulator's counters); no SYN retransmitted
(TcpExtTCPSynRetrans in the client's namespace) and no SYN-ACK (in the
server's); the setup rate at least 90 % of the single-node rate (40 % on
a machine with fewer CPUs than nodes + 3, where every phase is CPU-bound and
the cluster does more work per connection; a first packet lost per
connection gives 3 %); every target got flows; each node received exactly
what the emulator sent it and everything it forwarded came back; every node
exits 0 on SIGTERM.

    /usr/bin/python3 tests/lab/test_geneve_cluster.py --nodes 2 --tandemd PATH --cli PATH
    /usr/bin/python3 tests/lab/test_geneve_cluster.py --nodes 3
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from geneve_cluster import (GeneveClusterLab, HealthSettings, target_flows,  # noqa: E402
                            totals_delta)
from geneve_lab import geneve_policy  # noqa: E402
from lab import Deadline, LabSkip, run  # noqa: E402
from skip_policy import skip_exit  # noqa: E402
from pair import PAIR_POLICY, SERVER_SERVICES, storm  # noqa: E402
from labkit.checks import Report  # noqa: E402
from labkit.ha import ha_peers, ha_ready, ha_summary  # noqa: E402
from labkit.report import counter_line, delta, save_artifacts  # noqa: E402
from labkit.runner import LabRun, check_stopped, preflight  # noqa: E402


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=2, help="cluster members (2..8)")
    ap.add_argument("--tandemd", default=None,
                    help="tandemd binary (default: $TANDEMD, else build/release/src/daemon/tandemd)")
    ap.add_argument("--cli", default=None, help="the tandem CLI: `show high-availability state` "
                                                "is printed through it at the end when given")
    ap.add_argument("--connections", type=int, default=10000,
                    help="short connections over the whole cluster")
    ap.add_argument("--single-connections", type=int, default=5000,
                    help="short connections through node 1 alone (the reference rate)")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--min-ratio", type=float, default=0.90,
                    help="cluster setup rate / single-node rate required")
    ap.add_argument("--min-ratio-oversubscribed", type=float, default=0.40,
                    help="the ratio required instead when the machine has fewer CPUs than "
                         "nodes + 3 (client, server, emulator): everything time-shares the "
                         "CPUs and the rate is CPU-bound, the cluster doing more work per "
                         "connection (replication) than one node")
    ap.add_argument("--health-check", choices=("tcp", "http", "none"), default="tcp",
                    help="the emulator's health checks, answered by tandemd ([health-check]); "
                         "none: every registered target is healthy at once")
    ap.add_argument("--owner", choices=("first-packet", "primary"), default="first-packet")
    ap.add_argument("--heartbeat-ms", type=int, default=50)
    ap.add_argument("--hold-ms", type=int, default=500)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--no-curve", action="store_true", help="no CURVE keys in the configs")
    ap.add_argument("--deadline", type=float, default=170.0, help="overall limit in seconds")
    ap.add_argument("--json", metavar="FILE", help="write the counted outcomes here")
    ap.add_argument("--artifacts", metavar="DIR", help="keep the nodes' configs and logs here")
    return ap.parse_args(argv)


def emulator_lines(sec, label: str, before: dict, after: dict) -> tuple[dict, dict]:
    t, per = totals_delta(before, after), target_flows(before, after)
    sec.line(f"{label}: emulator: flows {t.get('flows_created', 0)}, encapsulated "
             f"{t.get('encapsulated', 0)}, returned {t.get('returned', 0)}, delivered "
             f"{t.get('delivered', 0)}; option mismatches {t.get('option_mismatches', 0)}, "
             f"malformed {t.get('malformed_returns', 0)}, unknown source "
             f"{t.get('unknown_source', 0)}, no target {t.get('no_target', 0)}")
    for ip, d in per.items():
        sec.line(f"{label}: target {ip} ({d['state']}): flows {d.get('flows_assigned', 0)}, "
                 f"packets to {d.get('packets_to_target', 0)} / back "
                 f"{d.get('packets_from_target', 0)}, option mismatches "
                 f"{d.get('option_mismatches', 0)}, drops {d.get('drops', 0)}")
    return t, per


def quiet_stats(lab: GeneveClusterLab, quiet: float = 0.3, timeout: float = 5.0) -> dict:
    """The emulator's stats once nothing has crossed it for `quiet` seconds
    (at most `timeout`), so node counters read right after match them."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        st = lab.gwlb("stats")
        now = time.monotonic()
        key = (st["totals"]["encapsulated"], st["totals"]["returned"])
        if key != last:
            last, since = key, now
        elif now - since >= quiet or now > end:
            return st
        time.sleep(0.05)


def reconcile(sec, label: str, lab: GeneveClusterLab, per: dict, t: dict, c0: dict,
              c1: dict) -> None:
    """What the emulator sent each target is what that node received, and
    what came back is what the nodes forwarded."""
    parts, ok, fwd = [], True, 0
    for s in lab.slots:
        if c0.get(s.letter) is None or c1.get(s.letter) is None:
            continue
        d = delta(c1[s.letter], c0[s.letter])
        e = per.get(s.ip, {})
        # the load balancer's health checks reach the node too, outside GENEVE
        hc = d.get("health_check_segments", 0)
        rx, sent = d.get("rx_packets", 0) - hc, e.get("packets_to_target", 0)
        fwd += d.get("forwarded", 0)
        parts.append(f"node{s.letter} rx_packets {rx}{f' (+{hc} health checks)' if hc else ''}"
                     f" / sent {sent}, forwarded "
                     f"{d.get('forwarded', 0)}, to peer {d.get('forwarded_to_peer', 0)} / "
                     f"back {e.get('packets_from_target', 0)}")
        ok = ok and rx == sent
    sec.check(f"{label}: each node received what the emulator sent it, and every packet the "
              f"nodes forwarded came back to the emulator (forwarded {fwd} == returned "
              f"{t.get('returned', 0)}): {'; '.join(parts)}",
              ok and fwd == t.get("returned", 0) if parts else None)


def storm_checks(sec, label: str, r: dict, t: dict) -> None:
    sec.check(f"{label}: retransmitted SYNs {r['syn_retrans']} (client) and SYN-ACKs "
              f"{r['synack_retrans']} (server) == 0",
              r["syn_retrans"] == 0 and r["synack_retrans"] == 0)
    sec.check(f"{label}: every returned packet carried the options sent for its flow "
              f"(returned {t.get('returned', 0)}, delivered {t.get('delivered', 0)}, option "
              f"mismatches {t.get('option_mismatches', 0)}, malformed "
              f"{t.get('malformed_returns', 0)}, unknown source {t.get('unknown_source', 0)})",
              t.get("returned", 0) > 0 and t.get("bad_return", 1) == 0
              and t.get("delivered") == t.get("returned"))


def single_node_phase(lab: GeneveClusterLab, args, report: Report, deadline: Deadline,
                      policy) -> dict:
    """Node 1 alone and registered: a warm-up, then the single-node storm and
    its checks; returns the storm's result."""
    first, others = lab.slots[0], lab.slots[1:]
    sec = report.section(f"node 1 alone ({len(others)} configured peers not running)")
    lab.start_node(first, policy, args.tandemd, args.workers)
    st = lab.wait_ha([first], paired=False, timeout=deadline.cap(30.0))
    sec.line(f"node1: {ha_summary(st.get('1'))}")
    took = lab.wait_healthy([first], timeout=deadline.cap(20.0))
    sec.line(f"{lab.health.describe()}: node1 healthy {took:.1f} s after it was active")
    storm(lab, sec, "warm-up", 200, args.concurrency, deadline, check=False, seed=99)
    e0 = quiet_stats(lab)
    c0 = {first.letter: lab.counters(first)}
    single = storm(lab, sec, "single node", args.single_connections, args.concurrency,
                   deadline, seed=1, budget=min(60.0, deadline.remaining() / 2))
    e1 = quiet_stats(lab)
    t, per = emulator_lines(sec, "single node", e0, e1)
    storm_checks(sec, "single node", single, t)
    reconcile(sec, "single node", lab, per, t, c0, {first.letter: lab.counters(first)})
    return single


def start_cluster(lab: GeneveClusterLab, args, sec, deadline: Deadline, policy) -> None:
    """Nodes 2..N start; once every node is active and sees every other
    alive they are registered and healthy; a warm-up storm."""
    others = lab.slots[1:]
    t0 = time.monotonic()
    for s in others:
        lab.start_node(s, policy, args.tandemd, args.workers)
    states = lab.wait_ha(lab.slots, paired=True, timeout=deadline.cap(40.0))
    sec.line(f"nodes started, all active and paired after {time.monotonic() - t0:.2f} s")
    for k, v in states.items():
        sec.line(f"node{k}: {ha_summary(v)}")
    sec.check("every node active and seeing every other alive",
              all(v is not None and ha_ready(v, expect_peer=True) and
                  sum(1 for p in ha_peers(v) if p.get("alive") is True) == len(lab.slots) - 1
                  for v in states.values()))
    reg = lab.gwlb("register", targets=[s.ip for s in others])
    took = lab.wait_healthy(lab.slots, timeout=deadline.cap(20.0))
    sec.line(f"registered with the emulator: {', '.join(reg['done'])}; every target healthy "
             f"{took:.1f} s later")
    storm(lab, sec, "cluster warm-up", 200, args.concurrency, deadline, check=False, seed=98,
          budget=min(30.0, deadline.cap(30.0)))


def check_rate(lab: GeneveClusterLab, args, sec, single: dict, cluster: dict) -> float:
    """The cluster's setup rate against the single node's; returns the ratio."""
    ratio = cluster["rate"] / single["rate"] if single["rate"] else 0.0
    sec.line(f"setup rate: single node {single['rate']} conn/s, cluster {cluster['rate']} conn/s "
             f"= {ratio:.2f}; connect p50 {single['connect_ms']['p50']} / "
             f"{cluster['connect_ms']['p50']} ms, p99 {single['connect_ms']['p99']} / "
             f"{cluster['connect_ms']['p99']} ms")
    # Busy during the storms: every node, the client, the server, the emulator.
    cpus, busy = os.cpu_count() or 1, len(lab.slots) + 3
    need, why = args.min_ratio, ""
    if busy > cpus:
        need = args.min_ratio_oversubscribed
        why = (f"; {len(lab.slots)} nodes + client, server, emulator on {cpus} CPUs: "
               f"CPU-bound, --min-ratio-oversubscribed")
    sec.check(f"cluster: setup rate {cluster['rate']} conn/s >= {need:.0%} of the "
              f"single-node rate {single['rate']} conn/s (ratio {ratio:.2f}{why})",
              ratio >= need)
    return ratio


def cluster_phase(lab: GeneveClusterLab, args, report: Report, deadline: Deadline, policy,
                  single: dict, figures: dict) -> None:
    """Every node registered: the cluster storm, its checks, the flows per
    target and the setup rate against the single node's."""
    sec = report.section(f"{len(lab.slots)} nodes, all registered")
    start_cluster(lab, args, sec, deadline, policy)
    e0 = quiet_stats(lab)
    c0 = {s.letter: lab.counters(s) for s in lab.slots}
    budget = min(75.0, max(30.0, deadline.remaining() - 25.0))
    cluster = storm(lab, sec, "cluster", args.connections, args.concurrency, deadline, seed=2,
                    budget=budget)
    e1 = quiet_stats(lab)
    c1 = {s.letter: lab.counters(s) for s in lab.slots}
    t, per = emulator_lines(sec, "cluster", e0, e1)
    storm_checks(sec, "cluster", cluster, t)
    reconcile(sec, "cluster", lab, per, t, c0, c1)
    flows = {ip: d.get("flows_assigned", 0) for ip, d in per.items()}
    sec.check(f"cluster: every target got flows ({', '.join(f'{ip} {n}' for ip, n in flows.items())})",
              len(flows) == len(lab.slots) and all(n > 0 for n in flows.values()))
    ratio = check_rate(lab, args, sec, single, cluster)
    for s in lab.slots:
        c = c1.get(s.letter)
        if c is not None and c0.get(s.letter) is not None:
            d = delta(c, c0[s.letter])
            sec.line(f"node{s.letter} during the cluster storm: "
                     f"{counter_line(d, keys=('sessions_created', 'forwarded', 'dropped', 'ha.', 'peer_link.', 'sync.'), limit=14)}")
    figures.update(cluster=cluster, ratio=round(ratio, 3), flows_by_target=flows)
    if args.cli and os.path.isfile(args.cli):
        s = lab.slots[-1]
        p = run([args.cli, "--socket", s.node.control.socket_path, "-c",
                 "show high-availability state"], timeout=10, check=False)
        sec.line(f"`tandem -c 'show high-availability state'` on node{s.letter}:")
        for line in (p.stdout or p.stderr).strip().splitlines()[:20]:
            sec.line(f"  {line}")


def body(lab: GeneveClusterLab, args, report: Report, deadline: Deadline) -> dict:
    policy = geneve_policy(PAIR_POLICY)
    for name, argv in SERVER_SERVICES.items():
        lab.start_service(name, "server", argv)
    lab.start_gwlb([lab.slots[0].ip])
    figures: dict = {"nodes": len(lab.slots)}
    single = single_node_phase(lab, args, report, deadline, policy)
    figures["single"] = single
    cluster_phase(lab, args, report, deadline, policy, single, figures)
    return figures


def run_cluster(lab: GeneveClusterLab, args, report: Report, deadline) -> dict:
    """The body, then the "shutdown" section: the emulator's totals over the
    whole run, no frame with a foreign source MAC, every node exits 0 on
    SIGTERM. Returns the body's figures."""
    figures = body(lab, args, report, deadline)
    sec = report.section("shutdown")
    final = lab.stop_gwlb()
    tot = final.get("totals", {})
    sec.line(f"emulator over the whole run: {json.dumps(tot, sort_keys=True)}")
    sec.check(f"emulator: no option mismatch or bad return over the whole run "
              f"(bad_return {tot.get('bad_return')})", tot.get("bad_return") == 0)
    foreign = lab.foreign_source_frames()
    sec.check(f"every frame a station sent carried its own source MAC (the switch "
              f"drops the others, as a VPC does: "
              f"{lab.foreign_source_text(foreign)})", sum(foreign.values()) == 0)
    check_stopped(sec, lab.stop_nodes(), skip_unknown=False)
    return figures


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        args.tandemd = preflight(("ip", "ethtool", "nft", "bridge"), args.tandemd,
                                 need_tandemd=True)
    except LabSkip as e:
        return skip_exit(e)
    if not 2 <= args.nodes <= 8:
        print("--nodes must be 2..8")
        return 2
    lab_run = LabRun(args.deadline)
    report = Report()
    figures: dict = {}
    print(f"GENEVE cluster of {args.nodes} behind the GWLB emulator: tandemd {args.tandemd}; "
          f"{HealthSettings(protocol=args.health_check).describe()}", flush=True)
    with lab_run.guard():
        opts = {"owner": args.owner, "heartbeat_ms": args.heartbeat_ms, "hold_ms": args.hold_ms,
                "curve": not args.no_curve, "health": HealthSettings(protocol=args.health_check)}
        with GeneveClusterLab(args.nodes, "tandemd", opts) as lab:
            try:
                figures = run_cluster(lab, args, report, lab_run.deadline)
            finally:
                if args.artifacts:
                    save_artifacts(lab.workdir, args.artifacts)
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    print("\n" + "-" * 72)
    report.print_summary()
    if figures.get("single") and figures.get("cluster"):
        s, c = figures["single"], figures["cluster"]
        print(f"FIGURES: nodes {figures['nodes']}; single node {s['rate']} conn/s "
              f"(SYN retrans {s['syn_retrans']}, SYN-ACK retrans {s['synack_retrans']}); "
              f"cluster {c['rate']} conn/s, completed {c['completed']}/{c['count']}, "
              f"SYN retrans {c['syn_retrans']}, SYN-ACK retrans {c['synack_retrans']}, "
              f"connect p99 {c['connect_ms']['p99']} ms; ratio {figures['ratio']}; "
              f"flows by target {figures['flows_by_target']}")
    failed = report.failed() + [f"node: {f}" for f in lab_run.node_failures]
    return lab_run.finish(failed, report.n_checks(), f"{args.nodes} nodes", json_path=args.json,
                          json_data={"node_failure": "\n".join(lab_run.failure_messages) or None,
                                     "figures": figures, "sections": report.sections_json()})


if __name__ == "__main__":
    sys.exit(main())
