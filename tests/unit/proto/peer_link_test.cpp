// Peer-link frames on both transports: what a sender writes, a receiver
// accepts; every malformed or foreign frame is refused with its named reason
// (a table of rows), and nothing reads past the buffer (truncations at every
// length under ASan).
#include "proto/peer_link.h"

#include <doctest/doctest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "proto/arp.h"
#include "proto/peer_link_udp.h"

namespace tandem {
namespace {

constexpr uint16_t kCluster = 7;
constexpr NodeId kSelf = 1;
constexpr NodeId kPeer = 2;
constexpr uint16_t kPeers = 1u << (kPeer - 1);
constexpr uint32_t kSelfIp = 0x0a080001;  // 10.8.0.1
constexpr uint32_t kPeerIp = 0x0a080002;  // 10.8.0.2
constexpr uint16_t kPort = 4790;

std::vector<uint8_t> innerFrame(size_t len = 60) {
    std::vector<uint8_t> f(len);
    for (size_t i = 0; i < len; ++i) f[i] = uint8_t(i * 7 + 3);
    f[12] = 0x08, f[13] = 0x00;
    return f;
}

PeerLinkHeader header(PeerLinkType type, uint16_t payload_len, NodeId from = kPeer,
                      NodeId to = kSelf) {
    PeerLinkHeader h;
    h.type = type;
    h.cluster_id = kCluster;
    h.from = from;
    h.to = to;
    h.reason = ForwardReason::owner_elsewhere;
    h.ingress_port = 1;
    h.session_hint = 0xdeadbeef;
    h.payload_len = payload_len;
    h.origin = 3;
    return h;
}

// A frame built by `frame` and the verdict a receiver must give it.
struct FrameRow {
    const char* what;
    std::function<std::vector<uint8_t>()> frame;
    PeerLinkResult expect;
};

// --- raw -------------------------------------------------------------------------------------

std::vector<uint8_t> rawFrame(const PeerLinkHeader& h, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> f(kPeerLinkOverhead + payload.size());
    for (int i = 0; i < 6; ++i) f[size_t(i)] = 0x02, f[size_t(6 + i)] = 0x04;
    f[12] = uint8_t(kPeerLinkEtherType >> 8);
    f[13] = uint8_t(kPeerLinkEtherType);
    encodePeerLinkHeader(h, f.data() + 14);
    std::memcpy(f.data() + kPeerLinkOverhead, payload.data(), payload.size());
    return f;
}

TEST_CASE("a raw forwarded frame round-trips with every header field") {
    auto inner = innerFrame();
    auto f = rawFrame(header(PeerLinkType::forwarded_frame, uint16_t(inner.size())), inner);
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kPeers, &h) ==
            PeerLinkResult::ok);
    CHECK(h.type == PeerLinkType::forwarded_frame);
    CHECK(h.cluster_id == kCluster);
    CHECK(h.from == kPeer);
    CHECK(h.to == kSelf);
    CHECK(h.reason == ForwardReason::owner_elsewhere);
    CHECK(h.ingress_port == 1);
    CHECK(h.session_hint == 0xdeadbeef);
    CHECK(h.payload_len == inner.size());
    CHECK(h.origin == 3);  // the node the frame entered the cluster by
    CHECK(std::memcmp(f.data() + kPeerLinkOverhead, inner.data(), inner.size()) == 0);
}

TEST_CASE("an egress frame (an owner returning a processed frame) round-trips") {
    auto inner = innerFrame();
    PeerLinkHeader out = header(PeerLinkType::egress_frame, uint16_t(inner.size()));
    out.reason = ForwardReason::egress_via_peer;
    out.ingress_port = 0;  // the port it is to leave by
    auto f = rawFrame(out, inner);
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kPeers, &h) ==
            PeerLinkResult::ok);
    CHECK(h.type == PeerLinkType::egress_frame);
    CHECK(h.reason == ForwardReason::egress_via_peer);
    CHECK(h.ingress_port == 0);
    CHECK(h.payload_len == inner.size());
}

TEST_CASE("raw frames that are not right are refused with their reason") {
    auto inner = innerFrame();
    const uint16_t n = uint16_t(inner.size());
    const std::vector<FrameRow> rows = {
        {"shorter than the headers",
         [&] {
             auto f = rawFrame(header(PeerLinkType::forwarded_frame, n), inner);
             f.resize(29);
             return f;
         },
         PeerLinkResult::truncated},
        {"another EtherType",
         [&] {
             auto f = rawFrame(header(PeerLinkType::forwarded_frame, n), inner);
             f[13] = 0xb6;
             return f;
         },
         PeerLinkResult::bad_ethertype},
        {"a payload length past the frame",
         [&] { return rawFrame(header(PeerLinkType::forwarded_frame, uint16_t(n + 1)), inner); },
         PeerLinkResult::bad_length},
        {"a forwarded frame shorter than Ethernet",
         [&] { return rawFrame(header(PeerLinkType::forwarded_frame, 13), inner); },
         PeerLinkResult::bad_length},
        {"a heartbeat shorter than a heartbeat",
         [&] { return rawFrame(header(PeerLinkType::heartbeat, 7), inner); },
         PeerLinkResult::bad_length},
        {"an egress frame shorter than Ethernet",
         [&] { return rawFrame(header(PeerLinkType::egress_frame, 13), inner); },
         PeerLinkResult::bad_length},
        {"type 0, below the known types",
         [&] {
             auto f = rawFrame(header(PeerLinkType::forwarded_frame, n), inner);
             f[15] = 0;
             return f;
         },
         PeerLinkResult::bad_type},
        {"type 5, above the known types",
         [&] {
             auto f = rawFrame(header(PeerLinkType::forwarded_frame, n), inner);
             f[15] = 5;
             return f;
         },
         PeerLinkResult::bad_type},
        {"an owner hint shorter than an owner hint",
         [&] { return rawFrame(header(PeerLinkType::owner_hint, 15), inner); },
         PeerLinkResult::bad_length},
    };
    for (const auto& row : rows) {
        CAPTURE(std::string(row.what));
        auto f = row.frame();
        PeerLinkHeader h;
        CHECK(decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kPeers, &h) == row.expect);
    }
}

TEST_CASE("a heartbeat payload round-trips") {
    PeerLinkHeartbeat hb;
    hb.seq = 0x01020304;
    hb.state = 3;
    uint8_t buf[kPeerLinkHeartbeatSize];
    encodePeerLinkHeartbeat(hb, buf);
    PeerLinkHeartbeat back;
    REQUIRE(decodePeerLinkHeartbeat(buf, sizeof buf, &back));
    CHECK(back.seq == hb.seq);
    CHECK(back.state == 3);
    CHECK_FALSE(decodePeerLinkHeartbeat(buf, sizeof buf - 1, &back));
}

TEST_CASE("an owner hint round-trips and names a node") {
    PeerLinkOwnerHint hint;
    hint.flow_hash = 0x0102030405060708ULL;
    hint.owner = 16;
    std::vector<uint8_t> payload(kPeerLinkOwnerHintSize);
    encodePeerLinkOwnerHint(hint, payload.data());
    auto f = rawFrame(header(PeerLinkType::owner_hint, uint16_t(payload.size())), payload);
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kPeers, &h) ==
            PeerLinkResult::ok);
    CHECK(h.type == PeerLinkType::owner_hint);
    PeerLinkOwnerHint back;
    REQUIRE(decodePeerLinkOwnerHint(f.data() + kPeerLinkOverhead, h.payload_len, &back));
    CHECK(back.flow_hash == hint.flow_hash);
    CHECK(back.owner == 16);
    CHECK_FALSE(decodePeerLinkOwnerHint(payload.data(), payload.size() - 1, &back));
    for (const uint8_t bad : {uint8_t(0), uint8_t(17), uint8_t(255)}) {
        payload[8] = bad;
        CHECK_FALSE(decodePeerLinkOwnerHint(payload.data(), payload.size(), &back));
    }
}

// --- udp -------------------------------------------------------------------------------------

PeerLinkUdpLocal local() {
    PeerLinkUdpLocal l;
    l.self = {kSelfIp, kPort};
    l.cluster_id = kCluster;
    l.node = kSelf;
    l.known_peers = kPeers;
    l.peer_ip[kPeer] = kPeerIp;
    l.peer_port[kPeer] = kPort;
    return l;
}

PeerLinkUdpRoute routeToSelf() {
    PeerLinkUdpRoute r;
    r.dst_mac = {0x02, 0, 0, 0, 0, 0x01};
    r.src_mac = {0x02, 0, 0, 0, 0, 0x02};
    r.src = {kPeerIp, kPort};
    r.dst = {kSelfIp, kPort};
    return r;
}

std::vector<uint8_t> udpFrame(const PeerLinkHeader& h, const std::vector<uint8_t>& payload,
                              const PeerLinkUdpRoute& route = routeToSelf()) {
    std::vector<uint8_t> f(kPeerLinkUdpOverhead + payload.size());
    encodePeerLinkUdpFrame(route, h, f.data());
    std::memcpy(f.data() + kPeerLinkUdpOverhead, payload.data(), payload.size());
    return f;
}

uint16_t be16(const std::vector<uint8_t>& f, size_t at) {
    return uint16_t(f[at] << 8 | f[at + 1]);
}
void setBe16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
    f[at] = uint8_t(v >> 8), f[at + 1] = uint8_t(v);
}

// Recomputes the IPv4 header checksum after a test changed the header.
void fixIpChecksum(std::vector<uint8_t>& f) {
    setBe16(f, 24, 0);
    setBe16(f, 24, uint16_t(~onesComplementSum(f.data() + 14, 20)));
}

void fillUdpChecksum(std::vector<uint8_t>& f) {
    const uint32_t src = uint32_t(be16(f, 26)) << 16 | be16(f, 28);
    const uint32_t dst = uint32_t(be16(f, 30)) << 16 | be16(f, 32);
    setBe16(f, 40, 0);
    uint16_t c = uint16_t(~udpChecksumSum(src, dst, f.data() + 34, be16(f, 38)));
    setBe16(f, 40, c == 0 ? 0xffff : c);
}

TEST_CASE("the IPv4 header checksum matches a known header") {
    // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7
    const uint8_t ip[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                            0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CHECK(uint16_t(~onesComplementSum(ip, 20)) == 0xb861);
    const uint8_t odd[3] = {0x01, 0x02, 0x03};
    CHECK(onesComplementSum(odd, 3) == 0x0402);
}

TEST_CASE("a udp forwarded frame is Ethernet, IPv4, UDP, the header and the inner frame") {
    auto inner = innerFrame(100);
    auto f = udpFrame(header(PeerLinkType::forwarded_frame, uint16_t(inner.size())), inner);
    REQUIRE(f.size() == 58 + 100);
    CHECK(be16(f, 12) == 0x0800);
    CHECK(f[14] == 0x45);
    CHECK(be16(f, 16) == 20 + 8 + 16 + 100);  // IPv4 total length
    CHECK(be16(f, 20) == 0x4000);             // DF, not a fragment
    CHECK(f[22] == 64);
    CHECK(f[23] == 17);
    CHECK(onesComplementSum(f.data() + 14, 20) == 0xffff);  // checksum filled
    CHECK(be16(f, 34) == kPort);                            // source port: the sender's listen port
    CHECK(be16(f, 36) == kPort);
    CHECK(be16(f, 38) == 8 + 16 + 100);
    CHECK(be16(f, 40) == 0);  // no UDP checksum
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == PeerLinkResult::ok);
    CHECK(h.from == kPeer);
    CHECK(h.to == kSelf);
    CHECK(h.session_hint == 0xdeadbeef);
    CHECK(h.ingress_port == 1);
    CHECK(h.payload_len == 100);
    CHECK(std::memcmp(f.data() + kPeerLinkUdpOverhead, inner.data(), inner.size()) == 0);
}

TEST_CASE("a udp heartbeat is accepted, and so is a filled-in UDP checksum") {
    std::vector<uint8_t> payload(kPeerLinkHeartbeatSize);
    PeerLinkHeartbeat hb;
    hb.seq = 42;
    encodePeerLinkHeartbeat(hb, payload.data());
    auto f = udpFrame(header(PeerLinkType::heartbeat, kPeerLinkHeartbeatSize), payload);
    PeerLinkHeader h;
    CHECK(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == PeerLinkResult::ok);
    CHECK(h.type == PeerLinkType::heartbeat);
    fillUdpChecksum(f);
    CHECK(be16(f, 40) != 0);
    CHECK(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == PeerLinkResult::ok);
    // Ethernet padding after the datagram is not part of it.
    f.resize(f.size() + 10, 0);
    CHECK(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == PeerLinkResult::ok);
}

TEST_CASE("udp peer-link frames that are not right are refused with their reason") {
    auto inner = innerFrame();
    const uint16_t n = uint16_t(inner.size());
    auto good = [&] { return udpFrame(header(PeerLinkType::forwarded_frame, n), inner); };
    const std::vector<FrameRow> rows = {
        {"shorter than Ethernet",
         [&] {
             auto f = good();
             f.resize(13);
             return f;
         },
         PeerLinkResult::truncated},
        {"IPv6",
         [&] {
             auto f = good();
             setBe16(f, 12, 0x86dd);
             return f;
         },
         PeerLinkResult::bad_ethertype},
        {"the raw EtherType",
         [&] {
             auto f = good();
             setBe16(f, 12, kPeerLinkEtherType);
             return f;
         },
         PeerLinkResult::bad_ethertype},
        {"cut inside the UDP header",
         [&] {
             auto f = good();
             f.resize(40);
             return f;
         },
         PeerLinkResult::truncated},
        {"IPv4 with options",
         [&] {
             auto f = good();
             f[14] = 0x46;
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::bad_ip_header},
        {"IP version 6 in an IPv4 frame",
         [&] {
             auto f = good();
             f[14] = 0x65;
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::bad_ip_header},
        {"an IPv4 length past the frame",
         [&] {
             auto f = good();
             setBe16(f, 16, uint16_t(be16(f, 16) + 1));
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::bad_ip_header},
        {"an IPv4 length shorter than IPv4 + UDP",
         [&] {
             auto f = good();
             setBe16(f, 16, 27);
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::bad_ip_header},
        {"a first fragment (more fragments set)",
         [&] {
             auto f = good();
             setBe16(f, 20, 0x2000);
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::ip_fragment},
        {"a later fragment (offset set)",
         [&] {
             auto f = good();
             setBe16(f, 20, 0x0010);
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::ip_fragment},
        {"a wrong IPv4 checksum",
         [&] {
             auto f = good();
             f[25] ^= 1;
             return f;
         },
         PeerLinkResult::bad_ip_checksum},
        {"TCP",
         [&] {
             auto f = good();
             f[23] = 6;
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::not_udp},
        {"to another address",
         [&] {
             auto r = routeToSelf();
             r.dst.ip = kSelfIp + 5;
             return udpFrame(header(PeerLinkType::forwarded_frame, n), inner, r);
         },
         PeerLinkResult::not_our_address},
        {"to another port",
         [&] {
             auto r = routeToSelf();
             r.dst.port = 4789;
             return udpFrame(header(PeerLinkType::forwarded_frame, n), inner, r);
         },
         PeerLinkResult::not_our_address},
        {"a UDP length longer than the IPv4 payload",
         [&] {
             auto f = good();
             setBe16(f, 38, uint16_t(be16(f, 38) + 1));
             return f;
         },
         PeerLinkResult::bad_udp_length},
        {"a UDP length shorter than the IPv4 payload",
         [&] {
             auto f = good();
             setBe16(f, 38, uint16_t(be16(f, 38) - 1));
             return f;
         },
         PeerLinkResult::bad_udp_length},
        {"a wrong UDP checksum",
         [&] {
             auto f = good();
             fillUdpChecksum(f);
             f.back() ^= 0x40;
             return f;
         },
         PeerLinkResult::bad_udp_checksum},
        {"from an address that is no peer's",
         [&] {
             auto r = routeToSelf();
             r.src.ip = 0x0a080063;
             return udpFrame(header(PeerLinkType::forwarded_frame, n), inner, r);
         },
         PeerLinkResult::unknown_source},
        {"from a peer's address but another port",
         [&] {
             auto r = routeToSelf();
             r.src.port = 4791;
             return udpFrame(header(PeerLinkType::forwarded_frame, n), inner, r);
         },
         PeerLinkResult::unknown_source},
        {"from this node's own address",
         [&] {
             auto r = routeToSelf();
             r.src.ip = kSelfIp;
             return udpFrame(header(PeerLinkType::forwarded_frame, n), inner, r);
         },
         PeerLinkResult::unknown_source},
        {"a UDP payload shorter than the peer-link header",
         [&] {
             auto f = good();
             f.resize(14 + 20 + 8 + 10);
             setBe16(f, 16, 20 + 8 + 10);
             setBe16(f, 38, 8 + 10);
             fixIpChecksum(f);
             return f;
         },
         PeerLinkResult::truncated},
        {"a payload length past the datagram (padding does not count)",
         [&] {
             auto f = udpFrame(header(PeerLinkType::forwarded_frame, uint16_t(n + 4)), inner);
             // the IPv4 and UDP lengths say the datagram ends where the frame does
             setBe16(f, 16, uint16_t(f.size() - 14));
             setBe16(f, 38, uint16_t(f.size() - 34));
             fixIpChecksum(f);
             f.resize(f.size() + 4, 0);
             return f;
         },
         PeerLinkResult::bad_length},
    };
    for (const auto& row : rows) {
        CAPTURE(std::string(row.what));
        auto f = row.frame();
        PeerLinkHeader h;
        CHECK(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == row.expect);
    }
}

TEST_CASE("a header from a configured peer but another peer's address is a source mismatch") {
    PeerLinkUdpLocal l = local();
    l.known_peers |= 1u << (3 - 1);
    l.peer_ip[3] = 0x0a080003;
    l.peer_port[3] = kPort;
    auto r = routeToSelf();
    r.src.ip = 0x0a080003;  // node 3's address, claiming to be node 2
    auto inner = innerFrame();
    auto f = udpFrame(header(PeerLinkType::forwarded_frame, uint16_t(inner.size())), inner, r);
    PeerLinkHeader h;
    CHECK(decodePeerLinkUdpFrame(f.data(), f.size(), l, &h) == PeerLinkResult::source_mismatch);
}

TEST_CASE("no prefix of a udp peer-link frame is accepted or read past") {
    auto inner = innerFrame();
    auto f = udpFrame(header(PeerLinkType::forwarded_frame, uint16_t(inner.size())), inner);
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkUdpFrame(f.data(), f.size(), local(), &h) == PeerLinkResult::ok);
    for (size_t len = 0; len < f.size(); ++len) {
        CAPTURE(len);
        std::vector<uint8_t> cut(f.begin(),
                                 f.begin() + long(len));  // exact size: ASan sees overreads
        // Shorter than Ethernet + IPv4 + UDP: truncated; longer, the IPv4
        // total length runs past the end of the frame.
        const PeerLinkResult expect = len < kPeerLinkUdpHeadersSize ? PeerLinkResult::truncated
                                                                    : PeerLinkResult::bad_ip_header;
        CHECK(decodePeerLinkUdpFrame(cut.data(), cut.size(), local(), &h) == expect);
    }
}

TEST_CASE("no prefix of a raw peer-link frame is accepted or read past") {
    auto inner = innerFrame();
    auto f = rawFrame(header(PeerLinkType::forwarded_frame, uint16_t(inner.size())), inner);
    PeerLinkHeader h;
    REQUIRE(decodePeerLinkFrame(f.data(), f.size(), kCluster, kSelf, kPeers, &h) ==
            PeerLinkResult::ok);
    for (size_t len = 0; len < f.size(); ++len) {
        CAPTURE(len);
        std::vector<uint8_t> cut(f.begin(),
                                 f.begin() + long(len));  // exact size: ASan sees overreads
        // Shorter than Ethernet + the header: truncated; longer, the payload
        // length runs past the end of the frame.
        const PeerLinkResult expect =
            len < kPeerLinkOverhead ? PeerLinkResult::truncated : PeerLinkResult::bad_length;
        CHECK(decodePeerLinkFrame(cut.data(), cut.size(), kCluster, kSelf, kPeers, &h) == expect);
    }
}

// Header checks both transports share: a header changed after encoding,
// and the verdict.
struct HeaderRow {
    const char* what;
    std::function<void(uint8_t* header)> change;
    PeerLinkResult expect;
};

const std::vector<HeaderRow>& headerRows() {
    static const std::vector<HeaderRow> rows = {
        {"version 2", [](uint8_t* h) { h[0] = 2; }, PeerLinkResult::bad_version},
        {"version 0", [](uint8_t* h) { h[0] = 0; }, PeerLinkResult::bad_version},
        {"type 5", [](uint8_t* h) { h[1] = 5; }, PeerLinkResult::bad_type},
        {"type 0", [](uint8_t* h) { h[1] = 0; }, PeerLinkResult::bad_type},
        {"another cluster", [](uint8_t* h) { h[3] = 8; }, PeerLinkResult::wrong_cluster},
        {"from a node that is not a peer", [](uint8_t* h) { h[4] = 3; },
         PeerLinkResult::unknown_node},
        {"from node 0", [](uint8_t* h) { h[4] = 0; }, PeerLinkResult::unknown_node},
        {"from node 200", [](uint8_t* h) { h[4] = 200; }, PeerLinkResult::unknown_node},
        {"from this node itself", [](uint8_t* h) { h[4] = kSelf; }, PeerLinkResult::unknown_node},
        {"to another node", [](uint8_t* h) { h[5] = 3; }, PeerLinkResult::not_for_us},
        {"to nobody", [](uint8_t* h) { h[5] = 0; }, PeerLinkResult::not_for_us},
        {"a payload length of 0xffff", [](uint8_t* h) { h[12] = h[13] = 0xff; },
         PeerLinkResult::bad_length},
    };
    return rows;
}

TEST_CASE("header checks refuse the same headers on both transports") {
    auto inner = innerFrame();
    const PeerLinkHeader h = header(PeerLinkType::forwarded_frame, uint16_t(inner.size()));
    for (const auto& row : headerRows()) {
        CAPTURE(std::string(row.what));
        PeerLinkHeader out;
        auto raw = rawFrame(h, inner);
        row.change(raw.data() + 14);
        CHECK(decodePeerLinkFrame(raw.data(), raw.size(), kCluster, kSelf, kPeers, &out) ==
              row.expect);
        auto udp = udpFrame(h, inner);
        row.change(udp.data() + kPeerLinkUdpHeadersSize);
        CHECK(decodePeerLinkUdpFrame(udp.data(), udp.size(), local(), &out) == row.expect);
    }
}

// --- ARP -------------------------------------------------------------------------------------

ArpMessage decodedArp(const uint8_t* frame) {
    ArpMessage m;
    REQUIRE(decodeArp(frame, kArpFrameSize, &m));
    return m;
}

TEST_CASE("an ARP request and its reply round-trip") {
    const std::array<uint8_t, 6> mine = {0x02, 0, 0, 0, 0, 0x01};
    const std::array<uint8_t, 6> theirs = {0x02, 0, 0, 0, 0, 0x02};
    const std::array<uint8_t, 6> unknown{};
    uint8_t frame[kArpFrameSize];
    encodeArp(arpRequest(mine, kSelfIp, kPeerIp), kBroadcastMac, frame);
    CHECK(std::memcmp(frame, kBroadcastMac.data(), 6) == 0);
    const ArpMessage req = decodedArp(frame);
    CHECK((req.op == ArpOp::request && req.sender_mac == mine && req.sender_ip == kSelfIp &&
           req.target_mac == unknown && req.target_ip == kPeerIp));

    encodeArp(arpReply(req, theirs, kPeerIp), req.sender_mac, frame);
    CHECK(std::memcmp(frame, mine.data(), 6) == 0);
    CHECK(std::memcmp(frame + 6, theirs.data(), 6) == 0);
    const ArpMessage rep = decodedArp(frame);
    CHECK((rep.op == ArpOp::reply && rep.sender_mac == theirs && rep.sender_ip == kPeerIp &&
           rep.target_mac == mine && rep.target_ip == kSelfIp));
}

TEST_CASE("ARP frames that are not IPv4 over Ethernet requests or replies are refused") {
    const std::array<uint8_t, 6> mine = {0x02, 0, 0, 0, 0, 0x01};
    struct Row {
        const char* what;
        size_t at;  // byte to change (or the length to cut to, for "short")
        uint8_t value;
    };
    const Row rows[] = {
        {"another EtherType", 13, 0x00}, {"hardware type 6", 15, 6},
        {"protocol IPv6", 16, 0x86},     {"hardware length 8", 18, 8},
        {"protocol length 16", 19, 16},  {"operation 3 (RARP)", 21, 3},
        {"operation 0", 21, 0},
    };
    for (const auto& row : rows) {
        CAPTURE(std::string(row.what));
        std::vector<uint8_t> f(kArpFrameSize);
        encodeArp(arpRequest(mine, kSelfIp, kPeerIp), kBroadcastMac, f.data());
        f[row.at] = row.value;
        ArpMessage m;
        CHECK_FALSE(decodeArp(f.data(), f.size(), &m));
    }
    std::vector<uint8_t> f(kArpFrameSize);
    encodeArp(arpRequest(mine, kSelfIp, kPeerIp), kBroadcastMac, f.data());
    ArpMessage whole;
    REQUIRE(decodeArp(f.data(), f.size(), &whole));  // the frame the rows change is accepted
    for (size_t len = 0; len < kArpFrameSize; ++len) {
        std::vector<uint8_t> cut(f.begin(), f.begin() + long(len));
        ArpMessage m;
        CHECK_FALSE(decodeArp(cut.data(), cut.size(), &m));
    }
}

TEST_CASE("only a neighbour's reply to this node's own outstanding request teaches its MAC") {
    const std::array<uint8_t, 6> own = {0x02, 0, 0, 0, 0, 0x01};
    const std::array<uint8_t, 6> theirs = {0x02, 0, 0, 0, 0, 0x02};
    const uint32_t own_ip = 0x0a080001, peer_ip = 0x0a080002;
    const ArpMessage asked = arpRequest(own, own_ip, peer_ip);
    const ArpMessage reply = arpReply(asked, theirs, peer_ip);
    CHECK(arpTeachesNeighbour(reply, peer_ip, own_ip, own, true));
    // Not asked lately: an unsolicited reply.
    CHECK_FALSE(arpTeachesNeighbour(reply, peer_ip, own_ip, own, false));
    // The peer's own request for this node: anyone could send it.
    CHECK_FALSE(
        arpTeachesNeighbour(arpRequest(theirs, peer_ip, own_ip), peer_ip, own_ip, own, true));
    // A reply to someone else's request, or from another address.
    ArpMessage other = reply;
    other.target_mac = {0x02, 0, 0, 0, 0, 0x09};
    CHECK_FALSE(arpTeachesNeighbour(other, peer_ip, own_ip, own, true));
    other = reply;
    other.target_ip = own_ip + 7;
    CHECK_FALSE(arpTeachesNeighbour(other, peer_ip, own_ip, own, true));
    CHECK_FALSE(arpTeachesNeighbour(reply, peer_ip + 1, own_ip, own, true));
    // A multicast sender MAC is never a next hop.
    other = reply;
    other.sender_mac[0] |= 1;
    CHECK_FALSE(arpTeachesNeighbour(other, peer_ip, own_ip, own, true));
}

}  // namespace
}  // namespace tandem
