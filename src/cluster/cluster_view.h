// ClusterView: the membership facts a worker needs per packet, published by
// the HA agent and read by workers without locks.
//
// It fits in one 64-bit word, so publishing is one atomic store and reading
// one atomic load: a worker reads it once per burst. The agent publishes a
// new view on every membership or state change.
#pragma once

#include <atomic>
#include <cstdint>

#include "cluster/node_state.h"
#include "core/node_id.h"

namespace tandem {

/// Bit for node id n (1..16) in a member mask.
inline constexpr uint16_t nodeBit(NodeId n) {
    return n == kNoNode ? 0 : uint16_t(1u << (n - 1));
}

struct ClusterView {
    uint16_t owners = 0;     ///< nodes that may own sessions now (active and alive), self included
    uint16_t reachable = 0;  ///< peers heard from recently on any path (self included)
    NodeId self = kNoNode;
    NodeId primary = kNoNode;  ///< the active-primary node, kNoNode if none
    NodeState self_state = NodeState::initial;
    bool primary_owns = false;  ///< [ha] session-owner = primary
    bool replicate = false;     ///< at least one peer takes replicas now
    uint8_t epoch = 0;          ///< bumped on every publish (diagnostics)

    bool mayOwn(NodeId n) const { return owners & nodeBit(n); }
    bool isReachable(NodeId n) const { return reachable & nodeBit(n); }
    bool selfMayOwn() const { return mayOwn(self); }

    uint64_t pack() const;
    static ClusterView unpack(uint64_t word);
};

/// The published view. publish() by the HA agent thread only; load() by any thread.
class ClusterViewCell {
  public:
    void publish(const ClusterView& v) { word_.store(v.pack(), std::memory_order_release); }
    ClusterView load() const { return ClusterView::unpack(word_.load(std::memory_order_acquire)); }

  private:
    std::atomic<uint64_t> word_{0};
};

inline uint64_t ClusterView::pack() const {
    return uint64_t(owners) | uint64_t(reachable) << 16 | uint64_t(self) << 32 |
           uint64_t(primary) << 37 | uint64_t(uint8_t(self_state)) << 42 |
           uint64_t(primary_owns) << 46 | uint64_t(replicate) << 47 | uint64_t(epoch) << 48;
}

inline ClusterView ClusterView::unpack(uint64_t w) {
    ClusterView v;
    v.owners = uint16_t(w);
    v.reachable = uint16_t(w >> 16);
    v.self = NodeId((w >> 32) & 0x1f);
    v.primary = NodeId((w >> 37) & 0x1f);
    v.self_state = NodeState((w >> 42) & 0xf);
    v.primary_owns = (w >> 46) & 1;
    v.replicate = (w >> 47) & 1;
    v.epoch = uint8_t(w >> 48);
    return v;
}

}  // namespace tandem
