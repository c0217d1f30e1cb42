#include "session/session_table.h"

#include <doctest/doctest.h>

#include <map>
#include <random>
#include <vector>

using namespace tandem;

namespace {

FlowTuple tuple(uint32_t n) {
    FlowTuple t;
    t.src = IpAddr::fromV4(0x0a000000 | (n >> 16));
    t.dst = IpAddr::fromV4(0xc0a80001);
    t.sport = uint16_t(n);
    t.dport = 443;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    return t;
}

FlowTuple reversed(FlowTuple t) {
    std::swap(t.src, t.dst);
    std::swap(t.sport, t.dport);
    return t;
}

uint32_t insertFlow(SessionTable& table, uint32_t n, uint32_t expires_ms) {
    FlowKey k = makeFlowKey(tuple(n));
    uint32_t idx = SessionTable::kNoEntry;
    auto r = table.insert(k, flowHash(k), expires_ms, &idx);
    REQUIRE(r == SessionTable::InsertResult::inserted);
    return idx;
}

uint32_t findFlow(const SessionTable& table, const FlowTuple& t) {
    FlowKey k = makeFlowKey(t);
    return table.find(k, flowHash(k));
}

}  // namespace

TEST_CASE("an inserted session is found from both directions") {
    SessionTable table(1024, 0);
    uint32_t idx = insertFlow(table, 7, 1000);
    CHECK(findFlow(table, tuple(7)) == idx);
    CHECK(findFlow(table, reversed(tuple(7))) == idx);
    CHECK(findFlow(table, tuple(8)) == SessionTable::kNoEntry);
    CHECK(table.size() == 1);
}

TEST_CASE("inserting an existing key returns the existing entry") {
    SessionTable table(16, 0);
    uint32_t idx = insertFlow(table, 1, 1000);
    FlowKey k = makeFlowKey(reversed(tuple(1)));
    uint32_t again = 0;
    CHECK(table.insert(k, flowHash(k), 1000, &again) == SessionTable::InsertResult::exists);
    CHECK(again == idx);
    CHECK(table.size() == 1);
}

TEST_CASE("a full table refuses new sessions and keeps the old ones") {
    SessionTable table(100, 0);
    for (uint32_t n = 0; n < 100; ++n) insertFlow(table, n, 1000);
    FlowKey k = makeFlowKey(tuple(100));
    uint32_t idx = 0;
    CHECK(table.insert(k, flowHash(k), 1000, &idx) == SessionTable::InsertResult::full);
    CHECK(table.size() == 100);
    for (uint32_t n = 0; n < 100; ++n) CHECK(findFlow(table, tuple(n)) != SessionTable::kNoEntry);
}

TEST_CASE("an erased session is gone and its slot is reused") {
    SessionTable table(8, 0);
    for (uint32_t n = 0; n < 8; ++n) insertFlow(table, n, 1000);
    uint32_t idx = findFlow(table, tuple(3));
    table.erase(idx);
    CHECK(findFlow(table, tuple(3)) == SessionTable::kNoEntry);
    CHECK_FALSE(table.inUse(idx));
    CHECK(insertFlow(table, 99, 1000) == idx);
}

TEST_CASE("random inserts and erases agree with a reference map at high load") {
    // A small table at full load forces long probe chains across buckets, the
    // case where overflow counting must be exactly right.
    constexpr uint32_t kCap = 2000;
    SessionTable table(kCap, 0);
    std::map<uint32_t, uint32_t> ref;     // flow number -> index
    std::vector<bool> used(kCap, false);  // indices of ref's entries
    std::mt19937 rng(12345);
    for (int step = 0; step < 200000; ++step) {
        uint32_t n = rng() % 5000;
        FlowKey k = makeFlowKey(tuple(n));
        uint64_t h = flowHash(k);
        auto it = ref.find(n);
        if (it != ref.end() && rng() % 2) {
            table.erase(it->second);
            used[it->second] = false;
            ref.erase(it);
        } else if (it == ref.end()) {
            uint32_t idx = 0;
            auto r = table.insert(k, h, 1000, &idx);
            if (ref.size() < kCap) {
                REQUIRE(r == SessionTable::InsertResult::inserted);
                REQUIRE(idx < kCap);
                REQUIRE_FALSE(used[idx]);  // no index is handed out twice
                used[idx] = true;
                ref[n] = idx;
            } else {
                REQUIRE(r == SessionTable::InsertResult::full);
            }
        }
        if (step % 997 == 0) {
            for (uint32_t m = 0; m < 5000; ++m) {
                FlowKey km = makeFlowKey(tuple(m));
                const uint64_t hm = flowHash(km);
                auto found = table.find(km, hm);
                auto r = ref.find(m);
                REQUIRE(found == (r == ref.end() ? SessionTable::kNoEntry : r->second));
                // The staged lookup the pipeline runs finds the same.
                REQUIRE(table.confirm(km, hm, table.candidate(hm)) == found);
            }
        }
    }
    CHECK(table.size() == ref.size());
}

TEST_CASE("a burst lookup returns what single lookups return") {
    SessionTable table(4096, 0);
    for (uint32_t n = 0; n < 3000; ++n) insertFlow(table, n, 1000);
    std::vector<FlowKey> keys;
    std::vector<uint64_t> hashes;
    for (uint32_t n = 2900; n < 3100; ++n) {  // 100 present, 100 absent
        keys.push_back(makeFlowKey(n % 2 ? reversed(tuple(n)) : tuple(n)));
        hashes.push_back(flowHash(keys.back()));
    }
    std::vector<const FlowKey*> ptrs;
    for (auto& k : keys) ptrs.push_back(&k);
    std::vector<uint32_t> out(keys.size());
    table.findBurst(ptrs.data(), hashes.data(), uint32_t(keys.size()), out.data());
    for (size_t i = 0; i < keys.size(); ++i) {
        CHECK(out[i] == table.find(keys[i], hashes[i]));
        CHECK((out[i] != SessionTable::kNoEntry) == (i < 100));
    }
}

TEST_CASE("sessions expire after their timeout and not before") {
    SessionTable table(64, 0);
    uint32_t a = insertFlow(table, 1, 1000);
    uint32_t b = insertFlow(table, 2, 5000);
    std::vector<uint32_t> expired;
    auto collect = [&](uint32_t i, const Session&) { expired.push_back(i); };
    CHECK(table.expire(900, 100, collect) == 0);
    CHECK(table.expire(1100, 100, collect) == 1);
    REQUIRE(expired.size() == 1);
    CHECK(expired[0] == a);
    CHECK(table.inUse(b));
    CHECK(table.expire(5200, 100, collect) == 1);
    CHECK(table.size() == 0);
}

TEST_CASE("refreshing a session postpones its expiry without touching the wheel") {
    SessionTable table(64, 0);
    uint32_t a = insertFlow(table, 1, 1000);
    table.at(a).expires_ms = 3000;  // what a packet does
    auto none = [](uint32_t, const Session&) { FAIL("expired too early"); };
    CHECK(table.expire(2000, 100, none) == 0);
    CHECK(table.inUse(a));
    uint32_t n = 0;
    CHECK(table.expire(3100, 100, [&](uint32_t, const Session&) { ++n; }) == 1);
    CHECK(n == 1);
}

TEST_CASE("an expiry moved earlier takes effect at the new time, not the old one") {
    SessionTable table(64, 0);
    const uint32_t far = 3600 * 1000;  // an established connection's hour
    uint32_t a = insertFlow(table, 1, far);
    uint32_t b = insertFlow(table, 2, far);
    table.expireEarlier(a, 10000);
    table.expireEarlier(b, far + 5000);  // later: not an earlier expiry, ignored
    CHECK(table.at(b).expires_ms == far);
    std::vector<uint32_t> expired;
    auto collect = [&](uint32_t i, const Session&) { expired.push_back(i); };
    CHECK(table.expire(9000, 1000, collect) == 0);
    CHECK(table.expire(10100, 1000, collect) == 1);
    REQUIRE(expired.size() == 1);
    CHECK(expired[0] == a);
    CHECK(table.inUse(b));
}

TEST_CASE("timeouts beyond the wheel's horizon are honoured") {
    SessionTable table(64, 0);
    const uint32_t far = 3600 * 1000;  // one hour, > 262 s horizon
    uint32_t a = insertFlow(table, 1, far);
    uint32_t expired = 0;
    for (uint32_t t = 0; t < far - 1000; t += 50000) {
        expired += table.expire(t, 1000, [](uint32_t, const Session&) {});
    }
    CHECK(expired == 0);
    CHECK(table.inUse(a));
    CHECK(table.expire(far + 100, 1000, [](uint32_t, const Session&) {}) == 1);
}

TEST_CASE("expiry does bounded work per call and resumes where it stopped") {
    SessionTable table(1000, 0);
    for (uint32_t n = 0; n < 1000; ++n) insertFlow(table, n, 100);
    uint32_t total = 0, calls = 0;
    while (table.size() > 0) {
        uint32_t e = table.expire(200, 64, [](uint32_t, const Session&) {});
        CHECK(e <= 64);
        total += e;
        ++calls;
        REQUIRE(calls < 100);
    }
    CHECK(total == 1000);
    CHECK(calls >= 1000 / 64);
}

TEST_CASE("the clock wrapping around 2^32 ms does not expire sessions early") {
    const uint32_t start = 0xffffff00u;
    SessionTable table(16, start);
    uint32_t a = insertFlow(table, 1, start + 1000);  // wraps past zero
    CHECK(table.expire(start + 500, 100, [](uint32_t, const Session&) {}) == 0);
    CHECK(table.inUse(a));
    CHECK(table.expire(start + 1100, 100, [](uint32_t, const Session&) {}) == 1);
}

TEST_CASE("scan visits every live session exactly once in bounded steps") {
    SessionTable table(500, 0);
    for (uint32_t n = 0; n < 300; ++n) insertFlow(table, n, 1000);
    table.erase(findFlow(table, tuple(10)));
    uint32_t seen = 0, from = 0;
    while (from < table.capacity())
        from = table.scan(from, 64, [&](uint32_t, const Session&) { ++seen; });
    CHECK(seen == 299);
}

TEST_CASE("a session costs at most 192 bytes including the index") {
    SessionTable table(1u << 16, 0);
    CHECK(double(table.memoryBytes()) / table.capacity() <= 192.0);
}

TEST_CASE("per-owner counts follow inserts, owner changes and erases, including expiry") {
    SessionTable table(64, 0);
    Session a;
    a.setKey(makeFlowKey(tuple(1)));
    a.owner = 1;
    a.expires_ms = 100;
    Session b = a;
    b.setKey(makeFlowKey(tuple(2)));
    b.owner = 2;
    b.expires_ms = 100000;
    uint32_t ia, ib;
    REQUIRE(table.insert(a, flowHash(a.key()), &ia) == SessionTable::InsertResult::inserted);
    REQUIRE(table.insert(b, flowHash(b.key()), &ib) == SessionTable::InsertResult::inserted);
    CHECK(table.ownerCount(1) == 1);
    CHECK(table.ownerCount(2) == 1);
    table.setOwner(ib, 1);
    CHECK(table.at(ib).owner == 1);
    CHECK(table.ownerCount(1) == 2);
    CHECK(table.ownerCount(2) == 0);
    CHECK(table.expire(1000, 1000, [](uint32_t, Session&) {}) == 1);  // a is due
    CHECK(table.ownerCount(1) == 1);
    table.erase(ib);
    CHECK(table.ownerCount(1) == 0);
    uint32_t sum = 0;
    for (NodeId n = 0; n <= kMaxNodes; ++n) sum += table.ownerCount(n);
    CHECK(sum == table.size());
}
