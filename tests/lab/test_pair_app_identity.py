#!/usr/bin/python3
"""Pair: application identity survives failover.

Both nodes reload a policy whose TLS rules name servers (keep.test and
later.test allowed), then, over ECMP (each node owns some of them):
  long   long-lived TLS connections to keep.test and later.test in turn,
         a request a second each;
  late   TCP connections to the TLS port whose ClientHello is not sent yet.

1. Every long connection's session is identified, on its owner and on the
   other node's replica alike (show session: app tls, its name, its rule).
2. Node A is SIGKILLed. B takes every session over: it lists every long
   connection with the same name as before, none pending or unnamed, and
   every long connection goes on answering.
3. The late connections send their ClientHello now, to B: every handshake
   completes and B identifies each (app_identified_tls counts them), the
   ones A owned included (their first payload's sequence number came with
   the replica).
4. B reloads a policy that denies later.test: exactly the later.test
   sessions are ended (sessions_ended_by_policy), their connections stop
   answering, and every keep.test connection lives on to the end.

Without replicated identities B would take the sessions over unnamed (step
2 fails) and could not end the later.test ones by name (step 4 fails).

    /usr/bin/python3 tests/lab/test_pair_app_identity.py [--conns N] [--late N]
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import ControlError, LabTimeout  # noqa: E402
from labkit.ha import wait_until  # noqa: E402
from nodes import Rule  # noqa: E402
from pair import (BULK_PORT, IDLE_PORT, LINUX_KINDS, RR_PORT, SERVER_IP, TCP_ECHO,  # noqa: E402
                  UDP_ECHO, pair_main)

TLS_PORT = 8443
BASE = (
    Rule("tcp", (TCP_ECHO, RR_PORT, BULK_PORT, IDLE_PORT), name="lab-tcp"),
    Rule("udp", (UDP_ECHO,), name="lab-udp"),
    Rule("icmp", icmp_types=(8,), name="ping"),
)
APP_POLICY = (Rule("tcp", (TLS_PORT,), name="tls-keep", app="tls sni keep.test"),
              Rule("tcp", (TLS_PORT,), name="tls-later", app="tls sni later.test")) + BASE
DENY_LATER = (Rule("tcp", (TLS_PORT,), name="tls-keep", app="tls sni keep.test"),
              Rule("tcp", (TLS_PORT,), name="no-later", action="deny",
                   app="tls sni later.test")) + BASE


def configure(ap):
    ap.add_argument("--conns", type=int, default=200, help="long-lived TLS connections")
    ap.add_argument("--late", type=int, default=20,
                    help="connections whose ClientHello comes after the kill")


def reload_policy(lab, slot, policy) -> tuple[bool, object]:
    node = slot.node
    node.policy = policy
    with open(node.config_path, "w") as f:
        f.write(node.config_text(slot, os.path.join(slot.workdir, "tandemd.sock")))
    return lab.request(slot, "request policy reload")


def tls_sessions(lab, slot) -> list:
    c = lab.control(slot)
    try:
        r = c.request("show session all", timeout=5.0, dport=TLS_PORT) if c else {}
    except (ControlError, LabTimeout):
        return []
    return [s for s in r.get("sessions", []) if s.get("state") == "established"]


def by_name(sessions: list) -> dict:
    out: dict = {}
    for s in sessions:
        key = s.get("app_name") or f"({s.get('app_status', 'none')})"
        out[key] = out.get(key, 0) + 1
    return out


def counter(lab, s, name: str) -> int:
    return (lab.counters(s) or {}).get(name, 0)


def stats(lab, name: str) -> dict:
    proc = lab.service(name)
    proc.send_signal(signal.SIGUSR1)
    while True:
        r = proc.read_json(30.0)
        if r.get("event") == "stats":
            return r


def start_tls(lab, args, sec) -> None:
    """Both nodes on the policy that names TLS servers; the server, the
    long-lived TLS connections and the late ones (no ClientHello yet)."""
    a, b = lab.slot("a"), lab.slot("b")
    for s in (a, b):
        ok, reply = reload_policy(lab, s, APP_POLICY)
        sec.check(f"{s.label} loaded the policy that names TLS servers",
                  ok and isinstance(reply, dict) and reply.get("rules") == len(APP_POLICY))
    lab.tool("server", ["make-certs", "--dir", lab.workdir, "--names", "keep.test,later.test"],
             timeout=30)
    ca = os.path.join(lab.workdir, "ca.pem")
    lab.start_service("apps", "server", [
        "app-serve", "--tls-port", str(TLS_PORT), "--cert", os.path.join(lab.workdir, "server.pem"),
        "--key", os.path.join(lab.workdir, "server.key")])
    half = args.conns // 2
    ready = lab.start_service("long", "client", [
        "tls-long", "--dst", SERVER_IP, "--port", str(TLS_PORT), "--names", "keep.test,later.test",
        "--ca", ca, "--conns", str(args.conns), "--interval", "1.0", "--io-timeout", "10"],
        timeout=120.0)
    sec.check(f"long: every connection completed its handshake and answered ({ready['live']})",
              ready["live"] == {"keep.test": half, "later.test": args.conns - half})
    late = lab.start_service("late", "client", [
        "tls-late", "--dst", SERVER_IP, "--port", str(TLS_PORT), "--name", "keep.test",
        "--ca", ca, "--conns", str(args.late)], timeout=30.0)
    sec.check(f"late: {late['connected']}/{args.late} TCP connections open, no ClientHello yet",
              late["connected"] == args.late)


def check_identified(lab, sec, want: dict) -> set:
    """1. Identified on the owner and on the replica; returns A's (client
    port, name) pairs."""
    a, b = lab.slot("a"), lab.slot("b")
    settled = wait_until(lambda: by_name(tls_sessions(lab, a)) == want
                         and by_name(tls_sessions(lab, b)) == want, 10.0)
    ta, tb = tls_sessions(lab, a), tls_sessions(lab, b)
    owners = {o: sum(1 for s in ta if s.get("owner") == o) for o in (1, 2)}
    sec.check(f"both tables name every session's application: {a.label} {by_name(ta)}, "
              f"{b.label} {by_name(tb)} (owned by A/B: {owners[1]}/{owners[2]})",
              settled and owners[1] > 0 and owners[2] > 0)
    return {(s["sport"], s.get("app_name")) for s in ta}


def kill_and_take_over(lab, args, sec, want: dict, before: set) -> None:
    """2. A dies; B takes everything over, names included, and every long
    connection goes on answering."""
    a, b = lab.slot("a"), lab.slot("b")
    half = args.conns // 2
    lab.kill_node(a)
    taken = wait_until(lambda: all(s.get("owner") == b.node_id for s in tls_sessions(lab, b))
                       and by_name(tls_sessions(lab, b)) == want, 15.0)
    tb = tls_sessions(lab, b)
    after = {(s["sport"], s.get("app_name")) for s in tb}
    sec.check(f"{b.label} owns every session after the kill, with the same names "
              f"({by_name(tb)}; {len(before ^ after)} differ)", taken and before == after)
    c = lab.control(b)
    apps = c.request("show application", timeout=5.0).get("applications", []) if c else []
    counted = {x.get("name"): x.get("sessions") for x in apps if x.get("protocol") == "tls"}
    sec.check(f"{b.label}'s show application counts every taken-over session by its name "
              f"({counted})", counted == {"keep.test": half, "later.test": args.conns - half})
    time.sleep(3.0)  # a few requests of every connection through B alone
    st = stats(lab, "long")
    sec.check(f"every long connection answered through the failover (live {st['live']}, "
              f"broken {st['broken']} {st['reasons']})", not st["broken"])


def late_hellos(lab, args, sec) -> None:
    """3. The late ClientHellos, to B: completed and identified there."""
    b = lab.slot("b")
    half = args.conns // 2
    id0 = counter(lab, b, "app_identified_tls")
    lab.service("late").send_signal(signal.SIGUSR2)
    done = lab.service("late").read_json(60.0)
    identified = counter(lab, b, "app_identified_tls") - id0
    sec.check(f"late: {done.get('ok')}/{args.late} handshakes completed through {b.label} "
              f"({done.get('failed')}), each identified there (app_identified_tls +{identified})",
              done.get("ok") == args.late and identified == args.late)
    names = by_name(tls_sessions(lab, b))
    sec.check(f"{b.label} names the late sessions too ({names})",
              names.get("keep.test") == half + args.late and "(pending)" not in names)


def deny_later(lab, args, sec) -> None:
    """4. B denies later.test: exactly those sessions end, keep.test lives on."""
    b = lab.slot("b")
    half = args.conns // 2
    ended0 = counter(lab, b, "sessions_ended_by_policy")
    ok, reply = reload_policy(lab, b, DENY_LATER)
    sec.check(f"{b.label} applied the policy that denies later.test",
              ok and isinstance(reply, dict) and reply.get("rules") == len(DENY_LATER))
    wait_until(lambda: counter(lab, b, "sessions_ended_by_policy") - ended0 >= args.conns - half,
               10.0)
    ended = counter(lab, b, "sessions_ended_by_policy") - ended0
    sec.check(f"{b.label} ended exactly the later.test sessions: +{ended} == {args.conns - half}",
              ended == args.conns - half)
    # Each later.test connection breaks when its next request times out.
    wait_until(lambda: stats(lab, "long")["broken"] == {"later.test": args.conns - half}, 30.0,
               0.5)
    lab.stop_service("late", timeout=10.0)
    final = lab.stop_service("long", timeout=30.0)
    sec.check(f"every keep.test connection lived to the end, every later.test one stopped "
              f"answering (live {final.get('live')}, broken {final.get('broken')})",
              final.get("live") == {"keep.test": half}
              and final.get("broken") == {"later.test": args.conns - half})


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"application identity over a failover: {args.conns} long-lived TLS "
                         f"connections, {args.late} whose ClientHello comes after it")
    if lab.opts.node in LINUX_KINDS:
        sec.check("application identity needs tandemd", None, optional_for=LINUX_KINDS)
        return
    start_tls(lab, args, sec)
    half = args.conns // 2
    want = {"keep.test": half, "later.test": args.conns - half, "(pending)": args.late}
    before = check_identified(lab, sec, want)
    kill_and_take_over(lab, args, sec, want, before)
    late_hellos(lab, args, sec)
    deny_later(lab, args, sec)


if __name__ == "__main__":
    sys.exit(pair_main("Pair: application identity survives failover", body,
                       configure=configure))
