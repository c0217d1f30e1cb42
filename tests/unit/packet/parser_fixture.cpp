#include "parser_fixture.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

namespace tandem::test {
namespace {

const ParserFixture kFixtures[] = {
#include "packet_parser_fixtures_malformed.inc"
#include "packet_parser_fixtures_valid.inc"
};

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

IpAddr addr(const char* text) {
    auto a = parseIpAddr(text);
    REQUIRE_MESSAGE(a.has_value(), "bad address in fixture: " << text);
    return *a;
}

template <typename T>
void checkField(const char* field, const std::optional<T>& want, T got) {
    if (!want) return;
    INFO("field: " << std::string(field));
    CHECK(got == *want);
}

void checkNumber(const char* field, const std::optional<uint64_t>& want, uint64_t got) {
    checkField<uint64_t>(field, want, got);
}

void checkAddr(const char* field, const char* want, const IpAddr& got) {
    if (!want) return;
    INFO("field: " << std::string(field) << " = " << formatIpAddr(got));
    CHECK(got == addr(want));
}

}  // namespace

std::span<const ParserFixture> parserFixtures() {
    return kFixtures;
}

const ParserFixture& fixtureNamed(std::string_view name) {
    for (const ParserFixture& f : kFixtures) {
        if (name == f.name) return f;
    }
    FAIL("no fixture named " << std::string(name));
    return kFixtures[0];
}

std::vector<uint8_t> fromHex(std::string_view hex) {
    REQUIRE(hex.size() % 2 == 0);
    std::vector<uint8_t> bytes(hex.size() / 2);
    for (size_t i = 0; i < bytes.size(); ++i) {
        const int hi = hexDigit(hex[2 * i]);
        const int lo = hexDigit(hex[2 * i + 1]);
        REQUIRE((hi >= 0 && lo >= 0));
        bytes[i] = uint8_t(hi << 4 | lo);
    }
    return bytes;
}

ParseResult parseAs(const ParserFixture& f, const uint8_t* bytes, size_t len, PacketInfo& out) {
    return f.entry == Entry::ip ? parseIpPacket(bytes, len, f.opts, out)
                                : parseFrame(bytes, len, f.opts, out);
}

ParseResult parseFixture(const ParserFixture& f, PacketInfo& out) {
    const std::vector<uint8_t> bytes = fromHex(f.hex);
    return parseAs(f, bytes.data(), bytes.size(), out);
}

void checkExpected(const Expect& e, const PacketInfo& p) {
    checkField("family", e.family, p.family);
    checkAddr("src", e.src, p.src);
    checkAddr("dst", e.dst, p.dst);
    checkNumber("proto", e.proto, p.proto);
    checkNumber("sport", e.sport, p.sport);
    checkNumber("dport", e.dport, p.dport);
    checkField("has_l4", e.has_l4, p.has_l4);
    checkNumber("ttl", e.ttl, p.ttl);

    checkNumber("l2_len", e.l2_len, p.l2_len);
    checkNumber("ethertype", e.ethertype, p.ethertype);
    checkNumber("vlan_count", e.vlan_count, p.vlan_count);
    checkNumber("vlan_id0", e.vlan_id0, p.vlan_ids[0]);
    checkNumber("vlan_id1", e.vlan_id1, p.vlan_ids[1]);
    checkNumber("l3_offset", e.l3_offset, p.l3_offset);
    checkNumber("l3_len", e.l3_len, p.l3_len);
    checkNumber("ip_total_len", e.ip_total_len, p.ip_total_len);
    checkNumber("l4_offset", e.l4_offset, p.l4_offset);

    checkField("is_fragment", e.is_fragment, p.is_fragment);
    checkField("first_fragment", e.first_fragment, p.first_fragment);
    checkField("more_fragments", e.more_fragments, p.more_fragments);
    checkNumber("frag_offset", e.frag_offset, p.frag_offset);
    checkNumber("frag_id", e.frag_id, p.frag_id);

    checkNumber("tcp_flags", e.tcp_flags, p.tcp.flags);
    checkNumber("tcp_seq", e.tcp_seq, p.tcp.seq);
    checkNumber("tcp_ack", e.tcp_ack, p.tcp.ack);
    checkNumber("tcp_window", e.tcp_window, p.tcp.window);
    checkNumber("tcp_wscale", e.tcp_wscale, p.tcp.wscale);
    checkField("tcp_sack_permitted", e.tcp_sack_permitted, p.tcp.sack_permitted);
    checkNumber("tcp_mss", e.tcp_mss, p.tcp.mss);
    checkNumber("tcp_payload_len", e.tcp_payload_len, p.tcp.payload_len);

    checkNumber("icmp_type", e.icmp_type, p.icmp_type);
    checkNumber("icmp_code", e.icmp_code, p.icmp_code);
    checkField("icmp_is_error", e.icmp_is_error, p.icmp_is_error);
    const FlowTuple& inner = p.icmp_error.inner;
    checkAddr("inner_src", e.inner_src, inner.src);
    checkAddr("inner_dst", e.inner_dst, inner.dst);
    checkNumber("inner_proto", e.inner_proto, inner.proto);
    checkNumber("inner_sport", e.inner_sport, inner.sport);
    checkNumber("inner_dport", e.inner_dport, inner.dport);

    const TunnelInfo& t = p.tunnel;
    checkField("tunnel", e.tunnel, t.kind);
    checkNumber("outer_l3_offset", e.outer_l3_offset, t.outer_l3_offset);
    checkNumber("outer_l4_offset", e.outer_l4_offset, t.outer_l4_offset);
    checkNumber("tunnel_header_offset", e.tunnel_header_offset, t.header_offset);
    checkNumber("tunnel_header_length", e.tunnel_header_length, t.header_length);
    checkNumber("tunnel_inner_offset", e.tunnel_inner_offset, t.inner_offset);
    checkNumber("geneve_protocol", e.geneve_protocol, t.geneve_protocol);
    checkNumber("vni", e.vni, t.vni);
    checkField("has_gwlb_options", e.has_gwlb_options, t.has_gwlb_options);
    checkNumber("gwlb_endpoint_id", e.gwlb_endpoint_id, t.gwlb_endpoint_id);
    checkNumber("gwlb_attachment_id", e.gwlb_attachment_id, t.gwlb_attachment_id);
    checkNumber("gwlb_flow_cookie", e.gwlb_flow_cookie, t.gwlb_flow_cookie);
}

const char* firstDifference(const PacketInfo& a, const PacketInfo& b) {
#define TANDEM_SAME(field) \
    if (!(a.field == b.field)) return #field;
    TANDEM_SAME(l2_len)
    TANDEM_SAME(ethertype)
    TANDEM_SAME(vlan_count)
    TANDEM_SAME(vlan_ids[0])
    TANDEM_SAME(vlan_ids[1])
    TANDEM_SAME(family)
    TANDEM_SAME(l3_offset)
    TANDEM_SAME(l3_len)
    TANDEM_SAME(ip_total_len)
    TANDEM_SAME(src)
    TANDEM_SAME(dst)
    TANDEM_SAME(proto)
    TANDEM_SAME(ttl)
    TANDEM_SAME(is_fragment)
    TANDEM_SAME(first_fragment)
    TANDEM_SAME(frag_id)
    TANDEM_SAME(frag_offset)
    TANDEM_SAME(frag_len)
    TANDEM_SAME(more_fragments)
    TANDEM_SAME(has_l4)
    TANDEM_SAME(l4_offset)
    TANDEM_SAME(sport)
    TANDEM_SAME(dport)
    TANDEM_SAME(tcp.seq)
    TANDEM_SAME(tcp.ack)
    TANDEM_SAME(tcp.window)
    TANDEM_SAME(tcp.flags)
    TANDEM_SAME(tcp.wscale)
    TANDEM_SAME(tcp.sack_permitted)
    TANDEM_SAME(tcp.payload_len)
    TANDEM_SAME(tcp.mss)
    TANDEM_SAME(icmp_type)
    TANDEM_SAME(icmp_code)
    TANDEM_SAME(icmp_is_error)
    TANDEM_SAME(icmp_error.inner.src)
    TANDEM_SAME(icmp_error.inner.dst)
    TANDEM_SAME(icmp_error.inner.sport)
    TANDEM_SAME(icmp_error.inner.dport)
    TANDEM_SAME(icmp_error.inner.proto)
    TANDEM_SAME(icmp_error.inner.family)
    TANDEM_SAME(tunnel.kind)
    TANDEM_SAME(tunnel.outer_l3_offset)
    TANDEM_SAME(tunnel.outer_l4_offset)
    TANDEM_SAME(tunnel.header_offset)
    TANDEM_SAME(tunnel.header_length)
    TANDEM_SAME(tunnel.inner_offset)
    TANDEM_SAME(tunnel.geneve_protocol)
    TANDEM_SAME(tunnel.vni)
    TANDEM_SAME(tunnel.has_gwlb_options)
    TANDEM_SAME(tunnel.gwlb_endpoint_id)
    TANDEM_SAME(tunnel.gwlb_attachment_id)
    TANDEM_SAME(tunnel.gwlb_flow_cookie)
#undef TANDEM_SAME
    return nullptr;
}

PacketInfo dirtyInfo(uint32_t seed) {
    PacketInfo p;
    std::mt19937 rng(seed);
    auto* bytes = reinterpret_cast<uint8_t*>(&p);
    for (size_t i = 0; i < sizeof p; ++i) bytes[i] = uint8_t(rng());
    p.family = AddrFamily::v6;
    p.tunnel.kind = TunnelKind::vxlan;
    p.tunnel.has_gwlb_options = true;
    p.has_l4 = false;
    p.is_fragment = p.first_fragment = p.more_fragments = p.icmp_is_error = false;
    p.tcp.sack_permitted = false;
    return p;
}

}  // namespace tandem::test
