// parseFrame takes a shortcut for untagged IPv4 without options that is not
// a fragment (packet_parser.cpp). It must be invisible: for every input,
// parseFrame and the general path give the same result and the same fields.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include "packet/packet_parser.h"
#include "packet/parser_internal.h"
#include "parser_fixture.h"

using namespace tandem;
using tandem::test::dirtyInfo;
using tandem::test::firstDifference;

namespace {

// Both entry points on the same bytes, from the same (dirty) starting info;
// returns the result. Fails the test on any difference.
ParseResult compareOn(const std::vector<uint8_t>& f, size_t len, const ParseOptions& opts,
                      const PacketInfo& start) {
    PacketInfo fast = start, general = start;
    const ParseResult rf = parseFrame(f.data(), len, opts, fast);
    const ParseResult rg = parse_detail::parseFrameGeneral(f.data(), len, opts, general);
    CHECK(rf == rg);
    const char* diff = firstDifference(fast, general);
    CHECK_MESSAGE(diff == nullptr, "first different field: " << (diff ? diff : ""));
    return rf;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8), p[1] = uint8_t(v);
}

// Ethernet + IPv4 (IHL 5) + TCP (data offset 5) or UDP, with `payload` bytes.
std::vector<uint8_t> frame(uint8_t proto, uint16_t dport, size_t payload) {
    const size_t l4 = proto == kProtoTcp ? 20 : 8;
    std::vector<uint8_t> f(14 + 20 + l4 + payload, 0);
    put16(&f[12], 0x0800);
    uint8_t* ip = &f[14];
    ip[0] = 0x45;
    put16(ip + 2, uint16_t(20 + l4 + payload));
    put16(ip + 4, 0x1234);
    ip[8] = 61;
    ip[9] = proto;
    const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {192, 0, 2, 7};
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    uint8_t* l = ip + 20;
    put16(l, 40000);
    put16(l + 2, dport);
    if (proto == kProtoTcp) {
        put16(l + 4, 0x0102), put16(l + 6, 0x0304);   // seq
        put16(l + 8, 0x0506), put16(l + 10, 0x0708);  // ack
        l[12] = 5 << 4;
        l[13] = 0x18;
        put16(l + 14, 29200);
    } else {
        put16(l + 4, uint16_t(8 + payload));
    }
    for (size_t i = 0; i < payload; ++i) f[14 + 20 + l4 + i] = uint8_t(i * 7);
    return f;
}

}  // namespace

TEST_CASE("the IPv4 shortcut agrees with the general path on every edge of its conditions") {
    ParseOptions tunnels;
    tunnels.geneve_port = 6081;
    tunnels.vxlan_port = 4789;
    const PacketInfo start = dirtyInfo(1);
    struct Case {
        const char* name;
        std::vector<uint8_t> bytes;
        ParseOptions opts;
    };
    std::vector<Case> cases;
    auto add = [&](const char* name, std::vector<uint8_t> f, ParseOptions o = {}) {
        cases.push_back({name, std::move(f), o});
    };
    add("tcp", frame(kProtoTcp, 443, 10));
    add("tcp no payload", frame(kProtoTcp, 443, 0));
    add("udp", frame(kProtoUdp, 53, 30));
    add("udp to the geneve port, tunnels off", frame(kProtoUdp, 6081, 30));
    add("udp to the geneve port, tunnels on", frame(kProtoUdp, 6081, 30), tunnels);
    add("udp to the vxlan port, tunnels on", frame(kProtoUdp, 4789, 30), tunnels);
    add("icmp", frame(kProtoIcmp, 0, 30));
    add("gre", frame(47, 0, 30));
    auto with = [](std::vector<uint8_t> f, size_t at, uint8_t v) {
        f[at] = v;
        return f;
    };
    add("ihl 6", with(frame(kProtoTcp, 443, 10), 14, 0x46));
    add("ihl 4", with(frame(kProtoTcp, 443, 10), 14, 0x44));
    add("version 6 in an IPv4 frame", with(frame(kProtoTcp, 443, 10), 14, 0x65));
    add("more fragments", with(frame(kProtoUdp, 53, 24), 14 + 6, 0x20));
    add("fragment offset", with(frame(kProtoUdp, 53, 24), 14 + 7, 0x03));
    add("don't fragment", with(frame(kProtoTcp, 443, 10), 14 + 6, 0x40));
    add("evil bit", with(frame(kProtoTcp, 443, 10), 14 + 6, 0x80));
    add("tcp data offset 6", with(frame(kProtoTcp, 443, 10), 34 + 12, 6 << 4));
    add("tcp data offset 4", with(frame(kProtoTcp, 443, 10), 34 + 12, 4 << 4));
    add("vlan tag", with(with(frame(kProtoTcp, 443, 10), 12, 0x81), 13, 0x00));
    add("ipv6 ethertype", with(with(frame(kProtoTcp, 443, 10), 12, 0x86), 13, 0xdd));
    add("total length 19", with(with(frame(kProtoTcp, 443, 10), 16, 0), 17, 19));
    add("total length 20", with(with(frame(kProtoTcp, 443, 10), 16, 0), 17, 20));
    add("total length 39 (tcp cut)", with(with(frame(kProtoTcp, 443, 10), 16, 0), 17, 39));
    add("total length 27 (udp cut)", with(with(frame(kProtoUdp, 53, 10), 16, 0), 17, 27));
    add("total length past the frame", with(with(frame(kProtoTcp, 443, 10), 16, 0), 17, 51));
    add("udp length past the packet", with(frame(kProtoUdp, 53, 10), 34 + 5, 19));
    add("udp length 7", with(frame(kProtoUdp, 53, 10), 34 + 5, 7));
    size_t shortcut = 0;
    for (const Case& c : cases) {
        // The frame as built, and cut at every length down to nothing.
        for (size_t len = c.bytes.size() + 1; len-- > 0;) {
            INFO(c.name << ", " << len << " of " << c.bytes.size() << " bytes");
            compareOn(c.bytes, len, c.opts, start);
        }
        PacketInfo p;
        if (parseFrame(c.bytes.data(), c.bytes.size(), c.opts, p) == ParseResult::ok &&
            p.family == AddrFamily::v4 && p.vlan_count == 0)
            ++shortcut;
    }
    CHECK(shortcut >= 10);  // the cases do exercise the shortcut
}

TEST_CASE("the IPv4 shortcut agrees with the general path on randomly damaged frames") {
    std::mt19937_64 rng(2024);
    ParseOptions tunnels;
    tunnels.geneve_port = 6081;
    tunnels.vxlan_port = 4789;
    const std::vector<uint8_t> bases[] = {frame(kProtoTcp, 443, 20), frame(kProtoUdp, 53, 20),
                                          frame(kProtoUdp, 6081, 40), frame(kProtoTcp, 80, 0)};
    for (int i = 0; i < 200000; ++i) {
        std::vector<uint8_t> f = bases[i % 4];
        // Damage one to three bytes, biased towards the headers.
        for (int n = 1 + int(rng() % 3); n-- > 0;) {
            const size_t at = rng() % 4 ? rng() % 54 : rng() % f.size();
            f[at % f.size()] = uint8_t(rng());
        }
        const size_t len = rng() % 8 ? f.size() : rng() % (f.size() + 1);
        INFO("iteration " << i);
        compareOn(f, len, i % 2 ? tunnels : ParseOptions{}, dirtyInfo(uint32_t(i)));
    }
}
