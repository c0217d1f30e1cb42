// The software Toeplitz hash against DPDK's own (rte_softrss, the function
// DPDK documents as matching what devices compute), and the symmetric key:
// both directions of a flow hash alike. And the rss WorkerMap
// (core/worker_map.h) against a device as DPDK describes it: its Toeplitz
// hash, then the redirection table this node programs.
#include <doctest/doctest.h>

#include <random>

#include <rte_thash.h>

#include "core/flow_key.h"
#include "core/toeplitz.h"
#include "core/worker_map.h"

using namespace tandem;

namespace {

// DPDK's software RSS over an IPv4 4-tuple (host-order words, as
// rte_ipv4_tuple lays them out: addresses, then sport in the high half).
uint32_t dpdkRss(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, const uint8_t* key) {
    uint32_t tuple[3] = {src, dst, uint32_t(sport) << 16 | dport};
    return rte_softrss(tuple, 3, key);
}

}  // namespace

TEST_CASE("the software Toeplitz hash equals DPDK's on a million random tuples, any key") {
    std::mt19937_64 rng(11);
    alignas(4) std::array<uint8_t, kRssKeyBytes> random_key{};  // rte_softrss reads words
    for (uint8_t& b : random_key) b = uint8_t(rng());
    // The key devices ship with (Microsoft's RSS verification key).
    alignas(4) static const uint8_t kDefaultKey[kRssKeyBytes] = {
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
        0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
        0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};
    const uint8_t* keys[] = {kSymmetricRssKey.data(), random_key.data(), kDefaultKey};
    for (const uint8_t* key : keys) {
        uint32_t mismatches = 0;
        for (int i = 0; i < 1000000; ++i) {
            const uint64_t r = rng();
            const uint32_t src = uint32_t(r), dst = uint32_t(r >> 32);
            const uint32_t p = uint32_t(rng());
            const uint16_t sport = uint16_t(p), dport = uint16_t(p >> 16);
            mismatches +=
                rssHashV4(src, dst, sport, dport, key) != dpdkRss(src, dst, sport, dport, key);
        }
        CHECK(mismatches == 0);
    }
    // The published verification vector: 66.9.149.187:2794 -> 161.142.100.80:1766.
    CHECK(rssHashV4(0x420995bb, 0xa18e6450, 2794, 1766, kDefaultKey) == 0x51ccc178);
}

TEST_CASE("with the symmetric key both directions of every flow hash alike") {
    std::mt19937_64 rng(12);
    uint32_t asymmetric = 0, differs_from_default = 0;
    for (int i = 0; i < 1000000; ++i) {
        const uint64_t r = rng();
        const uint32_t a = uint32_t(r), b = uint32_t(r >> 32);
        const uint32_t p = uint32_t(rng());
        const uint16_t pa = uint16_t(p), pb = uint16_t(p >> 16);
        const uint32_t fwd = rssHashV4(a, b, pa, pb);
        asymmetric += fwd != rssHashV4(b, a, pb, pa);
        asymmetric += fwd != dpdkRss(b, a, pb, pa, kSymmetricRssKey.data());
        differs_from_default += fwd != 0;
    }
    CHECK(asymmetric == 0);
    CHECK(differs_from_default > 999000);  // a hash, not a constant
}

TEST_CASE("the symmetric key's table gives the Toeplitz hash of any input up to 36 bytes") {
    std::mt19937_64 rng(13);
    uint32_t mismatches = 0;
    for (int i = 0; i < 100000; ++i) {
        uint8_t in[36];
        for (uint8_t& b : in) b = uint8_t(rng());
        const size_t len = size_t(rng() % 37);
        mismatches += symmetricRssHash(in, len) != toeplitzHash(kSymmetricRssKey.data(), in, len);
    }
    CHECK(mismatches == 0);
}

namespace {

// An address as rte_softrss reads it: 32-bit words in host order, from the
// address's bytes in network order (what rte_thash_load_v6_addrs does).
void addressWords(const IpAddr& a, AddrFamily f, uint32_t* out, size_t* n) {
    const size_t first = f == AddrFamily::v4 ? 12 : 0;
    for (size_t i = first; i < 16; i += 4) {
        out[(*n)++] = uint32_t(a.b[i]) << 24 | uint32_t(a.b[i + 1]) << 16 |
                      uint32_t(a.b[i + 2]) << 8 | a.b[i + 3];
    }
}

// What a device programmed with the symmetric key and a table of
// `reta_size` entries, entry i -> queue i % workers, does with a packet:
// DPDK's Toeplitz over the fields it hashes (addresses, and for TCP and
// UDP the ports), then the table.
uint32_t deviceQueue(const FlowTuple& t, uint32_t reta_size, uint32_t workers) {
    uint32_t tuple[9];
    size_t n = 0;
    addressWords(t.src, t.family, tuple, &n);
    addressWords(t.dst, t.family, tuple, &n);
    if (t.proto == kProtoTcp || t.proto == kProtoUdp)
        tuple[n++] = uint32_t(t.sport) << 16 | t.dport;
    const uint32_t hash = rte_softrss(tuple, uint32_t(n), kSymmetricRssKey.data());
    return (hash % reta_size) % workers;
}

FlowTuple randomTuple(std::mt19937_64& rng) {
    static constexpr uint8_t kProtos[] = {kProtoTcp, kProtoUdp, kProtoIcmp, 47 /* GRE */};
    FlowTuple t;
    t.family = rng() % 2 ? AddrFamily::v4 : AddrFamily::v6;
    t.proto = kProtos[rng() % 4];
    if (t.family == AddrFamily::v6 && t.proto == kProtoIcmp) t.proto = kProtoIcmpV6;
    for (IpAddr* a : {&t.src, &t.dst}) {
        if (t.family == AddrFamily::v4) {
            *a = IpAddr::fromV4(uint32_t(rng()));
        } else {
            for (uint8_t& b : a->b) b = uint8_t(rng());
        }
    }
    const uint32_t p = uint32_t(rng());
    t.sport = uint16_t(p), t.dport = uint16_t(p >> 16);
    t.context = uint32_t(rng());  // devices do not see it; the map must not either
    return t;
}

FlowTuple reversedTuple(const FlowTuple& t) {
    FlowTuple r = t;
    std::swap(r.src, r.dst);
    std::swap(r.sport, r.dport);
    return r;
}

}  // namespace

TEST_CASE("the rss worker map names the queue DPDK's Toeplitz and the table give, both ways") {
    // A million random flows: IPv4 and IPv6; TCP, UDP, ICMP and GRE; either
    // endpoint first. The map works from the canonical FlowKey (endpoints in
    // sorted order), the device from the packet as it comes.
    struct Setup {
        uint32_t workers, reta_size;
    };
    const Setup setups[] = {{2, 128}, {3, 128}, {4, 512}, {7, 64}};
    std::mt19937_64 rng(14);
    uint32_t mismatches = 0, asymmetric = 0;
    uint32_t per_worker[7] = {};
    for (int i = 0; i < 1000000; ++i) {
        const Setup& s = setups[i % 4];
        const WorkerMap map = WorkerMap::rss(s.workers, s.reta_size);
        const FlowTuple t = randomTuple(rng);
        const uint32_t there = deviceQueue(t, s.reta_size, s.workers);
        const uint32_t back = deviceQueue(reversedTuple(t), s.reta_size, s.workers);
        asymmetric += there != back;
        mismatches += map.workerOf(makeFlowKey(t)) != there;
        mismatches += map.workerOf(makeFlowKey(reversedTuple(t))) != back;
        if (s.workers == 7) ++per_worker[there];
    }
    CHECK(mismatches == 0);
    CHECK(asymmetric == 0);
    for (uint32_t n : per_worker) CHECK(n > 250000 / 7 * 9 / 10);  // spread, not a constant
}

TEST_CASE("a device table that is a multiple of the map's size sends every hash alike") {
    // Ports whose tables differ in size are all programmed entry i ->
    // queueOfEntry(i): a 512-entry table then agrees with the map's 128.
    const WorkerMap map = WorkerMap::rss(3, 128);
    std::mt19937_64 rng(15);
    uint32_t mismatches = 0;
    for (int i = 0; i < 100000; ++i) {
        const uint32_t hash = uint32_t(rng());
        mismatches += map.queueOfEntry(hash % 512) != map.workerOfDeviceHash(hash);
    }
    CHECK(mismatches == 0);
}
