#!/usr/bin/python3
"""Pair: every `show` command's --json output, through the `tandem` CLI,
checked against what the test did and against the other node.

40 long-lived connections over ECMP (syn-map records which node each SYN
crossed). Then, on each node:

- `show high-availability state`: own id, name and an active state; what
  authenticates the HA traffic (`security`, and `tandem_ha_authenticated` in
  /metrics), as the keys say; the peer
  alive, named, in the state the peer reports for itself; owner mode and
  timers as configured; both nodes in the published view;
- `show cluster members`: two members, self marked, states matching; the
  sessions each node's table holds for itself and for the peer equal
  `show session all owner N`;
- `show high-availability state-synchronization`: a sync entry for the peer,
  up, everything sent acknowledged once traffic is steady (acked == seq > 0),
  bulk sync complete;
- `show session all dport 5101` (a filter): exactly the 40 connections,
  client -> server; each with the owner the test expects (first-packet: the
  node its SYN crossed; primary: the primary), the same owner, backup
  owner and director on both nodes (each node directing some), flagged replica exactly where the node is not the
  owner; `... owner N` returns that owner's share;
- `show session id N` and `show session flow SRC SPORT DST DPORT tcp` (both
  directions) find that same session;
- `show counters ha` / `show counters peer-link`: only their group, HA
  records sent by each node, peer-link frames accepted, no bad frame;
- GET /metrics (metrics-listen on in this test): node and peer state gauges,
  primary, sessions by owner == `show session all owner N`, replication
  sequence and acknowledgement == state-synchronization.

    /usr/bin/python3 tests/lab/test_pair_show_json.py [--owner primary]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_client import scrape  # noqa: E402
from pair import (CLIENT_IP, LINUX_KINDS, NODE_ID, RR_PORT, SERVER_IP, add_longlived_args, hold,  # noqa: E402
                  pair_main, start_longlived, stop_rr)
from labkit.ha import ACTIVE_STATES, wait_until  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.set_defaults(conns=40)


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"show --json on both nodes, {args.conns} long-lived connections "
                         f"(owner {args.owner})")
    if lab.opts.node != "tandemd":
        sec.check("the show commands need tandemd", None, optional_for=LINUX_KINDS)
        return
    lab.set_routes(args.spread)
    ready = start_longlived(lab, args, sec, bulk=False)
    hold(lab, args.steady)
    paths = ready.get("paths") or {}
    sports = set(ready.get("sports", []))
    a, b = lab.slots

    def show(s, command):
        ok, r = lab.request(s, command)
        if not ok or not isinstance(r, dict):
            sec.check(f"{s.label}: `{command}` answered ({str(r)[:200]})", False)
            return {}
        return r

    # --- HA state and members ------------------------------------------------------------
    states = {s.letter: show(s, "show high-availability state") for s in lab.slots}
    primary = None
    for s in lab.slots:
        st, other = states[s.letter], states[s.other.letter]
        local = st.get("local", {})
        peers = st.get("peers", [])
        peer = peers[0] if peers else {}
        if local.get("primary"):
            primary = local.get("id")
        sec.check(f"{s.label} state: id {local.get('id')} name {local.get('name')} state "
                  f"{local.get('state')}",
                  local.get("id") == s.node_id and local.get("name") == f"fw{s.letter}" and
                  local.get("state") in ACTIVE_STATES)
        sec.check(f"{s.label} sees its peer {peer.get('id')} ({peer.get('name')}) alive, "
                  f"control and peer link up, in state {peer.get('state')} == the peer's own "
                  f"{other.get('local', {}).get('state')}",
                  len(peers) == 1 and peer.get("id") == s.other.node_id and
                  peer.get("name") == f"fw{s.other.letter}" and peer.get("alive") is True and
                  peer.get("control_link") is True and peer.get("peer_link") is True and
                  peer.get("state") == other.get("local", {}).get("state"))
        sec.check(f"{s.label} owner mode {st.get('session_owner')}, heartbeat "
                  f"{st.get('timers', {}).get('heartbeat_interval_ms')} ms, hold "
                  f"{st.get('timers', {}).get('hold_time_ms')} ms, view owners "
                  f"{st.get('view', {}).get('owners')} as configured",
                  st.get("session_owner") == args.owner and
                  st.get("timers", {}).get("heartbeat_interval_ms") == lab.opts.heartbeat_ms and
                  st.get("timers", {}).get("hold_time_ms") == lab.opts.hold_ms and
                  st.get("view", {}).get("owners") == [1, 2])
        want = ({"control_link": "curve", "peer_link": "authenticated"} if lab.opts.curve
                else {"control_link": "none", "peer_link": "none"})
        sec.check(f"{s.label} security {st.get('security')} == {want} (CURVE keys "
                  f"{'set' if lab.opts.curve else 'not set: [ha] insecure = true'})",
                  st.get("security") == want)
        sec.check(f"{s.label} ready {local.get('ready')}: active, links up, its peer paired "
                  f"and the bulk sync done both ways (one field, docs/control.md)",
                  local.get("ready") is True)
        members = show(s, "show cluster members").get("members", [])
        mine = {m.get("id"): m for m in members}
        sec.check(f"{s.label} cluster members: ids {sorted(mine)}, self {s.node_id}",
                  sorted(mine) == [1, 2] and mine[s.node_id].get("self") is True and
                  not mine[s.other.node_id].get("self") and
                  mine[s.other.node_id].get("state") == peer.get("state") and
                  mine[s.node_id].get("state") == local.get("state"))
    sec.check(f"exactly one primary ({primary})", primary in (1, 2) and sum(
        1 for s in lab.slots if states[s.letter].get("local", {}).get("primary")) == 1)

    # --- replication ---------------------------------------------------------------------
    def synced(s):
        sync = show(s, "show high-availability state-synchronization").get("sync", [])
        return [x for x in sync if x.get("peer") == s.other.node_id]

    def all_acked(s):
        e = synced(s)
        return bool(e) and e[0].get("acked_seq") == e[0].get("tx_seq")

    for s in lab.slots:
        # Requests keep flowing but sessions change state rarely: wait for a
        # moment with nothing in flight.
        quiet = wait_until(lambda: all_acked(s), 5.0)
        entry = synced(s)
        e = entry[0] if entry else {}
        sec.check(f"{s.label} sync to node {s.other.node_id}: up {e.get('up')}, seq "
                  f"{e.get('tx_seq')}, acked {e.get('acked_seq')}, lag {e.get('lag_ms')} ms, "
                  f"bulk out {e.get('bulk', {}).get('out_state')}",
                  bool(quiet) and e.get("up") is True and e.get("tx_seq", 0) > 0 and
                  e.get("acked_seq") == e.get("tx_seq") and
                  e.get("bulk", {}).get("out_state") in ("sent", "idle"))

    # --- sessions ------------------------------------------------------------------------
    table = {}
    for s in lab.slots:
        r = show(s, f"show session all dport {RR_PORT}")
        ss = [x for x in r.get("sessions", []) if x.get("sport") in sports]
        table[s.letter] = {x["sport"]: x for x in ss}
        sec.check(f"{s.label} show session all dport {RR_PORT}: {len(ss)} of the test's "
                  f"{len(sports)} connections (total {r.get('total')}), all {CLIENT_IP} -> "
                  f"{SERVER_IP} tcp",
                  len(ss) == len(sports) == args.conns and r.get("total") == args.conns and
                  all(x.get("src") == CLIENT_IP and x.get("dst") == SERVER_IP and
                      x.get("proto") == "tcp" and x.get("state") == "established" for x in ss))

    def expected_owner(sport):
        if args.owner == "primary":
            return primary
        syn = paths.get(sport, "?>?").split(">")[0].lower()
        return NODE_ID.get(syn)

    right = same = replica_ok = 0
    for sport in sports:
        xa, xb = table["a"].get(sport, {}), table["b"].get(sport, {})
        right += xa.get("owner") == expected_owner(sport) and expected_owner(sport) is not None
        same += (xa.get("owner"), xa.get("backup_owner"), xa.get("director")) == \
            (xb.get("owner"), xb.get("backup_owner"), xb.get("director")) and \
            xa.get("director") in (1, 2)
        replica_ok += (xa.get("replica") == (xa.get("owner") != 1) and
                       xb.get("replica") == (xb.get("owner") != 2))
    n = len(sports)
    sec.check(f"owner as the test expects ({'the primary' if args.owner == 'primary' else 'the node the SYN crossed'}): {right}/{n}", right == n)
    sec.check(f"same owner, backup owner and director (1 or 2) on both nodes: {same}/{n}",
              same == n)
    directors = {x.get("director") for x in table["a"].values()}
    sec.check(f"both nodes direct some of the flows (directors seen: {sorted(directors)})",
              directors == {1, 2})
    sec.check(f"replica flag set exactly where the node is not the owner: {replica_ok}/{n}",
              replica_ok == n)
    for s in lab.slots:
        by_owner = {}
        for x in table[s.letter].values():
            by_owner[x["owner"]] = by_owner.get(x["owner"], 0) + 1
        got = {o: show(s, f"show session all dport {RR_PORT} owner {o}").get("total")
               for o in (1, 2)}
        sec.check(f"{s.label} `show session all dport {RR_PORT} owner N` totals {got} == "
                  f"owners in the full list {by_owner}",
                  all(got[o] == by_owner.get(o, 0) for o in (1, 2)))

    # what each node's table holds, as `show cluster members` counts it
    for s in lab.slots:
        mine = {m.get("id"): m for m in show(s, "show cluster members").get("members", [])}
        own = show(s, f"show session all owner {s.node_id}").get("total")
        other = show(s, f"show session all owner {s.other.node_id}").get("total")
        me, peer = mine.get(s.node_id, {}), mine.get(s.other.node_id, {})
        sec.check(f"{s.label} cluster members: owned {me.get('owned')} == {own} sessions it "
                  f"owns, backups {me.get('backups')} and node {s.other.node_id}'s backed up "
                  f"here {peer.get('backed_up_here')} == {other} copies of the peer's",
                  own is not None and other is not None and me.get("owned") == own and
                  me.get("backups") == other and peer.get("backed_up_here") == other and
                  own + other > 0)

    # one connection looked up three ways on each node
    sport = min(sports)
    for s in lab.slots:
        x = table[s.letter].get(sport, {})
        by_id = show(s, f"show session id {x.get('id')}").get("sessions", [])
        fwd = show(s, f"show session flow {CLIENT_IP} {sport} {SERVER_IP} {RR_PORT} tcp")
        rev = show(s, f"show session flow {SERVER_IP} {RR_PORT} {CLIENT_IP} {sport} tcp")
        ids = [r[0].get("id") if r else None
               for r in (by_id, fwd.get("sessions", []), rev.get("sessions", []))]
        sec.check(f"{s.label} session of client port {sport}: id {x.get('id')}; by id, by flow "
                  f"and by reversed flow: {ids}, owner {by_id[0].get('owner') if by_id else None}",
                  ids == [x.get("id")] * 3 and by_id[0].get("sport") == sport and
                  by_id[0].get("owner") == x.get("owner"))

    # --- counters ------------------------------------------------------------------------
    for s in lab.slots:
        ha = show(s, "show counters ha")
        pl = show(s, "show counters peer-link all")
        h, p = ha.get("ha", {}), pl.get("peer_link", {})
        bad = {k: v for k, v in p.items() if k != "ok" and v}
        owns = sum(1 for x in table[s.letter].values() if x.get("owner") == s.node_id)
        # Only non-zero counters are shown; a node that owns nothing sends no records.
        sec.check(f"{s.label} `show counters ha`: only the ha group ({sorted(ha)}), records "
                  f"sent {h.get('records_tx', 0)} (owns {owns} of the sessions), heartbeats sent "
                  f"{h.get('heartbeat_tx')}, peers up {h.get('peer_up')}",
                  sorted(ha) == ["ha"] and (h.get("records_tx", 0) > 0) == (owns > 0) and
                  h.get("heartbeat_tx", 0) > 0 and h.get("peer_up", 0) >= 1)
        sec.check(f"{s.label} `show counters peer-link all`: only that group ({sorted(pl)}), "
                  f"{len(p)} results named, ok {p.get('ok')}, bad {bad}",
                  sorted(pl) == ["peer_link"] and p.get("ok", 0) > 0 and not bad and
                  "bad_version" in p)

    # --- the same state as Prometheus metrics ---------------------------------------------
    for s in lab.slots:
        r, m, _, bad = scrape(s.node_ns)
        st = states[s.letter]
        peer_state = (st.get("peers") or [{}])[0].get("state")
        sec.check(f"{s.label} GET /metrics: {r['status']}, {len(m)} samples, unparsed {bad[:2]}",
                  r["status"] == 200 and len(m) > 100 and not bad)
        peer_labels = f'peer="{s.other.node_id}",name="fw{s.other.letter}"'
        sec.check(f"{s.label} metrics: node state {st['local']['state']} and peer state "
                  f"{peer_state} are the 1-valued gauges, primary "
                  f"{m.get('tandem_node_primary')}",
                  m.get(f'tandem_node_state{{state="{st["local"]["state"]}"}}') == 1 and
                  sum(v for k, v in m.items() if k.startswith("tandem_node_state{")) == 1 and
                  m.get(f'tandem_peer_state{{{peer_labels},state="{peer_state}"}}') == 1 and
                  m.get(f"tandem_peer_alive{{{peer_labels}}}") == 1 and
                  m.get("tandem_node_primary") == (1 if primary == s.node_id else 0))
        auth = 1 if lab.opts.curve else 0
        ctl = m.get('tandem_ha_authenticated{link="control"}')
        plk = m.get('tandem_ha_authenticated{link="peer"}')
        sec.check(f"{s.label} metrics: tandem_ha_authenticated control {ctl}, peer {plk} == "
                  f"{auth}", ctl == auth and plk == auth)
        by_owner = {o: show(s, f"show session all owner {o}").get("total") for o in (1, 2)}
        got = {o: m.get(f'tandem_sessions{{owner="{o}"}}') for o in (1, 2)}
        sec.check(f"{s.label} tandem_sessions by owner {got} == `show session all owner N` "
                  f"{by_owner}", all(got[o] == by_owner[o] for o in (1, 2)))
        e = (synced(s) or [{}])[0]
        peer = f'{{peer="{s.other.node_id}"}}'
        sec.check(f"{s.label} replication metrics: sync up, tx seq "
                  f"{m.get('tandem_ha_sync_tx_sequence' + peer)} / acked "
                  f"{m.get('tandem_ha_sync_acked_sequence' + peer)} match state-synchronization "
                  f"({e.get('tx_seq')} / {e.get('acked_seq')})",
                  m.get("tandem_ha_sync_up" + peer) == 1 and
                  m.get("tandem_ha_sync_tx_sequence" + peer) == e.get("tx_seq") and
                  m.get("tandem_ha_sync_acked_sequence" + peer) == e.get("acked_seq"))
    stop_rr(lab)


if __name__ == "__main__":
    sys.exit(pair_main("Pair: show commands as JSON against real state", body,
                       configure=configure, variants=[{"metrics": True}]))
