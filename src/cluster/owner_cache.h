// OwnerCache: a forwarder's memory of who owns the flows it has no session
// for (clusters of three or more, where a session lives only on its owner
// and its backup owner).
//
// A packet of such a flow first goes to the flow's director, which passes
// it to the owner and tells the forwarder who that is (a peer-link owner
// hint). The forwarder keeps the answer here, so the flow's next packets go
// straight to the owner: one peer-link hop instead of two.
//
// Bounded and lossy: a direct-mapped array of one 64-bit word per slot
// (the flow hash's high half as tag, its owner's generation, a coarse
// time, the owner), written and read with relaxed atomics by any worker of
// the node, no lock. A newer flow overwrites an older one in its slot; an
// entry unused for kMaxAgeS seconds is a miss. When a member stops being
// one that may own (it died, restarted or was suspended), forgetOwner()
// bumps its generation: every entry naming it is a miss from then on (it
// may have lost the sessions). Entries naming the other members stay, so a
// member's death does not send every forwarder back to the directors. A
// wrong answer costs a hop, never a packet: the node it names passes the
// packet on to the owner its record names (reason via_director), or to the
// flow's director when it has no record.
//
// Thread-safety: lookup(), learn(), clear() and occupied() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "core/node_id.h"

namespace tandem {

class OwnerCache {
  public:
    static constexpr uint32_t kMaxAgeS = 10;

    /// `slots` is rounded up to a power of two (at least 64).
    explicit OwnerCache(uint32_t slots) {
        uint32_t n = 64;
        while (n < slots) n <<= 1;
        mask_ = n - 1;
        slots_ = std::make_unique<std::atomic<uint64_t>[]>(n);
        for (uint32_t i = 0; i < n; ++i) slots_[i].store(0, std::memory_order_relaxed);
    }

    /// The owner remembered for `flow_hash`, or kNoNode. A hit more than a
    /// second old is refreshed (a flow in use stays remembered).
    NodeId lookup(uint64_t flow_hash, uint32_t now_ms) {
        std::atomic<uint64_t>& slot = slots_[flow_hash & mask_];
        const uint64_t w = slot.load(std::memory_order_relaxed);
        if (w == 0 || uint32_t(w >> 32) != uint32_t(flow_hash >> 32)) return kNoNode;
        const NodeId owner = NodeId(w & 0xff);
        if (owner > kMaxNodes || uint8_t(w >> 24) != generation(owner) || !fresh(w, now_ms))
            return kNoNode;
        if (seconds(now_ms) != uint32_t(w >> 8 & kTimeMask)) {
            slot.store((w & ~(uint64_t(kTimeMask) << 8)) | uint64_t(seconds(now_ms)) << 8,
                       std::memory_order_relaxed);
        }
        return owner;
    }

    /// Remembers that `owner` owns the flow of `flow_hash`.
    void learn(uint64_t flow_hash, NodeId owner, uint32_t now_ms) {
        if (owner == kNoNode || owner > kMaxNodes) return;
        const uint64_t w = (flow_hash >> 32) << 32 | uint64_t(generation(owner)) << 24 |
                           uint64_t(seconds(now_ms)) << 8 | owner;
        slots_[flow_hash & mask_].store(w, std::memory_order_relaxed);
    }

    /// `owner` stopped being a member that may own: forget what names it.
    void forgetOwner(NodeId owner) {
        if (owner >= 1 && owner <= kMaxNodes) gens_[owner].fetch_add(1, std::memory_order_relaxed);
    }

    /// Forgets everything.
    void clear() {
        for (uint32_t i = 0; i <= mask_; ++i) slots_[i].store(0, std::memory_order_relaxed);
    }

    uint32_t capacity() const { return mask_ + 1; }

    /// Slots holding an entry not older than kMaxAgeS (a scan: for status
    /// and tests, not the packet path).
    uint32_t occupied(uint32_t now_ms) const {
        uint32_t n = 0;
        for (uint32_t i = 0; i <= mask_; ++i) {
            const uint64_t w = slots_[i].load(std::memory_order_relaxed);
            const NodeId owner = NodeId(w & 0xff);
            if (w && owner <= kMaxNodes && uint8_t(w >> 24) == generation(owner) &&
                fresh(w, now_ms))
                ++n;
        }
        return n;
    }

  private:
    static constexpr uint32_t kTimeMask = 0xffff;  // 16 bits of seconds (ages compare modulo)
    static uint32_t seconds(uint32_t now_ms) { return (now_ms / 1000) & kTimeMask; }
    static bool fresh(uint64_t w, uint32_t now_ms) {
        return ((seconds(now_ms) - uint32_t(w >> 8)) & kTimeMask) <= kMaxAgeS;
    }

    uint8_t generation(NodeId owner) const { return gens_[owner].load(std::memory_order_relaxed); }

    uint32_t mask_ = 0;
    std::unique_ptr<std::atomic<uint64_t>[]> slots_;
    std::atomic<uint8_t> gens_[kMaxNodes + 1] = {};
};

}  // namespace tandem
