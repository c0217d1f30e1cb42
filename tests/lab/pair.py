"""The two-node (pair) lab: topology, nodes, routes, HA queries and a runner.

```
                         +-- [ai] nodeA [ao] --+
                         |  10.2.1.0/24  (L2)  |
 client --- crt [ra] ----+    [ap]  [ah]       +---- [sa] srt --- server
 10.1.0.2   .1  [rb] ----+     |     |         +---- [sb] .2       10.3.0.2
 gw .1         .1        |    [bp]  [bh]       |         (.1 on ss)
                         +-- [bi] nodeB [bo] --+
                            10.2.2.0/24  (L2)
   peer link: ap <-> bp (MTU 9000)        HA control: ah 10.9.0.1 <-> bh 10.9.0.2
              raw: EtherType 0x88B5 to the MAC; udp: 10.8.0.1:4790 <-> 10.8.0.2:4790
   --peer-link-gateway (udp): ap - [la] plr [lb] - bp, 10.8.1.1 <-> 10.8.2.1 via .254
```

Every name starts with the lab's unique prefix (tl<pid><seq>): namespaces
`<p>-cli`, `<p>-crt`, `<p>-fwa`, `<p>-fwb`, `<p>-srt`, `<p>-srv`; interfaces
`<p>` + two letters (above). Each node is a transparent bump in the wire
between its `inside` (router crt) and `outside` (router srt) ports. Routes on
crt and srt choose the path of each direction:

  asymmetric   crt -> 10.3.0.0/24 via A, srt -> 10.1.0.0/24 via B
  symmetric-a  both directions via A (symmetric-b: via B)
  ecmp         both routers multipath over A and B, L4 hash
               (fib_multipath_hash_policy=1): each direction of a flow picks
               its node independently
  failover     every nexthop through a dead node replaced by the survivor
               (what a router or a load balancer does)

Node kinds (--node):

  tandemd    the daemon, one per node namespace, af_packet ports, a peer link
             (--peer-link raw: by MAC; udp: IPv4/UDP, addresses only in the
             configs, tandemd answers ARP itself), ZeroMQ HA on the control
             veth, CURVE keys (--curve)
  kernel     a Linux bridge joining the node's two ports: stateless, so
             everything passes; the reference the scripts are proven with
  kernel-ct  a bridge with nftables connection tracking per node and no state
             sharing (nodes.KernelBridgeNode): two independent stateful
             firewalls, the baseline a pair must beat; asymmetric and
             failover scenarios must FAIL against it

"Killing" a kernel node deletes its bridge (a black hole, like a dead
tandemd whose veths stay up); restarting it creates the bridge again.

All waits are bounded; everything created is on lab.cleanup (namespaces,
processes, temporary files, DPDK runtime directories).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass

from lab import (ControlError, Deadline, InlineLab, LabError, LabSkip, LabTimeout, Namespace,
                 NodeFailed, add_veth, cleanup, link_info, link_mac, link_stats, run)
from skip_policy import skip_exit  # noqa: E402
from metrics_client import METRICS_CONFIG
from nodes import (KernelBridgeNode, Rule, TandemdNode, ha_config, keep_previous_log,
                   tandemd_config)
from outage_probe import (DETECTION_MARGIN_MS, add_probe_args, detection_bound_ms,
                          start_probe)
from session_tables import LIVE_STATES, ownership
from labkit.checks import Report, Section
from labkit.ha import declared_dead_at, ha_ready, ha_summary
from labkit.options import add_ha_args, add_longlived_args as add_traffic_args, add_run_args, add_tandemd_arg, ha_options
from labkit.report import counter_line, delta
from labkit.runner import LabRun, finish_report, preflight, run_variants
from labkit.topology import (curve_keys, keep_peer_link_from_kernel, no_rp_filter, prepare,
                             real_frames_up, tune_endpoints, tune_routers)

# --- addressing and ports ----------------------------------------------------------------------

CLIENT_IP, CLIENT_GW, CLIENT_NET = "10.1.0.2", "10.1.0.1", "10.1.0.0/24"
SERVER_IP, SERVER_GW, SERVER_NET = "10.3.0.2", "10.3.0.1", "10.3.0.0/24"
SEG = {"a": ("10.2.1.1", "10.2.1.2"), "b": ("10.2.2.1", "10.2.2.2")}   # (crt side, srt side)
HA_IP = {"a": "10.9.0.1", "b": "10.9.0.2"}
HA_PORT = 7400
# udp peer link: addresses only tandemd knows (in its config); the kernel
# has none on the peer veths. Routed (--peer-link-gateway): each node in its
# own subnet behind the router namespace plr (.254 on each side).
PEER_LINK_IP = {"a": "10.8.0.1", "b": "10.8.0.2"}
PEER_LINK_ROUTED_IP = {"a": "10.8.1.1", "b": "10.8.2.1"}
PEER_LINK_GATEWAY = {"a": "10.8.1.254", "b": "10.8.2.254"}
PEER_LINK_PORT = 4790


def peer_link_ip(opts: "PairOptions", letter: str) -> str:
    """A node's udp peer-link address."""
    return (PEER_LINK_ROUTED_IP if opts.peer_link_routed else PEER_LINK_IP)[letter]
NODE_ID = {"a": 1, "b": 2}
# --nat: the pool every inside->outside session is translated to. In the
# client's subnet, so srt routes the server's replies to it through the
# nodes as it does the client's; each node hands out ports of its own
# blocks (docs/nat.md).
NAT_POOL = "10.1.0.200"
NAT_PORTS, NAT_BLOCK = (1024, 65535), 64
NAT_REASSIGN_S = 2  # a dead node's blocks are lent to the survivor after this
NAT_CONFIG = f"""
[nat]
pool = lab {NAT_POOL} ports {NAT_PORTS[0]}-{NAT_PORTS[1]} block-size {NAT_BLOCK}
rule = snat from inside to outside pool lab
reassign-after-s = {NAT_REASSIGN_S}
"""


def nat_block_owner(port: int) -> str:
    """The node (letter) whose port block holds `port` of NAT_POOL: the
    members in ascending id order take the blocks in turn (docs/nat.md)."""
    members = sorted(NODE_ID, key=NODE_ID.get)
    return members[((port - NAT_PORTS[0]) // NAT_BLOCK) % len(members)]
OTHER = {"a": "b", "b": "a"}

TCP_ECHO = 5001       # traffic.py serve: read to EOF, echo, close (short connections)
RR_PORT = 5101        # stream-serve: echo as it arrives (long-lived request/response)
BULK_PORT = 5102      # stream-serve: a byte pattern streamed to the client
IDLE_PORT = 5103      # stream-serve: echo, for connections idle across an event (idle-conns)
NAT_SERVE_PORT = 5104  # nat-serve (test_pair_nat.py): notes each connection's source
UDP_ECHO = 5353

PAIR_POLICY = (
    Rule("tcp", (TCP_ECHO, RR_PORT, BULK_PORT, IDLE_PORT, NAT_SERVE_PORT), name="lab-tcp"),
    Rule("udp", (UDP_ECHO,), name="lab-udp"),
    Rule("icmp", icmp_types=(8,), name="ping"),
)

NODE_KINDS = ("tandemd", "kernel", "kernel-ct")
# The node kinds that run Linux in place of tandemd (the harness's references):
# they have no HA agent, no session table and no tandemd counters. A check of
# those is declared optional for them (Section.check's optional_for); for
# tandemd it must always have an answer.
LINUX_KINDS = ("kernel", "kernel-ct")
ROUTE_MODES = ("asymmetric", "symmetric-a", "symmetric-b", "ecmp", "split", "split-asymmetric")
SPLIT_BIT = 2         # split modes: client ports with this bit set take the "hi" paths
DEFAULT_CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "build", "release", "cli", "tandem")


@dataclass
class PairOptions:
    """What the pair runs with (from the command line)."""
    node: str = "kernel"
    tandemd: str | None = None
    cli: str | None = None
    owner: str = "first-packet"
    peer_link: str = "raw"      # [ha] peer-link: raw | udp
    peer_link_routed: bool = False  # udp: the peers in two subnets behind a router
    revert: bool = True
    curve: bool = True
    heartbeat_ms: int = 20
    hold_ms: int = 100
    detect_ms: int = 0        # [ha] peer-link-detect-ms (0: off)
    cluster_id: int = 7
    ha_timeout: float = 20.0
    metrics: bool = False     # serve /metrics on 127.0.0.1 in each node namespace
    workers: int = 1          # tandemd workers per node
    port_driver: str = "af_packet"  # the data ports' DPDK driver (nodes.tandemd_config)
    session_capacity: int = 131072  # [dataplane] session-capacity of each node
    extra_config: str = ""    # appended to each node's config (e.g. a [timeouts] section)
    nat: bool = False         # source-translate every inside->outside session (NAT_CONFIG)
    # links through the impairing relay in namespace sw (link_impairer.py):
    # "ha" (the HA sync link), "peer" (the raw peer link, pair only)
    impair_links: tuple[str, ...] = ()

    @property
    def death_ms(self) -> int:
        """The silence after which a peer that closed nothing (a power cut)
        is declared dead: the peer-link detect time when set, else the hold
        time."""
        return self.detect_ms or self.hold_ms


# --- node slots ---------------------------------------------------------------------------------


class NodeSlot:
    """One node's place in the topology. Node implementations receive it
    where the single-node lab passes an InlineLab (node_ns, zone_ports,
    prefix, workdir, log, inside_if, outside_if)."""

    def __init__(self, pair: "PairLab", letter: str) -> None:
        p = pair.prefix
        self.pair = pair
        self.letter = letter
        self.label = "node" + letter.upper()
        self.node_id = NODE_ID[letter]
        self.node_ns = Namespace(f"{p}-fw{letter}")
        self.prefix = p + letter                 # bridge names, DPDK file prefix
        self.inside_if = f"{p}{letter}i"
        self.outside_if = f"{p}{letter}o"
        self.peer_if = f"{p}{letter}p"
        self.ha_if = f"{p}{letter}h"
        self.workdir = ""
        self.node = None            # the running implementation, or None
        self.dead = False           # killed on purpose (checks skip it)
        self.peer_mac = ""          # MAC of this node's peer-link veth
        self.public_key = self.secret_key = ""

    @property
    def zone_ports(self) -> dict[str, str]:
        return {"outside": self.outside_if, "inside": self.inside_if}

    def log(self, msg: str) -> None:
        self.pair.log(msg)

    @property
    def other(self) -> "NodeSlot":
        return self.pair.slot(OTHER[self.letter])


# --- node implementations ---------------------------------------------------------------------


class PairTandemdNode(TandemdNode):
    """tandemd as one node of the pair: the single-node config plus the
    peer-link port, [peer.N] and [ha]."""

    name = "tandemd"

    def __init__(self, opts: PairOptions, policy=PAIR_POLICY) -> None:
        super().__init__(policy, binary=opts.tandemd, workers=opts.workers, lcores="0-1")
        self.opts = opts
        self.slot: NodeSlot | None = None

    def config_text(self, slot: NodeSlot, socket_path: str) -> str:
        o, peer = self.opts, slot.other
        extra = ha_config(
            peers=[{"id": peer.node_id, "name": f"fw{peer.letter}",
                    "ha_address": f"tcp://{HA_IP[peer.letter]}:{HA_PORT}",
                    "link_address": self.link_address(peer),
                    "public_key": peer.public_key if o.curve else ""}],
            listen=f"tcp://{HA_IP[slot.letter]}:{HA_PORT}", owner=o.owner, revert=o.revert,
            heartbeat_ms=o.heartbeat_ms, hold_ms=o.hold_ms, detect_ms=o.detect_ms,
            peer_link=o.peer_link,
            peer_link_listen=self.link_address(slot) if o.peer_link == "udp" else "",
            peer_link_gateway=(PEER_LINK_GATEWAY[slot.letter]
                               if o.peer_link == "udp" and o.peer_link_routed else ""),
            secret_key=slot.secret_key if o.curve else "",
            public_key=slot.public_key if o.curve else "")
        return tandemd_config(slot, self.policy, node_id=slot.node_id, workers=self.workers,
                              session_capacity=o.session_capacity,
                              dpdk_prefix=self.dpdk_prefix,
                              socket_path=socket_path, lcores=self.lcores,
                              extra=extra + o.extra_config + (NAT_CONFIG if o.nat else ""),
                              cluster_id=o.cluster_id, node_name=f"fw{slot.letter}",
                              extra_ports={"peer": slot.peer_if},
                              control_extra=METRICS_CONFIG if o.metrics else "")

    def link_address(self, slot: NodeSlot) -> str:
        """A node's peer-link address: its veth's MAC (raw), IPv4:port (udp)."""
        if self.opts.peer_link == "udp":
            return f"{peer_link_ip(self.opts, slot.letter)}:{PEER_LINK_PORT}"
        return slot.peer_mac

    def start(self, slot: NodeSlot) -> None:
        self.slot = slot
        if self.opts.metrics:
            slot.node_ns.run(["ip", "link", "set", "lo", "up"])
        keep_previous_log(os.path.join(slot.workdir, "tandemd.log"))
        super().start(slot)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye (returns at once; reap() waits)."""
        if self.proc is not None and self.proc.alive():
            self.proc.popen.send_signal(signal.SIGKILL)

    def reap(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc = None
        shutil.rmtree(f"/var/run/dpdk/{self.dpdk_prefix}", ignore_errors=True)

    def request(self, command: str, timeout: float = 3.0, **args):
        return self.control.request(command, timeout=timeout, **args)


class PairBridgeNode:
    """The stateless kernel stand-in: a bridge joining inside and outside."""

    name = "kernel"

    def __init__(self) -> None:
        self.slot = None
        self.bridge = ""

    def describe(self) -> str:
        return "Linux bridge (stateless: everything passes)"

    def start(self, slot: NodeSlot) -> None:
        self.slot = slot
        ns = slot.node_ns
        self.bridge = slot.prefix + "br"
        ns.run(["ip", "link", "add", self.bridge, "type", "bridge", "stp_state", "0",
                "forward_delay", "0", "mcast_snooping", "0"])
        for iface in slot.zone_ports.values():
            ns.run(["ip", "link", "set", iface, "master", self.bridge])
        ns.run(["ip", "link", "set", self.bridge, "up"])
        _wait_bridge_forwarding(ns, self.bridge, 2)

    def kill(self) -> None:
        """Deletes the bridge (returns at once; reap() waits)."""
        self._killer = _spawn_quiet(["ip", "-n", self.slot.node_ns.name, "link", "del",
                                     self.bridge])

    def reap(self) -> None:
        _reap_quiet(getattr(self, "_killer", None))
        self._killer = None

    def check_alive(self) -> None:
        pass

    def counters(self):
        return None

    def stop(self) -> dict:
        if self.slot is not None:
            self.slot.node_ns.run(["ip", "link", "del", self.bridge], check=False)
        return {"exit_code": 0}


class PairKernelCtNode(KernelBridgeNode):
    """nodes.KernelBridgeNode (bridge + nftables conntrack from the policy)
    as one node of the pair; nothing is shared between the two nodes."""

    def __init__(self, policy=PAIR_POLICY) -> None:
        super().__init__(policy, filtering=True)
        self.name = "kernel-ct"

    def kill(self) -> None:
        """Deletes the bridge (returns at once); reap() then drops the
        node's state (a dead box remembers nothing)."""
        self._killer = _spawn_quiet(["ip", "-n", self.lab.node_ns.name, "link", "del",
                                     self.bridge])

    def reap(self) -> None:
        _reap_quiet(getattr(self, "_killer", None))
        self._killer = None
        ns = self.lab.node_ns
        ns.run(["nft", "flush", "ruleset"], check=False)
        ns.run(["conntrack", "-F"], check=False)

    def check_alive(self) -> None:
        pass


def _spawn_quiet(argv: list[str]) -> subprocess.Popen:
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    token = cleanup.push(f"{argv[0]} (pid {p.pid})", p.kill)
    p._lab_token = token
    return p


def _reap_quiet(p: subprocess.Popen | None, timeout: float = 10.0) -> None:
    if p is None:
        return
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(5)
    cleanup.discard(p._lab_token)


def _wait_bridge_forwarding(ns: Namespace, bridge: str, nports: int, timeout: float = 5.0):
    end = time.monotonic() + timeout
    while True:
        out = ns.run(["bridge", "-j", "link", "show"]).stdout
        ports = [p for p in json.loads(out) if p.get("master") == bridge]
        if len(ports) == nports and all(p.get("state") == "forwarding" for p in ports):
            return
        if time.monotonic() > end:
            raise LabTimeout(f"bridge {bridge} ports not forwarding: {out}")
        time.sleep(0.05)


def make_pair_node(opts: PairOptions):
    if opts.node == "tandemd":
        return PairTandemdNode(opts)
    if opts.node == "kernel":
        return PairBridgeNode()
    if opts.node == "kernel-ct":
        return PairKernelCtNode()
    raise ValueError(f"unknown node kind {opts.node!r}; expected one of {', '.join(NODE_KINDS)}")


class IpShell:
    """A persistent `ip -n NS -batch -` process: a route change is one line
    written to a pipe (no fork/exec on the failover's critical path). After
    each command a marker command (`link show dev lo`) is queued; its output
    means the command before it has been applied."""

    MARKER = "link show dev lo"

    def __init__(self, ns: Namespace) -> None:
        self.ns = ns
        self.proc = subprocess.Popen(["ip", "-n", ns.name, "-force", "-batch", "-"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        self._token = cleanup.push(f"ip -batch in {ns.name} (pid {self.proc.pid})", self.close)
        self._buf = b""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, cmd: str) -> None:
        self.proc.stdin.write(f"{cmd}\n{self.MARKER}\n".encode())
        self.proc.stdin.flush()

    def wait_done(self, cmd: str, timeout: float) -> None:
        """Reads until the marker's output; LabError if `cmd` printed an error."""
        import selectors
        end = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"LOOPBACK" not in self._buf:
                left = end - time.monotonic()
                if left <= 0:
                    raise LabTimeout(f"ip -batch in {self.ns.name}: `{cmd}` not done in "
                                     f"{timeout} s")
                if sel.select(left):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        raise LabError(f"ip -batch in {self.ns.name} exited")
                    self._buf += chunk
        text = self._buf.decode(errors="replace")
        head, _, rest = text.partition("LOOPBACK")
        # drop the marker's own lines (up to the end of its link/loopback line)
        tail = rest.split("link/loopback", 1)[-1].split("\n", 1)
        self._buf = tail[1].encode() if len(tail) > 1 else b""
        errors = [l for l in head.splitlines() if "rror" in l or "Command failed" in l]
        if errors:
            raise LabError(f"`ip -n {self.ns.name} {cmd}` failed: {' '.join(errors)}")

    def close(self) -> None:
        if self.alive():
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(2)
        cleanup.discard(self._token)


# --- the lab -----------------------------------------------------------------------------------


class PairLab(InlineLab):
    """client - crt - {nodeA, nodeB} - srt - server, plus the nodes' peer link
    and HA control link. Reuses InlineLab's endpoint services and tools
    (start_service, service_stats, stop_service, tool), with `where` one of
    client, server, crt, srt, a, b."""

    def __init__(self, opts: PairOptions, log=None) -> None:
        super().__init__(log=log)
        p = self.prefix
        self.opts = opts
        self.client = Namespace(f"{p}-cli")
        self.server = Namespace(f"{p}-srv")
        self.crt = Namespace(f"{p}-crt")
        self.srt = Namespace(f"{p}-srt")
        self.node_ns = None
        self.a = NodeSlot(self, "a")
        self.b = NodeSlot(self, "b")
        self.client_if, self.server_if = p + "c0", p + "s0"
        self.crt_if = {"client": p + "rc", "a": p + "ra", "b": p + "rb"}
        self.srt_if = {"server": p + "ss", "a": p + "sa", "b": p + "sb"}
        # --peer-link-gateway: a router between the nodes' peer links
        if opts.peer_link_routed and opts.peer_link != "udp":
            raise LabError("--peer-link-gateway needs --peer-link udp")
        self.plr = Namespace(f"{p}-plr") if opts.peer_link_routed else None
        self.plr_if = {"a": p + "la", "b": p + "lb"}
        # --impair: the HA (and peer) link through a relay in namespace sw
        if "peer" in opts.impair_links and (opts.peer_link != "raw" or opts.peer_link_routed):
            raise LabError("an impaired peer link needs the raw peer link")
        self.sw = Namespace(f"{p}-sw") if opts.impair_links else None
        self.sw_if = {f"{k}{x}": f"{p}{'H' if k == 'ha' else 'P'}{x}"
                      for k in opts.impair_links for x in "ab"}
        self.impaired = None   # link_impairer.ImpairedLinks, once built
        self.routes = {"fwd": [], "rev": []}
        self.route_mode = ""
        self.marks_path = ""
        # tandemd serves `show high-availability state`; the Linux kinds have no HA
        self.ha_supported = opts.node == "tandemd"
        self.ha_errors = 0   # HA state requests that failed (each one a state not read)
        self._shells: dict[str, IpShell] = {}
        self.paths_moved_after = 0.0

    # --- structure -----------------------------------------------------------------------

    def slot(self, letter: str) -> NodeSlot:
        return self.a if letter == "a" else self.b

    @property
    def slots(self) -> tuple[NodeSlot, NodeSlot]:
        return self.a, self.b

    def namespaces(self) -> list[Namespace]:
        return ([self.client, self.crt, self.a.node_ns, self.b.node_ns, self.srt, self.server]
                + ([self.plr] if self.plr else []) + ([self.sw] if self.sw else []))

    def namespace(self, where: str) -> Namespace:
        return {"client": self.client, "server": self.server, "crt": self.crt, "srt": self.srt,
                "a": self.a.node_ns, "b": self.b.node_ns, "sw": self.sw}[where]

    def build(self) -> None:
        prepare(self, self.slots)
        for ns_a, if_a, ns_b, if_b in self._links():
            add_veth(ns_a, if_a, ns_b, if_b)
        tune_routers(self.crt, self.srt, (self.plr,) if self.plr else ())
        tune_endpoints(self.client, self.server)
        self._addresses()
        real_frames_up(self._all_ifaces())
        for r, ifaces in (((self.crt, self.crt_if), (self.srt, self.srt_if))
                          + (((self.plr, self.plr_if),) if self.plr else ())):
            no_rp_filter(r, ifaces.values())
        self.client.run(["ip", "route", "add", "default", "via", CLIENT_GW])
        self.server.run(["ip", "route", "add", "default", "via", SERVER_GW])
        for s in self.slots:
            s.peer_mac = link_mac(s.node_ns, s.peer_if)
        if self.opts.node == "tandemd" and self.opts.curve:
            curve_keys(self.slots)
        self._wait_links_up(5.0)
        if self.opts.node == "tandemd" and self.opts.peer_link == "udp":
            for s in self.slots:
                keep_peer_link_from_kernel(s.node_ns, s.peer_if)
        self._split_marks()
        self.set_routes("ecmp")
        if self.sw:
            from link_impairer import ImpairedLinks
            self.impaired = ImpairedLinks(self, [f"{k[:-1]}:{i}" for k, i in self.sw_if.items()])
        self.log(f"pair lab {self.prefix}: {self.client.name} {CLIENT_IP} -- {self.crt.name} -- "
                 f"{{{self.a.node_ns.name} | {self.b.node_ns.name}}} -- {self.srt.name} -- "
                 f"{self.server.name} {SERVER_IP}; peer link {self.a.peer_if}<->{self.b.peer_if}"
                 f" (MTU 9000, {self.opts.peer_link if self.opts.node == 'tandemd' else 'n/a'}"
                 f"{', via ' + self.plr.name if self.plr else ''})"
                 f", HA {HA_IP['a']}<->{HA_IP['b']}")

    def _links(self) -> list[tuple[Namespace, str, Namespace, str]]:
        """Every veth: the data paths, then the HA and peer links (to each
        other, or through the impairing relay or the peer-link router)."""
        A, B = self.a, self.b
        links = [
            (self.client, self.client_if, self.crt, self.crt_if["client"]),
            (self.crt, self.crt_if["a"], A.node_ns, A.inside_if),
            (self.crt, self.crt_if["b"], B.node_ns, B.inside_if),
            (A.node_ns, A.outside_if, self.srt, self.srt_if["a"]),
            (B.node_ns, B.outside_if, self.srt, self.srt_if["b"]),
            (self.srt, self.srt_if["server"], self.server, self.server_if),
        ]
        if "ha" in self.opts.impair_links:
            links += [(s.node_ns, s.ha_if, self.sw, self.sw_if["ha" + s.letter])
                      for s in self.slots]
        else:
            links.append((A.node_ns, A.ha_if, B.node_ns, B.ha_if))
        if self.plr:
            links += [(s.node_ns, s.peer_if, self.plr, self.plr_if[s.letter]) for s in self.slots]
        elif "peer" in self.opts.impair_links:
            links += [(s.node_ns, s.peer_if, self.sw, self.sw_if["peer" + s.letter])
                      for s in self.slots]
        else:
            links.append((A.node_ns, A.peer_if, B.node_ns, B.peer_if))
        return links

    def _addresses(self) -> None:
        """The endpoints', routers' and HA addresses; MTU 9000 on the peer
        link."""
        addrs = [
            (self.client, self.client_if, f"{CLIENT_IP}/24"),
            (self.crt, self.crt_if["client"], f"{CLIENT_GW}/24"),
            (self.crt, self.crt_if["a"], f"{SEG['a'][0]}/24"),
            (self.crt, self.crt_if["b"], f"{SEG['b'][0]}/24"),
            (self.srt, self.srt_if["a"], f"{SEG['a'][1]}/24"),
            (self.srt, self.srt_if["b"], f"{SEG['b'][1]}/24"),
            (self.srt, self.srt_if["server"], f"{SERVER_GW}/24"),
            (self.server, self.server_if, f"{SERVER_IP}/24"),
            (self.a.node_ns, self.a.ha_if, f"{HA_IP['a']}/24"),
            (self.b.node_ns, self.b.ha_if, f"{HA_IP['b']}/24"),
        ]
        if self.plr:
            addrs += [(self.plr, self.plr_if[x], f"{PEER_LINK_GATEWAY[x]}/24") for x in "ab"]
        for ns, iface, cidr in addrs:
            ns.run(["ip", "addr", "add", cidr, "dev", iface])
        for s in self.slots:
            s.node_ns.run(["ip", "link", "set", s.peer_if, "mtu", "9000"])
            if self.plr:
                self.plr.run(["ip", "link", "set", self.plr_if[s.letter], "mtu", "9000"])
            if "peer" in self.opts.impair_links:
                self.sw.run(["ip", "link", "set", self.sw_if["peer" + s.letter], "mtu", "9000"])

    def _split_marks(self) -> None:
        """The split modes: connections by a bit of the client port (Linux
        hands out consecutive even ports to connect(), so bit 1 alternates);
        nftables marks them, a rule sends marked packets to table 101."""
        for r, match in ((self.crt, "tcp sport"), (self.srt, "tcp dport")):
            r.run(["nft", "-f", "-"], input=(
                "table ip tandem_lab_split {\n"
                "    chain prerouting {\n"
                "        type filter hook prerouting priority mangle; policy accept;\n"
                f"        {match} & {SPLIT_BIT} == {SPLIT_BIT} meta mark set 0x101\n"
                "    }\n"
                "}\n"))
            r.run(["ip", "rule", "add", "pref", "100", "fwmark", "0x101", "lookup", "101"])

    def _all_ifaces(self):
        out = [(self.client, self.client_if), (self.server, self.server_if)]
        out += [(self.crt, i) for i in self.crt_if.values()]
        out += [(self.srt, i) for i in self.srt_if.values()]
        for s in self.slots:
            out += [(s.node_ns, i) for i in (s.inside_if, s.outside_if, s.peer_if, s.ha_if)]
        if self.plr:
            out += [(self.plr, i) for i in self.plr_if.values()]
        if self.sw:
            out += [(self.sw, i) for i in self.sw_if.values()]
        return out

    def _wait_links_up(self, timeout: float) -> None:
        end = time.monotonic() + timeout
        while True:
            down = [i for ns, i in self._all_ifaces()
                    if link_info(ns, i).get("operstate") != "UP"]
            if not down:
                return
            if time.monotonic() > end:
                raise LabTimeout(f"links not up after {timeout} s: {down}")
            time.sleep(0.05)

    # --- routes --------------------------------------------------------------------------

    # Connections whose client port has SPLIT_BIT set follow table 101 (marks
    # and a rule on both routers, installed at build); the others the main
    # table.
    # Except in the split modes, both tables hold the same routes.
    MODES = {
        "asymmetric": (["a"], ["b"], ["a"], ["b"]),
        "symmetric-a": (["a"], ["a"], ["a"], ["a"]),
        "symmetric-b": (["b"], ["b"], ["b"], ["b"]),
        "ecmp": (["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"]),
        "split": (["a"], ["a"], ["b"], ["b"]),
        "split-asymmetric": (["a"], ["b"], ["b"], ["a"]),
    }

    def set_routes(self, mode: str | None = None, fwd: list[str] | None = None,
                   rev: list[str] | None = None, fwd_hi: list[str] | None = None,
                   rev_hi: list[str] | None = None) -> None:
        """Paths by name (ROUTE_MODES) or explicitly: fwd = the nodes crt
        sends client->server traffic through, rev = the nodes srt sends
        server->client traffic through; *_hi the same for connections whose
        client port has SPLIT_BIT set (default: as fwd / rev). Both routers
        change at once."""
        if mode is not None:
            fwd, rev, fwd_hi, rev_hi = self.MODES[mode]
        fwd_hi = fwd if fwd_hi is None else fwd_hi
        rev_hi = rev if rev_hi is None else rev_hi
        cmds = []
        for ns, net, side, tables in ((self.crt, SERVER_NET, 1, ((fwd, "main"), (fwd_hi, "101"))),
                                      (self.srt, CLIENT_NET, 0, ((rev, "main"), (rev_hi, "101")))):
            lines = []
            for hops, table in tables:
                via = [SEG[h][side] for h in hops]
                if len(via) == 1:
                    route = ["via", via[0]]
                else:
                    route = [w for v in via for w in ("nexthop", "via", v, "weight", "1")]
                # "table" before the nexthops: ip parses everything after
                # "nexthop" as nexthop options (and exits on a bad one)
                lines.append("route replace " + " ".join([net, "table", table, *route]))
            cmds.append((self._router_shell(ns), "\n".join(lines)))
        # both routers at once: write both commands, then collect the answers
        for sh, cmd in cmds:
            sh.send(cmd)
        for sh, cmd in cmds:
            sh.wait_done(cmd, timeout=10.0)
        self.routes = {"fwd": list(fwd), "rev": list(rev), "fwd_hi": list(fwd_hi),
                       "rev_hi": list(rev_hi)}
        self.route_mode = mode or self.describe_routes()

    def describe_routes(self) -> str:
        r = self.routes
        text = f"crt via {'+'.join(r['fwd'])}, srt via {'+'.join(r['rev'])}"
        if (r["fwd_hi"], r["rev_hi"]) != (r["fwd"], r["rev"]):
            text = (f"client port & {SPLIT_BIT} == 0: {text}; else crt via "
                    f"{'+'.join(r['fwd_hi'])}, srt via {'+'.join(r['rev_hi'])}")
        return text

    def _router_shell(self, ns: Namespace) -> "IpShell":
        sh = self._shells.get(ns.name)
        if sh is None or not sh.alive():
            sh = self._shells[ns.name] = IpShell(ns)
        return sh

    def start_syn_map(self, ports: list[int]) -> None:
        """Starts recording which node each new connection's SYN (from crt)
        and SYN-ACK (from srt) crosses; stop_syn_map() returns the map."""
        for s in self.slots:
            args = ["syn-map", "--iface", s.inside_if, "--iface", s.outside_if]
            for p in ports:
                args += ["--port", str(p)]
            self.start_service(f"syn-map-{s.letter}", s.letter, args)

    def stop_syn_map(self) -> dict[int, str]:
        """{client port: "A>B"} - the node the SYN crossed > the node the
        SYN-ACK crossed ("?" where a capture saw nothing)."""
        fwd: dict[int, str] = {}
        rev: dict[int, str] = {}
        for s in self.slots:
            r = self.stop_service(f"syn-map-{s.letter}", timeout=10.0)
            for port in r.get("syn", {}).get(s.inside_if, []):
                fwd.setdefault(port, s.letter.upper())
            for port in r.get("synack", {}).get(s.outside_if, []):
                rev.setdefault(port, s.letter.upper())
        if self.opts.nat:
            # A SYN-ACK goes to the translated port, which the SYN's node
            # (the session's owner, first packet) gave out of its own port
            # block: that names the SYN's node (keyed by translated port).
            return {p: f"{nat_block_owner(p).upper()}>{n}" for p, n in rev.items()}
        return {p: f"{fwd.get(p, '?')}>{rev.get(p, '?')}" for p in set(fwd) | set(rev)}

    def move_paths_off(self, letter: str) -> None:
        """Failover: every nexthop through node `letter` goes to the other."""
        other = OTHER[letter]

        def moved(hops):
            out = [other if h == letter else h for h in hops]
            return list(dict.fromkeys(out))
        r = self.routes
        self.set_routes(fwd=moved(r["fwd"]), rev=moved(r["rev"]), fwd_hi=moved(r["fwd_hi"]),
                        rev_hi=moved(r["rev_hi"]))

    # --- nodes ---------------------------------------------------------------------------

    def start_nodes(self, deadline: Deadline | None = None) -> None:
        for s in self.slots:
            self.start_node(s)
        self.wait_ha_ready(deadline)
        self.prewarm()

    def start_node(self, s: NodeSlot) -> None:
        node = make_pair_node(self.opts)
        node.start(s)
        s.node, s.dead = node, False

    def kill_node(self, s: NodeSlot, move_paths: bool = True, freeze: bool = False,
                  reap: bool = True) -> float:
        """SIGKILL (or delete the kernel bridge) and, at once, move its paths
        to the survivor. Returns the kill time (time.monotonic()). freeze:
        SIGSTOP instead, a power cut as its peer sees it (no socket closes,
        nothing more is sent); the stopped process is killed at the end.
        reap=False: the caller reaps (s.node.reap()) once it has measured
        what follows the kill (the process's exit can take seconds)."""
        t = time.monotonic()
        s.dead = True
        if freeze:
            s.node.proc.send_signal(signal.SIGSTOP)
        else:
            s.node.kill()
        if move_paths:
            self.move_paths_off(s.letter)
        self.paths_moved_after = time.monotonic() - t
        if reap and not freeze:
            s.node.reap()
        return t

    def restart_node(self, s: NodeSlot, deadline: Deadline | None = None) -> None:
        old = s.node
        if old is not None and hasattr(old, "stop") and not isinstance(old, PairTandemdNode):
            try:
                old.stop()
            except LabError:
                pass
        s.node = None
        self.start_node(s)

    def check_node(self) -> None:
        for s in self.slots:
            if s.node is not None and not s.dead:
                s.node.check_alive()

    def stop_nodes(self) -> dict[str, dict]:
        out = {}
        for s in self.slots:
            node, s.node = s.node, None
            if node is None:
                continue
            try:
                out[s.letter] = node.stop() if not s.dead else {"exit_code": None}
            except LabError as e:
                out[s.letter] = {"exit_code": None, "error": str(e)}
        return out

    def prewarm(self) -> None:
        """Neighbour entries on both segments, and a first packet through each
        node (ICMP echo from crt to srt's address on each segment)."""
        for letter in ("a", "b"):
            s = self.slot(letter)
            if s.dead or s.node is None:
                continue
            self.ping_segment(letter)

    def ping_segment(self, letter: str, count: int = 3, timeout: float = 15.0) -> dict:
        r = self.tool("crt", ["icmp-echo", "--dst", SEG[letter][1], "--count", str(count),
                              "--timeout", "1.0", "--interval", "0.01"], timeout=timeout)
        return r

    # --- HA and sessions through the control socket --------------------------------------------

    def control(self, s: NodeSlot):
        n = s.node
        return n.control if isinstance(n, PairTandemdNode) and not s.dead else None

    def ha_state(self, s: NodeSlot) -> dict | None:
        """`show high-availability state`, or None: not tandemd, dead, or this
        request failed (counted in ha_errors and logged; the next one is
        asked again, and a check that needed this answer fails)."""
        c = self.control(s)
        if c is None or not self.ha_supported:
            return None
        try:
            return c.request("show high-availability state", timeout=2.0)
        except ControlError as e:
            self.ha_errors += 1
            self.log(f"{s.label}: `show high-availability state` failed ({e})")
            return None

    def wait_ha_ready(self, deadline: Deadline | None = None, timeout: float | None = None,
                      nodes: tuple | None = None) -> dict[str, dict | None]:
        """Waits until every live node (or those in `nodes`) reports an
        active state and sees its peers as `ha_ok` asks. Returns the last
        states; NodeFailed when the time is up."""
        timeout = timeout or self.opts.ha_timeout
        if deadline is not None:
            timeout = deadline.cap(timeout)
        slots = nodes or self.ha_slots()
        end = time.monotonic() + timeout
        states: dict[str, dict | None] = {}
        while True:
            self.check_node()
            done = True
            for s in slots:
                st = self.ha_state(s)
                states[s.letter] = st
                if st is None:
                    # the Linux kinds have no HA state; tandemd must answer
                    done = done and not self.ha_supported
                elif not self.ha_ok(s, st):
                    done = False
            if done:
                return states
            if time.monotonic() > end:
                raise NodeFailed("HA did not become ready within "
                                 f"{timeout:.0f} s: " + "; ".join(
                                     f"{self.slot(k).label}: {ha_summary(v)}"
                                     for k, v in states.items()))
            time.sleep(0.05)

    def ha_slots(self) -> tuple:
        """The nodes wait_ha_ready waits for by default: those not killed."""
        return tuple(s for s in self.slots if not s.dead)

    def ha_ok(self, s: NodeSlot, st: dict) -> bool:
        """Node s's HA state `st` is ready: active, and its peer alive and
        active unless the peer was killed."""
        return ha_ready(st, expect_peer=not s.other.dead)

    def sessions(self, s: NodeSlot, port: int | None = None,
                 live_only: bool = True) -> dict | None:
        """Sessions in node s's table by owner id: {"total": n, "by_owner":
        {id: n}, "shown": n, "truncated": bool}; `port`: only sessions with
        that port on either side; `live_only`: not those of connections that
        are closing or closed (fin-wait, time-wait, close, ...). None when the
        node cannot say."""
        c = self.control(s)
        if c is None:
            return None

        def ask(**filters):
            # a request that times out on a loaded machine is asked again;
            # three failures in a row: the node could not show it
            for i in range(3):
                try:
                    return c.request("show session all", timeout=5.0, **filters)
                except (ControlError, LabTimeout) as e:
                    self.log(f"{s.label}: `show session all` failed ({e}), try {i + 1} of 3")
                    time.sleep(0.2)
            return None
        r = ask()
        if r is None:
            return None
        sessions = r.get("sessions")
        if not isinstance(sessions, list):
            return None
        by_owner: dict = {}
        shown = 0
        for x in sessions:
            if port is not None and port not in (x.get("dport"), x.get("sport")):
                continue
            if live_only and str(x.get("state", "established")) not in LIVE_STATES:
                continue
            shown += 1
            o = x.get("owner", "?")
            by_owner[o] = by_owner.get(o, 0) + 1
        truncated = bool(r.get("truncated")) or r.get("total", len(sessions)) > len(sessions)
        if truncated and port is not None:
            # let the daemon filter and count
            by_owner = {}
            for node_id in (1, 2):
                extra = {"state": "established"} if live_only else {}
                rr = ask(dport=port, owner=node_id, **extra)
                if rr is None:
                    return None  # a missing owner would read as owning none
                by_owner[node_id] = rr.get("total", len(rr.get("sessions", [])))
        return {"total": r.get("total", len(sessions)), "by_owner": by_owner, "shown": shown,
                "truncated": truncated}

    def counters(self, s: NodeSlot) -> dict | None:
        n = s.node
        if n is None or s.dead:
            return None
        if isinstance(n, PairTandemdNode):
            try:
                return n.counters()
            except (NodeFailed, ControlError, LabTimeout):
                return None
        if isinstance(n, KernelBridgeNode):
            return n.counters()
        return None

    def request(self, s: NodeSlot, command: str, **args) -> tuple[bool, object]:
        """Sends an operator command: through the `tandem` CLI when it is
        built (--cli or build/release/cli/tandem), else through the control
        socket. Returns (ok, result or error text)."""
        c = self.control(s)
        if c is None:
            return False, "no control socket (not tandemd)"
        cli = self.opts.cli or DEFAULT_CLI
        if os.path.isfile(cli) and os.access(cli, os.X_OK):
            p = run([cli, "--socket", c.socket_path, "--json", "-c", command], timeout=10,
                    check=False)
            text = (p.stdout or p.stderr).strip()
            try:
                return p.returncode == 0, json.loads(p.stdout)
            except json.JSONDecodeError:
                return p.returncode == 0, text
        try:
            return True, c.request(command, timeout=5.0, **args)
        except ControlError as e:
            return False, str(e)

    # --- measurements ---------------------------------------------------------------------

    def mark(self, name: str, t: float | None = None, window: float | None = None) -> float:
        """Writes an event mark for rr-long (read when it stops)."""
        t = time.monotonic() if t is None else t
        rec = {"name": name, "t": t}
        if window is not None:
            rec["window"] = window
        with open(self.marks_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return t

    def frames_text(self, f: dict[str, dict[str, int]]) -> str:
        """A node_frames() delta as one line."""
        return (f"frames into nodeA from crt {f['a'].get('from_crt', 0)}, from srt "
                f"{f['a'].get('from_srt', 0)}; nodeB from crt {f['b'].get('from_crt', 0)}, from "
                f"srt {f['b'].get('from_srt', 0)}; peer link A->B {f['a'].get('peer_tx', 0)}, "
                f"B->A {f['b'].get('peer_tx', 0)}")

    def node_frames(self) -> dict[str, dict[str, int]]:
        """Frames arriving at each node's ports (the veth's rx counters:
        whatever runs there, they count what the wire delivered)."""
        out = {}
        for s in self.slots:
            i = link_stats(s.node_ns, s.inside_if)
            o = link_stats(s.node_ns, s.outside_if)
            p = link_stats(s.node_ns, s.peer_if)
            out[s.letter] = {"from_crt": i["rx_packets"], "from_srt": o["rx_packets"],
                             "peer_rx": p["rx_packets"], "peer_tx": p["tx_packets"]}
        return out

    def close(self) -> None:
        try:
            res = self.stop_nodes()
            for k, r in res.items():
                if r.get("exit_code") not in (None, 0):
                    self.log(f"lab: node{k.upper()} exited with code {r.get('exit_code')}")
        except BaseException as e:
            self.log(f"lab: stopping the nodes failed: {e!r}")
        for name in list(self._services):
            self._services.pop(name).kill()
        for sh in self._shells.values():
            sh.close()
        for ns in self.namespaces():
            ns.delete()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


# --- HA state helpers -----------------------------------------------------------------------------


# --- shared scenario pieces -------------------------------------------------------------------


SERVER_SERVICES = {
    "server": ["serve", "--tcp", f"{TCP_ECHO}", "--udp", f"{UDP_ECHO}"],
    "streams": ["stream-serve", "--echo", f"{RR_PORT},{IDLE_PORT}", "--source", f"{BULK_PORT}"],
}


def start_servers(lab: PairLab) -> None:
    for name, argv in SERVER_SERVICES.items():
        lab.start_service(name, "server", argv)


def storm(lab: PairLab, sec: Section, label: str, count: int, concurrency: int,
          deadline: Deadline, connect_timeout: float = 10.0, min_size: int = 64,
          max_size: int = 256, seed: int = 1, check: bool = True,
          budget: float | None = None, start_for: float | None = None,
          rate: float = 0.0) -> dict:
    """`count` short connections (connect, request, echo, close) with
    `concurrency` at a time (and, with `rate`, at most that many started a
    second); returns the tool's counts plus the endpoints' TCP counter
    deltas and the rate."""
    nc0, ns0 = lab.netstat("client"), lab.netstat("server")
    frames0 = lab.node_frames()
    node0 = {s.letter: lab.counters(s) for s in lab.slots}
    budget = deadline.cap(budget or max(60.0, count / 50.0))
    r = lab.tool("client", ["tcp-storm", "--dst", SERVER_IP, "--port", str(TCP_ECHO),
                            "--count", str(count), "--concurrency", str(concurrency),
                            "--min-size", str(min_size), "--max-size", str(max_size),
                            "--connect-timeout", str(connect_timeout), "--io-timeout", "10",
                            "--deadline", str(start_for if start_for is not None
                                              else max(5.0, budget - 25)),
                            "--seed", str(seed)] + (["--rate", str(rate)] if rate else []),
                 timeout=budget)
    nc1, ns1 = lab.netstat("client"), lab.netstat("server")
    frames1 = lab.node_frames()
    node1 = {s.letter: lab.counters(s) for s in lab.slots}
    dc, ds = delta(nc1, nc0), delta(ns1, ns0)
    r["syn_retrans"] = dc.get("TcpExtTCPSynRetrans", 0)
    r["synack_retrans"] = ds.get("TcpExtTCPSynRetrans", 0)
    r["client_retrans_segs"] = dc.get("TcpRetransSegs", 0)
    r["server_retrans_segs"] = ds.get("TcpRetransSegs", 0)
    r["client_timeouts"] = dc.get("TcpExtTCPTimeouts", 0)
    r["resets_received"] = dc.get("TcpEstabResets", 0) + ds.get("TcpEstabResets", 0)
    r["rate"] = round(r["completed"] / r["elapsed_s"], 1) if r["elapsed_s"] else 0.0
    r["frames"] = {k: delta(frames1[k], frames0[k]) for k in frames1}
    r["node_deltas"] = {k: delta(node1[k], node0[k]) for k in node1}
    failures = {k: r[k] for k in ("refused", "reset", "connect_timeout", "io_timeout",
                                  "mismatch", "not_started") if r[k]}
    failures.update(r["other"])
    r["failures"] = failures
    sec.line(f"{label}: connections {count}, attempted {r['attempted']}, completed "
             f"{r['completed']}, failed {count - r['completed']}, reset {r['reset']}, timed out "
             f"{r['timed_out']}, refused {r['refused']}, mismatch {r['mismatch']}, other "
             f"{sum(r['other'].values())}")
    sec.line(f"{label}: setup rate {r['rate']} conn/s ({r['elapsed_s']} s, {concurrency} "
             f"concurrent); connect p50 {r['connect_ms']['p50']} ms, p99 "
             f"{r['connect_ms']['p99']} ms, max {r['connect_ms']['max']} ms, over 1 s "
             f"{r['slow_connects']}; kernel handshake RTT p50 {r['handshake_rtt_ms']['p50']} ms, "
             f"p99 {r['handshake_rtt_ms']['p99']} ms")
    sec.line(f"{label}: retransmitted SYNs (client TcpExtTCPSynRetrans) {r['syn_retrans']}, "
             f"SYN-ACKs (server TcpExtTCPSynRetrans) {r['synack_retrans']}; retransmitted "
             f"segments client {r['client_retrans_segs']}, server {r['server_retrans_segs']}")
    sec.line(f"{label}: {lab.frames_text(r['frames'])}")
    for letter, d in r["node_deltas"].items():
        if d:
            sec.line(f"{label}: node{letter.upper()} counters: {counter_line(d)}")
    if check:
        sec.check(f"{label}: {r['completed']}/{count} connections completed, echo verified",
                  r["completed"] == count and r["bytes_verified"] == r["bytes_sent"])
        sec.check(f"{label}: no failed connection {failures or ''}".rstrip(), not failures)
    return r


def start_rr(lab: PairLab, conns: int, interval: float, bulk_rate: int, bulk_conns: int = 1,
             name: str = "rr", target_ms: float = 300.0, window: float = 5.0,
             timeout: float = 30.0, seed: int = 3, connect_timeout: float = 10.0) -> dict:
    """Starts rr-long in the client namespace; returns its ready line (every
    connection answered once, bulk data flowing)."""
    args = ["rr-long", "--dst", SERVER_IP, "--port", str(RR_PORT), "--conns", str(conns),
            "--interval", str(interval), "--marks", lab.marks_path, "--window", str(window),
            "--target-ms", str(target_ms), "--seed", str(seed),
            "--connect-timeout", str(connect_timeout)]
    if bulk_conns:
        args += ["--bulk-port", str(BULK_PORT), "--bulk-conns", str(bulk_conns),
                 "--bulk-rate", str(bulk_rate)]
    return lab.start_service(name, "client", args, timeout=timeout)


def start_idle(lab: PairLab, sec: Section, conns: int, name: str = "idle") -> dict:
    """Opens `conns` idle connections (idle-conns on IDLE_PORT): each answers
    one request, then stays silent until use_idle()."""
    ready = lab.start_service(name, "client", ["idle-conns", "--dst", SERVER_IP, "--port",
                                               str(IDLE_PORT), "--conns", str(conns)],
                              timeout=30.0)
    sec.line(f"{name}: {ready['live']}/{conns} idle connections answered once, then silent"
             f"{' (broken ' + str(ready['broken_reasons']) + ')' if ready['broken'] else ''}")
    sec.check(f"{name}: every idle connection connected and answered ({ready['live']}/{conns})",
              ready["live"] == conns)
    return ready


def use_idle(lab: PairLab, sec: Section, label: str, name: str = "idle") -> dict:
    """Sends one request on every idle connection; checks that every one was
    answered (a connection the cluster lost is reset or never answered)."""
    proc = lab.service(name)
    proc.send_signal(signal.SIGUSR2)
    while True:
        r = proc.read_json(30.0)
        if r.get("event") == "used":
            break
    sec.line(f"{name} {label}: {r['answered']}/{r['conns']} answered in {r['elapsed_ms']} ms, "
             f"broken {r['broken']} {r['broken_reasons'] or ''}".rstrip())
    sec.check(f"{name} {label}: every idle connection answered ({r['answered']}/{r['conns']}, "
              f"broken {r['broken']})", r["answered"] == r["conns"] and r["broken"] == 0)
    return r


def stop_idle(lab: PairLab, sec: Section, name: str = "idle") -> dict:
    final = lab.stop_service(name, timeout=15.0)
    if final.get("event") != "stopped":
        raise LabError(f"idle-conns gave no final result ({final})")
    sec.check(f"{name}: every idle connection closed cleanly at the end "
              f"({final['closed_clean']}/{final['conns']})",
              final["closed_clean"] == final["conns"])
    return final


def rr_stats(lab: PairLab, name: str = "rr") -> dict:
    lab.check_node()
    return lab.service_stats(name, timeout=5.0)


def wait_rr_recovered(lab: PairLab, since: float, timeout: float, name: str = "rr") -> float | None:
    """Waits until every live rr-long connection has had a response after
    `since` (and the bulk streams received data). Returns the time that took
    (from `since`), or None on timeout."""
    end = time.monotonic() + timeout
    while True:
        st = rr_stats(lab, name)
        bulk_ok = all(b["last_rx"] > since or b["state"] != "running" for b in st["bulk"])
        if st["oldest_last_response"] > since and bulk_ok:
            return st["t"] - since
        if time.monotonic() > end:
            return None
        time.sleep(0.02)


def stop_rr(lab: PairLab, name: str = "rr") -> dict:
    proc = lab.service(name)
    final = lab.stop_service(name, timeout=30.0)
    if final.get("event") != "stopped":
        raise LabError(f"rr-long gave no final result ({final}): "
                       f"{proc.stderr_text()[-3000:]}")
    return final


# A bulk stream keeps segments in flight: those lost in an outage are sent
# again when the sender's retransmission timer fires (Linux's minimum RTO is
# 200 ms), so its gap may exceed the request/response gap by that much.
BULK_EXTRA_MS = 200.0


def report_rr(sec: Section, r: dict, label: str = "long-lived", marks: tuple[str, ...] = (),
              target_ms: float | None = 300.0, bulk_target_ms: float | None = None) -> None:
    """Prints rr-long's counted outcome and checks: every connection alive
    to the end and closed cleanly, no mismatch, bulk intact; for each event
    mark in `marks`, the largest gap measured from it (the bulk streams'
    against `bulk_target_ms`, default `target_ms` + BULK_EXTRA_MS)."""
    n = r["conns"]
    sec.line(f"{label}: connections {n}, connected {r['connected']}, broken {r['broken']} "
             f"{r['broken_reasons'] or ''}, stalled at the end {r['unfinished']}, closed cleanly "
             f"{r['closed_clean']}, requests "
             f"{r['requests']}, responses {r['responses']}, mismatched {r['mismatch']}")
    sec.line(f"{label}: steady-state gap between responses p50 {r['steady_gap_ms']['p50']} ms, "
             f"p99 {r['steady_gap_ms']['p99']} ms, max {r['steady_gap_ms']['max']} ms "
             f"(interval {r['interval_ms']:g} ms)")
    for b in r["bulk"]:
        sec.line(f"{label}: bulk stream (sport {b['sport']}): {b['bytes']} bytes, "
                 f"{b['mbit_s']} Mbit/s, corrupt chunks {b['bad_chunks']}, largest receive gap "
                 f"{b['max_gap_ms']} ms, {b['state']}{' ' + b['error'] if b['error'] else ''}")
    for d in r["broken_detail"][:5]:
        sec.line(f"{label}: broken: conn {d['conn']} sport {d['sport']} {d['reason']} after "
                 f"{d['responses']} {'bytes' if str(d['conn']).startswith('bulk') else 'responses'}")
    sec.check(f"{label}: {r['connected']}/{n} connected, {r['broken']} broken, "
              f"{r['closed_clean']}/{n} closed cleanly at the end",
              r["connected"] == n and r["broken"] == 0 and r["closed_clean"] == n)
    sec.check(f"{label}: every response matched its request (mismatched {r['mismatch']})",
              r["mismatch"] == 0)
    for b in r["bulk"]:
        sec.check(f"{label}: bulk stream intact ({b['bytes']} bytes, corrupt {b['bad_chunks']}, "
                  f"{b['state']}, closed {b['closed'] or '-'})",
                  b["state"] == "done" and b["closed"] == "clean" and b["bad_chunks"] == 0
                  and b["bytes"] > 0)
    by_name = {m["name"]: m for m in r["marks"]}
    for name in marks:
        m = by_name.get(name)
        if m is None:
            sec.check(f"{label}: event '{name}' was marked", False)
            continue
        g = m["gap_ms"]
        worst = ", ".join(f"sport {w['sport']} {w['gap_ms']} ms" for w in m["worst"][:3])
        sec.line(f"{label}: largest gap between responses measured from '{name}' (window "
                 f"{m['window_s']:g} s): max {g['max']} ms, p99 {g['p99']} ms, p50 {g['p50']} "
                 f"ms; over {r['target_ms']:g} ms: {m['over_target']} of {n}; bulk "
                 f"{m['bulk_gap_ms']} ms; worst: {worst}")
        if target_ms is not None:
            bulk_max = max([x for x in m["bulk_gap_ms"] if x is not None], default=0.0)
            bulk_target = target_ms + BULK_EXTRA_MS if bulk_target_ms is None else bulk_target_ms
            sec.check(f"{label}: '{name}': max gap {g['max']} ms (p99 {g['p99']} ms) <= "
                      f"{target_ms:g} ms, bulk {bulk_max} ms <= {bulk_target:g} ms",
                      g["max"] is not None and g["max"] <= target_ms and
                      bulk_max <= bulk_target)


def show_ha(lab: PairLab, sec: Section, label: str) -> dict:
    out = {}
    if lab.opts.node != "tandemd":
        return {s.letter: None for s in lab.slots}
    for s in lab.slots:
        st = lab.ha_state(s)
        out[s.letter] = st
        if s.dead:
            sec.line(f"{label}: {s.label}: (down)")
        else:
            sec.line(f"{label}: {s.label}: {ha_summary(st)}")
    return out


def show_ownership(lab: PairLab, sec: Section, label: str, port: int | None = RR_PORT) -> dict:
    """Prints, per live node, its table's sessions (of `port`) by owner id."""
    out = {}
    if lab.opts.node != "tandemd":
        return {s.letter: None for s in lab.slots if not s.dead}
    for s in lab.slots:
        if s.dead:
            continue
        so = lab.sessions(s, port)
        out[s.letter] = so
        if so is None:
            sec.line(f"{label}: {s.label}: sessions by owner n/a")
        else:
            own = ", ".join(f"node {k}: {v}" for k, v in sorted(so["by_owner"].items(),
                                                                  key=lambda kv: str(kv[0])))
            sec.line(f"{label}: {s.label} table ({'port ' + str(port) if port else 'all'}): "
                     f"{own or 'none'}{' (truncated list)' if so['truncated'] else ''}")
    return out


def owned_by(own: dict, node_id: int) -> int | None:
    """Sessions owned by `node_id` as its own table says (else the other's)."""
    letter = "a" if node_id == 1 else "b"
    for k in (letter, OTHER[letter]):
        so = own.get(k)
        if so is not None:
            return so["by_owner"].get(node_id, so["by_owner"].get(str(node_id), 0))
    return None


# --- runner -----------------------------------------------------------------------------------


def common_args(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--node", choices=NODE_KINDS, default="tandemd",
                    help="tandemd; kernel (stateless bridges: everything passes); kernel-ct "
                         "(two unsynchronised conntrack firewalls: must fail)")
    add_tandemd_arg(ap)
    add_ha_args(ap, cli_help="the tandem CLI (default build/release/cli/tandem "
                             "if built, else the control socket directly)")
    ap.add_argument("--peer-link-gateway", action="store_true",
                    help="udp peer link: the nodes in two subnets behind a router namespace "
                         "([ha] peer-link-gateway)")
    ap.add_argument("--workers", type=int, default=1, help="tandemd workers per node")
    ap.add_argument("--nat", action="store_true",
                    help=f"tandemd: every session from inside to outside source-translated to "
                         f"the pool {NAT_POOL} (in the client's subnet, so the server's router "
                         f"sends its replies back through the nodes)")
    add_run_args(ap, deadline=170.0)
    return ap


def options_from(args, **over) -> PairOptions:
    o = PairOptions(**ha_options(args), peer_link_routed=args.peer_link_gateway,
                    workers=args.workers, nat=args.nat)
    for k, v in over.items():
        setattr(o, k, v)
    return o


def pair_up(lab: PairLab, report: Report, deadline: Deadline, tag: str) -> None:
    """Starts the server services and both nodes; with tandemd, the "pair
    up" section: both nodes active and seeing each other."""
    start_servers(lab)
    lab.start_nodes(deadline)
    if lab.opts.node != "tandemd":
        return
    sec = report.section(f"pair up{' (' + tag + ')' if tag else ''}")
    states = show_ha(lab, sec, "HA")
    sec.check("both nodes report an active state and see each other alive and active",
              all(states.get(s.letter) is not None and
                  ha_ready(states[s.letter], expect_peer=True) for s in lab.slots))


def pair_main(description: str, body, argv=None, configure=None, variants=None) -> int:
    """Parses the options, then for each variant (a dict of PairOptions
    overrides, default one: none; its "label", if any, names it in the
    output) builds a pair lab, starts the server services and both nodes,
    waits for HA, and runs body(lab, args, report, deadline, variant).
    Prints the counted outcomes; exit 0 passed, 1 a check failed or a node
    failed, 2 the lab could not run, 77 skipped."""
    ap = common_args(description)
    if configure:
        configure(ap)
    args = ap.parse_args(argv)
    try:
        tools = ("ip", "ethtool") + (("nft", "conntrack") if args.node == "kernel-ct" else ())
        args.tandemd = preflight(tools, args.tandemd, need_tandemd=args.node == "tandemd")
    except LabSkip as e:
        return skip_exit(e)
    lab_run = LabRun(args.deadline)
    report = Report(args.node)
    print(f"{description}\nnode: {args.node}"
          + (f", peer link {args.peer_link}" if args.node == "tandemd" else ""), flush=True)
    run_variants(lab_run, args, report, body, variants,
                 lambda over: PairLab(options_from(args, **over)), pair_up)
    if lab_run.skip_code is not None:
        return lab_run.skip_code
    return finish_report(lab_run, report, f"node {args.node}", args.json, {"node": args.node})


# --- failover and revert (scenarios 3 and 4) ------------------------------------------------------


def add_longlived_args(ap) -> None:
    add_probe_args(ap)
    add_traffic_args(ap, steady_help="seconds of traffic before the first event (the baseline)")
    ap.add_argument("--spread", choices=("ecmp", "split", "split-asymmetric"), default="ecmp",
                    help="how connections spread over the nodes: ecmp (each direction picks a "
                         "node independently), split (half the connections by client port, "
                         "both directions through the same node: no asymmetric flow), "
                         "split-asymmetric (half A->B, half B->A: every flow asymmetric)")


def start_longlived(lab: PairLab, args, sec: Section, name: str = "rr", conns: int | None = None,
                    bulk: bool = True, window: float = 5.0, must_connect: bool = True,
                    connect_timeout: float = 10.0) -> dict:
    """Starts rr-long and waits until every connection answered once (or
    failed). must_connect: a connection that could not connect ends the
    scenario (NodeFailed); otherwise it is a failed check and the scenario
    goes on with the others (rr-long reports them as broken at the end)."""
    conns = conns or args.conns
    lab.start_syn_map([RR_PORT, BULK_PORT])
    try:
        ready = start_rr(lab, conns, args.interval_ms / 1000.0, int(args.bulk_mbit * 1e6 / 8),
                         bulk_conns=1 if bulk else 0, name=name, target_ms=args.target_ms,
                         window=window, timeout=30.0, connect_timeout=connect_timeout)
    finally:
        ready_paths = lab.stop_syn_map()
    ready["paths"] = ready_paths
    sec.line(f"{name}: {ready['connected']}/{conns} connections answering (request every "
             f"{args.interval_ms:g} ms){', 1 bulk stream at ' + format(args.bulk_mbit, 'g') + ' Mbit/s' if bulk else ''}"
             f"; connect failures {ready['connect_failed']}")
    show_flow_paths(lab, sec, ready, f"{name} flows")
    bulk_bad = sum(1 for b in ready.get("bulk", []) if b["state"] == "broken")
    if ready["connected"] < conns or bulk_bad:
        sec.check(f"{name}: every long-lived connection connected and answered "
                  f"({ready['connected']}/{conns}, bulk streams broken {bulk_bad})", False)
        if not must_connect:
            return ready
        raise NodeFailed(f"{conns - ready['connected']} of {conns} long-lived connections could "
                         f"not connect or answer (bulk broken {bulk_bad}); the scenario cannot "
                         f"go on")
    return ready


def show_flow_paths(lab: PairLab, sec: Section, ready: dict, label: str) -> dict:
    """Prints which nodes the rr-long flows crossed during their handshake
    (SYN: crt -> node, SYN-ACK: srt -> node), from the syn-map captures."""
    fmap = ready.get("paths") or {}
    paths: dict[str, int] = {}
    for p in ready.get("sports", []):
        k = fmap.get(p, "?>?")
        paths[k] = paths.get(k, 0) + 1
    bulk = [fmap.get(p, "?>?") for p in ready.get("bulk_sports", [])]
    if fmap:
        sec.line(f"{label}: SYN node > SYN-ACK node: "
                 + ", ".join(f"{k} {v}" for k, v in sorted(paths.items()))
                 + f" (asymmetric {paths.get('A>B', 0) + paths.get('B>A', 0)} of "
                   f"{sum(paths.values())})" + (f"; bulk stream {', '.join(bulk)}" if bulk else ""))
    return paths


def hold(lab: PairLab, seconds: float, name: str = "rr") -> None:
    """Lets traffic run for `seconds` (a measurement window), watching the
    nodes and the long-lived connections meanwhile."""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return
        lab.check_node()
        if name in lab._services and not lab.service(name).alive():
            raise LabError(f"{name} exited: {lab.service(name).stderr_text()[-1000:]}")
        time.sleep(min(0.1, left))


def spread_check(sec: Section, frames: dict, label: str, show: bool = True) -> None:
    """Both nodes carried traffic in both directions (ECMP spread)."""
    a, b = frames["a"], frames["b"]
    if show:
        sec.line(f"{label}: frames into nodeA from crt {a.get('from_crt', 0)}, from srt "
                 f"{a.get('from_srt', 0)}; nodeB from crt {b.get('from_crt', 0)}, from srt "
                 f"{b.get('from_srt', 0)}; peer link A->B {a.get('peer_tx', 0)}, B->A "
                 f"{b.get('peer_tx', 0)}")
    total = sum(a.get(k, 0) + b.get(k, 0) for k in ("from_crt", "from_srt"))
    share = [(a.get(k, 0), b.get(k, 0)) for k in ("from_crt", "from_srt")]
    ok = all(x > 0.1 * (x + y) and y > 0.1 * (x + y) for x, y in share) and total > 0
    sec.check(f"{label}: traffic spread over both nodes in both directions", ok)


def measure_detection(lab: PairLab, survivor: NodeSlot, victim: NodeSlot, t_kill: float,
                      timeout: float = 5.0) -> float | None:
    """Polls the survivor's HA state until it no longer sees the killed peer
    alive. Returns seconds from the kill to the declaration, as the
    survivor's state dates it (declared_dead_at), None if not reported."""
    if lab.control(survivor) is None:
        return None
    end = t_kill + timeout
    while time.monotonic() < end:
        st = lab.ha_state(survivor)  # None when the request failed: asked again
        at = declared_dead_at(st, victim.node_id, time.monotonic())
        if at is not None:
            return at - t_kill
        time.sleep(0.005)
    return None


def failover_phase(lab: PairLab, args, sec: Section, deadline: Deadline,
                   victim_letter: str = "a", after: float = 5.0, freeze: bool = False,
                   before_kill=None) -> dict:
    """Long-lived connections and a bulk stream over ECMP; SIGKILL one node
    (freeze: SIGSTOP, a power cut) and at the same moment move its paths to
    the survivor; traffic goes on for `after` seconds. before_kill(victim,
    survivor), when given, runs after the steady baseline, under the same
    traffic. Leaves rr-long running."""
    lab.set_routes(args.spread)
    victim, survivor = lab.slot(victim_letter), lab.slot(OTHER[victim_letter])
    start_longlived(lab, args, sec, window=after)
    if args.idle:
        start_idle(lab, sec, args.idle)
    start_probe(lab, args, sec, SERVER_IP, UDP_ECHO, window=after)
    f0 = lab.node_frames()
    hold(lab, args.steady)
    spread_check(sec, {k: delta(v, f0[k]) for k, v in lab.node_frames().items()},
                 "before the kill")
    if before_kill is not None:
        before_kill(victim, survivor)
    own_before = show_ownership(lab, sec, "before the kill")
    idle_before = show_ownership(lab, sec, "idle, before the kill", port=IDLE_PORT) \
        if args.idle else {}
    tables_before = ownership(lab, RR_PORT)
    idle_tables_before = ownership(lab, IDLE_PORT) if args.idle else {}
    c_before = lab.counters(survivor)
    t_kill = lab.kill_node(victim, freeze=freeze, reap=False)
    lab.mark("kill", t_kill, window=after)
    how = "SIGSTOP: a power cut" if freeze else "SIGKILL"
    sec.line(f"{victim.label} killed ({how}{' = bridge deleted' if lab.opts.node != 'tandemd' else ''}"
             f"); routes now: {lab.describe_routes()} (both routers confirmed "
             f"{lab.paths_moved_after * 1000:.1f} ms after the kill)")
    detect = measure_detection(lab, survivor, victim, t_kill)
    if not freeze:
        victim.node.reap()
    if lab.control(survivor) is not None and lab.ha_supported:
        sec.line(f"{survivor.label} reported the peer dead "
                 f"{'after ' + format(detect * 1000, '.0f') + ' ms' if detect else 'not within 5 s'}"
                 f" (detection time {lab.opts.death_ms} ms)")
        # polled over the control socket between other samples
        bound = detection_bound_ms(lab.opts.death_ms)
        sec.check(f"{survivor.label} declared {victim.label} dead within the detection time + "
                  f"{DETECTION_MARGIN_MS} ms (polled) = {bound:g} ms",
                  detect is not None and 0 <= detect * 1000 <= bound)
    rec = wait_rr_recovered(lab, t_kill, timeout=deadline.cap(after + 10))
    sec.line(f"every long-lived connection answered again "
             f"{'%.0f ms after the kill' % (rec * 1000) if rec is not None else 'NOT within the wait'}")
    hold(lab, max(0.0, t_kill + after - time.monotonic()))
    own_after = show_ownership(lab, sec, "after the failover")
    idle_after = show_ownership(lab, sec, "idle, after the failover (no packet since the kill)",
                                port=IDLE_PORT) if args.idle else {}
    tables_after = ownership(lab, RR_PORT)
    idle_tables_after = ownership(lab, IDLE_PORT) if args.idle else {}
    c_after = lab.counters(survivor)
    if c_after is not None:
        sec.line(f"{survivor.label} counters during the failover: "
                 f"{counter_line(delta(c_after, c_before))}")
    show_ha(lab, sec, "after the failover")
    return {"t_kill": t_kill, "victim": victim, "survivor": survivor, "detect": detect,
            "recovered": rec, "own_before": own_before, "own_after": own_after,
            "idle_before": idle_before, "idle_after": idle_after,
            "tables_before": tables_before, "tables_after": tables_after,
            "idle_tables_before": idle_tables_before, "idle_tables_after": idle_tables_after}


def revert_phase(lab: PairLab, args, sec: Section, deadline: Deadline, fo: dict,
                 after: float = 3.0) -> dict:
    """Restarts the killed node with the same config, waits until it reports
    active again (and its peer sees it), checks the segment through it, moves
    its paths back, waits for revert to settle. rr-long keeps running."""
    victim, survivor = fo["victim"], fo["survivor"]
    s_before = lab.counters(survivor)
    t_restart = lab.mark("restart", window=after)
    lab.restart_node(victim)
    t_started = time.monotonic()
    states = lab.wait_ha_ready(deadline, nodes=(victim, survivor))
    t_active = time.monotonic()
    if lab.ha_supported:
        sec.line(f"{victim.label} restarted: control socket after {t_started - t_restart:.2f} s, "
                 f"active (and seen by {survivor.label}) after {t_active - t_restart:.2f} s: "
                 f"{ha_summary(states.get(victim.letter))}")
    else:
        sec.line(f"{victim.label} restarted: ready after {t_started - t_restart:.2f} s "
                 f"(HA state n/a)")
    ping = lab.ping_segment(victim.letter)
    sec.check(f"the segment through {victim.label} passes traffic again (ping from crt: "
              f"{ping['replies']}/{ping['sent']})", ping["replies"] == ping["sent"])
    own_restarted = show_ownership(lab, sec, "after the restart, paths not back yet")
    s_after = lab.counters(survivor)
    if s_after is not None:
        sec.line(f"{survivor.label} counters from the restart to here: "
                 f"{counter_line(delta(s_after, s_before))}")
    v_after = lab.counters(victim)
    if v_after is not None:
        sec.line(f"{victim.label} counters since its restart: {counter_line({k: v for k, v in v_after.items() if isinstance(v, int) and v}, limit=100)}")
    t_back = lab.mark("path back", window=after)
    lab.set_routes(args.spread)
    sec.line(f"paths back: {lab.describe_routes()}")
    rec = wait_rr_recovered(lab, t_back, timeout=deadline.cap(after + 10))
    sec.line(f"every long-lived connection answered after the paths moved back "
             f"{'%.0f ms later' % (rec * 1000) if rec is not None else 'NOT within the wait'}")
    own_final = settle_ownership(lab, victim, fo["own_before"], timeout=deadline.cap(10.0))
    hold(lab, max(0.0, t_back + after - time.monotonic()))
    own_final = show_ownership(lab, sec, "after revert settled")
    idle_final = show_ownership(lab, sec, "idle, after revert settled (still no packet)",
                                port=IDLE_PORT) if args.idle else {}
    tables_final = ownership(lab, RR_PORT)
    idle_tables_final = ownership(lab, IDLE_PORT) if args.idle else {}
    show_ha(lab, sec, "at the end")
    return {"own_restarted": own_restarted, "own_final": own_final, "t_back": t_back,
            "idle_final": idle_final, "tables_final": tables_final,
            "idle_tables_final": idle_tables_final}


def settle_ownership(lab: PairLab, victim: NodeSlot, own_before: dict, timeout: float) -> dict:
    """Waits until session ownership stops changing for 1 s (bounded)."""
    end = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        own = {s.letter: lab.sessions(s, RR_PORT) for s in lab.slots if not s.dead}
        key = json.dumps({k: (v or {}).get("by_owner") for k, v in own.items()},
                         sort_keys=True, default=str)
        now = time.monotonic()
        if key != last:
            last, since = key, now
        elif now - since >= 1.0 or all(v is None for v in own.values()):
            return own
        if now > end:
            return own
        time.sleep(0.1)
