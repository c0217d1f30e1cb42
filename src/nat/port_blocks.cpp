#include "nat/port_blocks.h"

#include "cluster/election.h"

namespace tandem {

namespace {

// What a block's lending is decided by: the rendezvous pick over the
// members left (PortBlockMap::owner and heir).
uint64_t lendingHash(uint32_t block) {
    return uint64_t(block) * 0x9e3779b97f4a7c15ULL + 1;
}

}  // namespace

std::optional<std::string> natPoolProblem(const NatPoolSpec& p) {
    if (p.first_addr == 0 || p.last_addr < p.first_addr)
        return "the pool's addresses must run from a first to a last, not backwards";
    if (uint64_t(p.last_addr) - p.first_addr + 1 > kMaxNatPoolAddresses)
        return "a pool holds at most " + std::to_string(kMaxNatPoolAddresses) + " addresses";
    if (p.port_lo == 0 || p.port_hi < p.port_lo)
        return "the pool's ports must be a range LO-HI with 1 <= LO <= HI";
    if (p.block_size < kMinNatBlockSize)
        return "a block holds at least " + std::to_string(kMinNatBlockSize) + " ports";
    if (uint32_t(p.port_hi) - p.port_lo + 1 < p.block_size)
        return "the pool's port range is smaller than one block";
    return std::nullopt;
}

PortBlockMap::PortBlockMap(const NatPoolSpec& pool, uint16_t members)
    : pool_(pool),
      addresses_(pool.last_addr - pool.first_addr + 1),
      blocks_per_addr_((uint32_t(pool.port_hi) - pool.port_lo + 1) / pool.block_size),
      members_(members) {
    for (NodeId n = 1; n <= kMaxNodes; ++n)
        if (members & nodeBit(n)) base_.push_back(n);
}

std::optional<uint32_t> natBlockOf(const NatPoolSpec& p, uint32_t addr, uint16_t port) {
    if (addr < p.first_addr || addr > p.last_addr) return std::nullopt;
    if (port < p.port_lo || port > p.port_hi) return std::nullopt;
    const uint32_t per_addr = (uint32_t(p.port_hi) - p.port_lo + 1) / p.block_size;
    const uint32_t in_addr = (uint32_t(port) - p.port_lo) / p.block_size;
    if (in_addr >= per_addr) return std::nullopt;
    return (addr - p.first_addr) * per_addr + in_addr;
}

std::optional<uint32_t> PortBlockMap::blockOf(uint32_t addr, uint16_t port) const {
    return natBlockOf(pool_, addr, port);
}

NatPortRef PortBlockMap::firstPortOf(uint32_t block) const {
    NatPortRef r;
    r.block = block;
    r.addr = pool_.first_addr + block / blocks_per_addr_;
    r.port = uint16_t(pool_.port_lo + (block % blocks_per_addr_) * pool_.block_size);
    return r;
}

NodeId PortBlockMap::owner(uint32_t block) const {
    const NodeId base = baseOwner(block);
    if (!(departed_ & nodeBit(base))) return base;
    // Lent while its owner is away: the same choice on every node, and a
    // block moves only when its holder leaves.
    return rendezvousPick(lendingHash(block), uint16_t(members_ & ~departed_));
}

NodeId PortBlockMap::heir(uint32_t block) const {
    const NodeId o = owner(block);
    if (o == kNoNode) return kNoNode;
    return rendezvousPick(lendingHash(block), uint16_t(members_ & ~departed_ & ~nodeBit(o)));
}

NodeId PortBlockMap::ownerOf(uint32_t addr, uint16_t port) const {
    const std::optional<uint32_t> b = blockOf(addr, port);
    return b ? owner(*b) : kNoNode;
}

void PortBlockMap::setDeparted(uint16_t departed) {
    departed_ = uint16_t(departed & members_);
}

std::vector<uint32_t> PortBlockMap::blocksOf(NodeId node) const {
    std::vector<uint32_t> out;
    for (uint32_t b = 0; b < blocks(); ++b)
        if (owner(b) == node) out.push_back(b);
    return out;
}

std::vector<uint32_t> PortBlockMap::blocksOf(NodeId node, uint32_t worker, uint32_t workers) const {
    std::vector<uint32_t> out;
    for (uint32_t b = 0; b < blocks(); ++b)
        if (owner(b) == node && natBlockWorker(b, memberCount(), workers) == worker)
            out.push_back(b);
    return out;
}

}  // namespace tandem
