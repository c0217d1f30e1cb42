"""What runs in the lab's node namespace, and the policy it enforces.

A node is any object with start(lab), stop() -> dict, counters() -> dict|None
and a `name`. Three are provided:

- TandemdNode: the real daemon, configured by tandemd_config();
- KernelBridgeNode(filtering=True): a Linux bridge joining the two ports with
  nftables connection-tracking rules rendered from the same Policy, the
  baseline the harness is proven against and tandemd is measured against;
- KernelBridgeNode(filtering=False): a plain bridge that filters nothing, to
  show that the tests fail when nothing enforces the policy.

Counter names follow src/pipeline/pipeline_counters.h. The kernel nodes derive
the ones they can: rx_packets / forwarded from the node ports' interface
statistics, dropped_policy / dropped_no_session from named nftables counters,
sessions_created from a named counter on the rules that admit a new
connection (a retransmitted first packet is not counted twice), and
icmp_errors_forwarded from one on ICMP errors related to a connection.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass

from lab import (DEFAULT_TANDEMD, DPDK_PREFIX_STEM, ControlClient, ControlError, LabError,
                 LabTimeout, NodeFailed,
                 cleanup, link_stats, run)


# --- policy ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One allow rule in the two renderings the lab needs (tandemd and nft)."""
    proto: str                       # tcp | udp | icmp
    dports: tuple[int, ...] = ()
    icmp_types: tuple[int, ...] = ()
    from_zone: str | None = "inside"  # None: any zone (GENEVE mode has one)
    to_zone: str | None = "outside"
    name: str = ""
    action: str = "allow"
    log: bool = False                # sessions go to the traffic log
    dst: str = ""                    # destination address or CIDR ("": any)
    app: str = ""                    # an application clause, e.g. "tls sni a.example" (tandemd)
    reset: bool = False              # deny: reset the TCP connections it denies (tandemd)

    def tandemd(self) -> str:
        parts = [self.action]
        if self.name:
            parts += ["name", self.name]
        if self.from_zone:
            parts += ["from", self.from_zone]
        if self.to_zone:
            parts += ["to", self.to_zone]
        if self.dst:
            parts += ["dst", self.dst]
        parts += ["proto", self.proto]
        if self.dports:
            parts += ["dport", ",".join(str(p) for p in self.dports)]
        if self.icmp_types:
            parts += ["icmp-type", ",".join(str(t) for t in self.icmp_types)]
        if self.app:
            parts += ["app", self.app]
        if self.reset:
            parts.append("reset")
        if self.log:
            parts.append("log")
        return " ".join(parts)

    def nft_match(self) -> str:
        """The match part of an nft rule for a connection's first packet."""
        if self.proto == "tcp":
            m = "tcp flags & (fin|syn|rst|ack) == syn"
            if self.dports:
                m = f"tcp dport {_nft_set(self.dports)} " + m
            return m
        if self.proto == "udp":
            return f"udp dport {_nft_set(self.dports)}" if self.dports else "meta l4proto udp"
        if self.proto == "icmp":
            return (f"icmp type {_nft_set(self.icmp_types)}" if self.icmp_types
                    else "meta l4proto icmp")
        raise ValueError(f"no nft rendering for proto {self.proto}")


def _nft_set(values) -> str:
    return "{ " + ", ".join(str(v) for v in values) + " }"


Policy = tuple[Rule, ...]


# --- tandemd ---------------------------------------------------------------------------


def eal_cores(workers: int, lcores: str = "0-1") -> str:
    """EAL core arguments: `-l LCORES` for one worker; for more, one lcore
    per worker spread over this machine's CPUs (lcore n on CPU n mod CPUs,
    the main lcore 0 on CPU 0), so two workers run on a 2-core machine.
    `lcores` may also be a whole EAL option (starting with "--"), used as is."""
    if lcores.startswith("--"):
        return lcores
    if workers <= 1:
        return f"-l {lcores}"
    cpus = os.cpu_count() or 1
    return "--lcores " + ",".join(f"{n}@{n % cpus}" for n in range(workers + 1))


def tandemd_config(lab, policy: Policy, *, node_id: int = 1, workers: int = 1,
                   session_capacity: int = 65536, dpdk_prefix: str, socket_path: str,
                   lcores: str = "0-1", extra: str = "", cluster_id: int | None = None,
                   node_name: str | None = None, mode: str = "inline",
                   extra_ports: dict[str, str] | None = None, control_extra: str = "",
                   port_mtu: int = 0, port_driver: str = "af_packet") -> str:
    """The single-node inline config. Every config key the lab uses is here
    (docs/config.md is the reference). `extra_ports` adds zone-less ports
    (name -> interface, e.g. a pair's raw peer link); `extra` is appended
    (e.g. [peer.N] and [ha] sections); `control_extra` goes into [control]
    (e.g. metrics-listen, traffic-log). `port_mtu` sets `mtu` on the zone
    ports, with af_packet frames large enough to hold such a frame.
    `port_driver` "pcap" opens the zone ports with DPDK's pcap driver
    (libpcap on the interface, received frames only) instead of af_packet,
    whose socket asks the kernel to reassemble IP fragments before it sees
    them (a fanout flag the driver sets): the labs that send fragments
    through a node need every fragment as it crossed the wire."""
    # One af_packet queue pair per worker (the kernel spreads frames over
    # them by its own flow hash; tandemd hands each to its flow's worker).
    queues = f",qpairs={workers}" if workers > 1 else ""
    # Jumbo frames: af_packet's ring frames (2048 bytes by default) must
    # hold the whole frame and fit one packet buffer (9216 bytes), a block
    # must hold whole frames and pages (4 x 9216 = 9 x 4096); fewer frames
    # keep the rings' memory bounded.
    ring = "framecnt=512,framesz=9216,blocksz=36864" if port_mtu else "framecnt=4096"
    mtu_line = f"mtu = {port_mtu}\n" if port_mtu else ""
    def zone_device(i: int, iface: str) -> str:
        if port_driver == "pcap":
            return f"net_pcap{i},rx_iface_in={iface},tx_iface={iface}"
        return f"net_af_packet{i},iface={iface},{ring}{queues}"
    ports = "".join(
        f"[port.{zone}]\n"
        f"device = {zone_device(i, iface)}\n"
        f"zone = {zone}\n{mtu_line}\n"
        for i, (zone, iface) in enumerate(lab.zone_ports.items()))
    first = len(lab.zone_ports)
    ports += "".join(
        f"[port.{name}]\n"
        f"device = net_af_packet{first + i},iface={iface},framecnt=4096{queues}\n\n"
        for i, (name, iface) in enumerate((extra_ports or {}).items()))
    rules = "".join(f"rule = {r.tandemd()}\n" for r in policy)
    return (
        "# generated by tests/lab/nodes.py for one lab run\n"
        "[node]\n"
        f"id = {node_id}\n"
        f"name = {node_name or f'fw{node_id}'}\n"
        + (f"cluster-id = {cluster_id}\n" if cluster_id is not None else "") + "\n"
        "[dataplane]\n"
        f"mode = {mode}\n"
        f"eal-args = --no-huge --no-pci -m 256 --no-telemetry --file-prefix {dpdk_prefix} "
        f"{eal_cores(workers, lcores)}\n"
        f"workers = {workers}\n"
        f"session-capacity = {session_capacity}\n\n"
        f"{ports}"
        "[tcp]\n"
        "pickup = false\n\n"
        "[control]\n"
        f"socket = {socket_path}\n{control_extra}\n"
        "[policy]\n"
        f"{rules}"
        f"{extra}")


def ha_config(*, peers: list[dict], listen: str, owner: str = "first-packet",
              revert: bool = True, heartbeat_ms: int = 20, hold_ms: int = 100, detect_ms: int = 0,
              peer_link: str = "raw", peer_link_port: str = "peer",
              peer_link_listen: str = "", peer_link_gateway: str = "",
              secret_key: str = "", public_key: str = "") -> str:
    """The [peer.N] sections and [ha] of one cluster member, appended to
    tandemd_config() as `extra`. Each peer: {"id", "name", "ha_address",
    "link_address", "public_key" (optional)}; `peer_link_listen` and
    `peer_link_gateway` are the udp transport's; CURVE keys when given."""
    out = ""
    for p in peers:
        out += (f"\n[peer.{p['id']}]\n"
                f"name = {p['name']}\n"
                f"ha-address = {p['ha_address']}\n"
                f"link-address = {p['link_address']}\n"
                + (f"public-key = {p['public_key']}\n" if p.get("public_key") else ""))
    out += ("\n[ha]\n"
            f"session-owner = {owner}\n"
            f"revert = {'true' if revert else 'false'}\n"
            f"heartbeat-interval-ms = {heartbeat_ms}\n"
            f"hold-time-ms = {hold_ms}\n"
            + (f"peer-link-detect-ms = {detect_ms}\n" if detect_ms else "")
            + f"listen = {listen}\n"
            f"peer-link = {peer_link}\n"
            f"peer-link-port = {peer_link_port}\n"
            + (f"peer-link-listen = {peer_link_listen}\n" if peer_link_listen else "")
            + (f"peer-link-gateway = {peer_link_gateway}\n" if peer_link_gateway else "")
            + (f"secret-key = {secret_key}\npublic-key = {public_key}\n" if secret_key
               else "insecure = true\n"))
    return out


def keep_previous_log(log: str) -> None:
    """Before a restart: moves the log of the run before to the first free
    `log`.N (tandemd.log.1, ...), so that each run keeps its own."""
    if os.path.exists(log):
        n = 1
        while os.path.exists(f"{log}.{n}"):
            n += 1
        os.rename(log, f"{log}.{n}")


class TandemdNode:
    """tandemd in the node namespace: `ip netns exec NS TANDEMD --config FILE`.

    Ready when the control socket answers `show counters`. stop() sends
    SIGTERM and reports the exit code (0 expected: drained and exited)."""

    name = "tandemd"

    def __init__(self, policy: Policy, binary: str | None = None, workers: int = 1,
                 lcores: str = "0-1", ready_timeout: float = 20.0, extra_config: str = "",
                 control_extra: str = "", mode: str = "inline", port_mtu: int = 0) -> None:
        self.policy = policy
        self.port_mtu = port_mtu
        self.mode = mode
        self.binary = binary or os.environ.get("TANDEMD") or DEFAULT_TANDEMD
        self.workers = workers
        self.lcores = lcores
        self.ready_timeout = ready_timeout
        self.extra_config = extra_config
        self.control_extra = control_extra
        self.proc = None
        self.control: ControlClient | None = None
        self.config_path = self.log_path = ""
        self.dpdk_prefix = ""

    def describe(self) -> str:
        return f"tandemd ({self.binary})"

    def start(self, lab) -> None:
        if not (os.path.isfile(self.binary) and os.access(self.binary, os.X_OK)):
            raise LabError(f"tandemd not found at {self.binary} (build it, or set TANDEMD)")
        self.dpdk_prefix = f"{DPDK_PREFIX_STEM}{os.getpid()}-{lab.prefix}"
        socket_path = os.path.join(lab.workdir, "tandemd.sock")
        self.config_path = os.path.join(lab.workdir, "tandemd.conf")
        self.log_path = os.path.join(lab.workdir, "tandemd.log")
        with open(self.config_path, "w") as f:
            f.write(self.config_text(lab, socket_path))
        runtime = f"/var/run/dpdk/{self.dpdk_prefix}"
        cleanup.push(f"dpdk runtime {runtime}", lambda: shutil.rmtree(runtime, ignore_errors=True))

        check = run([self.binary, "--check-config", self.config_path], timeout=15, check=False)
        if check.returncode != 0:
            raise LabError(f"tandemd --check-config rejected the lab config "
                           f"(exit {check.returncode}):\n{(check.stderr + check.stdout).strip()}"
                           f"\n--- {self.config_path}\n{open(self.config_path).read()}")

        self.proc = lab.node_ns.spawn("tandemd", [self.binary, "--config", self.config_path],
                                      log_path=self.log_path, death_signal=signal.SIGKILL)
        self.control = ControlClient(socket_path)
        end = time.monotonic() + self.ready_timeout
        while True:
            if not self.proc.alive():
                raise LabError(f"tandemd exited with code {self.proc.popen.returncode} during "
                               f"start-up:\n{self.proc.log_tail()}")
            if os.path.exists(socket_path):
                try:
                    self.control.request("show counters", timeout=0.5)
                    break
                except LabTimeout:
                    pass
            if time.monotonic() > end:
                raise LabTimeout(f"tandemd's control socket did not answer within "
                                 f"{self.ready_timeout} s:\n{self.proc.log_tail()}")
            time.sleep(0.1)
        lab.log(f"node: tandemd pid {self.proc.pid} ready (config {self.config_path})")

    def config_text(self, lab, socket_path: str) -> str:
        """The config file this node runs with (subclasses add sections)."""
        return tandemd_config(lab, self.policy, workers=self.workers,
                              dpdk_prefix=self.dpdk_prefix, socket_path=socket_path,
                              lcores=self.lcores, extra=self.extra_config, mode=self.mode,
                              control_extra=self.control_extra, port_mtu=self.port_mtu)

    def check_alive(self) -> None:
        if self.proc is not None and not self.proc.alive():
            raise NodeFailed(f"tandemd (pid {self.proc.pid}) exited with code "
                             f"{self.proc.popen.returncode} while the lab was running; its log "
                             f"ends:\n{self.proc.log_tail()}")

    def counters(self) -> dict[str, int]:
        """`show counters`, plus the ports' driver figures summed as
        ports.NAME (rx_missed: frames the af_packet ring could not take)."""
        try:
            out = self.control.counters(timeout=3.0)
        except LabTimeout as e:
            self.check_alive()
            raise NodeFailed(f"tandemd is running but its control socket does not answer: {e}")
        try:
            interfaces = self.control.request("show interfaces", timeout=3.0).get("interfaces", [])
        except ControlError:
            interfaces = []
        for port in interfaces:
            for key in ("rx_missed", "rx_errors", "tx_errors", "rx_no_mbuf"):
                if isinstance(port.get(key), int):
                    out[f"ports.{key}"] = out.get(f"ports.{key}", 0) + port[key]
        return out

    def sessions(self, **filters) -> list:
        """`show session all`, filtered as the command is (src=, dport=, state=...)."""
        return self.control.request("show session all", timeout=5.0,
                                    **filters).get("sessions", [])

    def stop(self, timeout: float = 15.0) -> dict:
        if self.proc is None:
            return {}
        code = self.proc.stop(signal.SIGTERM, timeout=timeout)
        tail = self.proc.log_tail()
        self.proc = None
        shutil.rmtree(f"/var/run/dpdk/{self.dpdk_prefix}", ignore_errors=True)
        return {"exit_code": code, "log_tail": tail}

    def log_tail(self, lines: int = 40) -> str:
        return self.proc.log_tail(lines) if self.proc else ""


# --- kernel stand-in -------------------------------------------------------------------


class KernelBridgeNode:
    """A Linux bridge joining the node's two ports: pure L2, like tandemd's
    inline mode. With filtering, nftables connection tracking enforces the
    policy: established/related pass, a new connection passes only when an
    allow rule matches its first packet from its from-zone (a TCP connection
    must start with a SYN, so mid-stream segments are 'invalid'), the rest is
    dropped and counted.

    Two renderings, picked at start: conntrack in the bridge family (table
    bridge, needs CONFIG_NF_CONNTRACK_BRIDGE) or, where the kernel lacks it,
    br_netfilter passing bridged IPv4 through an `ip` table with the ingress
    zone carried in the packet mark."""

    def __init__(self, policy: Policy, filtering: bool = True) -> None:
        self.policy = policy
        self.filtering = filtering
        self.name = "kernel" if filtering else "bridge"
        self.flavour = ""
        self.lab = None
        self.bridge = ""

    def describe(self) -> str:
        if not self.filtering:
            return "Linux bridge, no filtering"
        return f"Linux bridge + nftables ct state ({self.flavour or 'not started'})"

    def start(self, lab) -> None:
        self.lab = lab
        ns = lab.node_ns
        self.bridge = lab.prefix + "br"
        ns.run(["ip", "link", "add", self.bridge, "type", "bridge", "stp_state", "0",
                "forward_delay", "0", "mcast_snooping", "0"])
        for iface in lab.zone_ports.values():
            ns.run(["ip", "link", "set", iface, "master", self.bridge])
        ns.run(["ip", "link", "set", self.bridge, "up"])
        if self.filtering:
            ns.sysctl("net.netfilter.nf_conntrack_tcp_loose", "0")
            ns.run(["conntrack", "-F"], check=False)
            p = ns.run(["nft", "-f", "-"], input=self._ruleset_bridge_ct(lab), check=False)
            if p.returncode == 0:
                self.flavour = "table bridge, bridge conntrack"
            else:
                ns.sysctl("net.bridge.bridge-nf-call-iptables", "1")
                ns.run(["nft", "-f", "-"], input=self._ruleset_br_netfilter(lab))
                self.flavour = "br_netfilter + table ip"
        deadline = time.monotonic() + 5
        while True:
            states = ns.run(["bridge", "-j", "link", "show"]).stdout
            ports = [p for p in json.loads(states) if p.get("master") == self.bridge]
            if len(ports) == 2 and all(p.get("state") == "forwarding" for p in ports):
                break
            if time.monotonic() > deadline:
                raise LabTimeout(f"bridge ports not forwarding: {states}")
            time.sleep(0.05)
        lab.log(f"node: {self.describe()}")

    def _filter_chain(self, zone_match) -> str:
        """The forward chain's verdicts; `zone_match(rule)` renders where a
        rule's first packet must come from (and go to)."""
        lines = [
            "        ct state related icmp type { destination-unreachable, time-exceeded, "
            "parameter-problem } counter name icmp_errors_forwarded accept\n",
            "        ct state established,related accept\n",
            "        ct state invalid counter name no_session drop\n",
            # a retransmitted first packet of a connection already admitted
            "        ct state new ct status confirmed accept\n",
        ]
        for r in self.policy:
            if r.action != "allow":
                raise ValueError("the kernel stand-in renders allow rules only")
            lines.append(f"        {zone_match(r)} {r.nft_match()} ct state new "
                         f"counter name sessions_created accept\n")
        lines.append("        counter name policy_drop drop\n")
        return "".join(lines)

    _COUNTERS = ("    counter policy_drop {}\n"
                 "    counter no_session {}\n"
                 "    counter sessions_created {}\n"
                 "    counter icmp_errors_forwarded {}\n")

    def _ruleset_bridge_ct(self, lab) -> str:
        ports = lab.zone_ports
        return (
            "table bridge tandem_lab {\n"
            f"{self._COUNTERS}"
            "    chain forward {\n"
            "        type filter hook forward priority 0; policy accept;\n"
            "        ether type != ip accept\n"
            + self._filter_chain(lambda r: f'iifname "{ports[r.from_zone]}" '
                                           f'oifname "{ports[r.to_zone]}"') +
            "    }\n"
            "}\n")

    def _ruleset_br_netfilter(self, lab) -> str:
        zones = list(lab.zone_ports)
        marks = {z: i + 1 for i, z in enumerate(zones)}
        set_marks = "".join(f'        iifname "{lab.zone_ports[z]}" meta mark set {marks[z]}\n'
                            for z in zones)
        for r in self.policy:
            if r.from_zone == r.to_zone:
                raise ValueError("with two ports the to-zone follows from the from-zone")
        return (
            "table bridge tandem_lab_zone {\n"
            "    chain prerouting {\n"
            "        type filter hook prerouting priority -300; policy accept;\n"
            f"{set_marks}"
            "    }\n"
            "}\n"
            "table ip tandem_lab {\n"
            f"{self._COUNTERS}"
            "    chain forward {\n"
            "        type filter hook forward priority 0; policy accept;\n"
            + self._filter_chain(lambda r: f"meta mark {marks[r.from_zone]}") +
            "    }\n"
            "}\n")

    def counters(self) -> dict[str, int]:
        lab = self.lab
        inside = link_stats(lab.node_ns, lab.inside_if)
        outside = link_stats(lab.node_ns, lab.outside_if)
        out = {"rx_packets": inside["rx_packets"] + outside["rx_packets"],
               "rx_bytes": inside["rx_bytes"] + outside["rx_bytes"],
               "forwarded": inside["tx_packets"] + outside["tx_packets"]}
        if self.filtering:
            p = lab.node_ns.run(["nft", "-j", "list", "counters"])
            named = {}
            for item in json.loads(p.stdout).get("nftables", []):
                c = item.get("counter")
                if c:
                    named[c["name"]] = c["packets"]
            out["dropped_policy"] = named.get("policy_drop", 0)
            out["dropped_no_session"] = named.get("no_session", 0)
            out["sessions_created"] = named.get("sessions_created", 0)
            out["icmp_errors_forwarded"] = named.get("icmp_errors_forwarded", 0)
        return out

    def stop(self) -> dict:
        ns = self.lab.node_ns
        if self.filtering:
            ns.run(["nft", "flush", "ruleset"], check=False)
            ns.run(["conntrack", "-F"], check=False)
        for iface in self.lab.zone_ports.values():
            ns.run(["ip", "link", "set", iface, "nomaster"], check=False)
        ns.run(["ip", "link", "del", self.bridge], check=False)
        return {"exit_code": 0}


NODE_KINDS = ("tandemd", "kernel", "bridge")


def make_node(kind: str, policy: Policy, tandemd_binary: str | None = None, workers: int = 1,
              mode: str = "inline"):
    if kind == "tandemd":
        return TandemdNode(policy, binary=tandemd_binary, workers=workers, mode=mode)
    if mode != "inline":
        raise ValueError(f"the {kind} node runs inline only")
    if kind == "kernel":
        return KernelBridgeNode(policy, filtering=True)
    if kind == "bridge":
        return KernelBridgeNode(policy, filtering=False)
    raise ValueError(f"unknown node kind {kind!r}; expected one of {', '.join(NODE_KINDS)}")
