// Verdict dispatch, without DPDK: what a worker does with each frame once
// the pipeline has decided it. planVerdict() is the decision (a pure
// function of the verdict, how the frame came and the node's settings);
// dispatchVerdicts() carries it out over a burst: it fills one transmit
// list per data port and one for the peer link, and calls the worker's Io
// for the rest (peer-link headers, health-check answers, parking, the
// fragment hold, owner hints, freeing). `Frame` is rte_mbuf* in the
// dataplane, anything nullable in the unit tests. Nothing here allocates.
#pragma once

#include <cstdint>

#include "dataplane/burst.h"
#include "dataplane/port_neighbours.h"
#include "proto/peer_link.h"

namespace tandem {

/// What happens to one processed frame.
enum class FrameAction : uint8_t {
    transmit,         ///< out of data port `port`
    egress_via_peer,  ///< to node `peer` as an egress_frame: it leaves by that node's port `port`
    to_peer,          ///< to node `peer` as a forwarded_frame, `entered` as its origin
    park,             ///< parked until its token is released; then out of `port`, or
                      ///< (peer not kNoNode) back to node `peer` as an egress_frame
    answer,           ///< a health check: its answer goes out of `port`
    hold,             ///< a later fragment, held until its first fragment is decided
    await_owner,      ///< held until its session arrives here (or its wait is over)
    drop,             ///< freed (the pipeline counted why)
};

struct FramePlan {
    FrameAction action = FrameAction::drop;
    uint16_t port = 0;
    NodeId peer = kNoNode;
    NodeId entered = kNoNode;  ///< to_peer: the node the frame entered the cluster by
    /// transmit, park: re-address the frame to this node's segments first
    /// (PortNeighbours::readdress): it was forwarded here.
    bool readdress = false;
    /// Once the frame is on its way (transmit, egress_via_peer, to_peer):
    /// tell node verdict.notify that verdict.peer owns the flow.
    bool owner_hint = false;
};

/// The node's settings the dispatch depends on.
struct DispatchSettings {
    NodeId self = kNoNode;  ///< this node
    bool geneve = false;    ///< one-arm GENEVE mode
    uint16_t nports = 0;    ///< data ports
};

/// The node a forwarded frame entered the cluster by (its sender when the
/// header names none); this node for a frame from a data port (node kNoNode).
inline NodeId enteredBy(const PeerOrigin& o, NodeId self) {
    if (o.node == kNoNode) return self;
    return o.entered != kNoNode ? o.entered : o.node;
}

/// The decision for one frame: verdict `v`, reached this node as `origin`
/// (node kNoNode: by a data port). `neighbours` says which egress
/// neighbours are learned.
inline FramePlan planVerdict(const Verdict& v, const PeerOrigin& origin, const DispatchSettings& s,
                             const PortNeighbours& neighbours) {
    const bool from_peer = origin.node != kNoNode;
    // A forwarded frame may have entered the cluster by another node (not
    // when its flow's director handed it back to this node, which it entered).
    const NodeId entered = enteredBy(origin, s.self);
    const bool entered_elsewhere = entered != s.self;
    const bool hint = v.notify != kNoNode;
    FramePlan p;
    switch (v.kind) {
        case VerdictKind::forward:
            if (v.port >= s.nports) break;
            p.port = v.port;
            p.owner_hint = hint;
            if (entered_elsewhere && (s.geneve || !neighbours.known(v.port))) {
                // GENEVE: the load balancer sent the frame to the node it
                // entered by and takes it back from there only (its outer
                // addresses are that node's, turned around). Inline: no
                // neighbour learned on the egress segment yet (a node that
                // just returned and carries no traffic of its own). Either
                // way the node the frame entered by sends the processed frame
                // out of its own port.
                p.action = FrameAction::egress_via_peer;
                p.peer = entered;
            } else {
                p.action = FrameAction::transmit;
                p.readdress = from_peer;
            }
            break;
        case VerdictKind::to_peer:
            p.action = FrameAction::to_peer;
            p.peer = v.peer;
            p.entered = entered;
            p.owner_hint = hint;
            break;
        case VerdictKind::defer:
            if (v.port >= s.nports) break;
            p.action = FrameAction::park;
            p.port = v.port;
            // GENEVE: a frame that entered elsewhere leaves from there.
            p.peer = entered_elsewhere && s.geneve ? entered : kNoNode;
            p.readdress = from_peer && !s.geneve;
            break;
        case VerdictKind::local:
            // Only this node's own health checks are answered.
            if (from_peer || v.port >= s.nports) break;
            p.action = FrameAction::answer;
            p.port = v.port;
            break;
        case VerdictKind::hold:
            p.action = FrameAction::hold;
            break;
        case VerdictKind::await_owner:
            p.action = FrameAction::await_owner;
            break;
        case VerdictKind::drop:
            break;
    }
    return p;
}

/// The frames of one dispatch that leave by a port: one list per data port
/// and one for the peer link, sent by the caller after the burst. A port
/// may take every frame of the burst and a reset for each.
template <typename Frame>
struct TxListsOf {
    static constexpr uint16_t kMax = BurstOf<Frame>::kMax;
    uint16_t port_n[kMaxPorts] = {};
    uint16_t peer_n = 0;
    Frame port[kMaxPorts][2 * kMax];
    Frame peer[kMax];
};

/// What a dispatch counted (the caller adds it to its counters).
struct DispatchCounts {
    uint16_t egress_via_peer = 0;  ///< frames returned to the node they entered by
    uint16_t resets_sent = 0;      ///< generated resets on their way to a sender
    uint16_t resets_unsent = 0;    ///< generated resets this node could not send
};

/// Whether a reset back to the sender of a frame that reached this node as
/// `origin` can leave by the port the frame came in by: always for a frame
/// of this node's own port; for one forwarded here (inline mode) once that
/// port's neighbour is known, to address it with. In GENEVE mode the load
/// balancer takes back only the frames it sent.
inline bool resetCanLeave(const PeerOrigin& origin, const DispatchSettings& s, uint16_t port,
                          const PortNeighbours& neighbours) {
    if (port >= s.nports) return false;
    if (origin.node == kNoNode) return true;
    if (s.geneve) return false;
    return enteredBy(origin, s.self) == s.self || neighbours.known(port);
}

/// A verdict's reset (dispatchVerdicts).
template <typename Frame, typename Io>
void sendReset(uint8_t reset, const PeerOrigin& origin, uint16_t port, const DispatchSettings& s,
               const PortNeighbours& neighbours, Io& io, TxListsOf<Frame>& tx,
               DispatchCounts& counts) {
    uint8_t* data = nullptr;
    const Frame g =
        resetCanLeave(origin, s, port, neighbours) ? io.generated(reset, &data) : Frame{};
    if (!g) {
        ++counts.resets_unsent;
        return;
    }
    if (origin.node != kNoNode && neighbours.known(port)) neighbours.copy(port, data);
    tx.port[port][tx.port_n[port]++] = g;
    ++counts.resets_sent;
}

/// Carries out planVerdict() for each frame of `b` (verdicts[i] is frame
/// i's), in order. Frames to send are appended to `tx` (the caller sends
/// them: data ports, then the peer link); the rest goes through `io`:
///   bool encapsulate(Frame, PeerLinkType, NodeId to, NodeId entered,
///                    ForwardReason, uint16_t port, uint32_t hint)
///       prepends the peer-link headers; false: it cannot (the frame is
///       then freed here);
///   bool answerHealthCheck(Frame)  turns it into its answer; false: none;
///   void park(Frame, const Verdict&, NodeId egress_via);
///   bool hold(Frame, uint16_t port, const PeerOrigin& from)  false: full;
///   void ownerHint(NodeId to, uint64_t flow_hash, NodeId owner);
///   void free(Frame);
///   Frame generated(uint8_t reset, uint8_t** data)  a new frame holding the
///       pipeline's generated(reset), its bytes at *data; null: no buffer.
/// Every frame ends in exactly one of: tx, park, hold, free. A verdict's
/// reset goes back out of the burst's port (resetCanLeave), addressed to
/// that port's neighbour when the frame was forwarded here.
template <typename Frame, typename Io>
DispatchCounts dispatchVerdicts(const BurstOf<Frame>& b, const Verdict* verdicts,
                                const DispatchSettings& s, const PortNeighbours& neighbours, Io& io,
                                TxListsOf<Frame>& tx) {
    DispatchCounts counts;
    for (uint16_t i = 0; i < b.n; ++i) {
        const Verdict& v = verdicts[i];
        const Frame f = b.frames[i];
        // Nearly every frame: forwarded from this node's own port, with no
        // hint and no reset. planVerdict() would say transmit, as is.
        if (v.kind == VerdictKind::forward && !b.from_peer && v.port < s.nports &&
            v.notify == kNoNode && v.reset == 0) [[likely]] {
            tx.port[v.port][tx.port_n[v.port]++] = f;
            continue;
        }
        const FramePlan p = planVerdict(v, b.origin(i), s, neighbours);
        bool sent = false;
        switch (p.action) {
            case FrameAction::transmit:
                if (p.readdress) neighbours.readdress(b.data[i], b.port, p.port);
                tx.port[p.port][tx.port_n[p.port]++] = f;
                sent = true;
                break;
            case FrameAction::egress_via_peer:
                sent =
                    io.encapsulate(f, PeerLinkType::egress_frame, p.peer, kNoNode,
                                   ForwardReason::egress_via_peer, p.port, uint32_t(v.flow_hash));
                if (sent) {
                    ++counts.egress_via_peer;
                    tx.peer[tx.peer_n++] = f;
                }
                break;
            case FrameAction::to_peer:
                sent = io.encapsulate(f, PeerLinkType::forwarded_frame, p.peer, p.entered, v.reason,
                                      b.port, uint32_t(v.flow_hash));
                if (sent) tx.peer[tx.peer_n++] = f;
                break;
            case FrameAction::park:
                if (p.readdress) neighbours.readdress(b.data[i], b.port, p.port);
                io.park(f, v, p.peer);
                continue;
            case FrameAction::answer:
                if (!io.answerHealthCheck(f)) break;
                tx.port[p.port][tx.port_n[p.port]++] = f;
                continue;
            case FrameAction::hold:
                if (io.hold(f, b.port, b.origin(i))) continue;
                break;
            case FrameAction::await_owner:
                if (io.awaitOwner(f, b.port, b.origin(i), v.token)) continue;
                break;
            case FrameAction::drop:
                break;
        }
        if (v.reset) [[unlikely]]
            sendReset(v.reset, b.origin(i), b.port, s, neighbours, io, tx, counts);
        if (!sent) {
            io.free(f);
            continue;
        }
        if (p.owner_hint) io.ownerHint(v.notify, v.flow_hash, v.peer);
    }
    return counts;
}

}  // namespace tandem
