// Packet parser behaviour, from the fixture table (packet_parser_fixtures_*.inc)
// and from relations between its rows (flow keys, reuse of the output).
#include <doctest/doctest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "packet/packet_parser.h"
#include "parser_fixture.h"

namespace tandem::test {
namespace {

bool isPassResult(ParseResult r) {
    return r == ParseResult::ok || r == ParseResult::non_ip;
}

PacketInfo parsed(std::string_view name) {
    const ParserFixture& f = fixtureNamed(name);
    PacketInfo out;
    REQUIRE_MESSAGE(parseFixture(f, out) == f.result, name);
    return out;
}

FlowKey keyOf(const PacketInfo& p) {
    return makeFlowKey(p.tuple(0));
}

}  // namespace

TEST_CASE("every valid fixture parses with the expected fields") {
    size_t rows = 0;
    for (const ParserFixture& f : parserFixtures()) {
        if (!isPassResult(f.result)) continue;
        ++rows;
        INFO("fixture: " << std::string(f.name) << " (expected "
                         << std::string(parseResultName(f.result)) << ")");
        PacketInfo out;
        const ParseResult r = parseFixture(f, out);
        CHECK(std::string(parseResultName(r)) == std::string(parseResultName(f.result)));
        checkExpected(f.expect, out);
    }
    CHECK(rows >= 40);
}

TEST_CASE("every malformed fixture is rejected with its named reason") {
    size_t rows = 0;
    for (const ParserFixture& f : parserFixtures()) {
        if (isPassResult(f.result)) continue;
        ++rows;
        INFO("fixture: " << std::string(f.name) << " (expected "
                         << std::string(parseResultName(f.result)) << ")");
        PacketInfo out;
        const ParseResult r = parseFixture(f, out);
        CHECK(std::string(parseResultName(r)) == std::string(parseResultName(f.result)));
        checkExpected(f.expect, out);
    }
    CHECK(rows >= 60);
}

TEST_CASE("every parse result but the reserved nested_tunnel has a fixture row") {
    std::set<ParseResult> covered;
    for (const ParserFixture& f : parserFixtures()) covered.insert(f.result);
    for (size_t i = 0; i < kParseResultCount; ++i) {
        const auto r = static_cast<ParseResult>(i);
        if (r == ParseResult::nested_tunnel) continue;
        INFO("result: " << std::string(parseResultName(r)));
        CHECK(covered.count(r) == 1);
    }
}

TEST_CASE("fixture names are unique") {
    std::set<std::string> names;
    for (const ParserFixture& f : parserFixtures()) {
        INFO("fixture: " << std::string(f.name));
        CHECK(names.insert(f.name).second);
    }
}

TEST_CASE("every parse result has its own counter name and help text") {
    std::set<std::string> names;
    for (size_t i = 0; i < kParseResultCount; ++i) {
        const auto r = static_cast<ParseResult>(i);
        const std::string name = parseResultName(r);
        INFO("result " << i << ": " << name);
        CHECK(names.insert(name).second);
        CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
        CHECK_FALSE(name.empty());
        CHECK_FALSE(kParseResultInfo[i].help.empty());
    }
    // Counter names are what operators graph: these must not change.
    CHECK(std::string(parseResultName(ParseResult::ok)) == "ok");
    CHECK(std::string(parseResultName(ParseResult::bad_ipv4_ihl)) == "bad_ipv4_ihl");
    CHECK(std::string(parseResultName(ParseResult::missing_gwlb_options)) ==
          "missing_gwlb_options");
}

TEST_CASE("an ICMP echo request and its reply share one flow key") {
    const PacketInfo request = parsed("an ICMP echo request uses its identifier as both ports");
    const PacketInfo reply = parsed("an ICMP echo reply uses its identifier as both ports");
    CHECK(keyOf(request) == keyOf(reply));
}

TEST_CASE("an ICMPv6 echo request and its reply share one flow key") {
    const PacketInfo request = parsed("an ICMPv6 echo request uses its identifier as both ports");
    const PacketInfo reply = parsed("an ICMPv6 echo reply uses its identifier as both ports");
    CHECK(keyOf(request) == keyOf(reply));
}

TEST_CASE("an ICMP error's quoted tuple has the key of the session it answers") {
    struct Pair {
        const char* session;
        const char* error;
    };
    const Pair pairs[] = {
        {"an IPv4 UDP datagram", "an ICMP port unreachable quotes the UDP datagram it answers"},
        {"an IPv4 TCP SYN with MSS, SACK-permitted, timestamps and window scale",
         "an ICMP time exceeded quoting only 8 bytes of a TCP header"},
        {"an ICMP echo request uses its identifier as both ports",
         "an ICMP fragmentation-needed quoting an echo request carries its identifier"},
        {"an IPv6 UDP datagram",
         "an ICMPv6 destination unreachable quotes the UDP datagram it answers"},
        {"an IPv6 TCP SYN with MSS and window scale",
         "an ICMPv6 packet too big quotes the TCP segment it answers"},
        {"an ICMPv6 echo request uses its identifier as both ports",
         "an ICMPv6 error quoting an echo request carries its identifier"},
    };
    for (const Pair& p : pairs) {
        INFO("error: " << std::string(p.error));
        const PacketInfo session = parsed(p.session);
        const PacketInfo error = parsed(p.error);
        REQUIRE(error.icmp_is_error);
        const FlowTuple& quoted = error.icmp_error.inner;
        CHECK(makeFlowKey(quoted) == keyOf(session));
        // The quote is in the direction the session's packet was sent.
        CHECK(quoted.src == session.src);
        CHECK(quoted.sport == session.sport);
    }
}

TEST_CASE("a GENEVE frame's inner packet has the key of the same packet unencapsulated") {
    const PacketInfo plain =
        parsed("an IPv4 TCP SYN with MSS, SACK-permitted, timestamps and window scale");
    const PacketInfo inner =
        parsed("GENEVE with the three AWS options carries an inner IPv4 TCP SYN");
    CHECK(inner.tunnel.kind == TunnelKind::geneve);
    CHECK(keyOf(inner) == keyOf(plain));
}

TEST_CASE("a reused PacketInfo carries no stale fields from the previous packet") {
    struct Step {
        const char* first;
        const char* then;
    };
    const Step steps[] = {
        {"GENEVE with the three AWS options carries an inner IPv4 TCP SYN", "an IPv4 UDP datagram"},
        {"a QinQ frame (802.1ad outer tag, 802.1Q inner tag) with IPv4 TCP",
         "an IPv4 UDP datagram"},
        {"an ICMP port unreachable quotes the UDP datagram it answers",
         "an ICMP echo request uses its identifier as both ports"},
        {"a middle IPv4 fragment has no L4 header and is still ok",
         "an IPv4 TCP SYN with MSS, SACK-permitted, timestamps and window scale"},
        {"the first fragment of an IPv6 UDP datagram carries the ports", "an IPv6 UDP datagram"},
        {"an IPv4 TCP SYN with MSS, SACK-permitted, timestamps and window scale",
         "an IPv4 TCP segment with timestamps and 100 bytes of data"},
        {"an IPv4 UDP datagram", "an ARP frame is passed through as non_ip"},
        {"an IPv4 UDP datagram", "a middle IPv4 fragment has no L4 header and is still ok"},
    };
    for (const Step& s : steps) {
        INFO(std::string(s.first) << " then " << std::string(s.then));
        const ParserFixture& then = fixtureNamed(s.then);
        PacketInfo out;
        REQUIRE(parseFixture(fixtureNamed(s.first), out) == fixtureNamed(s.first).result);
        REQUIRE(parseFixture(then, out) == then.result);
        checkExpected(then.expect, out);
        const PacketInfo fresh = parsed(s.then);
        CHECK(out.tunnel.kind == fresh.tunnel.kind);
        CHECK(out.tunnel.has_gwlb_options == fresh.tunnel.has_gwlb_options);
        CHECK(out.vlan_count == fresh.vlan_count);
        CHECK(out.vlan_ids[0] == fresh.vlan_ids[0]);
        CHECK(out.vlan_ids[1] == fresh.vlan_ids[1]);
        CHECK(out.family == fresh.family);
        CHECK(out.has_l4 == fresh.has_l4);
        CHECK(out.sport == fresh.sport);
        CHECK(out.dport == fresh.dport);
        CHECK(out.is_fragment == fresh.is_fragment);
        CHECK(out.first_fragment == fresh.first_fragment);
        CHECK(out.more_fragments == fresh.more_fragments);
        CHECK(out.frag_offset == fresh.frag_offset);
        CHECK(out.frag_id == fresh.frag_id);
        CHECK(out.icmp_is_error == fresh.icmp_is_error);
        CHECK(out.icmp_type == fresh.icmp_type);
        if (fresh.has_l4 && fresh.proto == kProtoTcp) {
            CHECK(out.tcp.wscale == fresh.tcp.wscale);
            CHECK(out.tcp.mss == fresh.tcp.mss);
            CHECK(out.tcp.sack_permitted == fresh.tcp.sack_permitted);
        }
    }
}

TEST_CASE("a buffer longer than 65535 bytes is parsed over its first 65535 bytes") {
    const std::vector<uint8_t> frame = fromHex(fixtureNamed("an IPv4 UDP datagram").hex);
    std::vector<uint8_t> big(70000, 0);
    std::memcpy(big.data(), frame.data(), frame.size());
    PacketInfo out;
    CHECK(parseFrame(big.data(), big.size(), ParseOptions{}, out) == ParseResult::ok);
    CHECK(out.sport == 5353);

    // An IPv4 datagram of 65535 bytes does not fit behind an Ethernet header
    // within the 65535 bytes the parser looks at.
    big[16] = 0xff;
    big[17] = 0xff;
    CHECK(parseFrame(big.data(), big.size(), ParseOptions{}, out) ==
          ParseResult::bad_ipv4_total_length);
}

TEST_CASE("a tunnel port of 0 never matches a UDP port of 0") {
    std::vector<uint8_t> frame = fromHex(fixtureNamed("an IPv4 UDP datagram").hex);
    frame[36] = 0;  // destination port 0
    frame[37] = 0;
    PacketInfo out;
    CHECK(parseFrame(frame.data(), frame.size(), ParseOptions{}, out) == ParseResult::ok);
    CHECK(out.tunnel.kind == TunnelKind::none);
    CHECK(out.dport == 0);
}

}  // namespace tandem::test
