#!/usr/bin/python3
"""Pair: a policy reload on a node that took its peer's sessions over, and
two nodes that run different policies for a while.

Long-lived connections and a bulk stream (RR and bulk ports) and idle
connections (IDLE port) over ECMP, so that each node owns some of each.
Node A is SIGKILLed; B takes every session over, the idle ones included
(failover_phase, as lab.pair.failover). Then:

1. B's file denies the IDLE port and B reloads it: B ends exactly the idle
   sessions, A's former ones included (their ingress port, and so their
   zones, came with the replicas: none is left unmatched), the long-lived
   ones go on, an idle connection used now gets no answer.
2. A restarts with the old file: the pair forms again although the policies
   differ (a difference is a warning, not a refusal): each node shows the
   other's `policy_matches` false in `show high-availability state`, and
   both logs say so.
3. A reloads the new file: both nodes show the other's policy matching.

At the end no long-lived connection broke.

    /usr/bin/python3 tests/lab/test_pair_policy_reload.py [--conns N] [--idle N]
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nodes import Rule  # noqa: E402
from pair import (BULK_PORT, IDLE_PORT, LINUX_KINDS, RR_PORT, TCP_ECHO, UDP_ECHO,  # noqa: E402
                  add_longlived_args, failover_phase, pair_main, report_rr, stop_rr)
from labkit.ha import wait_until  # noqa: E402
from session_tables import describe, owned_by_node  # noqa: E402

DENY_IDLE = (
    Rule("tcp", (IDLE_PORT,), name="no-idle", action="deny"),
    Rule("tcp", (TCP_ECHO, RR_PORT, BULK_PORT), name="lab-tcp"),
    Rule("udp", (UDP_ECHO,), name="lab-udp"),
    Rule("icmp", icmp_types=(8,), name="ping"),
)


def configure(ap):
    add_longlived_args(ap)
    ap.set_defaults(conns=100, idle=100)
    ap.add_argument("--after", type=float, default=3.0, help="seconds of traffic after the kill")


def rewrite(slot, policy) -> None:
    """The node's config file, with another policy (read on its next reload)."""
    node = slot.node
    node.policy = policy
    with open(node.config_path, "w") as f:
        f.write(node.config_text(slot, os.path.join(slot.workdir, "tandemd.sock")))


def counter(lab, s, name: str) -> int:
    return (lab.counters(s) or {}).get(name, 0)


def peer_view(lab, s) -> dict:
    ok, st = lab.request(s, "show high-availability state")
    peers = st.get("peers", []) if ok and isinstance(st, dict) else []
    return peers[0] if peers else {}


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"policy reload on a node that took over {args.conns} long-lived and "
                         f"{args.idle} idle connections")
    if lab.opts.node in LINUX_KINDS:
        sec.check("policy reloads need tandemd", None, optional_for=LINUX_KINDS)
        return
    fo = failover_phase(lab, args, sec, deadline, victim_letter="a", after=args.after)
    a, b = lab.slot("a"), lab.slot("b")

    # 1. B denies the idle port: it ends every idle session, A's former ones too.
    rewrite(b, DENY_IDLE)
    ended0 = counter(lab, b, "sessions_ended_by_policy")
    unmatched0 = counter(lab, b, "sessions_not_reevaluated")
    ok, reply = lab.request(b, "request policy reload")
    sec.line(f"{b.label}: {reply.get('message') if ok and isinstance(reply, dict) else reply}")
    sec.check(f"{b.label} applied the new policy", ok and reply.get("rules") == len(DENY_IDLE))
    wait_until(lambda: counter(lab, b, "sessions_ended_by_policy") - ended0 >= args.idle, 10.0)
    ended = counter(lab, b, "sessions_ended_by_policy") - ended0
    unmatched = counter(lab, b, "sessions_not_reevaluated") - unmatched0
    from_a = owned_by_node(fo["idle_tables_before"], a.node_id)
    sec.check(f"{b.label} ended exactly the {args.idle} idle sessions (+{ended}), the "
              f"{describe(from_a)} it took over from {a.label} included; none left unmatched "
              f"(+{unmatched})",
              ended == args.idle and unmatched == 0 and from_a is not None and len(from_a) > 0)
    left = lab.sessions(b, IDLE_PORT)
    sec.check(f"{b.label} lists no session to port {IDLE_PORT} "
              f"({left.get('shown') if left else left})", left is not None and left["shown"] == 0)
    proc = lab.service("idle")
    proc.send_signal(signal.SIGUSR2)
    used = {}
    while used.get("event") != "used":
        used = proc.read_json(30.0)
    sec.check(f"an idle connection used after the reload gets no answer "
              f"({used['answered']}/{used['conns']} answered)", used["answered"] == 0)

    # 2. A comes back with the old file: the pair forms, each warns of the other.
    lab.restart_node(a)
    lab.wait_ha_ready(deadline)
    differ = wait_until(lambda: peer_view(lab, a).get("policy_matches") is False and
                        peer_view(lab, b).get("policy_matches") is False, 10.0)
    va, vb = peer_view(lab, a), peer_view(lab, b)
    sec.check(f"the pair formed again with different policies: {a.label} sees {b.label} alive "
              f"({va.get('alive')}), policies differ on both sides ({a.label}: "
              f"{va.get('policy_hash')}, {b.label}: {vb.get('policy_hash')})",
              differ and va.get("alive") is True and vb.get("alive") is True and
              va.get("refused") == "" and vb.get("refused") == "")
    logs = {s.letter: open(s.node.log_path).read() for s in (a, b)}
    sec.check("both logs say the peer runs another policy",
              all("runs another policy" in t for t in logs.values()))

    # 3. A reloads the new file: both agree.
    rewrite(a, DENY_IDLE)
    ok, reply = lab.request(a, "request policy reload")
    agree = wait_until(lambda: peer_view(lab, a).get("policy_matches") is True and
                       peer_view(lab, b).get("policy_matches") is True, 10.0)
    sec.check(f"after {a.label}'s reload both show the other's policy matching "
              f"(hash {peer_view(lab, b).get('policy_hash')})", ok and agree)

    r = stop_rr(lab)
    report_rr(sec, r, marks=("kill",), target_ms=args.target_ms)


if __name__ == "__main__":
    sys.exit(pair_main("Pair: a policy reload on the node that took over, and nodes whose "
                       "policies differ", body, configure=configure))
