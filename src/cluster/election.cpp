#include "cluster/election.h"

namespace tandem {

uint64_t rendezvousScore(uint64_t hash, NodeId node) {
    uint64_t x = hash ^ (uint64_t(node) * 0x9e3779b97f4a7c15ULL);
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 32;
    return x;
}

NodeId rendezvousPick(uint64_t hash, uint16_t mask, NodeId exclude) {
    NodeId best = kNoNode;
    uint64_t best_score = 0;
    for (NodeId n = 1; n <= kMaxNodes; ++n) {
        if (!(mask & nodeBit(n)) || n == exclude) continue;
        const uint64_t s = rendezvousScore(hash, n);
        if (best == kNoNode || s > best_score) best = n, best_score = s;
    }
    return best;
}

NodeId ownerForNewFlow(uint64_t flow_hash, const ClusterView& view) {
    const NodeId preferred = view.primary_owns ? view.primary : view.self;
    if (preferred != kNoNode && view.mayOwn(preferred)) return preferred;
    return rendezvousPick(flow_hash, view.owners);
}

NodeId effectiveOwner(uint64_t flow_hash, NodeId owner, NodeId backup, const ClusterView& view) {
    if (view.mayOwn(owner)) return owner;
    if (backup != kNoNode && view.mayOwn(backup)) return backup;
    return rendezvousPick(flow_hash, view.owners);
}

}  // namespace tandem
