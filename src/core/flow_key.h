// FlowKey: the canonical, direction-independent identity of a session.
//
// A packet's directional 5-tuple (FlowTuple) is canonicalised by ordering its
// two endpoints: the (address, port) pair that compares lower becomes "lo".
// Both directions of a connection therefore produce the same FlowKey, and one
// session-table entry serves both. `context` separates otherwise identical
// tuples that live in different places (a zone pair, a VXLAN VNI, a GWLB
// endpoint index); it is part of the key and of the hash.
//
// flowHash() is the one hash used for table buckets, software worker
// selection (core/worker_map.h), director choice and backup-owner choice, so it must be identical
// on every node: it is a pure function of the key bytes (no seed, no CPU-specific instruction), and
// its value is pinned by a test.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/ip_addr.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tandem {

/// IANA protocol numbers the engine knows by name.
enum IpProto : uint8_t {
    kProtoIcmp = 1,
    kProtoTcp = 6,
    kProtoUdp = 17,
    kProtoIcmpV6 = 58,
};

/// A packet's 5-tuple as seen on the wire (source first). Ports are host
/// order; for ICMP echo the identifier is carried in both ports (see
/// packet/packet_info.h) so that request and reply meet in one session.
struct FlowTuple {
    IpAddr src;
    IpAddr dst;
    uint16_t sport = 0;
    uint16_t dport = 0;
    uint8_t proto = 0;
    AddrFamily family = AddrFamily::none;
    uint32_t context = 0;
};

/// Canonical key: 44 bytes, no implicit padding (hashed and compared as bytes).
struct FlowKey {
    IpAddr lo;             ///< lower endpoint address
    IpAddr hi;             ///< higher endpoint address
    uint16_t lo_port = 0;  ///< port of the lower endpoint (host order)
    uint16_t hi_port = 0;  ///< port of the higher endpoint (host order)
    uint8_t proto = 0;     ///< IP protocol number
    AddrFamily family = AddrFamily::none;
    uint16_t reserved = 0;  ///< always zero (keeps the key free of padding)
    uint32_t context = 0;   ///< zone / VNI / endpoint context

    /// Compares as five 64-bit words and one 32-bit word (inlined; no memcmp call).
    friend bool operator==(const FlowKey& a, const FlowKey& b) {
        const auto* pa = reinterpret_cast<const uint8_t*>(&a);
        const auto* pb = reinterpret_cast<const uint8_t*>(&b);
        uint64_t diff = 0;
        for (int i = 0; i < 40; i += 8) {
            uint64_t x, y;
            std::memcpy(&x, pa + i, 8);
            std::memcpy(&y, pb + i, 8);
            diff |= x ^ y;
        }
        uint32_t x4, y4;
        std::memcpy(&x4, pa + 40, 4);
        std::memcpy(&y4, pb + 40, 4);
        return (diff | (x4 ^ y4)) == 0;
    }
    friend bool operator!=(const FlowKey& a, const FlowKey& b) { return !(a == b); }
};
static_assert(sizeof(FlowKey) == 44, "FlowKey must stay 44 bytes with no padding");
static_assert(offsetof(FlowKey, lo_port) == 32 && offsetof(FlowKey, proto) == 36 &&
                  offsetof(FlowKey, family) == 37 && offsetof(FlowKey, context) == 40,
              "makeFlowKey() builds the key as words in this layout");

namespace detail {
inline uint64_t load64(const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;  // little-endian hosts only (x86-64, arm64 LE); see hashing test
}
inline uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}
inline uint64_t hashStart(size_t len) {
    return 0x6a09e667f3bcc909ULL ^ (len * 0x9e3779b97f4a7c15ULL);
}
inline uint64_t hashWord(uint64_t h, uint64_t word) {
    h ^= word * 0x9e3779b97f4a7c15ULL;
    return (h << 31 | h >> 33) * 0xbf58476d1ce4e5b9ULL;
}
inline uint64_t hashEnd(uint64_t h, uint64_t tail) {
    return mix64(h ^ tail * 0x94d049bb133111ebULL);
}

// The 44 key bytes as five little-endian 64-bit words and the last 32 bits:
// exactly what hashBytes() reads from a FlowKey.
inline uint64_t hashKeyWords(const uint64_t w[5], uint32_t last) {
    uint64_t h = hashStart(sizeof(FlowKey));
    for (int i = 0; i < 5; ++i) h = hashWord(h, w[i]);
    return hashEnd(h, last);
}

// Writes the key those words and `context` are.
inline void storeKeyWords(const uint64_t w[5], uint32_t context, FlowKey* key) {
    auto* out = reinterpret_cast<uint8_t*>(key);
#if defined(__SSE2__)
    // Addresses go out as 16-byte stores built in registers; left to itself
    // the compiler pairs the words through a stack slot and stalls on it.
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm_set_epi64x(int64_t(w[1]), int64_t(w[0])));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16),
                     _mm_set_epi64x(int64_t(w[3]), int64_t(w[2])));
#else
    std::memcpy(out, w, 32);
#endif
    std::memcpy(out + 32, &w[4], 8);
    std::memcpy(out + 40, &context, 4);
}
}  // namespace detail

/// Hashes `len` bytes (len < 2^16) with a multiply-xorshift construction.
/// Deterministic across processes and machines of the same byte order.
inline uint64_t hashBytes(const uint8_t* p, size_t len) {
    uint64_t h = detail::hashStart(len);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) h = detail::hashWord(h, detail::load64(p + i));
    uint64_t tail = 0;
    for (size_t j = 0; i + j < len; ++j) tail |= uint64_t(p[i + j]) << (8 * j);
    return detail::hashEnd(h, tail);
}

/// The flow hash: same value for both directions of a flow, on every node.
/// Equal to hashBytes() over the key's 44 bytes.
inline uint64_t flowHash(const FlowKey& k) {
    const auto* p = reinterpret_cast<const uint8_t*>(&k);
    uint64_t w[5];
    std::memcpy(w, p, 40);
    uint32_t last;
    std::memcpy(&last, p + 40, 4);
    return detail::hashKeyWords(w, last);
}

/// Canonicalises one packet's endpoints into *key and returns its flow hash
/// (== flowHash(*key)), computed from registers: reading the key back from
/// memory right after writing it would stall on store forwarding. `*src_is_lo`
/// (if given) tells whether the packet's source became the key's lo endpoint;
/// the session table keeps this for the first packet to know which direction
/// is the original one. Thread-safe, allocation-free.
inline uint64_t buildFlowKey(const IpAddr& src, const IpAddr& dst, uint16_t sport, uint16_t dport,
                             uint8_t proto, AddrFamily family, uint32_t context, FlowKey* key,
                             bool* src_is_lo) {
    // Addresses are compared as two big-endian 64-bit halves, and the
    // endpoints are then selected without a branch: which side is lower is a
    // coin toss per packet (both directions of every flow arrive), so a branch
    // here mispredicts half the time. Everything moves as 64-bit words.
    uint64_t s0, s1, d0, d1;
    std::memcpy(&s0, src.b.data(), 8);
    std::memcpy(&s1, src.b.data() + 8, 8);
    std::memcpy(&d0, dst.b.data(), 8);
    std::memcpy(&d1, dst.b.data() + 8, 8);
    const uint64_t sh = __builtin_bswap64(s0), dh = __builtin_bswap64(d0);
    const uint64_t sl = __builtin_bswap64(s1), dl = __builtin_bswap64(d1);
    const bool src_lo = (sh < dh) | ((sh == dh) & ((sl < dl) | ((sl == dl) & (sport <= dport))));
    const uint64_t m = uint64_t(0) - uint64_t(src_lo);
    const uint32_t pm = uint32_t(m);
    const uint64_t lo_port = ((sport & pm) | (dport & ~pm)) & 0xffff;
    const uint64_t hi_port = ((dport & pm) | (sport & ~pm)) & 0xffff;
    // FlowKey's bytes: lo, hi, lo_port, hi_port, proto, family, reserved, context.
    const uint64_t w[5] = {(s0 & m) | (d0 & ~m), (s1 & m) | (d1 & ~m), (d0 & m) | (s0 & ~m),
                           (d1 & m) | (s1 & ~m),
                           lo_port | hi_port << 16 | uint64_t(proto) << 32 |
                               uint64_t(static_cast<uint8_t>(family)) << 40};
    detail::storeKeyWords(w, context, key);
    if (src_is_lo) *src_is_lo = src_lo;
    return detail::hashKeyWords(w, context);
}

/// buildFlowKey() for two IPv4 addresses (host order, 10.0.0.1 == 0x0a000001):
/// the same key (family v4, addresses v4-mapped) and the same hash, bit for
/// bit, with less work. The first twelve bytes of a v4-mapped address are
/// the same for every address, so only the last four are compared and
/// moved, and the hash's words of zeros are constants. Thread-safe,
/// allocation-free.
inline uint64_t buildFlowKeyV4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                               uint8_t proto, uint32_t context, FlowKey* key, bool* src_is_lo) {
    const bool src_lo = (src < dst) | ((src == dst) & (sport <= dport));
    const uint32_t m = uint32_t(0) - uint32_t(src_lo);
    const uint32_t lo = (src & m) | (dst & ~m), hi = (dst & m) | (src & ~m);
    const uint64_t lo_port = ((sport & m) | (dport & ~m)) & 0xffff;
    const uint64_t hi_port = ((dport & m) | (sport & ~m)) & 0xffff;
    // Bytes 8..15 of a v4-mapped address: 00 00 ff ff, then the address in
    // network order (a little-endian word).
    const uint64_t w[5] = {0, 0xffff0000ULL | uint64_t(__builtin_bswap32(lo)) << 32, 0,
                           0xffff0000ULL | uint64_t(__builtin_bswap32(hi)) << 32,
                           lo_port | hi_port << 16 | uint64_t(proto) << 32 |
                               uint64_t(static_cast<uint8_t>(AddrFamily::v4)) << 40};
    detail::storeKeyWords(w, context, key);
    if (src_is_lo) *src_is_lo = src_lo;
    return detail::hashKeyWords(w, context);
}

/// Canonicalises a tuple (see buildFlowKey). Thread-safe, allocation-free.
inline FlowKey makeFlowKey(const FlowTuple& t, bool* src_is_lo = nullptr) {
    FlowKey k;
    buildFlowKey(t.src, t.dst, t.sport, t.dport, t.proto, t.family, t.context, &k, src_is_lo);
    return k;
}

/// The fragment-owner hash: picks the node that collects all fragments of
/// one datagram, from (source, destination, protocol, IP identification), the
/// fields that name a datagram for reassembly. Symmetric in neither direction
/// on purpose: fragments of one datagram share all four.
inline uint64_t fragmentHash(const IpAddr& src, const IpAddr& dst, uint8_t proto, uint32_t ip_id) {
    uint8_t buf[37];
    std::memcpy(buf, src.b.data(), 16);
    std::memcpy(buf + 16, dst.b.data(), 16);
    std::memcpy(buf + 32, &ip_id, 4);
    buf[36] = proto;
    return hashBytes(buf, sizeof buf);
}

/// Maps a 64-bit hash onto [0, n) without division (Lemire's reduction on the
/// low 32 bits). Used for buckets; n must be > 0.
inline uint32_t reduceHash(uint64_t hash, uint32_t n) {
    return uint32_t((uint64_t(uint32_t(hash)) * n) >> 32);
}

}  // namespace tandem
