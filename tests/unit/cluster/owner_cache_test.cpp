// The forwarder's owner cache: what a director told is found again for its
// flow only, for a bounded time, and a newer flow takes an older one's slot.
#include "cluster/owner_cache.h"

#include <doctest/doctest.h>

namespace tandem {

TEST_CASE("an owner learned for a flow is found for that flow only") {
    OwnerCache c(1024);
    CHECK(c.capacity() == 1024);
    const uint64_t h = 0x1234567890abcdefULL;
    CHECK(c.lookup(h, 5000) == kNoNode);
    c.learn(h, 3, 5000);
    CHECK(c.lookup(h, 5000) == 3);
    // Same slot (low bits), another flow (high half): a miss, not node 3.
    CHECK(c.lookup(h ^ (1ULL << 40), 5000) == kNoNode);
    CHECK(c.occupied(5000) == 1);
}

TEST_CASE("what names a member that stopped owning is forgotten, the rest is kept") {
    OwnerCache c(64);
    const uint64_t h = 0xabcULL << 32 | 9, g = 0xdefULL << 32 | 10;
    c.learn(h, 5, 0);
    c.learn(g, 6, 0);
    c.forgetOwner(5);
    CHECK(c.lookup(h, 0) == kNoNode);  // node 5 may have lost its sessions
    CHECK(c.lookup(g, 0) == 6);
    c.learn(h, 5, 0);  // told again after it returned
    CHECK(c.lookup(h, 0) == 5);
}

TEST_CASE("an entry in use stays remembered") {
    OwnerCache c(64);
    const uint64_t h = 0x77ULL << 32 | 3;
    c.learn(h, 2, 0);
    for (uint32_t t = 0; t <= 3 * OwnerCache::kMaxAgeS * 1000; t += 5000)
        CHECK(c.lookup(h, t) == 2);
}

TEST_CASE("an owner hint unused for kMaxAgeS seconds is forgotten") {
    OwnerCache c(64);
    const uint64_t h = 0xfeedULL << 32 | 7;
    c.learn(h, 2, 1000);
    CHECK(c.lookup(h, 1000 + OwnerCache::kMaxAgeS * 1000) == 2);
    CHECK(c.lookup(h, 1000 + (2 * OwnerCache::kMaxAgeS + 2) * 1000) == kNoNode);
    CHECK(c.occupied(1000 + (2 * OwnerCache::kMaxAgeS + 2) * 1000) == 0);
}

TEST_CASE("a newer flow takes an older one's slot, and clear forgets everything") {
    OwnerCache c(64);
    const uint64_t a = 0xaaaaULL << 32 | 5, b = 0xbbbbULL << 32 | 5;  // same slot
    c.learn(a, 1, 0);
    c.learn(b, 4, 0);
    CHECK(c.lookup(a, 0) == kNoNode);
    CHECK(c.lookup(b, 0) == 4);
    c.learn(b, 6, 0);  // the owner moved
    CHECK(c.lookup(b, 0) == 6);
    c.clear();
    CHECK(c.lookup(b, 0) == kNoNode);
    c.learn(a, kNoNode, 0);  // nothing to remember
    CHECK(c.lookup(a, 0) == kNoNode);
}

TEST_CASE("the slot count is a power of two of at least 64") {
    CHECK(OwnerCache(1).capacity() == 64);
    CHECK(OwnerCache(1000).capacity() == 1024);
}

}  // namespace tandem
