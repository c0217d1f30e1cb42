// The page tandemd serves at GET /metrics: every counter and state the
// control commands show, as Prometheus metrics named tandem_*. Built from the
// same status snapshots (Dataplane::status(), HaAgent::status(), the traffic
// logger's and the HTTP server's stats). docs/metrics.md lists the families.
//
// Thread-safety: pure; call from the metrics thread.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "control/metrics_http_server.h"
#include "daemon/policy_reload.h"
#include "daemon/traffic_logger.h"
#include "dataplane/dataplane.h"
#include "ha/ha_status.h"

namespace tandem {

struct MetricsSources {
    const Config* config = nullptr;
    const DataplaneStatus* dataplane = nullptr;
    const HaStatus* ha = nullptr;                     ///< null: standalone node
    const TrafficLoggerStats* traffic_log = nullptr;  ///< null: no traffic log
    const MetricsHttpStats* http = nullptr;
    const PolicyStatus* policy = nullptr;  ///< the policy in force and its reloads
    /// The applications of this node's sessions (show application); null:
    /// the tables did not answer in time (no samples).
    const std::vector<AppUsage>* applications = nullptr;
};

/// The exposition text (format 0.0.4) for `sources`.
std::string renderMetricsPage(const MetricsSources& sources);

}  // namespace tandem
