// Address translation in place: the checksums after an incremental update
// equal the ones computed afresh here, and only the translated fields move.
#include "packet/nat_rewrite.h"

#include <doctest/doctest.h>

#include <vector>

#include "fixtures/frame_builder.h"
#include "packet/packet_parser.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint32_t kPool = 0xc6336407;  // 198.51.100.7
using Bytes = std::vector<uint8_t>;

uint16_t be16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}

uint32_t fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

uint32_t sumOf(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i < n; i += 2) sum += i + 1 < n ? be16(p + i) : uint32_t(p[i]) << 8;
    return sum;
}

PacketInfo parsed(const std::vector<uint8_t>& f) {
    PacketInfo info;
    REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
    return info;
}

// The sum a right checksum makes 0xffff: the L4 message (with the pseudo
// header for TCP and UDP) as it lies in this fragment.
uint16_t l4Sum(const std::vector<uint8_t>& f, const PacketInfo& info) {
    const uint8_t* l4 = f.data() + info.l4_offset;
    const size_t len = info.ip_total_len - info.l3_len;
    if (info.proto == kProtoIcmp) return uint16_t(fold(sumOf(l4, len)));
    const uint8_t* ip = f.data() + info.l3_offset;
    return uint16_t(fold(sumOf(l4, len, sumOf(ip + 12, 8) + info.proto + uint32_t(len))));
}

// Fills in the L4 checksum the builder leaves 0.
void fillChecksum(std::vector<uint8_t>& f) {
    const PacketInfo info = parsed(f);
    const size_t at = info.l4_offset + (info.proto == kProtoTcp   ? 16
                                        : info.proto == kProtoUdp ? 6
                                                                  : 2);
    const uint16_t c = uint16_t(~l4Sum(f, info));
    f[at] = uint8_t(c >> 8), f[at + 1] = uint8_t(c);
}

bool ipHeaderRight(const std::vector<uint8_t>& f, const PacketInfo& info) {
    return fold(sumOf(f.data() + info.l3_offset, 20)) == 0xffff;
}

}  // namespace

TEST_CASE("a translated TCP or UDP packet has its new address and port and right checksums") {
    for (uint8_t proto : {kProtoTcp, kProtoUdp}) {
        for (NatEnd end : {NatEnd::source, NatEnd::destination}) {
            CAPTURE(int(proto));
            CAPTURE(int(end));
            auto f =
                proto == kProtoTcp
                    ? FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 443, kTcpAck)
                          .seq(77)
                          .payload(333)
                          .build()
                    : FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 53).payload(41).build();
            fillChecksum(f);
            const std::vector<uint8_t> before = f;
            REQUIRE(natRewrite(f.data(), parsed(before), end, kPool, 61001));
            const PacketInfo out = parsed(f);
            if (end == NatEnd::source) {
                CHECK(out.src == IpAddr::fromV4(kPool));
                CHECK(out.sport == 61001);
                CHECK(out.dst == *parseIpAddr("192.0.2.80"));
                CHECK(out.dport == (proto == kProtoTcp ? 443 : 53));
            } else {
                CHECK(out.dst == IpAddr::fromV4(kPool));
                CHECK(out.dport == 61001);
                CHECK(out.sport == 40000);
            }
            CHECK(ipHeaderRight(f, out));
            CHECK(l4Sum(f, out) == 0xffff);
            // Address (4 bytes), IP checksum (2), port (2), L4 checksum (2).
            size_t changed = 0;
            for (size_t i = 0; i < f.size(); ++i) changed += f[i] != before[i];
            CHECK(changed <= 10);
        }
    }
}

TEST_CASE("a UDP datagram sent without a checksum keeps none") {
    auto f = FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 53).payload(20).build();
    const PacketInfo in = parsed(f);
    REQUIRE(natRewrite(f.data(), in, NatEnd::source, kPool, 1025));
    CHECK(be16(f.data() + in.l4_offset + 6) == 0);
    CHECK(ipHeaderRight(f, parsed(f)));
}

TEST_CASE("an ICMP echo's identifier is translated, and its checksum follows") {
    auto f = FrameBuilder::echo("10.0.1.10", "192.0.2.80", 0x1234, true).build();
    fillChecksum(f);
    REQUIRE(natRewrite(f.data(), parsed(f), NatEnd::source, kPool, 0x5678));
    const PacketInfo out = parsed(f);
    CHECK(out.src == IpAddr::fromV4(kPool));
    CHECK(out.sport == 0x5678);
    CHECK(l4Sum(f, out) == 0xffff);
    CHECK(ipHeaderRight(f, out));
}

TEST_CASE(
    "fragments: the first one's checksum moves as the whole datagram's, later ones only the "
    "address") {
    auto whole = FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 5000).payload(64).build();
    fillChecksum(whole);
    // The first fragment: the same UDP header (the checksum of the whole
    // datagram), part of its payload.
    auto first = FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 5000)
                     .payload(24)
                     .ipId(9)
                     .fragment(0, true)
                     .build();
    const PacketInfo wi = parsed(whole), fi = parsed(first);
    REQUIRE(fi.first_fragment);
    for (int i = 0; i < 8; ++i) first[fi.l4_offset + i] = whole[wi.l4_offset + i];
    REQUIRE(natRewrite(whole.data(), wi, NatEnd::source, kPool, 2000));
    REQUIRE(natRewrite(first.data(), parsed(first), NatEnd::source, kPool, 2000));
    CHECK(l4Sum(whole, parsed(whole)) == 0xffff);
    CHECK(be16(first.data() + fi.l4_offset + 6) == be16(whole.data() + wi.l4_offset + 6));
    CHECK(be16(first.data() + fi.l4_offset) == 2000);
    CHECK(ipHeaderRight(first, parsed(first)));

    auto later = FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 5000)
                     .payload(40)
                     .ipId(9)
                     .fragment(24, false)
                     .build();
    const std::vector<uint8_t> before = later;
    const PacketInfo li = parsed(later);
    REQUIRE_FALSE(li.has_l4);
    REQUIRE(natRewrite(later.data(), li, NatEnd::source, kPool, 2000));
    CHECK(parsed(later).src == IpAddr::fromV4(kPool));
    CHECK(ipHeaderRight(later, parsed(later)));
    for (size_t i = li.l3_offset + 20; i < later.size(); ++i) CHECK(later[i] == before[i]);
}

TEST_CASE("IPv6 is not translated") {
    auto f = FrameBuilder::tcp("2001:db8::1", 1, "2001:db8::2", 2, kTcpSyn).build();
    const std::vector<uint8_t> before = f;
    CHECK_FALSE(natRewrite(f.data(), parsed(f), NatEnd::source, kPool, 3));
    CHECK(f == before);
}

namespace {

// The original datagram a client sent, and the ICMP error about it after
// the translation (its server's host answering the translated source).
struct QuotedCase {
    Bytes original;    // client -> server, as the client sent it
    Bytes translated;  // as it left the firewall
    Bytes error;       // server -> pool address, quoting `translated`
};

// An ICMP error quoting `quote_bytes` of `translated`'s L4 header (the
// builder quotes 8; more are appended, as routers quote up to 576 bytes).
Bytes errorQuoting(const Bytes& translated, size_t quote_bytes) {
    Bytes e = FrameBuilder::icmpError("192.0.2.80", "198.51.100.7", translated).build();
    if (quote_bytes > 8) {
        e.insert(e.end(), translated.begin() + 14 + 20 + 8,
                 translated.begin() + 14 + 20 + quote_bytes);
        const uint16_t total = uint16_t(be16(e.data() + 16) + quote_bytes - 8);
        e[16] = uint8_t(total >> 8), e[17] = uint8_t(total);
        e[24] = e[25] = 0;
        const uint16_t c = uint16_t(~fold(sumOf(e.data() + 14, 20)));
        e[24] = uint8_t(c >> 8), e[25] = uint8_t(c);
    }
    fillChecksum(e);
    return e;
}

QuotedCase quotedCase(Bytes original, size_t quote_bytes) {
    fillChecksum(original);
    QuotedCase q;
    q.original = original;
    q.translated = original;
    REQUIRE(natRewrite(q.translated.data(), parsed(original), NatEnd::source, kPool, 61001));
    q.error = errorQuoting(q.translated, quote_bytes);
    return q;
}

}  // namespace

TEST_CASE("an ICMP error about a translated datagram goes back to its client, quote restored") {
    struct {
        const char* name;
        Bytes original;
        size_t quote;
    } cases[] = {
        {"UDP, 8 bytes quoted (its checksum among them)",
         FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 33434).payload(32).build(), 8},
        {"TCP, 8 bytes quoted",
         FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 443, kTcpSyn).seq(77).build(), 8},
        {"TCP, its whole header quoted (its checksum among it)",
         FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 443, kTcpSyn).seq(77).build(), 20},
        {"an ICMP echo", FrameBuilder::echo("10.0.1.10", "192.0.2.80", 0x1234, true).build(), 8},
    };
    for (auto& c : cases) {
        const std::string name = c.name;
        CAPTURE(name);
        QuotedCase q = quotedCase(c.original, c.quote);
        const PacketInfo in = parsed(q.error);
        REQUIRE(in.icmp_is_error);
        CHECK(in.icmp_error.inner.src == IpAddr::fromV4(kPool));
        const uint16_t client_port = c.original[14 + 9] == kProtoIcmp ? 0x1234 : 40000;
        REQUIRE(natRewriteIcmpError(q.error.data(), in, NatEnd::source, 0x0a00010a, client_port));
        const PacketInfo out = parsed(q.error);
        CHECK(out.dst == *parseIpAddr("10.0.1.10"));
        CHECK(out.src == *parseIpAddr("192.0.2.80"));  // the server's host: not translated
        CHECK(out.icmp_error.inner.src == *parseIpAddr("10.0.1.10"));
        CHECK(out.icmp_error.inner.sport == client_port);
        CHECK(ipHeaderRight(q.error, out));
        CHECK(l4Sum(q.error, out) == 0xffff);  // the ICMP checksum over the message
        // The quote is the client's own datagram again, byte for byte
        // (addresses, ports, the IP and the quoted L4 checksum).
        const size_t quoted = 20 + c.quote;
        CHECK(Bytes(q.error.begin() + out.l4_offset + 8,
                    q.error.begin() + out.l4_offset + 8 + quoted) ==
              Bytes(q.original.begin() + 14, q.original.begin() + 14 + quoted));
    }
}

TEST_CASE("an ICMP error from the translated side about a reply quotes the translated address") {
    // The server's reply, put back to the client; the client's host answers
    // it with an error that must leave as if from the pool address.
    auto reply = FrameBuilder::udp("192.0.2.80", 53, "10.0.1.10", 40000).payload(20).build();
    fillChecksum(reply);
    Bytes sent = reply;  // as the server sent it: to the pool address
    REQUIRE(natRewrite(sent.data(), parsed(reply), NatEnd::destination, kPool, 61001));
    Bytes e = FrameBuilder::icmpError("10.0.1.10", "192.0.2.80", reply).build();
    fillChecksum(e);
    REQUIRE(natRewriteIcmpError(e.data(), parsed(e), NatEnd::destination, kPool, 61001));
    const PacketInfo out = parsed(e);
    CHECK(out.src == IpAddr::fromV4(kPool));  // the client's host itself answered
    CHECK(out.icmp_error.inner.dst == IpAddr::fromV4(kPool));
    CHECK(out.icmp_error.inner.dport == 61001);
    CHECK(ipHeaderRight(e, out));
    CHECK(l4Sum(e, out) == 0xffff);
    CHECK(Bytes(e.begin() + out.l4_offset + 8, e.end()) ==
          Bytes(sent.begin() + 14, sent.begin() + 14 + 28));
    // A router's error keeps the router's own address outside.
    Bytes r = FrameBuilder::icmpError("10.0.1.1", "192.0.2.80", reply, 11, 0).build();
    fillChecksum(r);
    REQUIRE(natRewriteIcmpError(r.data(), parsed(r), NatEnd::destination, kPool, 61001));
    CHECK(parsed(r).src == *parseIpAddr("10.0.1.1"));
    CHECK(l4Sum(r, parsed(r)) == 0xffff);
}

TEST_CASE("an ICMP error rewrite refuses what is no IPv4 ICMP error") {
    auto f = FrameBuilder::udp("10.0.1.10", 40000, "192.0.2.80", 53).payload(20).build();
    const Bytes before = f;
    CHECK_FALSE(natRewriteIcmpError(f.data(), parsed(f), NatEnd::source, kPool, 1));
    auto echo = FrameBuilder::echo("10.0.1.10", "192.0.2.80", 7, true).build();
    CHECK_FALSE(natRewriteIcmpError(echo.data(), parsed(echo), NatEnd::source, kPool, 1));
    CHECK(f == before);
}
