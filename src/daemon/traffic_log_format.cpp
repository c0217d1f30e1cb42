#include "daemon/traffic_log_format.h"

#include <time.h>

#include <cinttypes>
#include <cstdio>

#include "core/protocol_name.h"
#include "session/session_filter.h"

namespace tandem {

TrafficLogNames::TrafficLogNames(const std::string& node, NodeId node_id,
                                 const std::vector<std::string>& rules,
                                 const std::vector<std::string>& zones)
    : node_(jsonQuote(node)),
      node_id_(node_id),
      earlier_policy_(jsonQuote(kEarlierPolicyRuleName)) {
    for (const auto& r : rules) rules_.push_back(jsonQuote(r));
    for (const auto& z : zones) zones_.push_back(jsonQuote(z));
}

const std::string& TrafficLogNames::rule(uint32_t index) const {
    if (index == kRuleOfEarlierPolicy) return earlier_policy_;
    return index < rules_.size() ? rules_[index] : null_;
}

const std::string& TrafficLogNames::zone(uint16_t id) const {
    return id < zones_.size() ? zones_[id] : null_;
}

std::string jsonQuote(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    char esc[8];
                    std::snprintf(esc, sizeof esc, "\\u%04x", c);
                    out += esc;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
    return out;
}

std::string formatUtcTime(int64_t wall_ms) {
    const time_t secs = time_t(wall_ms / 1000);
    tm t;
    gmtime_r(&secs, &t);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(wall_ms % 1000));
    return buf;
}

void appendTrafficLogLine(const TrafficLogRecord& r, const TrafficLogNames& names, int64_t wall_ms,
                          std::string* out) {
    const Session& s = r.session;
    const SessionEndpoints e = endpointsOf(s);
    const char* proto = protocolName(s.key_proto);
    char buf[512];
    *out += "{\"time\":\"" + formatUtcTime(wall_ms) + "\",\"event\":\"";
    *out += r.event == TrafficLogEvent::start ? "start" : "end";
    *out += "\",\"node\":" + names.node();
    std::snprintf(buf, sizeof buf,
                  ",\"node_id\":%u,\"session_id\":%" PRIu64 ",\"proto\":", unsigned(names.nodeId()),
                  r.session_id);
    *out += buf;
    *out += proto ? std::string("\"") + proto + "\"" : std::to_string(s.key_proto);
    *out += ",\"src\":\"" + formatIpAddr(e.src) + "\",\"sport\":" + std::to_string(e.sport);
    *out += ",\"dst\":\"" + formatIpAddr(e.dst) + "\",\"dport\":" + std::to_string(e.dport);
    *out += ",\"from_zone\":" + names.zone(r.from_zone) + ",\"to_zone\":" + names.zone(r.to_zone);
    *out += ",\"rule\":" + names.rule(s.rule);
    *out += ",\"state\":\"";
    *out += sessionStateName(s.state);
    *out += '"';
    if (r.app.status != AppStatus::none) {
        *out += ",\"app_status\":\"";
        *out += appStatusName(r.app.status);
        *out += '"';
        if (r.app.proto != AppProtocol::none) {
            *out += ",\"app\":\"";
            *out += appProtocolName(r.app.proto);
            *out += '"';
        }
        if (r.app_name.len) *out += ",\"app_name\":" + jsonQuote(std::string(r.app_name.view()));
        if (s.flags & kSessionAppDenied) *out += ",\"app_denied\":true";
    }
    if (r.nat.kind == 1) {
        // Source translation: the address and port it left with (docs/nat.md).
        *out += ",\"nat\":\"snat\",\"nat_src\":\"" + formatIpAddr(IpAddr::fromV4(r.nat.addr)) +
                "\",\"nat_sport\":" + std::to_string(r.nat.port);
    } else if (r.nat.kind == 2) {
        // Destination translation: where it was sent instead.
        *out += ",\"nat\":\"dnat\",\"nat_dst\":\"" + formatIpAddr(IpAddr::fromV4(r.nat.addr)) +
                "\",\"nat_dport\":" + std::to_string(r.nat.port);
    }
    if (r.event == TrafficLogEvent::end) {
        // Session::created_s is the creating node's ms clock / 1000 (carried
        // across nodes as an age), so durations have one-second resolution.
        const uint32_t duration_s = r.now_ms / 1000 - s.created_s;
        std::snprintf(buf, sizeof buf,
                      ",\"reason\":\"%s\",\"duration_s\":%u,\"packets_orig\":%" PRIu64
                      ",\"bytes_orig\":%" PRIu64 ",\"packets_reply\":%" PRIu64
                      ",\"bytes_reply\":%" PRIu64,
                      trafficEndReasonName(r.reason), duration_s, s.packets(0), s.bytes(0),
                      s.packets(1), s.bytes(1));
        *out += buf;
    }
    *out += "}\n";
}

}  // namespace tandem
