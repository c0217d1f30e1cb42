// Hand-off between the workers of one node, without DPDK: a worker that
// receives a frame of a flow another worker holds (Pipeline::workerFor)
// passes it over an SPSC ring (one per pair of workers), and the receiving
// worker takes the frames off its rings in runs the pipeline can process
// together. `Frame` is rte_mbuf* in the dataplane, anything nullable in the
// unit tests. Nothing here allocates, locks or counts: the caller's
// callbacks push, free and count.
#pragma once

#include <cstdint>

#include "dataplane/burst.h"

namespace tandem {

/// One frame on a hand-off ring.
template <typename Frame>
struct HandoffOf {
    Frame frame{};
    uint16_t port = 0;  ///< data port it entered this node (or the cluster) by
    PeerOrigin sender;  ///< node kNoNode: from a data port; else the peer that forwarded it
};

/// A frame's bytes, as the burst keeps them.
struct FrameBytes {
    uint8_t* data = nullptr;
    uint16_t len = 0;
};

/// Sorts the frames of `b` by the worker that must process them:
/// workerOf(data, len) (Pipeline::workerFor) is asked once per frame, in
/// order. The frames for `here` stay in `b`, compacted, in their order; the
/// others leave it through pass(to, HandoffOf<Frame>), grouped by
/// destination (destinations in the order of their first frame, each
/// destination's frames in burst order, which is the order its ring must
/// keep). Returns how many frames stay.
template <typename Frame, typename WorkerOf, typename Pass>
uint16_t splitForWorkers(BurstOf<Frame>& b, uint32_t here, WorkerOf&& workerOf, Pass&& pass) {
    constexpr uint32_t kDone = UINT32_MAX;
    uint32_t to[BurstOf<Frame>::kMax];
    bool away = false;
    for (uint16_t i = 0; i < b.n; ++i) {
        to[i] = workerOf(b.data[i], b.lens[i]);
        away |= to[i] != here;
    }
    if (!away) return b.n;
    // Group by destination: one scan per destination (a node has a few
    // workers; with two, this is a single scan).
    for (uint16_t a = 0; a < b.n; ++a) {
        const uint32_t dest = to[a];
        if (dest == here || dest == kDone) continue;
        for (uint16_t c = a; c < b.n; ++c) {
            if (to[c] != dest) continue;
            pass(dest, HandoffOf<Frame>{b.frames[c], b.port, b.origin(c)});
            to[c] = kDone;
        }
    }
    uint16_t kept = 0;
    for (uint16_t i = 0; i < b.n; ++i) {
        if (to[i] == here) b.move(i, kept++);
    }
    b.n = kept;
    return kept;
}

/// Takes up to `max` frames off one hand-off ring: pop(HandoffOf<Frame>*)
/// returns false when it is empty. Consecutive frames that entered by the
/// same port the same way (a data port, or the peer link) are collected in
/// `b` and given to process(b) together, keeping the order the other worker
/// received them in; bytes(frame) gives each frame's FrameBytes. Returns how
/// many frames were taken. `max` is at most BurstOf<Frame>::kMax.
template <typename Frame, typename Pop, typename Bytes, typename Process>
uint32_t takeHandoffs(BurstOf<Frame>& b, uint32_t max, Pop&& pop, Bytes&& bytes,
                      Process&& process) {
    b.n = 0;
    HandoffOf<Frame> h;
    uint32_t taken = 0;
    for (; taken < max && pop(&h); ++taken) {
        const bool from_peer = h.sender.node != kNoNode;
        if (b.n > 0 && (h.port != b.port || from_peer != b.from_peer)) {
            process(b);
            b.n = 0;
        }
        if (b.n == 0) b.reset(h.port, from_peer);
        const FrameBytes fb = bytes(h.frame);
        b.push(h.frame, fb.data, fb.len, h.sender);
    }
    if (b.n > 0) process(b);
    b.n = 0;
    return taken;
}

}  // namespace tandem
