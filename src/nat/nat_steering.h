// Which worker owns a flow on a node that translates (docs/nat.md, "Several
// workers"): the one definition that Pipeline::workerFor (a received
// frame's worker) and the HA agent's replica routing both use, so that a
// translated session, the packets of both its sides and its replicas meet in
// one worker's table.
//
// A translated reply carries the translated tuple, which the node's plain
// steering (WorkerMap) would map anywhere. So:
//   - a flow with an endpoint at a pool address and a port of one of its
//     blocks belongs to the block's worker (natBlockWorker). A worker hands
//     out only the ports of its own blocks, so a source-translated session,
//     steered by its original tuple to the worker that created it, holds a
//     port of that worker's blocks: its replies, addressed to that port,
//     reach it there;
//   - a flow with an endpoint at a dnat rule's target (its address and port)
//     is steered as if that endpoint were the public address and port the
//     rule translates from, so that a target's replies meet the session the
//     client's packets (to the public address) created. Its own flows are
//     steered the same way in both directions;
//   - every other flow as the WorkerMap says.
// Both nodes of a pair must then have the same workers and steering (the
// pre-flight check compares natSteeringText()), since a replica is routed
// by its flow here and its translated replies by the port's block there.
//
// With rss steering a worker keeps the plain frames its queue received
// (packet/rss_coverage.h); natSteersAddresses() says which of them it may
// not keep, since their worker is the one above rather than the device's.
//
// Thread-safety: pure functions of an immutable NatSetup; allocation-free.
#pragma once

#include <cstdint>
#include <string>

#include "core/flow_key.h"
#include "core/worker_map.h"
#include "nat/nat_rules.h"

namespace tandem {

/// The worker of `map` that owns the flow `key` (hash == flowHash(key)) on a
/// node translating with `nat` (null: none).
uint32_t flowWorker(const WorkerMap& map, const NatSetup* nat, const FlowKey& key, uint64_t hash);

/// Whether a frame between IPv4 addresses `a` and `b` (host order) may
/// belong to a flow flowWorker() steers otherwise than the WorkerMap: one
/// of them is a pool address or a dnat rule's target.
bool natSteersAddresses(const NatSetup& nat, uint32_t a, uint32_t b);

/// What both nodes must agree on when they translate: "W workers,
/// STEERING steering" (with rss, the redirection table's size as well).
std::string natSteeringText(const WorkerMap& map);

}  // namespace tandem
