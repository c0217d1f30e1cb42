// The tally behind `show application`: sessions this node owns, by
// application name and protocol, walked in steps, the most used first.
#include "session/app_usage.h"

#include <doctest/doctest.h>

#include <string>

#include "fixtures/sessions.h"

using namespace tandem;

namespace {

constexpr NodeId kSelf = 1, kPeer = 2;

// Session i owned by `owner`, its application `proto` `name` (status
// identified; unidentified when the name is empty and proto none).
uint32_t add(SessionTable& t, uint32_t i, NodeId owner, AppProtocol proto, const std::string& name,
             bool denied = false) {
    Session s = test::makeSession(i, owner, kPeer, 1000);
    if (denied) s.flags |= kSessionAppDenied;
    uint32_t index = 0;
    REQUIRE(t.insert(s, flowHash(s.key()), &index) == SessionTable::InsertResult::inserted);
    const AppStatus st =
        proto == AppProtocol::none ? AppStatus::unidentified : AppStatus::identified;
    REQUIRE(t.setApp(index, proto, st, name));
    return index;
}

std::string text(const AppUsage& u) {
    return std::string(appProtocolName(u.proto)) + " " + std::string(u.name.view()) + " " +
           std::to_string(u.sessions) + "/" + std::to_string(u.denied);
}

}  // namespace

TEST_CASE("owned sessions are tallied by name and protocol, the most used first") {
    SessionTable t(4096, 0);
    uint32_t i = 0;
    for (int k = 0; k < 5; ++k) add(t, i++, kSelf, AppProtocol::tls, "a.example");
    for (int k = 0; k < 2; ++k) add(t, i++, kSelf, AppProtocol::tls, "a.example", true);
    for (int k = 0; k < 3; ++k) add(t, i++, kSelf, AppProtocol::http, "a.example");
    for (int k = 0; k < 4; ++k) add(t, i++, kSelf, AppProtocol::dns, "b.example");
    add(t, i++, kSelf, AppProtocol::none, "");
    // Replicas of a peer's sessions, and sessions no app rule looked at: not counted.
    for (int k = 0; k < 9; ++k) add(t, i++, kPeer, AppProtocol::tls, "peer.example");
    Session plain = test::makeSession(i++, kSelf, kPeer, 1000);
    uint32_t index = 0;
    REQUIRE(t.insert(plain, flowHash(plain.key()), &index) == SessionTable::InsertResult::inserted);

    AppUsageTally tally(t);
    tally.start(kSelf);
    int steps = 1;
    while (!tally.step(100)) ++steps;
    CHECK(steps == int((t.capacity() + 99) / 100));  // bounded steps over the whole table
    AppUsage out[AppUsageTally::kMaxTop];
    const size_t n = tally.top(out, AppUsageTally::kMaxTop);
    REQUIRE(n == 4);
    CHECK(text(out[0]) == "tls a.example 7/2");
    CHECK(text(out[1]) == "dns b.example 4/0");
    CHECK(text(out[2]) == "http a.example 3/0");
    CHECK(text(out[3]) == "  1/0");  // unidentified: no protocol, no name

    // The first two only; a new walk starts from zero.
    CHECK(tally.top(out, 2) == 2);
    CHECK(text(out[1]) == "dns b.example 4/0");
    tally.start(kPeer);
    while (!tally.step(1000)) {
    }
    REQUIRE(tally.top(out, AppUsageTally::kMaxTop) == 1);
    CHECK(text(out[0]) == "tls peer.example 9/0");
}

TEST_CASE("with more applications than it returns, the tally keeps the most used") {
    SessionTable t(1 << 14, 0);
    uint32_t i = 0;
    // 100 names, name k on k + 1 sessions.
    for (int k = 0; k < 100; ++k)
        for (int s = 0; s <= k; ++s)
            add(t, i++, kSelf, AppProtocol::tls, "n" + std::to_string(k) + ".example");
    AppUsageTally tally(t);
    tally.start(kSelf);
    while (!tally.step(4096)) {
    }
    AppUsage out[AppUsageTally::kMaxTop];
    REQUIRE(tally.top(out, AppUsageTally::kMaxTop) == AppUsageTally::kMaxTop);
    for (size_t r = 0; r < AppUsageTally::kMaxTop; ++r) {
        CAPTURE(r);
        CHECK(out[r].sessions == 100 - r);
        CHECK(out[r].name.view() == "n" + std::to_string(99 - r) + ".example");
    }
}
