// PacketInfo: what the parser learned about one frame, as offsets and values.
//
// The parser (packet_parser.h) fills it from a plain byte buffer; nothing here
// points into DPDK. Offsets are from the start of the frame. When the frame is
// a tunnel the firewall terminates (GENEVE from a Gateway Load Balancer, or
// VXLAN), `tunnel` describes the outer encapsulation and every other field
// describes the inner packet that the firewall inspects.
#pragma once

#include <cstdint>

#include "core/counters.h"
#include "core/flow_key.h"
#include "core/ip_addr.h"

namespace tandem {

/// Outcome of parsing one frame. `ok` and the `non_ip` pass-through are the
/// only non-error results; each error is a drop reason with its own counter.
/// `nested_tunnel` is reserved: the parser decapsulates one level only and
/// inspects a tunnel inside the inner packet as plain UDP.
#define TANDEM_PARSE_RESULTS(X)                                                         \
    X(ok, "parsed")                                                                     \
    X(non_ip, "not IP (ARP, LLDP, ...): passed through without inspection")             \
    X(truncated_l2, "frame shorter than its Ethernet / VLAN headers")                   \
    X(too_many_vlans, "more than two VLAN tags")                                        \
    X(truncated_ipv4, "IPv4 header truncated")                                          \
    X(bad_ipv4_version, "IPv4 version field is not 4")                                  \
    X(bad_ipv4_ihl, "IPv4 IHL below 5 or beyond the frame")                             \
    X(bad_ipv4_total_length, "IPv4 total length smaller than header or beyond frame")   \
    X(bad_ipv4_options, "IPv4 option overruns the header")                              \
    X(bad_ipv4_fragment, "IPv4 fragment offset/length inconsistent")                    \
    X(truncated_ipv6, "IPv6 header truncated")                                          \
    X(bad_ipv6_version, "IPv6 version field is not 6")                                  \
    X(bad_ipv6_payload_length, "IPv6 payload length beyond frame")                      \
    X(bad_ipv6_ext_header, "IPv6 extension header truncated or overruns")               \
    X(too_many_ipv6_ext_headers, "IPv6 extension header chain too long")                \
    X(bad_ipv6_fragment, "IPv6 fragment header inconsistent")                           \
    X(truncated_tcp, "TCP header truncated")                                            \
    X(bad_tcp_data_offset, "TCP data offset below 5 or beyond the packet")              \
    X(bad_tcp_options, "TCP option overruns the header")                                \
    X(truncated_udp, "UDP header truncated")                                            \
    X(bad_udp_length, "UDP length smaller than header or beyond packet")                \
    X(truncated_icmp, "ICMP header truncated")                                          \
    X(bad_icmp_embedded, "ICMP error's embedded packet is malformed")                   \
    X(truncated_geneve, "GENEVE header truncated")                                      \
    X(bad_geneve_version, "GENEVE version is not 0")                                    \
    X(bad_geneve_options, "GENEVE option length overruns the header")                   \
    X(bad_geneve_protocol, "GENEVE protocol type is not IPv4/IPv6/Ethernet")            \
    X(missing_gwlb_options, "GENEVE from a load balancer lacks a mandatory AWS option") \
    X(truncated_vxlan, "VXLAN header truncated")                                        \
    X(bad_vxlan_flags, "VXLAN I flag not set")                                          \
    X(nested_tunnel, "tunnel inside a tunnel")

TANDEM_COUNTER_ENUM(ParseResult, TANDEM_PARSE_RESULTS)

/// Stable name of a parse result ("bad_ipv4_ihl"), used in counters and logs.
inline const char* parseResultName(ParseResult r) {
    return kParseResultInfo[static_cast<size_t>(r)].name.data();
}

enum class TunnelKind : uint8_t { none, geneve, vxlan };

/// GENEVE option class used by AWS Gateway Load Balancer.
inline constexpr uint16_t kGwlbOptionClass = 0x0108;

/// Valid when kind != none (the parser clears kind and has_gwlb_options on
/// every call and writes the rest when it finds a tunnel).
struct TunnelInfo {
    TunnelKind kind = TunnelKind::none;
    uint16_t outer_l3_offset = 0;   ///< outer IP header
    uint16_t outer_l4_offset = 0;   ///< outer UDP header
    uint16_t header_offset = 0;     ///< GENEVE / VXLAN header
    uint16_t header_length = 0;     ///< GENEVE incl. options, or 8 for VXLAN
    uint16_t inner_offset = 0;      ///< first byte of the inner packet/frame
    uint16_t geneve_protocol = 0;   ///< GENEVE protocol type (0x0800, 0x86DD, 0x6558)
    uint32_t vni = 0;               ///< 24-bit VNI (GENEVE or VXLAN)
    bool has_gwlb_options = false;  ///< all three AWS options present
    // Each GWLB value is read big-endian into host order; 0 when its option is absent.
    uint64_t gwlb_endpoint_id = 0;    ///< option type 1 (8 bytes)
    uint64_t gwlb_attachment_id = 0;  ///< option type 2 (8 bytes)
    uint32_t gwlb_flow_cookie = 0;    ///< option type 3 (4 bytes)
};

/// TCP flag bits as on the wire.
enum TcpFlag : uint8_t {
    kTcpFin = 0x01,
    kTcpSyn = 0x02,
    kTcpRst = 0x04,
    kTcpPsh = 0x08,
    kTcpAck = 0x10,
    kTcpUrg = 0x20,
    kTcpEce = 0x40,
    kTcpCwr = 0x80,
};

/// Valid when PacketInfo::has_l4 and proto is TCP; not cleared otherwise.
struct TcpInfo {
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint16_t window = 0;    ///< raw window field (unscaled)
    uint8_t flags = 0;      ///< TcpFlag bits
    uint8_t wscale = 0xff;  ///< window-scale shift (capped at 14), 0xff when absent
    bool sack_permitted = false;
    uint16_t payload_len = 0;  ///< TCP payload bytes
    uint16_t mss = 0;          ///< MSS option value, 0 when absent
};

/// For ICMP/ICMPv6 errors: the packet the error is about, as a tuple in the
/// direction it was originally sent (so its key is the original session's).
/// `inner.context` is left 0: the caller sets it as for the packet's own tuple.
struct IcmpErrorInfo {
    FlowTuple inner;
};

struct PacketInfo {
    // Layer 2. In a tunnel: the inner Ethernet frame (l2_len 0 and no VLANs
    // when GENEVE carries a bare IP packet).
    uint16_t l2_len = 0;     ///< Ethernet + VLAN tags
    uint16_t ethertype = 0;  ///< after VLAN tags
    uint8_t vlan_count = 0;
    uint16_t vlan_ids[2] = {0, 0};  ///< outer first (12-bit VID)

    // Layer 3
    AddrFamily family = AddrFamily::none;
    uint16_t l3_offset = 0;
    uint16_t l3_len = 0;        ///< IP header incl. options / extension headers
    uint16_t ip_total_len = 0;  ///< bytes of IP datagram (header + payload)
    IpAddr src;
    IpAddr dst;
    uint8_t proto = 0;  ///< upper-layer protocol (after IPv6 ext. headers)
    uint8_t ttl = 0;    ///< TTL / hop limit

    // Fragments: fragments after the first carry no L4 header.
    bool is_fragment = false;
    bool first_fragment = false;  ///< offset 0 with more-fragments set
    uint32_t frag_id = 0;         ///< IPv4 ident or IPv6 fragment ident
    uint16_t frag_offset = 0;     ///< in bytes
    uint16_t frag_len = 0;        ///< bytes of the datagram this fragment carries
    bool more_fragments = false;

    // Layer 4 (valid when has_l4)
    bool has_l4 = false;
    uint16_t l4_offset = 0;
    uint16_t sport = 0;  ///< host order; ICMP echo: identifier
    uint16_t dport = 0;  ///< host order; ICMP echo: identifier
    TcpInfo tcp;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    bool icmp_is_error = false;  ///< dest-unreachable, time-exceeded, ...
    IcmpErrorInfo icmp_error;    ///< valid when icmp_is_error

    TunnelInfo tunnel;

    /// Directional tuple of this packet (or of the inner packet in a tunnel).
    FlowTuple tuple(uint32_t context) const {
        FlowTuple t;
        t.src = src;
        t.dst = dst;
        t.sport = sport;
        t.dport = dport;
        t.proto = proto;
        t.family = family;
        t.context = context;
        return t;
    }
};

}  // namespace tandem
