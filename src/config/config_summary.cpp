#include <string>

#include "config/config.h"
#include "config/value_parsers.h"

namespace tandem {

const char* dataplaneModeName(DataplaneMode m) {
    switch (m) {
        case DataplaneMode::inline_mode:
            return "inline";
        case DataplaneMode::geneve:
            return "geneve";
    }
    return "?";
}

const char* ownerElectionName(OwnerElection o) {
    switch (o) {
        case OwnerElection::first_packet:
            return "first-packet";
        case OwnerElection::primary:
            return "primary";
    }
    return "?";
}

const char* peerLinkTransportName(PeerLinkTransport t) {
    switch (t) {
        case PeerLinkTransport::raw:
            return "raw";
        case PeerLinkTransport::udp:
            return "udp";
    }
    return "?";
}

std::string ConfigError::format() const {
    if (line == 0) return file + ": " + message;
    return file + ":" + std::to_string(line) + ": " + message;
}

namespace {

std::string plural(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

std::string describeConfig(const Config& c) {
    std::string s = "node " + std::to_string(c.node.id) + " (" + c.node.name + ") in cluster " +
                    std::to_string(c.node.cluster_id) + "; " + dataplaneModeName(c.dataplane.mode) +
                    " mode, " + plural(c.dataplane.workers, "worker", "workers") + ", " +
                    std::to_string(c.dataplane.session_capacity) + " sessions; ports:";
    const PortConfig* peer_link_port = nullptr;
    const char* sep = " ";
    for (const auto& p : c.dataplane.ports) {
        if (p.peer_link) {
            peer_link_port = &p;
            continue;
        }
        s += sep + p.name + " (" + p.device + ", zone " + p.zone + ")";
        sep = ", ";
    }
    s += "; ";
    if (!c.ha.enabled) {
        s += "no peers (HA off)";
    } else {
        s += plural(c.peers.size(), "peer", "peers") + ":";
        sep = " ";
        for (const auto& p : c.peers) {
            s += sep + std::to_string(p.id) + " (" + p.name + ", " + p.ha_address + ")";
            sep = ", ";
        }
        s += "; HA on ";
        s += c.ha.listen;
        s += ", peer link ";
        s += peerLinkTransportName(c.ha.peer_link);
        if (peer_link_port != nullptr) {
            s += " on port " + peer_link_port->name + " (" + peer_link_port->device + ")";
        }
        if (c.ha.peer_link == PeerLinkTransport::udp) {
            if (c.ha.peer_link_listen)
                s += " from " + config_detail::formatIpPort(*c.ha.peer_link_listen);
            if (c.ha.peer_link_gateway) s += " via " + formatIpAddr(*c.ha.peer_link_gateway);
        }
        s += c.ha.peer_link_auth ? " (frames authenticated)" : " (frames not authenticated)";
        s += ", session owner ";
        s += ownerElectionName(c.ha.session_owner);
        s += c.ha.revert ? ", revert on" : ", revert off";
        s += ", heartbeat " + std::to_string(c.ha.heartbeat_interval_ms) + " ms, hold " +
             std::to_string(c.ha.hold_time_ms) + " ms, ";
        s += c.ha.secret_key.empty() ? "CURVE off" : "CURVE on";
    }
    s += "; " + plural(c.rules.size(), "rule", "rules") + " over " +
         plural(c.zones.size(), "zone", "zones") + ".";
    return s;
}

}  // namespace tandem
