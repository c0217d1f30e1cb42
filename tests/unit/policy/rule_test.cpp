#include "policy/rule.h"

#include <doctest/doctest.h>

#include "random_rules.h"

namespace tandem {
namespace {

Rule parseOk(std::string_view text) {
    RuleError err;
    std::optional<Rule> rule = parseRule(text, &err);
    INFO("text: ", std::string(text), " error at column ", err.column, ": ", err.message);
    REQUIRE(rule.has_value());
    return *rule;
}

Cidr cidrOk(std::string_view text) {
    std::optional<Cidr> c = parseCidr(text);
    INFO("cidr: ", std::string(text));
    REQUIRE(c.has_value());
    return *c;
}

}  // namespace

TEST_CASE("a rule with every keyword parses into its fields") {
    Rule r = parseOk(
        "allow name web from inside,dmz to outside src 10.0.0.0/8,2001:db8::/32 "
        "dst 192.0.2.10 proto tcp sport 1024-65535 dport 80,443 log");
    CHECK(r.action == RuleAction::allow);
    CHECK(r.name == "web");
    CHECK(r.from_zones == std::vector<std::string>{"inside", "dmz"});
    CHECK(r.to_zones == std::vector<std::string>{"outside"});
    REQUIRE(r.src.size() == 2);
    CHECK(r.src[0] == cidrOk("10.0.0.0/8"));
    CHECK(r.src[1] == cidrOk("2001:db8::/32"));
    REQUIRE(r.dst.size() == 1);
    CHECK(r.dst[0] == cidrOk("192.0.2.10/32"));
    CHECK(r.proto == uint8_t{6});
    CHECK(r.sport == std::vector<PortRange>{{1024, 65535}});
    CHECK(r.dport == std::vector<PortRange>{{80, 80}, {443, 443}});
    CHECK(r.icmp_types.empty());
    CHECK(r.log);
}

TEST_CASE("a rule with only an action matches everything and has no name") {
    Rule r = parseOk("deny");
    CHECK(r == Rule{});
}

TEST_CASE("keywords after the action may come in any order") {
    Rule a = parseOk("allow log dport 22 proto tcp to mgmt from inside name ssh");
    Rule b = parseOk("allow name ssh from inside to mgmt proto tcp dport 22 log");
    CHECK(a == b);
}

TEST_CASE("tabs and repeated spaces separate words like one space") {
    CHECK(parseOk("  allow\tproto  udp \t dport 53  ") == parseOk("allow proto udp dport 53"));
}

TEST_CASE("an IPv4 CIDR is stored v4-mapped with 96 added to its prefix") {
    Cidr c = cidrOk("10.0.0.0/8");
    CHECK(c.family == AddrFamily::v4);
    CHECK(c.prefix == 104);
    CHECK(c.addr == IpAddr::fromV4(0x0a000000));
    CHECK(c.addr.isV4Mapped());
    CHECK(formatCidr(c) == "10.0.0.0/8");

    Cidr all = cidrOk("0.0.0.0/0");
    CHECK(all.prefix == 96);
    CHECK(formatCidr(all) == "0.0.0.0/0");
}

TEST_CASE("a bare address is a host route") {
    Cidr v4 = cidrOk("192.0.2.1");
    CHECK(v4.prefix == 128);
    CHECK(v4 == cidrOk("192.0.2.1/32"));
    CHECK(formatCidr(v4) == "192.0.2.1");

    Cidr v6 = cidrOk("2001:db8::1");
    CHECK(v6.family == AddrFamily::v6);
    CHECK(v6.prefix == 128);
    CHECK(v6 == cidrOk("2001:db8::1/128"));
    CHECK(formatCidr(v6) == "2001:db8::1");
}

TEST_CASE("an IPv6 CIDR keeps its prefix as written") {
    Cidr c = cidrOk("2001:db8::/32");
    CHECK(c.family == AddrFamily::v6);
    CHECK(c.prefix == 32);
    CHECK(formatCidr(c) == "2001:db8::/32");
    CHECK(cidrOk("::/0").prefix == 0);
}

TEST_CASE("a v4-mapped address written as IPv6 stays IPv6 and formats with its colons") {
    Cidr c = cidrOk("::ffff:10.0.0.0/104");
    CHECK(c.family == AddrFamily::v6);
    CHECK(c.prefix == 104);
    CHECK(formatCidr(c) == "::ffff:10.0.0.0/104");
    CHECK(cidrOk(formatCidr(c)) == c);
}

TEST_CASE("parseCidr rejects host bits, out-of-range prefixes and garbage") {
    for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "2001:db8::1/32", "2001:db8::/129",
                            "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0/8", "any", "", "/8",
                            "10.0.0.0/+8", "10.0.0.0 /8"}) {
        INFO("cidr: ", std::string(bad));
        CHECK_FALSE(parseCidr(bad).has_value());
    }
}

TEST_CASE("protocols parse by name or by number") {
    CHECK(parseOk("allow proto tcp").proto == uint8_t{6});
    CHECK(parseOk("allow proto udp").proto == uint8_t{17});
    CHECK(parseOk("allow proto icmp").proto == uint8_t{1});
    CHECK(parseOk("allow proto icmpv6").proto == uint8_t{58});
    CHECK(parseOk("allow proto 47").proto == uint8_t{47});
    CHECK(parseOk("allow proto 0").proto == uint8_t{0});
    CHECK(parseOk("allow proto 255").proto == uint8_t{255});
    CHECK_FALSE(parseOk("allow proto any").proto.has_value());
}

TEST_CASE("the word any leaves a field unrestricted") {
    Rule r = parseOk(
        "allow from any to any src any dst any proto any sport any dport any icmp-type any");
    Rule plain;
    plain.action = RuleAction::allow;
    CHECK(r == plain);
}

TEST_CASE("ICMP types parse as a list") {
    Rule r = parseOk("allow proto icmpv6 icmp-type 128,129,135");
    CHECK(r.icmp_types == std::vector<uint8_t>{128, 129, 135});
}

TEST_CASE("formatRule prints the canonical form and it parses back to the same rule") {
    struct Case {
        const char* text;
        const char* canonical;
    };
    const Case cases[] = {
        {"deny", "deny"},
        {"allow log proto 6 dport 443,80 name web", "allow name web proto tcp dport 443,80 log"},
        {"allow proto 17 sport 53 dport 1024-65535", "allow proto udp sport 53 dport 1024-65535"},
        {"deny src 10.0.0.0/8,2001:db8::1/128 dst 192.0.2.7/32,::/0",
         "deny src 10.0.0.0/8,2001:db8::1 dst 192.0.2.7,::/0"},
        {"allow icmp-type 8 proto icmp", "allow proto icmp icmp-type 8"},
        {"allow proto 132 to outside from inside", "allow from inside to outside proto 132"},
        {"allow src any proto any", "allow"},
        {"deny log reset dport 22 proto tcp", "deny proto tcp dport 22 reset log"},
        {"deny reset app tls sni bad.example", "deny proto tcp app tls sni bad.example reset"},
    };
    for (const Case& c : cases) {
        INFO("text: ", std::string(c.text));
        Rule r = parseOk(c.text);
        CHECK(formatRule(r) == c.canonical);
        CHECK(parseOk(formatRule(r)) == r);
    }
}

TEST_CASE("randomly generated rules survive formatRule then parseRule unchanged") {
    testing::RuleGen gen(0x5eed'0001);
    for (int i = 0; i < 3000; ++i) {
        Rule r = gen.rule();
        std::string text = formatRule(r);
        INFO("text: ", text);
        RuleError err;
        std::optional<Rule> back = parseRule(text, &err);
        INFO("error at column ", err.column, ": ", err.message);
        REQUIRE(back.has_value());
        CHECK(*back == r);
    }
}

TEST_CASE("rule text errors give the column of the offending word and what was expected") {
    struct Case {
        const char* text;
        unsigned column;
        const char* message;
    };
    const Case cases[] = {
        {"", 1, "expected 'allow' or 'deny' to start the rule, found an empty rule"},
        {"permit src 10.0.0.0/8", 1,
         "expected 'allow' or 'deny' to start the rule, found 'permit'"},
        {"allow proto tcp dport 70000", 23,
         "expected a port or port range like 1024-65535 after 'dport', found '70000'"},
        {"allow proto tcp dport 80,70000", 26,
         "expected a port or port range like 1024-65535 after 'dport', found '70000'"},
        {"allow proto tcp dport 2000-1000", 23,
         "expected LO <= HI in the port range '2000-1000' after 'dport'; did you mean "
         "1000-2000?"},
        {"allow proto tcp sport 80-", 23,
         "expected a port or port range like 1024-65535 after 'sport', found '80-'"},
        {"allow dport 80", 7, "'dport' needs 'proto tcp' or 'proto udp'"},
        {"allow proto icmp sport 1", 18,
         "'sport' needs 'proto tcp' or 'proto udp', not 'proto icmp'"},
        {"allow proto any dport 1", 17,
         "'dport' needs 'proto tcp' or 'proto udp', not 'proto any'"},
        {"allow sport 1 dport 2", 7, "'sport' needs 'proto tcp' or 'proto udp'"},
        {"allow proto tcp icmp-type 8", 17,
         "'icmp-type' needs 'proto icmp' or 'proto icmpv6', not 'proto tcp'"},
        {"allow icmp-type 8", 7, "'icmp-type' needs 'proto icmp' or 'proto icmpv6'"},
        {"allow proto icmp icmp-type 300", 28,
         "expected an ICMP type 0..255 after 'icmp-type', found '300'"},
        {"allow src 10.0.0.1/8", 11, "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
        {"allow dst 2001:db8::1/32", 11,
         "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?"},
        {"allow src 10.0.0.0/33", 11,
         "expected an address or CIDR like 10.0.0.0/8 or 2001:db8::/32 after 'src', found "
         "'10.0.0.0/33' (an IPv4 prefix length is 0..32)"},
        {"allow src 10.0.0.0/8,bogus", 22,
         "expected an address or CIDR like 10.0.0.0/8 or 2001:db8::/32 after 'src', found "
         "'bogus'"},
        {"allow src any,10.0.0.0/8", 11,
         "expected an address or CIDR like 10.0.0.0/8 or 2001:db8::/32 after 'src', found "
         "'any' ('any' stands alone)"},
        {"allow src 10.0.0.0/8 dst 2001:db8::/32", 26,
         "no packet can match: 'src' lists only IPv4 addresses and 'dst' only IPv6 addresses"},
        {"allow dst 2001:db8::/32 src 10.0.0.0/8", 29,
         "no packet can match: 'src' lists only IPv4 addresses and 'dst' only IPv6 addresses"},
        {"allow name", 11, "expected a rule name after 'name', found the end of the rule"},
        {"allow name from inside", 12,
         "expected a rule name after 'name', found the keyword 'from'"},
        {"allow from inside to", 21,
         "expected a zone name or a comma-separated list of zones after 'to', found the end "
         "of the rule"},
        {"allow from inside,,outside", 19,
         "expected a zone name or a comma-separated list of zones after 'from', found an "
         "empty list item"},
        {"allow from inside,", 19,
         "expected a zone name or a comma-separated list of zones after 'from', found an "
         "empty list item"},
        {"allow log log", 11,
         "'log' appears twice (first at column 7); give every value in one comma-separated "
         "list"},
        {"allow proto tcp dport 80 dport 443", 26,
         "'dport' appears twice (first at column 17); give every value in one comma-separated "
         "list"},
        {"allow prot tcp", 7,
         "expected a keyword (name, from, to, src, dst, proto, sport, dport, icmp-type, app, "
         "reset or log), found 'prot'"},
        {"allow proto tcp reset", 17, "'reset' is for deny rules: it resets what they deny"},
        {"deny proto udp reset", 16,
         "'reset' resets TCP connections: it needs 'proto tcp' or no proto, not 'proto udp'"},
        {"deny reset dport 22 reset", 21,
         "'reset' appears twice (first at column 6); give every value in one comma-separated "
         "list"},
        {"allow  deny", 8,
         "expected a keyword, found a second action 'deny'; 'allow' or 'deny' comes once, "
         "first"},
        {"allow proto 256", 13,
         "expected a protocol (tcp, udp, icmp, icmpv6, any or 0..255) after 'proto', found "
         "'256'"},
        {"allow\tproto tcp\tdport x", 23,
         "expected a port or port range like 1024-65535 after 'dport', found 'x'"},
    };
    for (const Case& c : cases) {
        INFO("text: '", std::string(c.text), "'");
        RuleError err;
        CHECK_FALSE(parseRule(c.text, &err).has_value());
        CHECK(err.column == c.column);
        CHECK(err.message == c.message);
    }
}

TEST_CASE("parseRule accepts a null error pointer") {
    CHECK_FALSE(parseRule("allow dport 80", nullptr).has_value());
    CHECK(parseRule("allow", nullptr).has_value());
}

TEST_CASE("app clauses: protocol, selector, names - the transport they imply - their errors") {
    RuleError err;
    auto r = parseRule("allow app tls sni Good.Example.,*.cdn.example log", &err);
    REQUIRE(r);
    CHECK(r->app.proto == AppProtocol::tls);
    CHECK(r->app.names == std::vector<std::string>{"good.example", "*.cdn.example"});
    CHECK(r->proto == kProtoTcp);  // implied
    CHECK(formatRule(*r) == "allow proto tcp app tls sni good.example,*.cdn.example log");
    CHECK(parseRule(formatRule(*r), nullptr) == r);
    auto d = parseRule("deny proto udp dport 53 app dns name *.tracker.example", &err);
    REQUIRE(d);
    CHECK(d->app.proto == AppProtocol::dns);
    CHECK(parseRule("allow app http host www.example", &err)->proto == kProtoTcp);

    struct Bad {
        const char* text;
        unsigned column;
        const char* message;
    };
    const Bad bad[] = {
        {"allow app ftp sni x", 11,
         "expected an application protocol (tls, http or dns) after 'app', found 'ftp'"},
        {"allow app tls host x", 15, "expected 'sni' after 'app tls', found 'host'"},
        {"allow app tls sni", 18,
         "expected a name or *.suffix, or a comma-separated list of them after 'app tls' sni, "
         "found the end of the rule"},
        {"allow app tls sni a..b", 19,
         "expected a name or *.suffix, or a comma-separated list of them after 'app tls' sni, "
         "found 'a..b'"},
        {"allow proto udp app tls sni a", 17, "'app tls' needs 'proto tcp', not 'proto udp'"},
        {"allow app dns name a app tls sni b", 22,
         "'app' appears twice (first at column 7); give every value in one comma-separated list"},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.text);
        CHECK(!parseRule(b.text, &err));
        CHECK(err.column == b.column);
        CHECK(err.message == b.message);
    }
}

}  // namespace tandem
