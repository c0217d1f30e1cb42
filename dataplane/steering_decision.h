// Which steering a node runs ([dataplane] steering, core/worker_map.h),
// decided from what its ports' devices can do: a pure function, so that
// every case is unit-tested without devices. dataplane.cpp reads each
// port's capability from its driver, asks decideSteering(), programs the
// devices when the answer is rss, and checks that they took it.
//
// rss needs, on every port (the data ports and the peer link): a settable
// RSS key of kRssKeyBytes bytes with the Toeplitz function, RSS over TCP
// and UDP on IPv4 and IPv6 (the frames a worker keeps without parsing,
// packet/rss_coverage.h; every other frame goes through Pipeline::workerFor
// whatever the device does with it), and a redirection table of at least
// one entry per worker, whose size is a multiple of the smallest port's
// (so that one table layout, WorkerMap::queueOfEntry, serves every port).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/worker_map.h"

namespace tandem {

/// Flows a device can hash for RSS (its driver's flow_type_rss_offloads).
enum RssFlow : uint8_t {
    kRssIpv4Tcp = 1,
    kRssIpv4Udp = 2,
    kRssIpv6Tcp = 4,
    kRssIpv6Udp = 8,
};
inline constexpr uint8_t kRssFlowsNeeded = kRssIpv4Tcp | kRssIpv4Udp | kRssIpv6Tcp | kRssIpv6Udp;

/// What one port's device offers for RSS, as its driver reports it.
struct PortRssCapability {
    std::string name;            ///< [port.NAME]
    std::string device;          ///< its DPDK device
    uint16_t hash_key_size = 0;  ///< bytes of settable key; 0: none
    uint16_t reta_size = 0;      ///< redirection table entries; 0: none
    uint8_t flows = 0;           ///< RssFlow bits
    bool toeplitz = false;       ///< hashes with the Toeplitz function
};

struct SteeringDecision {
    /// The map every user of the node must share; none: start-up fails.
    std::optional<WorkerMap> map;
    /// Why this steering (for the start-up log), or the error that stops
    /// start-up (names the port and what it lacks).
    std::string message;
};

/// What `port` lacks for rss steering with `workers` workers, in words
/// separated by "; " ("" when nothing).
std::string rssShortcomings(const PortRssCapability& port, unsigned workers);

/// The steering a node of `workers` workers runs: software when asked, or
/// with one worker, or (automatic) where some port cannot or the node is in
/// geneve mode (devices hash a tunnel's outer header); rss where every port
/// can. Asked for rss where a port cannot, or in geneve mode: no map, and
/// the message says which port lacks what.
SteeringDecision decideSteering(SteeringSetting setting, unsigned workers, bool geneve,
                                const std::vector<PortRssCapability>& ports);

}  // namespace tandem
