#include "proto/peer_link.h"

#include "core/wire_bytes.h"

namespace tandem {

using namespace wire;

void encodePeerLinkHeader(const PeerLinkHeader& h, uint8_t* out) {
    out[0] = h.version;
    out[1] = uint8_t(h.type);
    put16(out + 2, h.cluster_id);
    out[4] = h.from;
    out[5] = h.to;
    out[6] = uint8_t(h.reason);
    out[7] = h.ingress_port;
    put32(out + 8, h.session_hint);
    put16(out + 12, h.payload_len);
    out[14] = h.origin;
    out[15] = h.flags;
}

void encodePeerLinkHeartbeat(const PeerLinkHeartbeat& hb, uint8_t* out) {
    put32(out, hb.seq);
    out[4] = hb.state;
    out[5] = out[6] = out[7] = 0;
}

PeerLinkResult decodePeerLinkHeader(const uint8_t* p, size_t avail, uint16_t cluster_id,
                                    NodeId self, uint16_t known_peers, PeerLinkHeader* h) {
    if (avail < kPeerLinkHeaderSize) return PeerLinkResult::truncated;
    if (p[0] != kPeerLinkVersion) return PeerLinkResult::bad_version;
    if (p[1] < uint8_t(PeerLinkType::forwarded_frame) || p[1] > uint8_t(PeerLinkType::owner_hint)) {
        return PeerLinkResult::bad_type;
    }
    h->version = p[0];
    h->type = PeerLinkType(p[1]);
    h->cluster_id = get16(p + 2);
    h->from = p[4];
    h->to = p[5];
    h->reason = ForwardReason(p[6]);
    h->ingress_port = p[7];
    h->session_hint = get32(p + 8);
    h->payload_len = get16(p + 12);
    h->origin = p[14];
    h->flags = p[15];
    if (h->cluster_id != cluster_id) return PeerLinkResult::wrong_cluster;
    if (!isValidNodeId(h->from) || h->from == self || !(known_peers & (1u << (h->from - 1)))) {
        return PeerLinkResult::unknown_node;
    }
    if (h->to != self) return PeerLinkResult::not_for_us;
    // Ethernet may pad short frames: the payload may be shorter than the frame, never longer.
    const size_t trailer = (h->flags & kPeerLinkFlagAuthenticated) ? kPeerLinkAuthTrailerSize : 0;
    if (size_t(h->payload_len) + trailer > avail - kPeerLinkHeaderSize) {
        return PeerLinkResult::bad_length;
    }
    if (h->type == PeerLinkType::heartbeat && h->payload_len < kPeerLinkHeartbeatSize) {
        return PeerLinkResult::bad_length;
    }
    if (h->type == PeerLinkType::owner_hint && h->payload_len < kPeerLinkOwnerHintSize) {
        return PeerLinkResult::bad_length;
    }
    if ((h->type == PeerLinkType::forwarded_frame || h->type == PeerLinkType::egress_frame) &&
        h->payload_len < 14) {
        return PeerLinkResult::bad_length;
    }
    return PeerLinkResult::ok;
}

PeerLinkResult decodePeerLinkFrame(const uint8_t* frame, size_t len, uint16_t cluster_id,
                                   NodeId self, uint16_t known_peers, PeerLinkHeader* h) {
    if (len < kPeerLinkOverhead) return PeerLinkResult::truncated;
    if (get16(frame + 12) != kPeerLinkEtherType) return PeerLinkResult::bad_ethertype;
    return decodePeerLinkHeader(frame + 14, len - 14, cluster_id, self, known_peers, h);
}

void encodePeerLinkOwnerHint(const PeerLinkOwnerHint& hint, uint8_t* out) {
    put32(out, uint32_t(hint.flow_hash >> 32));
    put32(out + 4, uint32_t(hint.flow_hash));
    out[8] = hint.owner;
    for (int i = 9; i < 16; ++i) out[i] = 0;
}

bool decodePeerLinkOwnerHint(const uint8_t* payload, size_t len, PeerLinkOwnerHint* hint) {
    if (len < kPeerLinkOwnerHintSize || !isValidNodeId(payload[8])) return false;
    hint->flow_hash = uint64_t(get32(payload)) << 32 | get32(payload + 4);
    hint->owner = payload[8];
    return true;
}

bool decodePeerLinkHeartbeat(const uint8_t* payload, size_t len, PeerLinkHeartbeat* hb) {
    if (len < kPeerLinkHeartbeatSize) return false;
    hb->seq = get32(payload);
    hb->state = payload[4];
    return true;
}

}  // namespace tandem
