// The peer link's receive side after each frame's check
// (proto/peer_link_receive.h), without DPDK: which frames are control
// (owner hints, heartbeats) and which carry data, and the data frames sorted
// by the port they name: frames an owner returned to leave by it (egress),
// frames forwarded here to be processed as if they had entered by it.
// `Frame` is rte_mbuf* in the dataplane, anything nullable in the unit
// tests. One demux per receive burst, on the worker's stack; nothing here
// allocates.
#pragma once

#include <cstdint>

#include "dataplane/burst.h"
#include "proto/peer_link.h"
#include "proto/peer_link_receive.h"

namespace tandem {

template <typename Frame>
class PeerLinkDemuxOf {
  public:
    static constexpr uint16_t kMax = BurstOf<Frame>::kMax;

    /// What a checked frame is for.
    enum class Route : uint8_t {
        owner_hint,  ///< a director's answer: for the owner cache
        heartbeat,   ///< for the HA agent
        data,        ///< a frame: add() it once its outer headers are stripped
    };

    /// The result of decodePeerLinkReceived() made final: a frame that
    /// carries data must name a data port this node has (`nports`).
    static PeerLinkResult admit(PeerLinkResult decoded, const PeerLinkHeader& h, uint16_t nports) {
        if (decoded == PeerLinkResult::ok && h.type != PeerLinkType::heartbeat &&
            h.ingress_port >= nports) {
            return PeerLinkResult::bad_length;  // names a port this node does not have
        }
        return decoded;
    }

    static Route routeOf(const PeerLinkHeader& h) {
        switch (h.type) {
            case PeerLinkType::owner_hint:
                return Route::owner_hint;
            case PeerLinkType::heartbeat:
                return Route::heartbeat;
            case PeerLinkType::forwarded_frame:
            case PeerLinkType::egress_frame:
                break;
        }
        return Route::data;
    }

    /// Who sent a forwarded frame and why, as the pipeline takes it; a
    /// header without an origin (an older sender) entered by its sender.
    static PeerOrigin senderOf(const PeerLinkHeader& h) {
        return PeerOrigin{h.from, h.reason, h.origin != kNoNode ? h.origin : h.from};
    }

    /// An empty demux for a node with `nports` data ports (at most kMaxPorts).
    explicit PeerLinkDemuxOf(uint16_t nports) : nports_(nports) {
        for (uint16_t p = 0; p < nports_; ++p) forwarded_[p].reset(p, true);
    }

    /// A data frame (admitted, Route::data) whose payload, the original
    /// frame, is `len` bytes at `data`: an egress_frame joins the egress
    /// list of its port, any other the forwarded burst of the port it
    /// entered the cluster by. At most kMax frames in all per demux.
    void add(Frame f, uint8_t* data, uint16_t len, const PeerLinkHeader& h) {
        const uint16_t p = h.ingress_port;
        if (h.type == PeerLinkType::egress_frame) {
            // Already processed by its owner: out as it is.
            egress_[p][egress_n_[p]++] = f;
            return;
        }
        forwarded_[p].push(f, data, len, senderOf(h));
    }

    uint16_t ports() const { return nports_; }
    /// The frames to send out of port p as they are, and their number.
    Frame* egress(uint16_t p) { return egress_[p]; }
    uint16_t egressCount(uint16_t p) const { return egress_n_[p]; }
    /// The frames to process as if they had entered by port p.
    BurstOf<Frame>& forwarded(uint16_t p) { return forwarded_[p]; }

  private:
    uint16_t nports_;
    uint16_t egress_n_[kMaxPorts] = {};
    Frame egress_[kMaxPorts][kMax];
    BurstOf<Frame> forwarded_[kMaxPorts];
};

}  // namespace tandem
