// Frames a worker holds back for a while, without DPDK: the first packets
// of new flows parked until the HA agent acknowledges their session
// (ParkingLotOf), and later fragments that came before their datagram's first
// fragment was decided (FragmentHoldOf). Both are fixed arrays of slots in
// the worker (nothing allocated), touched by that worker only. `Frame` is
// what the worker holds: rte_mbuf* in the dataplane, anything nullable in
// the unit tests.
#pragma once

#include <cstdint>

#include "core/node_id.h"
#include "pipeline/pipeline.h"

namespace tandem {

/// First packets of new flows, parked by release token until the agent
/// releases them (the backup owner has the session), or kDeadlineMs pass.
template <typename Frame>
class ParkingLotOf {
  public:
    static constexpr uint32_t kSlots = 1024;
    static constexpr uint32_t kDeadlineMs = 50;  // last resort; the agent answers in < 10 ms

    struct Parked {
        Frame frame{};
        uint32_t token = 0;
        uint16_t port = 0;
        NodeId egress_via = kNoNode;  ///< GENEVE: leaves from this node (it entered there)
        uint32_t deadline_ms = 0;
    };

    /// Parks `frame` under `token` (its slot: token % kSlots). When the slot
    /// still holds an older frame, that one's time is up: it is returned in
    /// *evicted (send it) and the call returns true.
    bool park(Frame frame, uint32_t token, uint16_t port, NodeId egress_via, uint32_t now,
              Parked* evicted) {
        Parked& slot = slots_[token % kSlots];
        const bool had = slot.frame != Frame{};
        if (had) {
            *evicted = slot;
        } else {
            ++parked_;
        }
        slot = Parked{frame, token, port, egress_via, now + kDeadlineMs};
        return had;
    }

    /// Takes out the frame parked under `token`; false when there is none
    /// (sent already: released, evicted or expired).
    bool release(uint32_t token, Parked* out) {
        Parked& slot = slots_[token % kSlots];
        if (slot.frame == Frame{} || slot.token != token) return false;
        *out = take(slot);
        return true;
    }

    /// Takes out every frame whose deadline passed, calling send(parked).
    template <typename Send>
    uint32_t expire(uint32_t now, Send&& send, bool all = false) {
        if (parked_ == 0) return 0;
        uint32_t n = 0;
        for (Parked& slot : slots_) {
            if (slot.frame != Frame{} && (all || int32_t(now - slot.deadline_ms) >= 0)) {
                send(take(slot));
                ++n;
            }
        }
        return n;
    }

    /// Takes out every frame (the worker stopped), calling out(parked).
    template <typename Out>
    void drain(Out&& out) {
        expire(
            uint32_t(0), [&](const Parked& p) { out(p); }, true);
    }

    uint32_t parked() const { return parked_; }

  private:
    Parked take(Parked& slot) {
        Parked out = slot;
        slot.frame = Frame{};
        --parked_;
        return out;
    }

    Parked slots_[kSlots];
    uint32_t parked_ = 0;
};

/// Later fragments (VerdictKind::hold), kept until the pipeline has decided
/// their datagram's first fragment (tried again after each burst that
/// decided a first fragment) or for kHoldMs. Bounded: a fragment that finds
/// every slot taken is refused (the caller frees it).
template <typename Frame>
class FragmentHoldOf {
  public:
    static constexpr uint32_t kSlots = 256;
    static constexpr uint32_t kHoldMs = 1000;

    struct Held {
        Frame frame{};
        uint16_t port = 0;  ///< the data port it entered this node (or the cluster) by
        PeerOrigin from;    ///< node kNoNode: a data port of this node
        uint32_t deadline_ms = 0;
    };

    /// False when every slot is taken.
    bool hold(Frame frame, uint16_t port, const PeerOrigin& from, uint32_t now) {
        if (held_ == kSlots) return false;
        for (uint32_t k = 0; k < kSlots; ++k) {
            Held& slot = slots_[(next_ + k) % kSlots];
            if (slot.frame != Frame{}) continue;
            slot = Held{frame, port, from, now + kHoldMs};
            ++held_;
            next_ = (next_ + k + 1) % kSlots;
            return true;
        }
        return false;  // not reached: held_ < kSlots
    }

    /// After a burst: when `heads_decided` (Pipeline::fragmentHeadsDecided)
    /// moved since the last call, offers each held fragment to
    /// decide(held), which returns whether it took it (a verdict other than
    /// hold); the taken ones leave the hold.
    template <typename Decide>
    uint32_t retry(uint32_t heads_decided, Decide&& decide) {
        if (held_ == 0 || heads_decided == heads_seen_) return 0;
        heads_seen_ = heads_decided;
        uint32_t n = 0;
        for (Held& slot : slots_) {
            if (slot.frame == Frame{}) continue;
            const Held was = slot;
            slot.frame = Frame{};
            --held_;
            if (decide(was)) {
                ++n;
            } else {
                slot = was;  // still waiting for its first fragment
                ++held_;
            }
            if (held_ == 0) break;
        }
        return n;
    }

    /// Takes out every fragment held longer than kHoldMs, calling drop(held).
    template <typename Drop>
    uint32_t expire(uint32_t now, Drop&& drop, bool all = false) {
        if (held_ == 0) return 0;
        uint32_t n = 0;
        for (Held& slot : slots_) {
            if (slot.frame != Frame{} && (all || int32_t(now - slot.deadline_ms) >= 0)) {
                const Held was = slot;
                slot.frame = Frame{};
                --held_;
                drop(was);
                ++n;
            }
        }
        return n;
    }

    /// Takes out every fragment (the worker stopped), calling out(held).
    template <typename Out>
    void drain(Out&& out) {
        expire(
            uint32_t(0), [&](const Held& h) { out(h); }, true);
    }

    uint32_t held() const { return held_; }

  private:
    Held slots_[kSlots];
    uint32_t held_ = 0;
    uint32_t next_ = 0;        // where the search for a free slot starts
    uint32_t heads_seen_ = 0;  // fragmentHeadsDecided() at the last retry
};

}  // namespace tandem
