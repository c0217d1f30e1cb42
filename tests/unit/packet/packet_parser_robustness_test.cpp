// The parser against hostile input: every truncation of every valid fixture
// and thousands of deterministic byte mutations. Each buffer is a heap block
// of exactly the length passed, so the sanitizer build fails on any read past
// it; the invariants below catch offsets that claim bytes that are not there.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "packet/packet_parser.h"
#include "parser_fixture.h"

namespace tandem::test {
namespace {

/// A heap copy of exactly `len` bytes (new[0] is a valid, unreadable block).
struct ExactBuffer {
    std::unique_ptr<uint8_t[]> bytes;
    size_t len;
    ExactBuffer(const uint8_t* src, size_t n) : bytes(new uint8_t[n]), len(n) {
        if (n != 0) std::memcpy(bytes.get(), src, n);
    }
};

/// xorshift64*: a fixed sequence, so any failure reproduces.
struct Rng {
    uint64_t s;
    uint64_t next() {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 0x2545f4914f6cdd1dULL;
    }
    size_t below(size_t n) { return n == 0 ? 0 : size_t(next() % n); }
};

/// What a successful parse promises about the bytes it describes.
void checkInvariants(ParseResult r, const PacketInfo& p, size_t len) {
    if (r == ParseResult::non_ip) {
        CHECK(p.family == AddrFamily::none);
        CHECK(size_t(p.l2_len) <= len);
        return;
    }
    if (r != ParseResult::ok) return;
    CHECK(p.family != AddrFamily::none);
    CHECK(p.l3_len <= p.ip_total_len);
    CHECK(size_t(p.l3_offset) + p.ip_total_len <= len);
    CHECK(size_t(p.l3_offset) + p.l3_len <= p.l4_offset);
    CHECK(size_t(p.l4_offset) <= len);
    if (p.has_l4) {
        size_t header = 0;
        if (p.proto == kProtoTcp) header = 20 + size_t(p.tcp.payload_len);
        if (p.proto == kProtoUdp || p.proto == kProtoIcmp || p.proto == kProtoIcmpV6) header = 8;
        CHECK(header != 0);
        CHECK(size_t(p.l4_offset) + header <= size_t(p.l3_offset) + p.ip_total_len);
    } else {
        CHECK(p.sport == 0);
        CHECK(p.dport == 0);
    }
    if (p.is_fragment && p.frag_offset != 0) CHECK_FALSE(p.has_l4);
    if (p.tunnel.kind != TunnelKind::none) {
        const TunnelInfo& t = p.tunnel;
        CHECK(t.outer_l3_offset < t.outer_l4_offset);
        CHECK(size_t(t.outer_l4_offset) + 8 == t.header_offset);
        CHECK(size_t(t.header_offset) + t.header_length == t.inner_offset);
        CHECK(size_t(t.inner_offset) <= p.l3_offset);
    } else {
        CHECK(p.l2_len == p.l3_offset);
    }
}

bool isPass(ParseResult r) {
    return r == ParseResult::ok || r == ParseResult::non_ip;
}

/// A length field of a valid fixture, rewritten when the fixture is cut so
/// that the cut reaches the layers behind it instead of failing at the first
/// IP header.
struct LengthField {
    enum Kind : uint8_t { ipv4_total, ipv6_payload, udp } kind;
    size_t header;  ///< offset of the header holding the field
};

std::vector<LengthField> lengthFields(const ParserFixture& f, const std::vector<uint8_t>& bytes) {
    PacketInfo p;
    REQUIRE(parseAs(f, bytes.data(), bytes.size(), p) == f.result);
    std::vector<LengthField> fields;
    auto addIp = [&](size_t at) {
        const bool v6 = (bytes[at] >> 4) == 6;
        fields.push_back({v6 ? LengthField::ipv6_payload : LengthField::ipv4_total, at});
    };
    if (p.tunnel.kind != TunnelKind::none) {
        addIp(p.tunnel.outer_l3_offset);
        fields.push_back({LengthField::udp, p.tunnel.outer_l4_offset});
    }
    if (p.family != AddrFamily::none) {
        addIp(p.l3_offset);
        if (p.has_l4 && p.proto == kProtoUdp) fields.push_back({LengthField::udp, p.l4_offset});
    }
    return fields;
}

/// Cuts `bytes` to `n` and makes every length field that survives the cut end there.
void shrinkTo(std::vector<uint8_t>& bytes, size_t n, const std::vector<LengthField>& fields) {
    bytes.resize(n);
    auto store16 = [&](size_t at, size_t v) {
        bytes[at] = uint8_t(v >> 8);
        bytes[at + 1] = uint8_t(v);
    };
    for (const LengthField& f : fields) {
        switch (f.kind) {
            case LengthField::ipv4_total:
                if (f.header + 4 <= n) store16(f.header + 2, n - f.header);
                break;
            case LengthField::ipv6_payload:
                if (f.header + 40 <= n) store16(f.header + 4, n - f.header - 40);
                break;
            case LengthField::udp:
                if (f.header + 6 <= n) store16(f.header + 4, n - f.header);
                break;
        }
    }
}

/// Options that turn on every decoder, so mutations can reach them all.
ParseOptions allTunnels(const ParseOptions& base) {
    ParseOptions o = base;
    if (o.geneve_port == 0) o.geneve_port = 6081;
    if (o.vxlan_port == 0) o.vxlan_port = 4789;
    return o;
}

}  // namespace

TEST_CASE("no truncation of a valid fixture reads out of bounds or claims bytes past its end") {
    size_t parses = 0;
    for (const ParserFixture& f : parserFixtures()) {
        if (!isPass(f.result)) continue;
        INFO("fixture: " << std::string(f.name));
        const std::vector<uint8_t> full = fromHex(f.hex);
        for (size_t n = 0; n < full.size(); ++n) {
            INFO("length: " << n);
            const ExactBuffer buf(full.data(), n);
            PacketInfo out;
            const ParseResult r = parseAs(f, buf.bytes.get(), buf.len, out);
            checkInvariants(r, out, n);
            ++parses;
        }
    }
    CHECK(parses > 3000);
}

TEST_CASE("no cut of a valid fixture with its lengths rewritten to the cut reads out of bounds") {
    size_t parses = 0;
    size_t passed = 0;
    for (const ParserFixture& f : parserFixtures()) {
        if (!isPass(f.result)) continue;
        INFO("fixture: " << std::string(f.name));
        const std::vector<uint8_t> full = fromHex(f.hex);
        const std::vector<LengthField> fields = lengthFields(f, full);
        for (size_t n = 0; n < full.size(); ++n) {
            INFO("length: " << n);
            std::vector<uint8_t> bytes = full;
            shrinkTo(bytes, n, fields);
            const ExactBuffer buf(bytes.data(), bytes.size());
            PacketInfo out;
            const ParseResult r = parseAs(f, buf.bytes.get(), buf.len, out);
            checkInvariants(r, out, n);
            passed += isPass(r);
            ++parses;
        }
    }
    CHECK(parses > 3000);
    // Cuts inside payloads still parse: the rewrite reached past the IP header.
    CHECK(passed > parses / 10);
}

TEST_CASE("pseudo-random byte mutations of valid fixtures never read out of bounds") {
    Rng rng{0x7a6e64656d2d7031ULL};
    constexpr int kMutationsPerFixture = 300;
    size_t parses = 0;
    size_t passed = 0;
    for (const ParserFixture& f : parserFixtures()) {
        if (!isPass(f.result)) continue;
        INFO("fixture: " << std::string(f.name));
        const std::vector<uint8_t> original = fromHex(f.hex);
        const std::vector<LengthField> fields = lengthFields(f, original);
        const ParseOptions opts[2] = {f.opts, allTunnels(f.opts)};
        for (int m = 0; m < kMutationsPerFixture; ++m) {
            std::vector<uint8_t> bytes = original;
            const size_t edits = 1 + rng.below(4);
            for (size_t e = 0; e < edits && !bytes.empty(); ++e) {
                const size_t at = rng.below(bytes.size());
                switch (rng.below(4)) {
                    case 0:
                        bytes[at] = uint8_t(rng.next());
                        break;
                    case 1:
                        bytes[at] ^= uint8_t(1u << rng.below(8));
                        break;
                    case 2:
                        bytes[at] = rng.below(2) ? 0x00 : 0xff;
                        break;
                    default:
                        shrinkTo(bytes, at, fields);
                        break;
                }
            }
            INFO("mutation: " << m);
            const ExactBuffer buf(bytes.data(), bytes.size());
            for (const ParseOptions& o : opts) {
                PacketInfo out;
                const ParseResult r = f.entry == Entry::ip
                                          ? parseIpPacket(buf.bytes.get(), buf.len, o, out)
                                          : parseFrame(buf.bytes.get(), buf.len, o, out);
                checkInvariants(r, out, buf.len);
                passed += isPass(r);
                ++parses;
            }
        }
    }
    CHECK(parses > 20000);
    // The mutations must not all be rejected at the first header.
    CHECK(passed > parses / 20);
}

}  // namespace tandem::test
