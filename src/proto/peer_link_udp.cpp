#include "proto/peer_link_udp.h"

#include <cstring>

#include "core/wire_bytes.h"

namespace tandem {
namespace {

constexpr uint8_t kProtoUdp = 17;
constexpr uint16_t kDontFragment = 0x4000;
constexpr uint16_t kFragmentBits = 0x3fff;  // more-fragments flag and offset

using namespace wire;

NodeId nodeOfAddress(const PeerLinkUdpLocal& local, uint32_t ip) {
    for (unsigned n = 1; n <= kMaxNodes; ++n) {
        if ((local.known_peers & (1u << (n - 1))) && local.peer_ip[n] == ip) return NodeId(n);
    }
    return kNoNode;
}

}  // namespace

uint16_t udpChecksumSum(uint32_t src, uint32_t dst, const uint8_t* udp, size_t udp_len) {
    uint32_t pseudo =
        (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + kProtoUdp + uint32_t(udp_len);
    return onesComplementSum(udp, udp_len, pseudo);
}

void encodePeerLinkUdpFrame(const PeerLinkUdpRoute& route, const PeerLinkHeader& h, uint8_t* out) {
    std::memcpy(out, route.dst_mac.data(), 6);
    std::memcpy(out + 6, route.src_mac.data(), 6);
    put16(out + 12, kEtherTypeIpv4);
    uint8_t* ip = out + 14;
    const size_t trailer = (h.flags & kPeerLinkFlagAuthenticated) ? kPeerLinkAuthTrailerSize : 0;
    const uint16_t udp_len = uint16_t(8 + kPeerLinkHeaderSize + h.payload_len + trailer);
    ip[0] = 0x45;  // version 4, 5 words, no options
    ip[1] = 0;
    put16(ip + 2, uint16_t(20 + udp_len));
    put16(ip + 4, 0);  // id: not needed for a datagram that is never fragmented (RFC 6864)
    put16(ip + 6, kDontFragment);
    ip[8] = kPeerLinkUdpTtl;
    ip[9] = kProtoUdp;
    put16(ip + 10, 0);
    put32(ip + 12, route.src.ip);
    put32(ip + 16, route.dst.ip);
    put16(ip + 10, uint16_t(~onesComplementSum(ip, 20)));
    uint8_t* udp = ip + 20;
    put16(udp, route.src.port);
    put16(udp + 2, route.dst.port);
    put16(udp + 4, udp_len);
    put16(udp + 6, 0);  // no checksum (IPv4 allows it)
    encodePeerLinkHeader(h, udp + 8);
}

PeerLinkResult decodePeerLinkUdpFrame(const uint8_t* frame, size_t len,
                                      const PeerLinkUdpLocal& local, PeerLinkHeader* h) {
    if (len < 14) return PeerLinkResult::truncated;
    if (get16(frame + 12) != kEtherTypeIpv4) return PeerLinkResult::bad_ethertype;
    if (len < kPeerLinkUdpHeadersSize) return PeerLinkResult::truncated;
    const uint8_t* ip = frame + 14;
    // Our senders never use IPv4 options: a fixed layout keeps the payload
    // at a fixed offset.
    if (ip[0] != 0x45) return PeerLinkResult::bad_ip_header;
    const uint16_t total = get16(ip + 2);
    if (total < 20 + 8 || size_t(total) > len - 14) return PeerLinkResult::bad_ip_header;
    if (get16(ip + 6) & kFragmentBits) return PeerLinkResult::ip_fragment;
    if (onesComplementSum(ip, 20) != 0xffff) return PeerLinkResult::bad_ip_checksum;
    if (ip[9] != kProtoUdp) return PeerLinkResult::not_udp;
    const uint32_t src = get32(ip + 12);
    const uint32_t dst = get32(ip + 16);
    const uint8_t* udp = ip + 20;
    if (dst != local.self.ip || get16(udp + 2) != local.self.port) {
        return PeerLinkResult::not_our_address;
    }
    const uint16_t udp_len = get16(udp + 4);
    if (udp_len != total - 20) return PeerLinkResult::bad_udp_length;
    if (get16(udp + 6) != 0 && udpChecksumSum(src, dst, udp, udp_len) != 0xffff) {
        return PeerLinkResult::bad_udp_checksum;
    }
    const NodeId sender = nodeOfAddress(local, src);
    if (sender == kNoNode || get16(udp) != local.peer_port[sender]) {
        return PeerLinkResult::unknown_source;
    }
    const PeerLinkResult r = decodePeerLinkHeader(udp + 8, size_t(udp_len) - 8, local.cluster_id,
                                                  local.node, local.known_peers, h);
    if (r != PeerLinkResult::ok) return r;
    if (h->from != sender) return PeerLinkResult::source_mismatch;
    return PeerLinkResult::ok;
}

}  // namespace tandem
