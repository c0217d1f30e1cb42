// parsePlainTcp (packet/plain_tcp_parser.h) against parseFrame: a frame it
// takes must come out exactly as parseFrame leaves it, field by field, from
// the same starting PacketInfo; a frame it does not take is parseFrame's.
#include "packet/plain_tcp_parser.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "packet/packet_parser.h"
#include "parser_fixture.h"

using namespace tandem;
using tandem::test::dirtyInfo;
using tandem::test::firstDifference;

namespace {

// Both parsers on the first `len` bytes of `f`, from the same dirty info.
// Returns whether the shortcut took the frame; fails the test when it took
// one that parseFrame does not parse, or parses differently.
bool compareOn(const std::vector<uint8_t>& f, size_t len, uint32_t seed) {
    PacketInfo plain = dirtyInfo(seed), full = dirtyInfo(seed);
    const ParseResult r = parseFrame(f.data(), len, ParseOptions{}, full);
    if (!parsePlainTcp(f.data(), len, plain)) return false;
    CHECK(r == ParseResult::ok);
    const char* diff = firstDifference(plain, full);
    CHECK_MESSAGE(diff == nullptr, "first different field: " << std::string(diff ? diff : ""));
    return true;
}

void put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
    f[at] = uint8_t(v >> 8), f[at + 1] = uint8_t(v);
}

// A random frame of one of the shapes a network carries, most of them valid
// (so that both outcomes are common), each one a plain TCP frame only by
// chance of its shape: `*plain` says whether it was built as one.
std::vector<uint8_t> randomFrame(std::mt19937_64& rng, bool* plain) {
    auto pick = [&](uint64_t n) { return uint64_t(rng() % n); };
    const uint64_t shape = pick(10);
    const size_t vlans = shape == 1 ? 1 + pick(3) : 0;  // 3: too many
    const bool v6 = shape == 2;
    const size_t ip_opts = shape == 3 ? 4 * (1 + pick(10)) : 0;
    const uint8_t proto = shape == 4   ? uint8_t(pick(2) ? kProtoUdp : kProtoIcmp)
                          : shape == 5 ? uint8_t(rng())
                                       : uint8_t(kProtoTcp);
    const size_t tcp_opts = pick(3) == 0 ? 4 * pick(11) : 0;
    const size_t payload = pick(4) == 0 ? pick(1500) : pick(3) == 0 ? 0 : pick(64);
    *plain = shape >= 6 && proto == kProtoTcp;

    std::vector<uint8_t> f(12);
    for (auto& b : f) b = uint8_t(rng());
    for (size_t i = 0; i < vlans; ++i) {
        f.insert(f.end(), {uint8_t(pick(2) ? 0x81 : 0x88), uint8_t(pick(2) ? 0x00 : 0xa8)});
        f.insert(f.end(), {uint8_t(rng()), uint8_t(rng())});
    }
    f.insert(f.end(), {uint8_t(v6 ? 0x86 : 0x08), uint8_t(v6 ? 0xdd : 0x00)});
    const size_t ip = f.size();
    const size_t ip_hdr = v6 ? 40 : 20 + ip_opts;
    const size_t l4_len = proto == kProtoTcp ? 20 + tcp_opts : 8;
    f.resize(ip + ip_hdr + l4_len + payload);
    for (size_t i = ip; i < f.size(); ++i) f[i] = uint8_t(rng());
    if (v6) {
        f[ip] = 0x60;
        put16(f, ip + 4, uint16_t(l4_len + payload));
        f[ip + 6] = proto;
    } else {
        f[ip] = uint8_t(0x40 | (ip_hdr / 4));
        put16(f, ip + 2, uint16_t(ip_hdr + l4_len + payload));
        // Fragments now and then: more-fragments, an offset, or both.
        const uint64_t frag = pick(8);
        put16(f, ip + 6,
              uint16_t(frag == 0   ? 0x2000
                       : frag == 1 ? 0x0003 + pick(100)
                       : pick(2)   ? 0x4000
                                   : 0));
        if (frag <= 1) *plain = false;
        f[ip + 9] = proto;
        for (size_t i = 20; i < ip_hdr; ++i) f[ip + i] = 1;  // NOP options
    }
    const size_t l4 = ip + ip_hdr;
    if (proto == kProtoTcp) {
        f[l4 + 12] = uint8_t(((20 + tcp_opts) / 4) << 4 | pick(16));
        // Options that parse: MSS, NOPs, window scale, SACK-permitted, EOL.
        static const uint8_t kOpts[] = {2, 4, 5, 180, 1, 3, 3, 9, 4, 2, 1, 1, 0, 0, 0, 0};
        const size_t shift = pick(4) * 4;
        for (size_t i = 0; i < tcp_opts; ++i) f[l4 + 20 + i] = kOpts[(shift + i) % sizeof kOpts];
    } else if (proto == kProtoUdp) {
        put16(f, l4 + 4, uint16_t(8 + payload));
    }
    while (f.size() < 60) f.push_back(0);  // Ethernet padding
    return f;
}

// Damage: a byte or three changed (headers most often), or a length field
// set to something else.
void damage(std::mt19937_64& rng, std::vector<uint8_t>& f) {
    for (int n = 1 + int(rng() % 3); n-- > 0;) {
        const size_t at = rng() % 4 ? rng() % 80 : rng() % f.size();
        f[at % f.size()] = uint8_t(rng());
    }
    if (rng() % 4 == 0 && f.size() > 18) {
        const uint16_t len = uint16_t(rng() % 4 ? rng() % 100 : rng());
        put16(f, 16, len);  // an IPv4 total length
    }
}

}  // namespace

TEST_CASE("the plain TCP parser gives parseFrame's fields on every parser fixture, cut or not") {
    size_t taken = 0, fixtures = 0;
    uint32_t seed = 0;
    for (const test::ParserFixture& row : test::parserFixtures()) {
        if (row.entry != test::Entry::frame) continue;
        ++fixtures;
        const std::vector<uint8_t> bytes = test::fromHex(row.hex);
        for (size_t len = bytes.size() + 1; len-- > 0;) {
            INFO(row.name << ", " << len << " of " << bytes.size() << " bytes");
            const bool took = compareOn(bytes, len, ++seed);
            if (len == bytes.size() && took) ++taken;
        }
    }
    CHECK(fixtures > 100);
    // The fixtures include plain TCP frames, with and without options: the
    // shortcut is exercised, not only its fallback.
    CHECK(taken >= 5);
}

TEST_CASE("the plain TCP parser gives parseFrame's fields on random and damaged frames") {
    std::mt19937_64 rng(18);
    size_t taken = 0, fallbacks = 0, damaged_taken = 0;
    for (uint32_t i = 0; i < 20000; ++i) {
        bool plain = false;
        std::vector<uint8_t> f = randomFrame(rng, &plain);
        INFO("frame " << i);
        const bool took = compareOn(f, f.size(), i);
        // Built plain: taken, unless the random TCP header length field was
        // left past the packet (never: it is written above) or bad options.
        if (plain) CHECK(took);
        took ? ++taken : ++fallbacks;
        // Cut anywhere.
        compareOn(f, size_t(rng() % (f.size() + 1)), i);
        damage(rng, f);
        if (compareOn(f, f.size(), i)) ++damaged_taken;
    }
    CHECK(taken > 5000);
    CHECK(fallbacks > 5000);
    CHECK(damaged_taken > 1000);
}
