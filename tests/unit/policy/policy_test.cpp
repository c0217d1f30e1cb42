#include "policy/policy.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

#include "alloc_counter.h"
#include "random_rules.h"

namespace tandem {
namespace {

using testing::RuleGen;
using testing::testZones;

// The reference: every rule, in order, every field checked the obvious way.
bool cidrContains(const Cidr& c, AddrFamily family, const IpAddr& a) {
    if (c.family != family) return false;
    unsigned __int128 mask = c.prefix == 0 ? 0 : ~(unsigned __int128)0 << (128 - c.prefix);
    return (a.asU128() & mask) == (c.addr.asU128() & mask);
}

bool zoneAccepts(const std::vector<std::string>& names, uint16_t zone) {
    if (names.empty()) return true;
    if (zone >= testZones().size()) return false;
    return std::find(names.begin(), names.end(), testZones()[zone]) != names.end();
}

bool addrAccepts(const std::vector<Cidr>& list, AddrFamily family, const IpAddr& a) {
    if (list.empty()) return true;
    return std::any_of(list.begin(), list.end(),
                       [&](const Cidr& c) { return cidrContains(c, family, a); });
}

bool portAccepts(const std::vector<PortRange>& list, uint16_t port) {
    if (list.empty()) return true;
    return std::any_of(list.begin(), list.end(),
                       [&](const PortRange& r) { return r.lo <= port && port <= r.hi; });
}

bool ruleMatches(const Rule& r, const PolicyQuery& q) {
    if (q.family != AddrFamily::v4 && q.family != AddrFamily::v6) return false;
    if (!zoneAccepts(r.from_zones, q.from_zone) || !zoneAccepts(r.to_zones, q.to_zone)) {
        return false;
    }
    if (!addrAccepts(r.src, q.family, q.src) || !addrAccepts(r.dst, q.family, q.dst)) {
        return false;
    }
    if (r.proto && *r.proto != q.proto) return false;
    if (!portAccepts(r.sport, q.sport) || !portAccepts(r.dport, q.dport)) return false;
    if (!r.icmp_types.empty()) {
        if (q.icmp_type < 0) return false;
        if (std::find(r.icmp_types.begin(), r.icmp_types.end(), q.icmp_type) ==
            r.icmp_types.end()) {
            return false;
        }
    }
    return true;
}

uint32_t referenceMatch(const std::vector<Rule>& rules, const PolicyQuery& q) {
    for (size_t i = 0; i < rules.size(); ++i) {
        if (ruleMatches(rules[i], q)) return uint32_t(i);
    }
    return PolicyVerdict::kDefaultRule;
}

std::shared_ptr<const Policy> compileOk(const std::vector<Rule>& rules,
                                        const std::vector<std::string>& zones) {
    std::string err;
    std::shared_ptr<const Policy> p = Policy::compile(rules, zones, &err);
    INFO("compile error: ", err);
    REQUIRE(p);
    return p;
}

std::vector<Rule> parseAll(const std::vector<const char*>& texts) {
    std::vector<Rule> rules;
    for (const char* t : texts) {
        RuleError err;
        std::optional<Rule> r = parseRule(t, &err);
        INFO("rule: ", std::string(t), " error: ", err.message);
        REQUIRE(r);
        rules.push_back(*r);
    }
    return rules;
}

IpAddr ip(const char* text) {
    std::optional<IpAddr> a = parseIpAddr(text);
    REQUIRE(a);
    return *a;
}

// A readable query: zones by id (inside 0, outside 1, dmz 2, mgmt 3).
PolicyQuery packet(uint16_t from, uint16_t to, const char* src, const char* dst, uint8_t proto,
                   uint16_t sport = 0, uint16_t dport = 0, int16_t icmp_type = -1) {
    PolicyQuery q;
    q.from_zone = from;
    q.to_zone = to;
    q.src = ip(src);
    q.dst = ip(dst);
    q.family = q.src.isV4Mapped() ? AddrFamily::v4 : AddrFamily::v6;
    q.proto = proto;
    q.sport = sport;
    q.dport = dport;
    q.icmp_type = icmp_type;
    return q;
}

PolicyQuery asV6(PolicyQuery q) {
    q.family = AddrFamily::v6;
    return q;
}

constexpr uint16_t kInside = 0, kOutside = 1, kDmz = 2, kMgmt = 3;
constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1, kIcmpv6 = 58;
constexpr uint32_t kNone = PolicyVerdict::kDefaultRule;

struct Coverage {
    size_t distinct_rules = 0;  // rules that won at least one query
    int defaults = 0;           // queries that fell through to the default deny
};

// Checks `policy` against the reference on `count` queries, most of them aimed
// at a random rule, and says how much of the policy the queries reached.
Coverage checkAgainstReference(const std::vector<Rule>& rules, const Policy& policy, RuleGen* gen,
                               int count) {
    std::set<uint32_t> hit;
    int matched = 0;
    for (int i = 0; i < count; ++i) {
        const Rule* hint = !rules.empty() && gen->chance(70)
                               ? &rules[gen->below(uint32_t(rules.size()))]
                               : nullptr;
        PolicyQuery q = gen->query(hint);
        uint32_t want = referenceMatch(rules, q);
        PolicyVerdict got = policy.match(q);
        if (got.rule != want) {
            INFO("query ", i, ": from ", q.from_zone, " to ", q.to_zone, " ", formatIpAddr(q.src),
                 " -> ", formatIpAddr(q.dst), " proto ", int(q.proto), " sport ", q.sport,
                 " dport ", q.dport, " icmp ", q.icmp_type);
            INFO("expected rule ", want,
                 want == kNone ? std::string("(default)") : formatRule(rules[want]));
            INFO("got rule ", got.rule,
                 got.rule == kNone ? std::string("(default)") : formatRule(rules[got.rule]));
            REQUIRE(got.rule == want);
        }
        if (want == kNone) {
            CHECK(got.action == RuleAction::deny);
            CHECK_FALSE(got.log);
        } else {
            CHECK(got.action == rules[want].action);
            CHECK(got.log == rules[want].log);
            ++matched;
            hit.insert(want);
        }
    }
    if (!rules.empty()) CHECK(matched > count / 4);
    return Coverage{hit.size(), count - matched};
}

}  // namespace

TEST_CASE("first matching rule wins, in a hand-written policy") {
    std::vector<Rule> rules = parseAll({
        /* 0 */ "deny name block-bad src 203.0.113.0/24 log",
        /* 1 */ "allow name web from outside to dmz dst 192.0.2.10 proto tcp dport 80,443",
        /* 2 */ "allow name dns from inside proto udp dport 53",
        /* 3 */ "allow name ping proto icmp icmp-type 8",
        /* 4 */ "allow name ping6 proto icmpv6 icmp-type 128",
        /* 5 */ "allow name v6-out from inside to outside src 2001:db8:1::/48 log",
        /* 6 */ "deny name inside-rest from inside log",
        /* 7 */ "allow name mgmt-ssh from mgmt proto tcp sport 1024-65535 dport 22",
    });
    std::vector<std::string> zones{"inside", "outside", "dmz", "mgmt"};
    auto policy = compileOk(rules, zones);

    struct Case {
        const char* what;
        PolicyQuery q;
        uint32_t rule;
    };
    const Case cases[] = {
        {"web to the dmz server",
         packet(kOutside, kDmz, "198.51.100.7", "192.0.2.10", kTcp, 40000, 443), 1},
        {"web from a blocked network",
         packet(kOutside, kDmz, "203.0.113.9", "192.0.2.10", kTcp, 40000, 443), 0},
        {"a port the web rule does not list",
         packet(kOutside, kDmz, "198.51.100.7", "192.0.2.10", kTcp, 40000, 8080), kNone},
        {"another dmz host", packet(kOutside, kDmz, "198.51.100.7", "192.0.2.11", kTcp, 40000, 80),
         kNone},
        {"dns from inside", packet(kInside, kOutside, "10.0.0.5", "8.8.8.8", kUdp, 5353, 53), 2},
        {"https from inside falls to the catch-all",
         packet(kInside, kOutside, "10.0.0.5", "8.8.8.8", kTcp, 5353, 443), 6},
        {"echo request from anywhere",
         packet(kOutside, kInside, "198.51.100.7", "10.0.0.5", kIcmp, 0, 0, 8), 3},
        {"echo reply is not listed",
         packet(kOutside, kInside, "198.51.100.7", "10.0.0.5", kIcmp, 0, 0, 0), kNone},
        {"ICMPv6 echo request",
         packet(kOutside, kInside, "2001:db8:9::1", "2001:db8:1::5", kIcmpv6, 0, 0, 128), 4},
        {"IPv6 out from the allowed prefix",
         packet(kInside, kOutside, "2001:db8:1::5", "2001:db8:9::1", kTcp, 1000, 443), 5},
        {"IPv6 out from another prefix hits the catch-all",
         packet(kInside, kOutside, "2001:db8:2::5", "2001:db8:9::1", kTcp, 1000, 443), 6},
        {"IPv6 with a v4-mapped source is not IPv4",
         asV6(packet(kOutside, kDmz, "::ffff:203.0.113.9", "2001:db8::1", kTcp, 1, 2)), kNone},
        {"ssh from mgmt from a high port",
         packet(kMgmt, kInside, "10.9.0.1", "10.0.0.5", kTcp, 50000, 22), 7},
        {"ssh from mgmt from a low port",
         packet(kMgmt, kInside, "10.9.0.1", "10.0.0.5", kTcp, 1000, 22), kNone},
        {"a zone id beyond the zone list matches zone-less rules",
         packet(9, kInside, "198.51.100.7", "10.0.0.5", kIcmp, 0, 0, 8), 3},
        {"a zone id beyond the zone list misses zoned rules",
         packet(9, kDmz, "198.51.100.7", "192.0.2.10", kTcp, 1, 80), kNone},
    };
    for (const Case& c : cases) {
        INFO(std::string(c.what));
        PolicyVerdict v = policy->match(c.q);
        CHECK(v.rule == c.rule);
        if (c.rule != kNone) {
            CHECK(v.action == rules[c.rule].action);
            CHECK(v.log == rules[c.rule].log);
        } else {
            CHECK(v.action == RuleAction::deny);
        }
    }
}

TEST_CASE("an empty policy denies everything by default") {
    auto policy = compileOk({}, {"inside"});
    PolicyVerdict v = policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 1, 2));
    CHECK(v.rule == kNone);
    CHECK(v.action == RuleAction::deny);
    CHECK_FALSE(v.log);
    CHECK(policy->ruleCount() == 0);
}

TEST_CASE("a query with no address family gets the default deny") {
    auto policy = compileOk(parseAll({"allow"}), {});
    PolicyQuery q = packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 1, 2);
    CHECK(policy->match(q).rule == 0);
    q.family = AddrFamily::none;
    CHECK(policy->match(q).rule == kNone);
}

TEST_CASE("a rule without addresses matches both families, one with IPv4 addresses only IPv4") {
    auto policy = compileOk(parseAll({"allow dst 0.0.0.0/0", "deny log"}), {});
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp)).rule == 0);
    CHECK(policy->match(packet(0, 0, "2001:db8::1", "2001:db8::2", kTcp)).rule == 1);

    auto v6 = compileOk(parseAll({"allow src ::/0", "deny"}), {});
    CHECK(v6->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp)).rule == 1);
    CHECK(v6->match(packet(0, 0, "2001:db8::1", "2001:db8::2", kTcp)).rule == 0);
}

TEST_CASE("rules with ICMP types never match packets that are not ICMP") {
    auto policy = compileOk(parseAll({"allow proto icmp icmp-type 8", "allow proto icmp"}), {});
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kIcmp, 0, 0, 8)).rule == 0);
    // An ICMP packet whose type could not be read (e.g. a later fragment).
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kIcmp, 0, 0, -1)).rule == 1);
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 0, 0, -1)).rule == kNone);
}

TEST_CASE("the first rule of the second bitset word is found") {
    std::vector<Rule> rules;
    for (int i = 0; i < 64; ++i) rules.push_back(*parseRule("deny proto tcp dport 1", nullptr));
    rules.push_back(*parseRule("allow proto tcp dport 2", nullptr));
    rules.push_back(*parseRule("deny", nullptr));
    auto policy = compileOk(rules, {});
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 9, 1)).rule == 0);
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 9, 2)).rule == 64);
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "10.0.0.2", kTcp, 9, 3)).rule == 65);
}

TEST_CASE("compile fails naming the rule and the unknown zone") {
    std::vector<Rule> rules = parseAll({"allow name web from outside to dmz", "allow to lab"});
    std::string err;
    CHECK(Policy::compile(rules, {"inside", "outside"}, &err) == nullptr);
    CHECK(err ==
          "rule 1 (web): unknown zone 'dmz' in 'to'; known zones: inside, outside\n"
          "rule 2 (rule-2): unknown zone 'lab' in 'to'; known zones: inside, outside");
    CHECK(Policy::compile(rules, {}, nullptr) == nullptr);
}

TEST_CASE("unnamed rules are named by their position from 1") {
    auto policy = compileOk(parseAll({"allow name first", "deny"}), {});
    REQUIRE(policy->ruleCount() == 2);
    CHECK(policy->rule(0).name == "first");
    CHECK(policy->rule(1).name == "rule-2");
}

TEST_CASE("overlapping ranges of one rule are all honoured") {
    auto policy = compileOk(parseAll({"allow src 10.0.0.0/8,10.1.0.0/16,10.1.2.0/24 proto udp "
                                      "dport 100-200,150-160,160,199-300",
                                      "deny"}),
                            {});
    for (uint16_t port : {100, 150, 160, 161, 200, 201, 300}) {
        for (const char* src : {"10.0.0.1", "10.1.2.3", "10.1.3.3", "10.255.255.255"}) {
            INFO(std::string(src), " port ", port);
            CHECK(policy->match(packet(0, 0, src, "192.0.2.1", kUdp, 1, port)).rule == 0);
        }
    }
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "192.0.2.1", kUdp, 1, 99)).rule == 1);
    CHECK(policy->match(packet(0, 0, "10.0.0.1", "192.0.2.1", kUdp, 1, 301)).rule == 1);
    CHECK(policy->match(packet(0, 0, "11.0.0.0", "192.0.2.1", kUdp, 1, 150)).rule == 1);
}

TEST_CASE("the classifier agrees with a linear reference matcher on random policies") {
    RuleGen gen(0x7a4d'e301);
    for (size_t n : {1, 2, 10, 63, 64, 65, 127, 129, 300}) {
        INFO("rules: ", n);
        std::vector<Rule> rules;
        for (size_t i = 0; i < n; ++i) rules.push_back(gen.classifierRule());
        auto policy = compileOk(rules, testZones());
        checkAgainstReference(rules, *policy, &gen, 3000);
    }
}

TEST_CASE("a policy of 1000 random rules compiles and agrees with the reference") {
    RuleGen gen(0x1000'0042);
    std::vector<Rule> rules;
    for (int i = 0; i < 1000; ++i) rules.push_back(gen.classifierRule());
    auto policy = compileOk(rules, testZones());
    CHECK(policy->ruleCount() == 1000);
    PolicyStats stats = policy->stats();
    CHECK(stats.rules == 1000);
    CHECK(stats.bitset_words == 16);
    // Shared bitsets keep this far below intervals * 16 words.
    CHECK(stats.distinct_bitsets < stats.intervals);
    CHECK(stats.bytes < 2 * 1024 * 1024);
    Coverage seen = checkAgainstReference(rules, *policy, &gen, 20000);
    // The queries reach deep into the list, not only its first rules, and the
    // default deny too.
    CHECK(seen.distinct_rules > 300);
    CHECK(seen.defaults > 500);
}

TEST_CASE("match never allocates") {
    RuleGen gen(0xa110c);
    std::vector<Rule> rules;
    for (int i = 0; i < 200; ++i) rules.push_back(gen.classifierRule());
    auto policy = compileOk(rules, testZones());
    std::vector<PolicyQuery> queries;
    for (int i = 0; i < 1000; ++i) queries.push_back(gen.query(&rules[gen.below(200)]));
    testing::startCountingAllocations();
    uint64_t sum = 0;
    for (const PolicyQuery& q : queries) sum += policy->match(q).rule;
    long allocs = testing::stopCountingAllocations();
    CHECK(allocs == 0);
    CHECK(sum != 0);
}

TEST_CASE("many threads can match against one policy at once") {
    RuleGen gen(0x712ead);
    std::vector<Rule> rules;
    for (int i = 0; i < 300; ++i) rules.push_back(gen.classifierRule());
    std::shared_ptr<const Policy> policy = compileOk(rules, testZones());
    std::vector<PolicyQuery> queries;
    std::vector<uint32_t> expected;
    for (int i = 0; i < 2000; ++i) {
        queries.push_back(gen.query(&rules[gen.below(300)]));
        expected.push_back(referenceMatch(rules, queries.back()));
    }
    std::atomic<int> mismatches{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t) {
        workers.emplace_back([&, t] {
            for (int round = 0; round < 5; ++round) {
                for (size_t i = 0; i < queries.size(); ++i) {
                    size_t k = (i + size_t(t) * 499) % queries.size();
                    if (policy->match(queries[k]).rule != expected[k]) ++mismatches;
                }
            }
        });
    }
    for (std::thread& w : workers) w.join();
    CHECK(mismatches.load() == 0);
}

TEST_CASE("a rule that names an application waits for it - matchApp decides by the name") {
    const auto rules = parseAll({
        "allow name good from inside to outside app tls sni good.example,*.cdn.example",
        "deny name bad from inside to outside app tls sni bad.example",
        "allow name web from inside to outside app http host www.example",
        "allow name any-tcp from inside to outside proto tcp dport 443",
    });
    auto policy = compileOk(rules, {"inside", "outside"});
    CHECK(policy->hasAppRules());
    const PolicyQuery q = packet(kInside, kOutside, "10.0.0.1", "192.0.2.1", kTcp, 40000, 443);
    const PolicyVerdict first = policy->match(q);
    CHECK(first.rule == 0);
    CHECK(first.app);
    auto byName = [&](AppProtocol p, const char* name) {
        return policy->matchApp(q, p, name).rule;
    };
    CHECK(byName(AppProtocol::tls, "good.example") == 0);
    CHECK(byName(AppProtocol::tls, "a.b.cdn.example") == 0);
    CHECK(byName(AppProtocol::tls, "cdn.example") == 3);  // *.suffix needs a label before it
    CHECK(byName(AppProtocol::tls, "bad.example") == 1);
    CHECK(policy->matchApp(q, AppProtocol::tls, "bad.example").action == RuleAction::deny);
    CHECK(byName(AppProtocol::http, "good.example") == 3);  // the name under another protocol
    CHECK(byName(AppProtocol::http, "www.example") == 2);
    CHECK(byName(AppProtocol::none, "") == 3);  // not identified: app rules pass it over
    // UDP never matches the TCP-only app rules.
    const PolicyQuery u = packet(kInside, kOutside, "10.0.0.1", "192.0.2.1", kUdp, 40000, 443);
    CHECK(policy->match(u).rule == kNone);
    CHECK(!compileOk(parseAll({"allow proto tcp"}), {})->hasAppRules());
}

}  // namespace tandem
