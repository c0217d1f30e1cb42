#!/usr/bin/python3
"""Application identity through one inline tandemd: rules that name the TLS
server name, the HTTP Host and the DNS query name, on real TLS (Python's
ssl, certificates of a CA the test makes), HTTP and DNS traffic.

The policy (nothing else is allowed to these ports):
  allow tls-good   tcp/8443 app tls sni good.test,*.cdn.test  (log)
  deny  tls-bad    tcp/8443 app tls sni bad.test
  deny  tls-reset  tcp/8443 app tls sni reset.test  reset
  deny  refused    tcp/8444  reset
  allow web        tcp/8080 app http host www.good.test
  deny  dns-bad    udp/53   app dns name *.bad.test
  allow dns        udp/53

1. TLS: every connection asking for good.test or img.cdn.test completes its
   handshake and echoes; every one asking for bad.test is cut at its
   ClientHello (the server never sees it) and so is one asking for a name
   no rule allows (other.test: the default deny). tandemd counts one
   identified TLS session per connection and one denial per cut one.
   Every connection asking for reset.test is reset at its ClientHello: the
   client gets a reset at once (no timeout), and so does the server's side
   of the connection (its handshake ends with ECONNRESET, once per
   connection: the cut connections of the rules without `reset` never
   reach it). A connection to tcp/8444 is refused at once (a reset for
   its SYN).
2. `show session` names a running good.test session's application, its
   rule, and a cut one's denial; the traffic log's end lines of the logged
   rule carry the name (the sessions are cleared to end them now).
3. HTTP: requests for www.good.test are answered, requests naming another
   Host are cut (the server sees none of them).
4. DNS: queries for a name under bad.test are dropped, others answered.
`show application` and /metrics count the reset.test sessions, all denied,
and good.test ones, none denied.

Without application identity (a daemon that ignores the app clauses, or
matches the first rule alone) the bad.test and other.test connections
complete, which fails step 1.

    /usr/bin/python3 tests/lab/test_app_identity.py [--tandemd PATH] [--count N]

Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import InlineLab  # noqa: E402
import metrics_client  # noqa: E402
from labkit.checks import Checklist, check_node_stopped  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
from nodes import Rule, TandemdNode  # noqa: E402

TLS_PORT, HTTP_PORT, DNS_PORT, REFUSED_PORT = 8443, 8080, 53, 8444
POLICY = (
    Rule("tcp", (TLS_PORT,), name="tls-good", app="tls sni good.test,*.cdn.test", log=True),
    Rule("tcp", (TLS_PORT,), name="tls-bad", action="deny", app="tls sni bad.test"),
    Rule("tcp", (TLS_PORT,), name="tls-reset", action="deny", app="tls sni reset.test",
         reset=True),
    Rule("tcp", (REFUSED_PORT,), name="refused", action="deny", reset=True),
    Rule("tcp", (HTTP_PORT,), name="web", app="http host www.good.test"),
    Rule("udp", (DNS_PORT,), name="dns-bad", action="deny", app="dns name *.bad.test"),
    Rule("udp", (DNS_PORT,), name="dns"),
)


@dataclass
class AppRun:
    """What the steps share: the lab, its node, the options, the checklist,
    the CA file the clients trust and the traffic log's path."""
    lab: InlineLab
    node: TandemdNode
    args: argparse.Namespace
    check: Callable
    ca: str
    log_path: str

    @property
    def server(self) -> str:
        return self.lab.addr.server_ip

    def tls(self, name: str, port: int = TLS_PORT) -> dict:
        """--count TLS connections asking for server name `name`."""
        n = self.args.count
        r = self.lab.tool("client", ["tls-connect", "--dst", self.server, "--port", str(port),
                                     "--name", name, "--ca", self.ca, "--count", str(n),
                                     "--timeout", str(self.args.timeout)], timeout=60 + n * 5)
        print(f"tls {name}: {json.dumps(r, sort_keys=True)}")
        return r

    def http(self, host: str) -> dict:
        """--count HTTP requests naming Host `host`."""
        n = self.args.count
        r = self.lab.tool("client", ["http-get", "--dst", self.server, "--port", str(HTTP_PORT),
                                     "--host", host, "--count", str(n),
                                     "--timeout", str(self.args.timeout)], timeout=60 + n * 5)
        print(f"http {host}: {json.dumps(r, sort_keys=True)}")
        return r

    def dns(self, name: str) -> dict:
        """--count DNS queries for `name`."""
        n = self.args.count
        r = self.lab.tool("client", ["dns-query", "--dst", self.server, "--port", str(DNS_PORT),
                                     "--name", name, "--count", str(n), "--timeout", "0.5"],
                          timeout=60 + n)
        print(f"dns {name}: {json.dumps(r, sort_keys=True)}")
        return r


def start_lab(lab: InlineLab, args: argparse.Namespace, check: Callable) -> AppRun:
    """The CA and certificates, the application servers and the node."""
    lab.tool("server", ["make-certs", "--dir", lab.workdir, "--names",
                        "good.test,img.cdn.test,bad.test,other.test,reset.test"], timeout=30)
    ca = os.path.join(lab.workdir, "ca.pem")
    lab.start_service("apps", "server", [
        "app-serve", "--tls-port", str(TLS_PORT), "--http-port", str(HTTP_PORT),
        "--dns-port", str(DNS_PORT), "--cert", os.path.join(lab.workdir, "server.pem"),
        "--key", os.path.join(lab.workdir, "server.key")])
    log_path = os.path.join(lab.workdir, "traffic.log")
    node = TandemdNode(POLICY, binary=args.tandemd,
                       control_extra=f"traffic-log = {log_path}\n"
                       + metrics_client.METRICS_CONFIG)
    lab.set_node(node)
    return AppRun(lab, node, args, check, ca, log_path)


def step_tls(run: AppRun) -> None:
    """1. TLS by server name: allowed names echo, denied and unknown ones are
    cut, reset.test is reset, the refused port refuses."""
    check, n, timeout = run.check, run.args.count, run.args.timeout
    for name in ("good.test", "img.cdn.test"):
        r = run.tls(name)
        check(f"TLS to {name}: {r['ok']}/{n} handshakes completed and echoed", r["ok"] == n)
    for name in ("bad.test", "other.test"):
        r = run.tls(name)
        check(f"TLS to {name}: cut at the ClientHello, {r['ok']}/{n} completed "
              f"({r.get('timeout', 0)} timed out)", r["ok"] == 0 and r.get("timeout", 0) == n)
    r = run.tls("reset.test")
    check(f"TLS to reset.test: reset at the ClientHello, {r.get('reset', 0)}/{n} reset, "
          f"the slowest ended after {r['slowest_s']} s (a timeout takes {timeout} s)",
          r["ok"] == 0 and r.get("reset", 0) == n and r["slowest_s"] < timeout / 2)
    r = run.tls("good.test", REFUSED_PORT)
    refused = r.get("ConnectionRefusedError", 0)
    check(f"TCP to port {REFUSED_PORT}: refused at once, {refused}/{n} refused, the slowest "
          f"after {r['slowest_s']} s", refused == n and r["slowest_s"] < timeout / 2)


def check_tls_counters(run: AppRun, c0: dict) -> None:
    """The node's counters over step 1: identified, denied, resets sent."""
    check, n = run.check, run.args.count
    c1 = run.node.counters()

    def delta(key: str) -> int:
        return c1.get(key, 0) - c0.get(key, 0)

    check(f"tandemd identified every TLS session: app_identified_tls +"
          f"{delta('app_identified_tls')} == {5 * n}", delta("app_identified_tls") == 5 * n)
    check(f"... and denied the cut ones: sessions_denied_by_app +"
          f"{delta('sessions_denied_by_app')} == {3 * n}",
          delta("sessions_denied_by_app") == 3 * n)
    resets = {k: delta(k) for k in ("tcp_resets_to_sender", "tcp_resets_to_receiver",
                                    "io.tcp_resets_sent", "io.tcp_resets_unsent")}
    check(f"... and reset the reset.test ones, both ends, and refused the SYNs, each "
          f"once: {resets}",
          resets == {"tcp_resets_to_sender": 2 * n, "tcp_resets_to_receiver": n,
                     "io.tcp_resets_sent": 2 * n, "io.tcp_resets_unsent": 0})


def check_applications(run: AppRun) -> None:
    """What the node says of its sessions' applications: `show application`, /metrics."""
    check, n = run.check, run.args.count
    apps = run.node.control.request("show application", timeout=10.0).get("applications", [])
    by_app = {(a.get("protocol"), a.get("name")): a for a in apps}
    reset_app = by_app.get(("tls", "reset.test"), {})
    good_app = by_app.get(("tls", "good.test"), {})
    check(f"show application: tls reset.test on {n} sessions, all denied ({reset_app}); "
          f"tls good.test on some, none denied ({good_app})",
          reset_app.get("sessions") == n and reset_app.get("denied") == n
          and good_app.get("sessions", 0) >= 1 and good_app.get("denied") == 0)
    samples = metrics_client.scrape(run.lab.node_ns)[1]
    denied_sample = [v for k, v in samples.items()
                     if k.startswith("tandem_app_sessions_denied{") and '"reset.test"' in k]
    check(f"/metrics: tandem_app_sessions_denied for reset.test is {denied_sample}",
          denied_sample == [n])


def step_show_session(run: AppRun) -> None:
    """2. `show session` names a held good.test connection's application and
    rule, and lists the cut ones as denied."""
    check, node = run.check, run.node
    hold = run.lab.start_service("hold", "client", [
        "tls-hold", "--dst", run.server, "--port", str(TLS_PORT), "--name", "good.test",
        "--ca", run.ca], timeout=15.0)
    check(f"a held TLS connection to good.test echoed ({hold})", hold.get("echoed") is True)
    try:
        shown = [s for s in node.sessions() if s.get("dport") == TLS_PORT
                 and s.get("state") == "established"]
        good = [s for s in shown if s.get("app_name") == "good.test"]
        check(f"show session: the open connection's application is tls good.test under "
              f"rule tls-good ({good[:1]})",
              len(good) == 1 and good[0].get("app") == "tls"
              and good[0].get("app_status") == "identified"
              and good[0].get("rule") == "tls-good")
        denied = [s for s in node.sessions() if s.get("app_denied")]
        check(f"show session: the cut connections are listed as denied by their rule "
              f"({len(denied)} listed, rules {sorted({str(s.get('rule')) for s in denied})})",
              denied != []
              and {s.get("rule") for s in denied} <= {"tls-bad", "tls-reset", None}
              and all(s.get("app_name") in ("bad.test", "other.test", "reset.test")
                      for s in denied))
    finally:
        run.lab.stop_service("hold", timeout=10.0)


def logged_app_names(log_path: str) -> dict:
    """Application names of the traffic log's end lines of rule tls-good, counted."""
    names: dict = {}
    if os.path.exists(log_path):
        for line in open(log_path):
            rec = json.loads(line)
            if rec.get("event") == "end" and rec.get("rule") == "tls-good":
                names[rec.get("app_name")] = names.get(rec.get("app_name"), 0) + 1
    return names


def check_traffic_log(run: AppRun) -> None:
    """2. The traffic log's end lines of the logged rule carry the name (the
    sessions are cleared to end them now)."""
    n = run.args.count
    # Sessions end (and are logged) after time-wait; clearing ends them now.
    run.node.control.request("clear session all", timeout=5.0)
    end = time.monotonic() + 10
    names: dict = {}
    while time.monotonic() < end:
        names = logged_app_names(run.log_path)
        if sum(names.values()) >= 2 * n:
            break
        time.sleep(0.5)
    run.check(f"the traffic log's end lines name each logged session's application {names}",
              names.get("good.test", 0) >= n and names.get("img.cdn.test", 0) >= n)


def step_http_dns(run: AppRun) -> None:
    """3. HTTP by Host and 4. DNS by query name."""
    check, n = run.check, run.args.count
    r = run.http("www.good.test")
    check(f"HTTP Host www.good.test: {r['ok']}/{n} answered", r["ok"] == n)
    r = run.http("www.other.test")
    check(f"HTTP Host www.other.test: cut, {r['ok']}/{n} answered", r["ok"] == 0)
    r = run.dns("ads.bad.test")
    check(f"DNS ads.bad.test: dropped, {r['answered']}/{n} answered", r["answered"] == 0)
    r = run.dns("www.good.test")
    check(f"DNS www.good.test: {r['answered']}/{n} answered", r["answered"] == n)


def check_servers(run: AppRun) -> None:
    """What the servers saw: only the allowed names, one reset per reset.test
    connection; then a clean stop of the node."""
    check, n = run.check, run.args.count
    served = run.lab.stop_service("apps", timeout=10.0)
    print(f"served: {json.dumps(served, sort_keys=True)}")
    check(f"the TLS server's side was reset once per reset.test connection, and never "
          f"otherwise ({served.get('tls_reset')} resets, {n} expected)",
          served.get("tls_reset") == n)
    tls_names = served.get("tls_names", {})
    check(f"the TLS server saw only the allowed names ({tls_names})",
          set(tls_names) <= {"good.test", "img.cdn.test"}
          and tls_names.get("good.test", 0) >= n)
    hosts = served.get("http_hosts", {})
    check(f"the HTTP server saw only the allowed Host ({hosts})",
          set(hosts) == {"www.good.test"})
    dns_names = served.get("dns_names", {})
    check(f"the DNS server saw no query under bad.test ({dns_names})",
          not any(k.endswith("bad.test") for k in dns_names))
    check_node_stopped(check, run.lab.stop_node())


def run(args) -> int:
    checks = Checklist()

    with InlineLab() as lab:
        app_run = start_lab(lab, args, checks.check)
        c0 = app_run.node.counters()
        step_tls(app_run)
        check_tls_counters(app_run, c0)
        check_applications(app_run)
        step_show_session(app_run)
        check_traffic_log(app_run)
        step_http_dns(app_run)
        check_servers(app_run)
    return checks.result()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD"))
    ap.add_argument("--count", type=int, default=10, help="connections / queries per name")
    ap.add_argument("--timeout", type=float, default=1.5,
                    help="seconds a client waits before it counts a connection as cut")
    ap.add_argument("--deadline", type=float, default=240.0)
    a = ap.parse_args()
    return run_standalone(a, run, a.deadline)


if __name__ == "__main__":
    sys.exit(main())
