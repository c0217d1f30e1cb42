#include "daemon/metrics_page.h"

#include <string_view>

#include "cluster/node_state.h"
#include "control/prometheus_text.h"
#include "ha/ha_counters.h"
#include "ha/zmq_transport.h"

namespace tandem {
namespace {

using MT = MetricType;

std::string peerLabel(NodeId id) { return std::to_string(id); }

// The help line of counter `name` in a TANDEM_COUNTER_ENUM table.
std::string_view helpOf(const CounterInfo* info, size_t n, const std::string& name) {
    for (size_t i = 0; i < n; ++i) {
        if (info[i].name == name) return info[i].help;
    }
    return {};
}

// A table of named counters: those named dropped_<reason> become one family
// with a reason label, the others one family each.
void counterTable(PrometheusText& p, const std::string& prefix,
                  const std::vector<CounterValue>& counters, const char* dropped_help) {
    constexpr std::string_view kDropped = "dropped_";
    for (const auto& c : counters) {
        const std::string_view name = c.name;
        if (name.substr(0, kDropped.size()) == kDropped) {
            const std::string family = prefix + "_dropped_total";
            p.family(family, MT::counter, dropped_help);
            p.sample(family, MT::counter, {{"reason", std::string(name.substr(kDropped.size()))}},
                     c.value);
            continue;
        }
        const std::string family = prefix + "_" + c.name + "_total";
        p.family(family, MT::counter, c.help);
        p.sample(family, MT::counter, {}, c.value);
    }
}

void stateGauge(PrometheusText& p, const std::string& family, MetricLabels labels,
                NodeState current) {
    for (unsigned v = 0; v <= kMaxNodeStateValue; ++v) {
        MetricLabels l = labels;
        l.emplace_back("state", nodeStateName(NodeState(v)));
        p.sample(family, MT::gauge, l, uint64_t(NodeState(v) == current));
    }
}

void dataplaneMetrics(PrometheusText& p, const DataplaneStatus& st, const Config& cfg) {
    counterTable(p, "tandem_dataplane", st.pipeline,
                 "Frames (or events) dropped by the per-packet path, by reason.");
    p.family("tandem_dataplane_malformed_total", MT::counter,
             "Frames dropped as malformed, by the header problem found.");
    for (const auto& c : st.parse) {
        if (c.name == "ok" || c.name == "non_ip") continue;  // not drops
        p.sample("tandem_dataplane_malformed_total", MT::counter, {{"reason", c.name}}, c.value);
    }
    counterTable(p, "tandem_worker", st.io, "Frames dropped by the worker loop, by reason.");
    p.family("tandem_peer_link_rx_frames_total", MT::counter,
             "Frames received on the peer link, by the result of their header check.");
    for (const auto& c : st.peer_link) {
        p.sample("tandem_peer_link_rx_frames_total", MT::counter, {{"result", c.name}}, c.value);
    }

    p.family("tandem_sessions", MT::gauge,
             "Live sessions in this node's table by owning node (replicas included).");
    for (NodeId n = 1; n <= kMaxNodes; ++n) {
        bool known = n == cfg.node.id;
        for (const auto& peer : cfg.peers) known |= peer.id == n;
        if (known || st.sessions_by_owner[n]) {
            p.sample("tandem_sessions", MT::gauge, {{"owner", std::to_string(n)}},
                     st.sessions_by_owner[n]);
        }
    }
    p.family("tandem_session_table_entries", MT::gauge, "Live sessions in the session table.");
    p.sample("tandem_session_table_entries", MT::gauge, {}, st.sessions);
    p.family("tandem_session_table_capacity", MT::gauge, "Sessions the table can hold.");
    p.sample("tandem_session_table_capacity", MT::gauge, {}, st.session_capacity);
    p.family("tandem_workers", MT::gauge, "Dataplane worker threads.");
    p.sample("tandem_workers", MT::gauge, {}, uint64_t(st.workers));
    p.family("tandem_worker_sessions", MT::gauge, "Live sessions in each worker's table.");
    for (size_t w = 0; w < st.sessions_by_worker.size(); ++w) {
        p.sample("tandem_worker_sessions", MT::gauge, {{"worker", std::to_string(w)}},
                 st.sessions_by_worker[w]);
    }

    struct PortField {
        const char* name;
        const char* help;
        uint64_t PortStatus::*field;
    };
    static const PortField kPortFields[] = {
        {"tandem_port_rx_packets_total", "Frames the port received (driver count).", &PortStatus::rx_packets},
        {"tandem_port_tx_packets_total", "Frames the port sent (driver count).", &PortStatus::tx_packets},
        {"tandem_port_rx_bytes_total", "Bytes the port received.", &PortStatus::rx_bytes},
        {"tandem_port_tx_bytes_total", "Bytes the port sent.", &PortStatus::tx_bytes},
        {"tandem_port_rx_missed_total", "Frames the port dropped: receive queue full.", &PortStatus::rx_missed},
        {"tandem_port_rx_errors_total", "Receive errors.", &PortStatus::rx_errors},
        {"tandem_port_tx_errors_total", "Transmit errors.", &PortStatus::tx_errors},
        {"tandem_port_rx_no_mbuf_total", "Frames lost: no packet buffer free.", &PortStatus::rx_no_mbuf},
    };
    for (const auto& f : kPortFields) {
        p.family(f.name, MT::counter, f.help);
        for (const auto& port : st.ports) p.sample(f.name, MT::counter, {{"port", port.name}}, port.*f.field);
    }
    p.family("tandem_port_link_up", MT::gauge, "1 when the port's link is up.");
    for (const auto& port : st.ports) {
        p.sample("tandem_port_link_up", MT::gauge, {{"port", port.name}}, uint64_t(port.link_up));
    }
}

void haMetrics(PrometheusText& p, const HaStatus& ha) {
    p.family("tandem_node_state", MT::gauge, "1 for this node's current HA state, 0 for the others.");
    stateGauge(p, "tandem_node_state", {}, ha.local.state);
    p.family("tandem_node_primary", MT::gauge, "1 when this node is the pair's primary.");
    p.sample("tandem_node_primary", MT::gauge, {}, uint64_t(ha.local.primary));
    p.family("tandem_node_state_last_change_seconds", MT::gauge,
             "Seconds since this node's last state transition.");
    p.sample("tandem_node_state_last_change_seconds", MT::gauge, {},
             double(ha.local.last_transition_ago_ms) / 1000.0);

    p.family("tandem_peer_state", MT::gauge, "1 for each peer's current state (as it announced it).");
    p.family("tandem_peer_alive", MT::gauge, "1 while the peer is heard within the hold time.");
    p.family("tandem_peer_control_link_up", MT::gauge, "1 while the peer is heard on the HA channels.");
    p.family("tandem_peer_link_up", MT::gauge, "1 while the peer is heard on the peer link.");
    p.family("tandem_peer_last_heard_seconds", MT::gauge, "Seconds since anything was heard from the peer.");
    for (const HaPeerStatus& peer : ha.peers) {
        const MetricLabels l = {{"peer", peerLabel(peer.id)}, {"name", peer.name}};
        stateGauge(p, "tandem_peer_state", l, peer.state);
        p.sample("tandem_peer_alive", MT::gauge, l, uint64_t(peer.alive));
        p.sample("tandem_peer_control_link_up", MT::gauge, l, uint64_t(peer.control_link));
        p.sample("tandem_peer_link_up", MT::gauge, l, uint64_t(peer.peer_link));
        if (peer.last_heard_ms >= 0) {
            p.sample("tandem_peer_last_heard_seconds", MT::gauge, l, double(peer.last_heard_ms) / 1000.0);
        }
    }

    struct SyncGauge {
        const char* name;
        MetricType type;
        const char* help;
        uint64_t (*get)(const PeerSyncStatus&);
    };
    static const SyncGauge kSync[] = {
        {"tandem_ha_sync_up", MT::gauge, "1 while the sync stream to the peer is up.",
         [](const PeerSyncStatus& s) { return uint64_t(s.up); }},
        {"tandem_ha_sync_tx_sequence", MT::gauge, "Last sequence number sent to the peer.",
         [](const PeerSyncStatus& s) { return s.tx_seq; }},
        {"tandem_ha_sync_acked_sequence", MT::gauge, "Last sequence number the peer acknowledged.",
         [](const PeerSyncStatus& s) { return s.acked_seq; }},
        {"tandem_ha_sync_window_messages", MT::gauge, "Messages sent and not yet acknowledged.",
         [](const PeerSyncStatus& s) { return uint64_t(s.window_messages); }},
        {"tandem_ha_sync_window_bytes", MT::gauge, "Bytes sent and not yet acknowledged.",
         [](const PeerSyncStatus& s) { return uint64_t(s.window_bytes); }},
        {"tandem_ha_sync_resends_total", MT::counter, "Sync messages sent to the peer again.",
         [](const PeerSyncStatus& s) { return s.resends; }},
        {"tandem_ha_sync_acks_received_total", MT::counter, "Acknowledgements from the peer.",
         [](const PeerSyncStatus& s) { return s.acks_rx; }},
        {"tandem_ha_sync_nacks_received_total", MT::counter, "Negative acknowledgements from the peer.",
         [](const PeerSyncStatus& s) { return s.nacks_rx; }},
        {"tandem_ha_sync_bytes_sent_total", MT::counter, "Sync bytes sent to the peer.",
         [](const PeerSyncStatus& s) { return s.bytes_tx; }},
        {"tandem_ha_sync_records_sent_total", MT::counter, "Session records sent to the peer.",
         [](const PeerSyncStatus& s) { return s.records_tx; }},
        {"tandem_ha_sync_records_received_total", MT::counter, "Session records received from the peer.",
         [](const PeerSyncStatus& s) { return s.records_rx; }},
        {"tandem_ha_sync_rx_applied_sequence", MT::gauge, "Last sequence number applied from the peer.",
         [](const PeerSyncStatus& s) { return s.rx_applied_seq; }},
        {"tandem_ha_sync_bulk_sent_total", MT::counter, "Records sent by the current bulk sync to the peer.",
         [](const PeerSyncStatus& s) { return s.bulk_out_sent; }},
        {"tandem_ha_sync_bulk_received_total", MT::counter, "Records received by the current bulk sync from the peer.",
         [](const PeerSyncStatus& s) { return s.bulk_in_received; }},
    };
    for (const auto& g : kSync) p.family(g.name, g.type, g.help);
    p.family("tandem_ha_sync_lag_seconds", MT::gauge,
             "Age of the oldest message the peer has not acknowledged (0 when none).");
    for (const PeerSyncStatus& s : ha.sync) {
        const MetricLabels l = {{"peer", peerLabel(s.peer)}};
        for (const auto& g : kSync) p.sample(g.name, g.type, l, g.get(s));
        p.sample("tandem_ha_sync_lag_seconds", MT::gauge, l, double(s.lag_us) / 1e6);
    }
    p.family("tandem_ha_pending_defer_tokens", MT::gauge,
             "First packets held until a peer acknowledges their session.");
    p.sample("tandem_ha_pending_defer_tokens", MT::gauge, {}, ha.pending_defer_tokens);

    for (const auto& [name, value] : ha.counters) {
        p.family("tandem_ha_" + name + "_total", MT::counter,
                 helpOf(kHaCounterInfo, kHaCounterCount, name));
        p.sample("tandem_ha_" + name + "_total", MT::counter, {}, value);
    }
    p.family("tandem_ha_decode_rejected_total", MT::counter,
             "HA messages the decoder rejected, by reason.");
    for (const auto& [name, value] : ha.decode_counters) {
        p.sample("tandem_ha_decode_rejected_total", MT::counter, {{"reason", name}}, value);
    }
    for (const auto& [name, value] : ha.transport_counters) {
        p.family("tandem_ha_transport_" + name + "_total", MT::counter,
                 helpOf(kZmqTransportCounterInfo, kZmqTransportCounterCount, name));
        p.sample("tandem_ha_transport_" + name + "_total", MT::counter, {}, value);
    }
}

}  // namespace

std::string renderMetricsPage(const MetricsSources& src) {
    PrometheusText p;
    const Config& cfg = *src.config;
    p.family("tandem_info", MT::gauge, "Constant 1, labelled with this node's identity.");
    p.sample("tandem_info", MT::gauge,
             {{"version", TANDEM_VERSION}, {"node", cfg.node.name}, {"node_id", std::to_string(cfg.node.id)}},
             uint64_t(1));
    if (src.ha) {
        haMetrics(p, *src.ha);
        const HaSecurity sec = haSecurityOf(cfg.ha);
        p.family("tandem_ha_authenticated", MT::gauge,
                 "1 when the link's traffic is authenticated: control (CURVE on the HA "
                 "channels), peer (peer-link frames); 0 runs it open to forgery.");
        p.sample("tandem_ha_authenticated", MT::gauge, {{"link", "control"}},
                 uint64_t(sec.control_link));
        p.sample("tandem_ha_authenticated", MT::gauge, {{"link", "peer"}}, uint64_t(sec.peer_link));
    } else {
        p.family("tandem_node_state", MT::gauge, "1 for this node's current HA state, 0 for the others.");
        p.sample("tandem_node_state", MT::gauge, {{"state", "standalone"}}, uint64_t(1));
    }
    if (src.dataplane) dataplaneMetrics(p, *src.dataplane, cfg);
    if (src.traffic_log) {
        const TrafficLoggerStats& t = *src.traffic_log;
        p.family("tandem_traffic_log_records_total", MT::counter,
                 "Traffic log records taken from the workers (each one line).");
        p.sample("tandem_traffic_log_records_total", MT::counter, {}, t.records);
        p.family("tandem_traffic_log_write_errors_total", MT::counter,
                 "Traffic log writes that failed (their lines are lost).");
        p.sample("tandem_traffic_log_write_errors_total", MT::counter, {}, t.write_errors);
        p.family("tandem_traffic_log_reopens_total", MT::counter,
                 "Times the traffic log file was reopened (SIGHUP, rotation).");
        p.sample("tandem_traffic_log_reopens_total", MT::counter, {}, t.reopens);
    }
    if (src.http) {
        p.family("tandem_metrics_requests_total", MT::counter,
                 "HTTP requests answered by the metrics endpoint, by outcome.");
        p.sample("tandem_metrics_requests_total", MT::counter, {{"outcome", "scrape"}}, src.http->scrapes);
        p.sample("tandem_metrics_requests_total", MT::counter, {{"outcome", "rejected"}}, src.http->rejected);
    }
    return p.render();
}

}  // namespace tandem
