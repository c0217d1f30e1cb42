// The udp transport of the peer link: the 16-byte peer-link header
// (proto/peer_link.h) and its payload inside Ethernet / IPv4 / UDP, for
// networks that carry only IP (EC2). One header, two transports.
//
//   Ethernet (dst = next hop's MAC: the peer, or the peer-link gateway;
//             src = this node's peer-link port; EtherType 0x0800)
//   IPv4     (20 bytes, no options; DF set, id 0, TTL 64, protocol 17,
//             header checksum filled; src = peer-link-listen IP, dst = the
//             peer's link-address IP)
//   UDP      (src port = the sender's own peer-link-listen port, dst port =
//             the peer's link-address port; checksum 0, which IPv4 allows:
//             the inner frame carries its own checksums)
//   PeerLinkHeader (16 bytes) + payload (the whole original frame, or a
//             PeerLinkHeartbeat)
// Overhead 58 bytes (14 + 20 + 8 + 16) on top of the inner frame.
//
// The receiver checks the IPv4 header (version, no options, lengths, not a
// fragment, checksum), that it is UDP to its own listen address and port,
// the UDP length, the UDP checksum when it is not 0, that the source address
// and port are a configured peer's link-address (a node sends from its own
// peer-link-listen port), then the peer-link header as the raw transport
// does, and finally that the header's from-node is the node of the source
// address. The frame's authenticity is checked after this, by the
// authentication trailer (proto/peer_link_auth.h).
//
// Addresses are IPv4 in host order here; every function is pure,
// allocation-free and never reads past the buffer it is given.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/checksum.h"
#include "proto/peer_link.h"

namespace tandem {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr size_t kPeerLinkUdpHeadersSize = 14 + 20 + 8;
inline constexpr size_t kPeerLinkUdpOverhead = kPeerLinkUdpHeadersSize + kPeerLinkHeaderSize;
inline constexpr uint8_t kPeerLinkUdpTtl = 64;

/// An IPv4 address (host order) and UDP port.
struct UdpEndpoint {
    uint32_t ip = 0;
    uint16_t port = 0;
};

/// Where one peer-link datagram goes: Ethernet addresses of this hop, and
/// the IPv4/UDP endpoints.
struct PeerLinkUdpRoute {
    std::array<uint8_t, 6> dst_mac{};  ///< the next hop: the peer, or the gateway
    std::array<uint8_t, 6> src_mac{};  ///< this node's peer-link port
    UdpEndpoint src;                   ///< this node's peer-link-listen
    UdpEndpoint dst;                   ///< the peer's link-address
};

/// What a receiver accepts: its own address, cluster and node id, and the
/// configured peers (bit n-1 of known_peers for node n, peer_ip and
/// peer_port by node id).
struct PeerLinkUdpLocal {
    UdpEndpoint self;
    uint16_t cluster_id = 0;
    NodeId node = kNoNode;
    uint16_t known_peers = 0;
    std::array<uint32_t, kMaxNodes + 1> peer_ip{};
    std::array<uint16_t, kMaxNodes + 1> peer_port{};  ///< the UDP port each peer sends from
};

/// Writes Ethernet + IPv4 + UDP + the peer-link header (kPeerLinkUdpOverhead
/// bytes) at `out` for a datagram whose payload (after the header) is
/// h.payload_len bytes, plus the authentication trailer when h.flags
/// announces one. The IPv4 checksum is filled, the UDP checksum is 0.
void encodePeerLinkUdpFrame(const PeerLinkUdpRoute& route, const PeerLinkHeader& h, uint8_t* out);

/// Checks a whole frame of `len` bytes received on a udp peer link (an
/// Ethernet frame that is not ARP). On ok, *h is the header, *from_ip the
/// source address, and the payload (h->payload_len bytes) starts at
/// frame + kPeerLinkUdpOverhead. Any other result names the first check
/// that failed; *h is then partly filled at most.
PeerLinkResult decodePeerLinkUdpFrame(const uint8_t* frame, size_t len,
                                      const PeerLinkUdpLocal& local, PeerLinkHeader* h);

/// The UDP checksum (RFC 768) of a datagram of `udp_len` bytes at `udp`
/// between `src` and `dst` (host order), with the checksum field taken as
/// it is: 0xffff when a filled-in checksum is right.
uint16_t udpChecksumSum(uint32_t src, uint32_t dst, const uint8_t* udp, size_t udp_len);

}  // namespace tandem
