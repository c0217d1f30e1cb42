#include "nat/port_allocator.h"

#include <algorithm>
#include <utility>

namespace tandem {

void NatPortAllocator::setBlocks(const std::vector<uint32_t>& ids) {
    assign(ids, false);
}

void NatPortAllocator::setBlocksHeld(const std::vector<uint32_t>& ids) {
    assign(ids, true);
}

void NatPortAllocator::unhold() {
    for (Block& b : blocks_) b.held = false;
}

void NatPortAllocator::assign(const std::vector<uint32_t>& ids, bool hold_new) {
    std::vector<uint32_t> sorted = ids;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    const uint16_t size = map_.pool().block_size;
    std::vector<Block> next;
    next.reserve(sorted.size());
    used_ = 0;
    for (uint32_t id : sorted) {
        auto old = std::lower_bound(blocks_.begin(), blocks_.end(), id,
                                    [](const Block& b, uint32_t v) { return b.id < v; });
        if (old != blocks_.end() && old->id == id) {
            next.push_back(std::move(*old));
        } else {
            Block b;
            b.id = id;
            b.free = size;
            b.bits.assign((size + 63) / 64, 0);
            b.held = hold_new;
            next.push_back(std::move(b));
        }
        next.back().heir = map_.heir(id);
        used_ += size - next.back().free;
    }
    blocks_ = std::move(next);
    cursor_ = 0;
}

namespace {

// The first clear bit of `bits` (`size` of them) at or after `from`,
// wrapping round; the caller knows there is one.
uint32_t firstClear(const std::vector<uint64_t>& bits, uint32_t size, uint32_t from) {
    for (uint32_t step = 0; step < 2; ++step) {
        const uint32_t lo = step == 0 ? from : 0, hi = step == 0 ? size : from;
        for (uint32_t w = lo / 64; w * 64 < hi; ++w) {
            uint64_t avail = ~bits[w];
            if (w * 64 < lo) avail &= ~uint64_t(0) << (lo % 64);
            if ((w + 1) * 64 > hi) avail &= (uint64_t(1) << (hi % 64)) - 1;
            if (avail) return w * 64 + uint32_t(__builtin_ctzll(avail));
        }
    }
    return size;  // none: cannot happen when free > 0
}

}  // namespace

uint32_t NatPortAllocator::pick(NodeId heir) const {
    const uint32_t n = uint32_t(blocks_.size());
    for (uint32_t tried = 0; tried < n; ++tried) {
        const Block& b = blocks_[(cursor_ + tried) % n];
        if (b.free == 0 || b.held || (heir != kNoNode && b.heir != heir)) continue;
        return (cursor_ + tried) % n;
    }
    return n;
}

std::optional<NatPortRef> NatPortAllocator::allocate(NodeId heir) {
    const uint32_t n = uint32_t(blocks_.size());
    uint32_t at = heir != kNoNode ? pick(heir) : n;
    if (at == n) at = pick(kNoNode);
    if (at == n) return std::nullopt;
    const uint16_t size = map_.pool().block_size;
    Block& b = blocks_[at];
    const uint32_t off = firstClear(b.bits, size, b.next);
    b.bits[off / 64] |= uint64_t(1) << (off % 64);
    b.next = uint16_t((off + 1) % size);
    --b.free;
    ++used_;
    // The next allocation starts at the next block.
    cursor_ = (at + 1) % n;
    NatPortRef r = map_.firstPortOf(b.id);
    r.port = uint16_t(r.port + off);
    return r;
}

const NatPortAllocator::Block* NatPortAllocator::find(uint32_t addr, uint16_t port,
                                                      uint32_t* offset) const {
    const std::optional<uint32_t> id = map_.blockOf(addr, port);
    if (!id) return nullptr;
    auto it = std::lower_bound(blocks_.begin(), blocks_.end(), *id,
                               [](const Block& b, uint32_t v) { return b.id < v; });
    if (it == blocks_.end() || it->id != *id) return nullptr;
    *offset = port - map_.firstPortOf(*id).port;
    return &*it;
}

NatPortAllocator::Block* NatPortAllocator::find(uint32_t addr, uint16_t port, uint32_t* offset) {
    return const_cast<Block*>(std::as_const(*this).find(addr, port, offset));
}

bool NatPortAllocator::markUsed(uint32_t addr, uint16_t port) {
    uint32_t off = 0;
    Block* b = find(addr, port, &off);
    if (!b) return false;
    uint64_t& word = b->bits[off / 64];
    const uint64_t bit = uint64_t(1) << (off % 64);
    if (word & bit) return false;
    word |= bit;
    --b->free;
    ++used_;
    return true;
}

bool NatPortAllocator::release(uint32_t addr, uint16_t port) {
    uint32_t off = 0;
    Block* b = find(addr, port, &off);
    if (!b) return false;
    uint64_t& word = b->bits[off / 64];
    const uint64_t bit = uint64_t(1) << (off % 64);
    if (!(word & bit)) return false;
    word &= ~bit;
    ++b->free;
    --used_;
    return true;
}

bool NatPortAllocator::inUse(uint32_t addr, uint16_t port) const {
    uint32_t off = 0;
    const Block* b = find(addr, port, &off);
    return b && (b->bits[off / 64] >> (off % 64) & 1);
}

}  // namespace tandem
