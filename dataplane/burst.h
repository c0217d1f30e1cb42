// A burst of received frames as the worker carries it from the port (or the
// peer link, or another worker's hand-off ring) into the pipeline and out:
// each frame's buffer, its first byte, its length and who forwarded it, in
// one value instead of parallel arrays. Without DPDK: `Frame` is rte_mbuf*
// in the dataplane, anything nullable in the unit tests.
//
// A burst lives in the worker that fills it (on its stack, reused from one
// poll to the next); nothing in it allocates.
#pragma once

#include <cstdint>

#include "pipeline/pipeline.h"

namespace tandem {

template <typename Frame>
struct BurstOf {
    static constexpr uint16_t kMax = uint16_t(Pipeline::kMaxBurst);

    /// The data port the frames entered this node by (for frames from the
    /// peer link: the port they entered the cluster by).
    uint16_t port = 0;
    /// True: the frames came over the peer link, and senders[i] says from
    /// which node and why; false: from the data port `port` of this node.
    bool from_peer = false;
    uint16_t n = 0;
    Frame frames[kMax];
    uint8_t* data[kMax];  ///< frames[i]'s first byte (the pipeline reads and rewrites it)
    uint16_t lens[kMax];
    PeerOrigin senders[kMax];  ///< only when from_peer

    /// Empties the burst for frames that entered by `in_port`, from the
    /// peer link or not.
    void reset(uint16_t in_port, bool peer) {
        port = in_port;
        from_peer = peer;
        n = 0;
    }

    bool full() const { return n == kMax; }

    /// Appends a frame; the caller checks full() first.
    void push(Frame f, uint8_t* first_byte, uint16_t len, const PeerOrigin& sender = {}) {
        frames[n] = f;
        data[n] = first_byte;
        lens[n] = len;
        if (from_peer) senders[n] = sender;
        ++n;
    }

    /// Moves frame `from` to position `to` (to <= from): compaction in place.
    void move(uint16_t from, uint16_t to) {
        frames[to] = frames[from];
        data[to] = data[from];
        lens[to] = lens[from];
        if (from_peer) senders[to] = senders[from];
    }

    /// How frame i reached this node: its sender, or node kNoNode for a
    /// frame from a data port.
    PeerOrigin origin(uint16_t i) const { return from_peer ? senders[i] : PeerOrigin{}; }

    /// Calls run(first, count, sender) for each run of consecutive frames
    /// with the same sender, in order (the pipeline takes one sender per
    /// call); one run of all frames, sender node kNoNode, when not from_peer.
    template <typename Run>
    void forEachSenderRun(Run&& run) const {
        if (n == 0) return;
        if (!from_peer) {
            run(uint16_t(0), n, PeerOrigin{});
            return;
        }
        for (uint16_t a = 0; a < n;) {
            uint16_t b = a + 1;
            while (b < n && senders[b] == senders[a]) ++b;
            run(a, uint16_t(b - a), senders[a]);
            a = b;
        }
    }
};

}  // namespace tandem
