#include "core/flow_key.h"

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <set>

#include "core/worker_map.h"

using namespace tandem;

namespace {
FlowTuple tcpTuple(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport) {
    FlowTuple t;
    t.src = IpAddr::fromV4(src);
    t.dst = IpAddr::fromV4(dst);
    t.sport = sport;
    t.dport = dport;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    return t;
}
FlowTuple reversed(FlowTuple t) {
    std::swap(t.src, t.dst);
    std::swap(t.sport, t.dport);
    return t;
}
}  // namespace

TEST_CASE("both directions of a flow produce the same key and hash") {
    FlowTuple fwd = tcpTuple(0x0a000001, 40000, 0x0a000102, 80);
    bool fwd_lo = false, rev_lo = false;
    FlowKey a = makeFlowKey(fwd, &fwd_lo);
    FlowKey b = makeFlowKey(reversed(fwd), &rev_lo);
    CHECK(a == b);
    CHECK(flowHash(a) == flowHash(b));
    CHECK(fwd_lo != rev_lo);
}

TEST_CASE("the lower endpoint becomes lo, ties on address broken by port") {
    FlowKey k = makeFlowKey(tcpTuple(0x0a000002, 1000, 0x0a000001, 2000));
    CHECK(k.lo == IpAddr::fromV4(0x0a000001));
    CHECK(k.lo_port == 2000);
    bool src_lo = false;
    FlowKey same = makeFlowKey(tcpTuple(0x0a000001, 3000, 0x0a000001, 2000), &src_lo);
    CHECK_FALSE(src_lo);
    CHECK(same.lo_port == 2000);
    CHECK(same.hi_port == 3000);
}

TEST_CASE("flows that differ in any field or in context get different keys") {
    FlowTuple base = tcpTuple(0x0a000001, 40000, 0x0a000102, 80);
    FlowKey k = makeFlowKey(base);
    FlowTuple t = base;
    t.sport = 40001;
    CHECK(makeFlowKey(t) != k);
    t = base;
    t.proto = kProtoUdp;
    CHECK(makeFlowKey(t) != k);
    t = base;
    t.context = 7;
    CHECK(makeFlowKey(t) != k);
    CHECK(flowHash(makeFlowKey(t)) != flowHash(k));
}

TEST_CASE("the flow hash is pinned so every node computes the same value") {
    // Directors and backup owners are chosen from this hash on every member:
    // a change here is a wire-protocol change and must bump the version.
    FlowKey k = makeFlowKey(tcpTuple(0xc0000201, 12345, 0xc6336401, 443));
    CHECK(flowHash(k) == 0xa0b8012aca7fea1fULL);
}

TEST_CASE("the flow hash spreads sequential ports evenly over buckets") {
    constexpr uint32_t kBuckets = 64;
    uint32_t counts[kBuckets] = {};
    for (uint32_t p = 0; p < 64000; ++p) {
        FlowKey k = makeFlowKey(tcpTuple(0x0a000001, uint16_t(1024 + p), 0x0a000002, 80));
        ++counts[reduceHash(flowHash(k), kBuckets)];
    }
    for (uint32_t c : counts) {
        CHECK(c > 1000 * 0.85);
        CHECK(c < 1000 * 1.15);
    }
}

TEST_CASE("reduceHash stays inside the range") {
    for (uint64_t h : {0ULL, 1ULL, ~0ULL, 0x8000000000000000ULL, 0xffffffffULL}) {
        CHECK(reduceHash(h, 7) < 7);
        CHECK(reduceHash(h, 1) == 0);
    }
}

TEST_CASE("fragments of one datagram share a fragment hash - other datagrams differ") {
    IpAddr a = IpAddr::fromV4(0x0a000001), b = IpAddr::fromV4(0x0a000002);
    CHECK(fragmentHash(a, b, 17, 77) == fragmentHash(a, b, 17, 77));
    CHECK(fragmentHash(a, b, 17, 77) != fragmentHash(a, b, 17, 78));
    CHECK(fragmentHash(a, b, 17, 77) != fragmentHash(b, a, 17, 77));
    CHECK(fragmentHash(a, b, 17, 77) != fragmentHash(a, b, 6, 77));
}

TEST_CASE("addresses order as 128-bit numbers, whichever half they differ in") {
    // Differ only in the last byte, only in the first byte, and in both halves
    // in opposite directions (the first half decides).
    const char* pairs[][2] = {{"2001:db8::1", "2001:db8::2"},
                              {"2001:db8::9", "3001:db8::1"},
                              {"2001:db8::ff", "2001:db9::1"},
                              {"::ffff:10.0.0.200", "::ffff:10.0.1.1"}};
    for (auto& p : pairs) {
        FlowTuple t;
        t.src = *parseIpAddr(p[1]);  // the higher address sends
        t.dst = *parseIpAddr(p[0]);
        t.sport = 1, t.dport = 2;
        t.proto = kProtoUdp;
        t.family = AddrFamily::v6;
        bool src_lo = true;
        FlowKey k = makeFlowKey(t, &src_lo);
        CHECK_FALSE(src_lo);
        CHECK(k.lo == *parseIpAddr(p[0]));
        CHECK(k.hi == *parseIpAddr(p[1]));
        CHECK(k.lo_port == 2);
        CHECK(k.hi_port == 1);
        bool rev_lo = false;
        CHECK(makeFlowKey(reversed(t), &rev_lo) == k);
        CHECK(rev_lo);
    }
}

TEST_CASE("the key built with its hash carries the flow hash of its bytes") {
    const char* addrs[] = {"10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8:1::7",
                           "::ffff:1.2.3.4"};
    for (const char* a : addrs) {
        for (const char* b : addrs) {
            for (uint32_t ctx : {0u, 7u, 0xfedcba98u}) {
                const IpAddr src = *parseIpAddr(a), dst = *parseIpAddr(b);
                bool lo = false;
                FlowKey k;
                const uint64_t h =
                    buildFlowKey(src, dst, 1234, 80, kProtoTcp, AddrFamily::v6, ctx, &k, &lo);
                CHECK(h == flowHash(k));
                CHECK(h == hashBytes(reinterpret_cast<const uint8_t*>(&k), sizeof k));
                FlowTuple t;
                t.src = src, t.dst = dst, t.sport = 1234, t.dport = 80;
                t.proto = kProtoTcp, t.family = AddrFamily::v6, t.context = ctx;
                CHECK(makeFlowKey(t) == k);
                CHECK(k.reserved == 0);
                CHECK(k.context == ctx);
            }
        }
    }
}

TEST_CASE("the IPv4 key builder gives the general builder's key, hash and direction") {
    std::mt19937_64 rng(42);
    // Few distinct values, so that equal addresses and equal ports (the
    // tie-breaks) come up often besides the wholly random tuples.
    auto addr = [&]() {
        static const uint32_t kSome[] = {0,          1,          0x0a000001, 0x0a000002,
                                         0x7fffffff, 0x80000000, 0xc0a80001, 0xffffffff};
        return rng() % 2 ? uint32_t(rng()) : kSome[rng() % 8];
    };
    auto port = [&]() { return uint16_t(rng() % 2 ? rng() : rng() % 4); };
    size_t src_lo = 0;
    for (int i = 0; i < 100000; ++i) {
        const uint32_t src = addr(), dst = rng() % 8 ? addr() : src;
        const uint16_t sport = port(), dport = rng() % 8 ? port() : sport;
        const uint8_t proto = uint8_t(rng() % 4 ? uint64_t(kProtoTcp) : rng());
        const uint32_t ctx = rng() % 2 ? 0 : uint32_t(rng());
        FlowKey general, v4;
        // Junk in both, so that a byte one builder leaves unwritten shows.
        std::memset(static_cast<void*>(&general), 0xa5, sizeof general);
        std::memset(static_cast<void*>(&v4), 0x5a, sizeof v4);
        bool general_lo = false, v4_lo = true;
        const uint64_t hg = buildFlowKey(IpAddr::fromV4(src), IpAddr::fromV4(dst), sport, dport,
                                         proto, AddrFamily::v4, ctx, &general, &general_lo);
        const uint64_t hv = buildFlowKeyV4(src, dst, sport, dport, proto, ctx, &v4, &v4_lo);
        INFO("tuple " << i << ": " << src << ":" << sport << " -> " << dst << ":" << dport);
        REQUIRE(std::memcmp(&general, &v4, sizeof v4) == 0);
        REQUIRE(hg == hv);
        REQUIRE(general_lo == v4_lo);
        src_lo += v4_lo;
    }
    CHECK(src_lo > 40000);
    CHECK(src_lo < 60000);
}

TEST_CASE("flows spread evenly over workers, and over each worker's whole table") {
    constexpr uint32_t kWorkers = 4, kBuckets = 1024;
    const WorkerMap map = WorkerMap::software(kWorkers);
    uint32_t per_worker[kWorkers] = {};
    uint32_t buckets_used[kWorkers][kBuckets] = {};
    // One host pair, many ports: a single busy pair of hosts still uses every worker.
    for (uint32_t i = 0; i < 40000; ++i) {
        FlowKey k = makeFlowKey(tcpTuple(0x0a000001, uint16_t(10000 + i), 0xc0a80001, 80));
        const uint32_t w = map.workerOf(k);
        REQUIRE(w < kWorkers);
        CHECK(w == map.workerOf(makeFlowKey(
                       reversed(tcpTuple(0x0a000001, uint16_t(10000 + i), 0xc0a80001, 80)))));
        ++per_worker[w];
        ++buckets_used[w][reduceHash(flowHash(k), kBuckets)];
    }
    for (uint32_t w = 0; w < kWorkers; ++w) {
        CHECK(per_worker[w] > 10000 * 0.9);
        CHECK(per_worker[w] < 10000 * 1.1);
        // Every worker's flows fill all of its table's buckets, not a quarter of them.
        uint32_t empty = 0;
        for (uint32_t c : buckets_used[w]) empty += c == 0;
        CHECK(empty < kBuckets / 100);
    }
    // The hash's high half picks the worker.
    CHECK(WorkerMap::software(3).workerOf(FlowKey{}, ~0ULL) == 2);
    CHECK(WorkerMap::software(3).workerOf(FlowKey{}, 0xffffffffULL) == 0);
}
