// The load balancer's health checks, answered by the node itself (GENEVE
// mode: an AWS Gateway Load Balancer checks each target on the data port's
// own IPv4 address, by TCP or HTTP).
//
// A stateless responder: each reply is built from the segment it answers,
// in the segment's own buffer, so nothing is kept per check and nothing is
// allocated. The initial sequence number is a keyed hash of the 4-tuple (as
// a SYN cookie), so a later segment of the check is recognised by its
// acknowledgement number alone.
//
//   tcp:  SYN → SYN-ACK while healthy, RST-ACK while not; the checker's FIN
//         → FIN-ACK. The checker decides success on the handshake.
//   http: SYN → SYN-ACK; `GET PATH` (or HEAD) → `200 OK` while healthy,
//         `503 Service Unavailable` while not (`404` another path, `405`
//         another method), with FIN; the checker's FIN → ACK.
// Anything else (a segment that is not part of a check, a payload that is
// not an HTTP request) gets no reply and is counted.
//
// Healthy means this node may own sessions: active, its data links up, not
// suspended (tentative, suspended and non-functional nodes answer
// unhealthy), so that `request high-availability suspend` drains it through
// the load balancer before an upgrade.
//
// Thread-safety: pure functions; the counters belong to the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/counters.h"
#include "packet/packet_info.h"

namespace tandem {

enum class HealthCheckProtocol : uint8_t { tcp, http };

struct HealthCheckSettings {
    bool enabled = false;
    HealthCheckProtocol protocol = HealthCheckProtocol::tcp;
    IpAddr address;          ///< the data port's own IPv4 address (v4-mapped)
    uint16_t port = 80;      ///< TCP port the checks come to
    std::string path = "/";  ///< http: the path that answers 200 / 503
    uint64_t secret = 0;     ///< keys the initial sequence numbers
};

#define TANDEM_HEALTH_CHECK_COUNTERS(X)                                                           \
    X(health_checks_healthy, "health checks answered healthy (TCP handshake accepted, HTTP 200)") \
    X(health_checks_unhealthy, "health checks answered unhealthy (TCP reset, HTTP 503)")          \
    X(health_checks_other, "HTTP requests for another path (404) or with another method (405)")   \
    X(health_check_closes, "health-check segments answered that close a check (FIN)")             \
    X(health_check_ignored, "health-check segments that need no reply (ACKs, resets)")            \
    X(health_check_garbage,                                                                       \
      "segments to the health-check port that are no part of a check, dropped")

TANDEM_COUNTER_ENUM(HealthCheckCounter, TANDEM_HEALTH_CHECK_COUNTERS)
using HealthCheckCounters = CounterBlock<HealthCheckCounter, kHealthCheckCounterCount>;

/// Writes the reply to `frame` (an Ethernet frame of `len` bytes holding a
/// TCP segment to settings.address:settings.port, parsed into `info`) over
/// `frame` itself, which has room for `cap` bytes. Returns the reply's
/// length, or 0 when the segment gets no reply (counted). The reply goes
/// back out of the port the segment came in on.
size_t healthCheckReply(uint8_t* frame, size_t len, size_t cap, const PacketInfo& info,
                        bool healthy, const HealthCheckSettings& settings,
                        HealthCheckCounters& counters);

/// The initial sequence number of the check from `info`'s 4-tuple.
uint32_t healthCheckIsn(const PacketInfo& info, uint64_t secret);

}  // namespace tandem
