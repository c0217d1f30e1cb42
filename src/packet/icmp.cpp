// ICMP and ICMPv6: queries become a flow keyed by their identifier, errors
// carry the tuple of the packet they are about.
#include "packet/parser_internal.h"

namespace tandem::parse_detail {
namespace {

/// ICMPv4 queries that carry an identifier at bytes 4-5 and are answered by a
/// reply with the same identifier: echo, timestamp, information, address mask
/// (RFC 792, RFC 950).
inline bool isIcmpV4Query(uint8_t type) {
    switch (type) {
        case 0:   // echo reply
        case 8:   // echo request
        case 13:  // timestamp request
        case 14:  // timestamp reply
        case 15:  // information request
        case 16:  // information reply
        case 17:  // address mask request
        case 18:  // address mask reply
            return true;
        default:
            return false;
    }
}

/// Destination unreachable, source quench, redirect, time exceeded,
/// parameter problem: each embeds the offending IP header + 8 bytes.
inline bool isIcmpV4Error(uint8_t type) {
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

inline bool isIcmpV6Echo(uint8_t type) {
    return type == 128 || type == 129;
}

/// Destination unreachable, packet too big, time exceeded, parameter problem.
inline bool isIcmpV6Error(uint8_t type) {
    return type >= 1 && type <= 4;
}

/// Ports of the embedded packet's transport header, of which only the first
/// 8 bytes are guaranteed to be quoted. An ICMP error quoting an ICMP error
/// is never sent by a conforming stack (RFC 1122 3.2.2, RFC 4443 2.4), so it
/// is rejected rather than followed.
ParseResult embeddedPorts(const uint8_t* p, size_t len, FlowTuple& t) {
    const bool v4 = t.family == AddrFamily::v4;
    switch (t.proto) {
        case kProtoTcp:
        case kProtoUdp:
            if (len < 8) return ParseResult::bad_icmp_embedded;
            t.sport = load16(p);
            t.dport = load16(p + 2);
            return ParseResult::ok;
        case kProtoIcmp:
        case kProtoIcmpV6: {
            if (v4 != (t.proto == kProtoIcmp)) return ParseResult::ok;
            if (len < 8) return ParseResult::bad_icmp_embedded;
            const uint8_t type = p[0];
            if (v4 ? isIcmpV4Error(type) : isIcmpV6Error(type))
                return ParseResult::bad_icmp_embedded;
            if (v4 ? isIcmpV4Query(type) : isIcmpV6Echo(type)) {
                t.sport = load16(p + 4);
                t.dport = t.sport;
            }
            return ParseResult::ok;
        }
        default:
            return ParseResult::ok;
    }
}

/// The quoted IPv4 packet. Its total length is not checked against what is
/// present: the quote is normally cut after 8 bytes of transport header.
ParseResult parseEmbeddedV4(const uint8_t* p, size_t len, FlowTuple& t) {
    if (len < 20 || (p[0] >> 4) != 4) return ParseResult::bad_icmp_embedded;
    const size_t hdr_len = size_t(p[0] & 0x0f) * 4;
    if (hdr_len < 20 || hdr_len > len) return ParseResult::bad_icmp_embedded;
    t.src = IpAddr::fromV4Bytes(p + 12);
    t.dst = IpAddr::fromV4Bytes(p + 16);
    t.proto = p[9];
    t.family = AddrFamily::v4;
    t.context = 0;
    t.sport = 0;
    t.dport = 0;
    // A quoted non-first fragment has no transport header to read.
    if ((load16(p + 6) & 0x1fff) != 0) return ParseResult::ok;
    return embeddedPorts(p + hdr_len, len - hdr_len, t);
}

ParseResult parseEmbeddedV6(const uint8_t* p, size_t len, FlowTuple& t) {
    if (len < 40 || (p[0] >> 4) != 6) return ParseResult::bad_icmp_embedded;
    t.src = IpAddr::fromV6Bytes(p + 8);
    t.dst = IpAddr::fromV6Bytes(p + 24);
    t.family = AddrFamily::v6;
    t.context = 0;
    t.sport = 0;
    t.dport = 0;
    Ipv6Chain chain;
    if (walkIpv6Chain(p, 40, len, p[6], chain) != ParseResult::ok)
        return ParseResult::bad_icmp_embedded;
    t.proto = chain.upper_proto;
    if (chain.has_fragment_header && chain.frag_offset != 0) return ParseResult::ok;
    return embeddedPorts(p + chain.upper_offset, len - chain.upper_offset, t);
}

// ICMP and ICMPv6 share their layout: type, code, checksum, then an
// identifier (queries) or the quoted packet (errors) after 8 bytes.
template <bool (*IsQuery)(uint8_t), bool (*IsError)(uint8_t),
          ParseResult (*ParseEmbedded)(const uint8_t*, size_t, FlowTuple&)>
ParseResult parseIcmpCommon(const uint8_t* frame, size_t off, size_t end, PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 8) return ParseResult::truncated_icmp;
    const uint8_t* p = frame + off;
    const uint8_t type = p[0];
    out.icmp_type = type;
    out.icmp_code = p[1];
    if (IsQuery(type)) {
        out.sport = load16(p + 4);
        out.dport = out.sport;
    } else if (IsError(type)) {
        out.icmp_is_error = true;
        const ParseResult r = ParseEmbedded(p + 8, avail - 8, out.icmp_error.inner);
        if (r != ParseResult::ok) return r;
    }
    out.has_l4 = true;
    return ParseResult::ok;
}

}  // namespace

ParseResult parseIcmpV4(const uint8_t* frame, size_t off, size_t end, PacketInfo& out) {
    return parseIcmpCommon<isIcmpV4Query, isIcmpV4Error, parseEmbeddedV4>(frame, off, end, out);
}

ParseResult parseIcmpV6(const uint8_t* frame, size_t off, size_t end, PacketInfo& out) {
    return parseIcmpCommon<isIcmpV6Echo, isIcmpV6Error, parseEmbeddedV6>(frame, off, end, out);
}

}  // namespace tandem::parse_detail
