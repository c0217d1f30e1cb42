#include "config/config_validator.h"

#include <algorithm>

#include "config/value_parsers.h"
#include "proto/peer_link_udp.h"

namespace tandem::config_detail {
namespace {

std::string portSection(const PortConfig& p) {
    return "port." + p.name;
}
std::string peerSection(const PeerConfig& p) {
    return "peer." + std::to_string(p.id);
}

std::string defaultNodeName(NodeId id) {
    return "node" + std::to_string(id);
}

void markPeerLinkPort(LoadContext& c) {
    HaConfig& ha = c.cfg.ha;
    if (ha.peer_link_port.empty()) return;
    auto& ports = c.cfg.dataplane.ports;
    auto it = std::find_if(ports.begin(), ports.end(),
                           [&](const PortConfig& p) { return p.name == ha.peer_link_port; });
    if (it == ports.end()) {
        std::vector<std::string> names;
        for (const auto& p : ports) names.push_back(p.name);
        c.error(c.lineOf("ha", "peer-link-port"),
                "[ha] peer-link-port = " + ha.peer_link_port + ": there is no [port." +
                    ha.peer_link_port + "] section" +
                    (names.empty() ? "" : "; ports: " + joinWords(names)));
        return;
    }
    it->peer_link = true;
}

void checkPorts(LoadContext& c) {
    Config& cfg = c.cfg;
    auto& ports = cfg.dataplane.ports;
    markPeerLinkPort(c);

    for (size_t i = 0; i < ports.size(); ++i) {
        PortConfig& p = ports[i];
        const std::string section = portSection(p);
        if (p.peer_link && !p.zone.empty()) {
            c.error(c.lineOf(section, "zone"),
                    "[" + section +
                        "] is the peer-link port ([ha] peer-link-port) and carries "
                        "no traffic of any zone; remove its zone");
        } else if (!p.peer_link && p.zone.empty()) {
            c.error(p.line, "[" + section + "] zone is required for a data port");
            c.zones_complete = false;
        }
        for (size_t j = 0; j < i; ++j) {
            if (!p.device.empty() && ports[j].device == p.device) {
                c.error(c.lineOf(section, "device"),
                        "[" + section + "] device = " + p.device + ": already used by [" +
                            portSection(ports[j]) + "] (line " +
                            std::to_string(c.lineOf(portSection(ports[j]), "device")) + ")");
            }
        }
    }

    // Zone ids: in order of first use by a data port.
    for (PortConfig& p : ports) {
        if (p.peer_link || p.zone.empty()) continue;
        auto it = std::find(cfg.zones.begin(), cfg.zones.end(), p.zone);
        if (it == cfg.zones.end()) {
            cfg.zones.push_back(p.zone);
            it = cfg.zones.end() - 1;
        }
        p.zone_id = uint16_t(it - cfg.zones.begin());
    }

    std::vector<const PortConfig*> data;
    for (const PortConfig& p : ports)
        if (!p.peer_link) data.push_back(&p);
    const bool inline_mode = cfg.dataplane.mode == DataplaneMode::inline_mode;
    const size_t needed = inline_mode ? 2 : 1;
    if (c.wasRejected("dataplane", "mode")) {
        // Which count is right is unknown; the mode's error says enough.
    } else if (data.size() != needed) {
        std::vector<std::string> names;
        for (const auto* p : data) names.push_back(p->name);
        std::string message = std::string(inline_mode ? "inline mode needs exactly two data ports"
                                                      : "geneve mode needs exactly one data port") +
                              " ([port.NAME] sections other than the peer-link port); found " +
                              std::to_string(data.size()) +
                              (names.empty() ? "" : ": " + joinWords(names));
        unsigned line = data.size() > needed ? data[needed]->line : c.lineOf("dataplane", "mode");
        c.error(line, message);
    } else if (inline_mode && !data[0]->zone.empty() && data[0]->zone == data[1]->zone) {
        c.warning(c.lineOf(portSection(*data[1]), "zone"),
                  "both inline ports are in zone " + data[1]->zone +
                      ": rules cannot tell the two directions apart");
    }
    if (!inline_mode && cfg.dataplane.steering == SteeringSetting::rss &&
        !c.wasRejected("dataplane", "mode")) {
        c.error(c.lineOf("dataplane", "steering"),
                "[dataplane] steering = rss cannot be used in geneve mode: devices hash a "
                "tunnel's outer header, not the flows inside it (use auto or software)");
    }
    if (inline_mode && c.isSet("dataplane", "geneve-port")) {
        c.warning(c.lineOf("dataplane", "geneve-port"),
                  "[dataplane] geneve-port has no effect in inline mode");
    }
}

void checkPeerLinkAddress(LoadContext& c, const PeerConfig& p) {
    const std::string section = peerSection(p);
    const unsigned line = c.lineOf(section, "link-address");
    if (std::holds_alternative<std::monostate>(p.link_address) || c.wasRejected("ha", "peer-link"))
        return;
    const std::string what =
        "[" + section + "] link-address = " + formatPeerLinkAddress(p.link_address);
    if (c.cfg.ha.peer_link == PeerLinkTransport::raw) {
        const MacAddress* mac = std::get_if<MacAddress>(&p.link_address);
        if (!mac) {
            c.error(line, what + ": expected a MAC address aa:bb:cc:dd:ee:ff (peer-link = raw)");
        } else if (((*mac)[0] & 1) != 0 || *mac == MacAddress{}) {
            c.error(line, what + ": expected the peer's unicast MAC address");
        }
        return;
    }
    const IpPort* ip = std::get_if<IpPort>(&p.link_address);
    if (!ip) {
        c.error(line, what + ": expected IP:PORT, e.g. 10.0.1.11:4790 (peer-link = udp)");
        return;
    }
    if (ip->family != AddrFamily::v4) {
        c.error(line, what + ": the udp peer link carries IPv4 only; give the peer's IPv4 address");
        return;
    }
    if (const auto& local = c.cfg.ha.peer_link_listen; local && local->family != ip->family) {
        c.error(line, what + ": not the same address family as [ha] peer-link-listen = " +
                          formatIpPort(*local));
    }
}

void checkPeers(LoadContext& c) {
    Config& cfg = c.cfg;
    if (cfg.node.name.empty() && cfg.node.id != kNoNode)
        cfg.node.name = defaultNodeName(cfg.node.id);
    for (size_t i = 0; i < cfg.peers.size(); ++i) {
        PeerConfig& p = cfg.peers[i];
        const std::string section = peerSection(p);
        if (p.name.empty()) p.name = defaultNodeName(p.id);
        if (p.id == cfg.node.id) {
            c.error(p.line, "[" + section + "]: " + std::to_string(p.id) +
                                " is this node's own id ([node] id at line " +
                                std::to_string(c.lineOf("node", "id")) +
                                "); list only the other nodes as peers");
        }
        if (!cfg.node.name.empty() && p.name == cfg.node.name) {
            c.error(c.lineOf(section, "name"), "[" + section + "] name " + p.name +
                                                   " is this node's name too; names must be "
                                                   "unique in the cluster");
        }
        if (!p.ha_address.empty() && p.ha_address == cfg.ha.listen) {
            c.error(c.lineOf(section, "ha-address"), "[" + section +
                                                         "] ha-address = " + p.ha_address +
                                                         " is this node's own [ha] listen address");
        }
        checkPeerLinkAddress(c, p);
        for (size_t j = 0; j < i; ++j) {
            const PeerConfig& q = cfg.peers[j];
            const std::string other = "[" + peerSection(q) + "]";
            if (p.name == q.name) {
                c.error(c.lineOf(section, "name"),
                        "[" + section + "] name " + p.name + " is also the name of " + other);
            }
            if (!p.ha_address.empty() && p.ha_address == q.ha_address) {
                c.error(
                    c.lineOf(section, "ha-address"),
                    "[" + section + "] ha-address = " + p.ha_address + " is also " + other + "'s");
            }
            if (!std::holds_alternative<std::monostate>(p.link_address) &&
                p.link_address == q.link_address) {
                c.error(c.lineOf(section, "link-address"),
                        "[" + section + "] link-address = " +
                            formatPeerLinkAddress(p.link_address) + " is also " + other + "'s");
            }
            if (!p.public_key.empty() && p.public_key == q.public_key) {
                c.error(c.lineOf(section, "public-key"),
                        "[" + section + "] public-key is also " + other + "'s");
            }
        }
    }
}

// All or none: one key anywhere turns CURVE on, and then every node needs
// its keys, so that no peer is silently left unauthenticated.
void checkCurveKeys(LoadContext& c) {
    Config& cfg = c.cfg;
    HaConfig& ha = cfg.ha;
    if (c.isSet("ha", "secret-key") && c.isSet("ha", "secret-key-file")) {
        c.error(std::max(c.lineOf("ha", "secret-key"), c.lineOf("ha", "secret-key-file")),
                "[ha] secret-key and secret-key-file both set (lines " +
                    std::to_string(c.lineOf("ha", "secret-key-file")) + " and " +
                    std::to_string(c.lineOf("ha", "secret-key")) + "); keep secret-key-file");
    }
    if (!c.key_file_public_key.empty()) {
        if (ha.public_key.empty() && !c.isSet("ha", "public-key")) {
            ha.public_key = c.key_file_public_key;
        } else if (!ha.public_key.empty() && ha.public_key != c.key_file_public_key) {
            c.error(c.lineOf("ha", "public-key"),
                    "[ha] public-key differs from the public key in secret-key-file");
        }
    }
    if (cfg.peers.empty()) return;

    std::string reason;
    if (!ha.secret_key.empty() || c.isSet("ha", "secret-key") || c.isSet("ha", "secret-key-file")) {
        reason = "[ha] has a secret key";
    } else if (!ha.public_key.empty() || c.isSet("ha", "public-key")) {
        reason = "[ha] has a public-key";
    } else {
        for (const auto& p : cfg.peers) {
            if (!p.public_key.empty() || c.isSet(peerSection(p), "public-key")) {
                reason = "[" + peerSection(p) + "] has a public-key";
                break;
            }
        }
    }
    if (reason.empty()) {
        if (ha.peer_link_auth) {
            c.error(c.lineOf("ha", "peer-link-auth"),
                    "[ha] peer-link-auth needs the CURVE keys (its key material): set [ha] "
                    "secret-key-file and public-key, and public-key in every [peer.ID]");
        }
        if (!ha.insecure) {
            c.error(c.lineOf("ha", ""),
                    "peers need CURVE keys: set [ha] secret-key-file and public-key, and "
                    "public-key in every [peer.ID] (or [ha] insecure = true to run HA and the "
                    "peer link unauthenticated and unencrypted, in a lab)");
            return;
        }
        c.warning(c.lineOf("ha", "insecure"),
                  "[ha] insecure = true: HA traffic is neither authenticated nor encrypted, nor "
                  "are peer-link frames; anyone who reaches the HA port or the peer link can "
                  "speak as any node");
        return;
    }
    if (ha.insecure) {
        c.warning(c.lineOf("ha", "insecure"),
                  "[ha] insecure = true has no effect: CURVE keys are set");
        ha.insecure = false;
    }
    // With keys, the peer link is authenticated unless it is turned off.
    if (!c.isSet("ha", "peer-link-auth")) {
        ha.peer_link_auth = true;
    } else if (!ha.peer_link_auth) {
        c.warning(c.lineOf("ha", "peer-link-auth"),
                  "[ha] peer-link-auth = off: peer-link frames are not authenticated; any host "
                  "that can reach the peer link can send frames out of this node's ports or "
                  "keep a dead peer alive with forged heartbeats (a dedicated cable only)");
    }
    const unsigned ha_line = c.lineOf("ha", "");
    if (!c.isSet("ha", "secret-key") && !c.isSet("ha", "secret-key-file")) {
        c.error(ha_line,
                "[ha] secret-key-file (or secret-key) is required: CURVE is on because " + reason);
    }
    if (ha.public_key.empty() && !c.isSet("ha", "public-key")) {
        c.error(ha_line, "[ha] public-key is required: CURVE is on because " + reason);
    }
    for (const auto& p : cfg.peers) {
        const std::string section = peerSection(p);
        if (!c.isSet(section, "public-key")) {
            c.error(p.line, "[" + section + "] public-key is required: CURVE is on because " +
                                reason + ", and every peer needs a key");
        } else if (!p.public_key.empty() && p.public_key == ha.public_key) {
            c.error(c.lineOf(section, "public-key"),
                    "[" + section + "] public-key is this node's own public key ([ha] public-key)");
        }
    }
}

void checkHa(LoadContext& c) {
    Config& cfg = c.cfg;
    HaConfig& ha = cfg.ha;
    ha.enabled = !cfg.peers.empty();

    if (!c.isSet("ha", "hold-time-ms")) {
        ha.hold_time_ms = 4 * ha.heartbeat_interval_ms;
    } else if (ha.hold_time_ms < 2 * ha.heartbeat_interval_ms &&
               !c.wasRejected("ha", "heartbeat-interval-ms")) {
        c.error(c.lineOf("ha", "hold-time-ms"),
                "[ha] hold-time-ms = " + std::to_string(ha.hold_time_ms) +
                    ": must be at least twice heartbeat-interval-ms (" +
                    std::to_string(2 * ha.heartbeat_interval_ms) +
                    "), or one late heartbeat declares a live peer dead");
    }
    if (ha.peer_link_detect_ms != 0 && !c.wasRejected("ha", "heartbeat-interval-ms") &&
        !c.wasRejected("ha", "hold-time-ms")) {
        const unsigned line = c.lineOf("ha", "peer-link-detect-ms");
        const std::string what =
            "[ha] peer-link-detect-ms = " + std::to_string(ha.peer_link_detect_ms) + ": must be ";
        if (ha.peer_link_detect_ms < 2 * ha.heartbeat_interval_ms) {
            c.error(line, what + "at least twice heartbeat-interval-ms (" +
                              std::to_string(2 * ha.heartbeat_interval_ms) +
                              "), or a cut peer link declares a live peer dead between two "
                              "control-link heartbeats");
        } else if (ha.peer_link_detect_ms >= ha.hold_time_ms) {
            c.error(line, what + "shorter than hold-time-ms (" + std::to_string(ha.hold_time_ms) +
                              "), or it detects nothing sooner; 0 turns it off");
        }
    }
    if (c.wasRejected("ha", "peer-link")) {
        // raw or udp is unknown: the keys of both are accepted as they are.
    } else if (ha.peer_link == PeerLinkTransport::raw) {
        for (const char* key : {"peer-link-listen", "peer-link-gateway"}) {
            if (c.isSet("ha", key)) {
                c.error(c.lineOf("ha", key),
                        std::string("[ha] ") + key +
                            " is only used with peer-link = udp; a raw peer link addresses "
                            "peers by MAC on peer-link-port");
            }
        }
    }
    checkCurveKeys(c);

    if (!ha.enabled) {
        const SectionState* s = c.findSection("ha");
        if (s != nullptr && !s->keys.empty()) {
            c.warning(s->line,
                      "[ha] has no effect: there is no [peer.ID] section, so this node "
                      "runs alone");
        }
        return;
    }
    const unsigned ha_line = c.lineOf("ha", "");
    if (ha.listen.empty() && !c.isSet("ha", "listen")) {
        c.error(ha_line,
                "[ha] listen is required with peers: the ZeroMQ endpoint for HA "
                "traffic, e.g. tcp://10.0.0.1:7400");
    }
    if (c.wasRejected("ha", "peer-link")) return;
    if (!c.isSet("ha", "peer-link-port")) {
        c.error(ha_line, std::string("[ha] peer-link-port is required with peers: the [port.NAME] "
                                     "of the peer link (peer-link = ") +
                             peerLinkTransportName(ha.peer_link) + ")");
    }
    if (ha.peer_link == PeerLinkTransport::udp) {
        if (!c.isSet("ha", "peer-link-listen")) {
            c.error(ha_line,
                    "[ha] peer-link-listen is required with peers and peer-link = udp: "
                    "this node's IP:PORT for forwarded packets");
        }
        const auto& local = ha.peer_link_listen;
        if (local && local->family != AddrFamily::v4) {
            c.error(c.lineOf("ha", "peer-link-listen"),
                    "[ha] peer-link-listen = " + formatIpPort(*local) +
                        ": the udp peer link carries IPv4 only; give this node's IPv4 address");
        }
        if (local && cfg.dataplane.mode == DataplaneMode::geneve &&
            local->port == cfg.dataplane.geneve_port) {
            c.error(c.lineOf("ha", "peer-link-listen"),
                    "[ha] peer-link-listen uses port " + std::to_string(local->port) +
                        ", the GENEVE port; pick another (e.g. 4790)");
        }
    }
}

}  // namespace

// A forwarded frame travels whole inside the peer-link frame: the peer
// link's MTU must exceed the data ports' by the encapsulation (raw: 16-byte
// header + the inner Ethernet header; udp: + IPv4 and UDP headers too;
// with peer-link-auth, + the authentication trailer). A
// port without `mtu` counts as DPDK's default, 1500; with no `mtu` anywhere
// nothing is said (a port on a kernel interface runs at that interface's
// MTU, which the config does not know).
void checkPeerLinkMtu(LoadContext& c) {
    constexpr unsigned kDefaultMtu = 1500;
    auto mtuOf = [](const PortConfig& p) { return p.mtu != 0 ? unsigned(p.mtu) : kDefaultMtu; };
    const PortConfig* link = nullptr;
    const PortConfig* widest = nullptr;
    for (const PortConfig& p : c.cfg.dataplane.ports) {
        if (p.peer_link)
            link = &p;
        else if (!widest || mtuOf(p) > mtuOf(*widest))
            widest = &p;
    }
    if (!link || !widest) return;
    const bool any_set = std::any_of(c.cfg.dataplane.ports.begin(), c.cfg.dataplane.ports.end(),
                                     [](const PortConfig& p) { return p.mtu != 0; });
    if (!any_set) return;
    const bool udp = c.cfg.ha.peer_link == PeerLinkTransport::udp;
    const unsigned overhead = unsigned(udp ? kPeerLinkUdpOverhead : kPeerLinkOverhead) +
                              unsigned(c.cfg.ha.peer_link_auth ? kPeerLinkAuthTrailerSize : 0);
    const unsigned need = mtuOf(*widest) + overhead;
    const unsigned have = mtuOf(*link);
    if (have >= need) return;
    auto shown = [](const PortConfig& p) {
        return "[" + portSection(p) + "] mtu " + (p.mtu != 0 ? "= " : "(default) ") +
               std::to_string(p.mtu != 0 ? unsigned(p.mtu) : kDefaultMtu);
    };
    c.warning(link->mtu != 0 ? c.lineOf(portSection(*link), "mtu") : link->line,
              shown(*link) + " is too small for the peer link: " + shown(*widest) + " + " +
                  std::to_string(overhead) + " bytes of " + (udp ? "udp" : "raw") +
                  (c.cfg.ha.peer_link_auth ? " encapsulation and authentication = "
                                           : " encapsulation = ") +
                  std::to_string(need) + "; forwarded packets longer than " +
                  std::to_string(have - overhead) + " bytes will be dropped");
}

// [health-check] belongs to GENEVE mode, where a load balancer checks the
// node; without it there, the load balancer's checks get no answer.
void checkHealthCheck(LoadContext& c) {
    const HealthCheckSettings& hc = c.cfg.health_check;
    const bool geneve = c.cfg.dataplane.mode == DataplaneMode::geneve;
    if (c.wasRejected("dataplane", "mode")) return;
    if (hc.enabled && !geneve) {
        c.error(c.lineOf("health-check", "address"),
                "[health-check] answers a load balancer's checks in [dataplane] mode = geneve; "
                "this node runs inline");
        return;
    }
    if (geneve && !hc.enabled) {
        c.warning(c.lineOf("dataplane", "mode"),
                  "geneve mode without [health-check]: the load balancer's health checks get no "
                  "answer and it never sends this node traffic (add [health-check] address = the "
                  "data port's IPv4 address)");
    }
    if (hc.enabled && hc.protocol == HealthCheckProtocol::tcp && c.isSet("health-check", "path")) {
        c.warning(c.lineOf("health-check", "path"),
                  "[health-check] path has no effect with protocol = tcp");
    }
}

void validateConfig(LoadContext& c) {
    checkPorts(c);
    checkHealthCheck(c);
    checkPeers(c);
    checkHa(c);
    checkPeerLinkMtu(c);
}

}  // namespace tandem::config_detail
