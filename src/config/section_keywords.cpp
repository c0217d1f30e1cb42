#include "config/section_keywords.h"

#include <array>
#include <cstdio>

#include "config/curve_keys.h"
#include "config/value_parsers.h"
#include "core/log.h"
#include "core/node_id.h"

namespace tandem::config_detail {
namespace {

constexpr size_t kMaxNameLength = 32;       // ports, zones
constexpr size_t kMaxUnixSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

// --- shared value handlers ---------------------------------------------------

template <class T>
bool setUnsigned(LoadContext& c, const IniEntry& e, T& out, uint64_t lo, uint64_t hi,
                 const char* what) {
    auto v = parseUnsigned(e.value, lo, hi);
    if (!v) {
        return c.badValue(e, std::string("expected ") + what + " " + std::to_string(lo) + ".." +
                                 std::to_string(hi));
    }
    out = T(*v);
    return true;
}

bool setBool(LoadContext& c, const IniEntry& e, bool& out) {
    auto v = parseBool(e.value);
    if (!v) return c.badValue(e, "expected true or false (also yes/no, on/off, 1/0)");
    out = *v;
    return true;
}

bool setNodeName(LoadContext& c, const IniEntry& e, std::string& out) {
    if (!isValidNodeName(e.value)) {
        return c.badValue(e, "expected a name of letters, digits, '.', '-' or '_' (up to " +
                                 std::to_string(kMaxNodeNameLength) + ")");
    }
    out = e.value;
    return true;
}

bool setSimpleName(LoadContext& c, const IniEntry& e, std::string& out, const char* what) {
    if (!isSimpleName(e.value, kMaxNameLength)) {
        return c.badValue(
            e, std::string("expected ") + what + ": letters, digits, '-' or '_' (up to 32)");
    }
    out = e.value;
    return true;
}

// Z85 keys may contain '#', which the INI reader takes for a comment, so
// the key is cut from the raw line. Secret values are never echoed.
bool setCurveKey(LoadContext& c, const IniEntry& e, std::string& out, bool secret) {
    auto key = keyFromRawValue(e.raw_value);
    std::string why;
    if (!key) {
        why = "expected one 40-character Z85 key; a comment after it needs a blank before '#'";
    } else if (!isZ85Key(*key, &why, secret ? KeyText::secret : KeyText::may_echo)) {
        // fall through with `why` set
    } else {
        out = *key;
        return true;
    }
    if (secret) {
        c.error(e.line, "[" + c.section().name + "] " + e.key + ": " + why);
        return false;
    }
    return c.badValue(e, why);
}

// --- [node] ------------------------------------------------------------------

constexpr Keyword kNodeKeywords[] = {
    {"id",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.node.id, 1, kMaxNodes, "a node id");
     },
     KeyUse::required},
    {"name", [](LoadContext& c, const IniEntry& e) { return setNodeName(c, e, c.cfg.node.name); }},
    {"cluster-id",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.node.cluster_id, 1, 65535, "a cluster id");
     }},
};

// --- [dataplane] -------------------------------------------------------------

bool dataplaneMode(LoadContext& c, const IniEntry& e) {
    if (e.value == "inline") {
        c.cfg.dataplane.mode = DataplaneMode::inline_mode;
    } else if (e.value == "geneve") {
        c.cfg.dataplane.mode = DataplaneMode::geneve;
    } else {
        return c.badValue(e, "expected inline or geneve");
    }
    return true;
}

bool dataplaneSteering(LoadContext& c, const IniEntry& e) {
    for (SteeringSetting s :
         {SteeringSetting::automatic, SteeringSetting::rss, SteeringSetting::software}) {
        if (e.value == steeringSettingName(s)) {
            c.cfg.dataplane.steering = s;
            return true;
        }
    }
    return c.badValue(e, "expected auto, rss or software");
}

constexpr Keyword kDataplaneKeywords[] = {
    {"mode", dataplaneMode},
    {"eal-args",
     [](LoadContext& c, const IniEntry& e) {
         c.cfg.dataplane.eal_args = splitWhitespace(e.value);
         return true;
     }},
    {"workers",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.dataplane.workers, 1, 64, "a worker count");
     }},
    {"session-capacity",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.dataplane.session_capacity, 1024, 268435456,
                            "a session count");
     }},
    {"busy-poll",
     [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.dataplane.busy_poll); }},
    {"geneve-port",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.dataplane.geneve_port, 1, 65535, "a UDP port");
     }},
    {"burst-size",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.dataplane.burst_size, 1, 256, "a burst size");
     }},
    {"packet-buffers",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.dataplane.packet_buffers, 0, 67108864,
                            "a packet buffer count");
     }},
    {"steering", dataplaneSteering},
};

// --- [port.NAME] -------------------------------------------------------------

bool openPort(LoadContext& c, std::string_view name) {
    if (!isSimpleName(name, kMaxNameLength)) {
        c.error(c.section().line, "[" + c.section().name + "]: invalid port name '" +
                                      std::string(name) +
                                      "': expected letters, digits, '-' or '_' (up to 32)");
        return false;
    }
    PortConfig port;
    port.name = std::string(name);
    port.line = c.section().line;
    c.cfg.dataplane.ports.push_back(std::move(port));
    c.section().target = int(c.cfg.dataplane.ports.size() - 1);
    return true;
}

constexpr Keyword kPortKeywords[] = {
    {"device",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty() || e.value.find_first_of(" \t") != std::string::npos) {
             return c.badValue(e,
                               "expected DPDK device arguments without blanks, e.g. "
                               "0000:00:06.0 or net_af_packet0,iface=eth1");
         }
         c.port().device = e.value;
         return true;
     },
     KeyUse::required},
    {"zone", [](LoadContext& c,
                const IniEntry& e) { return setSimpleName(c, e, c.port().zone, "a zone name"); }},
    {"mtu",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.port().mtu, 68, kMaxPortMtu, "an IP MTU in bytes");
     }},
};

// --- [peer.ID] ---------------------------------------------------------------

bool openPeer(LoadContext& c, std::string_view id_text) {
    auto id = parseUnsigned(id_text, 1, kMaxNodes);
    if (!id) {
        c.error(c.section().line, "[" + c.section().name +
                                      "]: expected a peer node id 1..16 "
                                      "after 'peer.'");
        return false;
    }
    for (const auto& p : c.cfg.peers) {
        if (p.id == *id) {
            c.error(c.section().line, "[" + c.section().name + "]: peer " + std::to_string(*id) +
                                          " is already defined at line " + std::to_string(p.line));
            return false;
        }
    }
    // "peer.02" is peer 2: messages and lookups use the canonical name.
    c.section().name = "peer." + std::to_string(*id);
    PeerConfig peer;
    peer.id = NodeId(*id);
    peer.line = c.section().line;
    c.cfg.peers.push_back(std::move(peer));
    c.section().target = int(c.cfg.peers.size() - 1);
    return true;
}

constexpr Keyword kPeerKeywords[] = {
    {"name", [](LoadContext& c, const IniEntry& e) { return setNodeName(c, e, c.peer().name); }},
    {"ha-address",
     [](LoadContext& c, const IniEntry& e) {
         std::string why;
         if (!checkZmqEndpoint(e.value, false, &why)) return c.badValue(e, why);
         c.peer().ha_address = e.value;
         return true;
     },
     KeyUse::required},
    {"link-address",
     [](LoadContext& c, const IniEntry& e) {
         // Which form is right depends on [ha] peer-link; checked once all is read.
         if (auto mac = parseMac(e.value)) {
             c.peer().link_address = *mac;
         } else if (auto at = parseIpPort(e.value)) {
             c.peer().link_address = *at;
         } else {
             return c.badValue(e,
                               "expected a MAC address aa:bb:cc:dd:ee:ff (raw peer link) "
                               "or IP:PORT (udp peer link)");
         }
         return true;
     },
     KeyUse::required},
    {"public-key", [](LoadContext& c,
                      const IniEntry& e) { return setCurveKey(c, e, c.peer().public_key, false); }},
};

// --- [ha] --------------------------------------------------------------------

bool haSessionOwner(LoadContext& c, const IniEntry& e) {
    if (e.value == "first-packet") {
        c.cfg.ha.session_owner = OwnerElection::first_packet;
    } else if (e.value == "primary") {
        c.cfg.ha.session_owner = OwnerElection::primary;
    } else {
        return c.badValue(e, "expected first-packet or primary");
    }
    return true;
}

bool haPeerLink(LoadContext& c, const IniEntry& e) {
    if (e.value == "raw") {
        c.cfg.ha.peer_link = PeerLinkTransport::raw;
    } else if (e.value == "udp") {
        c.cfg.ha.peer_link = PeerLinkTransport::udp;
    } else {
        return c.badValue(e, "expected raw or udp");
    }
    return true;
}

bool haPeerLinkListen(LoadContext& c, const IniEntry& e) {
    auto ip = parseIpPort(e.value);
    if (!ip) return c.badValue(e, "expected this node's IP:PORT, e.g. 10.0.1.10:4790");
    if (ip->addr == IpAddr{} || ip->addr == IpAddr::fromV4(0)) {
        return c.badValue(e,
                          "expected this node's own address, not a wildcard: the peer-link "
                          "header carries it");
    }
    c.cfg.ha.peer_link_listen = *ip;
    return true;
}

bool haPeerLinkGateway(LoadContext& c, const IniEntry& e) {
    auto ip = parseIpAddr(e.value);
    if (!ip || !ip->isV4Mapped() || ip->v4() == 0 || ip->v4() == 0xffffffffu ||
        (ip->v4() >> 28) == 0xe) {
        return c.badValue(e,
                          "expected the IPv4 address of the router towards the peers, "
                          "e.g. 10.0.3.1");
    }
    c.cfg.ha.peer_link_gateway = *ip;
    return true;
}

bool haSecretKeyFile(LoadContext& c, const IniEntry& e) {
    if (e.value.empty()) return c.badValue(e, "expected the path of a file holding the key");
    std::string path = resolvePath(c.base_dir, e.value);
    std::string error;
    auto key = readCurveKeyFile(path, &error);
    if (!key) return c.badValue(e, error);
    if ((key->mode & 077) != 0) {
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", key->mode & 07777u);
        c.warning(e.line, "[ha] secret-key-file " + path + " is readable by other users (mode " +
                              mode + "); chmod 600 it");
    }
    c.cfg.ha.secret_key = key->secret_key;
    c.cfg.ha.secret_key_file = path;
    c.key_file_public_key = key->public_key;
    return true;
}

constexpr Keyword kHaKeywords[] = {
    {"session-owner", haSessionOwner},
    {"revert", [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.ha.revert); }},
    {"insecure",
     [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.ha.insecure); }},
    {"priority",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.ha.priority, 0, 255, "a priority");
     }},
    {"preempt", [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.ha.preempt); }},
    {"heartbeat-interval-ms",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.ha.heartbeat_interval_ms, 10, 10000, "milliseconds");
     }},
    {"hold-time-ms",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.ha.hold_time_ms, 20, 600000, "milliseconds");
     }},
    {"peer-link-detect-ms",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.ha.peer_link_detect_ms, 0, 600000,
                            "milliseconds (0 = off)");
     }},
    {"listen",
     [](LoadContext& c, const IniEntry& e) {
         std::string why;
         if (!checkZmqEndpoint(e.value, true, &why)) return c.badValue(e, why);
         c.cfg.ha.listen = e.value;
         return true;
     }},
    {"peer-link", haPeerLink},
    {"peer-link-port",
     [](LoadContext& c, const IniEntry& e) {
         return setSimpleName(c, e, c.cfg.ha.peer_link_port, "the name of a [port.NAME] section");
     }},
    {"peer-link-listen", haPeerLinkListen},
    {"peer-link-gateway", haPeerLinkGateway},
    {"peer-link-auth",
     [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.ha.peer_link_auth); }},
    {"secret-key-file", haSecretKeyFile},
    {"secret-key", [](LoadContext& c,
                      const IniEntry& e) { return setCurveKey(c, e, c.cfg.ha.secret_key, true); }},
    {"public-key", [](LoadContext& c,
                      const IniEntry& e) { return setCurveKey(c, e, c.cfg.ha.public_key, false); }},
};

// --- [timeouts] --------------------------------------------------------------

struct TimeoutField {
    std::string_view key;
    uint32_t SessionTimeouts::*field;
};

constexpr TimeoutField kTimeoutFields[] = {
    {"tcp-syn-sent", &SessionTimeouts::tcp_syn_sent_s},
    {"tcp-syn-recv", &SessionTimeouts::tcp_syn_recv_s},
    {"tcp-established", &SessionTimeouts::tcp_established_s},
    {"tcp-fin-wait", &SessionTimeouts::tcp_fin_wait_s},
    {"tcp-close-wait", &SessionTimeouts::tcp_close_wait_s},
    {"tcp-last-ack", &SessionTimeouts::tcp_last_ack_s},
    {"tcp-time-wait", &SessionTimeouts::tcp_time_wait_s},
    {"tcp-close", &SessionTimeouts::tcp_close_s},
    {"udp-unreplied", &SessionTimeouts::udp_unreplied_s},
    {"udp-replied", &SessionTimeouts::udp_replied_s},
    {"icmp", &SessionTimeouts::icmp_s},
    {"other", &SessionTimeouts::other_s},
    {"tcp-embryonic-under-pressure", &SessionTimeouts::tcp_embryonic_pressure_s},
};

bool setTimeout(LoadContext& c, const IniEntry& e) {
    for (const auto& f : kTimeoutFields) {
        if (f.key == e.key) {
            return setUnsigned(c, e, c.cfg.session.timeouts.*(f.field), 1, 864000, "seconds");
        }
    }
    return false;
}

bool setPressurePercent(LoadContext& c, const IniEntry& e) {
    return setUnsigned(c, e, c.cfg.session.timeouts.pressure_percent, 1, 100, "percent");
}

constexpr std::array<Keyword, std::size(kTimeoutFields) + 1> makeTimeoutKeywords() {
    std::array<Keyword, std::size(kTimeoutFields) + 1> out{};
    for (size_t i = 0; i < std::size(kTimeoutFields); ++i) {
        out[i] = {kTimeoutFields[i].key, setTimeout};
    }
    out.back() = {"pressure-percent", setPressurePercent};
    return out;
}

constexpr auto kTimeoutKeywords = makeTimeoutKeywords();

// --- [tcp] -------------------------------------------------------------------

constexpr Keyword kTcpKeywords[] = {
    {"pickup",
     [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.session.tcp.pickup); }},
    {"window-check",
     [](LoadContext& c, const IniEntry& e) {
         return setBool(c, e, c.cfg.session.tcp.window_check);
     }},
};

// --- [control] ---------------------------------------------------------------

constexpr Keyword kControlKeywords[] = {
    {"socket",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty()) return c.badValue(e, "expected the path of the control socket");
         std::string path = resolvePath(c.base_dir, e.value);
         if (path.size() > kMaxUnixSocketPath) {
             return c.badValue(
                 e, "the path " + path + " is longer than a Unix socket path may be (107)");
         }
         c.cfg.control.socket = path;
         return true;
     }},
    {"metrics-listen",
     [](LoadContext& c, const IniEntry& e) {
         const std::optional<IpPort> at = e.value.empty() ? std::nullopt : parseIpPort(e.value);
         if (!e.value.empty() && !at) {
             return c.badValue(e, "expected IP:PORT, e.g. 127.0.0.1:9464 (empty disables)");
         }
         const bool wildcard =
             at && (at->family == AddrFamily::v4 ? at->addr.v4() == 0 : at->addr.asU128() == 0);
         if (wildcard) {
             c.warning(e.line, "[control] metrics-listen = " + e.value +
                                   " serves every address of this host, plain HTTP without "
                                   "authentication: bind it to a management address");
         }
         c.cfg.control.metrics_listen = e.value;
         return true;
     }},
    {"traffic-log",
     [](LoadContext& c, const IniEntry& e) {
         // "syslog" sends the lines to syslog(3); anything else is a file.
         c.cfg.control.traffic_log =
             e.value == "syslog" || e.value.empty() ? e.value : resolvePath(c.base_dir, e.value);
         return true;
     }},
    {"log-level",
     [](LoadContext& c, const IniEntry& e) {
         LogLevel level;
         if (!parseLogLevel(e.value, &level)) {
             return c.badValue(e, "expected error, warn, info or debug");
         }
         c.cfg.control.log_level = logLevelName(level);
         return true;
     }},
};

// --- [policy] ----------------------------------------------------------------

constexpr Keyword kPolicyKeywords[] = {
    {"rule",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty()) return c.badValue(e, "expected a rule, e.g. allow from inside");
         c.inline_rules.push_back({e.value, c.file, e.line, e.value_column - 1, e.line});
         return true;
     },
     KeyUse::repeatable},
    {"rules-file",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty()) return c.badValue(e, "expected the path of a rules file");
         std::string path = resolvePath(c.base_dir, e.value);
         for (const auto& f : c.rules_files) {
             if (f.path == path) {
                 return c.badValue(e, "already included at line " + std::to_string(f.line));
             }
         }
         c.rules_files.push_back({path, e.line});
         return true;
     },
     KeyUse::repeatable},
    {"re-evaluate",
     [](LoadContext& c, const IniEntry& e) { return setBool(c, e, c.cfg.policy_reevaluate); }},
};

// --- [nat] -------------------------------------------------------------------

constexpr Keyword kNatKeywords[] = {
    {"pool",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty())
             return c.badValue(e, "expected a pool, e.g. public 198.51.100.10-198.51.100.13");
         c.nat_pools.push_back({e.value, c.file, e.line, e.value_column - 1, e.line});
         return true;
     },
     KeyUse::repeatable},
    {"rule",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value.empty())
             return c.badValue(e, "expected a rule, e.g. snat from inside to outside pool public");
         c.nat_rules.push_back({e.value, c.file, e.line, e.value_column - 1, e.line});
         return true;
     },
     KeyUse::repeatable},
    {"reassign-after-s",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.nat.reassign_after_s, 1, 86400, "seconds");
     }},
};

bool openPlain(LoadContext&, std::string_view) {
    return true;
}

// --- [health-check] ----------------------------------------------------------

bool openHealthCheck(LoadContext& c, std::string_view) {
    c.cfg.health_check.enabled = true;
    return true;
}

constexpr Keyword kHealthCheckKeywords[] = {
    {"protocol",
     [](LoadContext& c, const IniEntry& e) {
         if (e.value == "tcp") {
             c.cfg.health_check.protocol = HealthCheckProtocol::tcp;
         } else if (e.value == "http") {
             c.cfg.health_check.protocol = HealthCheckProtocol::http;
         } else {
             return c.badValue(e, "expected tcp or http");
         }
         return true;
     }},
    {"address",
     [](LoadContext& c, const IniEntry& e) {
         auto a = parseIpAddr(e.value);
         if (!a || !a->isV4Mapped()) {
             return c.badValue(e, "expected the data port's own IPv4 address, e.g. 10.0.1.10");
         }
         c.cfg.health_check.address = *a;
         return true;
     },
     KeyUse::required},
    {"port",
     [](LoadContext& c, const IniEntry& e) {
         return setUnsigned(c, e, c.cfg.health_check.port, 1, 65535, "a TCP port");
     }},
    {"path",
     [](LoadContext& c, const IniEntry& e) {
         const std::string_view v = e.value;
         if (v.empty() || v.front() != '/' || v.size() > 128 ||
             v.find_first_of(" ?#\t") != std::string_view::npos) {
             return c.badValue(e,
                               "expected a URL path such as /healthz (up to 128 characters, "
                               "no spaces, query or fragment)");
         }
         c.cfg.health_check.path = e.value;
         return true;
     }},
};

constexpr SectionKind kSectionKinds[] = {
    {"node", "", kNodeKeywords, openPlain},
    {"dataplane", "", kDataplaneKeywords, openPlain},
    {"port", "NAME", kPortKeywords, openPort},
    {"peer", "ID", kPeerKeywords, openPeer},
    {"ha", "", kHaKeywords, openPlain},
    {"timeouts", "", kTimeoutKeywords, openPlain},
    {"tcp", "", kTcpKeywords, openPlain},
    {"control", "", kControlKeywords, openPlain},
    {"policy", "", kPolicyKeywords, openPlain},
    {"nat", "", kNatKeywords, openPlain},
    {"health-check", "", kHealthCheckKeywords, openHealthCheck},
};

}  // namespace

std::span<const SectionKind> sectionKinds() {
    return kSectionKinds;
}

const SectionKind* findSectionKind(std::string_view name, std::string_view* suffix) {
    size_t dot = name.find('.');
    std::string_view base = name.substr(0, dot);
    *suffix = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
    for (const auto& kind : kSectionKinds) {
        if (kind.name != base) continue;
        // A plain section takes no suffix; a suffixed one needs it.
        if (kind.suffix.empty() != suffix->empty()) return nullptr;
        return &kind;
    }
    return nullptr;
}

std::string sectionKindNames() {
    std::vector<std::string> names;
    for (const auto& kind : kSectionKinds) {
        names.push_back(kind.suffix.empty()
                            ? std::string(kind.name)
                            : std::string(kind.name) + "." + std::string(kind.suffix));
    }
    return joinWords(names);
}

const Keyword* findKeyword(const SectionKind& kind, std::string_view key) {
    for (const auto& k : kind.keywords)
        if (k.name == key) return &k;
    return nullptr;
}

std::vector<std::string> keywordNames(const SectionKind& kind) {
    std::vector<std::string> out;
    for (const auto& k : kind.keywords) out.emplace_back(k.name);
    return out;
}

}  // namespace tandem::config_detail
