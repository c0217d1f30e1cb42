#!/usr/bin/python3
"""Pair scenario 7: an unauthenticated peer and garbage on both HA paths.

Under 200 long-lived connections + a bulk stream (ECMP), from the other
node's namespace, aimed at one node (default nodeA):

- its HA listen port (tcp://10.9.0.1:7400): TCP connections carrying random
  bytes and bogus ZMTP greetings; ZeroMQ DEALER and PUSH sockets with a
  freshly generated CURVE key pair the node does not know (claiming to be
  the real peer, node 2, and an unknown node 9) and without any security,
  each sending HELLO / HEARTBEAT envelopes;
- its peer link: frames with the peer-link EtherType 0x88B5 that are
  truncated, of a wrong version / type / cluster, from an unknown node, for
  another node, with a wrong length, and random; the well-formed ones carry a
  TCP SYN to the server from a spoofed client address. With --peer-link udp:
  IPv4/UDP datagrams to the node's peer-link-listen address from an address
  that is no peer's, of another cluster, from an unknown node, for another
  node, of a wrong version / length, truncated, to another UDP port, with a
  wrong IPv4 or UDP checksum, a fragment, and random; the same SYN inside;
  and ARP naming the attacker's peer-link address with another MAC that
  answers no request of the target's (a reply, a request for a third
  address): not learned (`arp_unsolicited`).
  With CURVE keys (the peer link authenticated): well-formed forged frames
  too (forwarded frames claiming either data port, egress frames to go out of
  either data port as they are with a SYN addressed to the router behind
  it, a heartbeat, a forwarded frame with a wrong tag) and a real frame of
  the attacker's node captured and sent again: refused as unauthenticated,
  bad_tag and replayed.

Checks: the long-lived connections are intact (0 broken); the spoofed SYNs
never reach the server (without authentication the forged ones do); the node stays up and paired; no unknown-key
handshake succeeds unless the node counts the messages as rejected, no
handshake without security succeeds, and what was refused is counted (ZAP,
handshake, decode or unknown-peer counters in `show counters` or `show
high-availability state`); each peer-link rejection counter moved by at least
the frames of its kind. Every counter that moved is printed (`show counters`, `show
high-availability state-synchronization`).

    /usr/bin/python3 tests/lab/test_pair_garbage.py --node tandemd [--target a|b] [--peer-link udp]
    /usr/bin/python3 tests/lab/test_pair_garbage.py --node kernel
"""
import os
import sys
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import ControlError, LabError, LabTimeout, link_mac  # noqa: E402
from pair import (HA_IP, HA_PORT, LINUX_KINDS, PEER_LINK_PORT, SERVER_IP, TCP_ECHO,  # noqa: E402
                  add_longlived_args, hold, pair_main, peer_link_ip, report_rr, show_ha,
                  start_longlived, stop_rr)
from labkit.ha import ha_peers  # noqa: E402
from labkit.report import counter_line, delta  # noqa: E402

SPOOFED_SRC = "10.1.0.99"


def configure(ap):
    add_longlived_args(ap)
    ap.add_argument("--target", choices=("a", "b"), default="a")
    ap.add_argument("--frames", type=int, default=10, help="peer-link frames of each kind")
    ap.add_argument("--after", type=float, default=2.0)


def flat(d, prefix=""):
    out = {}
    if isinstance(d, dict):
        for k, v in d.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flat(v, key))
            elif isinstance(v, int) and not isinstance(v, bool):
                out[key] = v
    return out


def sync_counters(lab, s):
    """The integer fields of `show high-availability state` and
    `... state-synchronization` (HA, decode and transport counters), flat."""
    c = lab.control(s)
    if c is None:
        return None
    out = {}
    for cmd, tag in (("show high-availability state", "state"),
                     ("show high-availability state-synchronization", "sync")):
        try:
            out.update(flat(c.request(cmd, timeout=3.0), tag))
        except (ControlError, LabTimeout):
            pass
    return out


def find(d, *names):
    """Sum of the counters whose last name component is one of `names`, in
    any group that looks like the peer link / HA; None if none exists."""
    hits = [v for k, v in d.items() if k.rsplit(".", 1)[-1] in names]
    return sum(hits) if hits else None


@dataclass
class GarbageRun:
    """What the steps share: the lab, the node aimed at and the one whose
    namespace sends, the counters before, and what the tools reported."""
    lab: object
    args: object
    sec: object
    deadline: object
    target: object
    attacker: object
    c0: dict = field(default_factory=dict)      # letter -> `show counters` before
    y0: dict = field(default_factory=dict)      # letter -> sync_counters() before
    ha: dict = field(default_factory=dict)      # ha-garbage's result
    pl: dict = field(default_factory=dict)      # peer-garbage's result
    d: dict = field(default_factory=dict)       # letter -> what moved


def send_ha_garbage(g: GarbageRun) -> dict:
    """Raw TCP garbage and ZeroMQ peers with an unknown key or none, to the target's HA port."""
    lab, target, attacker = g.lab, g.target, g.attacker
    return lab.tool(attacker.letter, [
        "ha-garbage", "--dst", HA_IP[target.letter], "--port", str(HA_PORT),
        # One argument, as a Z85 key may start with '-' (argparse would
        # take "--server-key -x..." for two options).
        f"--server-key={target.public_key}", "--cluster-id", str(lab.opts.cluster_id),
        "--to-node", str(target.node_id), "--as-node", str(attacker.node_id)],
        timeout=g.deadline.cap(60))


def send_peer_garbage(g: GarbageRun) -> dict:
    """Malformed, foreign and (with CURVE keys) forged and replayed frames on the peer link."""
    lab, target, attacker, deadline = g.lab, g.target, g.attacker, g.deadline
    # With CURVE keys the peer link is authenticated: well-formed forged
    # frames (an egress frame with a SYN for the router behind each data
    # port, forwarded frames, a heartbeat, a wrong tag) and a replay of
    # a real frame must each be refused for their reason.
    auth = []
    if lab.opts.node == "tandemd" and lab.opts.curve:
        got = lab.tool(target.letter, [
            "peer-frame", "--iface", target.peer_if, "--from-node", str(attacker.node_id)] +
            (["--udp-src", peer_link_ip(lab.opts, attacker.letter), "--udp-port",
              str(PEER_LINK_PORT)] if lab.opts.peer_link == "udp" else []),
            timeout=deadline.cap(20))
        auth = ["--auth", "--replay", got["frame"]]
    udp = (["--udp-dst", f"{peer_link_ip(lab.opts, target.letter)}:{PEER_LINK_PORT}",
            "--udp-src", peer_link_ip(lab.opts, attacker.letter)]
           if lab.opts.node == "tandemd" and lab.opts.peer_link == "udp" else [])
    return lab.tool(attacker.letter, [
        "peer-garbage", "--iface", attacker.peer_if, "--src-mac", attacker.peer_mac,
        "--dst-mac", target.peer_mac, "--cluster-id", str(lab.opts.cluster_id),
        "--from-node", str(attacker.node_id), "--to-node", str(target.node_id),
        "--inner-src", SPOOFED_SRC, "--inner-dst", SERVER_IP,
        "--inner-dport", str(TCP_ECHO), "--count", str(g.args.frames),
        "--egress-mac", link_mac(lab.srt, lab.srt_if[target.letter])] + udp + auth,
        timeout=deadline.cap(60))


def send_garbage(g: GarbageRun) -> None:
    """Sends the garbage while the server's side is captured; shows what was
    sent; checks that no spoofed SYN reached the server."""
    lab, sec = g.lab, g.sec
    lab.start_service("spoof-capture", "server",
                      ["capture", "--iface", lab.server_if, "--src", SPOOFED_SRC,
                       "--seconds", "60"])
    try:
        g.ha = ha = send_ha_garbage(g)
        g.pl = pl = send_peer_garbage(g)
        hold(lab, 1.0)
    finally:
        cap = lab.stop_service("spoof-capture")
    t = ha["tcp_garbage"]
    sec.line(f"HA port, raw TCP garbage: connections {t['connections']}, refused {t['refused']}, "
             f"bytes sent {t['bytes_sent']}, closed by the node {t['closed_by_peer']}, left "
             f"open {t['still_open']} {t['errors'] or ''}".rstrip())
    for p in ha["zmq"]:
        sec.line(f"HA port, ZeroMQ {p['socket']} {'CURVE, unknown key' if p['curve'] else 'no security'}"
                 f": {p['messages_queued']} messages queued, handshake "
                 f"{'SUCCEEDED' if p['handshake_succeeded'] else 'not completed'}"
                 f"{' (' + ', '.join(p['handshake_failed']) + ')' if p['handshake_failed'] else ''}"
                 f", replies {p['replies']}; events {p['events'][:6]}")
    sec.line(f"peer link: {pl['total']} frames sent: " +
             ", ".join(f"{k} {v}" for k, v in pl["sent"].items()))
    sec.check(f"the spoofed SYNs inside peer-link frames never reached the server "
              f"({cap.get('matched')} seen)", cap.get("matched") == 0)


def read_deltas(g: GarbageRun) -> None:
    """What moved on each node: `show counters` and the HA state's counters."""
    lab, sec, d = g.lab, g.sec, g.d
    for s in lab.slots:
        d[s.letter] = delta(lab.counters(s), g.c0[s.letter])
        y = delta(sync_counters(lab, s), g.y0[s.letter])
        sec.line(f"{s.label} `show counters` moved: {counter_line(d[s.letter], limit=60)}")
        y = {k: v for k, v in y.items() if "last_heard" not in k and "ago_ms" not in k
             and "lag_ms" not in k and "per_s" not in k}
        if y:
            sec.line(f"{s.label} `show high-availability state` / `state-synchronization` "
                     f"moved: {counter_line(y, limit=60)}")
        d[s.letter].update({f"sync.{k}": v for k, v in y.items()})


def check_peer_link_counted(g: GarbageRun) -> None:
    """Each peer-link rejection counter moved by at least the frames of its kind."""
    target, dt = g.target, g.d[g.target.letter]
    tandemd = g.lab.opts.node == "tandemd"
    for kind, sent in g.pl["sent"].items():
        counter = g.pl["expected_counter"].get(kind)
        if counter is None:
            continue
        got = find(dt, counter) if tandemd and g.c0[target.letter] is not None else None
        g.sec.check(f"{target.label} counted peer-link '{kind}' frames: {counter} "
                    f"+{got if got is not None else 'n/a'} >= {sent}",
                    (got >= sent) if got is not None else None, optional_for=LINUX_KINDS)


def check_ha_refused(g: GarbageRun) -> None:
    """No handshake with an unknown key or without security succeeded, and
    the target counted what it refused."""
    lab, sec, dt = g.lab, g.sec, g.d[g.target.letter]
    tandemd = lab.opts.node == "tandemd"
    rejected = find(dt, "unknown_peer", "auth_id_mismatch", "identity_mismatch",
                    "decode_rejected", "zap_rejected_unknown_key", "zap_rejected_bad_request",
                    "handshakes_failed_auth", "handshakes_failed", "rx_bad_frames",
                    "rx_bad_routing_id", "auth_failed") if tandemd else None
    curve = [p for p in g.ha["zmq"] if p["curve"]]
    null = [p for p in g.ha["zmq"] if not p["curve"]]
    if lab.opts.curve and tandemd:
        # The key is unknown: the node's ZAP handler must refuse each
        # handshake (its own counter, not any rejection counter).
        zap = find(dt, "zap_rejected_unknown_key")
        sec.check(f"unknown CURVE key: every handshake refused by the node's key check "
                  f"(handshakes completed {sum(p['handshake_succeeded'] for p in curve)} of "
                  f"{len(curve)}, zap_rejected_unknown_key +{zap})",
                  bool(curve) and not any(p["handshake_succeeded"] for p in curve) and
                  zap is not None and zap >= len(curve))
        sec.check(f"no security at all: handshake refused "
                  f"({sum(p['handshake_succeeded'] for p in null)} of {len(null)} completed)",
                  not any(p["handshake_succeeded"] for p in null))
        sec.check(f"{g.target.label} counted what it refused (ZAP / handshake / decode / "
                  f"unknown-peer counters +{rejected or 0})", bool(rejected))
    else:
        sec.check("unknown CURVE key refused", None, optional_for=LINUX_KINDS)


def check_still_paired(g: GarbageRun) -> None:
    """The nodes survived, are still paired, and neither declared the other dead."""
    lab, sec, target, attacker, d = g.lab, g.sec, g.target, g.attacker, g.d
    dt = d[target.letter]
    for s in lab.slots:
        s.node.check_alive()
    states = lab.wait_ha_ready(g.deadline, timeout=10.0)
    peers_alive = all(ha_peers(st) and all(p.get("alive") is True for p in ha_peers(st))
                      for st in states.values())
    sec.check(f"{target.label} is up and still paired with {attacker.label}",
              peers_alive if lab.ha_supported else None, optional_for=LINUX_KINDS)
    show_ha(lab, sec, "after the garbage")
    if lab.opts.node == "tandemd":  # tandemd must report the counter
        reported = all("ha.peer_down" in (g.c0[s.letter] or {}) for s in lab.slots)
        sec.check(f"no peer declared dead (ha.peer_down +{dt.get('ha.peer_down', 0)} on "
                  f"{target.label}, +{d[attacker.letter].get('ha.peer_down', 0)} on "
                  f"{attacker.label}){'' if reported else ' (counter not reported)'}",
                  reported and dt.get("ha.peer_down", 0) == 0 and
                  d[attacker.letter].get("ha.peer_down", 0) == 0)


def body(lab, args, report, deadline, variant=None):
    target = lab.slot(args.target)
    attacker = target.other
    if lab.opts.peer_link_routed:
        raise LabError("the peer-link garbage is sent on the peer veth to the target's MAC: "
                       "not with --peer-link-gateway")
    sec = report.section(f"unauthenticated peer and garbage aimed at {target.label} from "
                         f"{attacker.label}'s namespace (owner {args.owner}, peer link "
                         f"{lab.opts.peer_link})")
    lab.set_routes(args.spread)
    start_longlived(lab, args, sec, window=args.after + 5)
    hold(lab, args.steady)
    g = GarbageRun(lab, args, sec, deadline, target, attacker)
    g.c0 = {s.letter: lab.counters(s) for s in lab.slots}
    g.y0 = {s.letter: sync_counters(lab, s) for s in lab.slots}
    lab.mark("garbage", window=args.after + 5)
    send_garbage(g)
    read_deltas(g)
    check_peer_link_counted(g)
    check_ha_refused(g)
    check_still_paired(g)
    hold(lab, args.after)
    r = stop_rr(lab)
    report_rr(sec, r, marks=("garbage",), target_ms=args.target_ms)
    sec.data = {"ha_garbage": g.ha, "peer_garbage": g.pl, "deltas": g.d, "rr": r}


if __name__ == "__main__":
    sys.exit(pair_main("Pair: unauthenticated HA peer and garbage on the peer link", body,
                       configure=configure))
