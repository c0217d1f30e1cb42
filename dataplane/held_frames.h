// Frames a worker holds back for a while, without DPDK: the first packets
// of new flows parked until the HA agent acknowledges their session
// (ParkingLotOf), later fragments that came before their datagram's first
// fragment was decided (FragmentHoldOf), and packets of flows whose new
// director waits for their owner's session (OwnerWaitOf). All are fixed arrays of slots in
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

/// Frames kept until something they wait for happens in the pipeline (a
/// counter of it moves: retry() decides them again) or for HoldMs.
/// Bounded: a frame that finds every slot taken is refused (the caller
/// frees it).
template <typename Frame, uint32_t Slots, uint32_t HoldMs>
class FrameHoldOf {
  public:
    static constexpr uint32_t kSlots = Slots;
    static constexpr uint32_t kHoldMs = HoldMs;

    struct Held {
        Frame frame{};
        uint16_t port = 0;  ///< the data port it entered this node (or the cluster) by
        PeerOrigin from;    ///< node kNoNode: a data port of this node
        uint32_t deadline_ms = 0;
    };

    /// Keeps `frame` for `hold_ms` (at most, and 0 for kHoldMs). False
    /// when every slot is taken.
    bool hold(Frame frame, uint16_t port, const PeerOrigin& from, uint32_t now,
              uint32_t hold_ms = 0) {
        if (held_ == kSlots) return false;
        if (hold_ms == 0 || hold_ms > kHoldMs) hold_ms = kHoldMs;
        for (uint32_t k = 0; k < kSlots; ++k) {
            Held& slot = slots_[(next_ + k) % kSlots];
            if (slot.frame != Frame{}) continue;
            slot = Held{frame, port, from, now + hold_ms};
            ++held_;
            next_ = (next_ + k + 1) % kSlots;
            return true;
        }
        return false;  // not reached: held_ < kSlots
    }

    /// When `progress` (what the frames wait for: see the aliases below)
    /// moved since the last call, offers each held frame to decide(held),
    /// which returns whether it took it (a verdict other than the one that
    /// held it); the taken ones leave the hold.
    template <typename Decide>
    uint32_t retry(uint32_t progress, Decide&& decide) {
        if (held_ == 0 || progress == progress_seen_) return 0;
        progress_seen_ = progress;
        uint32_t n = 0;
        for (Held& slot : slots_) {
            if (slot.frame == Frame{}) continue;
            const Held was = slot;
            slot.frame = Frame{};
            --held_;
            if (decide(was)) {
                ++n;
            } else {
                slot = was;  // still waiting
                ++held_;
            }
            if (held_ == 0) break;
        }
        return n;
    }

    /// Takes out every frame whose time is up, calling drop(held).
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

    /// Takes out every frame (the worker stopped), calling out(held).
    template <typename Out>
    void drain(Out&& out) {
        expire(
            uint32_t(0), [&](const Held& h) { out(h); }, true);
    }

    uint32_t held() const { return held_; }

  private:
    Held slots_[kSlots];
    uint32_t held_ = 0;
    uint32_t next_ = 0;           // where the search for a free slot starts
    uint32_t progress_seen_ = 0;  // `progress` at the last retry
};

/// Later fragments (VerdictKind::hold), kept until the pipeline has decided
/// their datagram's first fragment (retry() with
/// Pipeline::fragmentHeadsDecided(), after each burst) or for a second.
template <typename Frame>
using FragmentHoldOf = FrameHoldOf<Frame, 256, 1000>;

/// Packets whose session may be on its way here (VerdictKind::await_owner:
/// flows whose director this node has just become, replies that outran
/// their copy), kept until the session arrives or what they wait for is
/// over (retry() with Pipeline::ownerWaitProgress(), after each burst and
/// batch of commands), or their own time is up (the verdict's, at most
/// PipelineSettings::replica_wait_ms, or the two seconds of the last
/// resort): then the pipeline decides them as if they had not waited.
template <typename Frame>
using OwnerWaitOf = FrameHoldOf<Frame, 512, 2000>;

}  // namespace tandem
