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
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import ControlError, InlineLab  # noqa: E402
from labkit.checks import Checklist  # noqa: E402
from labkit.runner import run_standalone  # noqa: E402
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


def run(args) -> int:
    checks = Checklist()
    check = checks.check

    with InlineLab() as lab:
        server = lab.addr.server_ip
        lab.start_service("streams", "server", [
            "stream-serve", "--echo", f"{KEEP_PORT},{IDLE_PORT},{LATER_PORT},{RETIRED_PORT}"])
        node = ReloadableNode(START, binary=args.tandemd)
        lab.set_node(node)

        def policy_state() -> dict:
            return node.control.request("show config", timeout=5.0)["policy"]

        def reload() -> dict:
            return node.control.request("request policy reload", timeout=10.0)

        def idle_group(name: str, port: int, conns: int) -> None:
            ready = lab.start_service(name, "client", [
                "idle-conns", "--dst", server, "--port", str(port), "--conns", str(conns),
                "--io-timeout", "3", "--connect-timeout", "20", "--max-seconds", "600"],
                timeout=60.0)
            check(f"{name}: {ready['live']}/{conns} connections to port {port} answered once, "
                  f"then idle", ready["live"] == conns)

        def use(name: str) -> dict:
            proc = lab.service(name)
            proc.send_signal(signal.SIGUSR2)
            while True:
                r = proc.read_json(60.0)
                if r.get("event") == "used":
                    return r

        def new_connections(port: int) -> dict:
            return lab.tool("client", ["tcp-storm", "--dst", server, "--port", str(port),
                                       "--count", "5", "--concurrency", "5",
                                       "--connect-timeout", "2", "--min-size", "16",
                                       "--max-size", "16"], timeout=30)

        def sessions_on(port: int) -> list:
            return [s for s in node.sessions() if s.get("dport") == port]

        t0 = time.monotonic()
        rr = lab.start_service("keep", "client", [
            "rr-long", "--dst", server, "--port", str(KEEP_PORT), "--conns", str(args.keep),
            "--interval", str(args.interval), "--connect-timeout", "30", "--io-timeout", "10",
            "--max-seconds", "600"], timeout=90.0)
        check(f"keep: {rr['connected']}/{args.keep} long-lived connections answered "
              f"(in {time.monotonic() - t0:.1f} s)", rr["connected"] == args.keep)
        idle_group("idle", IDLE_PORT, args.idle)
        idle_group("later", LATER_PORT, args.later)
        idle_group("retired", RETIRED_PORT, args.retired)
        total = args.keep + args.idle + args.later + args.retired
        shown = len(node.sessions())
        print(f"running connections: {total} (show session all lists {shown})")

        # 1. An invalid file changes nothing.
        before = policy_state()
        node.rewrite(lab, START, broken=True)
        try:
            reload()
            refused, error = False, ""
        except ControlError as e:
            refused, error = True, str(e)
        line = next((ln.strip() for ln in error.splitlines() if "tandemd.conf:" in ln), "")
        after = policy_state()
        check(f"an invalid file is refused with FILE:LINE ({line[:120]})",
              refused and line != "" and "70000" in error)
        check(f"... and changes nothing: hash {after['hash']} == {before['hash']}, rules "
              f"{after['rules']}, failed reloads {after['reloads_failed']}",
              after["hash"] == before["hash"] and after["rules"] == len(START)
              and after["reloads_failed"] == 1 and after["reloads"] == 0)

        # 2. Deny `later`: the swap drops nothing; exactly `later` ends.
        node.rewrite(lab, DENY_LATER)
        c0 = node.counters()
        st0 = lab.service_stats("keep")
        t_reload = time.monotonic()
        reply = reload()
        print(f"reload: {reply.get('message', reply)}")
        end = time.monotonic() + 20.0
        while time.monotonic() < end:
            c1 = node.counters()
            if c1.get("sessions_ended_by_policy", 0) - c0.get("sessions_ended_by_policy", 0) \
                    >= args.later:
                break
            time.sleep(0.2)
        t_done = time.monotonic()
        # Every keep connection answers after the reload finished re-evaluating.
        end = time.monotonic() + 20.0
        while True:
            st = lab.service_stats("keep")
            if st["oldest_last_response"] > t_done or time.monotonic() > end:
                break
            time.sleep(0.2)
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
        left = sessions_on(LATER_PORT)
        check(f"show session lists no session to port {LATER_PORT} ({len(left)})", not left)
        used = use("later")
        check(f"a later connection used after the reload is not answered "
              f"({used['answered']}/{args.later} answered)", used["answered"] == 0)
        fresh = new_connections(LATER_PORT)
        check(f"new connections to port {LATER_PORT} are refused "
              f"({fresh.get('completed')}/5 completed)", fresh.get("completed") == 0)
        used = use("idle")
        check(f"every idle connection answers after the reload ({used['answered']}/{args.idle})",
              used["answered"] == args.idle and used["broken"] == 0)

        # 3. re-evaluate = false: running sessions keep going.
        node.rewrite(lab, DENY_RETIRED, reevaluate=False)
        c0 = node.counters()
        reply = reload()
        print(f"reload: {reply.get('message', reply)}")
        end = time.monotonic() + 20.0
        while time.monotonic() < end:
            c1 = node.counters()
            if c1.get("sessions_rule_retired", 0) - c0.get("sessions_rule_retired", 0) \
                    >= args.retired:
                break
            time.sleep(0.2)
        c1 = node.counters()
        retired = c1.get("sessions_rule_retired", 0) - c0.get("sessions_rule_retired", 0)
        ended = c1.get("sessions_ended_by_policy", 0) - c0.get("sessions_ended_by_policy", 0)
        check(f"re-evaluate = false: no session ended (+{ended}); the {args.retired} on port "
              f"{RETIRED_PORT} kept under an earlier policy's rule (+{retired})",
              ended == 0 and retired == args.retired)
        names = {s.get("rule") for s in sessions_on(RETIRED_PORT)}
        check(f"show session names their rule {sorted(str(x) for x in names)}",
              names == {"(earlier policy)"})
        used = use("retired")
        check(f"they still answer ({used['answered']}/{args.retired})",
              used["answered"] == args.retired)
        fresh = new_connections(RETIRED_PORT)
        check(f"new connections to port {RETIRED_PORT} are refused "
              f"({fresh.get('completed')}/5 completed)", fresh.get("completed") == 0)

        final = lab.stop_service("keep", timeout=60.0)
        check(f"keep: every long-lived connection lived to the end (broken {final.get('broken')} "
              f"{final.get('broken_reasons') or ''}, mismatched {final.get('mismatch')})",
              final.get("broken") == 0 and final.get("mismatch") == 0)
        state = policy_state()
        check(f"show config: {state['reloads']} reloads applied, {state['reloads_failed']} "
              f"refused, hash {state['hash']}", state["reloads"] == 2
              and state["reloads_failed"] == 1)
        log = open(node.log_path).read()
        check("the log says each reload and the refused one",
              log.count("policy reloaded:") == 2 and "policy not reloaded" in log)
        stopped = lab.stop_node()
        check(f"tandemd stopped cleanly (exit {stopped.get('exit_code')})",
              stopped.get("exit_code") == 0)
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
