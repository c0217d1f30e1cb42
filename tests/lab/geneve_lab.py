"""The GENEVE-mode lab: tandemd as a one-arm appliance behind the Gateway Load
Balancer emulator (tools/gwlb-emulator), between real Linux endpoints.

  client 10.1.0.2 ── [10.1.0.1 gw 10.3.0.1] ── server 10.3.0.2
                           │ 10.9.0.1
                           │ GENEVE (UDP 6081, GWLB options)
                     node [one port] tandemd, mode geneve

The gateway namespace does not forward: the emulator takes every frame the
endpoints send it, sends it through tandemd wrapped in GENEVE, and sends on
what tandemd returns. So every packet between client and server crosses the
firewall exactly once, as behind a real GWLB. Neighbours are static (no ARP
anywhere, IPv6 off): every frame an endpoint sends is one packet for the
node, and the scenarios' counter checks hold as in the inline lab.
"""
from __future__ import annotations

import os

from lab import (GWLB_EMULATOR, InlineLab, LabError, Namespace, PYTHON, add_veth, link_mac,
                 make_workdir, cleanup_stale, set_offloads)
from nodes import Rule

CLIENT_NET, SERVER_NET, TUNNEL_NET = "10.1.0", "10.3.0", "10.9.0"


def start_emulator(lab, gw: Namespace, endpoint_ifs: list[str], listen: str,
                   targets: list[str], extra: list[str] = (), name: str = "gwlb") -> dict:
    """Starts tools/gwlb-emulator in the gateway namespace as the lab's
    service `name` (control socket in the work directory, lab.gwlb_socket);
    returns its ready line. Health checks are off unless `extra` asks."""
    sock = os.path.join(lab.workdir, f"{name}.sock")
    argv = [PYTHON, GWLB_EMULATOR, "run", "--listen", listen, "--control", sock]
    for i in endpoint_ifs:
        argv += ["--endpoint-if", i]
    for t in targets:
        argv += ["--target", t]
    argv += list(extra) or ["--health-check", "none"]
    proc = gw.spawn(name, argv)
    lab._services[name] = proc
    ready = proc.read_json(10.0)
    if ready.get("event") != "ready":
        raise LabError(f"gwlb-emulator: expected a ready line, got {ready}")
    lab.gwlb_socket = sock
    return ready


def emulator_request(lab, req: dict, timeout: float = 10.0) -> dict:
    """One command to the lab's emulator (tools/gwlb-emulator `ctl`)."""
    import json
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(lab.gwlb_socket)
        s.sendall((json.dumps(req) + "\n").encode())
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    except OSError as e:
        raise LabError(f"gwlb-emulator control socket: {e}") from None
    finally:
        s.close()
    reply = json.loads(buf.split(b"\n", 1)[0])
    if not reply.get("ok"):
        raise LabError(f"gwlb-emulator: {req.get('cmd')}: {reply.get('error', reply)}")
    return reply


class GeneveAddressing:
    client_ip = f"{CLIENT_NET}.2"
    server_ip = f"{SERVER_NET}.2"
    prefixlen = 24


def geneve_policy(base) -> tuple:
    """The inline lab's rules for one-arm mode: no zones (one port), the
    direction given by the destination instead (the server's address)."""
    return tuple(Rule(r.proto, r.dports, r.icmp_types, from_zone=None, to_zone=None,
                      name=r.name, action=r.action, log=r.log,
                      dst=GeneveAddressing.server_ip) for r in base)


class GeneveLab(InlineLab):
    def __init__(self, log=None) -> None:
        super().__init__(log=log)
        self.addr = GeneveAddressing()
        self.gw = Namespace(f"{self.prefix}-gw")
        self.gw_client_if = self.prefix + "gc"
        self.gw_server_if = self.prefix + "gs"
        self.gw_node_if = self.prefix + "ga"
        self.node_if = self.prefix + "na"
        self.gwlb_stats: dict = {}
        self.gwlb_socket = ""

    @property
    def zone_ports(self) -> dict[str, str]:
        return {"gwlb": self.node_if}

    def build(self) -> None:
        cleanup_stale()
        self.workdir = make_workdir(self.prefix)
        for ns in (self.client, self.gw, self.node_ns, self.server):
            ns.create()
        add_veth(self.client, self.client_if, self.gw, self.gw_client_if)
        add_veth(self.server, self.server_if, self.gw, self.gw_server_if)
        add_veth(self.gw, self.gw_node_if, self.node_ns, self.node_if)
        gw_ip = {"c": f"{CLIENT_NET}.1", "s": f"{SERVER_NET}.1"}
        for ns, iface, ip, via in ((self.client, self.client_if, self.addr.client_ip, gw_ip["c"]),
                                   (self.server, self.server_if, self.addr.server_ip, gw_ip["s"])):
            ns.run(["ip", "addr", "add", f"{ip}/24", "dev", iface])
            set_offloads(ns, iface, tx=False)
            ns.run(["ip", "link", "set", iface, "up"])
            ns.run(["ip", "route", "add", "default", "via", via])
            ns.sysctl("net.ipv4.icmp_ratelimit", "0", required=False)
        for iface, cidr in ((self.gw_client_if, f"{gw_ip['c']}/24"),
                            (self.gw_server_if, f"{gw_ip['s']}/24"),
                            (self.gw_node_if, f"{TUNNEL_NET}.1/24")):
            self.gw.run(["ip", "addr", "add", cidr, "dev", iface])
            set_offloads(self.gw, iface, tx=False)
            self.gw.run(["ip", "link", "set", iface, "up"])
        # Room for the GENEVE headers around a full-size packet.
        self.gw.run(["ip", "link", "set", self.gw_node_if, "mtu", "9000"])
        self.node_ns.run(["ip", "link", "set", self.node_if, "mtu", "9000"])
        self.gw.sysctl("net.ipv4.ip_forward", "0")
        set_offloads(self.node_ns, self.node_if, tx=False, rx=False, tso=False, gso=False, gro=False)
        self.node_ns.run(["ip", "link", "set", self.node_if, "up"])
        self.client_mac = link_mac(self.client, self.client_if)
        self.server_mac = link_mac(self.server, self.server_if)
        gc_mac = link_mac(self.gw, self.gw_client_if)
        gs_mac = link_mac(self.gw, self.gw_server_if)
        node_mac = link_mac(self.node_ns, self.node_if)
        for ns, ip, mac, dev in ((self.client, gw_ip["c"], gc_mac, self.client_if),
                                 (self.server, gw_ip["s"], gs_mac, self.server_if),
                                 (self.gw, self.addr.client_ip, self.client_mac, self.gw_client_if),
                                 (self.gw, self.addr.server_ip, self.server_mac, self.gw_server_if),
                                 (self.gw, f"{TUNNEL_NET}.2", node_mac, self.gw_node_if)):
            ns.run(["ip", "neigh", "replace", ip, "lladdr", mac, "dev", dev, "nud", "permanent"])
        # Tools that build frames by hand (bare-ack) address them to the
        # next hop towards the server: the client's gateway.
        self.server_mac = gc_mac
        self._wait_links_up(5.0)
        self.start_gwlb()
        self.log(f"lab {self.prefix}: {self.client.name} {self.addr.client_ip} -- "
                 f"{self.gw.name} (GWLB emulator) -- {self.server.name} {self.addr.server_ip}; "
                 f"GENEVE {TUNNEL_NET}.1 -> {self.node_ns.name} [{self.node_if}]")

    def start_gwlb(self) -> None:
        start_emulator(self, self.gw, [self.gw_client_if, self.gw_server_if],
                       f"{TUNNEL_NET}.1", [f"{TUNNEL_NET}.2"])

    def stop_gwlb(self) -> dict:
        """Stops the emulator; returns its final counters (docs/gwlb-emulator.md)."""
        if "gwlb" in self._services:
            self.gwlb_stats = self.stop_service("gwlb")
        return self.gwlb_stats

    def links(self) -> tuple:
        return ((self.client, self.client_if), (self.server, self.server_if),
                (self.gw, self.gw_client_if), (self.gw, self.gw_server_if),
                (self.gw, self.gw_node_if), (self.node_ns, self.node_if))

    def close(self) -> None:
        super().close()
        self.gw.delete()
