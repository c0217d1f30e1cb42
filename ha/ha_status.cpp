#include "ha/ha_status.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "proto/status_json.h"

namespace tandem {
namespace {

nlohmann::json counterMap(const std::vector<CounterValue>& counters) {
    nlohmann::json j = nlohmann::json::object();
    for (const CounterValue& c : counters) j[c.name] = c.value;
    return j;
}

nlohmann::json nodeList(uint16_t mask) {
    nlohmann::json j = nlohmann::json::array();
    for (NodeId n = 1; n <= kMaxNodes; ++n)
        if (mask & nodeBit(n)) j.push_back(n);
    return j;
}

}  // namespace

bool haReady(const HaStatus& s) {
    if (!canOwnSessions(s.local.state) || !s.local.links_ok || s.peers.empty()) return false;
    for (const HaPeerStatus& p : s.peers) {
        if (!p.paired || !p.alive) return false;
        const auto sync = std::find_if(s.sync.begin(), s.sync.end(),
                                       [&](const PeerSyncStatus& q) { return q.peer == p.id; });
        if (sync == s.sync.end() || !sync->up) return false;
        if (!sync->bulk_out_delivered) return false;
        if (std::strcmp(sync->bulk_in_state, "receiving") == 0) return false;
    }
    return true;
}

nlohmann::json haLocalValue(status::HaLocalField f, const HaStatus& s) {
    using enum status::HaLocalField;
    const HaStatus::Local& l = s.local;
    switch (f) {
        case id:
            return l.id;
        case name:
            return l.name;
        case state:
            return nodeStateName(l.state);
        case ready:
            return haReady(s);
        case primary:
            return l.primary;
        case priority:
            return l.priority;
        case operator_suspended:
            return l.operator_suspended;
        case links_ok:
            return l.links_ok;
        case policy_hash:
            return policyHashText(l.policy_hash);
        case transition_from:
            return nodeStateName(l.last_transition.from);
        case transition_to:
            return nodeStateName(l.last_transition.to);
        case transition_cause:
            return l.last_transition.cause;
        case transition_ago_ms:
            return l.last_transition_ago_ms;
    }
    std::abort();  // a value outside the enum: cannot happen
}

nlohmann::json haPeerValue(status::HaPeerField f, const HaPeerStatus& p) {
    using enum status::HaPeerField;
    switch (f) {
        case id:
            return p.id;
        case name:
            return p.name;
        case state:
            return nodeStateName(p.state);
        case alive:
            return p.alive;
        case paired:
            return p.paired;
        case refused:
            return p.refused;
        case control_link:
            return p.control_link;
        case peer_link:
            return p.peer_link;
        case last_heard_ms:
            return p.last_heard_ms;
        case down_ms:
            return p.down_ms;
        case priority:
            return p.priority;
        case primary:
            return p.primary;
        case software_version:
            return p.software_version;
        case peer_link_mtu:
            return p.peer_link_mtu;
        case policy_hash:
            return p.policy_hash ? policyHashText(p.policy_hash) : "";
        case policy_matches:
            return p.policy_matches;
    }
    std::abort();
}

nlohmann::json haSyncValue(status::HaSyncField f, const PeerSyncStatus& p) {
    using enum status::HaSyncField;
    switch (f) {
        case peer:
            return p.peer;
        case up:
            return p.up;
        case tx_seq:
            return p.tx_seq;
        case acked_seq:
            return p.acked_seq;
        case lag_ms:
            return p.lag_us / 1000;
        case window_messages:
            return p.window_messages;
        case window_bytes:
            return p.window_bytes;
        case resends:
            return p.resends;
        case acks:
            return p.acks_rx;
        case nacks:
            return p.nacks_rx;
        case bytes_tx:
            return p.bytes_tx;
        case records_tx:
            return p.records_tx;
        case records_rx:
            return p.records_rx;
        case records_tx_per_s:
            return p.records_tx_per_s;
        case records_rx_per_s:
            return p.records_rx_per_s;
        case rx_applied_seq:
            return p.rx_applied_seq;
        case inbound_queued:
            return p.inbound_queued;
        case bulk_out_state:
            return p.bulk_out_state;
        case bulk_out_id:
            return p.bulk_out_id;
        case bulk_sent:
            return p.bulk_out_sent;
        case bulk_out_delivered:
            return p.bulk_out_delivered;
        case bulk_in_state:
            return p.bulk_in_state;
        case bulk_received:
            return p.bulk_in_received;
        case bulk_expected:
            return p.bulk_in_expected;
    }
    std::abort();
}

nlohmann::json haClusterValue(status::HaClusterField f, const HaStatus& s) {
    using enum status::HaClusterField;
    switch (f) {
        case session_owner:
            return s.session_owner;
        case revert:
            return s.revert;
        case preempt:
            return s.preempt;
        case heartbeat_interval_ms:
            return s.heartbeat_interval_ms;
        case hold_time_ms:
            return s.hold_time_ms;
        case peer_link_detect_ms:
            return s.peer_link_detect_ms;
        case view_owners:
            return nodeList(s.view.owners);
        case view_reachable:
            return nodeList(s.view.reachable);
        case view_primary:
            return s.view.primary;
        case view_replicate:
            return s.view.replicate;
        case view_epoch:
            return s.view.epoch;
        case pending_defer_tokens:
            return s.pending_defer_tokens;
    }
    std::abort();
}

nlohmann::json haStatusToJson(const HaStatus& s) {
    nlohmann::json j =
        status::objectJson<status::HaClusterField>(status::kHaClusterFields, s, haClusterValue);
    j["local"] = status::objectJson<status::HaLocalField>(status::kHaLocalFields, s, haLocalValue);
    nlohmann::json peers = nlohmann::json::array();
    for (const HaPeerStatus& p : s.peers) {
        peers.push_back(
            status::objectJson<status::HaPeerField>(status::kHaPeerFields, p, haPeerValue));
    }
    j["peers"] = peers;
    nlohmann::json sync = nlohmann::json::array();
    for (const PeerSyncStatus& p : s.sync) {
        sync.push_back(
            status::objectJson<status::HaSyncField>(status::kHaSyncFields, p, haSyncValue));
    }
    j["sync"] = sync;
    j["counters"] = counterMap(s.counters);
    j["decode_counters"] = counterMap(s.decode_counters);
    j["transport_counters"] = counterMap(s.transport_counters);
    return j;
}

}  // namespace tandem
