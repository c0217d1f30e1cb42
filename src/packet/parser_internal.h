// Pieces of the packet parser shared by its translation units
// (packet_parser.cpp, icmp.cpp, tunnel.cpp). Not part of the public API.
//
// Every function here reads the bytes frame[off, end) of one layer and never
// touches anything outside them. Offsets are from the start of the original
// frame; `end` never exceeds kMaxParsedLength, so every offset fits the
// uint16_t fields of PacketInfo.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "packet/packet_info.h"
#include "packet/packet_parser.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tandem::parse_detail {

/// Bytes of a buffer the parser looks at; anything beyond is ignored.
inline constexpr size_t kMaxParsedLength = 0xffff;

/// Longest IPv6 extension-header chain accepted before the upper layer.
inline constexpr unsigned kMaxIpv6ExtHeaders = 8;

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinq = 0x88a8;
inline constexpr uint16_t kEtherTypeTransparentBridging = 0x6558;

// IPv6 next-header values the parser knows by name.
inline constexpr uint8_t kIpv6HopByHop = 0;
inline constexpr uint8_t kIpv6Routing = 43;
inline constexpr uint8_t kIpv6Fragment = 44;
inline constexpr uint8_t kIpv6Esp = 50;
inline constexpr uint8_t kIpv6Ah = 51;
inline constexpr uint8_t kIpv6NoNext = 59;
inline constexpr uint8_t kIpv6DestOptions = 60;

/// Big-endian loads; compilers turn these into a load plus byte swap.
inline uint16_t load16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t load32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
inline uint64_t load64(const uint8_t* p) {
    return uint64_t(load32(p)) << 32 | load32(p + 4);
}

/// Writes the v4-mapped form of the 4 address bytes at `p` with one 16-byte
/// store. The key build reads addresses right back, as 8- or 16-byte loads; a
/// load that spans several narrower stores cannot be forwarded from the store
/// buffer and stalls until they reach the cache.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "storeV4Mapped assumes little-endian words");
inline void storeV4Mapped(IpAddr& a, const uint8_t* p) {
    uint32_t raw;
    std::memcpy(&raw, p, 4);
    // Bytes 8..15 are 00 00 ff ff followed by the address (little-endian word).
    const uint64_t hi = 0xffff0000ULL | uint64_t(raw) << 32;
#if defined(__SSE2__)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(a.b.data()), _mm_set_epi64x(int64_t(hi), 0));
#else
    const uint64_t w[2] = {0, hi};
    std::memcpy(a.b.data(), w, 16);
#endif
}

/// Tunnels are decapsulated only in the outermost packet.
enum class Layer : uint8_t { outer, inner };

/// Clears the PacketInfo fields that not every path writes (everything but
/// `tunnel`, `tcp`, `icmp_error` and the addresses, which are written in full
/// whenever they become valid).
inline void resetLayerFields(PacketInfo& out) {
    out.l2_len = 0;
    out.ethertype = 0;
    out.vlan_count = 0;
    out.vlan_ids[0] = 0;
    out.vlan_ids[1] = 0;
    out.family = AddrFamily::none;
    out.l3_offset = 0;
    out.l3_len = 0;
    out.ip_total_len = 0;
    out.proto = 0;
    out.ttl = 0;
    out.is_fragment = false;
    out.first_fragment = false;
    out.frag_id = 0;
    out.frag_offset = 0;
    out.more_fragments = false;
    out.has_l4 = false;
    out.l4_offset = 0;
    out.sport = 0;
    out.dport = 0;
    out.icmp_type = 0;
    out.icmp_code = 0;
    out.icmp_is_error = false;
}

/// Where an IPv6 extension-header chain ends.
struct Ipv6Chain {
    size_t upper_offset = 0;  ///< first byte after the last extension header
    uint8_t upper_proto = 0;  ///< next-header value found there
    bool has_fragment_header = false;
    bool more_fragments = false;
    uint16_t frag_offset = 0;  ///< bytes
    uint32_t frag_id = 0;
    size_t fragment_end = 0;  ///< first byte after the fragment header
};

/// Walks the extension headers that start at `off` with next-header `nh`,
/// staying inside [off, end). Stops at the first header that is not an
/// extension header (ESP and no-next-header included) or right after the
/// fragment header of a non-first fragment. Returns ok, bad_ipv6_ext_header,
/// too_many_ipv6_ext_headers or bad_ipv6_fragment.
ParseResult walkIpv6Chain(const uint8_t* frame, size_t off, size_t end, uint8_t nh,
                          Ipv6Chain& chain);

ParseResult parseEthernet(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                          Layer layer, PacketInfo& out);

/// Resets what every parse resets; returns the last offset looked at.
size_t startFrame(size_t len, PacketInfo& out);

/// parseFrame without its shortcut for untagged IPv4 without options: the
/// general path every frame could take. parseFrame must give the same result
/// and fields for every input (tests/unit/packet/packet_fast_path_test.cpp).
ParseResult parseFrameGeneral(const uint8_t* data, size_t len, const ParseOptions& opts,
                              PacketInfo& out);
ParseResult parseIpv4(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                      Layer layer, PacketInfo& out);
ParseResult parseIpv6(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                      Layer layer, PacketInfo& out);

/// Reads MSS, window scale and SACK-permitted from the `len` bytes of TCP
/// options at `p` into `tcp` (which the caller has reset). Returns false
/// when an option's length overruns them (bad_tcp_options).
bool parseTcpOptions(const uint8_t* p, size_t len, TcpInfo& tcp);

/// ICMP / ICMPv6 message at frame[off, end) (icmp.cpp).
ParseResult parseIcmpV4(const uint8_t* frame, size_t off, size_t end, PacketInfo& out);
ParseResult parseIcmpV6(const uint8_t* frame, size_t off, size_t end, PacketInfo& out);

/// Tunnel header at frame[off, end), the payload of the outer UDP datagram
/// described by `out` (tunnel.cpp). On success `out` describes the inner packet.
ParseResult parseGeneve(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                        PacketInfo& out);
ParseResult parseVxlan(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                       PacketInfo& out);

}  // namespace tandem::parse_detail
