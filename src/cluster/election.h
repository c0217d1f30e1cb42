// Owner, backup-owner, director and fragment-owner selection: pure functions
// of a flow hash and a member mask, so the dataplane and the HA agent of every
// node agree by construction.
//
// Selection uses rendezvous (highest-random-weight) hashing: each candidate
// node gets a score mix(hash, node) and the highest wins. When a member joins
// or leaves, only the keys it wins or held move (~1/N of them), and no table
// has to be rebuilt. N <= 16, so a pick is at most 16 multiplications.
#pragma once

#include <cstdint>

#include "cluster/cluster_view.h"
#include "core/node_id.h"

namespace tandem {

/// Rendezvous score of `node` for `hash` (exposed for tests).
uint64_t rendezvousScore(uint64_t hash, NodeId node);

/// The highest-scoring node of `mask`, skipping `exclude`; kNoNode if none.
NodeId rendezvousPick(uint64_t hash, uint16_t mask, NodeId exclude = kNoNode);

/// Director of a flow: knows who owns it. Chosen among nodes that may own.
inline NodeId directorOf(uint64_t flow_hash, uint16_t owners) {
    return rendezvousPick(flow_hash, owners);
}

/// Backup owner of a session owned by `owner`: the director, unless the
/// director is the owner, then the next best member. kNoNode when alone.
inline NodeId backupOwnerOf(uint64_t flow_hash, NodeId owner, uint16_t owners) {
    return rendezvousPick(flow_hash, owners, owner);
}

/// Node that collects all fragments of one datagram (hash = fragmentHash()).
inline NodeId fragmentOwnerOf(uint64_t fragment_hash, uint16_t owners) {
    return rendezvousPick(fragment_hash, owners);
}

/// Who owns a new flow whose first packet reached `view.self`:
/// first-packet mode → self if it may own; primary mode → the primary.
/// When the preferred node may not own, any node that may (by rendezvous);
/// kNoNode if nobody can.
NodeId ownerForNewFlow(uint64_t flow_hash, const ClusterView& view);

/// Who should own an existing session whose owner is `owner`, given the view:
/// the owner itself while it may own; otherwise its backup owner if that may
/// own; otherwise the rendezvous pick among the nodes that may.
NodeId effectiveOwner(uint64_t flow_hash, NodeId owner, NodeId backup, const ClusterView& view);

}  // namespace tandem
