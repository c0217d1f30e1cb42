// GENEVE (RFC 8926) from an AWS Gateway Load Balancer, and VXLAN (RFC 7348).
// The tunnel header fills out.tunnel; the inner packet then replaces every
// other field of `out`, with offsets still counted from the outer frame.
#include "packet/parser_internal.h"

namespace tandem::parse_detail {
namespace {

// GWLB option types within class kGwlbOptionClass, and their value sizes.
constexpr uint8_t kGwlbEndpointId = 1;
constexpr uint8_t kGwlbAttachmentId = 2;
constexpr uint8_t kGwlbFlowCookie = 3;

/// Fills the fields every tunnel kind shares. Must run before the inner
/// packet resets the layer fields, as it reads the outer offsets from them.
void beginTunnel(TunnelKind kind, size_t header_off, size_t header_len, PacketInfo& out) {
    TunnelInfo& t = out.tunnel;
    t.kind = kind;
    t.outer_l3_offset = out.l3_offset;
    t.outer_l4_offset = out.l4_offset;
    t.header_offset = uint16_t(header_off);
    t.header_length = uint16_t(header_len);
    t.inner_offset = uint16_t(header_off + header_len);
}

}  // namespace

ParseResult parseGeneve(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                        PacketInfo& out) {
    const size_t avail = end - off;
    if (avail < 8) return ParseResult::truncated_geneve;
    const uint8_t* g = frame + off;
    if ((g[0] >> 6) != 0) return ParseResult::bad_geneve_version;
    const size_t header_len = 8 + size_t(g[0] & 0x3f) * 4;
    if (header_len > avail) return ParseResult::truncated_geneve;

    TunnelInfo& t = out.tunnel;
    t.gwlb_endpoint_id = 0;
    t.gwlb_attachment_id = 0;
    t.gwlb_flow_cookie = 0;
    unsigned seen = 0;
    // Options and the option area are whole 4-byte words, so at least one
    // option header (4 bytes) remains whenever pos < header_len.
    for (size_t pos = 8; pos < header_len;) {
        const uint8_t* o = g + pos;
        const size_t opt_len = 4 + size_t(o[3] & 0x1f) * 4;
        if (opt_len > header_len - pos) return ParseResult::bad_geneve_options;
        if (load16(o) == kGwlbOptionClass) {
            switch (o[2]) {
                case kGwlbEndpointId:
                    if (opt_len != 12) return ParseResult::bad_geneve_options;
                    t.gwlb_endpoint_id = load64(o + 4);
                    seen |= 1;
                    break;
                case kGwlbAttachmentId:
                    if (opt_len != 12) return ParseResult::bad_geneve_options;
                    t.gwlb_attachment_id = load64(o + 4);
                    seen |= 2;
                    break;
                case kGwlbFlowCookie:
                    if (opt_len != 8) return ParseResult::bad_geneve_options;
                    t.gwlb_flow_cookie = load32(o + 4);
                    seen |= 4;
                    break;
                default:
                    break;
            }
        }
        pos += opt_len;
    }
    t.has_gwlb_options = seen == 7;

    const uint16_t protocol = load16(g + 2);
    if (protocol != kEtherTypeIpv4 && protocol != kEtherTypeIpv6 &&
        protocol != kEtherTypeTransparentBridging)
        return ParseResult::bad_geneve_protocol;
    if (opts.require_gwlb_options && !t.has_gwlb_options) return ParseResult::missing_gwlb_options;

    beginTunnel(TunnelKind::geneve, off, header_len, out);
    t.geneve_protocol = protocol;
    t.vni = load32(g + 4) >> 8;

    const size_t inner = off + header_len;
    resetLayerFields(out);
    switch (protocol) {
        case kEtherTypeIpv4:
            out.ethertype = protocol;
            return parseIpv4(frame, inner, end, opts, Layer::inner, out);
        case kEtherTypeIpv6:
            out.ethertype = protocol;
            return parseIpv6(frame, inner, end, opts, Layer::inner, out);
        default:
            return parseEthernet(frame, inner, end, opts, Layer::inner, out);
    }
}

ParseResult parseVxlan(const uint8_t* frame, size_t off, size_t end, const ParseOptions& opts,
                       PacketInfo& out) {
    if (end - off < 8) return ParseResult::truncated_vxlan;
    const uint8_t* v = frame + off;
    if ((v[0] & 0x08) == 0) return ParseResult::bad_vxlan_flags;

    beginTunnel(TunnelKind::vxlan, off, 8, out);
    TunnelInfo& t = out.tunnel;
    t.geneve_protocol = 0;
    t.vni = load32(v + 4) >> 8;
    t.has_gwlb_options = false;
    t.gwlb_endpoint_id = 0;
    t.gwlb_attachment_id = 0;
    t.gwlb_flow_cookie = 0;

    resetLayerFields(out);
    return parseEthernet(frame, off + 8, end, opts, Layer::inner, out);
}

}  // namespace tandem::parse_detail
