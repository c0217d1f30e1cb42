// The frame nearly every packet of an established connection is, parsed
// inline: untagged Ethernet, IPv4 with IHL 5 that is not a fragment, and a
// TCP header whose data offset fits the packet.
//
// parseFrame() takes 30-odd instructions more for the same frame: a call,
// the reset of every field some other path leaves unwritten, the dispatch on
// the upper protocol and a second call for TCP. Here the fields are written
// once, in order, by the caller's own code (Pipeline::classify). The result
// is the same in every field parseFrame() defines, so a caller may use one or
// the other; anything that is not such a frame (a VLAN tag, IPv6, options in
// the IPv4 header, a fragment, UDP, ICMP, a length out of range, TCP options
// that overrun their header) is left to parseFrame(), which names what is
// wrong with it. tests/unit/packet/plain_tcp_parser_test.cpp holds the two
// to that.
//
// A pure function of the buffer: no allocation, nothing read outside
// [data, data + len); any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/packet_info.h"
#include "packet/parser_internal.h"

namespace tandem {

/// Parses `data` (`len` bytes) when it is a plain Ethernet / IPv4 / TCP frame
/// (see above) and returns true: `out` then holds exactly what parseFrame()
/// would write for it, which would return ParseResult::ok (whatever the
/// ParseOptions: they concern UDP only). Returns false for any other frame,
/// with `out` partly written: the caller parses it with parseFrame().
inline bool parsePlainTcp(const uint8_t* data, size_t len, PacketInfo& out) {
    using namespace parse_detail;
    constexpr size_t kL3 = 14, kL4 = kL3 + 20;
    if (len < kL4 + 20 || load16(data + 12) != kEtherTypeIpv4) return false;
    const uint8_t* ip = data + kL3;
    const size_t end = len < kMaxParsedLength ? len : kMaxParsedLength;
    const size_t total_len = load16(ip + 2);
    if (ip[0] != 0x45 || ip[9] != kProtoTcp || (load16(ip + 6) & 0x3fff) != 0 || total_len < 40 ||
        total_len > end - kL3)
        return false;
    const uint8_t* t = data + kL4;
    const size_t data_offset = size_t(t[12] >> 4) * 4;
    if (data_offset < 20 || data_offset > total_len - 20) return false;

    out.l2_len = kL3;
    out.ethertype = kEtherTypeIpv4;
    out.vlan_count = 0;
    out.vlan_ids[0] = 0;
    out.vlan_ids[1] = 0;
    out.family = AddrFamily::v4;
    out.l3_offset = kL3;
    out.l3_len = 20;
    out.ip_total_len = uint16_t(total_len);
    storeV4Mapped(out.src, ip + 12);
    storeV4Mapped(out.dst, ip + 16);
    out.proto = kProtoTcp;
    out.ttl = ip[8];
    out.is_fragment = false;
    out.first_fragment = false;
    out.frag_id = 0;
    out.frag_offset = 0;
    out.more_fragments = false;
    out.l4_offset = kL4;
    out.sport = load16(t);
    out.dport = load16(t + 2);
    out.icmp_type = 0;
    out.icmp_code = 0;
    out.icmp_is_error = false;
    out.tunnel.kind = TunnelKind::none;
    out.tunnel.has_gwlb_options = false;
    TcpInfo& tcp = out.tcp;
    tcp.seq = load32(t + 4);
    tcp.ack = load32(t + 8);
    tcp.window = load16(t + 14);
    tcp.flags = t[13];
    tcp.wscale = 0xff;
    tcp.sack_permitted = false;
    tcp.payload_len = uint16_t(total_len - 20 - data_offset);
    tcp.mss = 0;
    if (data_offset > 20 && !parseTcpOptions(t + 20, data_offset - 20, tcp)) [[unlikely]]
        return false;
    out.has_l4 = true;
    return true;
}

}  // namespace tandem
