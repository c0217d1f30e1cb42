// Pre-flight check: before two nodes pair, each compares the other's HELLO
// with its own and refuses, with a reason an operator can act on, when the
// two could not run as one firewall (different owner election, timers,
// zones, software major.minor, peer-link MTU, member lists). A different
// policy is not refused: a reload changes it one node after the other. It
// is a warning (policyMismatch), shown per peer and in the metrics.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <string>

#include "config/config.h"
#include "core/worker_map.h"
#include "proto/ha_messages.h"

namespace tandem {

/// This node's HELLO. `incarnation` identifies this run of the agent;
/// `peer_link_mtu` is 0 when unknown.
/// `steering`: the node's worker map (null: software over the configured
/// workers), which translating nodes must share.
HaHello makeLocalHello(const Config& config, uint64_t incarnation, uint32_t peer_link_mtu,
                       const WorkerMap* steering = nullptr);

/// Empty when `theirs`, received from node `from`, may pair with `mine`;
/// otherwise why not, e.g. "session-owner is primary on node 2, first-packet here".
std::string preflightMismatch(const HaHello& mine, const HaHello& theirs, NodeId from);

/// Empty when node `from`'s policy (hash and rule count, from its HELLO or
/// heartbeats) is this node's; otherwise a warning that says both.
std::string policyMismatch(uint64_t mine_hash, uint32_t mine_rules, uint64_t theirs_hash,
                           uint32_t theirs_rules, NodeId from);

/// "1.2" of "1.2.3" (what must match between peers).
std::string majorMinor(const std::string& version);

}  // namespace tandem
