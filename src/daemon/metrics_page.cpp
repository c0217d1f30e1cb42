#include "daemon/metrics_page.h"

#include <string_view>

#include "cluster/node_state.h"
#include "control/prometheus_text.h"
#include "dataplane/dataplane_status.h"

namespace tandem {
namespace {

using MT = MetricType;

std::string peerLabel(NodeId id) {
    return std::to_string(id);
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

// The fields of a status table that name a metric family (proto/status_fields.h),
// each sampled from every object of `objects` with that object's labels.
template <class Field, class T, class Get, class Labels>
void fieldMetrics(PrometheusText& p, std::span<const status::FieldDef> fields,
                  const std::vector<T>& objects, Get get, Labels labels) {
    for (size_t i = 0; i < fields.size(); ++i) {
        const status::FieldDef& f = fields[i];
        if (f.metric_kind == status::MetricKind::none) continue;
        const std::string family(f.metric);
        const MT type = f.metric_kind == status::MetricKind::counter ? MT::counter : MT::gauge;
        p.family(family, type, f.help);
        for (const T& o : objects) {
            const nlohmann::json v = get(Field(i), o);
            const MetricLabels l = labels(o);
            if (f.type == status::FieldType::node_state) {
                // One sample per state, 1 for the current one.
                for (unsigned s = 0; s <= kMaxNodeStateValue; ++s) {
                    MetricLabels ls = l;
                    ls.emplace_back("state", nodeStateName(NodeState(s)));
                    p.sample(family, type, ls, uint64_t(v == nodeStateName(NodeState(s))));
                }
            } else if (f.type == status::FieldType::up_down) {
                p.sample(family, type, l, uint64_t(v == "up"));
            } else if (v.is_boolean()) {
                p.sample(family, type, l, uint64_t(v.get<bool>()));
            } else if (v.is_number_integer() && v.get<int64_t>() < 0) {
                continue;  // "never" (last_heard_ms = -1): no sample
            } else if (f.metric_scale != 1) {
                p.sample(family, type, l, v.get<double>() * f.metric_scale);
            } else {
                p.sample(family, type, l, v.get<uint64_t>());
            }
        }
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

    fieldMetrics<status::PortField>(p, status::kPortFields, st.ports, portStatusValue,
                                    [](const PortStatus& port) {
                                        return MetricLabels{{"port", port.name}};
                                    });
    fieldMetrics<status::NatPoolField>(p, status::kNatPoolFields, st.nat_pools, natPoolValue,
                                       [](const NatPoolUsage& pool) {
                                           return MetricLabels{{"pool", pool.name}};
                                       });
}

void applicationMetrics(PrometheusText& p, const std::vector<AppUsage>& apps) {
    fieldMetrics<status::AppField>(p, status::kAppFields, apps, appUsageValue,
                                   [](const AppUsage& a) {
                                       return MetricLabels{{"protocol", appProtocolName(a.proto)},
                                                           {"name", std::string(a.name.view())}};
                                   });
}

void haMetrics(PrometheusText& p, const HaStatus& ha) {
    const std::vector<HaStatus> self = {ha};
    fieldMetrics<status::HaLocalField>(p, status::kHaLocalFields, self, haLocalValue,
                                       [](const HaStatus&) { return MetricLabels{}; });
    fieldMetrics<status::HaPeerField>(
        p, status::kHaPeerFields, ha.peers, haPeerValue, [](const HaPeerStatus& peer) {
            return MetricLabels{{"peer", peerLabel(peer.id)}, {"name", peer.name}};
        });
    fieldMetrics<status::HaSyncField>(p, status::kHaSyncFields, ha.sync, haSyncValue,
                                      [](const PeerSyncStatus& s) {
                                          return MetricLabels{{"peer", peerLabel(s.peer)}};
                                      });
    fieldMetrics<status::HaClusterField>(p, status::kHaClusterFields, self, haClusterValue,
                                         [](const HaStatus&) { return MetricLabels{}; });

    for (const CounterValue& c : ha.counters) {
        p.family("tandem_ha_" + c.name + "_total", MT::counter, c.help);
        p.sample("tandem_ha_" + c.name + "_total", MT::counter, {}, c.value);
    }
    p.family("tandem_ha_decode_rejected_total", MT::counter,
             "HA messages the decoder rejected, by reason.");
    for (const CounterValue& c : ha.decode_counters) {
        p.sample("tandem_ha_decode_rejected_total", MT::counter, {{"reason", c.name}}, c.value);
    }
    for (const CounterValue& c : ha.transport_counters) {
        p.family("tandem_ha_transport_" + c.name + "_total", MT::counter, c.help);
        p.sample("tandem_ha_transport_" + c.name + "_total", MT::counter, {}, c.value);
    }
}

}  // namespace

std::string renderMetricsPage(const MetricsSources& src) {
    PrometheusText p;
    const Config& cfg = *src.config;
    p.family("tandem_info", MT::gauge, "Constant 1, labelled with this node's identity.");
    p.sample("tandem_info", MT::gauge,
             {{"version", TANDEM_VERSION},
              {"node", cfg.node.name},
              {"node_id", std::to_string(cfg.node.id)}},
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
        p.family("tandem_node_state", MT::gauge,
                 "1 for this node's current HA state, 0 for the others.");
        p.sample("tandem_node_state", MT::gauge, {{"state", "standalone"}}, uint64_t(1));
        // Nothing to pair: ready (`show high-availability state` says so too).
        const status::FieldDef& ready = status::kHaLocalFields[size_t(status::HaLocalField::ready)];
        p.family(std::string(ready.metric), MT::gauge, ready.help);
        p.sample(ready.metric, MT::gauge, {}, uint64_t(1));
    }
    if (src.dataplane) dataplaneMetrics(p, *src.dataplane, cfg);
    if (src.applications) applicationMetrics(p, *src.applications);
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
    if (src.policy) {
        const PolicyStatus& ps = *src.policy;
        p.family("tandem_policy_info", MT::gauge,
                 "Constant 1; the label says the hash of the policy in force (show config).");
        p.sample("tandem_policy_info", MT::gauge, {{"hash", policyHashText(ps.hash)}}, uint64_t(1));
        p.family("tandem_policy_rules", MT::gauge, "Rules of the policy in force.");
        p.sample("tandem_policy_rules", MT::gauge, {}, uint64_t(ps.rules));
        p.family("tandem_policy_reloads_total", MT::counter,
                 "Policy reloads (request policy reload, SIGHUP), by result: applied, or "
                 "refused for errors in the file.");
        p.sample("tandem_policy_reloads_total", MT::counter, {{"result", "applied"}}, ps.reloads);
        p.sample("tandem_policy_reloads_total", MT::counter, {{"result", "refused"}},
                 ps.reloads_failed);
    }
    if (src.http) {
        p.family("tandem_metrics_requests_total", MT::counter,
                 "HTTP requests answered by the metrics endpoint, by outcome.");
        p.sample("tandem_metrics_requests_total", MT::counter, {{"outcome", "scrape"}},
                 src.http->scrapes);
        p.sample("tandem_metrics_requests_total", MT::counter, {{"outcome", "rejected"}},
                 src.http->rejected);
    }
    return p.render();
}

}  // namespace tandem
