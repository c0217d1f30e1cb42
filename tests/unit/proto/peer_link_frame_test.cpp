// Raw peer-link frames: what decodePeerLinkFrame accepts, and the reason it
// gives for each frame it refuses.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "proto/peer_link.h"

namespace tandem {
namespace {

constexpr uint16_t kCluster = 10;
constexpr NodeId kSelf = 1;
constexpr NodeId kPeer = 2;
constexpr uint16_t kKnown = 0b10;  // node 2

std::vector<uint8_t> frame(PeerLinkHeader h, size_t payload, size_t pad = 0) {
    h.payload_len = uint16_t(payload);
    std::vector<uint8_t> f(kPeerLinkOverhead + payload + pad, 0xAB);
    f[12] = uint8_t(kPeerLinkEtherType >> 8);
    f[13] = uint8_t(kPeerLinkEtherType);
    encodePeerLinkHeader(h, f.data() + 14);
    return f;
}

PeerLinkHeader header(PeerLinkType type) {
    PeerLinkHeader h;
    h.type = type;
    h.cluster_id = kCluster;
    h.from = kPeer;
    h.to = kSelf;
    h.reason = ForwardReason::owner_elsewhere;
    h.ingress_port = 1;
    h.session_hint = 0xDEADBEEF;
    return h;
}

PeerLinkResult decode(const std::vector<uint8_t>& f, PeerLinkHeader* out = nullptr) {
    PeerLinkHeader h;
    PeerLinkResult r = decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kKnown, &h);
    if (out) *out = h;
    return r;
}

TEST_CASE("every frame type round-trips its header") {
    for (PeerLinkType t : {PeerLinkType::forwarded_frame, PeerLinkType::heartbeat,
                           PeerLinkType::egress_frame}) {
        PeerLinkHeader h = header(t);
        if (t == PeerLinkType::egress_frame) h.reason = ForwardReason::egress_via_peer;
        PeerLinkHeader got;
        REQUIRE(decode(frame(h, 60), &got) == PeerLinkResult::ok);
        CHECK(got.type == t);
        CHECK(got.from == kPeer);
        CHECK(got.to == kSelf);
        CHECK(got.reason == h.reason);
        CHECK(got.ingress_port == 1);
        CHECK(got.session_hint == 0xDEADBEEF);
        CHECK(got.payload_len == 60);
    }
}

TEST_CASE("Ethernet padding after the payload is allowed") {
    CHECK(decode(frame(header(PeerLinkType::heartbeat), kPeerLinkHeartbeatSize, 16)) ==
          PeerLinkResult::ok);
}

TEST_CASE("refused frames name their reason") {
    const PeerLinkHeader good = header(PeerLinkType::forwarded_frame);
    SUBCASE("shorter than the headers") {
        auto f = frame(good, 60);
        f.resize(kPeerLinkOverhead - 1);
        CHECK(decode(f) == PeerLinkResult::truncated);
    }
    SUBCASE("another EtherType") {
        auto f = frame(good, 60);
        f[13] ^= 1;
        CHECK(decode(f) == PeerLinkResult::bad_ethertype);
    }
    SUBCASE("a version this node does not speak") {
        PeerLinkHeader h = good;
        h.version = kPeerLinkVersion + 1;
        CHECK(decode(frame(h, 60)) == PeerLinkResult::bad_version);
    }
    SUBCASE("unknown types, below and above the known ones") {
        for (uint8_t t : {uint8_t(0), uint8_t(4), uint8_t(255)}) {
            auto f = frame(good, 60);
            f[15] = t;
            CHECK(decode(f) == PeerLinkResult::bad_type);
        }
    }
    SUBCASE("another cluster") {
        PeerLinkHeader h = good;
        h.cluster_id = kCluster + 1;
        CHECK(decode(frame(h, 60)) == PeerLinkResult::wrong_cluster);
    }
    SUBCASE("a node that is not a configured peer, ourselves, or no node") {
        for (NodeId from : {NodeId(3), kSelf, kNoNode}) {
            PeerLinkHeader h = good;
            h.from = from;
            CHECK(decode(frame(h, 60)) == PeerLinkResult::unknown_node);
        }
    }
    SUBCASE("addressed to another node") {
        PeerLinkHeader h = good;
        h.to = 3;
        CHECK(decode(frame(h, 60)) == PeerLinkResult::not_for_us);
    }
    SUBCASE("payload longer than the frame") {
        auto f = frame(good, 60);
        f.resize(f.size() - 1);
        CHECK(decode(f) == PeerLinkResult::bad_length);
    }
    SUBCASE("a carried frame shorter than an Ethernet header") {
        CHECK(decode(frame(good, 13)) == PeerLinkResult::bad_length);
        CHECK(decode(frame(header(PeerLinkType::egress_frame), 13)) == PeerLinkResult::bad_length);
    }
    SUBCASE("a heartbeat shorter than its payload") {
        CHECK(decode(frame(header(PeerLinkType::heartbeat), kPeerLinkHeartbeatSize - 1)) ==
              PeerLinkResult::bad_length);
    }
}

TEST_CASE("no truncation of a valid frame reads past its end or is accepted") {
    auto f = frame(header(PeerLinkType::forwarded_frame), 60);
    for (size_t len = 0; len < f.size(); ++len) {
        std::vector<uint8_t> cut(f.begin(), f.begin() + long(len));
        CHECK(decode(cut) != PeerLinkResult::ok);
    }
}

TEST_CASE("heartbeat payload round-trips") {
    uint8_t buf[kPeerLinkHeartbeatSize];
    encodePeerLinkHeartbeat({77, 3}, buf);
    PeerLinkHeartbeat hb;
    REQUIRE(decodePeerLinkHeartbeat(buf, sizeof buf, &hb));
    CHECK(hb.seq == 77);
    CHECK(hb.state == 3);
    CHECK_FALSE(decodePeerLinkHeartbeat(buf, sizeof buf - 1, &hb));
}

}  // namespace
}  // namespace tandem
