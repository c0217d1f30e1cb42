#!/usr/bin/python3
"""A policy reload under running connections, through one inline tandemd.

Connections, all running before the first reload (10,000 by default):
  keep   long-lived request/response connections to a port every policy
         allows (rr-long), busy across every reload;
  idle   idle connections to another allowed port (idle-conns), silent
         across the reloads, used at the end;
  later  idle connections to a port the second reload denies.

1. An invalid file (a rule with a port out of range) is refused with its
   FILE:LINE, and changes nothing: the policy hash, the rule count and every
   connection stay as they were.
2. A valid reload denies the `later` port (re-evaluate on). The swap drops
   nothing: over the reload and the re-evaluation tandemd drops no frame at
   all and every `keep` connection goes on answering. Exactly the `later`
   sessions are ended (sessions_ended_by_policy), and `show session` lists
   none of them; a `later` connection used afterwards is not answered, a new
   one to that port is refused; the `idle` connections all answer.
3. With `re-evaluate = false`, a reload that denies a port where idle
   connections run ends none of them (sessions_rule_retired counts them,
   `show session` names their rule "(earlier policy)"), they still answer,
   and new connections to that port are refused.

Without the reload (a daemon that ignores it) the `later` sessions stay and
their connections answer, which fails step 2.

    /usr/bin/python3 tests/lab/test_policy_reload.py [--tandemd PATH] [--keep N]

Exit codes: 0 passed, 1 a check failed, 2 the lab could not run, 77 skipped.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import ControlError, InlineLab  # noqa: E402
from labkit.checks import Checklist, check_node_stopped  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
from labkit.services import use_idle_conns  # noqa: E402
from nodes import Rule, TandemdNode  # noqa: E402

KEEP_PORT, IDLE_PORT, LATER_PORT, RETIRED_PORT = 5101, 5103, 5104, 5105
KEEP = Rule("tcp", (KEEP_PORT,), name="keep")
IDLE = Rule("tcp", (IDLE_PORT,), name="idle")
LATER = Rule("tcp", (LATER_PORT,), name="later")
RETIRED = Rule("tcp", (RETIRED_PORT,), name="retired")
START = (KEEP, IDLE, LATER, RETIRED)
DENY_LATER = (Rule("tcp", (LATER_PORT,), name="no-later", action="deny"), KEEP, IDLE, RETIRED)
DENY_RETIRED = (Rule("tcp", (LATER_PORT,), name="no-later", action="deny"),
                Rule("tcp", (RETIRED_PORT,), name="no-retired", action="deny"), KEEP, IDLE)


class ReloadableNode(TandemdNode):
    """tandemd whose config file the test rewrites before each reload."""

    reevaluate = True
    broken = False

    def config_text(self, lab, socket_path: str) -> str:
        text = super().config_text(lab, socket_path)
        if not self.reevaluate:
            text = text.replace("[policy]\n", "[policy]\nre-evaluate = false\n")
        if self.broken:
            text = text.replace("[policy]\n", "[policy]\nrule = allow proto tcp dport 70000\n")
        return text

    def rewrite(self, lab, policy, reevaluate: bool = True, broken: bool = False) -> None:
        self.policy, self.reevaluate, self.broken = policy, reevaluate, broken
        with open(self.config_path, "w") as f:
            f.write(self.config_text(lab, os.path.join(lab.workdir, "tandemd.sock")))


DROP_KEYS = ("ports.rx_missed", "ports.rx_errors", "ports.tx_errors", "ports.rx_no_mbuf")


def drops(counters: dict) -> int:
    """Every frame tandemd dropped or could not take, by any reason."""
    return sum(v for k, v in counters.items()
               if k.startswith("dropped_") or k in DROP_KEYS)


@dataclass
class ReloadRun:
    """What the steps share: the lab, its node, the options and the checklist."""
    lab: InlineLab
    node: ReloadableNode
    args: argparse.Namespace
    check: Callable

    @property
    def server(self) -> str:
        return self.lab.addr.server_ip

    def policy_state(self) -> dict:
        return self.node.control.request("show config", timeout=5.0)["policy"]

    def reload(self) -> dict:
        return self.node.control.request("request policy reload", timeout=10.0)

    def idle_group(self, name: str, port: int, conns: int) -> None:
        """Starts `conns` idle connections to `port` as service `name`; checks they answered."""
        ready = self.lab.start_service(name, "client", [
            "idle-conns", "--dst", self.server, "--port", str(port), "--conns", str(conns),
            "--io-timeout", "3", "--connect-timeout", "20", "--max-seconds", "600"],
            timeout=60.0)
        self.check(f"{name}: {ready['live']}/{conns} connections to port {port} answered once, "
                   f"then idle", ready["live"] == conns)

    def use(self, name: str) -> dict:
        return use_idle_conns(self.lab, name, 60.0)

    def new_connections(self, port: int) -> dict:
        return self.lab.tool("client", ["tcp-storm", "--dst", self.server, "--port", str(port),
                                        "--count", "5", "--concurrency", "5",
                                        "--connect-timeout", "2", "--min-size", "16",
                                        "--max-size", "16"], timeout=30)

    def sessions_on(self, port: int) -> list:
        return [s for s in self.node.sessions() if s.get("dport") == port]

    def wait_counter(self, c0: dict, key: str, want: int) -> None:
        """Waits up to 20 s until counter `key` rose by `want` since c0."""
        end = time.monotonic() + 20.0
        while time.monotonic() < end:
            c1 = self.node.counters()
            if c1.get(key, 0) - c0.get(key, 0) >= want:
                break
            time.sleep(0.2)


def start_connections(run: ReloadRun) -> None:
    """The keep, idle, later and retired connections, all running before the first reload."""
    args, check = run.args, run.check
    t0 = time.monotonic()
    rr = run.lab.start_service("keep", "client", [
        "rr-long", "--dst", run.server, "--port", str(KEEP_PORT), "--conns", str(args.keep),
        "--interval", str(args.interval), "--connect-timeout", "30", "--io-timeout", "10",
        "--max-seconds", "600"], timeout=90.0)
    check(f"keep: {rr['connected']}/{args.keep} long-lived connections answered "
          f"(in {time.monotonic() - t0:.1f} s)", rr["connected"] == args.keep)
    run.idle_group("idle", IDLE_PORT, args.idle)
    run.idle_group("later", LATER_PORT, args.later)
    run.idle_group("retired", RETIRED_PORT, args.retired)
    total = args.keep + args.idle + args.later + args.retired
    shown = len(run.node.sessions())
    print(f"running connections: {total} (show session all lists {shown})")


def step_invalid_file(run: ReloadRun) -> None:
    """1. An invalid file is refused with FILE:LINE and changes nothing."""
    check = run.check
    before = run.policy_state()
    run.node.rewrite(run.lab, START, broken=True)
    try:
        run.reload()
        refused, error = False, ""
    except ControlError as e:
        refused, error = True, str(e)
    line = next((ln.strip() for ln in error.splitlines() if "tandemd.conf:" in ln), "")
    after = run.policy_state()
    check(f"an invalid file is refused with FILE:LINE ({line[:120]})",
          refused and line != "" and "70000" in error)
    check(f"... and changes nothing: hash {after['hash']} == {before['hash']}, rules "
          f"{after['rules']}, failed reloads {after['reloads_failed']}",
          after["hash"] == before["hash"] and after["rules"] == len(START)
          and after["reloads_failed"] == 1 and after["reloads"] == 0)


def wait_keep_answered(run: ReloadRun, t_done: float) -> dict:
    """Waits up to 20 s until every keep connection answered after t_done;
    returns rr-long's last stats."""
    end = time.monotonic() + 20.0
    while True:
        st = run.lab.service_stats("keep")
        if st["oldest_last_response"] > t_done or time.monotonic() > end:
            return st
        time.sleep(0.2)


def step_deny_later(run: ReloadRun) -> None:
    """2. Deny `later`: the swap drops nothing, exactly the later sessions end,
    keep goes on answering."""
    args, check, node = run.args, run.check, run.node
    node.rewrite(run.lab, DENY_LATER)
    c0 = node.counters()
    st0 = run.lab.service_stats("keep")
    t_reload = time.monotonic()
    reply = run.reload()
    print(f"reload: {reply.get('message', reply)}")
    run.wait_counter(c0, "sessions_ended_by_policy", args.later)
    t_done = time.monotonic()
    # Every keep connection answers after the reload finished re-evaluating.
    st = wait_keep_answered(run, t_done)
    c1 = node.counters()
    ended = c1.get("sessions_ended_by_policy", 0) - c0.get("sessions_ended_by_policy", 0)
    dropped = drops(c1) - drops(c0)
    check(f"the reload applied the new rules (hash {reply.get('hash')}, "
          f"{reply.get('rules')} rules, re-evaluating)",
          reply.get("rules") == len(DENY_LATER) and reply.get("re_evaluate") is True)
    check(f"the later sessions were ended: sessions_ended_by_policy +{ended} == "
          f"{args.later} (in {t_done - t_reload:.2f} s)", ended == args.later)
    check(f"tandemd dropped no frame over the swap and the re-evaluation (+{dropped}; "
          f"keep answered {st['responses'] - st0['responses']} requests meanwhile)",
          dropped == 0 and st["responses"] > st0["responses"])
    check(f"every keep connection answered after the re-evaluation "
          f"(live {st['live']}/{args.keep}, broken {st['broken']})",
          st["live"] == args.keep and st["broken"] == 0 and st["oldest_last_response"] > t_done)
    check_later_denied(run)


def check_later_denied(run: ReloadRun) -> None:
    """After step 2: no later session is listed or answers, new ones are
    refused, every idle connection answers."""
    args, check = run.args, run.check
    left = run.sessions_on(LATER_PORT)
    check(f"show session lists no session to port {LATER_PORT} ({len(left)})", not left)
    used = run.use("later")
    check(f"a later connection used after the reload is not answered "
          f"({used['answered']}/{args.later} answered)", used["answered"] == 0)
    fresh = run.new_connections(LATER_PORT)
    check(f"new connections to port {LATER_PORT} are refused "
          f"({fresh.get('completed')}/5 completed)", fresh.get("completed") == 0)
    used = run.use("idle")
    check(f"every idle connection answers after the reload ({used['answered']}/{args.idle})",
          used["answered"] == args.idle and used["broken"] == 0)


def step_no_reevaluate(run: ReloadRun) -> None:
    """3. re-evaluate = false: the retired port's running sessions keep going
    under "(earlier policy)", new ones are refused."""
    args, check, node = run.args, run.check, run.node
    node.rewrite(run.lab, DENY_RETIRED, reevaluate=False)
    c0 = node.counters()
    reply = run.reload()
    print(f"reload: {reply.get('message', reply)}")
    run.wait_counter(c0, "sessions_rule_retired", args.retired)
    c1 = node.counters()
    retired = c1.get("sessions_rule_retired", 0) - c0.get("sessions_rule_retired", 0)
    ended = c1.get("sessions_ended_by_policy", 0) - c0.get("sessions_ended_by_policy", 0)
    check(f"re-evaluate = false: no session ended (+{ended}); the {args.retired} on port "
          f"{RETIRED_PORT} kept under an earlier policy's rule (+{retired})",
          ended == 0 and retired == args.retired)
    names = {s.get("rule") for s in run.sessions_on(RETIRED_PORT)}
    check(f"show session names their rule {sorted(str(x) for x in names)}",
          names == {"(earlier policy)"})
    used = run.use("retired")
    check(f"they still answer ({used['answered']}/{args.retired})",
          used["answered"] == args.retired)
    fresh = run.new_connections(RETIRED_PORT)
    check(f"new connections to port {RETIRED_PORT} are refused "
          f"({fresh.get('completed')}/5 completed)", fresh.get("completed") == 0)


def finish(run: ReloadRun) -> None:
    """keep lived to the end; the reload counts and the log; a clean stop."""
    check = run.check
    final = run.lab.stop_service("keep", timeout=60.0)
    check(f"keep: every long-lived connection lived to the end (broken {final.get('broken')} "
          f"{final.get('broken_reasons') or ''}, mismatched {final.get('mismatch')})",
          final.get("broken") == 0 and final.get("mismatch") == 0)
    state = run.policy_state()
    check(f"show config: {state['reloads']} reloads applied, {state['reloads_failed']} "
          f"refused, hash {state['hash']}", state["reloads"] == 2
          and state["reloads_failed"] == 1)
    log = open(run.node.log_path).read()
    check("the log says each reload and the refused one",
          log.count("policy reloaded:") == 2 and "policy not reloaded" in log)
    check_node_stopped(check, run.lab.stop_node())


def run(args) -> int:
    checks = Checklist()

    with InlineLab() as lab:
        lab.start_service("streams", "server", [
            "stream-serve", "--echo", f"{KEEP_PORT},{IDLE_PORT},{LATER_PORT},{RETIRED_PORT}"])
        node = ReloadableNode(START, binary=args.tandemd)
        lab.set_node(node)
        reload_run = ReloadRun(lab, node, args, checks.check)
        start_connections(reload_run)
        step_invalid_file(reload_run)
        step_deny_later(reload_run)
        step_no_reevaluate(reload_run)
        finish(reload_run)
    return checks.result()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandemd", default=os.environ.get("TANDEMD"))
    ap.add_argument("--keep", type=int, default=7000, help="busy long-lived connections")
    ap.add_argument("--interval", type=float, default=2.0, help="seconds between their requests")
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--later", type=int, default=1000)
    ap.add_argument("--retired", type=int, default=1000)
    ap.add_argument("--deadline", type=float, default=240.0)
    a = ap.parse_args()
    return run_standalone(a, run, a.deadline)


if __name__ == "__main__":
    sys.exit(main())
