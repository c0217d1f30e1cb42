// The packet parser's fixture table (packet_parser_fixtures_*.inc) and the
// helpers that run a row: decode its hex, parse it, compare the fields.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "packet/packet_parser.h"

namespace tandem::test {

/// Which entry point a row goes through.
enum class Entry : uint8_t { frame, ip };

/// Fields a row expects; only the ones given are checked. Numbers are
/// compared as unsigned 64-bit, addresses given as text.
struct Expect {
    std::optional<AddrFamily> family;
    const char* src = nullptr;
    const char* dst = nullptr;
    std::optional<uint64_t> proto, sport, dport;
    std::optional<bool> has_l4;
    std::optional<uint64_t> ttl;

    std::optional<uint64_t> l2_len, ethertype, vlan_count, vlan_id0, vlan_id1;
    std::optional<uint64_t> l3_offset, l3_len, ip_total_len, l4_offset;

    std::optional<bool> is_fragment, first_fragment, more_fragments;
    std::optional<uint64_t> frag_offset, frag_id;

    std::optional<uint64_t> tcp_flags, tcp_seq, tcp_ack, tcp_window, tcp_wscale;
    std::optional<bool> tcp_sack_permitted;
    std::optional<uint64_t> tcp_mss, tcp_payload_len;

    std::optional<uint64_t> icmp_type, icmp_code;
    std::optional<bool> icmp_is_error;
    const char* inner_src = nullptr;
    const char* inner_dst = nullptr;
    std::optional<uint64_t> inner_proto, inner_sport, inner_dport;

    std::optional<TunnelKind> tunnel;
    std::optional<uint64_t> outer_l3_offset, outer_l4_offset, tunnel_header_offset,
        tunnel_header_length, tunnel_inner_offset, geneve_protocol, vni;
    std::optional<bool> has_gwlb_options;
    std::optional<uint64_t> gwlb_endpoint_id, gwlb_attachment_id, gwlb_flow_cookie;
};

struct ParserFixture {
    const char* name;
    const char* hex;
    ParseOptions opts;
    ParseResult result = ParseResult::ok;
    Entry entry = Entry::frame;
    Expect expect;
};

/// Every row of the packet_parser_fixtures_*.inc tables.
std::span<const ParserFixture> parserFixtures();

/// The row with this name; fails the running test if there is none.
const ParserFixture& fixtureNamed(std::string_view name);

/// Decodes a hex string (even length, no separators).
std::vector<uint8_t> fromHex(std::string_view hex);

/// Runs `bytes` through the row's entry point.
ParseResult parseAs(const ParserFixture& f, const uint8_t* bytes, size_t len, PacketInfo& out);

/// Parses the row's own bytes.
ParseResult parseFixture(const ParserFixture& f, PacketInfo& out);

/// CHECKs every field the row's Expect names.
void checkExpected(const Expect& e, const PacketInfo& out);

/// The name of the first field of PacketInfo in which a and b differ, or
/// nullptr. Field by field (padding makes a memory compare meaningless), and
/// every field, also those a parse does not define for its input: two
/// parsers compared from the same starting PacketInfo must leave the same.
const char* firstDifference(const PacketInfo& a, const PacketInfo& b);

/// A PacketInfo left over from another frame: every field set to junk
/// (from `seed`), the booleans false and family and tunnel not none.
PacketInfo dirtyInfo(uint32_t seed);

}  // namespace tandem::test
