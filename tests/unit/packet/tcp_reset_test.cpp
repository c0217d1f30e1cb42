// The resets written for a `reset` rule: parsed back by the parser, their
// checksums computed here independently of the code under test.
#include "packet/tcp_reset.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "fixtures/frame_builder.h"
#include "packet/packet_parser.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

uint16_t be16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}

// The TCP checksum sum over pseudo header and segment: 0xffff when right.
uint16_t tcpSum(const std::vector<uint8_t>& f, const PacketInfo& info) {
    const size_t seg = info.ip_total_len - info.l3_len;
    uint32_t sum = kProtoTcp + uint32_t(seg);
    const bool v6 = info.family == AddrFamily::v6;
    const uint8_t* a = v6 ? info.src.b.data() : info.src.b.data() + 12;
    const uint8_t* b = v6 ? info.dst.b.data() : info.dst.b.data() + 12;
    for (size_t i = 0; i < (v6 ? 16u : 4u); i += 2) sum += be16(a + i) + be16(b + i);
    const uint8_t* t = f.data() + info.l4_offset;
    for (size_t i = 0; i < seg; i += 2) sum += i + 1 < seg ? be16(t + i) : uint32_t(t[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

// Fills in the frame's TCP checksum (the builder leaves it zero).
void fillTcpChecksum(std::vector<uint8_t>& f) {
    PacketInfo info;
    REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
    const uint16_t c = uint16_t(~tcpSum(f, info));
    f[info.l4_offset + 16] = uint8_t(c >> 8);
    f[info.l4_offset + 17] = uint8_t(c);
}

PacketInfo parsed(const std::vector<uint8_t>& f) {
    PacketInfo info;
    REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
    return info;
}

std::vector<uint8_t> reverseOf(const std::vector<uint8_t>& seg) {
    uint8_t out[kMaxResetFrame];
    const size_t n = buildReverseReset(seg.data(), parsed(seg), out, sizeof out);
    return {out, out + n};
}

}  // namespace

TEST_CASE("a reset back to the sender of a data segment takes its acknowledgement") {
    for (const char* family : {"v4", "v6"}) {
        CAPTURE(family);
        const bool v6 = std::strcmp(family, "v6") == 0;
        const std::string client = v6 ? "2001:db8::1" : "10.0.0.1";
        const std::string server = v6 ? "2001:db8:1::2" : "10.0.1.2";
        const auto seg = FrameBuilder::tcp(client, 40000, server, 443, kTcpAck | kTcpPsh)
                             .seq(1001)
                             .ack(5001)
                             .payload(517)
                             .vlan(7)
                             .build();
        const auto rst = reverseOf(seg);
        REQUIRE(!rst.empty());
        CHECK(rst.size() <= kMaxResetFrame);
        // The MAC addresses turned around, the VLAN tag kept.
        CHECK(std::memcmp(rst.data(), seg.data() + 6, 6) == 0);
        CHECK(std::memcmp(rst.data() + 6, seg.data(), 6) == 0);
        CHECK(std::memcmp(rst.data() + 12, seg.data() + 12, 4) == 0);
        const PacketInfo in = parsed(seg), out = parsed(rst);
        CHECK(out.src == in.dst);
        CHECK(out.dst == in.src);
        CHECK(out.sport == 443);
        CHECK(out.dport == 40000);
        CHECK(out.tcp.flags == (kTcpRst | kTcpAck));
        CHECK(out.tcp.seq == 5001);        // what the client expects next
        CHECK(out.tcp.ack == 1001 + 517);  // all it sent
        CHECK(out.tcp.payload_len == 0);
        CHECK(out.vlan_count == 1);
        CHECK(out.vlan_ids[0] == 7);
        CHECK(tcpSum(rst, out) == 0xffff);
    }
}

TEST_CASE("a reset back to the sender of a SYN acknowledges the SYN") {
    const auto syn = FrameBuilder::tcp("10.0.0.1", 40000, "10.0.1.2", 22, kTcpSyn).seq(7).build();
    const auto rst = reverseOf(syn);
    REQUIRE(!rst.empty());
    const PacketInfo out = parsed(rst);
    CHECK(out.tcp.flags == (kTcpRst | kTcpAck));
    CHECK(out.tcp.seq == 0);
    CHECK(out.tcp.ack == 8);
    CHECK(tcpSum(rst, out) == 0xffff);
    // The IPv4 header's checksum is right: its sum is 0xffff.
    uint32_t sum = 0;
    for (size_t i = 14; i < 34; i += 2) sum += be16(rst.data() + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    CHECK(sum == 0xffff);
}

TEST_CASE("no reset answers a reset, a fragment, a UDP datagram, or a frame without room") {
    const auto rst = FrameBuilder::tcp("10.0.0.1", 1, "10.0.1.2", 2, kTcpRst | kTcpAck).build();
    CHECK(reverseOf(rst).empty());
    const auto udp = FrameBuilder::udp("10.0.0.1", 1, "10.0.1.2", 53).payload(20).build();
    CHECK(reverseOf(udp).empty());
    const auto seg = FrameBuilder::tcp("10.0.0.1", 1, "10.0.1.2", 2, kTcpAck).payload(10).build();
    uint8_t small[40];
    CHECK(buildReverseReset(seg.data(), parsed(seg), small, sizeof small) == 0);
}

TEST_CASE("a segment turned into a reset keeps its sequence number and a right checksum") {
    for (const char* src : {"10.0.0.1", "2001:db8::1"}) {
        CAPTURE(src);
        const std::string dst = std::strchr(src, ':') ? "2001:db8:1::2" : "10.0.1.2";
        auto seg = FrameBuilder::tcp(src, 40000, dst, 443, kTcpAck | kTcpPsh)
                       .seq(1001)
                       .ack(5001)
                       .payload(301)
                       .build();
        fillTcpChecksum(seg);
        const std::vector<uint8_t> before = seg;
        turnIntoReset(seg.data(), parsed(before));
        const PacketInfo out = parsed(seg);
        CHECK(out.tcp.flags == (kTcpRst | kTcpAck));
        CHECK(out.tcp.seq == 1001);
        CHECK(out.tcp.ack == 5001);
        CHECK(seg.size() == before.size());
        CHECK(tcpSum(seg, out) == 0xffff);
        // Only the flags and the checksum changed.
        size_t changed = 0;
        for (size_t i = 0; i < seg.size(); ++i) changed += seg[i] != before[i];
        CHECK(changed >= 2);
        CHECK(changed <= 3);
    }
}
