#include "ha/ha_status.h"

namespace tandem {
namespace {

nlohmann::json counterMap(const std::vector<std::pair<std::string, uint64_t>>& counters) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& [name, value] : counters) j[name] = value;
    return j;
}

nlohmann::json nodeList(uint16_t mask) {
    nlohmann::json j = nlohmann::json::array();
    for (NodeId n = 1; n <= kMaxNodes; ++n)
        if (mask & nodeBit(n)) j.push_back(n);
    return j;
}

}  // namespace

nlohmann::json haStatusToJson(const HaStatus& s) {
    nlohmann::json j;
    j["local"] = {
        {"id", s.local.id},
        {"name", s.local.name},
        {"state", nodeStateName(s.local.state)},
        {"primary", s.local.primary},
        {"priority", s.local.priority},
        {"operator_suspended", s.local.operator_suspended},
        {"links_ok", s.local.links_ok},
        {"last_transition",
         {{"from", nodeStateName(s.local.last_transition.from)},
          {"to", nodeStateName(s.local.last_transition.to)},
          {"cause", s.local.last_transition.cause},
          {"ago_ms", s.local.last_transition_ago_ms}}},
    };
    nlohmann::json peers = nlohmann::json::array();
    for (const HaPeerStatus& p : s.peers) {
        peers.push_back({{"id", p.id},
                         {"name", p.name},
                         {"state", nodeStateName(p.state)},
                         {"alive", p.alive},
                         {"paired", p.paired},
                         {"refused", p.refused},
                         {"control_link", p.control_link},
                         {"peer_link", p.peer_link},
                         {"last_heard_ms", p.last_heard_ms},
                         {"priority", p.priority},
                         {"primary", p.primary},
                         {"software_version", p.software_version},
                         {"peer_link_mtu", p.peer_link_mtu}});
    }
    j["peers"] = peers;
    j["session_owner"] = s.session_owner;
    j["revert"] = s.revert;
    j["preempt"] = s.preempt;
    j["timers"] = {{"heartbeat_interval_ms", s.heartbeat_interval_ms},
                   {"hold_time_ms", s.hold_time_ms}};
    j["view"] = {{"owners", nodeList(s.view.owners)},
                 {"reachable", nodeList(s.view.reachable)},
                 {"primary", s.view.primary},
                 {"replicate", s.view.replicate},
                 {"epoch", s.view.epoch}};
    nlohmann::json sync = nlohmann::json::array();
    for (const PeerSyncStatus& p : s.sync) {
        sync.push_back({{"peer", p.peer},
                        {"up", p.up},
                        {"tx_seq", p.tx_seq},
                        {"acked_seq", p.acked_seq},
                        {"lag_ms", p.lag_us / 1000},
                        {"window_messages", p.window_messages},
                        {"window_bytes", p.window_bytes},
                        {"resends", p.resends},
                        {"acks", p.acks_rx},
                        {"nacks", p.nacks_rx},
                        {"bytes_tx", p.bytes_tx},
                        {"records_tx", p.records_tx},
                        {"records_rx", p.records_rx},
                        {"records_tx_per_s", p.records_tx_per_s},
                        {"records_rx_per_s", p.records_rx_per_s},
                        {"rx_applied_seq", p.rx_applied_seq},
                        {"inbound_queued", p.inbound_queued},
                        {"bulk",
                         {{"out_state", p.bulk_out_state},
                          {"out_id", p.bulk_out_id},
                          {"sent", p.bulk_out_sent},
                          {"in_state", p.bulk_in_state},
                          {"received", p.bulk_in_received},
                          {"expected", p.bulk_in_expected}}}});
    }
    j["sync"] = sync;
    j["pending_defer_tokens"] = s.pending_defer_tokens;
    j["counters"] = counterMap(s.counters);
    j["decode_counters"] = counterMap(s.decode_counters);
    j["transport_counters"] = counterMap(s.transport_counters);
    return j;
}

}  // namespace tandem
