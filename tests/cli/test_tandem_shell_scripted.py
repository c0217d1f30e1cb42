#!/usr/bin/python3
"""The `tandem` shell against a scripted control socket.

A stand-in for tandemd answers the control protocol from canned results —
the shapes the daemon is to send for the commands it does not serve yet
(HA state, sessions, cluster members) — and records every request. This
checks what the real daemon cannot show yet: the NODE(STATE) prompt, the
session and HA renderers through the binary, completion of session ids and
node names from the daemon's answers, the pager over a long session list,
and the exact command and args the shell sends for each command.

    test_tandem_shell_scripted.py --tandem PATH

Exit status: 0 all checks passed, 1 a check failed. Needs no root.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_tandem_shell import CheckFailed, Terminal  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab"))
from skip_policy import skip_exit  # noqa: E402  (tests/lab: one rule for every test)

HA_STATE = {
    "local": {"id": 1, "name": "fw1", "state": "active-primary", "priority": 100,
              "last_transition": {"from": "tentative", "to": "active-primary",
                                  "cause": "peer synchronized", "ago_ms": 65000}},
    "peers": [{"id": 2, "name": "fw2", "state": "active-secondary", "alive": True,
               "control_link": "up", "peer_link": "up", "last_heard_ms": 40}],
    "session_owner": "first-packet", "revert": True, "preempt": False,
    "heartbeat_interval_ms": 100, "hold_time_ms": 400,
}


def session(i: int) -> dict:
    return {"id": i, "proto": "tcp", "src": f"10.0.{i // 250}.{i % 250 + 1}", "sport": 40000 + i,
            "dst": "192.0.2.80", "dport": 443, "state": "established", "owner": 1 + i % 2,
            "backup_owner": 2 - i % 2, "origin_owner": 1, "packets": [i, i + 1],
            "bytes": [100 * i, 200 * i], "expires_in_ms": 3_600_000, "rule": "web"}


SESSIONS = [session(i) for i in (17, 170, 23)] + [session(i) for i in range(1000, 1097)]

RESULTS = {
    "show high-availability state": HA_STATE,
    "show cluster members": {"members": [
        {"id": 1, "name": "fw1", "state": "active-primary", "local": True},
        {"id": 2, "name": "fw2", "state": "active-secondary", "alive": True}]},
    "show session all": {"sessions": SESSIONS, "total": len(SESSIONS), "truncated": False},
    "show session id": {"session": SESSIONS[0]},
    "show version": {"version": "9.9.9"},
    "clear session id": {"cleared": 1},
    "debug": {"message": "log level of ha is now debug"},
    "show counters": {"dataplane": {"forwarded": 5}, "ha": {"heartbeats_sent": 12}},
    "request high-availability suspend": {},
}


class ScriptedDaemon:
    """A REP socket answering from RESULTS, recording (command, args)."""

    def __init__(self, path: str) -> None:
        import zmq
        self.path = path
        self.requests: list[tuple[str, dict]] = []
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RCVTIMEO, 100)
        self.sock.bind("ipc://" + path)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        import zmq
        while self.running:
            try:
                req = json.loads(self.sock.recv_string())
            except zmq.Again:
                continue
            except zmq.ZMQError:
                break
            command, args = req.get("command"), req.get("args", {})
            self.requests.append((command, args))
            if command == "show high-availability state-synchronization":
                self.sock.send_string("not json")  # a broken daemon
            elif command in RESULTS:
                self.sock.send_string(json.dumps({"v": 1, "ok": True,
                                                  "result": RESULTS[command]}))
            else:
                self.sock.send_string(json.dumps({"v": 1, "ok": False,
                                                  "error": f"unknown command '{command}'"}))

    def last(self, command: str) -> dict:
        for c, a in reversed(self.requests):
            if c == command:
                return a
        raise CheckFailed(f"the shell never sent {command!r}; it sent "
                          f"{[c for c, _ in self.requests][-8:]}")

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close(0)
        self.ctx.term()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tandem", required=True)
    opts = ap.parse_args()
    try:
        import zmq  # noqa: F401
    except ImportError:
        return skip_exit("needs python3-zmq (scripts/deps installs it)")

    work = tempfile.mkdtemp(prefix=f"tandem-cli-scripted-{os.getpid()}-")
    sock = os.path.join(work, "tandemd.sock")
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "TERM": "xterm", "INPUTRC": "/dev/null",
           "LANG": "C.UTF-8"}
    daemon = ScriptedDaemon(sock)
    passed = []

    def check(what: str, ok: bool, detail: str = "") -> None:
        if not ok:
            raise CheckFailed(f"{what}: {detail}")
        passed.append(what)
        print(f"  ok  {what}", flush=True)

    def tandem_c(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([opts.tandem, "--socket", sock, *args], capture_output=True,
                              text=True, timeout=15, env=env, stdin=subprocess.DEVNULL)

    try:
        print("requests the shell sends:", flush=True)
        cases = [
            ("show session all src 10.0.0.1 dport 443 st est ow fw2", "show session all",
             {"src": "10.0.0.1", "dport": 443, "state": "established", "owner": "fw2"}),
            ("sh ses flow 2001:db8::1 1234 2001:db8::2 80 udp", "show session flow",
             {"src": "2001:db8::1", "sport": 1234, "dst": "2001:db8::2", "dport": 80,
              "proto": "udp"}),
            ("clear session id 17", "clear session id", {"id": 17}),
            ("clear session filter proto 6 owner 2", "clear session filter",
             {"proto": "tcp", "owner": 2}),
            ("debug ha deb", "debug", {"subsystem": "ha", "level": "debug"}),
            ("show counters peer-link all", "show counters", {"group": "peer-link", "all": True}),
            ("req ha func", "request high-availability functional", {}),
        ]
        for line, command, args in cases:
            tandem_c("-c", line)
            got = daemon.last(command)
            check(f"{line!r} sends {command!r} {json.dumps(args)}", got == args, json.dumps(got))

        print("rendering through the binary:", flush=True)
        p = tandem_c("-c", "sh ha st")
        check("HA state renders as blocks", p.returncode == 0 and
              "local node fw1 (id 1)" in p.stdout and "peer fw2 (id 2)" in p.stdout and
              re.search(r"last transition:\s+tentative -> active-primary, 1 min 5 s ago",
                        p.stdout) is not None, p.stdout)
        p = tandem_c("-c", "show session id 17")
        check("one session renders in detail", p.returncode == 0 and
              p.stdout.startswith("session 17\n") and "flow:" in p.stdout, p.stdout)
        p = tandem_c("-c", "show cluster members")
        check("cluster members render as a table", p.returncode == 0 and
              re.search(r"^\s*2\s+fw2\s+active-secondary", p.stdout, re.M) is not None, p.stdout)
        p = tandem_c("--json", "-c", "sh ha st")
        check("--json prints the result as sent", json.loads(p.stdout) == HA_STATE, p.stdout)
        p = tandem_c("-c", "show counters ha")
        check("a counter group shows its section only",
              p.stdout.startswith("ha\n") and "forwarded" not in p.stdout, p.stdout)
        p = tandem_c("-c", "show interfaces")
        check("an unsupported command exits 1 with the daemon's words",
              p.returncode == 1 and p.stderr.strip() ==
              "tandemd: unknown command 'show interfaces'", p.stderr)
        p = tandem_c("-c", "show session all src 10.0.0.1 ?")
        check("-c with a trailing ? prints the help for what precedes it",
              p.returncode == 0 and re.search(r"^  dport\s+responder's port$", p.stdout, re.M)
              is not None and "<cr>" in p.stdout and "src" not in p.stdout, p.stdout)
        p = tandem_c("-c", "sh ha ss")
        check("a reply that is not the protocol exits 1 and says so",
              p.returncode == 1 and "reply is not a JSON object" in p.stderr, p.stderr)

        print("interactive shell:", flush=True)
        t = Terminal([opts.tandem, "--socket", sock], env, rows=30, cols=160)
        try:
            t.expect(r"fw1\(active-primary\)> ", timeout=10)
            check("the prompt shows the node and its HA state", True)
            t.send("show session id 2\t")
            t.expect(r"show session id 23 ", timeout=5)
            t.send("\x15show session id 17\t\t")
            t.expect(r"17\s+170\s*\n", timeout=5)
            check("TAB completes session ids from the daemon", True)
            t.send("\x15show session all owner f\t")
            t.expect(r"owner fw", timeout=5)
            t.send("2\r")
            t.expect(r"ID\s+PROTO\s+SOURCE", timeout=5)
            pages = 1
            while t.expect(r"--More--|100 sessions\n", timeout=5).group(0) == "--More--":
                pages += 1
                if pages > 10:
                    raise CheckFailed("the pager never reached the end")
                t.send(" ")
            check(f"102 lines on a 30-row terminal take 4 pages (took {pages})", pages == 4)
            t.expect(r"fw1\(active-primary\)> $", timeout=5)
            check("TAB completes node names; 100 sessions page with --More--", True)
            t.send("exit\r")
            check("exit leaves", t.wait_exit() == 0)
        finally:
            t.close()
    except (CheckFailed, subprocess.TimeoutExpired, OSError, ValueError) as e:
        print(f"FAIL: {e}")
        print(f"RESULT: FAIL ({len(passed)} checks passed before)")
        return 1
    finally:
        daemon.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"RESULT: PASS ({len(passed)} checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
