// One worker's translated ports: a bitmap per block of the blocks it
// allocates from (its share of its node's blocks, PortBlockMap), handed
// out round-robin over the blocks and, inside a block, from where the last
// search stopped, so that a port just freed is the last to be reused.
//
// Memory is fixed by setBlocks() (control path); allocate() and release()
// touch a few words and allocate nothing, as the per-packet path needs.
//
// Thread-safety: the owning worker's thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "nat/port_blocks.h"

namespace tandem {

class NatPortAllocator {
  public:
    explicit NatPortAllocator(const PortBlockMap& map) : map_(map) {}

    /// The blocks to allocate from from now on (ascending or not). Blocks
    /// kept keep their ports in use; blocks new to this allocator start
    /// free (mark the ports that sessions hold with markUsed()); ports of
    /// blocks left out are no longer handed out or counted.
    void setBlocks(const std::vector<uint32_t>& blocks);
    /// The same, but the blocks new to this allocator are held: counted,
    /// marked with markUsed(), never handed out until unhold(). For a node
    /// that takes blocks over while it finds, in bounded steps, the ports
    /// its sessions hold in them.
    void setBlocksHeld(const std::vector<uint32_t>& blocks);
    /// Every held block may be handed out from now on.
    void unhold();

    /// A free address:port, nullopt when every port is in use. With
    /// `heir` (a session's backup owner), one of a block whose heir
    /// (PortBlockMap::heir, as of the last setBlocks) it is where one has a
    /// free port, else of any block.
    std::optional<NatPortRef> allocate(NodeId heir = kNoNode);
    /// Marks addr:port in use (a session that holds it, found when the
    /// allocator is rebuilt). False when it is not in this allocator's
    /// blocks or already in use.
    bool markUsed(uint32_t addr, uint16_t port);
    /// Gives addr:port back; false when it was not in use here.
    bool release(uint32_t addr, uint16_t port);
    bool inUse(uint32_t addr, uint16_t port) const;

    uint32_t used() const { return used_; }
    uint32_t capacity() const { return uint32_t(blocks_.size()) * map_.pool().block_size; }
    uint32_t blockCount() const { return uint32_t(blocks_.size()); }

  private:
    struct Block {
        uint32_t id = 0;
        uint16_t free = 0;
        uint16_t next = 0;           ///< the port offset the next search starts at
        std::vector<uint64_t> bits;  ///< one per port, set = in use
        bool held = false;           ///< not handed out (setBlocksHeld)
        NodeId heir = kNoNode;       ///< PortBlockMap::heir when assigned
    };
    /// The first block from the cursor on that can hand out a port (of
    /// heir `heir` unless kNoNode), or n.
    uint32_t pick(NodeId heir) const;
    void assign(const std::vector<uint32_t>& blocks, bool hold_new);
    Block* find(uint32_t addr, uint16_t port, uint32_t* offset);
    const Block* find(uint32_t addr, uint16_t port, uint32_t* offset) const;

    const PortBlockMap& map_;
    std::vector<Block> blocks_;  ///< sorted by id
    uint32_t cursor_ = 0;        ///< the block allocate() tries first
    uint32_t used_ = 0;
};

}  // namespace tandem
