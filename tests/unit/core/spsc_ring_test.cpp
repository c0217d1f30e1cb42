#include "core/spsc_ring.h"

#include <doctest/doctest.h>

#include <thread>

using namespace tandem;

TEST_CASE("a ring refuses pushes when full and pops in order") {
    SpscRing<uint32_t> ring(4);
    CHECK(ring.capacity() == 4);
    for (uint32_t i = 0; i < 4; ++i) CHECK(ring.push(i));
    CHECK_FALSE(ring.push(99));
    uint32_t v;
    for (uint32_t i = 0; i < 4; ++i) {
        REQUIRE(ring.pop(&v));
        CHECK(v == i);
    }
    CHECK_FALSE(ring.pop(&v));
}

TEST_CASE("capacity rounds up to a power of two") {
    SpscRing<int> ring(1000);
    CHECK(ring.capacity() == 1024);
}

TEST_CASE("a producer and a consumer thread pass a million records without loss or reorder") {
    struct Rec {
        uint64_t seq;
        uint64_t check;
    };
    SpscRing<Rec> ring(256);
    constexpr uint64_t kCount = 1000000;
    std::thread producer([&] {
        for (uint64_t i = 0; i < kCount;) {
            if (ring.push({i, i * 7 + 1})) ++i;
        }
    });
    uint64_t expected = 0, bad = 0;
    Rec r;
    while (expected < kCount) {
        if (!ring.pop(&r)) continue;
        if (r.seq != expected || r.check != r.seq * 7 + 1) ++bad;
        ++expected;
    }
    producer.join();
    CHECK(bad == 0);
    CHECK(expected == kCount);
}
