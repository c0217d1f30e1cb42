#include "pipeline/pipeline.h"

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "unit/packet/parser_fixture.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = 0;  // port 0, zone "outside"
constexpr uint16_t kInside = 1;   // port 1, zone "inside"

std::vector<Rule> labRules() {
    std::vector<std::string> texts = {
        "deny name no-ssh from inside to outside proto tcp dport 22",
        "allow name web from inside to outside proto tcp dport 80,443",
        "allow name dns from inside to outside proto udp dport 53",
        "allow name ping from inside to outside proto icmp icmp-type 8",
        "allow name ping6 from inside to outside proto icmpv6 icmp-type 128",
        "allow name frag from inside to outside proto udp dport 9000",
    };
    std::vector<Rule> rules;
    for (auto& t : texts) {
        RuleError err;
        auto r = parseRule(t, &err);
        REQUIRE_MESSAGE(r, t << ": " << err.message);
        rules.push_back(*r);
    }
    return rules;
}

// One inline node between an outside and an inside port.
struct Node {
    SessionTable table;
    Pipeline pipe;
    uint32_t now = 1000;

    static PipelineSettings settings(bool geneve) {
        PipelineSettings s;
        s.node = 1;
        s.port_count = geneve ? 1 : 2;
        s.ports[0] = {0, uint16_t(geneve ? 0 : 1)};
        s.ports[1] = {1, 0};
        s.geneve = geneve;
        if (geneve) s.parse.geneve_port = 6081, s.parse.require_gwlb_options = true;
        return s;
    }
    static std::shared_ptr<const Policy> policy(std::vector<Rule> rules) {
        std::string err;
        auto p = Policy::compile(rules, {"outside", "inside"}, &err);
        REQUIRE_MESSAGE(p, err);
        return p;
    }
    explicit Node(uint32_t capacity = 1024, bool geneve = false,
                  std::vector<Rule> rules = labRules())
        : table(capacity, 0), pipe(settings(geneve), table, policy(std::move(rules))) {}

    Verdict send(std::vector<uint8_t> frame, uint16_t port) {
        return pipe.process(frame.data(), uint16_t(frame.size()), port, now);
    }
    uint64_t count(PipelineCounter c) const { return pipe.counters().get(c); }
};

bool forwardedTo(const Verdict& v, uint16_t port) {
    return v.kind == VerdictKind::forward && v.port == port;
}
bool dropped(const Verdict& v) {
    return v.kind == VerdictKind::drop;
}

const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";

// Runs a TCP handshake client (inside) -> server (outside) on `port`.
void handshake(Node& n, uint16_t sport, uint16_t dport = 80) {
    REQUIRE(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, sport, kServer, dport, kTcpSyn).seq(100).build(),
               kInside),
        kOutside));
    REQUIRE(forwardedTo(n.send(FrameBuilder::tcp(kServer, dport, kClient, sport, kTcpSyn | kTcpAck)
                                   .seq(500)
                                   .ack(101)
                                   .build(),
                               kOutside),
                        kInside));
    REQUIRE(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, sport, kServer, dport, kTcpAck).seq(101).ack(501).build(),
               kInside),
        kOutside));
}

}  // namespace

TEST_CASE("an allowed TCP connection is forwarded both ways and reaches established") {
    Node n;
    handshake(n, 40000);
    CHECK(n.count(PipelineCounter::sessions_created) == 1);
    CHECK(n.count(PipelineCounter::forwarded) == 3);
    CHECK(n.table.size() == 1);
    n.table.scan(0, n.table.capacity(), [](uint32_t, const Session& s) {
        CHECK(s.state == SessionState::tcp_established);
        CHECK(s.owner == 1);
        CHECK(s.origin_owner == 1);
        CHECK(s.packets(0) == 2);
        CHECK(s.packets(1) == 1);
    });
}

TEST_CASE("a SYN the policy denies is dropped and counted as denied") {
    Node n;
    CHECK(
        dropped(n.send(FrameBuilder::tcp(kClient, 40000, kServer, 22, kTcpSyn).build(), kInside)));
    CHECK(
        dropped(n.send(FrameBuilder::tcp(kClient, 40000, kServer, 25, kTcpSyn).build(), kInside)));
    CHECK(n.count(PipelineCounter::dropped_policy) == 2);
    CHECK(n.table.size() == 0);
}

TEST_CASE("a connection opened from the outside is denied when only inside to outside is allowed") {
    Node n;
    CHECK(
        dropped(n.send(FrameBuilder::tcp(kServer, 5555, kClient, 80, kTcpSyn).build(), kOutside)));
    CHECK(n.count(PipelineCounter::dropped_policy) == 1);
}

TEST_CASE("a mid-stream TCP segment with no session is dropped and counted") {
    Node n;
    CHECK(dropped(n.send(
        FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck).seq(5).ack(9).build(), kInside)));
    CHECK(dropped(n.send(FrameBuilder::tcp(kServer, 80, kClient, 40000, kTcpSyn | kTcpAck).build(),
                         kOutside)));
    CHECK(n.count(PipelineCounter::dropped_no_session) == 2);
    CHECK(n.table.size() == 0);
}

TEST_CASE("TCP segments out of state or window are dropped with their own counters") {
    Node n;
    handshake(n, 40001);
    CHECK(dropped(
        n.send(FrameBuilder::tcp(kClient, 40001, kServer, 80, kTcpSyn | kTcpFin).seq(101).build(),
               kInside)));
    CHECK(dropped(n.send(FrameBuilder::tcp(kClient, 40001, kServer, 80, kTcpAck)
                             .seq(900000)
                             .ack(501)
                             .payload(10)
                             .build(),
                         kInside)));
    CHECK(dropped(
        n.send(FrameBuilder::tcp(kClient, 40001, kServer, 80, kTcpSyn).seq(7).build(), kInside)));
    CHECK(n.count(PipelineCounter::dropped_tcp_invalid_flags) == 1);
    CHECK(n.count(PipelineCounter::dropped_tcp_out_of_window) == 1);
    CHECK(n.count(PipelineCounter::dropped_tcp_invalid_state) == 1);
}

TEST_CASE("UDP request and reply pass and the session becomes replied") {
    Node n;
    CHECK(forwardedTo(
        n.send(FrameBuilder::udp(kClient, 5353, kServer, 53).payload(30).build(), kInside),
        kOutside));
    CHECK(forwardedTo(
        n.send(FrameBuilder::udp(kServer, 53, kClient, 5353).payload(90).build(), kOutside),
        kInside));
    n.table.scan(0, n.table.capacity(), [](uint32_t, const Session& s) {
        CHECK(s.state == SessionState::replied);
        CHECK(s.bytes(0) == 20 + 8 + 30);
        CHECK(s.bytes(1) == 20 + 8 + 90);
    });
    // An unsolicited datagram from outside is judged by the policy, and denied.
    CHECK(dropped(n.send(FrameBuilder::udp(kServer, 53, kClient, 5354).build(), kOutside)));
}

TEST_CASE("ICMP echo passes both ways - an echo reply with no request is dropped") {
    Node n;
    CHECK(forwardedTo(n.send(FrameBuilder::echo(kClient, kServer, 77, true).build(), kInside),
                      kOutside));
    CHECK(forwardedTo(n.send(FrameBuilder::echo(kServer, kClient, 77, false).build(), kOutside),
                      kInside));
    CHECK(dropped(n.send(FrameBuilder::echo(kServer, kClient, 78, false).build(), kOutside)));
    CHECK(n.count(PipelineCounter::dropped_no_session) == 1);
    CHECK(forwardedTo(
        n.send(FrameBuilder::echo("2001:db8::10", "2001:db8:1::80", 5, true).build(), kInside),
        kOutside));
    CHECK(forwardedTo(
        n.send(FrameBuilder::echo("2001:db8:1::80", "2001:db8::10", 5, false).build(), kOutside),
        kInside));
}

TEST_CASE(
    "an ICMP error about a live session reaches its sender - one about no session is dropped") {
    Node n;
    auto dgram = FrameBuilder::udp(kClient, 6000, kServer, 53).build();
    REQUIRE(forwardedTo(n.send(dgram, kInside), kOutside));
    // A router on the outside says the server is unreachable.
    CHECK(forwardedTo(
        n.send(FrameBuilder::icmpError("198.51.100.1", kClient, dgram).build(), kOutside),
        kInside));
    CHECK(n.count(PipelineCounter::icmp_errors_forwarded) == 1);
    auto other = FrameBuilder::udp(kClient, 6001, kServer, 53).build();
    CHECK(
        dropped(n.send(FrameBuilder::icmpError("198.51.100.1", kClient, other).build(), kOutside)));
    CHECK(n.count(PipelineCounter::dropped_icmp_error_no_session) == 1);
}

TEST_CASE("non-IP frames and IPv6 neighbour discovery pass without a session") {
    Node n;
    std::vector<uint8_t> arp(60, 0);
    arp[12] = 0x08, arp[13] = 0x06;
    CHECK(forwardedTo(n.send(arp, kInside), kOutside));
    CHECK(forwardedTo(n.send(arp, kOutside), kInside));
    CHECK(n.count(PipelineCounter::passed_non_ip) == 2);
    auto ns = FrameBuilder::echo("fe80::1", "ff02::1:ff00:2", 0, true).build();
    ns[14 + 40] = 135;  // neighbour solicitation
    CHECK(forwardedTo(n.send(ns, kOutside), kInside));
    CHECK(n.count(PipelineCounter::passed_neighbor_discovery) == 1);
    CHECK(n.table.size() == 0);
}

TEST_CASE("a malformed frame is dropped and counted under its parse reason") {
    Node n;
    auto f = FrameBuilder::tcp(kClient, 1, kServer, 80, kTcpSyn).build();
    f[14] = 0x44;  // IHL 4
    CHECK(dropped(n.send(f, kInside)));
    CHECK(n.count(PipelineCounter::dropped_malformed) == 1);
    CHECK(n.pipe.parseCounters().get(ParseResult::bad_ipv4_ihl) == 1);
}

TEST_CASE("every malformed fixture frame is dropped and counted once, under its reason's name") {
    size_t rows = 0;
    for (const test::ParserFixture& f : test::parserFixtures()) {
        if (f.entry != test::Entry::frame || f.result == ParseResult::ok ||
            f.result == ParseResult::non_ip)
            continue;
        ++rows;
        INFO("fixture: " << std::string(f.name));
        PipelineSettings settings = Node::settings(false);
        settings.parse = f.opts;
        SessionTable table(64, 0);
        Pipeline pipe(settings, table, Node::policy(labRules()));
        std::vector<uint8_t> frame = test::fromHex(f.hex);
        CHECK(dropped(pipe.process(frame.data(), uint16_t(frame.size()), kInside, 1000)));
        CHECK(pipe.counters().get(PipelineCounter::dropped_malformed) == 1);
        // Exactly one parse counter moved: the one exported under the name
        // of the reason the fixture expects.
        for (size_t i = 0; i < kParseResultCount; ++i) {
            const std::string name(kParseResultInfo[i].name);
            INFO("counter: " << name);
            CHECK(pipe.parseCounters().get(ParseResult(i)) ==
                  (name == parseResultName(f.result) ? 1u : 0u));
        }
    }
    CHECK(rows >= 50);
}

TEST_CASE("later fragments follow their first fragment's verdict") {
    Node n;
    auto first = FrameBuilder::udp(kClient, 7000, kServer, 9000)
                     .ipId(42)
                     .fragment(0, true)
                     .payload(40)
                     .build();
    auto second = FrameBuilder::udp(kClient, 7000, kServer, 9000)
                      .ipId(42)
                      .fragment(48, false)
                      .payload(40)
                      .build();
    CHECK(forwardedTo(n.send(first, kInside), kOutside));
    CHECK(forwardedTo(n.send(second, kInside), kOutside));
    CHECK(n.count(PipelineCounter::fragments_forwarded) == 1);
    // The same datagram id from another protocol is another datagram.
    auto other = FrameBuilder::tcp(kClient, 7000, kServer, 9000, kTcpAck)
                     .ipId(42)
                     .fragment(48, false)
                     .build();
    CHECK(n.send(other, kInside).kind == VerdictKind::hold);
}

TEST_CASE("a datagram's verdict is forgotten once all of it passed: its name may come again") {
    Node n;
    auto dgram = [&](uint16_t dport, uint16_t offset, bool more) {
        return FrameBuilder::udp(kClient, 7000, kServer, dport)
            .ipId(42)
            .fragment(offset, more)
            .payload(40)
            .build();
    };
    // A datagram of two fragments to an allowed port, then a second with the
    // same identification (Linux numbers per connected socket) to a denied
    // one, whose later fragment comes first: it waits for its own first
    // fragment rather than follow the first datagram's verdict.
    CHECK(forwardedTo(n.send(dgram(9000, 0, true), kInside), kOutside));
    CHECK(forwardedTo(n.send(dgram(9000, 48, false), kInside), kOutside));
    auto later = dgram(9999, 48, false);
    CHECK(n.send(later, kInside).kind == VerdictKind::hold);
    CHECK(dropped(n.send(dgram(9999, 0, true), kInside)));
    CHECK(dropped(
        n.pipe.releaseHeldFragment(later.data(), uint16_t(later.size()), kInside, n.now, {})));
    CHECK(n.count(PipelineCounter::dropped_fragment_denied) == 1);
    CHECK(n.count(PipelineCounter::fragments_forwarded) == 1);
}

TEST_CASE("a fragment that comes before its first fragment is held, then follows its verdict") {
    for (bool v6 : {false, true}) {
        CAPTURE(v6);
        Node n;
        const char* client = v6 ? "2001:db8:1::10" : kClient;
        const char* server = v6 ? "2001:db8:2::80" : kServer;
        auto dgram = [&](uint16_t dport, uint16_t id, uint16_t offset, bool more) {
            return FrameBuilder::udp(client, 7000, server, dport)
                .ipId(id)
                .fragment(offset, more)
                .payload(40)
                .build();
        };
        auto later = dgram(9000, 42, 48, false);
        Verdict v = n.send(later, kInside);
        CHECK(v.kind == VerdictKind::hold);
        CHECK(n.count(PipelineCounter::fragments_held) == 1);
        const uint32_t heads = n.pipe.fragmentHeadsDecided();
        // Tried again before the first fragment came: still held, counted once.
        CHECK(n.pipe.releaseHeldFragment(later.data(), uint16_t(later.size()), kInside, n.now, {})
                  .kind == VerdictKind::hold);
        CHECK(n.count(PipelineCounter::fragments_held) == 1);
        CHECK(forwardedTo(n.send(dgram(9000, 42, 0, true), kInside), kOutside));
        CHECK(n.pipe.fragmentHeadsDecided() != heads);
        CHECK(forwardedTo(
            n.pipe.releaseHeldFragment(later.data(), uint16_t(later.size()), kInside, n.now, {}),
            kOutside));
        CHECK(n.count(PipelineCounter::fragments_forwarded) == 1);

        // A datagram the policy denies: its held fragment is dropped with it.
        auto denied_later = dgram(9999, 43, 48, false);
        CHECK(n.send(denied_later, kOutside).kind == VerdictKind::hold);
        CHECK(dropped(n.send(dgram(9999, 43, 0, true), kOutside)));
        CHECK(dropped(n.pipe.releaseHeldFragment(denied_later.data(), uint16_t(denied_later.size()),
                                                 kOutside, n.now, {})));
        CHECK(n.count(PipelineCounter::dropped_fragment_denied) == 1);
    }
}

TEST_CASE("an idle session expires and its late packets find no session") {
    Node n;
    handshake(n, 40002);
    n.now += 3600 * 1000 + 1000;  // past the established timeout
    uint32_t expired = 0;
    for (int i = 0; i < 100 && expired == 0; ++i) expired += n.pipe.age(n.now, 1000);
    CHECK(expired == 1);
    CHECK(n.count(PipelineCounter::sessions_expired) == 1);
    CHECK(dropped(
        n.send(FrameBuilder::tcp(kClient, 40002, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside)));
    CHECK(n.count(PipelineCounter::dropped_no_session) == 1);
}

TEST_CASE("traffic keeps a session alive past its original timeout") {
    Node n;
    handshake(n, 40003);
    for (int minute = 0; minute < 120; ++minute) {  // two hours, one packet a minute
        n.now += 60 * 1000;
        n.pipe.age(n.now, 1000);
        REQUIRE(forwardedTo(
            n.send(
                FrameBuilder::tcp(kClient, 40003, kServer, 80, kTcpAck).seq(101).ack(501).build(),
                kInside),
            kOutside));
    }
    CHECK(n.count(PipelineCounter::sessions_expired) == 0);
}

TEST_CASE("a new SYN after a reset starts a fresh session judged by the policy") {
    Node n;
    handshake(n, 40004);
    REQUIRE(forwardedTo(
        n.send(FrameBuilder::tcp(kServer, 80, kClient, 40004, kTcpRst).seq(501).build(), kOutside),
        kInside));
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 40004, kServer, 80, kTcpSyn).seq(9000).build(), kInside),
        kOutside));
    CHECK(n.count(PipelineCounter::sessions_reopened) == 1);
    CHECK(n.table.size() == 1);
    // The same tuple reopened from the outside is a new connection the policy denies.
    REQUIRE(forwardedTo(n.send(FrameBuilder::tcp(kServer, 80, kClient, 40004, kTcpRst | kTcpAck)
                                   .seq(0)
                                   .ack(9001)
                                   .build(),
                               kOutside),
                        kInside));
    CHECK(dropped(
        n.send(FrameBuilder::tcp(kServer, 80, kClient, 40004, kTcpSyn).seq(1).build(), kOutside)));
    CHECK(n.table.size() == 0);
}

TEST_CASE("under a SYN flood a table under pressure gives embryonic sessions the short timeout") {
    // Capacity 8, pressure from 4 entries (50 %): two established
    // connections, then SYNs that will never be answered fill the table.
    Node n(8);
    handshake(n, 40100);
    handshake(n, 40101);
    for (uint16_t p = 0; p < 6; ++p) {
        REQUIRE(
            forwardedTo(n.send(FrameBuilder::tcp(kClient, uint16_t(50000 + p), kServer, 80, kTcpSyn)
                                   .seq(7)
                                   .build(),
                               kInside),
                        kOutside));
    }
    CHECK(n.table.size() == 8);
    CHECK(n.count(PipelineCounter::embryonic_short_timeouts) == 4);  // created at 4..7 entries
    // Full: a new flow is refused and counted; the established ones go on.
    CHECK(dropped(
        n.send(FrameBuilder::tcp(kClient, 50100, kServer, 80, kTcpSyn).seq(7).build(), kInside)));
    CHECK(n.count(PipelineCounter::dropped_table_full) == 1);
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 40100, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside),
        kOutside));
    // After the short timeout (5 s) the embryonic sessions made under
    // pressure are gone and a new connection gets in; the two embryonic
    // sessions made before the pressure keep the syn-sent timeout (30 s).
    n.now += 6000;
    n.pipe.age(n.now, 1000);
    CHECK(n.table.size() == 4);
    CHECK(n.count(PipelineCounter::sessions_expired) == 4);
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 50101, kServer, 80, kTcpSyn).seq(7).build(), kInside),
        kOutside));
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 40101, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside),
        kOutside));
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 40100, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside),
        kOutside));
    // An established session is never shortened, whatever the pressure.
    n.now += 60 * 1000;
    n.pipe.age(n.now, 1000);
    CHECK(n.table.size() == 2);
    CHECK(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 40100, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside),
        kOutside));
}

TEST_CASE("without pressure an embryonic session keeps the syn-sent timeout") {
    Node n(8);
    REQUIRE(forwardedTo(
        n.send(FrameBuilder::tcp(kClient, 50000, kServer, 80, kTcpSyn).seq(7).build(), kInside),
        kOutside));
    CHECK(n.count(PipelineCounter::embryonic_short_timeouts) == 0);
    n.now += 6000;
    n.pipe.age(n.now, 1000);
    CHECK(n.table.size() == 1);
    n.now += 25000;
    n.pipe.age(n.now, 1000);
    CHECK(n.table.size() == 0);
}

TEST_CASE("a full session table refuses new sessions and counts them") {
    Node n(4);
    for (uint16_t p = 0; p < 4; ++p) {
        REQUIRE(forwardedTo(
            n.send(FrameBuilder::udp(kClient, uint16_t(1000 + p), kServer, 53).build(), kInside),
            kOutside));
    }
    CHECK(dropped(n.send(FrameBuilder::udp(kClient, 2000, kServer, 53).build(), kInside)));
    CHECK(n.count(PipelineCounter::dropped_table_full) == 1);
}

TEST_CASE("two packets of one new flow in the same burst make one session") {
    Node n;
    auto a = FrameBuilder::udp(kClient, 3000, kServer, 53).build();
    auto b = FrameBuilder::udp(kClient, 3000, kServer, 53).build();
    uint8_t* frames[2] = {a.data(), b.data()};
    uint16_t lens[2] = {uint16_t(a.size()), uint16_t(b.size())};
    Verdict v[2];
    n.pipe.processBurst(frames, lens, 2, kInside, n.now, v);
    CHECK(forwardedTo(v[0], kOutside));
    CHECK(forwardedTo(v[1], kOutside));
    CHECK(n.table.size() == 1);
    CHECK(n.count(PipelineCounter::sessions_created) == 1);
}

namespace {
// Wraps an inner IP packet (from a frame built by FrameBuilder) in
// Ethernet / IPv4 / UDP 6081 / GENEVE with the three AWS GWLB options.
std::vector<uint8_t> gwlbFrame(const std::vector<uint8_t>& inner_frame) {
    std::vector<uint8_t> inner(inner_frame.begin() + 14, inner_frame.end());
    std::vector<uint8_t> gen = {0x05, 0x00, 0x08, 0x00, 0, 0, 0, 0};  // opt len 5 words
    auto opt = [&](uint8_t type, std::vector<uint8_t> data) {
        gen.insert(gen.end(), {0x01, 0x08, type, uint8_t(data.size() / 4)});
        gen.insert(gen.end(), data.begin(), data.end());
    };
    opt(1, {1, 2, 3, 4, 5, 6, 7, 8});
    opt(2, {9, 9, 9, 9, 9, 9, 9, 9});
    opt(3, {0xca, 0xfe, 0xf0, 0x0d});
    // opt len = (12 + 12 + 8) / 4 = 8 words
    gen[0] = 8;
    std::vector<uint8_t> f = {0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0b, 0x08, 0x00};
    const uint16_t udp_len = uint16_t(8 + gen.size() + inner.size());
    const uint16_t ip_len = uint16_t(20 + udp_len);
    std::vector<uint8_t> ip = {0x45,
                               0,
                               uint8_t(ip_len >> 8),
                               uint8_t(ip_len),
                               0,
                               1,
                               0,
                               0,
                               64,
                               17,
                               0,
                               0,
                               10,
                               9,
                               0,
                               1,  // GWLB
                               10,
                               9,
                               0,
                               2};  // this node
    std::vector<uint8_t> udp = {0xc3, 0x50, 0x17, 0xc1, uint8_t(udp_len >> 8), uint8_t(udp_len),
                                0,    0};
    f.insert(f.end(), ip.begin(), ip.end());
    f.insert(f.end(), udp.begin(), udp.end());
    f.insert(f.end(), gen.begin(), gen.end());
    f.insert(f.end(), inner.begin(), inner.end());
    return f;
}
}  // namespace

TEST_CASE("in GENEVE mode an allowed packet returns to the load balancer on the same port") {
    RuleError err;
    Node n(1024, true, {*parseRule("allow proto tcp dport 80", &err)});
    auto f = gwlbFrame(FrameBuilder::tcp(kClient, 41000, kServer, 80, kTcpSyn).build());
    const auto original = f;
    Verdict v = n.pipe.process(f.data(), uint16_t(f.size()), 0, n.now);
    CHECK(forwardedTo(v, 0));
    CHECK(n.count(PipelineCounter::tunnel_frames) == 1);
    // Outer MACs and IPs swapped; GENEVE header, options and inner packet untouched.
    CHECK(std::equal(f.begin(), f.begin() + 6, original.begin() + 6));
    CHECK(std::equal(f.begin() + 26, f.begin() + 30, original.begin() + 30));
    CHECK(std::equal(f.begin() + 30, f.begin() + 34, original.begin() + 26));
    CHECK(std::equal(f.begin() + 34, f.end(), original.begin() + 34));
    // A denied inner flow is dropped, not returned.
    auto denied = gwlbFrame(FrameBuilder::tcp(kClient, 41001, kServer, 22, kTcpSyn).build());
    CHECK(dropped(n.pipe.process(denied.data(), uint16_t(denied.size()), 0, n.now)));
}

TEST_CASE("in GENEVE mode a deferred first packet is turned around like a forwarded one") {
    // With a live peer the first packet waits for the backup owner's ack and
    // leaves later exactly as it is now: it must already face the load
    // balancer, or it never returns to it (each new flow would then wait for
    // a SYN retransmission).
    RuleError err;
    PipelineSettings s = Node::settings(true);
    ClusterViewCell cell;
    ClusterView view;
    view.self = 1;
    view.owners = view.reachable = nodeBit(1) | nodeBit(2);
    view.self_state = NodeState::active_primary;
    view.replicate = true;
    cell.publish(view);
    WorkerEventRing events(64);
    s.view = &cell;
    s.events = &events;
    SessionTable table(1024, 0);
    Pipeline pipe(s, table, Node::policy({*parseRule("allow proto tcp dport 80", &err)}));
    auto f = gwlbFrame(FrameBuilder::tcp(kClient, 41000, kServer, 80, kTcpSyn).build());
    const auto original = f;
    const Verdict v = pipe.process(f.data(), uint16_t(f.size()), 0, 1000);
    REQUIRE(v.kind == VerdictKind::defer);
    CHECK(v.port == 0);
    CHECK(events.size() == 1);
    CHECK(std::equal(f.begin(), f.begin() + 6, original.begin() + 6));
    CHECK(std::equal(f.begin() + 6, f.begin() + 12, original.begin()));
    CHECK(std::equal(f.begin() + 26, f.begin() + 30, original.begin() + 30));
    CHECK(std::equal(f.begin() + 30, f.begin() + 34, original.begin() + 26));
    CHECK(std::equal(f.begin() + 34, f.end(), original.begin() + 34));
}

TEST_CASE("frames of one flow far apart in a long burst share one session and are all counted") {
    // 40 frames: 20 new UDP flows, each seen at i and again at i + 20, so the
    // second sighting is looked up before the first has been decided.
    Node n;
    std::vector<std::vector<uint8_t>> f;
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 20; ++i)
            f.push_back(FrameBuilder::udp(kClient, uint16_t(3000 + i), kServer, 53).build());
    }
    uint8_t* frames[40];
    uint16_t lens[40];
    for (int i = 0; i < 40; ++i) frames[i] = f[i].data(), lens[i] = uint16_t(f[i].size());
    Verdict v[40];
    n.pipe.processBurst(frames, lens, 40, kInside, n.now, v);
    for (int i = 0; i < 40; ++i) CHECK(forwardedTo(v[i], kOutside));
    CHECK(n.table.size() == 20);
    CHECK(n.count(PipelineCounter::sessions_created) == 20);
    CHECK(n.count(PipelineCounter::rx_packets) == 40);
    CHECK(n.count(PipelineCounter::forwarded) == 40);
    n.table.scan(0, n.table.capacity(),
                 [](uint32_t, const Session& s) { CHECK(s.packets(0) == 2); });
}

TEST_CASE("in GENEVE mode a whole handshake inside one burst reaches established") {
    // One-arm mode sees both directions on one port, so SYN, SYN-ACK and ACK
    // of a flow can share a burst; each must see what the one before it did.
    RuleError err;
    Node n(1024, true, {*parseRule("allow proto tcp dport 80", &err)});
    std::vector<std::vector<uint8_t>> f;
    for (int i = 0; i < 10; ++i)
        f.push_back(gwlbFrame(FrameBuilder::tcp(kClient, uint16_t(42000 + i), kServer, 80, kTcpSyn)
                                  .seq(100)
                                  .build()));
    for (int i = 0; i < 10; ++i)
        f.push_back(gwlbFrame(
            FrameBuilder::tcp(kServer, 80, kClient, uint16_t(42000 + i), kTcpSyn | kTcpAck)
                .seq(500)
                .ack(101)
                .build()));
    for (int i = 0; i < 10; ++i)
        f.push_back(gwlbFrame(FrameBuilder::tcp(kClient, uint16_t(42000 + i), kServer, 80, kTcpAck)
                                  .seq(101)
                                  .ack(501)
                                  .build()));
    for (int i = 0; i < 10; ++i)
        f.push_back(gwlbFrame(FrameBuilder::tcp(kServer, 80, kClient, uint16_t(42000 + i), kTcpAck)
                                  .seq(501)
                                  .ack(101)
                                  .build()));
    uint8_t* frames[40];
    uint16_t lens[40];
    for (int i = 0; i < 40; ++i) frames[i] = f[i].data(), lens[i] = uint16_t(f[i].size());
    Verdict v[40];
    n.pipe.processBurst(frames, lens, 40, 0, n.now, v);
    for (int i = 0; i < 40; ++i) CHECK_MESSAGE(forwardedTo(v[i], 0), "frame " << i);
    CHECK(n.count(PipelineCounter::sessions_created) == 10);
    CHECK(n.count(PipelineCounter::dropped_no_session) == 0);
    uint32_t established = 0;
    n.table.scan(0, n.table.capacity(), [&](uint32_t, const Session& s) {
        established += s.state == SessionState::tcp_established;
    });
    CHECK(established == 10);
}

namespace {
// A node with several workers, each with its own table and pipeline; every
// frame goes to the worker workerFor() names (what the dataplane's hand-off
// does), so a flow works only if all of its packets meet one worker.
struct Workers {
    static constexpr uint32_t kCount = 4;
    std::vector<std::unique_ptr<Node>> w;
    WorkerMap map;
    explicit Workers(bool geneve = false, std::vector<Rule> rules = labRules(),
                     WorkerMap m = WorkerMap::software(kCount))
        : map(m) {
        for (uint32_t i = 0; i < kCount; ++i)
            w.push_back(std::make_unique<Node>(1024, geneve, rules));
    }
    uint32_t steer(const std::vector<uint8_t>& f, uint32_t here = 99) const {
        // Worker 0 receives everything (as if all frames came in on its queue).
        return w[0]->pipe.workerFor(f.data(), uint16_t(f.size()), map, here, w[0]->now);
    }
    Verdict send(std::vector<uint8_t> f, uint16_t port) {
        const uint32_t i = steer(f, 0);
        REQUIRE(i < kCount);
        return w[i]->send(std::move(f), port);
    }
};
}  // namespace

TEST_CASE("workerFor sends every packet of a flow to the worker that holds its session") {
    // Both steerings: the flow hash's, and the devices' (a 128-entry table).
    WorkerMap map = WorkerMap::software(Workers::kCount);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(Workers::kCount, 128);
    }
    Workers ws(false, labRules(), map);
    std::set<uint32_t> used;
    // One client, one server: the flows of a single busy host pair still
    // spread over every worker (the worker follows the whole flow hash).
    for (uint32_t c = 0; c < 64; ++c) {
        const uint16_t sport = uint16_t(40000 + c);
        CHECK(forwardedTo(
            ws.send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build(),
                    kInside),
            kOutside));
        CHECK(forwardedTo(ws.send(FrameBuilder::tcp(kServer, 80, kClient, sport, kTcpSyn | kTcpAck)
                                      .seq(500)
                                      .ack(101)
                                      .build(),
                                  kOutside),
                          kInside));
        CHECK(forwardedTo(
            ws.send(
                FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build(),
                kInside),
            kOutside));
        CHECK(forwardedTo(ws.send(FrameBuilder::tcp(kServer, 80, kClient, sport, kTcpAck)
                                      .seq(501)
                                      .ack(101)
                                      .payload(10)
                                      .build(),
                                  kOutside),
                          kInside));
        used.insert(ws.steer(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).build()));
    }
    CHECK(used.size() == Workers::kCount);
    size_t total = 0;
    for (uint32_t i = 0; i < Workers::kCount; ++i) {
        Node& n = *ws.w[i];
        total += n.table.size();
        CHECK(n.count(PipelineCounter::dropped_no_session) == 0);
        CHECK(n.count(PipelineCounter::dropped_tcp_invalid_state) == 0);
        // Each worker holds exactly the flows the replication path routes to it.
        n.table.scan(0, n.table.capacity(), [&](uint32_t, const Session& s) {
            CHECK(ws.map.workerOf(s.key()) == i);
            CHECK(s.state == SessionState::tcp_established);
        });
    }
    CHECK(total == 64);
}

TEST_CASE("workerFor places ICMP errors and port-less fragments with their flow") {
    WorkerMap map = WorkerMap::software(Workers::kCount);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(Workers::kCount, 128);
    }
    Workers ws(false, labRules(), map);
    for (uint32_t c = 0; c < 16; ++c) {
        const std::string client = "10.0.1." + std::to_string(100 + c);
        auto dgram = FrameBuilder::udp(client, 6000, kServer, 53).build();
        REQUIRE(forwardedTo(ws.send(dgram, kInside), kOutside));
        // The error comes from a third address; only its embedded header names the flow.
        auto err = FrameBuilder::icmpError("198.51.100.1", client, dgram).build();
        CHECK(ws.steer(err) == ws.steer(dgram));
        CHECK(forwardedTo(ws.send(err, kOutside), kInside));
        auto first = FrameBuilder::udp(client, 7000, kServer, 9000)
                         .ipId(uint16_t(42 + c))
                         .fragment(0, true)
                         .payload(40)
                         .build();
        auto second = FrameBuilder::udp(client, 7000, kServer, 9000)
                          .ipId(uint16_t(42 + c))
                          .fragment(48, false)
                          .payload(40)
                          .build();
        // Before its first fragment was seen, a later one has no worker of its own.
        CHECK(ws.steer(second, 99) == 99);
        CHECK(forwardedTo(ws.send(first, kInside), kOutside));
        CHECK(ws.steer(second) == ws.steer(first));
        CHECK(forwardedTo(ws.send(second, kInside), kOutside));
    }
    uint64_t errors = 0, fragments = 0;
    for (auto& n : ws.w) {
        errors += n->count(PipelineCounter::icmp_errors_forwarded);
        fragments += n->count(PipelineCounter::fragments_forwarded);
    }
    CHECK(errors == 16);
    CHECK(fragments == 16);
}

TEST_CASE("workerFor in rss mode names the queue the device puts either direction on") {
    // What a device programmed with the symmetric key and a table of 128
    // entries (entry i -> queue i % 3) computes for a frame, from its own
    // tuple (core/toeplitz.h): the worker workerFor names must be that
    // queue, for both directions, and what the map says of the session key.
    const WorkerMap map = WorkerMap::rss(3, 128);
    Workers ws(false, labRules(), map);
    std::set<uint32_t> used;
    for (uint32_t c = 0; c < 200; ++c) {
        const uint32_t client = 0x0a000100 + c, server = 0xc0a80001;
        const uint16_t sport = uint16_t(40000 + 7 * c), dport = c % 2 ? 53 : 443;
        const std::string a = formatIpAddr(IpAddr::fromV4(client));
        const std::string b = formatIpAddr(IpAddr::fromV4(server));
        auto out = c % 2 ? FrameBuilder::udp(a, sport, b, dport).build()
                         : FrameBuilder::tcp(a, sport, b, dport, kTcpSyn).build();
        auto back = c % 2 ? FrameBuilder::udp(b, dport, a, sport).build()
                          : FrameBuilder::tcp(b, dport, a, sport, kTcpSyn | kTcpAck).build();
        const uint32_t device = map.workerOfDeviceHash(rssHashV4(client, server, sport, dport));
        CHECK(device == map.workerOfDeviceHash(rssHashV4(server, client, dport, sport)));
        CHECK(ws.steer(out) == device);
        CHECK(ws.steer(back) == device);
        FlowTuple t;
        t.src = IpAddr::fromV4(server), t.dst = IpAddr::fromV4(client);
        t.sport = dport, t.dport = sport, t.family = AddrFamily::v4;
        t.proto = c % 2 ? kProtoUdp : kProtoTcp;
        CHECK(map.workerOf(makeFlowKey(t)) == device);
        used.insert(device);
    }
    CHECK(used.size() == 3);
}

TEST_CASE(
    "workerFor keys a GENEVE frame by its inner flow - frames of no flow stay where they are") {
    RuleError err;
    Workers ws(true, {*parseRule("allow proto tcp dport 80", &err)});
    std::set<uint32_t> used;
    for (uint32_t c = 0; c < 32; ++c) {
        const std::string client = "10.0.2." + std::to_string(10 + c);
        auto syn =
            gwlbFrame(FrameBuilder::tcp(client, 41000, kServer, 80, kTcpSyn).seq(100).build());
        auto synack = gwlbFrame(FrameBuilder::tcp(kServer, 80, client, 41000, kTcpSyn | kTcpAck)
                                    .seq(500)
                                    .ack(101)
                                    .build());
        CHECK(ws.steer(syn) == ws.steer(synack));
        used.insert(ws.steer(syn));
        CHECK(forwardedTo(ws.send(syn, 0), 0));
        CHECK(forwardedTo(ws.send(synack, 0), 0));
    }
    // The outer header (one load balancer, one node) is the same for all: only
    // the inner flows spread the load.
    CHECK(used.size() > 1);
    std::vector<uint8_t> arp(60, 0);
    arp[12] = 0x08, arp[13] = 0x06;
    CHECK(ws.steer(arp, 7) == 7);
    auto bad = FrameBuilder::tcp(kClient, 1, kServer, 80, kTcpSyn).build();
    bad[14] = 0x44;
    CHECK(ws.steer(bad, 5) == 5);
    // One worker only: always here, without parsing.
    CHECK(ws.w[0]->pipe.workerFor(arp.data(), uint16_t(arp.size()), WorkerMap::software(1), 3, 0) ==
          3);
}

namespace {

std::vector<Rule> rulesFrom(const std::vector<std::string>& texts) {
    std::vector<Rule> rules;
    for (const auto& t : texts) {
        RuleError err;
        auto r = parseRule(t, &err);
        REQUIRE_MESSAGE(r, t << ": " << err.message);
        rules.push_back(*r);
    }
    return rules;
}

const Session* sessionOf(const Node& n, uint16_t sport, uint16_t dport) {
    auto f = FrameBuilder::tcp(kClient, sport, kServer, dport, kTcpAck).build();
    PacketInfo info;
    REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
    const FlowKey k = makeFlowKey(info.tuple(0));
    const uint32_t i = n.table.find(k, flowHash(k));
    return i == SessionTable::kNoEntry ? nullptr : &n.table.at(i);
}

}  // namespace

TEST_CASE("a policy reload ends the sessions the new policy denies and re-numbers the rest") {
    Node n;
    handshake(n, 40000, 80);
    handshake(n, 40001, 443);
    auto dns = FrameBuilder::udp(kClient, 5353, kServer, 53).build();
    REQUIRE(forwardedTo(n.send(dns, kInside), kOutside));
    REQUIRE(n.table.size() == 3);
    const uint32_t web_rule = sessionOf(n, 40000, 80)->rule;
    CHECK(web_rule == 1);

    // 443 is denied now; web moved down one place; dns is gone from the rules.
    n.pipe.setPolicy(Node::policy(rulesFrom({
                         "deny name no-tls from inside to outside proto tcp dport 443",
                         "deny name no-ssh from inside to outside proto tcp dport 22",
                         "allow name web from inside to outside proto tcp dport 80,443 log",
                     })),
                     true);
    // Frames see the new policy at once: a new 443 flow is denied.
    CHECK(
        dropped(n.send(FrameBuilder::tcp(kClient, 40002, kServer, 443, kTcpSyn).build(), kInside)));
    while (n.pipe.runJobs(n.now, 1)) {
    }
    CHECK(n.count(PipelineCounter::sessions_ended_by_policy) == 2);  // the 443 and the dns one
    CHECK(n.count(PipelineCounter::sessions_rule_changed) == 1);
    REQUIRE(n.table.size() == 1);
    const Session* web = sessionOf(n, 40000, 80);
    REQUIRE(web);
    CHECK(web->rule == 2);
    CHECK((web->flags & kSessionLog) != 0);
    CHECK(sessionOf(n, 40001, 443) == nullptr);
    // The kept connection carries on; the ended one's next segment finds nothing.
    CHECK(forwardedTo(n.send(FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck)
                                 .seq(101)
                                 .ack(501)
                                 .payload(10)
                                 .build(),
                             kInside),
                      kOutside));
    CHECK(dropped(n.send(FrameBuilder::tcp(kClient, 40001, kServer, 443, kTcpAck)
                             .seq(101)
                             .ack(501)
                             .payload(10)
                             .build(),
                         kInside)));
}

TEST_CASE(
    "with re-evaluate off a reload keeps every session - denied ones under an earlier policy's "
    "rule") {
    Node n;
    handshake(n, 40000, 80);
    handshake(n, 40001, 443);
    n.pipe.setPolicy(
        Node::policy(rulesFrom({"allow name web from inside to outside proto tcp dport 80"})),
        false);
    while (n.pipe.runJobs(n.now, 1)) {
    }
    CHECK(n.count(PipelineCounter::sessions_ended_by_policy) == 0);
    CHECK(n.count(PipelineCounter::sessions_rule_retired) == 1);
    CHECK(n.table.size() == 2);
    CHECK(sessionOf(n, 40000, 80)->rule == 0);
    CHECK(sessionOf(n, 40001, 443)->rule == kRuleOfEarlierPolicy);
    CHECK(forwardedTo(n.send(FrameBuilder::tcp(kClient, 40001, kServer, 443, kTcpAck)
                                 .seq(101)
                                 .ack(501)
                                 .payload(10)
                                 .build(),
                             kInside),
                      kOutside));
    // A second reload with the same policy changes nothing more.
    n.pipe.setPolicy(
        Node::policy(rulesFrom({"allow name web from inside to outside proto tcp dport 80"})),
        false);
    while (n.pipe.runJobs(n.now, 1)) {
    }
    CHECK(n.count(PipelineCounter::sessions_rule_retired) == 1);
    CHECK(n.count(PipelineCounter::sessions_rule_changed) == 1);  // from the first reload only
}
