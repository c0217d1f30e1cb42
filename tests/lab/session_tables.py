"""Sessions as the nodes' tables show them, session by session: what the
pair and cluster scenarios compare before and after an event (which
sessions exist, which node owns each, whether the tables agree), by
identity rather than by count.

A table is {(src, sport, dst, dport, proto, nat_src, nat_sport): (owner id,
backup owner id)}, the live sessions to one server port in one node's `show
session all`; nat_src and nat_sport are a source-translated session's
translation (None for the others), so a session whose translation changed
across an event counts as gone, and another one as new.
An ownership view is {node id: table, or None when that node could not
show it} over the live tandemd nodes; empty for the Linux node kinds, which
have no session table.
"""
from __future__ import annotations

import time

from lab import ControlError, LabTimeout

# session states of a connection that is up (src/session/tcp_tracker.cpp)
LIVE_STATES = ("established", "syn-sent", "syn-recv", "open", "replied")
# `show session all` requests per table before it counts as not shown: a
# request can time out on a loaded machine; a node that cannot answer three
# in a row fails the check that needed the table.
TABLE_TRIES = 3


def _node_id(v) -> int | None:
    return int(v) if str(v).isdigit() else None


def table_sessions(lab, s, port: int, tries: int = TABLE_TRIES) -> dict | None:
    """The live sessions to server port `port` in node s's table (asked with
    the daemon's own filter, again after a failed request, up to `tries`
    times): {(src, sport, dst, dport, proto, nat_src, nat_sport): (owner, backup
    owner)}; None
    when the node is not tandemd, could not answer, or cut the list."""
    c = lab.control(s)
    if c is None:
        return None
    r = None
    for i in range(tries):
        try:
            r = c.request("show session all", timeout=5.0, dport=port)
            break
        except (ControlError, LabTimeout) as e:
            lab.log(f"{s.label}: `show session all dport {port}` failed ({e}), try {i + 1} of "
                    f"{tries}")
            time.sleep(0.2)
    if r is None:
        return None
    sessions = r.get("sessions")
    if not isinstance(sessions, list) or r.get("truncated") or \
            r.get("total", len(sessions)) > len(sessions):
        return None
    out = {}
    for x in sessions:
        # An ICMP echo's "ports" are its identifier (a pinging process's
        # pid): a ping through the node must not count as a session to
        # `port`.
        if x.get("dport") != port or str(x.get("proto")).startswith("icmp") or \
                str(x.get("state", "established")) not in LIVE_STATES:
            continue
        key = (x.get("src"), x.get("sport"), x.get("dst"), x.get("dport"), x.get("proto"),
               x.get("nat_src"), x.get("nat_sport"))
        out[key] = (_node_id(x.get("owner")), _node_id(x.get("backup_owner")))
    return out


def ownership(lab, port: int) -> dict:
    """Every live node's table of sessions to `port`: {node id: table or
    None}; {} for the Linux node kinds. A cluster may replicate a session
    to every node or to its owner and backup owner only: the helpers below
    read the tables together, session by session."""
    if lab.opts.node != "tandemd":
        return {}
    return {s.node_id: table_sessions(lab, s, port) for s in lab.slots
            if not s.dead and s.node is not None}


def readable(own: dict) -> bool:
    """Every live node showed its table (and there is at least one)."""
    return bool(own) and all(t is not None for t in own.values())


def merged(own: dict) -> dict | None:
    """{session: owner}: the owner a session's own owner's table records
    (it owns it), else what the first table holding it says. None when no
    table could be read."""
    tables = {int(k): t for k, t in own.items() if t is not None}
    if not tables:
        return None
    out = {}
    for n, t in sorted(tables.items()):
        for key, (owner, _backup) in t.items():
            if key not in out:
                out[key] = owner
    for key in out:
        for n, t in tables.items():
            if key in t and t[key][0] == n:
                out[key] = n
    return out


def owners(own: dict) -> dict[int, int] | None:
    """{owner id: sessions} over the whole cluster (merged())."""
    m = merged(own)
    if m is None:
        return None
    out: dict[int, int] = {}
    for owner in m.values():
        out[owner] = out.get(owner, 0) + 1
    return out


def sessions_of(own: dict) -> set | None:
    """Every session some live table holds; None unless every live node
    showed its table."""
    if not readable(own):
        return None
    return {key for t in own.values() for key in t}


def owned_by_node(own: dict, node_id: int) -> set | None:
    """The sessions every table holding them says `node_id` owns; None
    unless every live node showed its table."""
    if not readable(own):
        return None
    out = set()
    for key in sessions_of(own):
        named = {t[key][0] for t in own.values() if key in t}
        if named == {node_id}:
            out.add(key)
    return out


def named_owner(own: dict, node_id: int) -> set | None:
    """The sessions any table names `node_id` the owner of (a node that
    handed its sessions over must be named by none); None unless every live
    node showed its table."""
    if not readable(own):
        return None
    return {key for t in own.values() for key, (o, _b) in t.items() if o == node_id}


def tables_agree(own: dict) -> bool | None:
    """Every table that holds a session names the same owner and backup
    owner, and the owner's own table holds it (when the owner is in
    `own`). None when no table could be read."""
    return None if merged(own) is None else not disagreements(own)


def disagreements(own: dict) -> list[str]:
    tables = {int(k): t for k, t in own.items() if t is not None}
    seen: dict = {}
    for n, t in tables.items():
        for key, rec in t.items():
            seen.setdefault(key, {})[n] = rec
    bad = []
    for key, by_node in seen.items():
        if len(set(by_node.values())) > 1:
            bad.append(f"sport {key[1]}: " + ", ".join(f"node{n} says owner {o} backup {b}"
                                                       for n, (o, b) in sorted(by_node.items())))
            continue
        owner = next(iter(by_node.values()))[0]
        if owner in tables and owner not in by_node:
            bad.append(f"sport {key[1]}: owner node{owner}'s table does not hold it")
    return bad


def describe(keys: set | None, limit: int = 5) -> str:
    """A set of sessions as text: how many, and their client ports when
    there are only a few."""
    if keys is None:
        return "n/a"
    ports = sorted(k[1] for k in keys if isinstance(k[1], int))
    return f"{len(keys)}" + (f" (sport {', '.join(map(str, ports))})"
                             if 0 < len(ports) <= limit else "")


def same_on_every_node(own: dict) -> bool:
    """Every live node showed its table, the tables hold the same sessions,
    and every one names the same owner and backup owner everywhere (a pair:
    every node holds every session)."""
    if not readable(own) or not tables_agree(own):
        return False
    keys = [set(t) for t in own.values()]
    return all(k == keys[0] for k in keys)
