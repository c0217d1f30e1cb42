// Session keeps its FlowKey in pieces over its two lines (see session.h):
// the pieces must give back the key exactly, and hasKey() must tell every
// key apart that operator== tells apart, IPv6 keys differing only in the
// address bytes kept on line 2 included.
#include "session/session_table.h"

#include <doctest/doctest.h>

#include <random>
#include <vector>

using namespace tandem;

namespace {

FlowKey v4Key(uint32_t a, uint32_t b, uint16_t sp, uint16_t dp, uint8_t proto, uint32_t ctx) {
    FlowTuple t;
    t.src = IpAddr::fromV4(a);
    t.dst = IpAddr::fromV4(b);
    t.sport = sp;
    t.dport = dp;
    t.proto = proto;
    t.family = AddrFamily::v4;
    t.context = ctx;
    return makeFlowKey(t);
}

FlowKey v6Key(std::mt19937_64& rng) {
    uint8_t a[16], b[16];
    for (auto& x : a) x = uint8_t(rng());
    for (auto& x : b) x = uint8_t(rng());
    FlowTuple t;
    t.src = IpAddr::fromV6Bytes(a);
    t.dst = IpAddr::fromV6Bytes(b);
    t.sport = uint16_t(rng());
    t.dport = uint16_t(rng());
    t.proto = kProtoUdp;
    t.family = AddrFamily::v6;
    t.context = uint32_t(rng());
    return makeFlowKey(t);
}

}  // namespace

TEST_CASE("a session gives back the key it was given, IPv4 and IPv6") {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 1000; ++i) {
        const FlowKey k = i % 2 ? v6Key(rng)
                                : v4Key(uint32_t(rng()), uint32_t(rng()), uint16_t(rng()),
                                        uint16_t(rng()), uint8_t(rng()), uint32_t(rng()));
        Session s;
        s.setKey(k);
        CHECK(s.key() == k);
        CHECK(s.hasKey(k));
        CHECK(s.key_proto == k.proto);
        CHECK(s.key_family == k.family);
    }
}

TEST_CASE("hasKey tells apart keys differing in any one byte of any field") {
    std::mt19937_64 rng(11);
    const FlowKey base4 = v4Key(0x0a000001, 0xc0a80001, 40000, 443, kProtoTcp, 7);
    const FlowKey base6 = v6Key(rng);
    for (const FlowKey& base : {base4, base6}) {
        Session s;
        s.setKey(base);
        // Every byte of the key except the reserved pair (always zero).
        for (size_t off = 0; off < sizeof(FlowKey); ++off) {
            if (off == offsetof(FlowKey, reserved) || off == offsetof(FlowKey, reserved) + 1)
                continue;
            // An IPv4 key's address heads are fixed (v4-mapped): changing one
            // makes a key no parser or decoder produces, so only IPv6 varies them.
            const bool head = off % 16 < 12 && off < 32;
            if (base.family == AddrFamily::v4 && head) continue;
            FlowKey other = base;
            reinterpret_cast<uint8_t*>(&other)[off] ^= 0x01;
            INFO("family " << int(base.family) << " byte " << off);
            CHECK_FALSE(s.hasKey(other));
        }
    }
}

TEST_CASE("IPv6 flows that differ only in the first twelve bytes of an address are two sessions") {
    // Same last four address bytes, ports, protocol and context: line 1 of
    // both entries is identical, so only the heads on line 2 tell them apart.
    uint8_t a1[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1};
    uint8_t a2[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 9, 0, 0, 0, 0, 10, 0, 0, 1};
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2};
    auto key = [&](const uint8_t* src) {
        FlowTuple t;
        t.src = IpAddr::fromV6Bytes(src);
        t.dst = IpAddr::fromV6Bytes(b);
        t.sport = 5000;
        t.dport = 53;
        t.proto = kProtoUdp;
        t.family = AddrFamily::v6;
        return makeFlowKey(t);
    };
    const FlowKey k1 = key(a1), k2 = key(a2);
    SessionTable table(16, 0);
    uint32_t i1, i2;
    REQUIRE(table.insert(k1, flowHash(k1), 1000, &i1) == SessionTable::InsertResult::inserted);
    REQUIRE(table.insert(k2, flowHash(k2), 1000, &i2) == SessionTable::InsertResult::inserted);
    CHECK(i1 != i2);
    CHECK(table.find(k1, flowHash(k1)) == i1);
    CHECK(table.find(k2, flowHash(k2)) == i2);
    // The staged lookup finds each with its own hash even when handed the
    // other's candidate (same tail, different heads).
    CHECK(table.confirm(k1, flowHash(k1), i2) == i1);
    CHECK(table.confirm(k2, flowHash(k2), i1) == i2);
}

TEST_CASE("the table keeps each entry's hash and NAT binding beside it") {
    SessionTable table(64, 0);
    const FlowKey k = v4Key(0x0a000001, 0xc0a80001, 40000, 443, kProtoTcp, 0);
    uint32_t i;
    REQUIRE(table.insert(k, flowHash(k), 1000, &i) == SessionTable::InsertResult::inserted);
    CHECK(table.hashOf(i) == flowHash(k));
    CHECK(table.nat(i).kind == 0);
    table.nat(i) = NatBinding{0x0b000001, 40000, 1, 0};
    table.erase(i);
    // A new session in the same entry starts without the old binding.
    const FlowKey k2 = v4Key(0x0a000002, 0xc0a80001, 40000, 443, kProtoTcp, 0);
    uint32_t j;
    REQUIRE(table.insert(k2, flowHash(k2), 1000, &j) == SessionTable::InsertResult::inserted);
    CHECK(j == i);
    CHECK(table.nat(j).kind == 0);
    CHECK(table.nat(j).addr == 0);
    CHECK(table.hashOf(j) == flowHash(k2));
}

TEST_CASE("entries are line-aligned so a lookup of an IPv4 flow reads one entry line") {
    SessionTable table(1000, 0);
    for (uint32_t n = 0; n < 1000; ++n) {
        const FlowKey k = v4Key(0x0a000000 + n, 0xc0a80001, 1024, 443, kProtoTcp, 0);
        uint32_t i;
        REQUIRE(table.insert(k, flowHash(k), 1000, &i) == SessionTable::InsertResult::inserted);
        CHECK(reinterpret_cast<uintptr_t>(&table.at(i)) % 64 == 0);
    }
}

TEST_CASE("flows whose hashes share the bucket signature and home bucket are told apart") {
    // A bucket slot keeps 16 bits of the hash (bits 32..47); two flows agreeing
    // there and in the home bucket make the lookup's candidate step pick the
    // wrong entry for one of them, and the key compare must recover. With a
    // capacity of 2 the table has 2 buckets, chosen by the hash's bit 31.
    auto slotBits = [](uint64_t h) {
        return uint32_t(uint16_t(h >> 32)) << 1 | uint32_t(h >> 31 & 1);
    };
    std::vector<int> first(1u << 17, -1);
    FlowKey k1{}, k2{};
    bool found = false;
    for (uint32_t n = 0; n < 2000000 && !found; ++n) {
        const FlowKey k = v4Key(0x0a000000 + n, 0xc0a80001, 1024, 443, kProtoTcp, 0);
        int& seen = first[slotBits(flowHash(k))];
        if (seen < 0) {
            seen = int(n);
            continue;
        }
        k1 = v4Key(0x0a000000 + uint32_t(seen), 0xc0a80001, 1024, 443, kProtoTcp, 0);
        k2 = k;
        found = true;
    }
    REQUIRE(found);
    REQUIRE(slotBits(flowHash(k1)) == slotBits(flowHash(k2)));
    for (const bool first_in : {true, false}) {
        SessionTable table(2, 0);
        const FlowKey& a = first_in ? k1 : k2;
        const FlowKey& b = first_in ? k2 : k1;
        uint32_t ia, ib;
        REQUIRE(table.insert(a, flowHash(a), 1000, &ia) == SessionTable::InsertResult::inserted);
        CHECK(table.find(b, flowHash(b)) == SessionTable::kNoEntry);
        REQUIRE(table.insert(b, flowHash(b), 1000, &ib) == SessionTable::InsertResult::inserted);
        CHECK(table.find(a, flowHash(a)) == ia);
        CHECK(table.find(b, flowHash(b)) == ib);
        // The staged lookup: the candidate is the first match in the bucket.
        CHECK(table.confirm(b, flowHash(b), table.candidate(flowHash(b))) == ib);
        CHECK(table.confirm(a, flowHash(a), table.candidate(flowHash(a))) == ia);
        table.erase(ia);
        CHECK(table.find(b, flowHash(b)) == ib);
        CHECK(table.find(a, flowHash(a)) == SessionTable::kNoEntry);
    }
}

TEST_CASE("a session's counters carry from their low parts in line 1 to line 2") {
    Session s;
    // Packets: the low 8 bits wrap every 256 packets.
    for (uint32_t n = 1; n <= 1000; ++n) {
        s.count(0, 60);
        REQUIRE(s.packets(0) == n);
        REQUIRE(s.bytes(0) == uint64_t(n) * 60);
    }
    CHECK(s.packets(1) == 0);
    CHECK(s.bytes(1) == 0);
    // Bytes: the low 32 bits wrap every 4 GiB.
    s.setCounts(1, 255, 0xffffff00u);
    s.count(1, 0x200);
    CHECK(s.packets(1) == 256);
    CHECK(s.bytes(1) == 0xffffff00u + 0x200ull);
    s.count(1, 0xffff);
    CHECK(s.bytes(1) == 0xffffff00u + 0x200ull + 0xffff);
    // Every width round-trips through setCounts().
    for (int bit = 0; bit < 64; ++bit) {
        const uint64_t v = uint64_t(1) << bit, w = v | (v - 1);
        s.setCounts(0, v, w);
        CHECK(s.packets(0) == v);
        CHECK(s.bytes(0) == w);
    }
    s.setCounts(1, UINT64_MAX, UINT64_MAX);
    CHECK(s.packets(1) == UINT64_MAX);
    CHECK(s.bytes(1) == UINT64_MAX);
    s.count(1, 1);  // wraps to zero, as a 64-bit counter does
    CHECK(s.packets(1) == 0);
    CHECK(s.bytes(1) == 0);
}
