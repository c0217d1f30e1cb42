#!/usr/bin/python3
"""Pair scenario: overload. A SYN flood from spoofed sources fills a small
session table while established connections run through the pair.

Each node has a small table (--capacity, 4,096 by default). Before the
flood: --conns long-lived connections doing a request every 10 ms, --idle
connections that answer once and then stay silent, and a round of short
connections (all must complete). Then syn-flood (syn_flood.py) sends SYNs
from spoofed sources (10.200.0.0/16, every SYN a new flow) to the server as
fast as one raw socket in the client namespace goes, for --flood-seconds
(at most --flood-count SYNs); the router behind the pair drops the spoofed
flows, so the nodes see a SYN and nothing more. Meanwhile the HA state of
both nodes is read every 50 ms (how long since each heard its peer, the
age of the oldest unacknowledged sync message), the table sizes every
second.

Checks (counted outcomes):
  - the table filled: new flows were refused and counted
    (dropped_table_full > 0) and no table grew past its capacity;
  - no false peer death: peer_down and peer_restart unchanged on both nodes,
    each saw its peer alive at every sample, and the longest silence seen
    (last_heard_ms) stayed within the hold time;
  - established connections kept working: every long-lived connection
    alive to the end (0 broken, every response matched), every idle one
    answers after the flood, and both tables still hold every long-lived
    and idle session with one owner, the same on both nodes;
  - embryonic sessions made under pressure expire early
    ([timeouts] tcp-embryonic-under-pressure): --recover-s seconds after the
    flood, a round of short connections completes in full (with the plain
    30 s syn-sent timeout the table is still full then, and this fails).

    flock /tmp/tandem-lab.lock /usr/bin/python3 tests/lab/test_pair_overload.py --node tandemd
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import PYTHON, TRAFFIC, LabError  # noqa: E402
from pair import (RR_PORT, IDLE_PORT, SERVER_IP, TCP_ECHO, add_longlived_args, pair_main,  # noqa: E402
                  report_rr, start_idle, start_longlived, stop_idle, stop_rr, storm, use_idle)
from labkit.ha import ha_peers  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402
from session_tables import ownership, same_on_every_node, sessions_of  # noqa: E402

FLOOD_NET = "10.200.0.0/16"


def configure(ap):
    add_longlived_args(ap)
    ap.set_defaults(conns=50, idle=50, deadline=170.0)
    ap.add_argument("--capacity", type=int, default=4096, help="[dataplane] session-capacity")
    ap.add_argument("--flood-seconds", type=float, default=8.0)
    ap.add_argument("--flood-count", type=int, default=2_000_000)
    ap.add_argument("--flood-rate", type=float, default=0.0, help="SYNs/s, 0: as fast as it goes")
    ap.add_argument("--recover-s", type=float, default=8.0,
                    help="seconds after the flood by which new connections must work again")
    ap.add_argument("--pressure-timeout", type=int, default=None,
                    help="[timeouts] tcp-embryonic-under-pressure (default: the node's)")


def variants(args):
    extra = ""
    if args.pressure_timeout is not None:
        extra = f"\n[timeouts]\ntcp-embryonic-under-pressure = {args.pressure_timeout}\n"
    return [{"label": f"session-capacity {args.capacity}"
                      + (f", tcp-embryonic-under-pressure {args.pressure_timeout}"
                         if args.pressure_timeout is not None else ""),
             "session_capacity": args.capacity, "extra_config": extra}]


def drop_spoofed_behind(lab) -> None:
    """srt drops the spoofed flows after the nodes (the server never sees them)."""
    lab.srt.run(["nft", "-f", "-"], input=(
        "table ip tandem_lab_flood {\n"
        "    chain forward {\n"
        "        type filter hook forward priority 0; policy accept;\n"
        f"        ip saddr {FLOOD_NET} counter drop\n"
        "    }\n"
        "}\n"))


def established_tables(lab) -> dict:
    """{port: ownership view} of the long-lived and the idle connections."""
    return {port: ownership(lab, port) for port in (RR_PORT, IDLE_PORT)}


def sessions_active(lab, s) -> int | None:
    c = lab.counters(s)
    return None if c is None else c.get("sessions.active")


def watch_flood(lab, proc, hold_ms: int) -> dict:
    """Reads both nodes' HA state every 50 ms while the flood runs."""
    w = {"samples": 0, "not_alive": 0, "max_heard_ms": 0, "max_lag_ms": 0, "unread": 0,
         "max_sessions": {}}
    next_count = 0.0
    while proc.poll() is None:
        for s in lab.slots:
            st = lab.ha_state(s)
            if st is None:
                w["unread"] += 1
                continue
            w["samples"] += 1
            for p in ha_peers(st):
                if not p.get("alive"):
                    w["not_alive"] += 1
                w["max_heard_ms"] = max(w["max_heard_ms"], int(p.get("last_heard_ms", 0)))
            for y in st.get("sync", []) or []:
                w["max_lag_ms"] = max(w["max_lag_ms"], int(y.get("lag_ms", 0)))
        if time.monotonic() >= next_count:
            next_count = time.monotonic() + 1.0
            for s in lab.slots:
                n = sessions_active(lab, s)
                if n is not None:
                    w["max_sessions"][s.label] = max(w["max_sessions"].get(s.label, 0), n)
        time.sleep(0.05)
    return w


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"overload: SYN flood from spoofed sources into tables of "
                         f"{args.capacity} sessions, {args.conns} long-lived + {args.idle} idle "
                         f"connections")
    drop_spoofed_behind(lab)
    start_longlived(lab, args, sec, bulk=False)
    start_idle(lab, sec, args.idle)
    storm(lab, sec, "short connections before the flood", 100, 10, deadline)
    own_before = established_tables(lab)
    c0 = {s.letter: lab.counters(s) for s in lab.slots}

    argv = lab.client.argv([PYTHON, TRAFFIC, "syn-flood", "--dst", SERVER_IP, "--port",
                            str(TCP_ECHO), "--src-net", FLOOD_NET, "--count",
                            str(args.flood_count), "--seconds", str(args.flood_seconds),
                            "--rate", str(args.flood_rate)])
    t_flood = lab.mark("flood")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        w = watch_flood(lab, proc, args.hold_ms)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    t_end = time.monotonic()
    flood = {}
    for line in out.splitlines():
        if line.startswith("{"):
            flood = json.loads(line)
    if not flood:
        raise LabError(f"syn-flood gave no result: {err[-2000:]}")
    c1 = {s.letter: lab.counters(s) for s in lab.slots}
    d = {k: delta(c1[k], c0[k]) for k in c1}
    sec.line(f"flood: {flood['sent']} SYNs in {flood['elapsed_s']} s = {flood['rate_pps']} SYN/s "
             f"(send errors {flood['errors'] or 0})")
    for s in lab.slots:
        sec.line(f"{s.label} during the flood: {counter_line(d[s.letter], limit=60)}")
    sec.line(f"HA during the flood: {w['samples']} state samples, peer not alive in "
             f"{w['not_alive']}, longest silence seen {w['max_heard_ms']} ms (hold "
             f"{args.hold_ms} ms), oldest unacknowledged sync message {w['max_lag_ms']} ms"
             f", unread {w['unread']}; largest tables {w['max_sessions']}")
    full = {s.label: d[s.letter].get("dropped_table_full", 0) for s in lab.slots}
    sec.check(f"the tables filled and new flows were refused and counted: dropped_table_full "
              f"{full}", sum(full.values()) > 0)
    sec.check(f"no table grew past its capacity ({w['max_sessions']} <= {args.capacity})",
              bool(w["max_sessions"]) and max(w["max_sessions"].values()) <= args.capacity)
    downs = {s.label: (d[s.letter].get("ha.peer_down", 0), d[s.letter].get("ha.peer_restart", 0))
             for s in lab.slots}
    sec.check(f"no false peer death: (peer_down, peer_restart) {downs}",
              all(v == (0, 0) for v in downs.values()))
    sec.check(f"each node saw its peer alive at every sample ({w['samples']} samples, "
              f"{w['not_alive']} not alive, {w['unread']} unread)",
              w["samples"] > 0 and w["not_alive"] == 0 and w["unread"] == 0)
    sec.check(f"heartbeats kept coming: longest silence {w['max_heard_ms']} ms <= hold "
              f"{args.hold_ms} ms", w["max_heard_ms"] <= args.hold_ms)

    # A few new connections while the tables are full of embryonic sessions,
    # then a full round once the short timeout has run out.
    time.sleep(max(0.0, t_end + args.recover_s - time.monotonic()))
    sizes = {s.label: sessions_active(lab, s) for s in lab.slots}
    sec.line(f"{args.recover_s:g} s after the flood: sessions {sizes}")
    storm(lab, sec, f"short connections {args.recover_s:g} s after the flood", 200, 10, deadline,
          connect_timeout=3.0)

    use_idle(lab, sec, "after the flood")
    own_after = established_tables(lab)
    n_before = {p: len(sessions_of(v) or ()) for p, v in own_before.items()}
    n_after = {p: len(sessions_of(v) or ()) for p, v in own_after.items()}
    sec.check(f"every long-lived and idle session is still in both tables with the same owner "
              f"and backup, the tables agree (sessions by port before {n_before}, after "
              f"{n_after})",
              all(same_on_every_node(v) for v in own_before.values()) and
              all(same_on_every_node(v) for v in own_after.values()) and
              own_after == own_before and n_before == {RR_PORT: args.conns, IDLE_PORT: args.idle})
    stop_idle(lab, sec)
    r = stop_rr(lab)
    report_rr(sec, r, marks=("flood",), target_ms=None)
    sec.data = {"flood": flood, "watch": w, "deltas": d, "flood_t": t_flood}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: SYN flood from spoofed sources into a small session table",
                       body, configure=configure, variants=variants))
