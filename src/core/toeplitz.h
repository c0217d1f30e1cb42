// The Toeplitz hash that NICs use for receive-side scaling (RSS), computed in
// software, and the symmetric key that makes it give both directions of a
// flow the same value.
//
// A device that hashes with a key this node sets can spread flows over its
// receive queues so that both directions of each flow reach the same queue
// (and so the same worker) with no software hand-off; a node that must know
// that choice without the device (which worker holds a replica) computes the
// same function here. The input is what devices hash for TCP and UDP over
// IPv4: source address, destination address, source port, destination port,
// in network byte order (12 bytes); for IPv6 the 16-byte addresses (36).
//
// Symmetry: kSymmetricRssKey repeats one 16-bit pattern, so every 32-bit
// window of it that a bit position selects is the same for positions 16
// bits apart; swapping the addresses (32 or 128 bits each) and the ports (16
// bits each) then moves every input bit by a multiple of 16 and leaves the
// hash unchanged.
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tandem {

/// Key length devices take for Toeplitz RSS (ENA, ixgbe, i40e, mlx5: 40 bytes).
inline constexpr size_t kRssKeyBytes = 40;

/// 0x6d5a repeated: the symmetric key.
alignas(4) inline constexpr std::array<uint8_t, kRssKeyBytes> kSymmetricRssKey = [] {
    std::array<uint8_t, kRssKeyBytes> k{};
    for (size_t i = 0; i < k.size(); i += 2) k[i] = 0x6d, k[i + 1] = 0x5a;
    return k;
}();

/// Toeplitz hash of `len` bytes with `key` (at least len + 4 bytes long):
/// for each set input bit, from the first byte's top bit on, the 32 key bits
/// starting at that bit position are XORed into the result.
inline uint32_t toeplitzHash(const uint8_t* key, const uint8_t* data, size_t len) {
    uint32_t result = 0;
    // The key's 32-bit window at the current bit position, and the bits that
    // follow it, shifted in one at a time.
    uint32_t window =
        uint32_t(key[0]) << 24 | uint32_t(key[1]) << 16 | uint32_t(key[2]) << 8 | uint32_t(key[3]);
    for (size_t i = 0; i < len; ++i) {
        const uint8_t next = key[i + 4];
        for (int bit = 7; bit >= 0; --bit) {
            if (data[i] & (1u << bit)) result ^= window;
            window = window << 1 | ((next >> bit) & 1u);
        }
    }
    return result;
}

namespace detail {
// The 32 key bits from bit `bit` on (bit 0: the first byte's top bit).
constexpr uint32_t keyWindow(const std::array<uint8_t, kRssKeyBytes>& key, unsigned bit) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 5; ++i) v = v << 8 | key[bit / 8 + i];
    return uint32_t(v >> (8 - bit % 8));
}
}  // namespace detail

/// toeplitzHash with kSymmetricRssKey as one lookup per input byte: the key
/// repeats every 16 bits, so the window an input bit selects depends only
/// on the bit's place in its byte and on whether the byte's offset is even
/// or odd. kSymmetricRssTable[offset & 1][byte] is that byte's contribution.
inline constexpr std::array<std::array<uint32_t, 256>, 2> kSymmetricRssTable = [] {
    std::array<std::array<uint32_t, 256>, 2> t{};
    for (unsigned parity = 0; parity < 2; ++parity) {
        for (unsigned v = 0; v < 256; ++v) {
            uint32_t h = 0;
            for (unsigned bit = 0; bit < 8; ++bit) {
                if (v & (0x80u >> bit)) h ^= detail::keyWindow(kSymmetricRssKey, parity * 8 + bit);
            }
            t[parity][v] = h;
        }
    }
    return t;
}();

/// Equal to toeplitzHash(kSymmetricRssKey.data(), data, len) for len <= 36,
/// at a table lookup per byte. Allocation-free; any thread.
inline uint32_t symmetricRssHash(const uint8_t* data, size_t len) {
    uint32_t h = 0;
    for (size_t i = 0; i < len; ++i) h ^= kSymmetricRssTable[i & 1][data[i]];
    return h;
}

/// The RSS hash of an IPv4 TCP/UDP packet as a device computes it: addresses
/// and ports in network byte order (here given in host order).
inline uint32_t rssHashV4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                          const uint8_t* key = kSymmetricRssKey.data()) {
    const uint8_t in[12] = {uint8_t(src >> 24), uint8_t(src >> 16),  uint8_t(src >> 8),
                            uint8_t(src),       uint8_t(dst >> 24),  uint8_t(dst >> 16),
                            uint8_t(dst >> 8),  uint8_t(dst),        uint8_t(sport >> 8),
                            uint8_t(sport),     uint8_t(dport >> 8), uint8_t(dport)};
    return toeplitzHash(key, in, sizeof in);
}

}  // namespace tandem
