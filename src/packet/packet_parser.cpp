// Ethernet / VLAN, IPv4, IPv6 and TCP / UDP parsing, and the two entry points.
// ICMP lives in icmp.cpp, GENEVE and VXLAN in tunnel.cpp; see README.md for
// the decisions behind the checks.
#include "packet/packet_parser.h"

#include "packet/parser_internal.h"

namespace tandem {
namespace parse_detail {

// A known option with the wrong length is ignored, as the endpoints
// themselves ignore it.
bool parseTcpOptions(const uint8_t* p, size_t len, TcpInfo& tcp) {
    size_t i = 0;
    while (i < len) {
        const uint8_t kind = p[i];
        if (kind == 0) return true;
        if (kind == 1) {
            ++i;
            continue;
        }
        if (len - i < 2) return false;
        const size_t opt_len = p[i + 1];
        if (opt_len < 2 || opt_len > len - i) return false;
        switch (kind) {
            case 2:
                if (opt_len == 4) tcp.mss = load16(p + i + 2);
                break;
            case 3:
                // RFC 7323 2.3: a shift above 14 is used as 14.
                if (opt_len == 3) tcp.wscale = p[i + 2] > 14 ? 14 : p[i + 2];
                break;
            case 4:
                if (opt_len == 2) tcp.sack_permitted = true;
                break;
            default:
                break;
        }
        i += opt_len;
    }
    return true;
}

namespace {

/// IPv4 options are type-length-value except EOL (0) and NOP (1); a length
/// below 2 or past the header end is malformed.
bool ipv4OptionsValid(const uint8_t* p, size_t len) {
    size_t i = 0;
    while (i < len) {
        const uint8_t type = p[i];
        if (type == 0) return true;
        if (type == 1) {
            ++i;
            continue;
        }
        if (len - i < 2) return false;
        const size_t opt_len = p[i + 1];
        if (opt_len < 2 || opt_len > len - i) return false;
        i += opt_len;
    }
    return true;
}

/// Options of a hop-by-hop or destination-options header: Pad1 is one byte,
/// every other option is type-length-value and must stay inside the header.
bool ipv6OptionsValid(const uint8_t* p, size_t len) {
    size_t i = 0;
    while (i < len) {
        if (p[i] == 0) {
            ++i;
            continue;
        }
        if (len - i < 2) return false;
        const size_t opt_len = size_t(p[i + 1]) + 2;
        if (opt_len > len - i) return false;
        i += opt_len;
    }
    return true;
}

inline ParseResult parseTcp(const uint8_t* frame, size_t off, size_t end, PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 20) [[unlikely]]
        return ParseResult::truncated_tcp;
    const uint8_t* t = frame + off;
    const size_t data_offset = size_t(t[12] >> 4) * 4;
    if (data_offset < 20 || data_offset > avail) [[unlikely]]
        return ParseResult::bad_tcp_data_offset;
    out.sport = load16(t);
    out.dport = load16(t + 2);
    TcpInfo& tcp = out.tcp;
    tcp.seq = load32(t + 4);
    tcp.ack = load32(t + 8);
    tcp.flags = t[13];
    tcp.window = load16(t + 14);
    tcp.wscale = 0xff;
    tcp.sack_permitted = false;
    tcp.mss = 0;
    tcp.payload_len = uint16_t(avail - data_offset);
    if (data_offset > 20 && !parseTcpOptions(t + 20, data_offset - 20, tcp)) [[unlikely]]
        return ParseResult::bad_tcp_options;
    out.has_l4 = true;
    return ParseResult::ok;
}

inline ParseResult parseUdp(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                            Layer layer, PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 8) [[unlikely]]
        return ParseResult::truncated_udp;
    const uint8_t* u = frame + off;
    out.sport = load16(u);
    out.dport = load16(u + 2);
    const size_t udp_len = load16(u + 4);
    // A first fragment holds only the start of the datagram its length describes.
    if (udp_len < 8 || (udp_len > avail && !out.first_fragment)) [[unlikely]]
        return ParseResult::bad_udp_length;
    out.has_l4 = true;
    if (layer == Layer::outer && !out.is_fragment) {
        if (out.dport == opts.geneve_port && opts.geneve_port != 0)
            return parseGeneve(frame, off + 8, off + udp_len, opts, out);
        if (out.dport == opts.vxlan_port && opts.vxlan_port != 0)
            return parseVxlan(frame, off + 8, off + udp_len, opts, out);
    }
    return ParseResult::ok;
}

/// Dispatches on out.proto; protocols without a parsed header leave has_l4 false.
inline ParseResult parseL4(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                           Layer layer, PacketInfo& out) {
    switch (out.proto) {
        case kProtoTcp:
            return parseTcp(frame, off, end, out);
        case kProtoUdp:
            return parseUdp(frame, off, end, opts, layer, out);
        case kProtoIcmp:
            if (out.family == AddrFamily::v4) return parseIcmpV4(frame, off, end, out);
            break;
        case kProtoIcmpV6:
            if (out.family == AddrFamily::v6) return parseIcmpV6(frame, off, end, out);
            break;
        default:
            break;
    }
    return ParseResult::ok;
}

/// What parseIpv4 records of a header it has checked.
inline void setIpv4Fields(const uint8_t* ip, size_t off, size_t hdr_len, size_t total_len,
                          PacketInfo& out) {
    out.family = AddrFamily::v4;
    out.l3_offset = uint16_t(off);
    out.l3_len = uint16_t(hdr_len);
    out.ip_total_len = uint16_t(total_len);
    storeV4Mapped(out.src, ip + 12);
    storeV4Mapped(out.dst, ip + 16);
    out.proto = ip[9];
    out.ttl = ip[8];
    out.l4_offset = uint16_t(off + hdr_len);
}

}  // namespace

ParseResult walkIpv6Chain(const uint8_t* frame, size_t off, size_t end, uint8_t nh,
                          Ipv6Chain& chain) {
    size_t pos = off;
    unsigned count = 0;
    chain.has_fragment_header = false;
    for (;;) {
        if (nh != kIpv6HopByHop && nh != kIpv6Routing && nh != kIpv6Fragment &&
            nh != kIpv6DestOptions && nh != kIpv6Ah)
            break;
        if (++count > kMaxIpv6ExtHeaders) return ParseResult::too_many_ipv6_ext_headers;
        const size_t left = end - pos;
        const uint8_t* h = frame + pos;
        size_t hdr_len;
        if (nh == kIpv6Fragment) {
            if (left < 8) return ParseResult::bad_ipv6_ext_header;
            if (chain.has_fragment_header) return ParseResult::bad_ipv6_fragment;
            const uint16_t off_flags = load16(h + 2);
            chain.has_fragment_header = true;
            chain.frag_offset = off_flags & 0xfff8;
            chain.more_fragments = (off_flags & 1) != 0;
            chain.frag_id = load32(h + 4);
            chain.fragment_end = pos + 8;
            if (chain.frag_offset != 0) {
                // Later fragments carry the rest of the chain and the upper
                // layer only in reassembled form.
                chain.upper_offset = pos + 8;
                chain.upper_proto = h[0];
                return ParseResult::ok;
            }
            hdr_len = 8;
        } else {
            if (left < 2) return ParseResult::bad_ipv6_ext_header;
            if (nh == kIpv6Ah) {
                hdr_len = (size_t(h[1]) + 2) * 4;
                if (hdr_len < 12) return ParseResult::bad_ipv6_ext_header;
            } else {
                // RFC 8200 4.1: hop-by-hop options only right after the IPv6 header.
                if (nh == kIpv6HopByHop && count != 1) return ParseResult::bad_ipv6_ext_header;
                hdr_len = (size_t(h[1]) + 1) * 8;
            }
            if (hdr_len > left) return ParseResult::bad_ipv6_ext_header;
            if ((nh == kIpv6HopByHop || nh == kIpv6DestOptions) &&
                !ipv6OptionsValid(h + 2, hdr_len - 2))
                return ParseResult::bad_ipv6_ext_header;
        }
        nh = h[0];
        pos += hdr_len;
    }
    chain.upper_offset = pos;
    chain.upper_proto = nh;
    return ParseResult::ok;
}

ParseResult parseIpv4(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                      Layer layer, PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 20) [[unlikely]]
        return ParseResult::truncated_ipv4;
    const uint8_t* ip = frame + off;
    if ((ip[0] >> 4) != 4) [[unlikely]]
        return ParseResult::bad_ipv4_version;
    const size_t hdr_len = size_t(ip[0] & 0x0f) * 4;
    if (hdr_len < 20 || hdr_len > avail) [[unlikely]]
        return ParseResult::bad_ipv4_ihl;
    const size_t total_len = load16(ip + 2);
    if (total_len < hdr_len || total_len > avail) [[unlikely]]
        return ParseResult::bad_ipv4_total_length;
    if (hdr_len > 20 && !ipv4OptionsValid(ip + 20, hdr_len - 20)) [[unlikely]]
        return ParseResult::bad_ipv4_options;

    setIpv4Fields(ip, off, hdr_len, total_len, out);

    const uint16_t frag = load16(ip + 6);
    if ((frag & 0x3fff) != 0) [[unlikely]] {
        const size_t frag_offset = size_t(frag & 0x1fff) * 8;
        const size_t payload = total_len - hdr_len;
        const bool more = (frag & 0x2000) != 0;
        out.is_fragment = true;
        out.first_fragment = frag_offset == 0;
        out.more_fragments = more;
        out.frag_offset = uint16_t(frag_offset);
        out.frag_len = uint16_t(payload);
        out.frag_id = load16(ip + 4);
        // RFC 791: every fragment but the last carries a multiple of 8 bytes,
        // and the datagram may not exceed 65535 bytes (no "ping of death").
        if (more && (payload == 0 || payload % 8 != 0)) return ParseResult::bad_ipv4_fragment;
        if (frag_offset + payload > 0xffff) return ParseResult::bad_ipv4_fragment;
        // RFC 1858: a TCP fragment at offset 8 could overwrite the flags.
        if (frag_offset == 8 && out.proto == kProtoTcp) return ParseResult::bad_ipv4_fragment;
        if (frag_offset != 0) return ParseResult::ok;
    }
    return parseL4(frame, off + hdr_len, off + total_len, opts, layer, out);
}

ParseResult parseIpv6(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                      Layer layer, PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 40) [[unlikely]]
        return ParseResult::truncated_ipv6;
    const uint8_t* ip = frame + off;
    if ((ip[0] >> 4) != 6) [[unlikely]]
        return ParseResult::bad_ipv6_version;
    const size_t total_len = 40 + size_t(load16(ip + 4));
    if (total_len > avail) [[unlikely]]
        return ParseResult::bad_ipv6_payload_length;

    out.family = AddrFamily::v6;
    out.l3_offset = uint16_t(off);
    out.ip_total_len = uint16_t(total_len);
    out.src = IpAddr::fromV6Bytes(ip + 8);
    out.dst = IpAddr::fromV6Bytes(ip + 24);
    out.ttl = ip[7];

    const size_t ip_end = off + total_len;
    size_t upper = off + 40;
    uint8_t proto = ip[6];
    if (proto != kProtoTcp && proto != kProtoUdp) [[unlikely]] {
        Ipv6Chain chain;
        const ParseResult r = walkIpv6Chain(frame, upper, ip_end, proto, chain);
        if (r != ParseResult::ok) return r;
        upper = chain.upper_offset;
        proto = chain.upper_proto;
        if (chain.has_fragment_header) {
            const size_t payload = ip_end - chain.fragment_end;
            out.is_fragment = chain.frag_offset != 0 || chain.more_fragments;
            out.first_fragment = chain.frag_offset == 0 && chain.more_fragments;
            out.more_fragments = chain.more_fragments;
            out.frag_offset = chain.frag_offset;
            out.frag_len = uint16_t(payload);
            out.frag_id = chain.frag_id;
            out.proto = proto;
            out.l3_len = uint16_t(upper - off);
            out.l4_offset = uint16_t(upper);
            if (chain.more_fragments && (payload == 0 || payload % 8 != 0))
                return ParseResult::bad_ipv6_fragment;
            if (chain.frag_offset + payload > 0xffff) return ParseResult::bad_ipv6_fragment;
            if (chain.frag_offset != 0) return ParseResult::ok;
        }
    }
    out.proto = proto;
    out.l3_len = uint16_t(upper - off);
    out.l4_offset = uint16_t(upper);
    return parseL4(frame, upper, ip_end, opts, layer, out);
}

ParseResult parseEthernet(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                          Layer layer, PacketInfo& out) {
    if (end - off < 14) [[unlikely]]
        return ParseResult::truncated_l2;
    size_t type_at = off + 12;
    uint16_t ethertype = load16(frame + type_at);
    if (ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinq) [[unlikely]] {
        do {
            if (out.vlan_count == 2) return ParseResult::too_many_vlans;
            // The tag's TCI plus the EtherType that follows it.
            if (end - type_at < 6) return ParseResult::truncated_l2;
            out.vlan_ids[out.vlan_count++] = load16(frame + type_at + 2) & 0x0fff;
            type_at += 4;
            ethertype = load16(frame + type_at);
        } while (ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinq);
    }
    const size_t l3 = type_at + 2;
    out.l2_len = uint16_t(l3 - off);
    out.ethertype = ethertype;
    if (ethertype == kEtherTypeIpv4) [[likely]]
        return parseIpv4(frame, l3, end, opts, layer, out);
    if (ethertype == kEtherTypeIpv6) return parseIpv6(frame, l3, end, opts, layer, out);
    return ParseResult::non_ip;
}

}  // namespace parse_detail

namespace parse_detail {

size_t startFrame(size_t len, PacketInfo& out) {
    resetLayerFields(out);
    out.tunnel.kind = TunnelKind::none;
    out.tunnel.has_gwlb_options = false;
    return len < kMaxParsedLength ? len : kMaxParsedLength;
}

ParseResult parseFrameGeneral(const uint8_t* data, size_t len, const ParseOptions& opts,
                              PacketInfo& out) {
    return parseEthernet(data, 0, startFrame(len, out), opts, Layer::outer, out);
}

}  // namespace parse_detail

ParseResult parseFrame(const uint8_t* data, size_t len, const ParseOptions& opts, PacketInfo& out) {
    using namespace parse_detail;
    const size_t end = startFrame(len, out);
    // The frame nearly every packet is: untagged Ethernet, IPv4 without
    // options, not a fragment. For it, parseEthernet and parseIpv4 would
    // make exactly these checks and record exactly these fields before
    // handing the upper layer to parseL4; doing it here saves their calls
    // and branches (~30 % of the parse). Anything else, including a bad
    // total length, takes the general path and its named reason.
    constexpr size_t kL3 = 14, kL4 = kL3 + 20;
    if (end >= kL4 && load16(data + 12) == kEtherTypeIpv4 && data[kL3] == 0x45 &&
        (load16(data + kL3 + 6) & 0x3fff) == 0) [[likely]] {
        const size_t total_len = load16(data + kL3 + 2);
        if (total_len >= 20 && total_len <= end - kL3) [[likely]] {
            out.l2_len = kL3;
            out.ethertype = kEtherTypeIpv4;
            setIpv4Fields(data + kL3, kL3, 20, total_len, out);
            return parseL4(data, kL4, kL3 + total_len, opts, Layer::outer, out);
        }
    }
    return parseEthernet(data, 0, end, opts, Layer::outer, out);
}

ParseResult parseIpPacket(const uint8_t* data, size_t len, const ParseOptions& opts,
                          PacketInfo& out) {
    using namespace parse_detail;
    const size_t end = startFrame(len, out);
    if (end != 0 && (data[0] >> 4) == 6) {
        out.ethertype = kEtherTypeIpv6;
        return parseIpv6(data, 0, end, opts, Layer::outer, out);
    }
    out.ethertype = kEtherTypeIpv4;
    return parseIpv4(data, 0, end, opts, Layer::outer, out);
}

}  // namespace tandem
