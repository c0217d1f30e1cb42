// The software Toeplitz hash against DPDK's own (rte_softrss, the function
// DPDK documents as matching what devices compute), and the symmetric key:
// both directions of a flow hash alike.
#include <doctest/doctest.h>

#include <random>

#include <rte_thash.h>

#include "core/toeplitz.h"

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
