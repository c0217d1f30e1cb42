// How a NAT pool's ports are used on this node, for `show nat pools` and the
// metrics: the pool as configured, the blocks this node hands ports out of
// (docs/nat.md), the ports of those in use, and the first packets that found
// none free.
//
// NatPoolCounters are written by the worker that allocates (relaxed stores
// after each change) and read by any thread; NatPoolUsage is a copy.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "nat/port_blocks.h"

namespace tandem {

struct NatPoolCounters {
    std::atomic<uint32_t> blocks_here{0};   ///< blocks this worker hands ports out of
    std::atomic<uint32_t> ports_here{0};    ///< their ports
    std::atomic<uint32_t> ports_in_use{0};  ///< of them, held by sessions (replicas included)
    std::atomic<uint64_t> exhausted{0};     ///< first packets dropped: no port of them free
};

struct NatPoolUsage {
    std::string name;
    NatPoolSpec spec;
    uint32_t blocks = 0;  ///< in the whole pool
    uint32_t blocks_here = 0;
    uint32_t ports_here = 0;
    uint32_t ports_in_use = 0;
    uint64_t exhausted = 0;
};

}  // namespace tandem
