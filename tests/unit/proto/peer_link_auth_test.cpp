// Peer-link authentication: the pair keys, the trailer's tag and the
// replay window; and that the raw and udp decoders leave room for it.
#include <doctest/doctest.h>
#include <sodium.h>

#include <array>
#include <vector>

#include "cluster/cluster_view.h"
#include "proto/peer_link.h"
#include "proto/peer_link_auth.h"
#include "proto/peer_link_receive.h"
#include "proto/peer_link_udp.h"

using namespace tandem;

namespace {

struct Keypair {
    std::array<uint8_t, 32> pub, sec;
    Keypair() {
        REQUIRE(sodium_init() >= 0);
        crypto_box_keypair(pub.data(), sec.data());  // X25519, as CURVE keys are
    }
};

// A header (flags announcing the trailer), a payload and room for the trailer.
std::vector<uint8_t> frameBody(size_t payload_len, NodeId from = 2, NodeId to = 1) {
    PeerLinkHeader h;
    h.type = PeerLinkType::forwarded_frame;
    h.cluster_id = 7;
    h.from = from;
    h.to = to;
    h.payload_len = uint16_t(payload_len);
    h.flags = kPeerLinkFlagAuthenticated;
    std::vector<uint8_t> f(kPeerLinkHeaderSize + payload_len + kPeerLinkAuthTrailerSize);
    encodePeerLinkHeader(h, f.data());
    for (size_t i = 0; i < payload_len; ++i) f[kPeerLinkHeaderSize + i] = uint8_t(i * 7 + 3);
    return f;
}

}  // namespace

TEST_CASE("both nodes of a pair derive the same peer-link key - other pairs and clusters differ") {
    Keypair a, b, c;
    PeerLinkKey ab, ba, ac, ab_other_cluster, ab_swapped_ids;
    REQUIRE(derivePeerLinkKey(a.sec.data(), b.pub.data(), 7, 1, 2, &ab));
    REQUIRE(derivePeerLinkKey(b.sec.data(), a.pub.data(), 7, 2, 1, &ba));
    REQUIRE(derivePeerLinkKey(a.sec.data(), c.pub.data(), 7, 1, 3, &ac));
    REQUIRE(derivePeerLinkKey(a.sec.data(), b.pub.data(), 8, 1, 2, &ab_other_cluster));
    REQUIRE(derivePeerLinkKey(a.sec.data(), b.pub.data(), 7, 1, 4, &ab_swapped_ids));
    CHECK(ab == ba);
    CHECK(ab != ac);
    CHECK(ab != ab_other_cluster);
    CHECK(ab != ab_swapped_ids);
    // A public key of low order (all zero) gives no shared secret.
    std::array<uint8_t, 32> zero{};
    PeerLinkKey k;
    CHECK_FALSE(derivePeerLinkKey(a.sec.data(), zero.data(), 7, 1, 2, &k));
}

TEST_CASE("a sealed frame verifies with its key only, and any changed bit breaks it") {
    REQUIRE(peerLinkAuthAvailable());
    Keypair a, b, c;
    PeerLinkKey k_ab, k_ac;
    REQUIRE(derivePeerLinkKey(a.sec.data(), b.pub.data(), 7, 1, 2, &k_ab));
    REQUIRE(derivePeerLinkKey(a.sec.data(), c.pub.data(), 7, 1, 3, &k_ac));
    PeerLinkCipher key, other;
    REQUIRE(key.init(k_ab));
    REQUIRE(other.init(k_ac));
    for (size_t payload : {size_t(0), size_t(8), size_t(60), size_t(1514)}) {
        CAPTURE(payload);
        auto f = frameBody(payload);
        sealPeerLinkFrame(key, f.data(), payload, 0xa5a5a5a5, 0x0123456789abcdefull);
        uint64_t seq = 0;
        REQUIRE(verifyPeerLinkFrame(key, f.data(), payload, &seq));
        CHECK(seq == 0x0123456789abcdefull);
        CHECK_FALSE(verifyPeerLinkFrame(other, f.data(), payload, &seq));
        // Sealed again with another salt: another tag for the same bytes.
        auto g = frameBody(payload);
        sealPeerLinkFrame(key, g.data(), payload, 0x5a5a5a5a, 0x0123456789abcdefull);
        CHECK(std::vector<uint8_t>(g.end() - kPeerLinkTagSize, g.end()) !=
              std::vector<uint8_t>(f.end() - kPeerLinkTagSize, f.end()));
        // Every byte (header, payload, salt, seq, tag), one bit at a time.
        size_t broken = 0;
        for (size_t i = 0; i < f.size(); ++i) {
            auto g = f;
            g[i] ^= uint8_t(1u << (i % 8));
            broken += !verifyPeerLinkFrame(key, g.data(), payload, &seq);
        }
        CHECK(broken == f.size());
    }
}

TEST_CASE("the replay window accepts each sequence number once, in any order within 1024") {
    ReplayWindow w;
    CHECK_FALSE(w.accept(0));
    CHECK(w.accept(1000));
    CHECK_FALSE(w.accept(1000));
    CHECK(w.accept(1002));
    CHECK(w.accept(1001));  // late, not seen: accepted once
    CHECK_FALSE(w.accept(1001));
    CHECK(w.accept(1003));
    // 1024 behind the top is out of the window; 1023 behind is in.
    CHECK(w.accept(3000));
    CHECK_FALSE(w.accept(3000 - 1024));
    CHECK(w.accept(3000 - 1023));
    CHECK_FALSE(w.accept(3000 - 1023));
    // Positions reused after the window moved on are free again.
    CHECK(w.accept(3000 + 1024 - 1023 + 5));
    CHECK(w.accept(3000 + 5));
    // A sender that restarted continues far above: accepted, the old range is gone.
    CHECK(w.accept(uint64_t(1) << 60));
    CHECK_FALSE(w.accept(3000 + 6));
    CHECK(w.accept((uint64_t(1) << 60) + 1));
    // Random order inside the window: each once.
    ReplayWindow r;
    std::vector<uint64_t> seqs;
    for (uint64_t s = 5000; s < 5500; ++s) seqs.push_back(s);
    for (size_t i = 0; i < seqs.size(); ++i) std::swap(seqs[i], seqs[(i * 7919) % seqs.size()]);
    size_t ok = 0;
    for (uint64_t s : seqs) ok += r.accept(s);
    for (uint64_t s : seqs) ok += r.accept(s);
    CHECK(ok == seqs.size());
}

TEST_CASE("the decoders count the trailer a header announces as part of the frame") {
    const std::vector<uint8_t> inner(60, 0xab);
    PeerLinkHeader h;
    h.type = PeerLinkType::forwarded_frame;
    h.cluster_id = 7;
    h.from = 2;
    h.to = 1;
    h.payload_len = uint16_t(inner.size());
    h.flags = kPeerLinkFlagAuthenticated;
    std::vector<uint8_t> raw(kPeerLinkOverhead + inner.size() + kPeerLinkAuthTrailerSize);
    raw[12] = uint8_t(kPeerLinkEtherType >> 8), raw[13] = uint8_t(kPeerLinkEtherType);
    encodePeerLinkHeader(h, raw.data() + 14);
    PeerLinkHeader out;
    CHECK(decodePeerLinkFrame(raw.data(), raw.size(), 7, 1, 0b10, &out) == PeerLinkResult::ok);
    CHECK(out.flags == kPeerLinkFlagAuthenticated);
    // Without room for the trailer the frame is short.
    CHECK(decodePeerLinkFrame(raw.data(), raw.size() - 1, 7, 1, 0b10, &out) ==
          PeerLinkResult::bad_length);

    // udp: the lengths of IPv4 and UDP include the trailer.
    PeerLinkUdpRoute route;
    route.src = {0x0a080002, 4790};
    route.dst = {0x0a080001, 4790};
    std::vector<uint8_t> udp(kPeerLinkUdpOverhead + inner.size() + kPeerLinkAuthTrailerSize);
    encodePeerLinkUdpFrame(route, h, udp.data());
    PeerLinkUdpLocal local;
    local.self = route.dst;
    local.cluster_id = 7;
    local.node = 1;
    local.known_peers = 0b10;
    local.peer_ip[2] = route.src.ip;
    local.peer_port[2] = route.src.port;
    CHECK(decodePeerLinkUdpFrame(udp.data(), udp.size(), local, &out) == PeerLinkResult::ok);
    CHECK(size_t(udp[16] << 8 | udp[17]) ==
          20 + 8 + kPeerLinkHeaderSize + inner.size() + kPeerLinkAuthTrailerSize);
}

TEST_CASE("a received raw frame passes its header checks, then its tag, then the replay window") {
    Keypair a, b;
    PeerLinkKey key;
    REQUIRE(derivePeerLinkKey(a.sec.data(), b.pub.data(), 7, 1, 2, &key));
    std::array<PeerLinkCipher, kMaxNodes + 1> ciphers;
    REQUIRE(ciphers[2].init(key));
    std::array<ReplayWindow, kMaxNodes + 1> replay;
    PeerLinkReceiveRules rules;
    rules.cluster_id = 7;
    rules.self = 1;
    rules.known_peers = nodeBit(2);
    rules.ciphers = ciphers.data();

    // Ethernet (peer-link EtherType) + a sealed header and payload from node 2.
    std::vector<uint8_t> body = frameBody(40);
    sealPeerLinkFrame(ciphers[2], body.data(), 40, 0x01020304, 1000);
    std::vector<uint8_t> frame(14, 0);
    frame[12] = uint8_t(kPeerLinkEtherType >> 8);
    frame[13] = uint8_t(kPeerLinkEtherType);
    frame.insert(frame.end(), body.begin(), body.end());

    PeerLinkHeader h;
    CHECK(checkPeerLinkFrame(rules, replay.data(), frame.data(), frame.size(), &h) ==
          PeerLinkResult::ok);
    CHECK(h.from == 2);
    CHECK(checkPeerLinkFrame(rules, replay.data(), frame.data(), frame.size(), &h) ==
          PeerLinkResult::replayed);
    std::vector<uint8_t> forged = frame;
    forged[14 + kPeerLinkHeaderSize + 5] ^= 1;
    CHECK(checkPeerLinkFrame(rules, replay.data(), forged.data(), forged.size(), &h) ==
          PeerLinkResult::bad_tag);
    std::vector<uint8_t> plain = frame;
    plain[14 + 15] = 0;  // flags: no trailer announced
    CHECK(checkPeerLinkFrame(rules, replay.data(), plain.data(), plain.size(), &h) ==
          PeerLinkResult::unauthenticated);
    // Without ciphers (peer-link-auth off) the header checks alone decide.
    rules.ciphers = nullptr;
    CHECK(checkPeerLinkFrame(rules, replay.data(), plain.data(), plain.size(), &h) ==
          PeerLinkResult::ok);
    rules.known_peers = nodeBit(3);
    CHECK(checkPeerLinkFrame(rules, replay.data(), plain.data(), plain.size(), &h) ==
          PeerLinkResult::unknown_node);
}
