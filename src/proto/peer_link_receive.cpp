#include "proto/peer_link_receive.h"

namespace tandem {

PeerLinkResult checkPeerLinkFrame(const PeerLinkReceiveRules& rules, ReplayWindow* replay,
                                  const uint8_t* frame, size_t len, PeerLinkHeader* h) {
    const PeerLinkResult r = rules.udp ? decodePeerLinkUdpFrame(frame, len, *rules.udp_local, h)
                                       : decodePeerLinkFrame(frame, len, rules.cluster_id,
                                                             rules.self, rules.known_peers, h);
    if (r != PeerLinkResult::ok || !rules.ciphers) return r;
    // The sender, cluster and receiver the header names are checked above;
    // now whether the sender made the frame, and made it once.
    if (!(h->flags & kPeerLinkFlagAuthenticated)) return PeerLinkResult::unauthenticated;
    uint64_t seq;
    if (!verifyPeerLinkFrame(rules.ciphers[h->from],
                             frame + peerLinkOverheadOf(rules.udp) - kPeerLinkHeaderSize,
                             h->payload_len, &seq)) {
        return PeerLinkResult::bad_tag;
    }
    if (!replay[h->from].accept(seq)) return PeerLinkResult::replayed;
    return PeerLinkResult::ok;
}

}  // namespace tandem
