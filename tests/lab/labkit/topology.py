"""The pieces every multi-node topology builds with (pair.py, cluster.py,
geneve_cluster.py): the work directory and namespaces, routers that forward
asymmetric ECMP, endpoints tuned for connection storms, veths with real
frames, switch bridges, the peer link kept from a node's kernel, CURVE keys.
Each function runs `ip`, `sysctl` or `nft` in the namespaces it is given and
raises LabError when one fails."""
from __future__ import annotations

import os

from lab import Namespace, cleanup_stale, make_workdir, set_offloads

# Linux's L4 multipath hash of headers is direction-independent (it orders
# addresses and ports): with one seed, both routers would send both
# directions of a flow through the same node. Different seeds keep the
# routers' choices independent for packets hashed by headers (most carry
# their socket's hash, see txrehash in tune_endpoints).
HASH_SEEDS = ("2576980377", "1431655765")   # the client's router, the server's


def prepare(lab, slots) -> None:
    """Removes what dead runs left, makes the lab's work directory (with
    its event marks file and one folder per node slot) and creates every
    namespace of `lab.namespaces()`."""
    cleanup_stale()
    lab.workdir = make_workdir(lab.prefix)
    lab.marks_path = os.path.join(lab.workdir, "marks.jsonl")
    open(lab.marks_path, "w").close()
    for s in slots:
        s.workdir = os.path.join(lab.workdir, s.label)
        os.makedirs(s.workdir)
    for ns in lab.namespaces():
        ns.create()


def tune_routers(crt: Namespace, srt: Namespace, others: tuple[Namespace, ...] = ()) -> None:
    """Routers: forwarding, no reverse-path filter (asymmetric on purpose),
    no redirects, L4 multipath hash; crt and srt with different hash seeds
    (HASH_SEEDS)."""
    for r in (crt, srt) + others:
        for key, value in (("net.ipv4.ip_forward", "1"),
                           ("net.ipv4.conf.all.rp_filter", "0"),
                           ("net.ipv4.conf.default.rp_filter", "0"),
                           ("net.ipv4.conf.all.send_redirects", "0"),
                           ("net.ipv4.conf.default.send_redirects", "0"),
                           ("net.ipv4.fib_multipath_hash_policy", "1"),
                           ("net.ipv4.icmp_ratelimit", "0")):
            r.sysctl(key, value)
    crt.sysctl("net.ipv4.fib_multipath_hash_seed", HASH_SEEDS[0], required=False)
    srt.sysctl("net.ipv4.fib_multipath_hash_seed", HASH_SEEDS[1], required=False)


def no_rp_filter(router: Namespace, ifaces) -> None:
    """No reverse-path filter on each of the router's `ifaces` (the
    interface setting is the larger of it and `all`)."""
    for iface in ifaces:
        router.sysctl(f"net.ipv4.conf.{iface}.rp_filter", "0")


def tune_endpoints(client: Namespace, server: Namespace) -> None:
    """The endpoints of a connection storm: ICMP not rate-limited, a wide
    client port range, deep server backlogs, and txrehash off.

    A router's multipath hash uses a packet's L4 hash when the skb carries
    one, and packets from a local socket carry the socket's random tx hash
    across the veth. TCP re-rolls that hash on every retransmission timeout
    (net.core.txrehash), which would move a retransmitted SYN, SYN-ACK or
    segment to another node, unlike a router hashing headers. Off: each
    direction of a connection keeps its node."""
    for ns in (client, server):
        ns.sysctl("net.ipv4.icmp_ratelimit", "0", required=False)
        ns.sysctl("net.core.txrehash", "0", required=False)
    client.sysctl("net.ipv4.ip_local_port_range", "10000 65000")
    server.sysctl("net.core.somaxconn", "4096", required=False)
    server.sysctl("net.ipv4.tcp_max_syn_backlog", "4096", required=False)


def real_frames_up(ifaces) -> None:
    """Offloads off on every (namespace, interface), then up: the nodes'
    af_packet ports must see and send real frames (no GSO/GRO aggregates,
    no CHECKSUM_PARTIAL), and the endpoints and routers must send frames
    with real checksums."""
    for ns, iface in ifaces:
        set_offloads(ns, iface, tx=False, rx=False, tso=False, gso=False, gro=False)
        ns.run(["ip", "link", "set", iface, "up"])


def add_bridge(sw: Namespace, name: str, mtu: str | None = None) -> None:
    """A switch bridge: no STP, no forward delay, no multicast snooping."""
    sw.run(["ip", "link", "add", name, "type", "bridge", "stp_state", "0",
            "forward_delay", "0", "mcast_snooping", "0"])
    if mtu:
        sw.run(["ip", "link", "set", name, "mtu", mtu])


def keep_peer_link_from_kernel(ns: Namespace, peer_if: str) -> None:
    """On a real port DPDK owns the NIC and the kernel never sees the peer
    link. Here af_packet hands tandemd its copy first; after that the
    node's kernel would run every datagram up its IPv4 stack only to drop
    it (it has no address there): drop at ingress instead, as a 0x88B5
    frame is dropped at once."""
    ns.run(["nft", "-f", "-"], input=(
        "table netdev tandem_lab_peer_link {\n"
        "    chain ingress {\n"
        f"        type filter hook ingress device {peer_if} priority 0;"
        " policy drop;\n"
        "    }\n"
        "}\n"))


def curve_keys(slots) -> None:
    """A fresh CURVE key pair per node slot (`public_key`, `secret_key`)."""
    import zmq
    for s in slots:
        pub, sec = zmq.curve_keypair()
        s.public_key, s.secret_key = pub.decode(), sec.decode()
