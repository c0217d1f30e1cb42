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
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics_client import scrape  # noqa: E402
from pair import (CLIENT_IP, LINUX_KINDS, NODE_ID, RR_PORT, SERVER_IP, add_longlived_args, hold,  # noqa: E402
                  pair_main, start_longlived, stop_rr)
from labkit.ha import ACTIVE_STATES, wait_until  # noqa: E402


def configure(ap):
    add_longlived_args(ap)
    ap.set_defaults(conns=40)


@dataclass
class ShowRun:
    """What the steps share: the lab, the section, the connections the test
    started (client ports, the path each SYN took) and what earlier steps read."""
    lab: object
    args: object
    sec: object
    sports: set
    paths: dict
    states: dict = field(default_factory=dict)
    primary: int | None = None
    table: dict = field(default_factory=dict)

    def show(self, s, command):
        """`command`'s JSON result on slot s; {} (and a failed check) if it gave none."""
        ok, r = self.lab.request(s, command)
        if not ok or not isinstance(r, dict):
            self.sec.check(f"{s.label}: `{command}` answered ({str(r)[:200]})", False)
            return {}
        return r

    def synced(self, s):
        """Slot s's state-synchronization entries for its peer."""
        sync = self.show(s, "show high-availability state-synchronization").get("sync", [])
        return [x for x in sync if x.get("peer") == s.other.node_id]

    def all_acked(self, s):
        e = self.synced(s)
        return bool(e) and e[0].get("acked_seq") == e[0].get("tx_seq")

    def expected_owner(self, sport):
        """The owner the test expects: the primary, or the node the SYN crossed."""
        if self.args.owner == "primary":
            return self.primary
        syn = self.paths.get(sport, "?>?").split(">")[0].lower()
        return NODE_ID.get(syn)


def check_ha_state(run, s):
    """Slot s's `show high-availability state` and `show cluster members`: own
    identity and state, the peer as it reports itself, timers, security, ready."""
    lab, sec = run.lab, run.sec
    st, other = run.states[s.letter], run.states[s.other.letter]
    local = st.get("local", {})
    peers = st.get("peers", [])
    peer = peers[0] if peers else {}
    if local.get("primary"):
        run.primary = local.get("id")
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
              st.get("session_owner") == run.args.owner and
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
    members = run.show(s, "show cluster members").get("members", [])
    mine = {m.get("id"): m for m in members}
    sec.check(f"{s.label} cluster members: ids {sorted(mine)}, self {s.node_id}",
              sorted(mine) == [1, 2] and mine[s.node_id].get("self") is True and
              not mine[s.other.node_id].get("self") and
              mine[s.other.node_id].get("state") == peer.get("state") and
              mine[s.node_id].get("state") == local.get("state"))


def check_ha_states(run):
    """Both nodes' HA state and members; exactly one primary."""
    lab = run.lab
    run.states = {s.letter: run.show(s, "show high-availability state") for s in lab.slots}
    for s in lab.slots:
        check_ha_state(run, s)
    run.sec.check(f"exactly one primary ({run.primary})", run.primary in (1, 2) and sum(
        1 for s in lab.slots if run.states[s.letter].get("local", {}).get("primary")) == 1)


def check_replication(run):
    """Each node's sync to its peer: up, everything sent acknowledged, bulk sync done."""
    for s in run.lab.slots:
        # Requests keep flowing but sessions change state rarely: wait for a
        # moment with nothing in flight.
        quiet = wait_until(lambda: run.all_acked(s), 5.0)
        entry = run.synced(s)
        e = entry[0] if entry else {}
        run.sec.check(f"{s.label} sync to node {s.other.node_id}: up {e.get('up')}, seq "
                      f"{e.get('tx_seq')}, acked {e.get('acked_seq')}, lag {e.get('lag_ms')} "
                      f"ms, bulk out {e.get('bulk', {}).get('out_state')}",
                      bool(quiet) and e.get("up") is True and e.get("tx_seq", 0) > 0 and
                      e.get("acked_seq") == e.get("tx_seq") and
                      e.get("bulk", {}).get("out_state") in ("sent", "idle"))


def read_session_tables(run):
    """`show session all dport RR_PORT` on each node: exactly the test's
    connections, client -> server, established; kept in run.table by client port."""
    args, sports = run.args, run.sports
    for s in run.lab.slots:
        r = run.show(s, f"show session all dport {RR_PORT}")
        ss = [x for x in r.get("sessions", []) if x.get("sport") in sports]
        run.table[s.letter] = {x["sport"]: x for x in ss}
        run.sec.check(f"{s.label} show session all dport {RR_PORT}: {len(ss)} of the test's "
                      f"{len(sports)} connections (total {r.get('total')}), all {CLIENT_IP} -> "
                      f"{SERVER_IP} tcp",
                      len(ss) == len(sports) == args.conns and r.get("total") == args.conns and
                      all(x.get("src") == CLIENT_IP and x.get("dst") == SERVER_IP and
                          x.get("proto") == "tcp" and x.get("state") == "established"
                          for x in ss))


def check_session_roles(run):
    """Owner as expected, the same roles on both nodes, both directing, replica flags."""
    sec, table = run.sec, run.table
    right = same = replica_ok = 0
    for sport in run.sports:
        xa, xb = table["a"].get(sport, {}), table["b"].get(sport, {})
        expected = run.expected_owner(sport)
        right += xa.get("owner") == expected and expected is not None
        same += (xa.get("owner"), xa.get("backup_owner"), xa.get("director")) == \
            (xb.get("owner"), xb.get("backup_owner"), xb.get("director")) and \
            xa.get("director") in (1, 2)
        replica_ok += (xa.get("replica") == (xa.get("owner") != 1) and
                       xb.get("replica") == (xb.get("owner") != 2))
    n = len(run.sports)
    sec.check(f"owner as the test expects ({'the primary' if run.args.owner == 'primary' else 'the node the SYN crossed'}): {right}/{n}", right == n)
    sec.check(f"same owner, backup owner and director (1 or 2) on both nodes: {same}/{n}",
              same == n)
    directors = {x.get("director") for x in table["a"].values()}
    sec.check(f"both nodes direct some of the flows (directors seen: {sorted(directors)})",
              directors == {1, 2})
    sec.check(f"replica flag set exactly where the node is not the owner: {replica_ok}/{n}",
              replica_ok == n)


def check_owner_filter(run):
    """`show session all dport RR_PORT owner N` returns that owner's share."""
    for s in run.lab.slots:
        by_owner = {}
        for x in run.table[s.letter].values():
            by_owner[x["owner"]] = by_owner.get(x["owner"], 0) + 1
        got = {o: run.show(s, f"show session all dport {RR_PORT} owner {o}").get("total")
               for o in (1, 2)}
        run.sec.check(f"{s.label} `show session all dport {RR_PORT} owner N` totals {got} == "
                      f"owners in the full list {by_owner}",
                      all(got[o] == by_owner.get(o, 0) for o in (1, 2)))


def check_member_counts(run):
    """What each node's table holds, as `show cluster members` counts it."""
    for s in run.lab.slots:
        mine = {m.get("id"): m for m in run.show(s, "show cluster members").get("members", [])}
        own = run.show(s, f"show session all owner {s.node_id}").get("total")
        other = run.show(s, f"show session all owner {s.other.node_id}").get("total")
        me, peer = mine.get(s.node_id, {}), mine.get(s.other.node_id, {})
        run.sec.check(f"{s.label} cluster members: owned {me.get('owned')} == {own} sessions it "
                      f"owns, backups {me.get('backups')} and node {s.other.node_id}'s backed "
                      f"up here {peer.get('backed_up_here')} == {other} copies of the peer's",
                      own is not None and other is not None and me.get("owned") == own and
                      me.get("backups") == other and peer.get("backed_up_here") == other and
                      own + other > 0)


def check_session_lookup(run):
    """One connection looked up by id, by flow and by reversed flow on each node."""
    sport = min(run.sports)
    for s in run.lab.slots:
        x = run.table[s.letter].get(sport, {})
        by_id = run.show(s, f"show session id {x.get('id')}").get("sessions", [])
        fwd = run.show(s, f"show session flow {CLIENT_IP} {sport} {SERVER_IP} {RR_PORT} tcp")
        rev = run.show(s, f"show session flow {SERVER_IP} {RR_PORT} {CLIENT_IP} {sport} tcp")
        ids = [r[0].get("id") if r else None
               for r in (by_id, fwd.get("sessions", []), rev.get("sessions", []))]
        run.sec.check(f"{s.label} session of client port {sport}: id {x.get('id')}; by id, by "
                      f"flow and by reversed flow: {ids}, owner "
                      f"{by_id[0].get('owner') if by_id else None}",
                      ids == [x.get("id")] * 3 and by_id[0].get("sport") == sport and
                      by_id[0].get("owner") == x.get("owner"))


def check_counters(run):
    """`show counters ha` and `show counters peer-link all`: only their group,
    records and heartbeats sent, peer-link frames accepted, none bad."""
    sec = run.sec
    for s in run.lab.slots:
        ha = run.show(s, "show counters ha")
        pl = run.show(s, "show counters peer-link all")
        h, p = ha.get("ha", {}), pl.get("peer_link", {})
        bad = {k: v for k, v in p.items() if k != "ok" and v}
        owns = sum(1 for x in run.table[s.letter].values() if x.get("owner") == s.node_id)
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


def check_metrics(run, s):
    """Slot s's /metrics: states, authentication, sessions by owner and
    replication sequences as the show commands give them."""
    lab, sec = run.lab, run.sec
    r, m, _, bad = scrape(s.node_ns)
    st = run.states[s.letter]
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
              m.get("tandem_node_primary") == (1 if run.primary == s.node_id else 0))
    auth = 1 if lab.opts.curve else 0
    ctl = m.get('tandem_ha_authenticated{link="control"}')
    plk = m.get('tandem_ha_authenticated{link="peer"}')
    sec.check(f"{s.label} metrics: tandem_ha_authenticated control {ctl}, peer {plk} == "
              f"{auth}", ctl == auth and plk == auth)
    by_owner = {o: run.show(s, f"show session all owner {o}").get("total") for o in (1, 2)}
    got = {o: m.get(f'tandem_sessions{{owner="{o}"}}') for o in (1, 2)}
    sec.check(f"{s.label} tandem_sessions by owner {got} == `show session all owner N` "
              f"{by_owner}", all(got[o] == by_owner[o] for o in (1, 2)))
    e = (run.synced(s) or [{}])[0]
    peer = f'{{peer="{s.other.node_id}"}}'
    sec.check(f"{s.label} replication metrics: sync up, tx seq "
              f"{m.get('tandem_ha_sync_tx_sequence' + peer)} / acked "
              f"{m.get('tandem_ha_sync_acked_sequence' + peer)} match state-synchronization "
              f"({e.get('tx_seq')} / {e.get('acked_seq')})",
              m.get("tandem_ha_sync_up" + peer) == 1 and
              m.get("tandem_ha_sync_tx_sequence" + peer) == e.get("tx_seq") and
              m.get("tandem_ha_sync_acked_sequence" + peer) == e.get("acked_seq"))


def body(lab, args, report, deadline, variant=None):
    sec = report.section(f"show --json on both nodes, {args.conns} long-lived connections "
                         f"(owner {args.owner})")
    if lab.opts.node != "tandemd":
        sec.check("the show commands need tandemd", None, optional_for=LINUX_KINDS)
        return
    lab.set_routes(args.spread)
    ready = start_longlived(lab, args, sec, bulk=False)
    hold(lab, args.steady)
    run = ShowRun(lab, args, sec, sports=set(ready.get("sports", [])),
                  paths=ready.get("paths") or {})
    check_ha_states(run)
    check_replication(run)
    read_session_tables(run)
    check_session_roles(run)
    check_owner_filter(run)
    check_member_counts(run)
    check_session_lookup(run)
    check_counters(run)
    for s in lab.slots:
        check_metrics(run, s)
    stop_rr(lab)


if __name__ == "__main__":
    sys.exit(pair_main("Pair: show commands as JSON against real state", body,
                       configure=configure, variants=[{"metrics": True}]))
