// FlowKey: the canonical, direction-independent identity of a session.
//
// A packet's directional 5-tuple (FlowTuple) is canonicalised by ordering its
// two endpoints: the (address, port) pair that compares lower becomes "lo".
// Both directions of a connection therefore produce the same FlowKey, and one
// session-table entry serves both. `context` separates otherwise identical
// tuples that live in different places (a zone pair, a VXLAN VNI, a GWLB
// endpoint index); it is part of the key and of the hash.
//
// flowHash() is the one hash used for table buckets, worker selection,
// director choice and backup-owner choice, so it must be identical on every
// node: it is a pure function of the key bytes (no seed, no CPU-specific
// instruction), and its value is pinned by a test.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/ip_addr.h"

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
    IpAddr lo;               ///< lower endpoint address
    IpAddr hi;               ///< higher endpoint address
    uint16_t lo_port = 0;    ///< port of the lower endpoint (host order)
    uint16_t hi_port = 0;    ///< port of the higher endpoint (host order)
    uint8_t proto = 0;       ///< IP protocol number
    AddrFamily family = AddrFamily::none;
    uint16_t reserved = 0;   ///< always zero (keeps the key free of padding)
    uint32_t context = 0;    ///< zone / VNI / endpoint context

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

/// Canonicalises a tuple. `*src_is_lo` (if given) tells whether the tuple's
/// source became the key's lo endpoint; the session table keeps this for the
/// first packet to know which direction is the original one.
/// Thread-safe, allocation-free.
inline FlowKey makeFlowKey(const FlowTuple& t, bool* src_is_lo = nullptr) {
    FlowKey k;
    int c = std::memcmp(t.src.b.data(), t.dst.b.data(), 16);
    bool src_lo = c < 0 || (c == 0 && t.sport <= t.dport);
    if (src_lo) {
        k.lo = t.src, k.hi = t.dst, k.lo_port = t.sport, k.hi_port = t.dport;
    } else {
        k.lo = t.dst, k.hi = t.src, k.lo_port = t.dport, k.hi_port = t.sport;
    }
    k.proto = t.proto;
    k.family = t.family;
    k.context = t.context;
    if (src_is_lo) *src_is_lo = src_lo;
    return k;
}

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
}  // namespace detail

/// Hashes `len` bytes (len < 2^16) with a multiply-xorshift construction.
/// Deterministic across processes and machines of the same byte order.
inline uint64_t hashBytes(const uint8_t* p, size_t len) {
    uint64_t h = 0x6a09e667f3bcc909ULL ^ (len * 0x9e3779b97f4a7c15ULL);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h ^= detail::load64(p + i) * 0x9e3779b97f4a7c15ULL;
        h = (h << 31 | h >> 33) * 0xbf58476d1ce4e5b9ULL;
    }
    uint64_t tail = 0;
    for (size_t j = 0; i + j < len; ++j) tail |= uint64_t(p[i + j]) << (8 * j);
    h ^= tail * 0x94d049bb133111ebULL;
    return detail::mix64(h);
}

/// The flow hash: same value for both directions of a flow, on every node.
inline uint64_t flowHash(const FlowKey& k) {
    return hashBytes(reinterpret_cast<const uint8_t*>(&k), sizeof(FlowKey));
}

/// The fragment-owner hash: picks the node that collects all fragments of
/// one datagram, from (source, destination, IP identification). Symmetric in
/// neither direction on purpose: fragments of one datagram share all three.
inline uint64_t fragmentHash(const IpAddr& src, const IpAddr& dst, uint32_t ip_id) {
    uint8_t buf[36];
    std::memcpy(buf, src.b.data(), 16);
    std::memcpy(buf + 16, dst.b.data(), 16);
    std::memcpy(buf + 32, &ip_id, 4);
    return hashBytes(buf, sizeof buf);
}

/// Maps a 64-bit hash onto [0, n) without division (Lemire's reduction on the
/// low 32 bits). Used for buckets and workers; n must be > 0.
inline uint32_t reduceHash(uint64_t hash, uint32_t n) {
    return uint32_t((uint64_t(uint32_t(hash)) * n) >> 32);
}

}  // namespace tandem
