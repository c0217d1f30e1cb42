#!/usr/bin/python3
"""The GWLB emulator (tools/gwlb-emulator) checked against Linux targets.

Three target namespaces on the GENEVE segment (geneve_cluster.py, kind
linux), each with its address on its veth and a `gwlb-emulator reflect`
target that returns every GENEVE datagram and counts the inner flows it
saw. Client (8 addresses) and server (UDP and TCP echo) as in the GENEVE
labs. Scenarios, each with a fresh emulator:

  health      HTTP checks of /healthz: a target answering 200 becomes
              healthy, one answering 404 and one refusing stay unhealthy;
              flows go to the healthy one only; a listener started on a
              third makes it healthy, stopping the first makes it unhealthy,
              and with target failover `rebalance` its flows move to the
              healthy one with no reply lost. Then TCP checks: a target
              whose HTTP server says 404 is healthy (the port accepts).
  stickiness  5-tuple, 3-tuple, 2-tuple: UDP flows and TCP connections from
              8 addresses; every flow, both directions, at one target (as
              the reflectors saw it); flows that share the mode's key share
              a target; flows spread over targets as far as the key allows.
  failover    no_rebalance and rebalance: long-lived flows on two targets;
              registering a third moves none of them and new flows reach it;
              deregistering one (delay 1 s): its flows stay during the delay
              in both modes, then move (rebalance) or stay (no_rebalance);
              new flows avoid it at once; no reply lost.

Every returned packet must carry the options sent for its flow (emulator
counters). Exit 0 passed, 1 a check failed, 2 the lab could not run, 77
skipped.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from geneve_cluster import GeneveClusterLab, SERVER_IP  # noqa: E402
from lab import GWLB_EMULATOR, LabSkip, PYTHON  # noqa: E402
from skip_policy import skip_exit  # noqa: E402
from labkit.checks import Report  # noqa: E402
from labkit.runner import LabRun, preflight  # noqa: E402

TCP_ECHO, UDP_ECHO = 5001, 5353
HC_PORT = 80


# --- helpers ------------------------------------------------------------------------------


def spawn(lab, name: str, where: str, argv: list[str], ready_timeout: float = 10.0) -> dict:
    """A long-running program in a namespace, registered as a lab service;
    waits for its first stdout line (its ready line)."""
    proc = lab.namespace(where).spawn(name, argv)
    lab._services[name] = proc
    line = proc.read_line(ready_timeout)
    return {"line": line}


def stop(lab, name: str) -> None:
    proc = lab._services.pop(name, None)
    if proc is not None:
        proc.stop(signal.SIGTERM, timeout=5.0)


def start_reflectors(lab) -> None:
    for s in lab.slots:
        stop(lab, f"reflect{s.letter}")
        spawn(lab, f"reflect{s.letter}", s.letter,
              [PYTHON, GWLB_EMULATOR, "reflect", "--listen", s.ip, "--flows"])


def reflector_flows(lab) -> dict[str, dict[str, int]]:
    """{target ip: {directional inner flow: packets}} from every reflector."""
    out = {}
    for s in lab.slots:
        proc = lab._services[f"reflect{s.letter}"]
        proc.send_signal(signal.SIGUSR1)
        while True:
            msg = proc.read_json(5.0)
            if msg.get("event") == "stats":
                out[s.ip] = msg.get("flows", {})
                break
    return out


def start_http(lab, s, healthz: bool) -> None:
    """python's http.server on the target's address, port 80; /healthz
    exists (200) or not (404)."""
    d = os.path.join(lab.workdir, f"www{s.letter}")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "healthz")
    if healthz:
        open(path, "w").write("ok\n")
    elif os.path.exists(path):
        os.unlink(path)
    stop(lab, f"http{s.letter}")
    spawn(lab, f"http{s.letter}", s.letter,
          [PYTHON, "-u", "-m", "http.server", str(HC_PORT), "--bind", s.ip, "--directory", d])


def start_gwlb(lab, targets, *extra) -> None:
    stop(lab, "gwlb")
    extra = list(extra) + ["--seed", "5"]
    if "--health-check" not in extra:
        extra += ["--health-check", "none"]
    lab.start_gwlb([t.ip for t in targets], extra)


def reverse(text: str) -> str:
    proto, rest = text.split(" ", 1)
    a, b = rest.split(">")
    return f"{proto} {b}>{a}"


def parse_flow(text: str):
    """'udp 10.1.0.2:4000>10.3.0.2:5353' -> ('udp', ('10.1.0.2', 4000), ('10.3.0.2', 5353))."""
    proto, rest = text.split(" ", 1)
    a, b = rest.split(">")

    def ep(x):
        ip, _, port = x.partition(":")
        return ip, int(port or 0)
    return proto, ep(a), ep(b)


def mode_key(mode: str, proto: str, a, b):
    if mode == "5-tuple":
        return proto, frozenset((a, b))
    if mode == "3-tuple":
        return proto, frozenset((a[0], b[0]))
    return frozenset((a[0], b[0]))


def flow_targets(seen: dict[str, dict[str, int]], mode: str) -> dict:
    """{mode key: {target ip}} from the reflectors' view."""
    out: dict = {}
    for ip, flows in seen.items():
        for text in flows:
            proto, a, b = parse_flow(text)
            out.setdefault(mode_key(mode, proto, a, b), set()).add(ip)
    return out


def emulator_flow_map(lab) -> dict[tuple, str]:
    """{(client ip, client port): target} of the UDP flows the emulator knows."""
    out = {}
    for f in lab.gwlb("flows")["flows"]:
        parts = f["key"].split()
        if parts[0] != "udp" or len(parts) != 3:
            continue
        for ep in parts[1:]:
            ip, port = ep.split(":")
            if ip != SERVER_IP:
                out[(ip, int(port))] = f["target"]
    return out


def wait_states(lab, want: dict[str, str], timeout: float) -> tuple[bool, dict, float]:
    """Polls `targets` until every target in `want` is in its state.
    Returns (reached, the last states, seconds waited)."""
    t0 = time.monotonic()
    end = t0 + timeout
    while True:
        st = lab.gwlb("targets")["targets"]
        if all(st.get(ip, {}).get("state") == s for ip, s in want.items()):
            return True, st, time.monotonic() - t0
        if time.monotonic() > end:
            return False, st, time.monotonic() - t0
        time.sleep(0.05)


def run_flows(lab, srcs, **kw) -> dict:
    args = ["flows", "--dst", SERVER_IP, "--port", str(UDP_ECHO), "--tcp-port", str(TCP_ECHO),
            "--src", ",".join(srcs)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    return lab.tool("client", args, timeout=30.0)


def start_flows(lab, name: str, srcs, **kw) -> None:
    args = ["flows", "--dst", SERVER_IP, "--port", str(UDP_ECHO), "--src", ",".join(srcs)]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    lab.start_service(name, "client", args, timeout=15.0)


def stop_flows(lab, name: str) -> dict:
    return lab.stop_service(name, timeout=10.0)


def no_bad_returns(sec, label: str, lab) -> None:
    t = lab.gwlb("stats")["totals"]
    sec.check(f"{label}: every returned packet carried its flow's options and was delivered "
              f"(returned {t['returned']}, delivered {t['delivered']}, option mismatches "
              f"{t['option_mismatches']}, malformed {t['malformed_returns']})",
              t["bad_return"] == 0 and t["delivered"] == t["returned"] and t["returned"] > 0)


# --- scenarios ------------------------------------------------------------------------------


def scenario_health(lab, report: Report) -> None:
    sec = report.section("health checks (http /healthz, then tcp), target failover rebalance")
    t1, t2, t3 = lab.slots
    start_reflectors(lab)
    start_http(lab, t1, healthz=True)
    start_http(lab, t2, healthz=False)
    start_gwlb(lab, lab.slots, "--health-check", "http", "--health-check-path", "/healthz",
               "--health-check-interval", "0.5", "--health-check-timeout", "0.4",
               "--healthy-threshold", "2", "--unhealthy-threshold", "2",
               "--target-failover", "rebalance")
    ok, st, took = wait_states(lab, {t1.ip: "healthy", t2.ip: "unhealthy", t3.ip: "unhealthy"},
                               6.0)
    sec.line("states: " + "; ".join(f"{ip} {v['state']} ({v['last_check']})"
                                    for ip, v in st.items()))
    sec.check(f"200 -> healthy, 404 and refused -> unhealthy (after {took:.1f} s)", ok)
    sec.check("the 404 and the refusal were seen as such",
              "404" in st[t2.ip]["last_check"] and "refused" in st[t3.ip]["last_check"].lower())
    srcs = lab.client_ips()
    start_flows(lab, "longflows", srcs, udp_per_src=3, duration=20, interval=0.05)
    time.sleep(0.5)
    fm = emulator_flow_map(lab)
    on = {ip: sum(1 for v in fm.values() if v == ip) for ip in (t1.ip, t2.ip, t3.ip)}
    sec.check(f"new flows go to the healthy target only ({on})",
              on[t1.ip] == len(srcs) * 3 and on[t2.ip] == on[t3.ip] == 0)
    start_http(lab, t3, healthz=True)
    ok, st, took = wait_states(lab, {t3.ip: "healthy"}, 5.0)
    sec.check(f"a listener started on {t3.ip}: healthy after {took:.1f} s "
              f"(2 checks at 0.5 s)", ok)
    fm = emulator_flow_map(lab)
    sec.check("a target turning healthy takes no existing flow "
              f"({sum(1 for v in fm.values() if v == t3.ip)} on {t3.ip})",
              all(v == t1.ip for v in fm.values()))
    r0 = lab.gwlb("stats")["totals"]["flows_rebalanced"]
    stop(lab, f"http{t1.letter}")
    ok, st, took = wait_states(lab, {t1.ip: "unhealthy"}, 5.0)
    sec.check(f"{t1.ip}'s listener stopped: unhealthy after {took:.1f} s "
              f"({st[t1.ip]['last_check']})", ok)
    time.sleep(0.5)
    fm = emulator_flow_map(lab)
    moved = lab.gwlb("stats")["totals"]["flows_rebalanced"] - r0
    sec.check(f"rebalance: its {len(fm)} flows rehashed to the healthy {t3.ip} "
              f"(rebalanced {moved}; now {sorted(set(fm.values()))})",
              moved == len(srcs) * 3 and set(fm.values()) == {t3.ip})
    seen = reflector_flows(lab)
    at3 = sum(1 for k in seen[t3.ip] if k.startswith("udp 10.1."))
    sec.check(f"the reflector of {t3.ip} got the moved flows' packets ({at3} flows)",
              at3 == len(srcs) * 3)
    r = stop_flows(lab, "longflows")
    sec.check(f"no reply lost across the move ({r['replies']}/{r['sent']})",
              r["sent"] > 0 and r["replies"] == r["sent"])
    no_bad_returns(sec, "http", lab)
    # TCP checks: the port accepts -> healthy, whatever HTTP would say
    start_gwlb(lab, lab.slots, "--health-check", "tcp", "--health-check-interval", "0.5",
               "--health-check-timeout", "0.4", "--healthy-threshold", "2",
               "--unhealthy-threshold", "2")
    ok, st, took = wait_states(lab, {t1.ip: "unhealthy", t2.ip: "healthy", t3.ip: "healthy"},
                               6.0)
    sec.line("tcp: " + "; ".join(f"{ip} {v['state']} ({v['last_check']})"
                                 for ip, v in st.items()))
    sec.check(f"tcp checks: listening targets healthy (even the one answering 404), the "
              f"silent one unhealthy (after {took:.1f} s)", ok)


def scenario_stickiness(lab, report: Report) -> None:
    srcs = lab.client_ips()
    for mode in ("5-tuple", "3-tuple", "2-tuple"):
        sec = report.section(f"stickiness {mode}")
        start_reflectors(lab)
        start_gwlb(lab, lab.slots, "--stickiness", mode)
        r = run_flows(lab, srcs, udp_per_src=6, tcp_per_src=3, rounds=3)
        sec.line(f"{len(r['flows'])} flows (UDP {len(srcs) * 6}, TCP {len(srcs) * 3}) from "
                 f"{len(srcs)} addresses: replies {r['replies']}/{r['sent']}")
        sec.check(f"every request answered ({r['replies']}/{r['sent']})",
                  r["replies"] == r["sent"] and r["sent"] > 0)
        seen = reflector_flows(lab)
        seen = {ip: {k: v for k, v in f.items() if k.split()[0] in ("udp", "tcp")}
                for ip, f in seen.items()}
        per5 = flow_targets(seen, "5-tuple")
        split = [k for k, v in per5.items() if len(v) != 1]
        sec.check(f"each flow, both directions, at one target ({len(per5)} flows, split {len(split)})",
                  not split and len(per5) == len(r["flows"]))
        lonely = [k for f in seen.values() for k in f if reverse(k) not in f]
        sec.check(f"each flow's requests and replies at the same target (one direction only: "
                  f"{len(lonely)})", not lonely)
        per_mode = flow_targets(seen, mode)
        split = [k for k, v in per_mode.items() if len(v) != 1]
        sec.check(f"flows with the same {mode} key share a target ({len(per_mode)} keys, "
                  f"split {len(split)})", not split)
        used = {ip for v in per_mode.values() for ip in v}
        sec.line("targets used: " + ", ".join(f"{ip} {sum(1 for v in per5.values() if ip in v)} "
                                               f"flows" for ip in sorted(used)))
        sec.check(f"flows spread over all {len(lab.slots)} targets", len(used) == len(lab.slots))
        if mode != "2-tuple":
            coarser = "3-tuple" if mode == "5-tuple" else "2-tuple"
            groups = flow_targets(seen, coarser)
            spread = sum(1 for v in groups.values() if len(v) > 1)
            sec.check(f"finer than {coarser}: flows sharing a {coarser} key on several targets "
                      f"({spread} of {len(groups)} keys)", spread > 0)
        no_bad_returns(sec, mode, lab)


def scenario_failover(lab, report: Report, mode: str) -> None:
    sec = report.section(f"register / deregister, target failover {mode}, deregistration "
                         f"delay 1 s")
    t1, t2, t3 = lab.slots
    srcs = lab.client_ips()
    start_reflectors(lab)
    start_gwlb(lab, [t1, t2], "--target-failover", mode, "--deregistration-delay", "1")
    start_flows(lab, "longflows", srcs, udp_per_src=3, duration=15, interval=0.05,
                sport_base=21000)
    time.sleep(0.5)
    a0 = emulator_flow_map(lab)
    on1 = sorted(k for k, v in a0.items() if v == t1.ip)
    sec.line(f"long-lived flows: {len(a0)}, on {t1.ip} {len(on1)}, on {t2.ip} "
             f"{len(a0) - len(on1)}")
    sec.check("the long-lived flows use both registered targets",
              len(a0) == len(srcs) * 3 and 0 < len(on1) < len(a0))
    lab.gwlb("register", targets=[t3.ip])
    time.sleep(0.3)
    a1 = emulator_flow_map(lab)
    sec.check(f"registering {t3.ip} moved no existing flow",
              all(a1.get(k) == v for k, v in a0.items()))
    b = run_flows(lab, srcs, udp_per_src=3, sport_base=22000, rounds=2)
    a2 = emulator_flow_map(lab)
    new_on3 = sum(1 for k, v in a2.items() if k[1] >= 22000 and v == t3.ip)
    sec.check(f"new flows reach {t3.ip} ({new_on3} of {len(srcs) * 3}; replies "
              f"{b['replies']}/{b['sent']})", new_on3 > 0 and b["replies"] == b["sent"])
    t_dereg = time.monotonic()
    lab.gwlb("deregister", targets=[t1.ip])
    time.sleep(0.4)
    st = lab.gwlb("targets")["targets"]
    d1 = emulator_flow_map(lab)
    still = sum(1 for k in on1 if d1.get(k) == t1.ip)
    sec.check(f"draining ({st[t1.ip]['state']}): {t1.ip}'s {len(on1)} flows still go to it "
              f"({still})", st[t1.ip]["state"] == "draining" and still == len(on1))
    c = run_flows(lab, srcs, udp_per_src=3, sport_base=23000, rounds=2)
    d2 = emulator_flow_map(lab)
    new_on1 = sum(1 for k, v in d2.items() if k[1] >= 23000 and v == t1.ip)
    sec.check(f"new flows avoid the draining target ({new_on1} on {t1.ip}; replies "
              f"{c['replies']}/{c['sent']})", new_on1 == 0 and c["replies"] == c["sent"])
    ok, st, _ = wait_states(lab, {t1.ip: "unused"}, 3.0)
    sec.check(f"{t1.ip} unused when the delay is over "
              f"({time.monotonic() - t_dereg:.1f} s after deregistering)", ok)
    time.sleep(0.3)
    d3 = emulator_flow_map(lab)
    after = {k: d3.get(k) for k in on1}
    seen0 = reflector_flows(lab)[t1.ip]
    time.sleep(0.6)
    seen1 = reflector_flows(lab)[t1.ip]
    grew = sum(1 for k, v in seen1.items() if v > seen0.get(k, 0))
    totals = lab.gwlb("stats")["totals"]
    if mode == "rebalance":
        had = sum(1 for v in d1.values() if v == t1.ip)
        sec.check(f"rebalance: {t1.ip}'s flows rehashed to the others (long-lived ones now on "
                  f"{sorted(set(after.values()))}; rebalanced {totals['flows_rebalanced']} == "
                  f"its {had} flows, short ones included)",
                  t1.ip not in after.values() and totals["flows_rebalanced"] == had)
        sec.check(f"rebalance: {t1.ip}'s reflector gets nothing more ({grew} flows grew)",
                  grew == 0)
    else:
        sec.check(f"no_rebalance: {t1.ip}'s flows stay with it after the delay "
                  f"({sum(1 for v in after.values() if v == t1.ip)} of {len(on1)}, rebalanced "
                  f"{totals['flows_rebalanced']})",
                  all(v == t1.ip for v in after.values()) and totals["flows_rebalanced"] == 0)
        sec.check(f"no_rebalance: {t1.ip}'s reflector still gets them ({grew} flows grew)",
                  grew == len(on1) * 2)
    r = stop_flows(lab, "longflows")
    sec.check(f"no reply lost on the long-lived flows ({r['replies']}/{r['sent']})",
              r["sent"] > 0 and r["replies"] == r["sent"])
    no_bad_returns(sec, mode, lab)


# --- runner --------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deadline", type=float, default=90.0)
    ap.add_argument("--scenarios", default="health,stickiness,failover")
    args = ap.parse_args(argv)
    try:
        preflight(("ip", "ethtool", "bridge"))
    except LabSkip as e:
        return skip_exit(e)
    lab_run = LabRun(args.deadline, watchdog_s=args.deadline)
    report = Report()
    want = set(args.scenarios.split(","))
    with lab_run.guard(errors=(KeyError, ValueError, OSError)):
        with GeneveClusterLab(3, "linux", client_addresses=8) as lab:
            lab.start_service("server", "server", ["serve", "--tcp", str(TCP_ECHO),
                                                   "--udp", str(UDP_ECHO)])
            if "health" in want:
                scenario_health(lab, report)
            if "stickiness" in want:
                scenario_stickiness(lab, report)
            if "failover" in want:
                for mode in ("no_rebalance", "rebalance"):
                    scenario_failover(lab, report, mode)
            stop(lab, "gwlb")
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    print("\n" + "-" * 72)
    report.print_summary()
    failed = report.failed() + [f"node: {f}" for f in lab_run.node_failures]
    return lab_run.finish(failed, report.n_checks())


if __name__ == "__main__":
    sys.exit(main())
