"""The N-node inline cluster lab (3 or 4 tandemd nodes): topology, routes,
HA queries, scenario helpers and a runner. Built on the pair lab (pair.py):
the same routers, endpoints, services, traffic tools, storm, long-lived and
idle connections, reports and checks; what differs is the number of paths
and that the HA control link and the peer link are shared segments.

```
                          +-- [1i] node1 [1o] --+   10.2.1.0/24
 client --- crt [r1] -----+-- [2i] node2 [2o] --+---- [s1] srt --- server
 10.1.0.2   .1  [r2] ...  +-- [3i] node3 [3o] --+     [s2] .2       10.3.0.2
                [rN]      +-- [Ni] nodeN [No] --+     [sN]          (.1 on ss)
                               |[np]  |[nh]           10.2.n.0/24: crt .1, srt .2
                 ns <p>-sw:  bridge bp (peer link, MTU 9000)  bridge bh (HA control)
                               ports P1..PN                  ports H1..HN
   HA control: node n at 10.9.0.n/24, tcp port 7400 (ZeroMQ, CURVE keys)
   peer link raw: EtherType 0x88B5 to the peer's MAC on bridge bp
   peer link udp: 10.8.0.n:4790, addresses only in the configs (tandemd
     answers ARP; an nftables netdev ingress rule drops the peer link's
     frames in the node's kernel after tandemd's af_packet copy)
```

Namespaces `<p>-cli`, `-crt`, `-fw1` .. `-fwN`, `-srt`, `-srv`, `-sw` (the
two bridges); every interface name is the lab prefix plus two or three
characters (above). Each node is a bump in the wire between its `inside`
(crt) and `outside` (srt) port. The routers forward with ECMP
(fib_multipath_hash_policy=1, a different hash seed on each router, the
endpoints keep their sockets' hash: txrehash=0) over the paths the test
names: `lab.set_routes(fwd=[1, 2, 3], rev=[1, 2, 3])`, a list of node ids
each way; a failover removes a node from both lists at the moment of the
kill. The bridges have a static forwarding entry for each node's port, so a
frame to a node's MAC is never flooded to the others.

Node kinds (--node): `tandemd` (the daemon; every node lists every other as
[peer.N]) and `kernel` (a stateless Linux bridge per node: the reference the
scripts are proven with; HA and session checks are n/a).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass

from lab import Deadline, InlineLab, LabError, LabSkip, Namespace, NodeFailed, add_veth, link_mac
from skip_policy import skip_exit  # noqa: E402
from metrics_client import METRICS_CONFIG
from nodes import ha_config, tandemd_config
from outage_probe import (DETECTION_MARGIN_MS, add_probe_args, check_probe, detection_bound_ms,
                          start_probe)
from session_tables import disagreements, owners, ownership, tables_agree
from pair import (BULK_EXTRA_MS, BULK_PORT, CLIENT_GW, CLIENT_IP, CLIENT_NET, DEFAULT_CLI,
                  HA_PORT, IDLE_PORT, PEER_LINK_PORT, RR_PORT, SERVER_GW, SERVER_IP,
                  UDP_ECHO, LINUX_KINDS, NAT_CONFIG, NAT_POOL, SERVER_NET, PairBridgeNode, PairLab, PairOptions,
                  PairTandemdNode, _wait_bridge_forwarding, hold, report_rr, rr_stats,
                  start_idle, start_rr, start_servers)
from labkit.checks import Report, Section
from labkit.ha import ACTIVE_STATES, declared_dead_at, ha_local_state, ha_peers, ha_summary
from labkit.options import (add_ha_args, add_longlived_args as add_traffic_args, add_run_args,
                            add_tandemd_arg, ha_options)
from labkit.report import counter_line, delta
from labkit.runner import LabRun, finish_report, preflight, run_variants
from labkit.topology import (add_bridge, curve_keys, keep_peer_link_from_kernel, no_rp_filter,
                             prepare, real_frames_up, tune_endpoints, tune_routers)

MAX_NODES = 4                    # 2 CPUs: more would only measure the scheduler
NODE_KINDS = ("tandemd", "kernel")


def seg(n: int) -> tuple[str, str]:
    """Addresses on node n's data segment: (crt side, srt side)."""
    return f"10.2.{n}.1", f"10.2.{n}.2"


def ha_ip(n: int) -> str:
    return f"10.9.0.{n}"


def peer_link_ip(n: int) -> str:
    return f"10.8.0.{n}"


@dataclass
class ClusterOptions(PairOptions):
    """PairOptions plus the number of nodes."""
    nodes: int = 3


# --- node slots and the tandemd node ----------------------------------------------------------


class ClusterSlot:
    """One node's place in the topology (what pair.NodeSlot is in the pair);
    node implementations receive it where the single-node lab passes an
    InlineLab. `letter` is the node id as text (the pair helpers key their
    per-node results by it)."""

    def __init__(self, lab: "ClusterLab", n: int) -> None:
        p = lab.prefix
        self.lab = self.pair = lab
        self.node_id = n
        self.letter = str(n)
        self.label = f"node{n}"
        self.node_ns = Namespace(f"{p}-fw{n}")
        self.prefix = f"{p}{n}"                  # bridge names, DPDK file prefix
        self.inside_if = f"{p}{n}i"
        self.outside_if = f"{p}{n}o"
        self.peer_if = f"{p}{n}p"
        self.ha_if = f"{p}{n}h"
        self.crt_if = f"{p}r{n}"                 # crt's interface facing this node
        self.srt_if = f"{p}s{n}"                 # srt's interface facing this node
        self.sw_peer_if = f"{p}P{n}"             # bridge port of the peer link
        self.sw_ha_if = f"{p}H{n}"               # bridge port of the HA link
        self.workdir = ""
        self.node = None
        self.dead = False
        self.peer_mac = self.ha_mac = ""
        self.public_key = self.secret_key = ""

    @property
    def zone_ports(self) -> dict[str, str]:
        return {"outside": self.outside_if, "inside": self.inside_if}

    def log(self, msg: str) -> None:
        self.lab.log(msg)

    @property
    def others(self) -> list["ClusterSlot"]:
        return [s for s in self.lab.slots if s is not self]


class ClusterTandemdNode(PairTandemdNode):
    """tandemd as one member of an N-node cluster: the single-node config
    plus the peer-link port, a [peer.N] per other node and [ha]. Each node's
    worker runs on CPU (id mod 2): the workers of a 4-node cluster share the
    machine's two cores evenly."""

    def config_text(self, slot: ClusterSlot, socket_path: str) -> str:
        o = self.opts
        if self.workers <= 1:
            # main lcore on the other CPU; the worker lcore on CPU id % 2
            self.lcores = "0-1" if slot.node_id % 2 else "0-1 --main-lcore 1"
        extra = ha_config(
            peers=[{"id": p.node_id, "name": f"fw{p.node_id}",
                    "ha_address": f"tcp://{ha_ip(p.node_id)}:{HA_PORT}",
                    "link_address": self.link_address(p),
                    "public_key": p.public_key if o.curve else ""} for p in slot.others],
            listen=f"tcp://{ha_ip(slot.node_id)}:{HA_PORT}", owner=o.owner, revert=o.revert,
            heartbeat_ms=o.heartbeat_ms, hold_ms=o.hold_ms, detect_ms=o.detect_ms,
            peer_link=o.peer_link,
            peer_link_listen=self.link_address(slot) if o.peer_link == "udp" else "",
            secret_key=slot.secret_key if o.curve else "",
            public_key=slot.public_key if o.curve else "")
        return tandemd_config(slot, self.policy, node_id=slot.node_id, workers=self.workers,
                              session_capacity=131072, dpdk_prefix=self.dpdk_prefix,
                              socket_path=socket_path, lcores=self.lcores,
                              extra=extra + (NAT_CONFIG if o.nat else ""),
                              cluster_id=o.cluster_id, node_name=f"fw{slot.node_id}",
                              extra_ports={"peer": slot.peer_if},
                              control_extra=METRICS_CONFIG if o.metrics else "",
                              port_driver=o.port_driver)

    def link_address(self, slot: ClusterSlot) -> str:
        if self.opts.peer_link == "udp":
            return f"{peer_link_ip(slot.node_id)}:{PEER_LINK_PORT}"
        return slot.peer_mac


# --- the lab ----------------------------------------------------------------------------------


class ClusterLab(PairLab):
    """client - crt - {node1 .. nodeN} - srt - server, the nodes' peer links
    and HA links on two bridges. `where` for services and tools: client,
    server, crt, srt, sw, or a node id as text ("1" .. "N")."""

    def __init__(self, opts: ClusterOptions, log=None) -> None:
        if not 2 <= opts.nodes <= MAX_NODES:
            raise LabError(f"--nodes {opts.nodes}: the cluster lab runs 2..{MAX_NODES} nodes")
        if opts.peer_link_routed:
            raise LabError("the cluster lab has no routed peer link (--peer-link-gateway)")
        if set(opts.impair_links) - {"ha"}:
            raise LabError("the cluster lab impairs the HA link only")
        InlineLab.__init__(self, log=log)
        p = self.prefix
        self.opts = opts
        self.client = Namespace(f"{p}-cli")
        self.server = Namespace(f"{p}-srv")
        self.crt = Namespace(f"{p}-crt")
        self.srt = Namespace(f"{p}-srt")
        self.sw = Namespace(f"{p}-sw")
        self.node_ns = None
        self.plr = None
        self._slots = tuple(ClusterSlot(self, n) for n in range(1, opts.nodes + 1))
        self.client_if, self.server_if = p + "c0", p + "s0"
        self.crt_client_if, self.srt_server_if = p + "rc", p + "ss"
        self.br_peer, self.br_ha = p + "bp", p + "bh"
        self.routes = {"fwd": [], "rev": []}
        self.route_mode = ""
        self.marks_path = ""
        self.ha_supported = opts.node == "tandemd"   # PairLab.ha_state
        self.ha_errors = 0
        self._shells = {}
        self.paths_moved_after = 0.0
        self.impaired = None   # link_impairer.ImpairedLinks: the HA ports, off bridge bh

    # --- structure -------------------------------------------------------------------------

    @property
    def slots(self) -> tuple[ClusterSlot, ...]:
        return self._slots

    def slot(self, which) -> ClusterSlot:
        return self._slots[int(which) - 1]

    @property
    def ids(self) -> list[int]:
        return [s.node_id for s in self._slots]

    def live(self) -> list[ClusterSlot]:
        return [s for s in self._slots if not s.dead and s.node is not None]

    def namespaces(self) -> list[Namespace]:
        return [self.client, self.crt, *(s.node_ns for s in self._slots), self.srt,
                self.server, self.sw]

    def namespace(self, where: str) -> Namespace:
        fixed = {"client": self.client, "server": self.server, "crt": self.crt,
                 "srt": self.srt, "sw": self.sw}
        return fixed[where] if where in fixed else self.slot(where).node_ns

    def build(self) -> None:
        prepare(self, self._slots)
        links = [(self.client, self.client_if, self.crt, self.crt_client_if),
                 (self.srt, self.srt_server_if, self.server, self.server_if)]
        for s in self._slots:
            links += [(self.crt, s.crt_if, s.node_ns, s.inside_if),
                      (s.node_ns, s.outside_if, self.srt, s.srt_if),
                      (s.node_ns, s.peer_if, self.sw, s.sw_peer_if),
                      (s.node_ns, s.ha_if, self.sw, s.sw_ha_if)]
        for ns_a, if_a, ns_b, if_b in links:
            add_veth(ns_a, if_a, ns_b, if_b)
        tune_routers(self.crt, self.srt)
        tune_endpoints(self.client, self.server)
        self._addresses()
        self._switch()
        real_frames_up(self._all_ifaces())
        for br in (self.br_peer, self.br_ha):
            self.sw.run(["ip", "link", "set", br, "up"])
        no_rp_filter(self.crt, [self.crt_client_if] + [s.crt_if for s in self._slots])
        no_rp_filter(self.srt, [self.srt_server_if] + [s.srt_if for s in self._slots])
        self.client.run(["ip", "route", "add", "default", "via", CLIENT_GW])
        self.server.run(["ip", "route", "add", "default", "via", SERVER_GW])
        self._static_entries()
        if self.opts.node == "tandemd" and self.opts.curve:
            curve_keys(self._slots)
        self._wait_links_up(5.0)
        for br in (self.br_peer,) + (() if self.opts.impair_links else (self.br_ha,)):
            _wait_bridge_forwarding(self.sw, br, len(self._slots))
        if self.opts.node == "tandemd" and self.opts.peer_link == "udp":
            for s in self._slots:
                keep_peer_link_from_kernel(s.node_ns, s.peer_if)
        self.set_routes(fwd=self.ids, rev=self.ids)
        if self.opts.impair_links:
            from link_impairer import ImpairedLinks
            self.impaired = ImpairedLinks(self, [f"ha:{s.sw_ha_if}" for s in self._slots])
        self.log(f"cluster lab {self.prefix}: {self.client.name} {CLIENT_IP} -- {self.crt.name} "
                 f"-- {{{' | '.join(s.node_ns.name for s in self._slots)}}} -- {self.srt.name} "
                 f"-- {self.server.name} {SERVER_IP}; peer link bridge {self.br_peer} (MTU 9000, "
                 f"{self.opts.peer_link if self.opts.node == 'tandemd' else 'n/a'}), HA bridge "
                 f"{self.br_ha} 10.9.0.1-{len(self._slots)}, in {self.sw.name}")

    def _addresses(self) -> None:
        addrs = [(self.client, self.client_if, f"{CLIENT_IP}/24"),
                 (self.crt, self.crt_client_if, f"{CLIENT_GW}/24"),
                 (self.srt, self.srt_server_if, f"{SERVER_GW}/24"),
                 (self.server, self.server_if, f"{SERVER_IP}/24")]
        for s in self._slots:
            a, b = seg(s.node_id)
            addrs += [(self.crt, s.crt_if, f"{a}/24"), (self.srt, s.srt_if, f"{b}/24"),
                      (s.node_ns, s.ha_if, f"{ha_ip(s.node_id)}/24")]
        for ns, iface, cidr in addrs:
            ns.run(["ip", "addr", "add", cidr, "dev", iface])

    def _switch(self) -> None:
        """The shared segments: one bridge each in the sw namespace, every
        node's peer and HA port on them (the HA ports on the impairing
        relay instead when the HA link is impaired)."""
        add_bridge(self.sw, self.br_peer, mtu="9000")
        add_bridge(self.sw, self.br_ha, mtu="1500")
        for s in self._slots:
            s.node_ns.run(["ip", "link", "set", s.peer_if, "mtu", "9000"])
            self.sw.run(["ip", "link", "set", s.sw_peer_if, "mtu", "9000"])
            self.sw.run(["ip", "link", "set", s.sw_peer_if, "master", self.br_peer])
            if not self.opts.impair_links:
                self.sw.run(["ip", "link", "set", s.sw_ha_if, "master", self.br_ha])

    def _static_entries(self) -> None:
        """Static bridge entries: a frame to a node's MAC goes to that node's
        port only, from the first frame on (never flooded to the others)."""
        for s in self._slots:
            s.peer_mac = link_mac(s.node_ns, s.peer_if)
            s.ha_mac = link_mac(s.node_ns, s.ha_if)
            self.sw.run(["bridge", "fdb", "replace", s.peer_mac, "dev", s.sw_peer_if,
                         "master", "static"])
            if not self.opts.impair_links:
                self.sw.run(["bridge", "fdb", "replace", s.ha_mac, "dev", s.sw_ha_if,
                             "master", "static"])

    def _all_ifaces(self):
        out = [(self.client, self.client_if), (self.server, self.server_if),
               (self.crt, self.crt_client_if), (self.srt, self.srt_server_if)]
        for s in self._slots:
            out += [(self.crt, s.crt_if), (self.srt, s.srt_if), (self.sw, s.sw_peer_if),
                    (self.sw, s.sw_ha_if)]
            out += [(s.node_ns, i) for i in (s.inside_if, s.outside_if, s.peer_if, s.ha_if)]
        return out

    # --- routes ----------------------------------------------------------------------------

    def set_routes(self, mode: str | None = None, fwd=None, rev=None, **_ignored) -> None:
        """crt sends client->server traffic over the nodes in `fwd`, srt
        server->client traffic over those in `rev` (node ids; several:
        multipath, one nexthop per node). `mode` "ecmp": every node both
        ways. Both routers change at once."""
        if mode == "ecmp":
            fwd = rev = self.ids
        elif mode is not None:
            raise LabError(f"the cluster lab has no route mode {mode!r}")
        fwd, rev = [int(x) for x in fwd], [int(x) for x in rev]
        if not fwd or not rev:
            raise LabError("a route needs at least one node")
        cmds = []
        for ns, net, side, hops in ((self.crt, SERVER_NET, 1, fwd), (self.srt, CLIENT_NET, 0, rev)):
            via = [seg(h)[side] for h in hops]
            route = (["via", via[0]] if len(via) == 1 else
                     [w for v in via for w in ("nexthop", "via", v, "weight", "1")])
            cmds.append((self._router_shell(ns), "route replace " + " ".join([net, *route])))
        for sh, cmd in cmds:
            sh.send(cmd)
        for sh, cmd in cmds:
            sh.wait_done(cmd, timeout=10.0)
        self.routes = {"fwd": fwd, "rev": rev, "fwd_hi": fwd, "rev_hi": rev}
        self.route_mode = self.describe_routes()

    def spray_fragments(self, on: bool) -> None:
        """Per-packet paths for IP fragments: while on, each router sends
        every fragment it forwards (first or later, either direction) over
        the next node in turn (nftables `numgen inc` sets a mark, one
        routing table per mark and node), so the fragments of one datagram
        cross different nodes. Other packets keep the routes of
        set_routes()."""
        n = len(self._slots)
        for ns, net, side in ((self.crt, SERVER_NET, 1), (self.srt, CLIENT_NET, 0)):
            ns.run(["nft", "delete", "table", "ip", "tandem_lab_spray"], check=False)
            for k in self.ids:
                ns.run(["ip", "rule", "del", "fwmark", str(k), "table", str(100 + k)], check=False)
                ns.run(["ip", "route", "flush", "table", str(100 + k)], check=False)
            if not on:
                continue
            for k in self.ids:
                ns.run(["ip", "route", "replace", net, "via", seg(k)[side], "table", str(100 + k)])
                ns.run(["ip", "rule", "add", "fwmark", str(k), "table", str(100 + k)])
            ns.run(["nft", "-f", "-"], input=(
                "table ip tandem_lab_spray {\n"
                "    chain pre {\n"
                "        type filter hook prerouting priority mangle;\n"
                f"        ip frag-off & 0x3fff != 0 meta mark set numgen inc mod {n} offset 1\n"
                "    }\n"
                "}\n"))

    def describe_routes(self) -> str:
        r = self.routes
        return (f"crt via node {'+'.join(map(str, r['fwd']))}, "
                f"srt via node {'+'.join(map(str, r['rev']))}")

    def move_paths_off(self, letter) -> None:
        """Failover: every nexthop through node `letter` is removed (the
        other nodes of the route take its share)."""
        n = int(letter)
        r = self.routes
        fwd = [h for h in r["fwd"] if h != n]
        rev = [h for h in r["rev"] if h != n]
        if not fwd or not rev:
            raise LabError(f"no path left once node {n} is off the routes")
        self.set_routes(fwd=fwd, rev=rev)

    # --- nodes -----------------------------------------------------------------------------

    def start_node(self, s: ClusterSlot) -> None:
        if self.opts.node == "tandemd":
            node = ClusterTandemdNode(self.opts)
        elif self.opts.node == "kernel":
            node = PairBridgeNode()
        else:
            raise LabError(f"unknown node kind {self.opts.node!r}")
        node.start(s)
        s.node, s.dead = node, False

    def prewarm(self) -> None:
        for s in self.live():
            self.ping_segment(s.letter)

    def ping_segment(self, letter, count: int = 3, timeout: float = 15.0) -> dict:
        return self.tool("crt", ["icmp-echo", "--dst", seg(int(letter))[1], "--count", str(count),
                                 "--timeout", "1.0", "--interval", "0.01"], timeout=timeout)

    def ha_slots(self) -> tuple:
        return tuple(self.live())

    def ha_ok(self, s: ClusterSlot, st: dict) -> bool:
        """Active, and sees every other live node alive and active."""
        return self.ha_sees_all(st, s.node_id)

    def ha_sees_all(self, st: dict, self_id: int) -> bool:
        """Active, and every other node the lab runs is alive and active in
        `st` (node `self_id`'s HA state)."""
        if ha_local_state(st) not in ACTIVE_STATES:
            return False
        live = {s.node_id for s in self.live()}
        seen = {int(p["id"]): p for p in ha_peers(st) if str(p.get("id", "")).isdigit()}
        for n in live:
            if n == self_id:
                continue
            p = seen.get(n)
            if p is None or p.get("alive") is not True or p.get("state") not in ACTIVE_STATES:
                return False  # a field the node does not report is not taken as yes
        return True

    # --- measurements ------------------------------------------------------------------------

    def frames_text(self, f: dict[str, dict[str, int]]) -> str:
        return "; ".join(f"node{k} from crt {v.get('from_crt', 0)}, from srt "
                         f"{v.get('from_srt', 0)}, peer link tx {v.get('peer_tx', 0)} rx "
                         f"{v.get('peer_rx', 0)}" for k, v in sorted(f.items()))


# --- HA and ownership helpers -----------------------------------------------------------------


def show_ha(lab: ClusterLab, sec: Section, label: str) -> dict:
    out = {}
    if lab.opts.node != "tandemd":
        return out
    for s in lab.slots:
        if s.dead:
            sec.line(f"{label}: {s.label}: (down)")
            continue
        st = lab.ha_state(s)
        out[s.letter] = st
        sec.line(f"{label}: {s.label}: {ha_summary(st)}")
    return out


def show_ownership(lab: ClusterLab, sec: Section, label: str, port: int = RR_PORT) -> dict:
    own = ownership(lab, port)
    if not own:
        return own
    held = ", ".join(f"node{k} {'n/a' if t is None else len(t)}" for k, t in own.items())
    by = owners(own)
    text = "n/a" if by is None else (", ".join(f"node {k}: {v}" for k, v in sorted(
        by.items(), key=lambda kv: str(kv[0]))) or "none")
    sec.line(f"{label} (port {port}): sessions by owner {text}; held in the tables of {held}")
    return own


def settle_ownership(lab: ClusterLab, port: int, timeout: float) -> dict:
    """Waits until the tables (sessions of `port`, owner and backup of
    each) have not changed for 1 s and agree (bounded); returns the last
    view."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        own = ownership(lab, port)
        key = json.dumps({k: sorted(map(str, (t or {}).items())) for k, t in own.items()},
                         sort_keys=True, default=str)
        now = time.monotonic()
        if key != last:
            last, since = key, now
        elif now - since >= 1.0 and tables_agree(own) is not False:
            return own
        if now > end or not own:
            return own
        time.sleep(0.1)


# --- traffic helpers ----------------------------------------------------------------------------


def flow_paths(lab: ClusterLab, fmap: dict, sports: list[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in sports:
        k = fmap.get(p, "?>?")
        out[k] = out.get(k, 0) + 1
    return out


def asymmetric_count(paths: dict[str, int]) -> int:
    return sum(v for k, v in paths.items()
               if "?" not in k and k.split(">")[0] != k.split(">")[1])


def start_longlived(lab: ClusterLab, args, sec: Section, window: float) -> dict:
    """rr-long (200 long-lived request/response connections + a bulk
    stream) with a map of the node each SYN and SYN-ACK crossed."""
    lab.start_syn_map([RR_PORT, BULK_PORT])
    try:
        ready = start_rr(lab, args.conns, args.interval_ms / 1000.0,
                         int(args.bulk_mbit * 1e6 / 8), bulk_conns=1, target_ms=args.target_ms,
                         window=window, timeout=30.0)
    finally:
        fmap = lab.stop_syn_map()
    paths = flow_paths(lab, fmap, ready.get("sports", []))
    bulk = [fmap.get(p, "?>?") for p in ready.get("bulk_sports", [])]
    sec.line(f"rr: {ready['connected']}/{args.conns} connections answering (request every "
             f"{args.interval_ms:g} ms), 1 bulk stream at {args.bulk_mbit:g} Mbit/s; connect "
             f"failures {ready['connect_failed']}")
    sec.line("rr flows, SYN node > SYN-ACK node: "
             + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
             + f" (asymmetric {asymmetric_count(paths)} of {sum(paths.values())}); bulk "
               f"{', '.join(bulk)}")
    bulk_bad = sum(1 for b in ready.get("bulk", []) if b["state"] == "broken")
    if ready["connected"] < args.conns or bulk_bad:
        sec.check(f"rr: every long-lived connection connected and answered "
                  f"({ready['connected']}/{args.conns}, bulk broken {bulk_bad})", False)
        raise NodeFailed(f"{args.conns - ready['connected']} of {args.conns} long-lived "
                         f"connections could not connect or answer; the scenario cannot go on")
    ready["paths"] = paths
    return ready


def spread_check(lab: ClusterLab, sec: Section, frames: dict, nodes: list[int],
                 label: str) -> bool:
    """Every node in `nodes` received traffic from both routers."""
    sec.line(f"{label}: {lab.frames_text({k: v for k, v in frames.items()})}")
    missing = [f"node{n}" for n in nodes
               if not (frames.get(str(n), {}).get("from_crt", 0) > 0
                       and frames.get(str(n), {}).get("from_srt", 0) > 0)]
    return sec.check(f"{label}: traffic crossed node {'+'.join(map(str, nodes))} in both "
                     f"directions{' (none through ' + ', '.join(missing) + ')' if missing else ''}",
                     not missing)


def wait_dead_and_recovered(lab: ClusterLab, victim: ClusterSlot, t_kill: float,
                            timeout: float, detect_timeout: float = 5.0
                            ) -> tuple[float | None, float | None]:
    """Polls, in one loop, (a) every live node's HA state until each reports
    `victim` not alive and (b) rr-long until every long-lived connection
    (and the bulk stream) has had data after the kill. Returns (seconds
    from the kill to (a): the last node's declaration, as its own state
    dates it (declared_dead_at); to (b)); None for what did not happen in
    time or cannot be told (no HA state)."""
    detect = rec = None
    pending = {s.letter for s in lab.live()} if lab.opts.node == "tandemd" else set()
    watch = bool(pending)
    latest = None
    end = t_kill + max(timeout, detect_timeout)
    while True:
        now = time.monotonic()
        if pending and now < t_kill + detect_timeout:
            for s in lab.live():
                if s.letter not in pending:
                    continue
                st = lab.ha_state(s)
                at = declared_dead_at(st, victim.node_id, time.monotonic())
                if at is not None:
                    pending.discard(s.letter)
                    latest = at if latest is None else max(latest, at)
            if not pending:
                detect = latest - t_kill
        if rec is None:
            st = rr_stats(lab)
            bulk_ok = all(b["last_rx"] > t_kill or b["state"] != "running" for b in st["bulk"])
            if st["oldest_last_response"] > t_kill and bulk_ok:
                rec = st["t"] - t_kill
        detect_done = not pending or now >= t_kill + detect_timeout
        if (detect_done and rec is not None) or now > end:
            return (detect if watch else None), rec
        time.sleep(0.005)


def cli_check(lab: ClusterLab, sec: Section) -> None:
    """`show high-availability state` through the tandem CLI (--cli; the
    control socket when it is not built) on every node: N-1 peers, every
    one alive."""
    for s in lab.live():
        ok, r = lab.request(s, "show high-availability state")
        st = r if isinstance(r, dict) else None
        if isinstance(st, dict) and isinstance(st.get("result"), dict):
            st = st["result"]
        peers = ha_peers(st)
        alive = sum(1 for p in peers if p.get("alive") is True)
        want = len(lab.slots) - 1
        sec.check(f"{s.label}: `show high-availability state` "
                  f"({'tandem CLI' if _cli_built(lab) else 'control socket'}) lists {len(peers)} "
                  f"peers, {alive} alive (expected {want})",
                  (ok and len(peers) == want and alive == want) if st is not None else None)


def _cli_built(lab: ClusterLab) -> bool:
    cli = lab.opts.cli or DEFAULT_CLI
    return os.path.isfile(cli) and os.access(cli, os.X_OK)


# --- runner -------------------------------------------------------------------------------------


def cluster_args(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--nodes", type=int, choices=(3, 4), default=3, help="cluster size")
    ap.add_argument("--node", choices=NODE_KINDS, default="tandemd",
                    help="tandemd; kernel (stateless bridges: the harness's reference)")
    add_tandemd_arg(ap)
    add_ha_args(ap, cli_help="the tandem CLI (default build/release/cli/tandem if built)")
    add_run_args(ap, deadline=170.0)
    ap.add_argument("--nat", action="store_true",
                    help=f"tandemd nodes source-translate every inside->outside session to the "
                         f"pool {NAT_POOL}: each node hands out ports of its own blocks, a "
                         f"reply to a dead owner's port goes to the block's heir (docs/nat.md)")
    return ap


def options_from(args, **over) -> ClusterOptions:
    o = ClusterOptions(**ha_options(args), nodes=args.nodes, nat=args.nat)
    for k, v in over.items():
        setattr(o, k, v)
    return o


def cluster_up(lab: ClusterLab, report: Report, deadline: Deadline, tag: str) -> None:
    """Starts the server services and every node, waits until every node
    is active and sees all the others; with tandemd, the "cluster up"
    section and the CLI's view."""
    start_servers(lab)
    for s in lab.slots:
        lab.start_node(s)
    t0 = time.monotonic()
    lab.wait_ha_ready(deadline)
    lab.prewarm()
    if lab.opts.node != "tandemd":
        return
    n = len(lab.slots)
    sec = report.section(f"cluster up ({n} nodes{', ' + tag if tag else ''})")
    states = show_ha(lab, sec, "HA")
    sec.check(f"every node active and sees the {n - 1} others alive "
              f"and active ({time.monotonic() - t0:.1f} s)",
              all(states.get(s.letter) is not None and
                  lab.ha_sees_all(states[s.letter], s.node_id) for s in lab.slots))
    cli_check(lab, sec)


def cluster_main(description: str, body, argv=None, configure=None, variants=None) -> int:
    """pair.pair_main for N nodes: for each variant (PairOptions overrides)
    builds a cluster lab, starts the servers and the nodes, waits until
    every node is active and sees all the others, runs body(lab, args,
    report, deadline, variant), stops the nodes (each must exit 0 on
    SIGTERM). Exit 0 passed, 1 a check or a node failed, 2 the lab could
    not run, 77 skipped."""
    ap = cluster_args(description)
    if configure:
        configure(ap)
    args = ap.parse_args(argv)
    try:
        args.tandemd = preflight(("ip", "ethtool", "bridge", "nft"), args.tandemd,
                                 need_tandemd=args.node == "tandemd")
    except LabSkip as e:
        return skip_exit(e)
    lab_run = LabRun(args.deadline)
    report = Report(args.node)
    print(f"{description}\nnode: {args.node} x {args.nodes}"
          + (f", peer link {args.peer_link}" if args.node == "tandemd" else ""), flush=True)
    run_variants(lab_run, args, report, body, variants,
                 lambda over: ClusterLab(options_from(args, **over)), cluster_up)
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    return finish_report(lab_run, report, f"{args.nodes} x {args.node}", args.json,
                         {"node": args.node, "nodes": args.nodes, "peer_link": args.peer_link})


# --- failover and revert ------------------------------------------------------------------------


def add_longlived_args(ap) -> None:
    add_traffic_args(ap, steady_help="seconds of traffic before the first kill")
    ap.add_argument("--after", type=float, default=4.0,
                    help="seconds of traffic after each event")
    add_probe_args(ap)
    ap.add_argument("--bulk-extra-ms", type=float, default=BULK_EXTRA_MS,
                    help="the bulk stream's gap may exceed --target-ms by this: a segment "
                         "lost in the outage waits for the sender's retransmission timer "
                         "(200 ms at least in Linux), and a retransmission lost too doubles it")


def pick_victim(lab: ClusterLab, own: dict, exclude=()) -> ClusterSlot:
    """The live node that owns the most sessions in `own` (ties: lowest id)."""
    by = owners(own) or {}
    cands = [s for s in lab.live() if s.node_id not in exclude]
    return max(cands, key=lambda s: (by.get(s.node_id, 0), -s.node_id))


def failover_phase(lab: ClusterLab, args, sec: Section, deadline: Deadline, paths: list[int],
                   victims: int = 1, fixed_victim: int | None = None,
                   spacing: float = 3.0, after: float = 4.0) -> dict:
    """Long-lived connections + a bulk stream (+ idle ones) over ECMP on
    `paths`; then `victims` times: SIGKILL the node that owns the most
    long-lived sessions (or `fixed_victim`) and move its paths away at once,
    `spacing` seconds between kills, `after` seconds of traffic after the
    last. Leaves rr-long and idle-conns running."""
    lab.set_routes(fwd=paths, rev=paths)
    sec.line(f"routes: {lab.describe_routes()}")
    windows = [spacing] * (victims - 1) + [after]
    start_longlived(lab, args, sec, window=windows[0])
    if args.idle:
        start_idle(lab, sec, args.idle)
    start_probe(lab, args, sec, SERVER_IP, UDP_ECHO, window=max(windows))
    f0 = lab.node_frames()
    hold(lab, args.steady)
    spread_check(lab, sec, {k: delta(v, f0[k]) for k, v in lab.node_frames().items()},
                 paths, "before the kill")
    own_before = show_ownership(lab, sec, "before the kill")
    idle_before = show_ownership(lab, sec, "idle, before the kill", port=IDLE_PORT) \
        if args.idle else {}
    c_before = {s.letter: lab.counters(s) for s in lab.live()}
    kills = []
    killed: list[ClusterSlot] = []
    for i in range(victims):
        if fixed_victim is not None and i == 0:
            victim = lab.slot(fixed_victim)
        else:
            cur = own_before if i == 0 else ownership(lab, RR_PORT)
            victim = pick_victim(lab, cur, exclude=[k.node_id for k in killed])
        name = "kill" if victims == 1 else f"kill {i + 1}"
        t_kill = lab.kill_node(victim)
        killed.append(victim)
        lab.mark(name, t_kill, window=windows[i])
        sec.line(f"{name}: {victim.label} SIGKILLed"
                 f"{' (bridge deleted)' if lab.opts.node != 'tandemd' else ''}; routes now "
                 f"{lab.describe_routes()} (both routers confirmed "
                 f"{lab.paths_moved_after * 1000:.1f} ms after the kill)")
        detect, rec = wait_dead_and_recovered(lab, victim, t_kill,
                                              timeout=deadline.cap(windows[i] + 10))
        if lab.opts.node == "tandemd" and lab.ha_supported:
            sec.line(f"{name}: every live node reported {victim.label} dead "
                     f"{'after ' + format(detect * 1000, '.0f') + ' ms' if detect else 'NOT within 5 s'}"
                     f" (detection time {lab.opts.death_ms} ms)")
            # Each node dates its declaration (down_ms); a late poll adds
            # only the age of the node's status snapshot and its answer.
            bound = detection_bound_ms(lab.opts.death_ms)
            sec.check(f"{name}: every live node declared {victim.label} dead within the "
                      f"detection time + {DETECTION_MARGIN_MS} ms (polled) = {bound:g} ms",
                      detect is not None and 0 <= detect * 1000 <= bound)
        sec.line(f"{name}: every long-lived connection answered again "
                 f"{'%.0f ms after the kill' % (rec * 1000) if rec is not None else 'NOT within the wait'}")
        kills.append({"victim": victim.node_id, "t": t_kill, "detect": detect, "recovered": rec,
                      "mark": name})
        hold(lab, max(0.0, t_kill + windows[i] - time.monotonic()))
    own_after = settle_ownership(lab, RR_PORT, timeout=deadline.cap(5.0))
    show_ownership(lab, sec, "after the failover")
    idle_after = show_ownership(lab, sec, "idle, after the failover (no packet since the kill)",
                                port=IDLE_PORT) if args.idle else {}
    deltas = {}
    for s in lab.live():
        c = lab.counters(s)
        if c is not None and c_before.get(s.letter) is not None:
            deltas[s.letter] = delta(c, c_before[s.letter])
            sec.line(f"{s.label} counters over the failover: {counter_line(deltas[s.letter])}")
    if lab.opts.nat and deltas:
        # Replies to the dead node's ports that reached a node without the
        # session's copy went to the port's block's heir, which holds it.
        # With three nodes the one survivor besides the heir becomes each
        # adopted session's new backup (a copy) within moments of the
        # death, so only with four is a node without a copy sure to see
        # such replies.
        total = {k: sum(d.get(k, 0) for d in deltas.values())
                 for k in ("nat_replies_to_port_heir", "nat_no_translation", "nat_ports_off_heir")}
        sec.check(f"translation: replies to the killed node's ports sent to their block's heir "
                  f"(nat_replies_to_port_heir +{total['nat_replies_to_port_heir']}), none without "
                  f"a translation (nat_no_translation +{total['nat_no_translation']}), every port "
                  f"of a block its session's backup inherits (nat_ports_off_heir "
                  f"+{total['nat_ports_off_heir']})",
                  (total["nat_replies_to_port_heir"] > 0 or len(lab.slots) < 4)
                  and total["nat_no_translation"] == 0
                  and total["nat_ports_off_heir"] == 0)
    show_ha(lab, sec, "after the failover")
    return {"kills": kills, "killed": killed, "own_before": own_before, "own_after": own_after,
            "idle_before": idle_before, "idle_after": idle_after, "paths": paths}


def check_failover_ownership(lab: ClusterLab, args, sec: Section, fo: dict) -> None:
    """After the failover: every long-lived and idle session is still in
    the cluster, owned by a live node, in its owner's table, and every
    table holding it names the same owner and backup; the killed nodes'
    idle sessions were adopted before they sent anything."""
    dead = [k.node_id for k in fo["killed"]]
    for label, port, before, after, expect in (
            ("long-lived", RR_PORT, fo["own_before"], fo["own_after"], args.conns),
            ("idle", IDLE_PORT, fo["idle_before"], fo["idle_after"], args.idle)):
        if port == IDLE_PORT and not args.idle:
            continue
        ob, oa = owners(before), owners(after)
        if ob is None or oa is None:
            sec.check(f"{label}: sessions of the killed node(s) adopted by the others", None,
                      optional_for=LINUX_KINDS)
            continue
        had = sum(ob.get(d, 0) for d in dead)
        still = sum(oa.get(d, 0) for d in dead)
        stale = sum(1 for t in after.values() if t for o, _b in t.values() if o in dead)
        stale_backup = sum(1 for t in after.values() if t for _o, b in t.values() if b in dead)
        backed = sum(1 for t in before.values() if t for _o, b in t.values() if b in dead)
        total = sum(oa.values())
        sec.line(f"{label}: the killed node(s) {'+'.join(map(str, dead))} owned {had} before, "
                 f"{still} after ({stale} table entries naming a dead owner); by owner after: "
                 + ", ".join(f"node {k}: {v}" for k, v in sorted(oa.items(), key=str)))
        sec.check(f"{label}: no session owned by a dead node after the failover ({still}, "
                  f"entries {stale}), {total} of {expect} sessions still in the cluster",
                  still == 0 and stale == 0 and total == expect)
        sec.line(f"{label}: table entries naming a killed node as backup owner: {backed} "
                 f"before the kill, {stale_backup} after")
        sec.check(f"{label}: no table names a dead node as backup owner after the failover "
                  f"({stale_backup})", stale_backup == 0)
        bad = disagreements(after)
        for b in bad[:5]:
            sec.line(f"{label}: {b}")
        sec.check(f"{label}: every table holding a session names the same owner and backup, "
                  f"and the owner holds it ({len(bad)} disagreements)", not bad)
    if args.idle and owners(fo["idle_before"]) is not None:
        ob = owners(fo["idle_before"])
        sec.line(f"idle sessions owned by the killed node(s) before the kill: "
                 f"{sum(ob.get(d, 0) for d in dead)} (adopted without a packet)")


def report_gaps(lab: ClusterLab, args, sec: Section, r: dict, marks: tuple[str, ...]) -> None:
    """report_rr (0 broken, clean close, gaps from each mark <= --target-ms;
    the bulk stream's + --bulk-extra-ms), then the cluster's own outage at
    each mark (outage_probe.check_probe: the UDP probe started by
    failover_phase)."""
    report_rr(sec, r, marks=marks, target_ms=args.target_ms,
              bulk_target_ms=args.target_ms + args.bulk_extra_ms)
    check_probe(lab, args, sec, marks)
