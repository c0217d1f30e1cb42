// The parking lot of first packets and the hold of early fragments, with
// small integers standing in for mbufs (0: no frame).
#include "dataplane/held_frames.h"

#include <doctest/doctest.h>

#include <vector>

using namespace tandem;

namespace {

using Lot = ParkingLotOf<uintptr_t>;
using Hold = FragmentHoldOf<uintptr_t>;

}  // namespace

TEST_CASE("a parked first packet leaves once: released, or at its deadline") {
    Lot lot;
    Lot::Parked evicted;
    CHECK_FALSE(lot.park(101, 1, 0, kNoNode, 1000, &evicted));
    CHECK_FALSE(lot.park(102, 2, 1, 3, 1000, &evicted));
    CHECK(lot.parked() == 2);
    Lot::Parked p;
    REQUIRE(lot.release(2, &p));
    CHECK(p.frame == 102);
    CHECK(p.port == 1);
    CHECK(p.egress_via == 3);
    CHECK_FALSE(lot.release(2, &p));  // sent already
    CHECK_FALSE(lot.release(7, &p));  // never parked
    // Token 1 is not released: it leaves at its deadline, not before.
    std::vector<uintptr_t> sent;
    auto send = [&](const Lot::Parked& x) { sent.push_back(x.frame); };
    CHECK(lot.expire(1000 + Lot::kDeadlineMs - 1, send) == 0);
    CHECK(lot.expire(1000 + Lot::kDeadlineMs, send) == 1);
    CHECK(sent == std::vector<uintptr_t>{101});
    CHECK(lot.parked() == 0);
    CHECK_FALSE(lot.release(1, &p));  // its release comes too late: nothing twice
}

TEST_CASE("a slot that comes round again sends its old occupant first") {
    Lot lot;
    Lot::Parked evicted;
    CHECK_FALSE(lot.park(1, 5, 0, kNoNode, 0, &evicted));
    REQUIRE(lot.park(2, 5 + Lot::kSlots, 0, kNoNode, 10, &evicted));
    CHECK(evicted.frame == 1);
    CHECK(evicted.token == 5);
    CHECK(lot.parked() == 1);
    Lot::Parked p;
    CHECK_FALSE(lot.release(5, &p));  // the old token no longer names it
    REQUIRE(lot.release(5 + Lot::kSlots, &p));
    CHECK(p.frame == 2);
}

TEST_CASE("deadlines compare across the clock's wrap") {
    Lot lot;
    Lot::Parked evicted;
    const uint32_t now = UINT32_MAX - 10;
    lot.park(9, 1, 0, kNoNode, now, &evicted);
    int sent = 0;
    CHECK(lot.expire(now + 20, [&](const Lot::Parked&) { ++sent; }) == 0);  // wrapped: 9 ms later
    CHECK(lot.expire(now + Lot::kDeadlineMs, [&](const Lot::Parked&) { ++sent; }) == 1);
    CHECK(sent == 1);
}

TEST_CASE("held fragments are offered again only when a first fragment was decided") {
    Hold hold;
    const PeerOrigin peer{2, ForwardReason::fragment_follows, 2};
    REQUIRE(hold.hold(11, 0, {}, 100));
    REQUIRE(hold.hold(12, 1, peer, 100));
    std::vector<uintptr_t> offered;
    auto take_12 = [&](const Hold::Held& h) {
        offered.push_back(h.frame);
        return h.frame == 12;
    };
    CHECK(hold.retry(0, take_12) == 0);  // nothing decided yet: nothing offered
    CHECK(offered.empty());
    CHECK(hold.retry(1, take_12) == 1);
    CHECK(offered == std::vector<uintptr_t>{11, 12});
    CHECK(hold.held() == 1);
    CHECK(hold.retry(1, take_12) == 0);  // the same count again: not offered again
    std::vector<uintptr_t> dropped;
    CHECK(hold.expire(100 + Hold::kHoldMs,
                      [&](const Hold::Held& h) { dropped.push_back(h.frame); }) == 1);
    CHECK(dropped == std::vector<uintptr_t>{11});
    CHECK(hold.held() == 0);
}

TEST_CASE("the hold is bounded: a fragment that finds every slot taken is refused") {
    Hold hold;
    for (uintptr_t i = 1; i <= Hold::kSlots; ++i) REQUIRE(hold.hold(i, 0, {}, 0));
    CHECK_FALSE(hold.hold(9999, 0, {}, 0));
    CHECK(hold.held() == Hold::kSlots);
    uintptr_t sum = 0;
    hold.drain([&](const Hold::Held& h) { sum += h.frame; });
    CHECK(sum == uintptr_t(Hold::kSlots) * (Hold::kSlots + 1) / 2);  // each exactly once
    CHECK(hold.held() == 0);
    CHECK(hold.hold(1, 0, {}, 0));
}

TEST_CASE("a packet waiting for its session waits its own time, at most the last resort") {
    using Wait = OwnerWaitOf<uintptr_t>;
    Wait wait;
    REQUIRE(wait.hold(21, 0, {}, 1000, 600));  // a reply that outran its copy: 600 ms
    REQUIRE(wait.hold(22, 0, {}, 1000));       // a new director's packet: the last resort
    REQUIRE(wait.hold(23, 0, {}, 1000, 10 * Wait::kHoldMs));  // never beyond it
    std::vector<uintptr_t> out;
    auto take = [&](const Wait::Held& h) { out.push_back(h.frame); };
    CHECK(wait.expire(1599, take) == 0);
    CHECK(wait.expire(1600, take) == 1);
    CHECK(out == std::vector<uintptr_t>{21});
    CHECK(wait.expire(999 + Wait::kHoldMs, take) == 0);
    CHECK(wait.expire(1000 + Wait::kHoldMs, take) == 2);
    CHECK(out == std::vector<uintptr_t>{21, 22, 23});
}
