// The neighbour seen on each data port, and the re-addressing of frames
// another node forwarded here with it. Without DPDK.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>

#include "pipeline/pipeline.h"

namespace tandem {

/// The neighbour seen on each data port (source MAC of its latest unicast
/// frame, learned by whichever worker received it): frames a peer forwarded
/// here are re-addressed to this node's own segments with it (readdress()).
/// One word per port, MAC in the low 48 bits and kKnown once learned.
/// Any worker may learn and read (relaxed: a frame re-addressed with the
/// previous MAC while another worker learns the new one is harmless).
struct PortNeighbours {
    static constexpr uint64_t kKnown = uint64_t(1) << 48;
    std::array<std::atomic<uint64_t>, kMaxPorts> mac{};
    void learn(uint16_t port, const uint8_t* src) {
        uint64_t v = kKnown;
        std::memcpy(&v, src, 6);  // little-endian: the low 48 bits
        if (mac[port].load(std::memory_order_relaxed) != v)
            mac[port].store(v, std::memory_order_relaxed);
    }
    bool known(uint16_t port) const { return mac[port].load(std::memory_order_relaxed) & kKnown; }
    void copy(uint16_t port, uint8_t* dst) const {
        const uint64_t v = mac[port].load(std::memory_order_relaxed);
        std::memcpy(dst, &v, 6);
    }

    /// A frame another node forwarded carries the Ethernet addresses of that
    /// node's segments. Leaving this node it must look as if it had crossed
    /// this node's own wire: from the neighbour on the side it entered, to
    /// the neighbour on the side it leaves (inline deployments between two
    /// routers). Rewrites the destination MAC of `frame` (its first byte)
    /// when out_port's neighbour is known, and then the source MAC when
    /// in_port's is; else leaves the frame as it is.
    void readdress(uint8_t* frame, uint16_t in_port, uint16_t out_port) const {
        if (!known(out_port)) return;
        copy(out_port, frame);
        if (known(in_port)) copy(in_port, frame + 6);
    }
};

}  // namespace tandem
