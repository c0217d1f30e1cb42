#include "ha/preflight.h"

#include <cstdio>

#include "cluster/cluster_view.h"
#include "core/flow_key.h"
#include "nat/nat_steering.h"
#include "policy/rule.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "unknown"
#endif

namespace tandem {
namespace {

uint64_t hashText(const std::string& s) {
    return hashBytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

std::string maskText(uint16_t mask) {
    std::string out;
    for (NodeId n = 1; n <= kMaxNodes; ++n) {
        if (!(mask & nodeBit(n))) continue;
        out += out.empty() ? "" : ",";
        out += std::to_string(n);
    }
    return "{" + out + "}";
}

const char* ownerText(uint8_t v) {
    return v == uint8_t(OwnerElection::primary) ? "primary" : "first-packet";
}

std::string differs(const char* what, const std::string& there, const std::string& here,
                    NodeId from) {
    return std::string(what) + " is " + there + " on node " + std::to_string(from) + ", " + here +
           " here";
}

std::string num(uint64_t v) {
    return std::to_string(v);
}
std::string flag(bool v) {
    return v ? "true" : "false";
}

}  // namespace

std::string majorMinor(const std::string& version) {
    const size_t first = version.find('.');
    if (first == std::string::npos) return version;
    const size_t second = version.find('.', first + 1);
    return second == std::string::npos ? version : version.substr(0, second);
}

HaHello makeLocalHello(const Config& config, uint64_t incarnation, uint32_t peer_link_mtu,
                       const WorkerMap* steering) {
    HaHello h;
    h.node = config.node.id;
    h.name = config.node.name.substr(0, kMaxHaNameBytes);
    h.software_version = TANDEM_VERSION;
    h.peer_link_mtu = peer_link_mtu;
    h.priority = config.ha.priority;
    h.incarnation = incarnation;
    h.session_owner = uint8_t(config.ha.session_owner);
    h.revert = config.ha.revert;
    h.preempt = config.ha.preempt;
    h.heartbeat_interval_ms = config.ha.heartbeat_interval_ms;
    h.hold_time_ms = config.ha.hold_time_ms;
    h.peer_link_detect_ms = config.ha.peer_link_detect_ms;
    h.members_mask = nodeBit(config.node.id);
    for (const PeerConfig& p : config.peers) h.members_mask |= nodeBit(p.id);
    std::string zones;
    for (const std::string& z : config.zones) zones += z + "\n";
    h.zones_hash = hashText(zones);
    h.rules_count = uint32_t(config.rules.size());
    h.rules_hash = policyHash(config.rules);
    h.dataplane_mode = uint8_t(config.dataplane.mode);
    h.peer_link_transport = uint8_t(config.ha.peer_link);

    // The NAT pools: which node gives out which ports follows from them, so
    // nodes that read them differently would give out the same ones.
    std::string pools;
    for (const NatPool& p : config.nat.pools) {
        char line[128];
        std::snprintf(line, sizeof line, "%s %x-%x %u-%u/%u\n", p.name.c_str(), p.spec.first_addr,
                      p.spec.last_addr, p.spec.port_lo, p.spec.port_hi, p.spec.block_size);
        pools += line;
    }

    // A translated session's replies find its worker by the port's block,
    // its replica by its flow (nat/nat_steering.h): the same on both nodes
    // only with the same workers and steering.
    if (config.nat.enabled()) {
        h.nat_steering =
            natSteeringText(steering ? *steering : WorkerMap::software(config.dataplane.workers));
    }

    // Everything that must be equal on both nodes, in one number.
    // Not the policy: it changes with a reload, one node after the other,
    // and a difference is a warning (policyMismatch), not a refusal.
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s|%u|%d|%d|%u|%u|%u|%llx|%u|%u|%u|%llx",
                  majorMinor(h.software_version).c_str(), h.session_owner, h.revert, h.preempt,
                  h.heartbeat_interval_ms, h.hold_time_ms, h.members_mask,
                  (unsigned long long)h.zones_hash, h.dataplane_mode, h.peer_link_transport,
                  h.peer_link_detect_ms, (unsigned long long)hashText(pools));
    h.config_fingerprint = hashText(buf);
    return h;
}

std::string preflightMismatch(const HaHello& mine, const HaHello& theirs, NodeId from) {
    if (theirs.node != from)
        return "HELLO names node " + num(theirs.node) + " but came from node " + num(from);
    if (majorMinor(theirs.software_version) != majorMinor(mine.software_version))
        return differs("software version", theirs.software_version, mine.software_version, from) +
               " (major.minor must match)";
    if (theirs.session_owner != mine.session_owner)
        return differs("session-owner", ownerText(theirs.session_owner),
                       ownerText(mine.session_owner), from);
    if (theirs.revert != mine.revert)
        return differs("revert", flag(theirs.revert), flag(mine.revert), from);
    if (theirs.preempt != mine.preempt)
        return differs("preempt", flag(theirs.preempt), flag(mine.preempt), from);
    if (theirs.heartbeat_interval_ms != mine.heartbeat_interval_ms)
        return differs("heartbeat-interval", num(theirs.heartbeat_interval_ms) + " ms",
                       num(mine.heartbeat_interval_ms) + " ms", from);
    if (theirs.hold_time_ms != mine.hold_time_ms)
        return differs("hold-time", num(theirs.hold_time_ms) + " ms",
                       num(mine.hold_time_ms) + " ms", from);
    // Each side's detect time assumes the other's heartbeat rate.
    if (theirs.peer_link_detect_ms != mine.peer_link_detect_ms)
        return differs("peer-link-detect", num(theirs.peer_link_detect_ms) + " ms",
                       num(mine.peer_link_detect_ms) + " ms", from);
    if (theirs.members_mask != mine.members_mask)
        return differs("the member list", maskText(theirs.members_mask),
                       maskText(mine.members_mask), from);
    if (theirs.dataplane_mode != mine.dataplane_mode)
        return differs("dataplane mode", dataplaneModeName(DataplaneMode(theirs.dataplane_mode)),
                       dataplaneModeName(DataplaneMode(mine.dataplane_mode)), from);
    if (theirs.peer_link_transport != mine.peer_link_transport)
        return differs("peer-link transport",
                       peerLinkTransportName(PeerLinkTransport(theirs.peer_link_transport)),
                       peerLinkTransportName(PeerLinkTransport(mine.peer_link_transport)), from);
    if (theirs.zones_hash != mine.zones_hash)
        return "the zones differ between node " + num(from) + " and this node";
    if (theirs.peer_link_mtu && mine.peer_link_mtu && theirs.peer_link_mtu != mine.peer_link_mtu)
        return differs("the peer-link MTU", num(theirs.peer_link_mtu), num(mine.peer_link_mtu),
                       from);
    if (theirs.nat_steering != mine.nat_steering)
        return "with [nat] both nodes must steer alike: node " + num(from) + " has " +
               (theirs.nat_steering.empty() ? "no translation" : theirs.nat_steering) +
               ", this node " + (mine.nat_steering.empty() ? "no translation" : mine.nat_steering);
    if (theirs.config_fingerprint != mine.config_fingerprint)
        return "the config fingerprint differs from node " + num(from) + "'s";
    return {};
}

std::string policyMismatch(uint64_t mine_hash, uint32_t mine_rules, uint64_t theirs_hash,
                           uint32_t theirs_rules, NodeId from) {
    if (theirs_hash == mine_hash) return {};
    return "node " + num(from) + " runs another policy: " + num(theirs_rules) + " rules, hash " +
           policyHashText(theirs_hash) + "; this node " + num(mine_rules) + " rules, hash " +
           policyHashText(mine_hash) +
           " (sessions are decided by their owner's rules: reload "
           "every node)";
}

}  // namespace tandem
