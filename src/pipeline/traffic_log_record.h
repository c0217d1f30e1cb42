// TrafficLogRecord: what a worker hands to the traffic logger when a session
// of a rule marked `log` starts or ends on the node that owns it.
//
// The worker never formats or writes a log line: it copies one fixed-size
// record into its own SPSC ring (a full ring is counted as
// PipelineCounter::traffic_log_dropped, never waited for) and a logger thread
// in the daemon turns records into JSON lines (src/daemon/traffic_logger.h;
// the fields are listed in docs/traffic-log.md).
#pragma once

#include <cstdint>

#include "core/spsc_ring.h"
#include "session/session.h"
#include "session/session_app.h"

namespace tandem {

enum class TrafficLogEvent : uint8_t {
    start = 1,  ///< the owner created the session
    end = 2,    ///< the owner removed it (see TrafficEndReason)
};

/// Why a session ended. Names (trafficEndReasonName) are the log's words.
enum class TrafficEndReason : uint8_t {
    none = 0,      ///< start records
    idle_timeout,  ///< no packet within the state's timeout
    tcp_fin,       ///< both FINs exchanged, time-wait ran out
    tcp_reset,     ///< an RST closed it, the close timeout ran out
    cleared,       ///< an operator cleared it (`clear session ...`)
    reopened,      ///< a new SYN reused the tuple of the finished connection
    policy,        ///< a policy reload ended it: the new policy denies it
};

/// "idle-timeout", "tcp-fin", "tcp-reset", "cleared", "reopened", "policy"
/// ("" for none).
inline const char* trafficEndReasonName(TrafficEndReason r) {
    switch (r) {
        case TrafficEndReason::none:
            return "";
        case TrafficEndReason::idle_timeout:
            return "idle-timeout";
        case TrafficEndReason::tcp_fin:
            return "tcp-fin";
        case TrafficEndReason::tcp_reset:
            return "tcp-reset";
        case TrafficEndReason::cleared:
            return "cleared";
        case TrafficEndReason::reopened:
            return "reopened";
        case TrafficEndReason::policy:
            return "policy";
    }
    return "?";
}

/// Zone of a TrafficLogRecord that the node cannot name (a session from a
/// peer that does not replicate its ingress port).
inline constexpr uint16_t kUnknownZone = 0xffff;

struct TrafficLogRecord {
    TrafficLogEvent event = TrafficLogEvent::start;
    TrafficEndReason reason = TrafficEndReason::none;
    uint16_t worker = 0;
    uint16_t from_zone = kUnknownZone;  ///< zone id of the initiator's side
    uint16_t to_zone = kUnknownZone;    ///< zone id of the responder's side
    uint32_t now_ms = 0;                ///< monotonicMs() of the event
    uint64_t session_id = 0;            ///< as `show session id N`
    Session session;                    ///< counters and state at the event
    NatBinding nat;                     ///< its address translation (kind 0: none)
    SessionApp app;                     ///< application identity (status none: not asked)
    AppName app_name;                   ///< the name read, when identified
};

using TrafficLogRing = SpscRing<TrafficLogRecord>;

}  // namespace tandem
