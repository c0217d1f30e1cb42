// Peer-link frame format (the HA3 role): how a node hands a packet of a
// session it does not own to the node that does, and the second heartbeat
// path. A packed plain header, not msgpack: it is built and checked per packet.
//
// raw transport (a dedicated link between the nodes):
//   Ethernet (dst = peer's link MAC, src = ours, EtherType 0x88B5)
//   PeerLinkHeader (16 bytes)
//   payload: the whole original frame (forwarded), or a PeerLinkHeartbeat
// Overhead 30 bytes per frame: the peer link's MTU must be the data ports'
// MTU + 30 (jumbo frames on the link; see docs/wire-formats.md).
//
// udp transport (networks that carry only IP, such as EC2): the same header
// and payload inside Ethernet / IPv4 / UDP, see proto/peer_link_udp.h.
//
// All multi-byte fields are big-endian on the wire. encode/decode are pure
// and allocation-free; decode never reads past the buffer it is given.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/counters.h"
#include "core/node_id.h"
#include "proto/peer_link_auth.h"

namespace tandem {

inline constexpr uint16_t kPeerLinkEtherType = 0x88B5;  // IEEE 802 local experimental 1
inline constexpr uint8_t kPeerLinkVersion = 1;
inline constexpr size_t kPeerLinkHeaderSize = 16;
inline constexpr size_t kPeerLinkOverhead = 14 + kPeerLinkHeaderSize;

enum class PeerLinkType : uint8_t {
    forwarded_frame = 1,  ///< payload is a data frame for the receiving node to process
    heartbeat = 2,        ///< payload is a PeerLinkHeartbeat
    /// payload is a frame the sending owner already processed, returned to
    /// the node that forwarded it, to be sent out of that node's port
    /// `ingress_port` (here: the egress port) as it is: the owner has not
    /// yet learned the Ethernet neighbour on its own egress segment.
    egress_frame = 3,
    /// payload is a PeerLinkOwnerHint: the sender (a flow's director) tells
    /// the receiver, which forwarded it a packet of the flow, who owns it.
    owner_hint = 4,
};

/// Why a frame was forwarded (shown in counters and captures).
enum class ForwardReason : uint8_t {
    none = 0,
    owner_elsewhere = 1,  ///< the session is owned by the receiving node
    new_flow = 2,  ///< a first packet this node may not own (primary mode, tentative, suspended)
    backup_takeover = 3,    ///< the owner is gone; the receiving node is the backup owner
    egress_via_peer = 4,    ///< egress_frame: the owner does not know its egress neighbour yet
    unsynced_peer = 5,      ///< no session here while the sync channel to the receiver is down
    to_director = 6,        ///< no session here and the packet cannot start one: the
                            ///< receiver is the flow's director (3+ members)
    via_director = 7,       ///< the director passes a to_director packet to the owner
    director_unknown = 8,   ///< the director does not know the flow of a to_director packet
                            ///< that may start one (UDP): back to its sender, which decides it
    to_fragment_owner = 9,  ///< an IP fragment: the receiver is its datagram's fragment owner,
                            ///< which decides the datagram as if it had entered there
    fragment_follows = 10,  ///< a later fragment, sent where its datagram's first fragment went
};

struct PeerLinkHeader {
    uint8_t version = kPeerLinkVersion;
    PeerLinkType type = PeerLinkType::forwarded_frame;
    uint16_t cluster_id = 0;
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    ForwardReason reason = ForwardReason::none;
    uint8_t ingress_port =
        0;  ///< port index the frame entered the cluster on (egress_frame: leaves by)
    uint32_t session_hint = 0;  ///< low 32 bits of the flow hash (0 if unknown)
    uint16_t payload_len = 0;   ///< bytes after the header
    /// forwarded_frame: the node whose data port the frame entered the cluster
    /// by (a director passing it on keeps it); 0 (from older senders): `from`.
    NodeId origin = kNoNode;
    /// kPeerLinkFlagAuthenticated (proto/peer_link_auth.h): a trailer of
    /// kPeerLinkAuthTrailerSize bytes follows the payload.
    uint8_t flags = 0;
};

struct PeerLinkHeartbeat {
    uint32_t seq = 0;
    uint8_t state = 0;  ///< sender's NodeState
};
inline constexpr size_t kPeerLinkHeartbeatSize = 8;

struct PeerLinkOwnerHint {
    uint64_t flow_hash = 0;  ///< flowHash() of the flow's canonical key
    NodeId owner = kNoNode;
};
inline constexpr size_t kPeerLinkOwnerHintSize = 16;

#define TANDEM_PEER_LINK_RESULTS(X)                                                                \
    X(ok, "peer-link frame accepted")                                                              \
    X(truncated, "peer-link frame shorter than its headers")                                       \
    X(bad_ethertype, "not the peer-link EtherType (raw) or not IPv4/ARP (udp)")                    \
    X(bad_version, "peer-link header version not understood")                                      \
    X(bad_type, "unknown peer-link frame type")                                                    \
    X(wrong_cluster, "frame from another cluster id")                                              \
    X(unknown_node, "frame from a node that is not a configured peer")                             \
    X(not_for_us, "frame addressed to another node")                                               \
    X(bad_length, "payload length disagrees with the frame")                                       \
    X(bad_ip_header, "udp: IPv4 header malformed, with options, or lengths disagree")              \
    X(ip_fragment, "udp: an IPv4 fragment (the peer link never fragments)")                        \
    X(bad_ip_checksum, "udp: IPv4 header checksum wrong")                                          \
    X(not_udp, "udp: IPv4 but not UDP")                                                            \
    X(not_our_address, "udp: not to this node's peer-link-listen address and port")                \
    X(bad_udp_length, "udp: UDP length disagrees with the IPv4 length")                            \
    X(bad_udp_checksum, "udp: UDP checksum present and wrong")                                     \
    X(unknown_source, "udp: source address and port are no configured peer's link-address")        \
    X(source_mismatch, "udp: header's from-node is not the node of the source address")            \
    X(unauthenticated, "no authentication trailer, and this node requires one (peer-link-auth)")   \
    X(bad_tag, "authentication tag wrong: not made with the key this node shares with the sender") \
    X(replayed, "authenticated, but its sequence number was seen before or is too old (a replay)")

TANDEM_COUNTER_ENUM(PeerLinkResult, TANDEM_PEER_LINK_RESULTS)

/// Writes the 16-byte header at `out`.
void encodePeerLinkHeader(const PeerLinkHeader& h, uint8_t* out);

/// Writes a heartbeat payload (kPeerLinkHeartbeatSize bytes) at `out`.
void encodePeerLinkHeartbeat(const PeerLinkHeartbeat& hb, uint8_t* out);

/// Checks a whole raw peer-link frame (Ethernet + header + payload) of `len`
/// bytes received by node `self` of cluster `cluster_id`; `known_peers` is the
/// mask of configured peer node ids (bit n-1 for node n). On ok, *h is the
/// header and the payload starts at frame + kPeerLinkOverhead.
PeerLinkResult decodePeerLinkFrame(const uint8_t* frame, size_t len, uint16_t cluster_id,
                                   NodeId self, uint16_t known_peers, PeerLinkHeader* h);

/// Checks the 16-byte header at `p` with `avail` bytes from its start to the
/// end of the frame (the raw and udp transports share it): version, type,
/// cluster, sender (a configured peer), receiver (`self`), payload length
/// (and room for the authentication trailer when the header announces one).
/// Fills *h as far as it could read; ok only if every check passed.
PeerLinkResult decodePeerLinkHeader(const uint8_t* p, size_t avail, uint16_t cluster_id,
                                    NodeId self, uint16_t known_peers, PeerLinkHeader* h);

/// Reads a heartbeat payload; false if `len` is too short.
bool decodePeerLinkHeartbeat(const uint8_t* payload, size_t len, PeerLinkHeartbeat* hb);

/// Writes an owner hint payload (kPeerLinkOwnerHintSize bytes) at `out`.
void encodePeerLinkOwnerHint(const PeerLinkOwnerHint& hint, uint8_t* out);

/// Reads an owner hint payload; false if `len` is too short or the owner is
/// not a node id (1..16).
bool decodePeerLinkOwnerHint(const uint8_t* payload, size_t len, PeerLinkOwnerHint* hint);

}  // namespace tandem
