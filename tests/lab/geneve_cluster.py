"""The GENEVE cluster lab: N targets behind the GWLB emulator, as on EC2.

```
 client ns                 gw ns (no forwarding)                 server ns
 <p>c0 10.1.0.2 ── <p>gc 10.1.0.1  gwlb-emulator  10.3.0.1 <p>gs ── <p>s0 10.3.0.2
                               <p>ga 10.9.0.1
                                    │ GENEVE (UDP 6081, GWLB options)
 sw ns:  bridge <p>bd (data)  ──────┼──────────────┬──────────────┐
         bridge <p>bp (peer link)   │              │              │
         bridge <p>bh (HA)     <p>d1 node 1   <p>d2 node 2   <p>d3 node 3
                               <p>p1 peer     <p>p2          <p>p3    10.8.0.K:4790 (udp, config only)
                               <p>h1 HA       <p>h2          <p>h3    10.10.0.K/24 (kernel)
```

Each node namespace `<p>-fwK` holds three veths, each bridged in the switch
namespace `<p>-sw`: its GENEVE data port (target address 10.9.0.1K: an
address only the emulator uses, with a static neighbour to the port's MAC),
its udp peer-link port (10.8.0.K:4790, answered by tandemd itself; an
nftables netdev ingress rule drops the peer link's frames in the node's
kernel after tandemd's af_packet copy, as in the pair lab) and its HA
control veth (10.10.0.K, ZeroMQ, CURVE keys per run). The bridges know every
node MAC statically and flood no unknown unicast, so a node never sees a
frame addressed to another (DPDK's af_packet ports are promiscuous).

Targets (kind):
  tandemd  tandemd in mode geneve with [peer.N] for every other node,
           [ha] peer-link = udp (nodes.tandemd_config + nodes.ha_config)
  linux    a namespace with the target address on its data veth: a
           `gwlb-emulator reflect` target and, for health checks, whatever
           listener the test starts there (the emulator's own lab test)

Health checks: tandemd answers the emulator's checks itself ([health-check]
on the target address, tcp by default, http on /healthz when asked): the
emulator runs with real checks at lab timings (HealthSettings: every 1 s,
0.5 s timeout, 2 passes healthy, 2 failures unhealthy) instead of AWS's
(10 s, 5 s, 5, 2). As the node's kernel has no address on the data veth,
only tandemd answers them (a kernel with the address would reset the
checks itself). `linux` targets keep `--health-check none` unless the test
asks for more. Targets are registered at run time through the emulator's
control socket (register / deregister).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import dataclass

from geneve_lab import emulator_request, start_emulator
from lab import (ControlError, InlineLab, LabError, LabTimeout, Namespace, NodeFailed,
                 add_veth, link_mac, link_stats, run)
from nodes import TandemdNode, ha_config, keep_previous_log, tandemd_config
from labkit.ha import ha_peers, ha_ready, ha_summary
from labkit.topology import (add_bridge, curve_keys, keep_peer_link_from_kernel, prepare,
                             real_frames_up, tune_endpoints)

CLIENT_IP, CLIENT_GW = "10.1.0.2", "10.1.0.1"
SERVER_IP, SERVER_GW = "10.3.0.2", "10.3.0.1"
GW_DATA_IP = "10.9.0.1"
HA_PORT = 7400
PEER_LINK_PORT = 4790
MAX_NODES = 8


@dataclass
class HealthSettings:
    """The load balancer's health checks in the lab: what the emulator sends
    and what tandemd's [health-check] answers. AWS allows intervals of 5-300
    s and thresholds of 2-10; the lab keeps the thresholds at AWS's minimum
    and shortens the interval and timeout so that a dead or suspended
    target is seen in ~2-3 s (the emulator accepts any positive value)."""
    protocol: str = "tcp"            # tcp | http | none (the emulator checks nothing)
    port: int = 80
    path: str = "/healthz"
    interval: float = 1.0
    timeout: float = 0.5
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2

    def emulator_args(self) -> list[str]:
        if self.protocol == "none":
            return ["--health-check", "none"]
        return ["--health-check", self.protocol, "--health-check-port", str(self.port),
                "--health-check-path", self.path,
                "--health-check-interval", f"{self.interval:g}",
                "--health-check-timeout", f"{self.timeout:g}",
                "--healthy-threshold", str(self.healthy_threshold),
                "--unhealthy-threshold", str(self.unhealthy_threshold)]

    def tandemd_section(self, address: str) -> str:
        if self.protocol == "none":
            return ""
        return ("\n[health-check]\n"
                f"protocol = {self.protocol}\n"
                f"address = {address}\n"
                f"port = {self.port}\n"
                + (f"path = {self.path}\n" if self.protocol == "http" else ""))

    def describe(self) -> str:
        if self.protocol == "none":
            return "health checks off (every registered target healthy)"
        what = f"{self.protocol} {self.port}" + (self.path if self.protocol == "http" else "")
        return (f"health checks {what} every {self.interval:g} s, timeout {self.timeout:g} s, "
                f"healthy after {self.healthy_threshold} passes, unhealthy after "
                f"{self.unhealthy_threshold} failures (AWS: 10 s, 5 s, 5, 2)")

    def detection_bound(self) -> float:
        """The longest a dead target can stay healthy: a check that started
        just before the death passes, then `unhealthy_threshold` checks
        fail, the last one after its timeout."""
        return self.interval * self.unhealthy_threshold + self.timeout


def target_ip(k: int) -> str:
    return f"10.9.0.{10 + k}"


def ha_ip(k: int) -> str:
    return f"10.10.0.{k}"


def peer_link_ip(k: int) -> str:
    return f"10.8.0.{k}"


def floating_lcores(workers: int) -> str:
    """EAL lcores free to run on any CPU of this machine: several nodes share
    a few CPUs here, and pinning every node's main lcore (and the HA threads
    it starts) to one CPU and every worker to another would make the nodes
    queue behind each other while a CPU idles."""
    cpus = os.cpu_count() or 1
    every = f"({0}-{cpus - 1})" if cpus > 1 else "(0)"
    return "--lcores " + ",".join(f"{n}@{every}" for n in range(workers + 1))


class ClusterSlot:
    """One target's place in the topology; node implementations get it where
    the single-node lab passes an InlineLab (node_ns, zone_ports, prefix,
    workdir, log)."""

    def __init__(self, lab: "GeneveClusterLab", k: int) -> None:
        p = lab.prefix
        self.lab = lab
        self.node_id = k
        self.letter = str(k)          # pair.storm keys per-node figures by it
        self.label = f"node{k}"
        self.ip = target_ip(k)
        self.node_ns = Namespace(f"{p}-fw{k}" if lab.kind == "tandemd" else f"{p}-t{k}")
        self.prefix = f"{p}n{k}"
        self.data_if, self.sw_data_if = f"{p}d{k}", f"{p}x{k}"
        self.peer_if, self.sw_peer_if = f"{p}p{k}", f"{p}y{k}"
        self.ha_if, self.sw_ha_if = f"{p}h{k}", f"{p}z{k}"
        self.workdir = ""
        self.node = None
        self.dead = False
        self.data_mac = self.peer_mac = ""
        self.public_key = self.secret_key = ""

    @property
    def zone_ports(self) -> dict[str, str]:
        return {"gwlb": self.data_if}

    def log(self, msg: str) -> None:
        self.lab.log(msg)


class ClusterTandemdNode(TandemdNode):
    """tandemd as one member: mode geneve, the data port, the udp peer link
    on [port.peer], a [peer.N] for every other member, [ha]."""

    def __init__(self, lab: "GeneveClusterLab", policy, binary: str | None,
                 workers: int = 1) -> None:
        super().__init__(policy, binary=binary, workers=workers, lcores=floating_lcores(workers),
                         mode="geneve")
        self.lab = lab

    def config_text(self, slot: ClusterSlot, socket_path: str) -> str:
        o = self.lab.opts
        peers = [{"id": s.node_id, "name": f"fw{s.node_id}",
                  "ha_address": f"tcp://{ha_ip(s.node_id)}:{HA_PORT}",
                  "link_address": f"{peer_link_ip(s.node_id)}:{PEER_LINK_PORT}",
                  "public_key": s.public_key}
                 for s in self.lab.slots if s is not slot]
        extra = ha_config(peers=peers, listen=f"tcp://{ha_ip(slot.node_id)}:{HA_PORT}",
                          owner=o.get("owner", "first-packet"),
                          heartbeat_ms=o.get("heartbeat_ms", 50), hold_ms=o.get("hold_ms", 500),
                          peer_link="udp",
                          peer_link_listen=f"{peer_link_ip(slot.node_id)}:{PEER_LINK_PORT}",
                          secret_key=slot.secret_key, public_key=slot.public_key)
        return tandemd_config(slot, self.policy, node_id=slot.node_id, workers=self.workers,
                              session_capacity=131072, dpdk_prefix=self.dpdk_prefix,
                              socket_path=socket_path, lcores=self.lcores, extra=extra,
                              cluster_id=o.get("cluster_id", 9), node_name=f"fw{slot.node_id}",
                              mode="geneve", extra_ports={"peer": slot.peer_if}) + \
            self.lab.health.tandemd_section(slot.ip)

    def start(self, slot: ClusterSlot) -> None:
        keep_previous_log(os.path.join(slot.workdir, "tandemd.log"))
        super().start(slot)

    def kill(self) -> None:
        """SIGKILL: no drain, no goodbye; the process is reaped."""
        if self.proc is not None:
            if self.proc.alive():
                self.proc.popen.send_signal(signal.SIGKILL)
            self.proc.kill()
            self.proc = None
        shutil.rmtree(f"/var/run/dpdk/{self.dpdk_prefix}", ignore_errors=True)

    def request(self, command: str, timeout: float = 3.0, **args):
        return self.control.request(command, timeout=timeout, **args)


class GeneveClusterLab(InlineLab):
    """client - gw (emulator) - server, and `nodes` targets on a switch.
    Services and tools run with `where` one of client, server, gw, or a
    node number ("1", "2", ...)."""

    def __init__(self, nodes: int, kind: str = "tandemd", opts: dict | None = None,
                 client_addresses: int = 1, log=None) -> None:
        super().__init__(log=log)
        if not 1 <= nodes <= MAX_NODES:
            raise LabError(f"--nodes must be 1..{MAX_NODES}")
        p = self.prefix
        self.kind = kind
        self.opts = opts or {}
        self.client_addresses = client_addresses
        self.node_ns = None
        self.gw = Namespace(f"{p}-gw")
        self.sw = Namespace(f"{p}-sw")
        self.gw_client_if, self.gw_server_if = p + "gc", p + "gs"
        self.gw_data_if, self.sw_gw_if = p + "ga", p + "xg"
        self.br = {"data": p + "bd", "peer": p + "bp", "ha": p + "bh"}
        self.slots = [ClusterSlot(self, k) for k in range(1, nodes + 1)]
        self.gwlb_socket = ""
        self.gwlb_stats: dict = {}
        self.gwlb_started = 0.0     # the emulator's start on this clock (its log's t = 0)
        self.ha_supported = kind == "tandemd"   # the Linux targets have no HA state
        self.ha_errors = 0          # HA state requests that failed
        self.marks_path = ""
        self.health = self.opts.get("health") or (
            HealthSettings() if kind == "tandemd" else HealthSettings(protocol="none"))

    # --- structure ----------------------------------------------------------------------

    def slot(self, k) -> ClusterSlot:
        return self.slots[int(k) - 1]

    def namespaces(self) -> list[Namespace]:
        return [self.client, self.gw, self.server, self.sw] + [s.node_ns for s in self.slots]

    def namespace(self, where: str) -> Namespace:
        if where in ("client", "server", "gw", "sw"):
            return {"client": self.client, "server": self.server, "gw": self.gw,
                    "sw": self.sw}[where]
        return self.slot(where).node_ns

    def client_ips(self) -> list[str]:
        return [f"10.1.0.{2 + i}" for i in range(self.client_addresses)]

    def build(self) -> None:
        prepare(self, self.slots)
        tandemd = self.kind == "tandemd"
        self._links(tandemd)
        for name in self.br.values():
            add_bridge(self.sw, name)
        self._addresses(tandemd)
        # MTU: room for GENEVE around a full-size packet, jumbo peer link
        for ns, iface in [(self.gw, self.gw_data_if), (self.sw, self.sw_gw_if)] + \
                [(s.node_ns, s.data_if) for s in self.slots] + \
                [(self.sw, s.sw_data_if) for s in self.slots] + \
                ([(s.node_ns, s.peer_if) for s in self.slots] +
                 [(self.sw, s.sw_peer_if) for s in self.slots] if tandemd else []):
            ns.run(["ip", "link", "set", iface, "mtu", "9000"])
        real_frames_up(self._all_ifaces())
        gw_mac = self._switch_ports(tandemd)
        self._neighbours(tandemd, gw_mac)
        for ns, via in ((self.client, CLIENT_GW), (self.server, SERVER_GW)):
            ns.run(["ip", "route", "add", "default", "via", via])
        if tandemd:
            if self.opts.get("curve", True):
                curve_keys(self.slots)
            for s in self.slots:
                keep_peer_link_from_kernel(s.node_ns, s.peer_if)
        self._wait_links_up(5.0)
        self.log(f"geneve cluster lab {self.prefix}: {self.client.name} "
                 f"{','.join(self.client_ips())} -- {self.gw.name} (gwlb-emulator, {GW_DATA_IP}) "
                 f"-- {self.server.name} {SERVER_IP}; {len(self.slots)} {self.kind} targets "
                 f"{', '.join(s.ip for s in self.slots)} on {self.sw.name}"
                 + (f"; peer link udp {', '.join(peer_link_ip(s.node_id) for s in self.slots)}"
                    f":{PEER_LINK_PORT}; HA {', '.join(ha_ip(s.node_id) for s in self.slots)}"
                    if tandemd else ""))

    def _links(self, tandemd: bool) -> None:
        add_veth(self.client, self.client_if, self.gw, self.gw_client_if)
        add_veth(self.server, self.server_if, self.gw, self.gw_server_if)
        add_veth(self.gw, self.gw_data_if, self.sw, self.sw_gw_if)
        for s in self.slots:
            add_veth(s.node_ns, s.data_if, self.sw, s.sw_data_if)
            if tandemd:
                add_veth(s.node_ns, s.peer_if, self.sw, s.sw_peer_if)
                add_veth(s.node_ns, s.ha_if, self.sw, s.sw_ha_if)

    def _addresses(self, tandemd: bool) -> None:
        """The endpoints' and the gateway's addresses (the gateway does not
        forward by itself); the nodes' HA addresses, or a Linux target's
        data address."""
        for ip in self.client_ips():
            self.client.run(["ip", "addr", "add", f"{ip}/24", "dev", self.client_if])
        self.server.run(["ip", "addr", "add", f"{SERVER_IP}/24", "dev", self.server_if])
        # a retransmitted SYN keeps its flow hash (counted, never re-steered)
        tune_endpoints(self.client, self.server)
        for iface, cidr in ((self.gw_client_if, f"{CLIENT_GW}/24"),
                            (self.gw_server_if, f"{SERVER_GW}/24"),
                            (self.gw_data_if, f"{GW_DATA_IP}/24")):
            self.gw.run(["ip", "addr", "add", cidr, "dev", iface])
        self.gw.sysctl("net.ipv4.ip_forward", "0")
        for s in self.slots:
            if tandemd:
                s.node_ns.run(["ip", "addr", "add", f"{ha_ip(s.node_id)}/24", "dev", s.ha_if])
            else:
                s.node_ns.run(["ip", "addr", "add", f"{s.ip}/24", "dev", s.data_if])

    def _switch_ports(self, tandemd: bool) -> str:
        """Bridge ports, static forwarding entries, no unknown-unicast
        flooding, the source check. Returns the gateway's data MAC."""
        ports = [(self.sw_gw_if, "data")]
        for s in self.slots:
            ports.append((s.sw_data_if, "data"))
            if tandemd:
                ports += [(s.sw_peer_if, "peer"), (s.sw_ha_if, "ha")]
        for iface, seg in ports:
            self.sw.run(["ip", "link", "set", iface, "master", self.br[seg]])
        for name in self.br.values():
            self.sw.run(["ip", "link", "set", name, "up"])
        gw_mac = link_mac(self.gw, self.gw_data_if)
        statics = [(gw_mac, self.sw_gw_if)]
        for s in self.slots:
            s.data_mac = link_mac(s.node_ns, s.data_if)
            statics.append((s.data_mac, s.sw_data_if))
            if tandemd:
                s.peer_mac = link_mac(s.node_ns, s.peer_if)
                statics.append((s.peer_mac, s.sw_peer_if))
        for mac, iface in statics:
            self.sw.run(["bridge", "fdb", "replace", mac, "dev", iface, "master", "static"])
            self.sw.run(["bridge", "link", "set", "dev", iface, "flood", "off"])
        self._source_check(statics)
        return gw_mac

    def _neighbours(self, tandemd: bool, gw_mac: str) -> None:
        """Static neighbours everywhere the emulator and the endpoints look."""
        gc_mac = link_mac(self.gw, self.gw_client_if)
        gs_mac = link_mac(self.gw, self.gw_server_if)
        self.client_mac = link_mac(self.client, self.client_if)
        self.server_mac = link_mac(self.server, self.server_if)
        neigh = [(self.client, CLIENT_GW, gc_mac, self.client_if),
                 (self.server, SERVER_GW, gs_mac, self.server_if),
                 (self.gw, SERVER_IP, self.server_mac, self.gw_server_if)]
        neigh += [(self.gw, ip, self.client_mac, self.gw_client_if) for ip in self.client_ips()]
        neigh += [(self.gw, s.ip, s.data_mac, self.gw_data_if) for s in self.slots]
        if not tandemd:
            neigh += [(s.node_ns, GW_DATA_IP, gw_mac, s.data_if) for s in self.slots]
        for ns, ip, mac, dev in neigh:
            ns.run(["ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"])

    SOURCE_TABLE = "tandem_lab_source_check"

    def _source_check(self, statics: list[tuple[str, str]]) -> None:
        """As a VPC does for an ENI, the switch takes from each port only
        frames with that port's own source MAC: the others are dropped and
        counted (named counter per port) before the bridge learns from
        them. A bridge's static entries are not sticky: without this check,
        one frame with another station's source MAC would move that
        station's entry to the sender's port, and the segment would lose
        the station (the emulator, or a node) for as long as such frames
        keep coming."""
        rules, counters = [], []
        for mac, iface in statics:
            counters.append(f"    counter foreign_{iface} {{}}\n")
            rules.append(f'        iifname "{iface}" ether saddr != {mac} '
                         f'counter name foreign_{iface} drop\n')
        self.sw.run(["nft", "-f", "-"], input=(
            f"table bridge {self.SOURCE_TABLE} {{\n" + "".join(counters) +
            "    chain prerouting {\n"
            "        type filter hook prerouting priority -300; policy accept;\n"
            + "".join(rules) + "    }\n}\n"))
        self._source_ports = {iface: mac for mac, iface in statics}

    def foreign_source_frames(self) -> dict[str, int]:
        """Frames the switch dropped per port because their source MAC was
        not the port's station's (see _source_check): {interface: frames}."""
        p = self.sw.run(["nft", "-j", "list", "table", "bridge", self.SOURCE_TABLE],
                        check=False)
        out = {}
        try:
            for item in json.loads(p.stdout).get("nftables", []):
                c = item.get("counter")
                if isinstance(c, dict) and str(c.get("name", "")).startswith("foreign_"):
                    out[c["name"][len("foreign_"):]] = int(c.get("packets", 0))
        except (json.JSONDecodeError, ValueError):
            pass
        return out

    def foreign_source_text(self, counts: dict[str, int]) -> str:
        """Per station: frames dropped for a foreign source MAC."""
        names = {self.sw_gw_if: "emulator"}
        for s in self.slots:
            names[s.sw_data_if] = f"node{s.node_id} data"
            names[s.sw_peer_if] = f"node{s.node_id} peer link"
        return ", ".join(f"{names.get(k, k)} {v}" for k, v in sorted(counts.items()) if v) \
            or "none"

    def _all_ifaces(self):
        out = [(self.client, self.client_if), (self.server, self.server_if),
               (self.gw, self.gw_client_if), (self.gw, self.gw_server_if),
               (self.gw, self.gw_data_if), (self.sw, self.sw_gw_if)]
        for s in self.slots:
            out += [(s.node_ns, s.data_if), (self.sw, s.sw_data_if)]
            if self.kind == "tandemd":
                out += [(s.node_ns, s.peer_if), (self.sw, s.sw_peer_if),
                        (s.node_ns, s.ha_if), (self.sw, s.sw_ha_if)]
        return out

    def links(self) -> tuple:
        return tuple(self._all_ifaces())

    # --- the emulator ---------------------------------------------------------------------

    def start_gwlb(self, targets: list[str], extra: list[str] = ()) -> dict:
        """Starts the emulator with the lab's health checks (self.health)
        unless `extra` names --health-check itself; `opts` may set
        target_failover and deregistration_delay."""
        extra = list(extra)
        if "--health-check" not in extra:
            extra += self.health.emulator_args()
        for key in ("target_failover", "deregistration_delay"):
            if self.opts.get(key) is not None and f"--{key.replace('_', '-')}" not in extra:
                extra += [f"--{key.replace('_', '-')}", str(self.opts[key])]
        ready = start_emulator(self, self.gw, [self.gw_client_if, self.gw_server_if],
                               GW_DATA_IP, targets, extra)
        t0 = time.monotonic()
        st = self.gwlb("stats")
        self.gwlb_started = (t0 + time.monotonic()) / 2 - st["uptime_s"]
        return ready

    def gwlb(self, cmd: str, **args) -> dict:
        return emulator_request(self, {"cmd": cmd, **args})

    def gwlb_events(self, since: float = 0.0) -> list[dict]:
        """The emulator's event lines (stderr: target state changes,
        rebalancing) with `at` = their time on this process's clock
        (time.monotonic()); those at or after `since`."""
        proc = self._services.get("gwlb")
        if proc is None:
            return []
        out = []
        for line in proc.stderr_text().splitlines():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict) and isinstance(ev.get("t"), (int, float)):
                ev["at"] = self.gwlb_started + ev["t"]
                if ev["at"] >= since:
                    out.append(ev)
        return out

    def target_state(self, s: "ClusterSlot | str") -> str | None:
        ip = s if isinstance(s, str) else s.ip
        return self.gwlb("targets")["targets"].get(ip, {}).get("state")

    def wait_target(self, s: "ClusterSlot", states: tuple[str, ...], timeout: float,
                    watch=None, interval: float = 0.02) -> float | None:
        """Polls the emulator until target `s` is in one of `states`;
        returns when (time.monotonic()), None after `timeout`. `watch` is
        called on every round (e.g. to record the node's own state)."""
        end = time.monotonic() + timeout
        while True:
            self.check_node()
            if watch is not None:
                watch()
            if self.target_state(s) in states:
                return time.monotonic()
            if time.monotonic() > end:
                return None
            time.sleep(interval)

    def wait_healthy(self, slots: list["ClusterSlot"], timeout: float) -> float:
        """Waits until the emulator reports every target in `slots` healthy;
        returns the seconds it took. NodeFailed otherwise."""
        t0 = time.monotonic()
        end = t0 + timeout
        while True:
            self.check_node()
            got = self.gwlb("targets")["targets"]
            states = {s.ip: got.get(s.ip, {}).get("state") for s in slots}
            if all(v == "healthy" for v in states.values()):
                return time.monotonic() - t0
            if time.monotonic() > end:
                raise NodeFailed(f"targets not healthy within {timeout:.0f} s: " + ", ".join(
                    f"{ip} {v} ({got.get(ip, {}).get('last_check', '')})"
                    for ip, v in states.items()))
            time.sleep(0.05)

    def mark(self, name: str, t: float | None = None, window: float | None = None) -> float:
        """Writes an event mark for rr-long (pair_traffic.py reads it when
        it stops)."""
        t = time.monotonic() if t is None else t
        rec = {"name": name, "t": t}
        if window is not None:
            rec["window"] = window
        with open(self.marks_path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        return t

    def stop_gwlb(self) -> dict:
        if "gwlb" in self._services:
            self.gwlb_stats = self.stop_service("gwlb")
        return self.gwlb_stats

    # --- nodes ----------------------------------------------------------------------------

    def start_node(self, s: ClusterSlot, policy, binary: str | None, workers: int = 1) -> None:
        node = ClusterTandemdNode(self, policy, binary, workers)
        s.node = None
        node.start(s)
        s.node, s.dead = node, False

    def kill_node(self, s: ClusterSlot) -> float:
        """SIGKILL; returns the time of the kill (time.monotonic())."""
        t = time.monotonic()
        s.dead = True
        s.node.kill()
        return t

    def stop_node(self, s: ClusterSlot, timeout: float = 15.0) -> dict:
        """SIGTERM (tandemd drains and exits); returns stop()'s report."""
        s.dead = True
        node, s.node = s.node, None
        return node.stop(timeout=timeout) if node is not None else {}

    def live(self) -> list[ClusterSlot]:
        return [s for s in self.slots if s.node is not None and not s.dead]

    def request(self, s: ClusterSlot, command: str, cli: str | None = None
                ) -> tuple[bool, object]:
        """An operator command through the `tandem` CLI (`cli`, run against
        the node's control socket) when given, else the control socket.
        Returns (ok, reply or error text)."""
        if s.node is None or s.dead:
            return False, "not running"
        if cli and os.path.isfile(cli) and os.access(cli, os.X_OK):
            p = run([cli, "--socket", s.node.control.socket_path, "--json", "-c", command],
                    timeout=10, check=False)
            try:
                return p.returncode == 0, json.loads(p.stdout)
            except json.JSONDecodeError:
                return p.returncode == 0, (p.stdout or p.stderr).strip()
        try:
            return True, s.node.request(command, timeout=5.0)
        except (ControlError, LabTimeout) as e:
            return False, str(e)

    def check_node(self) -> None:
        for s in self.slots:
            if s.node is not None and not s.dead:
                s.node.check_alive()

    def stop_nodes(self) -> dict[str, dict]:
        out = {}
        for s in self.slots:
            node, s.node = s.node, None
            if node is None or s.dead:
                if node is not None:
                    node.kill()
                continue
            try:
                out[s.letter] = node.stop()
            except LabError as e:
                out[s.letter] = {"exit_code": None, "error": str(e)}
        return out

    def counters(self, s: ClusterSlot) -> dict | None:
        if s.node is None or s.dead:
            return None
        try:
            return s.node.counters()
        except (NodeFailed, ControlError, LabTimeout):
            return None

    def ha_state(self, s: ClusterSlot) -> dict | None:
        """`show high-availability state`, or None: not running, or this
        request failed (counted in ha_errors and logged; asked again next
        time, and a check that needed the answer fails)."""
        if s.node is None or s.dead or not self.ha_supported:
            return None
        try:
            return s.node.request("show high-availability state", timeout=2.0)
        except ControlError as e:
            self.ha_errors += 1
            self.log(f"{s.label}: `show high-availability state` failed ({e})")
            return None

    def wait_ha(self, slots: list[ClusterSlot], paired: bool, timeout: float) -> dict:
        """Waits until every node in `slots` reports an active state and,
        with `paired`, sees every other member alive and active (ha_ready);
        returns the states. NodeFailed on timeout."""
        end = time.monotonic() + timeout
        states: dict[str, dict | None] = {}
        while True:
            self.check_node()
            done = True
            for s in slots:
                st = states[s.letter] = self.ha_state(s)
                if st is None or not ha_ready(st, expect_peer=paired):
                    done = False
                elif paired and len([p for p in ha_peers(st) if p.get("alive")]) \
                        != len(self.slots) - 1:
                    done = False
            if done:
                return states
            if time.monotonic() > end:
                raise NodeFailed(f"HA not ready within {timeout:.0f} s: " + "; ".join(
                    f"node{k}: {ha_summary(v)}" for k, v in states.items()))
            time.sleep(0.05)

    # --- accounting -------------------------------------------------------------------------

    def node_frames(self) -> dict[str, dict[str, int]]:
        """Frames on each target's veths (the kernel's count of what the
        wire carried)."""
        out = {}
        for s in self.slots:
            d = link_stats(s.node_ns, s.data_if)
            f = {"from_gwlb": d["rx_packets"], "to_gwlb": d["tx_packets"]}
            if self.kind == "tandemd":
                p = link_stats(s.node_ns, s.peer_if)
                f.update(peer_rx=p["rx_packets"], peer_tx=p["tx_packets"])
            out[s.letter] = f
        return out

    def frames_text(self, f: dict[str, dict[str, int]]) -> str:
        return "; ".join(f"node{k} from the GWLB {v.get('from_gwlb', 0)}, back "
                         f"{v.get('to_gwlb', 0)}, peer link tx {v.get('peer_tx', 0)}"
                         for k, v in f.items())

    def close(self) -> None:
        try:
            for k, r in self.stop_nodes().items():
                if r.get("exit_code") not in (None, 0):
                    self.log(f"lab: node{k} exited with code {r.get('exit_code')}")
        except BaseException as e:
            self.log(f"lab: stopping the nodes failed: {e!r}")
        for name in list(self._services):
            self._services.pop(name).kill()
        for ns in self.namespaces():
            ns.delete()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def target_flows(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """Per-target counter deltas between two emulator stats replies."""
    out = {}
    for ip, t in after.get("targets", {}).items():
        b = before.get("targets", {}).get(ip, {})
        out[ip] = {k: v - b.get(k, 0) for k, v in t.items() if isinstance(v, int)}
        out[ip]["state"] = t.get("state")
    return out


def totals_delta(before: dict, after: dict) -> dict[str, int]:
    b = before.get("totals", {})
    return {k: v - b.get(k, 0) for k, v in after.get("totals", {}).items()
            if isinstance(v, int)}
