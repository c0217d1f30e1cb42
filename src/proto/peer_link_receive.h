// What a node does with a frame its peer link receives, before anything
// else reads it: the transport's headers (raw Ethernet or IPv4/UDP), the
// peer-link header and, when the link is authenticated, the trailer's tag
// and sequence number (peer_link_auth.h). Pure and allocation-free: the
// dataplane's workers run it on every received frame, and so do the unit
// tests and the fuzz targets.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/node_id.h"
#include "proto/peer_link.h"
#include "proto/peer_link_auth.h"
#include "proto/peer_link_udp.h"

namespace tandem {

/// How a node checks the frames its peer link receives (one set per node;
/// the pointed-to objects outlive it).
struct PeerLinkReceiveRules {
    bool udp = false;  ///< the udp transport; else raw Ethernet
    uint16_t cluster_id = 0;
    NodeId self = kNoNode;
    uint16_t known_peers = 0;                     ///< bit n-1 for each configured peer n
    const PeerLinkUdpLocal* udp_local = nullptr;  ///< udp: what a datagram must match
    /// Frames must be authenticated: the pair keys, indexed by node id
    /// (kMaxNodes + 1 entries). Null: peer-link-auth is off.
    const PeerLinkCipher* ciphers = nullptr;
};

/// Bytes before the payload of a frame on this transport (outer headers
/// and the peer-link header).
inline size_t peerLinkOverheadOf(bool udp) {
    return udp ? kPeerLinkUdpOverhead : kPeerLinkOverhead;
}

/// Checks a whole frame received on the peer link: the transport's headers,
/// the peer-link header and, with authentication, its trailer and sequence
/// number, which `replay` (kMaxNodes + 1 windows, indexed by sender) then
/// counts as used. On ok, *h is the header and the payload follows the
/// overhead. The dataplane's workers run it on every received frame (each
/// with its own windows); so do the fuzz targets.
PeerLinkResult checkPeerLinkFrame(const PeerLinkReceiveRules& rules, ReplayWindow* replay,
                                  const uint8_t* frame, size_t len, PeerLinkHeader* h);

}  // namespace tandem
