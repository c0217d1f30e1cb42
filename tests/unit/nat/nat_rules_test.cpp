// Translation rules and pools as written: what they parse to, every error
// with its column, and the first-match decision of the compiled rules.
#include "nat/nat_rules.h"

#include <doctest/doctest.h>

using namespace tandem;

namespace {

std::vector<NatPool> pools() {
    NatTextError e;
    return {*parseNatPool("public 198.51.100.10-198.51.100.13", &e),
            *parseNatPool("guests 203.0.113.5 ports 20000-29999 block-size 128", &e)};
}

struct Bad {
    const char* text;
    unsigned column;
    const char* message;
};

PolicyQuery query(const char* src, const char* dst, uint16_t dport, uint16_t from = 0,
                  uint16_t to = 1) {
    return flowPolicyQuery(from, to, AddrFamily::v4, *parseIpAddr(src), *parseIpAddr(dst),
                           kProtoTcp, 40000, dport, 0);
}

}  // namespace

TEST_CASE("a pool is a name, IPv4 addresses, and optionally its ports and block size") {
    const std::vector<NatPool> p = pools();
    CHECK(p[0].name == "public");
    CHECK(p[0].spec.first_addr == 0xc633640a);
    CHECK(p[0].spec.last_addr == 0xc633640d);
    CHECK(p[0].spec.port_lo == 1024);
    CHECK(p[0].spec.port_hi == 65535);
    CHECK(p[0].spec.block_size == 64);
    CHECK(p[1].spec.first_addr == p[1].spec.last_addr);
    CHECK(p[1].spec.port_lo == 20000);
    CHECK(p[1].spec.port_hi == 29999);
    CHECK(p[1].spec.block_size == 128);

    const Bad bad[] = {
        {"", 1, "expected a pool name, then its addresses (FIRST[-LAST])"},
        {"public", 7, "expected the pool's addresses (FIRST[-LAST]) after its name"},
        {"public 2001:db8::1", 8,
         "expected IPv4 addresses FIRST[-LAST] after the pool name, found '2001:db8::1'"},
        {"public 10.0.0.9-10.0.0.1", 8,
         "the pool's addresses must run from a first to a last, not backwards"},
        {"public 10.0.0.1 ports 100", 23,
         "expected a port range LO-HI (1..65535) after 'ports', found '100'"},
        {"public 10.0.0.1 ports 2000-2010", 23, "the pool's port range is smaller than one block"},
        {"public 10.0.0.1 block-size 4", 28,
         "expected a block size 8..65535 after "
         "'block-size', found '4'"},
        {"public 10.0.0.1 port 1-2", 17, "expected 'ports LO-HI' or 'block-size N', found 'port'"},
        {"public 10.0.0.1 ports", 22,
         "expected a port range LO-HI after 'ports', found the end of the pool"},
        {"public 10.0.0.1 ports 1-9999 ports 1-9999", 30, "'ports' appears twice"},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.text);
        NatTextError e;
        CHECK_FALSE(parseNatPool(b.text, &e));
        CHECK(e.column == b.column);
        CHECK(e.message == b.message);
    }
}

TEST_CASE("a rule is an action, a policy rule's match, and for snat a pool") {
    NatTextError e;
    const auto r = parseNatRule("snat name out from inside to outside src 10.0.0.0/8 pool public",
                                pools(), &e);
    REQUIRE(r);
    CHECK(r->action == NatAction::snat);
    CHECK(r->pool == "public");
    CHECK(r->match.name == "out");
    CHECK(r->match.from_zones == std::vector<std::string>{"inside"});
    CHECK(formatCidr(r->match.src.at(0)) == "10.0.0.0/8");
    const auto n = parseNatRule("no-nat from inside dst 10.0.0.0/8", pools(), &e);
    REQUIRE(n);
    CHECK(n->action == NatAction::no_nat);
    CHECK(n->pool.empty());

    const Bad bad[] = {
        {"masquerade pool public", 1,
         "expected 'snat', 'dnat' or 'no-nat' to start the rule, found 'masquerade'"},
        {"snat from inside", 17, "expected 'pool NAME' in an snat rule: the pool it translates to"},
        {"snat pool private", 11,
         "expected the name of a pool after 'pool' (public, guests), found 'private'"},
        {"snat pool", 10, "expected a pool name after 'pool', found the end of the rule"},
        {"no-nat pool public", 8, "'pool' is for snat rules: no-nat translates nothing"},
        {"snat pool public pool guests", 18, "'pool' appears twice"},
        // The match's own errors, at the columns of the text as written.
        {"snat pool public dport 80", 18, "'dport' needs 'proto tcp' or 'proto udp'"},
        {"no-nat from inside src 10.0.0.1/8", 24,
         "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"},
        {"snat pool public log", 18,
         "'log' is for policy rules: a translation rule matches the packet only"},
        {"snat proto tcp app tls sni a.example pool public", 16,
         "'app' is for policy rules: a translation rule matches the packet only"},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.text);
        CHECK_FALSE(parseNatRule(b.text, pools(), &e));
        CHECK(e.column == b.column);
        CHECK(e.message == b.message);
    }
}

TEST_CASE("the first rule that matches decides, and a session no rule matches is not translated") {
    NatTextError e;
    std::vector<NatRule> rules;
    for (const char* t : {"no-nat from inside to outside dst 10.9.0.0/16",
                          "snat from inside to outside src 10.0.0.0/8 pool public",
                          "snat from inside to outside proto tcp dport 80 pool guests"}) {
        auto r = parseNatRule(t, pools(), &e);
        INFO(t << ": " << e.message);
        REQUIRE(r);
        rules.push_back(*r);
    }
    std::string error;
    const auto compiled = NatRules::compile(rules, pools(), {"outside", "inside"}, &error);
    REQUIRE(compiled);
    CHECK(compiled->ruleCount() == 3);
    constexpr uint16_t kOutside = 0, kInside = 1;

    NatDecision d = compiled->match(query("10.1.2.3", "10.9.1.1", 443, kInside, kOutside));
    CHECK(d.action == NatAction::no_nat);  // the exception first
    CHECK(d.rule == 0);
    d = compiled->match(query("10.1.2.3", "192.0.2.80", 80, kInside, kOutside));
    CHECK(d.action == NatAction::snat);
    CHECK(d.rule == 1);
    CHECK(d.pool == 0);
    d = compiled->match(query("172.16.0.9", "192.0.2.80", 80, kInside, kOutside));
    CHECK(d.rule == 2);
    CHECK(d.pool == 1);
    d = compiled->match(query("172.16.0.9", "192.0.2.80", 443, kInside, kOutside));
    CHECK(d.action == NatAction::no_nat);  // no rule
    CHECK(d.rule == PolicyVerdict::kDefaultRule);
    d = compiled->match(query("10.1.2.3", "192.0.2.80", 80, kOutside, kInside));
    CHECK(d.rule == PolicyVerdict::kDefaultRule);  // the other way round

    // An unknown zone is the classifier's error.
    auto bad = parseNatRule("snat from lan pool public", pools(), &e);
    REQUIRE(bad);
    CHECK_FALSE(NatRules::compile({*bad}, pools(), {"outside", "inside"}, &error));
    CHECK(error.find("unknown zone 'lan'") != std::string::npos);
}

TEST_CASE("a dnat rule sends one public address (and port) to a target, and knows its replies") {
    NatTextError e;
    const auto fwd = parseNatRule(
        "dnat from outside to inside dst 198.51.100.20 proto tcp dport 443 to 10.0.5.20:8443",
        pools(), &e);
    INFO(e.message);
    REQUIRE(fwd);
    CHECK(fwd->action == NatAction::dnat);
    CHECK(fwd->to_addr == 0x0a000514);
    CHECK(fwd->to_port == 8443);
    CHECK(fwd->public_addr == 0xc6336414);
    CHECK(fwd->public_port == 443);
    CHECK(fwd->match.to_zones == std::vector<std::string>{"inside"});  // the zone's 'to'
    const auto one = parseNatRule("dnat from outside dst 198.51.100.21 to 10.0.5.21", pools(), &e);
    REQUIRE(one);
    CHECK(one->to_port == 0);
    CHECK(one->proto == 0);

    std::string error;
    const auto compiled = NatRules::compile({*fwd, *one}, pools(), {"outside", "inside"}, &error);
    REQUIRE(compiled);
    NatDecision d = compiled->match(query("192.0.2.9", "198.51.100.20", 443, 0, 1));
    CHECK(d.action == NatAction::dnat);
    CHECK(d.to_addr == 0x0a000514);
    CHECK(d.to_port == 8443);
    CHECK(compiled->match(query("192.0.2.9", "198.51.100.20", 80, 0, 1)).action ==
          NatAction::no_nat);
    CHECK(compiled->match(query("192.0.2.9", "198.51.100.21", 22, 0, 1)).to_port == 0);
    // Packets from the targets: what their replies are put back to.
    auto pub = compiled->publicOf(kProtoTcp, 0x0a000514, 8443);
    REQUIRE(pub);
    CHECK(pub->addr == 0xc6336414);
    CHECK(pub->port == 443);
    CHECK_FALSE(compiled->publicOf(kProtoUdp, 0x0a000514, 8443));  // another protocol
    CHECK_FALSE(compiled->publicOf(kProtoTcp, 0x0a000514, 22));    // another port
    pub = compiled->publicOf(kProtoUdp, 0x0a000515, 53);           // 1:1: any port
    REQUIRE(pub);
    CHECK(pub->addr == 0xc6336415);
    CHECK(pub->port == 0);
    CHECK(compiled->hasDnat());

    const Bad bad[] = {
        {"dnat from outside dst 198.51.100.20", 36,
         "expected 'to ADDR[:PORT]' in a dnat rule: the IPv4 address (and port) it translates "
         "to"},
        {"dnat from outside to 10.0.5.20", 31,
         "a dnat rule needs 'dst ADDR': the one IPv4 address it translates (no prefix, no list)"},
        {"dnat dst 198.51.100.0/24 to 10.0.5.20", 6,
         "a dnat rule needs 'dst ADDR': the one IPv4 address it translates (no prefix, no list)"},
        {"dnat dst 198.51.100.20 to 10.0.5.20:8443", 27,
         "a port in 'to' needs 'proto tcp' or 'proto udp' and one 'dport': the port it "
         "forwards"},
        {"dnat dst 198.51.100.20 proto tcp dport 80-81 to 10.0.5.20:8443", 49,
         "a port in 'to' needs 'proto tcp' or 'proto udp' and one 'dport': the port it "
         "forwards"},
        {"dnat dst 198.51.100.20 to 10.0.5.20 pool public", 37,
         "'pool' is for snat rules: dnat translates to its 'to' address"},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.text);
        CHECK_FALSE(parseNatRule(b.text, pools(), &e));
        CHECK(e.column == b.column);
        CHECK(e.message == b.message);
    }
}
