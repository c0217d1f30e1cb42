// The peer link's receive side after each frame's check, with small
// integers standing in for mbufs: control frames apart, data frames sorted
// by the port their header names.
#include "dataplane/peer_link_demux.h"

#include <doctest/doctest.h>

#include <vector>

using namespace tandem;

namespace {

using Demux = PeerLinkDemuxOf<uintptr_t>;

PeerLinkHeader header(PeerLinkType type, NodeId from, uint8_t port,
                      ForwardReason reason = ForwardReason::owner_elsewhere,
                      NodeId origin = kNoNode) {
    PeerLinkHeader h;
    h.type = type;
    h.from = from;
    h.to = 1;
    h.reason = reason;
    h.ingress_port = port;
    h.origin = origin;
    return h;
}

}  // namespace

TEST_CASE("a frame that names a port this node does not have is refused, a heartbeat is not") {
    const uint16_t nports = 2;
    CHECK(Demux::admit(PeerLinkResult::ok, header(PeerLinkType::forwarded_frame, 2, 1), nports) ==
          PeerLinkResult::ok);
    CHECK(Demux::admit(PeerLinkResult::ok, header(PeerLinkType::forwarded_frame, 2, 2), nports) ==
          PeerLinkResult::bad_length);
    CHECK(Demux::admit(PeerLinkResult::ok, header(PeerLinkType::egress_frame, 2, 7), nports) ==
          PeerLinkResult::bad_length);
    CHECK(Demux::admit(PeerLinkResult::ok, header(PeerLinkType::owner_hint, 2, 7), nports) ==
          PeerLinkResult::bad_length);
    CHECK(Demux::admit(PeerLinkResult::ok, header(PeerLinkType::heartbeat, 2, 7), nports) ==
          PeerLinkResult::ok);
    // A frame the check refused keeps its reason.
    CHECK(Demux::admit(PeerLinkResult::wrong_cluster, header(PeerLinkType::forwarded_frame, 2, 9),
                       nports) == PeerLinkResult::wrong_cluster);
}

TEST_CASE("owner hints and heartbeats are control - forwarded and egress frames are data") {
    CHECK(Demux::routeOf(header(PeerLinkType::owner_hint, 2, 0)) == Demux::Route::owner_hint);
    CHECK(Demux::routeOf(header(PeerLinkType::heartbeat, 2, 0)) == Demux::Route::heartbeat);
    CHECK(Demux::routeOf(header(PeerLinkType::forwarded_frame, 2, 0)) == Demux::Route::data);
    CHECK(Demux::routeOf(header(PeerLinkType::egress_frame, 2, 0)) == Demux::Route::data);
}

TEST_CASE("a forwarded frame entered the cluster by its origin, else by its sender") {
    CHECK(Demux::senderOf(header(PeerLinkType::forwarded_frame, 2, 0, ForwardReason::via_director,
                                 3)) == PeerOrigin{2, ForwardReason::via_director, 3});
    // An older sender writes no origin: the frame entered by that sender.
    CHECK(Demux::senderOf(header(PeerLinkType::forwarded_frame, 2, 0, ForwardReason::new_flow)) ==
          PeerOrigin{2, ForwardReason::new_flow, 2});
}

TEST_CASE("data frames are sorted by port: egress frames to send, forwarded ones to process") {
    Demux d(3);
    uint8_t bytes[8] = {};
    d.add(1, &bytes[1], 61, header(PeerLinkType::forwarded_frame, 2, 1));
    d.add(2, &bytes[2], 62, header(PeerLinkType::egress_frame, 2, 0));
    d.add(3, &bytes[3], 63,
          header(PeerLinkType::forwarded_frame, 3, 1, ForwardReason::to_director));
    d.add(4, &bytes[4], 64, header(PeerLinkType::forwarded_frame, 2, 2));
    d.add(5, &bytes[5], 65, header(PeerLinkType::egress_frame, 3, 0));
    d.add(6, &bytes[6], 66, header(PeerLinkType::forwarded_frame, 2, 1));

    CHECK(d.ports() == 3);
    REQUIRE(d.egressCount(0) == 2);
    CHECK(d.egress(0)[0] == 2);
    CHECK(d.egress(0)[1] == 5);
    CHECK(d.egressCount(1) == 0);
    CHECK(d.forwarded(0).n == 0);

    const BurstOf<uintptr_t>& one = d.forwarded(1);
    CHECK(one.port == 1);
    CHECK(one.from_peer);
    REQUIRE(one.n == 3);
    CHECK(std::vector<uintptr_t>(one.frames, one.frames + 3) == std::vector<uintptr_t>{1, 3, 6});
    CHECK(one.data[1] == &bytes[3]);
    CHECK(one.lens[2] == 66);
    CHECK(one.senders[0] == PeerOrigin{2, ForwardReason::owner_elsewhere, 2});
    CHECK(one.senders[1] == PeerOrigin{3, ForwardReason::to_director, 3});

    const BurstOf<uintptr_t>& two = d.forwarded(2);
    CHECK(two.port == 2);
    REQUIRE(two.n == 1);
    CHECK(two.frames[0] == 4);
}
