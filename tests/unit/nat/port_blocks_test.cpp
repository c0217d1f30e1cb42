// Translated ports owned by node: blocks of a pool, who owns each, and what
// moves when a member leaves for good and comes back.
#include "nat/port_blocks.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

using namespace tandem;

namespace {

constexpr uint32_t kFirst = 0xc6336400;  // 198.51.100.0

NatPoolSpec pool(uint32_t addresses, uint16_t lo = 1024, uint16_t hi = 65535, uint16_t block = 64) {
    return NatPoolSpec{kFirst, kFirst + addresses - 1, lo, hi, block};
}

uint16_t maskOf(std::initializer_list<NodeId> nodes) {
    uint16_t m = 0;
    for (NodeId n : nodes) m |= nodeBit(n);
    return m;
}

}  // namespace

TEST_CASE("a pool that cannot be cut into blocks is refused with a reason") {
    CHECK_FALSE(natPoolProblem(pool(4)));
    CHECK(natPoolProblem(NatPoolSpec{kFirst + 1, kFirst, 1024, 65535, 64}));  // backwards
    CHECK(natPoolProblem(pool(kMaxNatPoolAddresses + 1)));
    CHECK(natPoolProblem(pool(1, 0, 100)));          // port 0
    CHECK(natPoolProblem(pool(1, 2000, 1000)));      // backwards
    CHECK(natPoolProblem(pool(1, 1024, 65535, 4)));  // blocks too small
    CHECK(natPoolProblem(pool(1, 1024, 1050, 64)));  // less than a block
    CHECK(*natPoolProblem(pool(1, 1024, 1050, 64)) ==
          "the pool's port range is smaller than one block");
}

TEST_CASE("every port of the pool's whole blocks has one block, and a block its first port") {
    const PortBlockMap m(pool(3, 1000, 1999, 64), maskOf({1, 2}));
    CHECK(m.blocksPerAddress() == 15);  // 1000 ports: 15 whole blocks, 40 left over
    CHECK(m.blocks() == 45);
    std::map<uint32_t, uint32_t> ports_per_block;
    for (uint32_t a = kFirst; a < kFirst + 3; ++a) {
        for (uint32_t p = 1000; p <= 1999; ++p) {
            const auto b = m.blockOf(a, uint16_t(p));
            if (p >= 1000 + 15 * 64) {
                CHECK_FALSE(b);  // past the last whole block: never used
                continue;
            }
            REQUIRE(b);
            ++ports_per_block[*b];
            const NatPortRef first = m.firstPortOf(*b);
            CHECK(first.addr == a);
            CHECK(p - first.port < 64u);
        }
    }
    CHECK(ports_per_block.size() == 45);
    for (const auto& [b, n] : ports_per_block) CHECK(n == 64);
    CHECK_FALSE(m.blockOf(kFirst + 3, 1000));  // another address
    CHECK_FALSE(m.blockOf(kFirst, 999));
    CHECK(m.ownerOf(kFirst - 1, 1500) == kNoNode);
}

TEST_CASE("the members take the blocks in turn: every node has blocks on every address") {
    const PortBlockMap m(pool(4), maskOf({1, 3, 7}));
    const uint32_t per = m.blocksPerAddress();  // 1008 blocks of 64 per address
    CHECK(per == 1008);
    std::map<NodeId, std::set<uint32_t>> addrs;
    std::map<NodeId, uint32_t> count;
    for (uint32_t b = 0; b < m.blocks(); ++b) {
        const NodeId o = m.owner(b);
        CHECK(o == NodeId(b % 3 == 0 ? 1 : b % 3 == 1 ? 3 : 7));
        ++count[o];
        addrs[o].insert(m.firstPortOf(b).addr);
    }
    for (NodeId n : {1, 3, 7}) {
        CHECK(count[n] == m.blocks() / 3);
        CHECK(addrs[n].size() == 4);
        CHECK(m.blocksOf(n).size() == m.blocks() / 3);
    }
    // Any port names its block's owner.
    CHECK(m.ownerOf(kFirst + 2, uint16_t(1024 + 64 * 5 + 17)) == m.owner(2 * per + 5));
}

TEST_CASE("a member that leaves lends its blocks to the others, evenly, and gets them back") {
    PortBlockMap m(pool(2), maskOf({1, 2, 3, 4}));
    std::vector<NodeId> before(m.blocks());
    for (uint32_t b = 0; b < m.blocks(); ++b) before[b] = m.owner(b);

    m.setDeparted(maskOf({2}));
    std::map<NodeId, uint32_t> lent;
    for (uint32_t b = 0; b < m.blocks(); ++b) {
        if (before[b] != 2) {
            CHECK(m.owner(b) == before[b]);  // nothing else moves
            continue;
        }
        const NodeId o = m.owner(b);
        CHECK((o == 1 || o == 3 || o == 4));
        ++lent[o];
    }
    const uint32_t twos = m.blocks() / 4;
    for (NodeId n : {1, 3, 4}) {
        CAPTURE(n);
        CHECK(lent[n] > twos / 3 * 8 / 10);  // within 20 % of an even share
        CHECK(lent[n] < twos / 3 * 12 / 10);
    }

    // A second member leaves: only its blocks and the ones lent to it move.
    std::vector<NodeId> one_gone(m.blocks());
    for (uint32_t b = 0; b < m.blocks(); ++b) one_gone[b] = m.owner(b);
    m.setDeparted(maskOf({2, 3}));
    for (uint32_t b = 0; b < m.blocks(); ++b) {
        if (one_gone[b] != 3)
            CHECK(m.owner(b) == one_gone[b]);
        else
            CHECK((m.owner(b) == 1 || m.owner(b) == 4));
    }

    // Both come back: every block is its base owner's again.
    m.setDeparted(0);
    for (uint32_t b = 0; b < m.blocks(); ++b) CHECK(m.owner(b) == before[b]);

    // Nobody left: nobody owns.
    m.setDeparted(maskOf({1, 2, 3, 4, 9}));  // 9 is no member: ignored
    CHECK(m.departed() == maskOf({1, 2, 3, 4}));
    CHECK(m.owner(0) == kNoNode);
}

TEST_CASE("two maps built from the same configuration agree on every block") {
    PortBlockMap a(pool(8), maskOf({2, 5, 9, 16})), b(pool(8), maskOf({16, 9, 5, 2}));
    a.setDeparted(maskOf({5}));
    b.setDeparted(maskOf({5}));
    for (uint32_t k = 0; k < a.blocks(); ++k) CHECK(a.owner(k) == b.owner(k));
}

TEST_CASE("a block's heir is the member it is lent to when its owner leaves for good") {
    for (uint16_t members : {maskOf({1, 2}), maskOf({1, 2, 3}), maskOf({1, 3, 4, 7, 9})}) {
        PortBlockMap map(pool(2), members);
        std::map<NodeId, int> heirs;
        for (uint32_t b = 0; b < map.blocks(); ++b) {
            const NodeId owner = map.owner(b), heir = map.heir(b);
            CHECK(heir != owner);
            CHECK((members & nodeBit(heir)) != 0);
            ++heirs[heir];
            PortBlockMap without = map;
            without.setDeparted(nodeBit(owner));
            CHECK(without.owner(b) == heir);
        }
        // Every other member inherits some of the blocks.
        CHECK(heirs.size() == size_t(__builtin_popcount(members)));
    }
    PortBlockMap alone(pool(1), maskOf({1}));
    CHECK(alone.heir(0) == kNoNode);
}
