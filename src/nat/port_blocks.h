// Which node may hand out which translated ports: a NAT pool's ports cut
// into blocks, each owned by one node, so that owners translating at the
// same time never pick the same address:port, and a reply names its
// session's owner by its translated port alone (docs/nat.md).
//
// A pure function of the pool, the configured members and the members
// that left for good: every node computes the same map.
//
// Thread-safety: immutable after construction except setDeparted(), which
// the caller serialises; const methods may be called from any thread while
// nothing writes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_view.h"
#include "core/node_id.h"

namespace tandem {

/// A NAT pool as configured: IPv4 addresses first..last (host order), the
/// ports lo..hi of each, cut into blocks of block_size ports.
struct NatPoolSpec {
    uint32_t first_addr = 0;
    uint32_t last_addr = 0;
    uint16_t port_lo = 1024;
    uint16_t port_hi = 65535;
    uint16_t block_size = 64;
};

inline constexpr uint32_t kMaxNatPoolAddresses = 1024;
inline constexpr uint16_t kMinNatBlockSize = 8;

/// Why a pool cannot be used, in words; nullopt when it can.
std::optional<std::string> natPoolProblem(const NatPoolSpec& pool);

/// The block of addr:port in `pool` (numbered over the whole pool, address
/// by address); nullopt when it is not in the pool (another address, a port
/// outside lo..hi, or one of the ports past the last whole block, which are
/// never used). Allocation-free: for the per-packet path.
std::optional<uint32_t> natBlockOf(const NatPoolSpec& pool, uint32_t addr, uint16_t port);

/// Which of a node's `workers` hands out the ports of `block` when `members`
/// nodes are configured: the block's index among its base owner's blocks,
/// (block div members) mod workers. Not the owner's choice: a lent block
/// stays with the same worker index on the node it is lent to, where the
/// flows that hold its ports are steered (nat/nat_steering.h).
inline uint32_t natBlockWorker(uint32_t block, uint32_t members, uint32_t workers) {
    return (block / (members ? members : 1)) % (workers ? workers : 1);
}

/// A translated port's place in its pool.
struct NatPortRef {
    uint32_t block = 0;  ///< block index over the whole pool
    uint32_t addr = 0;   ///< the address (host order)
    uint16_t port = 0;
};

class PortBlockMap {
  public:
    /// `members`: the configured nodes (bit n-1 for node n), this one
    /// included. The pool must be valid (natPoolProblem() nullopt) and
    /// members non-empty.
    PortBlockMap(const NatPoolSpec& pool, uint16_t members);

    uint32_t blocks() const { return blocks_per_addr_ * addresses_; }
    uint32_t blocksPerAddress() const { return blocks_per_addr_; }
    const NatPoolSpec& pool() const { return pool_; }

    /// The block of addr:port; nullopt when it is not in the pool (another
    /// address, a port outside lo..hi, or one of the ports past the last
    /// whole block, which are never used).
    std::optional<uint32_t> blockOf(uint32_t addr, uint16_t port) const;
    /// The first address and port of block `block`.
    NatPortRef firstPortOf(uint32_t block) const;

    /// The member the configuration gives `block` (members in ascending
    /// id order, block b to the (b mod n)th).
    NodeId baseOwner(uint32_t block) const { return base_[block % base_.size()]; }
    /// Its owner now: the base owner, or, while that one has left for good,
    /// the remaining member with the highest rendezvous score for the
    /// block; kNoNode when every member has left.
    NodeId owner(uint32_t block) const;
    /// The owner of addr:port's block; kNoNode outside the pool.
    NodeId ownerOf(uint32_t addr, uint16_t port) const;
    /// The block's heir: the member owner(block) lends it to when the owner
    /// leaves for good (the same rendezvous choice, its owner left out);
    /// kNoNode when no other member remains. An owner gives a new session a
    /// port of a block whose heir is the session's backup owner, so that
    /// after the owner's death a reply to the port, sent to the heir, finds
    /// the session's copy there (docs/nat.md).
    NodeId heir(uint32_t block) const;

    /// The members that left for good (their blocks are lent to the others
    /// until they return). Bits outside `members` are ignored.
    void setDeparted(uint16_t departed);
    uint16_t departed() const { return departed_; }

    /// Every block `node` owns now, ascending.
    std::vector<uint32_t> blocksOf(NodeId node) const;
    /// Those of them that worker `worker` of `workers` hands out
    /// (natBlockWorker).
    std::vector<uint32_t> blocksOf(NodeId node, uint32_t worker, uint32_t workers) const;
    /// The number of configured members.
    uint32_t memberCount() const { return uint32_t(base_.size()); }

  private:
    NatPoolSpec pool_;
    uint32_t addresses_ = 0;
    uint32_t blocks_per_addr_ = 0;
    uint16_t members_ = 0;
    uint16_t departed_ = 0;
    std::vector<NodeId> base_;  ///< the members, ascending
};

}  // namespace tandem
