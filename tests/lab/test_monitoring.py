#!/usr/bin/python3
"""Monitoring on a live node: GET /metrics and the traffic log after counted
traffic, checked against the traffic and against `tandem -c ... --json`.

One inline tandemd with `metrics-listen = 127.0.0.1:PORT` (inside the node
namespace) and `traffic-log = FILE`; its policy logs the TCP rule for port
5001 only. The test makes N logged TCP connections (5001), M unlogged ones
(8080) and U UDP flows (5353), then, on a quiet wire:

- scrapes /metrics over HTTP from inside the node namespace: every sample has
  a TYPE line; sessions created == connections + flows; rx_packets == frames
  the endpoints sent; forwarded, rx_packets, sessions_created and the
  session count equal what `tandem -c "show counters" --json` says;
  tandem_sessions{owner="1"} == live sessions; no drop counter moved, the
  dataplane's or a worker's (tandem_worker_dropped_total, *_dropped);
- asks for /other (404), POST (405) and garbage (400);
- clears every session (`tandem -c "clear session all"`) and reads the
  traffic log: exactly one start and one end line per logged connection,
  with the same session id, the client's address and port, rule, zones, and
  on the end line the packet counts `show session` showed before the clear;
  no line for the unlogged TCP or UDP flows;
- moves the log away (logrotate), sends SIGHUP, waits until the node has
  reopened it (the file is back and tandem_traffic_log_reopens_total grew),
  makes more logged connections: their lines go to the new file, the old
  one is unchanged;
- stops the node: exit code 0.

    /usr/bin/python3 tests/lab/test_monitoring.py [--tandemd PATH] [--tandem PATH]

Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metrics_client  # noqa: E402
from labkit.checks import Checklist  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
from lab import REPO, InlineLab, LabError  # noqa: E402
from nodes import Rule, TandemdNode  # noqa: E402

LOGGED, PLAIN, UDP = 5001, 8080, 5353
POLICY = (
    Rule("tcp", (LOGGED,), name="echo-logged", log=True),
    Rule("tcp", (PLAIN,), name="alt"),
    Rule("udp", (UDP,), name="udp-echo"),
)
def scrape(lab, c: Checklist) -> dict[str, float]:
    r, samples, types, bad = metrics_client.scrape(lab.node_ns)
    c.check(f"GET /metrics answered {r['status']} with the 0.0.4 text format",
            r["status"] == 200 and any("version=0.0.4" in h for h in r["headers"]))
    c.check(f"every one of {len(samples)} samples parses and follows its family's TYPE line "
            f"(bad: {bad[:3]})", not bad and len(samples) > 50)
    c.check("every counter family ends in _total",
            all(n.endswith("_total") for n, k in types.items() if k == "counter"))
    return samples


def tandem(args, *words: str) -> dict:
    p = subprocess.run([args.tandem, "--socket", args.socket, "--json", "-c", " ".join(words)],
                       capture_output=True, text=True, timeout=15)
    if p.returncode != 0:
        raise LabError(f"tandem -c {' '.join(words)!r} failed ({p.returncode}): {p.stderr}")
    return json.loads(p.stdout)


def storm(lab, port: int, count: int) -> dict:
    return lab.tool("client", ["tcp-storm", "--dst", lab.addr.server_ip, "--port", str(port),
                               "--count", str(count), "--concurrency", "10",
                               "--deadline", "40"], timeout=60)


def read_log(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def wait_log(path: str, want: int, timeout: float = 5.0) -> list[dict]:
    end = time.monotonic() + timeout
    while True:
        lines = read_log(path)
        if len(lines) >= want or time.monotonic() > end:
            return lines
        time.sleep(0.1)


def is_drop(name: str) -> bool:
    """A sample that counts frames dropped or malformed: the dataplane's
    drop reasons, the workers' (tandem_worker_dropped_total{reason}) and
    the workers' *_dropped counters (TX queue full, hand-off ring full,
    peer link)."""
    family = name.split("{", 1)[0]
    return (family in ("tandem_dataplane_dropped_total", "tandem_worker_dropped_total")
            or family.startswith("tandem_dataplane_malformed")
            or (family.startswith("tandem_worker_") and family.endswith("_dropped_total")))


def scrape_quiet(lab) -> dict[str, float]:
    """/metrics without checks (polled while waiting)."""
    return metrics_client.scrape(lab.node_ns)[1]


def wait_for(cond, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() > end:
            return False
        time.sleep(interval)


UDP_FLOWS = 5


@dataclass
class MonitorRun:
    """What the steps share: the lab, its node, the options, the checklist and
    the traffic log's path."""
    lab: InlineLab
    node: TandemdNode
    args: argparse.Namespace
    c: Checklist
    log_path: str


def start_lab(lab: InlineLab, args: argparse.Namespace, c: Checklist) -> MonitorRun:
    """The server and a node with /metrics and the traffic log."""
    log_path = os.path.join(lab.workdir, "traffic.log")
    args.socket = os.path.join(lab.workdir, "tandemd.sock")
    lab.node_ns.run(["ip", "link", "set", "lo", "up"])
    lab.start_service("server", "server", ["serve", "--tcp", f"{LOGGED},{PLAIN}",
                                            "--udp", str(UDP)])
    node = TandemdNode(POLICY, binary=args.tandemd,
                       control_extra=metrics_client.METRICS_CONFIG +
                                     f"traffic-log = {log_path}\n")
    lab.set_node(node)
    return MonitorRun(lab, node, args, c, log_path)


def check_standalone(run: MonitorRun) -> None:
    """A standalone node's state and readiness gauges."""
    c = run.c
    before = scrape(run.lab, c)
    c.check("a standalone node reports tandem_node_state{state=\"standalone\"} 1",
            before.get('tandem_node_state{state="standalone"}') == 1)
    c.check("a standalone node reports tandem_ha_ready 1 (nothing to pair)",
            before.get("tandem_ha_ready") == 1)


def run_traffic(run: MonitorRun):
    """Logged and unlogged TCP and UDP flows; returns the quiet wire's snapshot."""
    lab, c = run.lab, run.c
    n, m, u = run.args.connections, run.args.unlogged, UDP_FLOWS
    r1 = storm(lab, LOGGED, n)
    r2 = storm(lab, PLAIN, m)
    ru = lab.tool("client", ["udp", "--dst", lab.addr.server_ip, "--port", str(UDP),
                             "--flows", str(u), "--requests", str(u * 4)], timeout=30)
    c.check(f"traffic completed: {r1['completed']}/{n} logged, {r2['completed']}/{m} "
            f"unlogged TCP, UDP replies {ru.get('replies')}/{u * 4}",
            r1["completed"] == n and r2["completed"] == m and ru.get("replies") == u * 4)
    snap = lab.snapshot(timeout=10.0)
    c.check("the wire went quiet", snap.settled)
    return snap


def check_metrics(run: MonitorRun, snap) -> tuple[dict, int]:
    """/metrics against the traffic and `show counters --json`; returns the
    samples and the live session count."""
    c, args = run.c, run.args
    n, m, u = args.connections, args.unlogged, UDP_FLOWS
    metrics = scrape(run.lab, c)
    shown = tandem(args, "show counters", "all")
    dp = shown["dataplane"]
    created = metrics.get("tandem_dataplane_sessions_created_total")
    c.check(f"sessions created {created} == connections + UDP flows {n + m + u}",
            created == n + m + u)
    c.check(f"rx_packets {metrics.get('tandem_dataplane_rx_packets_total')} == frames the "
            f"endpoints sent {snap.frames_sent}",
            metrics.get("tandem_dataplane_rx_packets_total") == snap.frames_sent)
    c.check(f"forwarded {metrics.get('tandem_dataplane_forwarded_total')} == frames the "
            f"endpoints received {snap.frames_received}",
            metrics.get("tandem_dataplane_forwarded_total") == snap.frames_received)
    for name in ("rx_packets", "forwarded", "sessions_created", "rx_bytes"):
        c.check(f"tandem_dataplane_{name}_total == show counters --json {name} ({dp[name]})",
                metrics.get(f"tandem_dataplane_{name}_total") == dp[name])
    live = shown["sessions"]["active"]
    owned = metrics.get('tandem_sessions{owner="1"}')
    c.check(f'tandem_sessions{{owner="1"}} {owned} == tandem_session_table_entries == '
            f"show counters sessions.active {live}",
            owned == live == metrics.get("tandem_session_table_entries") and live > 0)
    drops = {k: v for k, v in metrics.items() if v and is_drop(k)}
    c.check(f"no drop counter moved, the dataplane's or a worker's ({drops})",
            not drops and any(k.startswith("tandem_worker_dropped_total") for k in metrics))
    c.check("tandem_dataplane_traffic_log_dropped_total is 0",
            metrics.get("tandem_dataplane_traffic_log_dropped_total") == 0)
    return metrics, live


def check_http_errors(run: MonitorRun) -> None:
    """404, 405 and 400 from the metrics listener."""
    for req, want in (("GET /other HTTP/1.1\r\n\r\n", 404),
                      ("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
                      ("NOT HTTP AT ALL\r\n\r\n", 400)):
        got = metrics_client.http(run.lab.node_ns, req)["status"]
        run.c.check(f"{req.splitlines()[0]!r} -> {got} (want {want})", got == want)


def show_and_clear(run: MonitorRun, live: int) -> list:
    """The logged sessions as the node shows them, then clear everything;
    returns those sessions."""
    c, args, n = run.c, run.args, run.args.connections
    logged = tandem(args, "show session all", "dport", str(LOGGED))["sessions"]
    c.check(f"show session all dport {LOGGED}: {len(logged)} sessions == {n} connections",
            len(logged) == n)
    cleared = tandem(args, "clear session all")["cleared"]
    c.check(f"clear session all cleared {cleared} == live sessions {live}", cleared == live)
    after = scrape(run.lab, c)
    c.check("after the clear tandem_sessions{owner=\"1\"} and the table are 0",
            after.get('tandem_sessions{owner="1"}') == 0 and
            after.get("tandem_session_table_entries") == 0)
    return logged


def check_traffic_log(run: MonitorRun, logged: list) -> None:
    """One start and one end line per logged connection, none for the
    others, with what `show session` showed."""
    c, lab, n = run.c, run.lab, run.args.connections
    lines = wait_log(run.log_path, 2 * n)
    starts = [l for l in lines if l["event"] == "start"]
    ends = [l for l in lines if l["event"] == "end"]
    c.check(f"traffic log: {len(starts)} start and {len(ends)} end lines == {n} each, "
            f"{len(lines)} in all", len(starts) == n and len(ends) == n and len(lines) == 2 * n)
    c.check("no line for the unlogged TCP port or the UDP flows",
            all(l["dport"] == LOGGED and l["proto"] == "tcp" for l in lines))
    c.check("each session id has one start and one end",
            sorted(l["session_id"] for l in starts) == sorted(l["session_id"] for l in ends)
            and len({l["session_id"] for l in starts}) == n)
    c.check("start lines: client -> server, rule echo-logged, inside -> outside, node fw1",
            all(l["src"] == lab.addr.client_ip and l["dst"] == lab.addr.server_ip and
                l["rule"] == "echo-logged" and l["from_zone"] == "inside" and
                l["to_zone"] == "outside" and l["node"] == "fw1" and l["node_id"] == 1
                for l in starts))
    by_sport = {s["sport"]: s for s in logged}
    same = sum(1 for l in ends if l["sport"] in by_sport and
               [l["packets_orig"], l["packets_reply"]] == by_sport[l["sport"]]["packets"] and
               [l["bytes_orig"], l["bytes_reply"]] == by_sport[l["sport"]]["bytes"] and
               l["session_id"] == by_sport[l["sport"]]["id"])
    c.check(f"end lines carry the packets, bytes and id `show session` showed ({same}/{n})",
            same == n)
    c.check("end lines say why: cleared (or tcp-fin if time-wait ran out first)",
            all(l["reason"] in ("cleared", "tcp-fin") for l in ends))


def check_logrotate(run: MonitorRun, metrics: dict) -> None:
    """logrotate: move the file, SIGHUP, more traffic goes to a new file
    once the node has reopened it (the file is back, the reopen counted)."""
    c, lab, node, log_path, n = run.c, run.lab, run.node, run.log_path, run.args.connections
    reopens = metrics.get("tandem_traffic_log_reopens_total")
    os.rename(log_path, log_path + ".1")
    t_hup = time.monotonic()
    node.proc.send_signal(signal.SIGHUP)
    reopened = wait_for(lambda: os.path.exists(log_path) and (scrape_quiet(lab).get(
        "tandem_traffic_log_reopens_total") or 0) > (reopens or 0), timeout=5.0)
    c.check(f"after rename + SIGHUP the node reopened the log: the file is back, "
            f"tandem_traffic_log_reopens_total grew from {reopens} "
            f"({time.monotonic() - t_hup:.2f} s)", reopens is not None and reopened)
    k = 5
    r3 = storm(lab, LOGGED, k)
    lab.snapshot(timeout=10.0)
    tandem(run.args, "clear session all")
    fresh = wait_log(log_path, 2 * k)
    c.check(f"after rename + SIGHUP: {r3['completed']}/{k} connections, the new file has "
            f"{len(fresh)} lines == {2 * k}", r3["completed"] == k and len(fresh) == 2 * k)
    c.check("the moved file kept its lines", len(read_log(log_path + ".1")) == 2 * n)
    c.check("tandemd is still running after SIGHUP", node.proc.alive())


def run(args) -> int:
    c = Checklist()
    with InlineLab() as lab:
        mon = start_lab(lab, args, c)
        check_standalone(mon)
        snap = run_traffic(mon)
        metrics, live = check_metrics(mon, snap)
        check_http_errors(mon)
        logged = show_and_clear(mon, live)
        check_traffic_log(mon, logged)
        check_logrotate(mon, metrics)
        stopped = lab.stop_node()
        c.check(f"node stopped cleanly on SIGTERM (exit code {stopped.get('exit_code')})",
                stopped.get("exit_code") == 0)
    return c.result()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD"))
    ap.add_argument("--tandem", default=os.environ.get("TANDEM") or
                    str(REPO / "build" / "release" / "cli" / "tandem"))
    ap.add_argument("--connections", type=int, default=40)
    ap.add_argument("--unlogged", type=int, default=25)
    ap.add_argument("--deadline", type=float, default=150.0)
    a = ap.parse_args()
    return run_standalone(a, run, a.deadline)

if __name__ == "__main__":
    sys.exit(main())
