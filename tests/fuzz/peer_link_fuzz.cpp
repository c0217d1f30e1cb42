// A node's peer-link receiver fed a sequence of frames, as its workers check
// them: raw and udp transports, with and without authentication, and ARP on
// the udp link. Properties: nothing outside a frame is read; a frame is
// accepted only from a configured peer, addressed to this node, of a length
// that fits; an authenticated frame is accepted at most once.
#include <sodium.h>

#include <array>
#include <set>
#include <utility>

#include "cluster/cluster_view.h"
#include "fuzz_input.h"
#include "proto/arp.h"
#include "proto/peer_link.h"
#include "proto/peer_link_auth.h"
#include "proto/peer_link_receive.h"
#include "proto/peer_link_udp.h"

using namespace tandem;

namespace {

constexpr uint16_t kCluster = 7;
constexpr NodeId kSelf = 1;

// The receiver's keys: fixed, so that the seed corpus (made with the same
// keys by make_seeds) holds frames with valid tags.
struct Receiver {
    std::array<PeerLinkCipher, kMaxNodes + 1> ciphers;
    PeerLinkUdpLocal udp;
    Receiver() {
        if (sodium_init() < 0 || !peerLinkAuthAvailable()) return;
        for (unsigned n = 2; n <= 3; ++n) {
            PeerLinkKey key;
            key.fill(uint8_t(n));
            ciphers[n].init(key);
        }
        udp.self = {0x0a000001, 5405};
        udp.cluster_id = kCluster;
        udp.node = kSelf;
        udp.known_peers = nodeBit(2) | nodeBit(3);
        udp.peer_ip[2] = 0x0a000002;
        udp.peer_port[2] = 5405;
        udp.peer_ip[3] = 0x0a000003;
        udp.peer_port[3] = 5405;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Receiver receiver;
    fuzz::FuzzInput in(data, size);
    const uint8_t mode = in.take<uint8_t>();
    PeerLinkReceiveRules rules;
    rules.udp = mode & 1;
    rules.cluster_id = kCluster;
    rules.self = kSelf;
    rules.known_peers = nodeBit(2) | nodeBit(3);
    rules.udp_local = &receiver.udp;
    const bool auth = (mode & 2) && peerLinkAuthAvailable();
    if (auth) rules.ciphers = receiver.ciphers.data();

    std::array<ReplayWindow, kMaxNodes + 1> replay;
    std::set<std::pair<NodeId, uint64_t>> accepted;  // (sender, seq) of authenticated frames
    const size_t overhead = peerLinkOverheadOf(rules.udp);
    while (!in.empty()) {
        const std::string_view frame = in.chunk(2048);
        const auto* p = reinterpret_cast<const uint8_t*>(frame.data());
        if (rules.udp) {
            ArpMessage arp;
            if (decodeArp(p, frame.size(), &arp)) {
                const std::array<uint8_t, 6> own{2, 0, 0, 0, 0, 1};
                // Only a reply to this node's own outstanding request teaches.
                if (arpTeachesNeighbour(arp, 0x0a000002, receiver.udp.self.ip, own, mode & 4)) {
                    FUZZ_CHECK(arp.op == ArpOp::reply && (mode & 4));
                    FUZZ_CHECK(arp.sender_ip == 0x0a000002);
                    FUZZ_CHECK(arp.target_ip == receiver.udp.self.ip);
                }
                continue;
            }
        }
        PeerLinkHeader h;
        const PeerLinkResult r = checkPeerLinkFrame(rules, replay.data(), p, frame.size(), &h);
        FUZZ_CHECK(size_t(r) < kPeerLinkResultCount);
        if (r != PeerLinkResult::ok) continue;
        FUZZ_CHECK(h.to == kSelf);
        FUZZ_CHECK(h.from == 2 || h.from == 3);
        FUZZ_CHECK(h.cluster_id == kCluster);
        const size_t trailer =
            (h.flags & kPeerLinkFlagAuthenticated) ? kPeerLinkAuthTrailerSize : 0;
        FUZZ_CHECK(overhead + h.payload_len + trailer <= frame.size());
        if (auth) {
            FUZZ_CHECK(trailer != 0);
            // Each sequence number of a sender is accepted once.
            uint64_t seq = 0;
            const uint8_t* s = p + overhead + h.payload_len + kPeerLinkSaltSize;
            for (size_t i = 0; i < kPeerLinkSeqSize; ++i) seq = seq << 8 | s[i];
            FUZZ_CHECK(accepted.insert({h.from, seq}).second);
        }
        const uint8_t* payload = p + overhead;
        if (h.type == PeerLinkType::heartbeat) {
            PeerLinkHeartbeat hb;
            decodePeerLinkHeartbeat(payload, h.payload_len, &hb);
        } else if (h.type == PeerLinkType::owner_hint) {
            PeerLinkOwnerHint hint;
            if (decodePeerLinkOwnerHint(payload, h.payload_len, &hint)) {
                FUZZ_CHECK(hint.owner >= 1 && hint.owner <= kMaxNodes);
            }
        }
    }
    return 0;
}
