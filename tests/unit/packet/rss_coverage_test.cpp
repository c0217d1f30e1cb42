// rssCoversFrame (packet/rss_coverage.h): the frames a worker keeps where
// the device put them under rss steering, as a table of frames, and against
// the parser's whole fixture table: a frame it keeps is one the pipeline
// keys by the plain TCP or UDP tuple the device hashed (or cannot parse at
// all, which workerFor would leave where it is too).
#include "packet/rss_coverage.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "unit/packet/parser_fixture.h"

using namespace tandem;
using test::FrameBuilder;

namespace {

std::vector<uint8_t> withIpv4Options(std::vector<uint8_t> f) {
    f[14] = 0x46;  // a 24-byte header (the check reads no further)
    return f;
}

std::vector<uint8_t> arp() {
    std::vector<uint8_t> f(60, 0);
    f[12] = 0x08, f[13] = 0x06;
    return f;
}

}  // namespace

TEST_CASE("a worker keeps plain TCP and UDP and hands on every other frame") {
    const std::string c4 = "10.0.1.5", s4 = "192.0.2.9", c6 = "2001:db8::5", s6 = "2001:db8:1::9";
    const auto tcp4 = FrameBuilder::tcp(c4, 40000, s4, 443, kTcpSyn).build();
    ParseOptions plain, geneve, vxlan;
    geneve.geneve_port = 6081;
    vxlan.vxlan_port = 4789;
    struct Row {
        const char* description;
        std::vector<uint8_t> frame;
        ParseOptions opts;
        bool kept;
    };
    const Row rows[] = {
        {"TCP over IPv4", tcp4, plain, true},
        {"TCP over IPv4, the other way",
         FrameBuilder::tcp(s4, 443, c4, 40000, kTcpSyn | kTcpAck).build(), plain, true},
        {"UDP over IPv4", FrameBuilder::udp(c4, 5353, s4, 53).build(), plain, true},
        {"TCP over IPv6", FrameBuilder::tcp(c6, 40000, s6, 443, kTcpSyn).build(), plain, true},
        {"UDP over IPv6", FrameBuilder::udp(c6, 5353, s6, 53).build(), plain, true},
        {"an IPv4 first fragment (devices hash it by addresses)",
         FrameBuilder::udp(c4, 7000, s4, 9000).ipId(7).fragment(0, true).payload(40).build(), plain,
         false},
        {"a later IPv4 fragment",
         FrameBuilder::udp(c4, 7000, s4, 9000).ipId(7).fragment(48, false).payload(40).build(),
         plain, false},
        {"an IPv6 fragment",
         FrameBuilder::udp(c6, 7000, s6, 9000).ipId(7).fragment(0, true).payload(40).build(), plain,
         false},
        {"an ICMP echo", FrameBuilder::echo(c4, s4, 9, true).build(), plain, false},
        {"an ICMPv6 echo", FrameBuilder::echo(c6, s6, 9, true).build(), plain, false},
        {"an ICMP error about a TCP flow (keyed by the embedded header)",
         FrameBuilder::icmpError("198.51.100.1", c4, tcp4).build(), plain, false},
        {"TCP in a VLAN", FrameBuilder::tcp(c4, 40000, s4, 443, kTcpSyn).vlan(7).build(), plain,
         false},
        {"TCP over IPv4 with options", withIpv4Options(tcp4), plain, false},
        {"ARP", arp(), plain, false},
        {"a frame cut before the ports", std::vector<uint8_t>(tcp4.begin(), tcp4.begin() + 36),
         plain, false},
        {"UDP to the GENEVE port, GENEVE decapsulated",
         FrameBuilder::udp(c4, 40000, s4, 6081).payload(40).build(), geneve, false},
        {"UDP to the GENEVE port, GENEVE off",
         FrameBuilder::udp(c4, 40000, s4, 6081).payload(40).build(), plain, true},
        {"UDP to the VXLAN port, VXLAN decapsulated",
         FrameBuilder::udp(c4, 40000, s4, 4789).payload(40).build(), vxlan, false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.description);
        CHECK(rssCoversFrame(r.frame.data(), r.frame.size(), r.opts) == r.kept);
    }
}

TEST_CASE("every parser fixture a worker keeps is a plain TCP or UDP flow, or unparsable") {
    uint32_t kept = 0, handed_on = 0;
    for (const test::ParserFixture& f : test::parserFixtures()) {
        if (f.entry != test::Entry::frame) continue;
        CAPTURE(f.name);
        const std::vector<uint8_t> bytes = test::fromHex(f.hex);
        if (!rssCoversFrame(bytes.data(), bytes.size(), f.opts)) {
            ++handed_on;
            continue;
        }
        ++kept;
        PacketInfo info;
        if (test::parseFixture(f, info) != ParseResult::ok) continue;
        CHECK(info.has_l4);
        CHECK((info.proto == kProtoTcp || info.proto == kProtoUdp));
        CHECK_FALSE(info.is_fragment);
        CHECK_FALSE(info.icmp_is_error);
        CHECK(info.tunnel.kind == TunnelKind::none);
        CHECK(info.vlan_count == 0);
    }
    CHECK(kept > 5);
    CHECK(handed_on > 5);
}
