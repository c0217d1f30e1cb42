// One worker's translated ports: every port of its blocks once, none of any
// other block, reuse as late as possible, and the state a rebuild restores.
#include "nat/port_allocator.h"

#include <doctest/doctest.h>

#include <set>
#include <utility>

using namespace tandem;

namespace {

constexpr uint32_t kFirst = 0xc6336400;  // 198.51.100.0

using Port = std::pair<uint32_t, uint16_t>;

Port of(const NatPortRef& r) {
    return {r.addr, r.port};
}

std::set<Port> drain(NatPortAllocator& a) {
    std::set<Port> got;
    while (auto r = a.allocate()) CHECK(got.insert(of(*r)).second);
    return got;
}

}  // namespace

TEST_CASE("an allocator hands out every port of its blocks once, then reports exhaustion") {
    for (uint16_t size : {uint16_t(64), uint16_t(40), uint16_t(100)}) {
        CAPTURE(size);
        const PortBlockMap map(NatPoolSpec{kFirst, kFirst + 1, 2000, 4999, size}, 0b11);
        NatPortAllocator a(map);
        a.setBlocks(
            {3, 0, map.blocksPerAddress() + 1});  // two on the first address, one on the second
        CHECK(a.capacity() == 3u * size);
        const std::set<Port> got = drain(a);
        CHECK(got.size() == 3u * size);
        CHECK(a.used() == a.capacity());
        for (const Port& p : got) {
            const auto b = map.blockOf(p.first, p.second);
            REQUIRE(b);
            CHECK((*b == 0 || *b == 3 || *b == map.blocksPerAddress() + 1));
        }
        CHECK_FALSE(a.allocate());
    }
}

TEST_CASE("allocations go round the blocks, and a freed port is reused last") {
    const PortBlockMap map(NatPoolSpec{kFirst, kFirst, 1024, 65535, 64}, 0b1);
    NatPortAllocator a(map);
    a.setBlocks({0, 1, 2});
    std::set<uint32_t> blocks;
    for (int i = 0; i < 3; ++i) blocks.insert(*map.blockOf(kFirst, a.allocate()->port));
    CHECK(blocks.size() == 3);  // three allocations, three blocks

    const NatPortRef r = *a.allocate();
    CHECK(a.inUse(r.addr, r.port));
    CHECK(a.release(r.addr, r.port));
    CHECK_FALSE(a.release(r.addr, r.port));  // not in use any more
    CHECK_FALSE(a.inUse(r.addr, r.port));
    // Everything else goes before the freed port comes back.
    std::set<Port> rest;
    for (uint32_t i = 0; i + 4 < a.capacity(); ++i) rest.insert(of(*a.allocate()));
    CHECK(rest.count(of(r)) == 0);
    CHECK(of(*a.allocate()) == of(r));
    CHECK_FALSE(a.allocate());
}

TEST_CASE("a rebuilt allocator never hands out a port a session holds") {
    const PortBlockMap map(NatPoolSpec{kFirst, kFirst, 1024, 65535, 64}, 0b1);
    NatPortAllocator a(map);
    a.setBlocks({5, 6});
    const NatPortRef first = map.firstPortOf(5);
    CHECK(a.markUsed(first.addr, uint16_t(first.port + 7)));
    CHECK(a.markUsed(first.addr, uint16_t(first.port + 64 + 9)));   // block 6
    CHECK_FALSE(a.markUsed(first.addr, uint16_t(first.port + 7)));  // already
    CHECK_FALSE(a.markUsed(first.addr, uint16_t(first.port - 1)));  // block 4: not here
    CHECK_FALSE(a.markUsed(first.addr + 1, first.port));            // not in the pool
    CHECK(a.used() == 2);
    const std::set<Port> got = drain(a);
    CHECK(got.size() == 126);
    CHECK(got.count({first.addr, uint16_t(first.port + 7)}) == 0);
    CHECK(got.count({first.addr, uint16_t(first.port + 73)}) == 0);
}

TEST_CASE("blocks kept keep their ports - blocks lent add room - blocks returned leave") {
    const PortBlockMap map(NatPoolSpec{kFirst, kFirst, 1024, 65535, 64}, 0b1);
    NatPortAllocator a(map);
    a.setBlocks({1, 2});
    for (int i = 0; i < 10; ++i) a.allocate();
    CHECK(a.used() == 10);
    a.setBlocks({2, 1, 7});  // a block lent
    CHECK(a.used() == 10);
    CHECK(a.capacity() == 192);
    a.setBlocks({7});  // the others gone back: their ports no longer count here
    CHECK(a.used() == 0);
    CHECK(a.blockCount() == 1);
    const NatPortRef one = map.firstPortOf(1);
    CHECK_FALSE(a.release(one.addr, one.port));  // a port of a block it gave back
}

TEST_CASE("blocks taken over held are marked but not handed out until unheld") {
    const PortBlockMap map(NatPoolSpec{kFirst, kFirst, 1024, 65535, 64}, 0b1);
    NatPortAllocator a(map);
    a.setBlocks({1});
    a.setBlocksHeld({1, 2});  // block 2 new: held; block 1 kept as it was
    CHECK(a.capacity() == 128);
    const NatPortRef two = map.firstPortOf(2);
    CHECK(a.markUsed(two.addr, uint16_t(two.port + 3)));  // a session holds it
    const std::set<Port> before = drain(a);
    CHECK(before.size() == 64);  // block 1's only
    for (const Port& p : before) CHECK(map.blockOf(p.first, p.second) == 1u);
    a.unhold();
    const std::set<Port> after = drain(a);
    CHECK(after.size() == 63);  // block 2's, less the one in use
    CHECK(after.count({two.addr, uint16_t(two.port + 3)}) == 0);
}

TEST_CASE("the allocators of two nodes never hand out the same address:port") {
    PortBlockMap map(NatPoolSpec{kFirst, kFirst + 3, 1024, 9215, 64}, 0b11);
    NatPortAllocator one(map), two(map);
    one.setBlocks(map.blocksOf(1));
    two.setBlocks(map.blocksOf(2));
    const std::set<Port> a = drain(one), b = drain(two);
    CHECK(a.size() + b.size() == map.blocks() * 64u);
    for (const Port& p : a) CHECK(b.count(p) == 0);
    for (const Port& p : a) CHECK(map.ownerOf(p.first, p.second) == 1);
    for (const Port& p : b) CHECK(map.ownerOf(p.first, p.second) == 2);
}
