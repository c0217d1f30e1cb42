// The traffic log's JSON line: one object per session start or end, the
// fields documented in docs/traffic-log.md. Pure functions, used by the
// logger thread (traffic_logger.h) and tested on their own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/node_id.h"
#include "pipeline/traffic_log_record.h"

namespace tandem {

/// The names a record refers to by number, JSON-quoted once at start-up.
class TrafficLogNames {
  public:
    /// `rules` by rule index (the compiled policy's names), `zones` by zone id.
    TrafficLogNames(const std::string& node, NodeId node_id, const std::vector<std::string>& rules,
                    const std::vector<std::string>& zones);

    const std::string& node() const { return node_; }  ///< quoted
    NodeId nodeId() const { return node_id_; }
    /// Quoted rule name (kEarlierPolicyRuleName for kRuleOfEarlierPolicy),
    /// or `null` for an index out of range.
    const std::string& rule(uint32_t index) const;
    /// Quoted zone name, or `null` for kUnknownZone or an id out of range.
    const std::string& zone(uint16_t id) const;

  private:
    std::string node_;
    NodeId node_id_;
    std::vector<std::string> rules_;
    std::vector<std::string> zones_;
    std::string null_ = "null";
    std::string earlier_policy_;
};

/// `s` as a JSON string literal (quotes included; control characters,
/// quote and backslash escaped). Any thread.
std::string jsonQuote(const std::string& s);

/// "2024-05-01T12:00:00.123Z" for `wall_ms` milliseconds since the epoch.
std::string formatUtcTime(int64_t wall_ms);

/// Appends one line (terminated by '\n') for `record` to *out. `wall_ms` is
/// the event's time in ms since the epoch. Allocates; logger thread only.
void appendTrafficLogLine(const TrafficLogRecord& record, const TrafficLogNames& names,
                          int64_t wall_ms, std::string* out);

}  // namespace tandem
