// Source translation on one node: a session a snat rule matches leaves with
// a pool address and port, its replies come back to its client, ports are
// never shared and go back to the pool when sessions end.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "fixtures/nat_pipelines.h"
#include "fixtures/tls_hello.h"
#include "pipeline/pipeline.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = 0, kInside = 1;
const char* kServer = "192.0.2.80";
constexpr uint32_t kPoolAddr = 0xc633640a;  // 198.51.100.10

using Bytes = std::vector<uint8_t>;

NatSetup natSetup(const char* pool_text, const std::vector<std::string>& rule_texts) {
    return test::natSetupOf(pool_text, rule_texts, 0);
}

struct Node {
    NatSetup setup;
    SessionTable table{4096, 0};
    std::unique_ptr<Pipeline> pipe;
    uint32_t now = 1000;

    explicit Node(
        const char* pool = "public 198.51.100.10 ports 20000-20127",
        const std::vector<std::string>& rules = {"allow from inside to outside"},
        const std::vector<std::string>& nat_rules = {"snat from inside to outside pool public"})
        : setup(natSetup(pool, nat_rules)) {
        PipelineSettings s;
        s.node = 1;
        s.port_count = 2;
        s.ports[kOutside] = {kOutside, kInside};
        s.ports[kInside] = {kInside, kOutside};
        s.nat = &setup;
        RuleError err;
        std::string error;
        std::vector<Rule> parsed;
        for (const std::string& r : rules) parsed.push_back(*parseRule(r, &err));
        auto policy = Policy::compile(parsed, {"outside", "inside"}, &error);
        pipe = std::make_unique<Pipeline>(s, table, policy);
    }
    Verdict send(Bytes& frame, uint16_t port) {
        return pipe->process(frame.data(), uint16_t(frame.size()), port, now);
    }
    uint64_t count(PipelineCounter c) const { return pipe->counters().get(c); }
};

PacketInfo parsed(const Bytes& f) {
    PacketInfo info;
    REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
    return info;
}

Bytes tcp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
          uint8_t flags, uint32_t seq, uint32_t ack) {
    return FrameBuilder::tcp(src, sport, dst, dport, flags).seq(seq).ack(ack).build();
}

std::string text(uint32_t v4) {
    return formatIpAddr(IpAddr::fromV4(v4));
}

}  // namespace

TEST_CASE("a translated connection leaves with a pool address and its replies reach the client") {
    Node n;
    Bytes syn = tcp("10.0.1.10", 40000, kServer, 443, kTcpSyn, 100, 0);
    REQUIRE(n.send(syn, kInside).kind == VerdictKind::forward);
    const PacketInfo out = parsed(syn);
    CHECK(out.src == IpAddr::fromV4(kPoolAddr));
    CHECK(out.sport >= 20000);
    CHECK(out.sport <= 20127);
    CHECK(out.dst == *parseIpAddr(kServer));
    CHECK(n.count(PipelineCounter::sessions_translated) == 1);
    const uint16_t port = out.sport;

    // The server answers the pool address: the client gets it.
    Bytes synack = tcp(kServer, 443, text(kPoolAddr), port, kTcpSyn | kTcpAck, 900, 101);
    REQUIRE(n.send(synack, kOutside).kind == VerdictKind::forward);
    const PacketInfo back = parsed(synack);
    CHECK(back.dst == *parseIpAddr("10.0.1.10"));
    CHECK(back.dport == 40000);
    CHECK(n.count(PipelineCounter::nat_replies_translated) == 1);
    CHECK(n.table.size() == 1);  // the reply found the session

    // Established both ways, each packet translated.
    Bytes ack = tcp("10.0.1.10", 40000, kServer, 443, kTcpAck, 101, 901);
    REQUIRE(n.send(ack, kInside).kind == VerdictKind::forward);
    CHECK(parsed(ack).sport == port);
    Bytes data = tcp(kServer, 443, text(kPoolAddr), port, kTcpAck | kTcpPsh, 901, 101);
    REQUIRE(n.send(data, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(data).dport == 40000);

    // Another end sending to the same pool port is not the session's.
    Bytes stray = tcp("203.0.113.9", 443, text(kPoolAddr), port, kTcpAck, 1, 1);
    CHECK(n.send(stray, kOutside).kind == VerdictKind::drop);
    CHECK(n.count(PipelineCounter::nat_no_translation) == 1);
    CHECK(parsed(stray).dst == IpAddr::fromV4(kPoolAddr));  // left as it came
}

TEST_CASE(
    "every session gets its own port until the pool runs out, and ports come back as sessions go") {
    Node n("public 198.51.100.10 ports 20000-20127");  // 128 ports: two blocks of 64
    std::set<uint16_t> ports;
    for (uint16_t i = 0; i < 128; ++i) {
        Bytes syn = tcp("10.0.1." + std::to_string(1 + i % 200), uint16_t(30000 + i), kServer, 80,
                        kTcpSyn, 1, 0);
        REQUIRE(n.send(syn, kInside).kind == VerdictKind::forward);
        CHECK(ports.insert(parsed(syn).sport).second);
    }
    CHECK(ports.size() == 128);
    Bytes one_more = tcp("10.0.2.1", 30000, kServer, 80, kTcpSyn, 1, 0);
    CHECK(n.send(one_more, kInside).kind == VerdictKind::drop);
    CHECK(n.count(PipelineCounter::dropped_nat_exhausted) == 1);
    CHECK(n.table.size() == 128);  // the refused one left nothing behind

    // The sessions time out (embryonic): every port is free again.
    n.now += 3600 * 1000;
    while (n.pipe->age(n.now, 4096) > 0) {
    }
    CHECK(n.table.size() == 0);
    for (uint16_t i = 0; i < 128; ++i) {
        Bytes syn = tcp("10.0.3.1", uint16_t(30000 + i), kServer, 80, kTcpSyn, 1, 0);
        REQUIRE(n.send(syn, kInside).kind == VerdictKind::forward);
    }
    CHECK(n.count(PipelineCounter::dropped_nat_exhausted) == 1);
}

TEST_CASE("UDP and ICMP echo are translated too, and traffic no rule names is not") {
    Node n;
    Bytes q = FrameBuilder::udp("10.0.1.10", 5353, kServer, 53).payload(30).build();
    REQUIRE(n.send(q, kInside).kind == VerdictKind::forward);
    const uint16_t port = parsed(q).sport;
    CHECK(parsed(q).src == IpAddr::fromV4(kPoolAddr));
    Bytes answer = FrameBuilder::udp(kServer, 53, text(kPoolAddr), port).payload(60).build();
    REQUIRE(n.send(answer, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(answer).dst == *parseIpAddr("10.0.1.10"));
    CHECK(parsed(answer).dport == 5353);

    Bytes ping = FrameBuilder::echo("10.0.1.10", kServer, 0x4242, true).build();
    REQUIRE(n.send(ping, kInside).kind == VerdictKind::forward);
    const uint16_t id = parsed(ping).sport;
    CHECK(parsed(ping).src == IpAddr::fromV4(kPoolAddr));
    Bytes pong = FrameBuilder::echo(kServer, text(kPoolAddr), id, false).build();
    REQUIRE(n.send(pong, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(pong).dst == *parseIpAddr("10.0.1.10"));
    CHECK(parsed(pong).sport == 0x4242);

    // IPv6 is never translated.
    Bytes v6 = FrameBuilder::tcp("2001:db8::10", 40000, "2001:db8:1::80", 443, kTcpSyn).build();
    REQUIRE(n.send(v6, kInside).kind == VerdictKind::forward);
    CHECK(parsed(v6).src == *parseIpAddr("2001:db8::10"));
    CHECK(n.count(PipelineCounter::sessions_translated) == 2);
}

TEST_CASE("the later fragments of a translated datagram get its first fragment's new address") {
    Node n;
    auto fragment = [](const std::string& src, uint16_t sport, const std::string& dst,
                       uint16_t dport, uint16_t id, uint16_t offset, bool more) {
        return FrameBuilder::udp(src, sport, dst, dport)
            .ipId(id)
            .fragment(offset, more)
            .payload(40)
            .build();
    };
    // The IPv4 header's checksum, summed with itself, is all ones.
    auto header_ok = [](const Bytes& f) {
        const PacketInfo info = parsed(f);
        uint32_t sum = 0;
        for (size_t i = 0; i < 20; i += 2)
            sum += uint32_t(f[info.l3_offset + i]) << 8 | f[info.l3_offset + i + 1];
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        return sum == 0xffff;
    };
    // Out: the first fragment takes the pool address and a port, the
    // second the address (it has no ports).
    Bytes first = fragment("10.0.1.10", 5000, kServer, 53, 42, 0, true);
    REQUIRE(n.send(first, kInside).kind == VerdictKind::forward);
    const uint16_t port = parsed(first).sport;
    CHECK(parsed(first).src == IpAddr::fromV4(kPoolAddr));
    Bytes second = fragment("10.0.1.10", 5000, kServer, 53, 42, 48, false);
    REQUIRE(n.send(second, kInside).kind == VerdictKind::forward);
    CHECK(parsed(second).src == IpAddr::fromV4(kPoolAddr));
    CHECK(header_ok(second));

    // Back: a reply's later fragment before its first is held; both reach
    // the client once the first came.
    Bytes later = fragment(kServer, 53, text(kPoolAddr), port, 77, 48, false);
    REQUIRE(n.send(later, kOutside).kind == VerdictKind::hold);
    Bytes head = fragment(kServer, 53, text(kPoolAddr), port, 77, 0, true);
    REQUIRE(n.send(head, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(head).dst == *parseIpAddr("10.0.1.10"));
    CHECK(parsed(head).dport == 5000);
    REQUIRE(n.pipe->releaseHeldFragment(later.data(), uint16_t(later.size()), kOutside, n.now, {})
                .kind == VerdictKind::forward);
    CHECK(parsed(later).dst == *parseIpAddr("10.0.1.10"));
    CHECK(header_ok(later));
    CHECK(n.count(PipelineCounter::nat_fragments_translated) == 2);
    CHECK(n.count(PipelineCounter::nat_replies_translated) == 1);
}

TEST_CASE("ICMP errors about a translated session are translated as the packets they quote") {
    Node n;
    // Traceroute style: UDP to a closed port; the server's host answers the
    // pool address, and the error reaches the client about its own datagram.
    Bytes probe = FrameBuilder::udp("10.0.1.10", 40000, kServer, 33434).payload(32).build();
    const Bytes as_sent = probe;
    REQUIRE(n.send(probe, kInside).kind == VerdictKind::forward);
    const uint16_t port = parsed(probe).sport;
    Bytes unreachable = FrameBuilder::icmpError(kServer, text(kPoolAddr), probe).build();
    const Verdict v = n.send(unreachable, kOutside);
    REQUIRE(v.kind == VerdictKind::forward);
    CHECK(v.port == kInside);
    const PacketInfo back = parsed(unreachable);
    CHECK(back.dst == *parseIpAddr("10.0.1.10"));
    CHECK(back.icmp_error.inner.src == *parseIpAddr("10.0.1.10"));
    CHECK(back.icmp_error.inner.sport == 40000);
    CHECK(Bytes(unreachable.begin() + back.l4_offset + 8, unreachable.end()) ==
          Bytes(as_sent.begin() + 14, as_sent.begin() + 14 + 28));
    CHECK(n.count(PipelineCounter::nat_icmp_errors_translated) == 1);
    CHECK(n.count(PipelineCounter::icmp_errors_forwarded) == 1);

    // The other way: the client's host answers the server's reply with an
    // error, which leaves from the pool address quoting what the server sent.
    Bytes reply = FrameBuilder::udp(kServer, 33434, text(kPoolAddr), port).payload(8).build();
    const Bytes reply_sent = reply;
    REQUIRE(n.send(reply, kOutside).kind == VerdictKind::forward);
    Bytes refused = FrameBuilder::icmpError("10.0.1.10", kServer, reply).build();
    REQUIRE(n.send(refused, kInside).kind == VerdictKind::forward);
    const PacketInfo out = parsed(refused);
    CHECK(out.src == IpAddr::fromV4(kPoolAddr));
    CHECK(Bytes(refused.begin() + out.l4_offset + 8, refused.end()) ==
          Bytes(reply_sent.begin() + 14, reply_sent.begin() + 14 + 28));
    CHECK(n.count(PipelineCounter::nat_icmp_errors_translated) == 2);

    // About a pool port no session holds: left as is, and dropped (no session).
    Bytes probe2 = FrameBuilder::udp(text(kPoolAddr), 20100, kServer, 33434).payload(8).build();
    Bytes stray = FrameBuilder::icmpError(kServer, text(kPoolAddr), probe2).build();
    CHECK(n.send(stray, kOutside).kind == VerdictKind::drop);
    CHECK(parsed(stray).dst == IpAddr::fromV4(kPoolAddr));
    CHECK(n.count(PipelineCounter::nat_no_translation) == 1);
    CHECK(n.count(PipelineCounter::nat_icmp_errors_translated) == 2);
}

TEST_CASE("ICMP errors about a dnat session are translated as the packets they quote") {
    Node n("public 198.51.100.10 ports 20000-20127",
           {"allow from outside to inside", "allow from inside to outside"},
           {"dnat from outside to inside dst 198.51.100.20 proto udp dport 53 to 10.0.5.20:5353"});
    Bytes query = FrameBuilder::udp("192.0.2.9", 4000, "198.51.100.20", 53).payload(20).build();
    const Bytes query_sent = query;
    REQUIRE(n.send(query, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(query).dst == *parseIpAddr("10.0.5.20"));

    // The target's host: port unreachable, about what reached it. The client
    // gets it from the public address, quoting what it sent.
    Bytes unreachable = FrameBuilder::icmpError("10.0.5.20", "192.0.2.9", query).build();
    Verdict v = n.send(unreachable, kInside);
    REQUIRE(v.kind == VerdictKind::forward);
    CHECK(v.port == kOutside);
    PacketInfo out = parsed(unreachable);
    CHECK(out.src == *parseIpAddr("198.51.100.20"));
    CHECK(Bytes(unreachable.begin() + out.l4_offset + 8, unreachable.end()) ==
          Bytes(query_sent.begin() + 14, query_sent.begin() + 14 + 28));
    CHECK(n.count(PipelineCounter::nat_icmp_errors_translated) == 1);

    // A router outside: time exceeded about the target's answer, which left
    // from the public address; the target gets it quoting what it sent.
    Bytes answer = FrameBuilder::udp("10.0.5.20", 5353, "192.0.2.9", 4000).payload(8).build();
    const Bytes answer_sent = answer;
    REQUIRE(n.send(answer, kInside).kind == VerdictKind::forward);
    CHECK(parsed(answer).src == *parseIpAddr("198.51.100.20"));
    Bytes exceeded = FrameBuilder::icmpError("203.0.113.1", "198.51.100.20", answer).build();
    v = n.send(exceeded, kOutside);
    REQUIRE(v.kind == VerdictKind::forward);
    CHECK(v.port == kInside);
    PacketInfo in = parsed(exceeded);
    CHECK(in.dst == *parseIpAddr("10.0.5.20"));
    CHECK(in.src == *parseIpAddr("203.0.113.1"));  // a router's own address is kept
    CHECK(Bytes(exceeded.begin() + in.l4_offset + 8, exceeded.end()) ==
          Bytes(answer_sent.begin() + 14, answer_sent.begin() + 14 + 28));
    CHECK(n.count(PipelineCounter::nat_icmp_errors_translated) == 2);
}

TEST_CASE("dnat forwards a public port to a server inside, and its replies leave from it") {
    Node n("public 198.51.100.10 ports 20000-20127",
           {"allow from outside to inside", "allow from inside to outside"},
           {"dnat from outside to inside dst 198.51.100.20 proto tcp dport 443 to 10.0.5.20:8443",
            "dnat from outside dst 198.51.100.21 to 10.0.5.21"});
    Bytes syn = tcp("192.0.2.9", 50000, "198.51.100.20", 443, kTcpSyn, 100, 0);
    Verdict v = n.send(syn, kOutside);
    REQUIRE(v.kind == VerdictKind::forward);
    CHECK(v.port == kInside);
    CHECK(parsed(syn).dst == *parseIpAddr("10.0.5.20"));
    CHECK(parsed(syn).dport == 8443);
    CHECK(parsed(syn).src == *parseIpAddr("192.0.2.9"));
    Bytes synack = tcp("10.0.5.20", 8443, "192.0.2.9", 50000, kTcpSyn | kTcpAck, 900, 101);
    v = n.send(synack, kInside);
    REQUIRE(v.kind == VerdictKind::forward);
    CHECK(parsed(synack).src == *parseIpAddr("198.51.100.20"));
    CHECK(parsed(synack).sport == 443);
    Bytes ack = tcp("192.0.2.9", 50000, "198.51.100.20", 443, kTcpAck, 101, 901);
    REQUIRE(n.send(ack, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(ack).dst == *parseIpAddr("10.0.5.20"));
    CHECK(n.count(PipelineCounter::sessions_translated) == 1);
    CHECK(n.count(PipelineCounter::nat_replies_translated) == 1);
    CHECK(n.table.size() == 1);
    // The session: by what the client sent, with where it went.
    for (uint32_t i = 0; i < n.table.capacity(); ++i) {
        if (!n.table.inUse(i)) continue;
        CHECK(n.table.nat(i).kind == 2);
        CHECK(n.table.nat(i).addr == 0x0a000514);
        CHECK(n.table.nat(i).port == 8443);
    }

    // The server's own connection from the same address and port: not a
    // reply of a translated session, left as it is.
    Bytes own = tcp("10.0.5.20", 8443, "192.0.2.50", 80, kTcpSyn, 5, 0);
    REQUIRE(n.send(own, kInside).kind == VerdictKind::forward);
    CHECK(parsed(own).src == *parseIpAddr("10.0.5.20"));
    CHECK(n.count(PipelineCounter::nat_replies_translated) == 1);

    // 1:1: every port of the address, here a UDP one, and back.
    Bytes q = FrameBuilder::udp("192.0.2.9", 5000, "198.51.100.21", 53).payload(20).build();
    REQUIRE(n.send(q, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(q).dst == *parseIpAddr("10.0.5.21"));
    CHECK(parsed(q).dport == 53);
    Bytes a = FrameBuilder::udp("10.0.5.21", 53, "192.0.2.9", 5000).payload(40).build();
    REQUIRE(n.send(a, kInside).kind == VerdictKind::forward);
    CHECK(parsed(a).src == *parseIpAddr("198.51.100.21"));
    CHECK(n.count(PipelineCounter::nat_replies_translated) == 2);
    // A port the forward does not name is not translated.
    Bytes other = tcp("192.0.2.9", 50001, "198.51.100.20", 22, kTcpSyn, 1, 0);
    REQUIRE(n.send(other, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(other).dst == *parseIpAddr("198.51.100.20"));
}

TEST_CASE("a reset rule resets a translated connection at both ends, each as it knows it") {
    Node n("public 198.51.100.10 ports 20000-20127",
           {"deny from inside to outside app tls sni bad.example reset",
            "allow from inside to outside"});
    Bytes syn = tcp("10.0.1.10", 40000, kServer, 443, kTcpSyn, 100, 0);
    REQUIRE(n.send(syn, kInside).kind == VerdictKind::forward);
    const uint16_t port = parsed(syn).sport;
    Bytes synack = tcp(kServer, 443, text(kPoolAddr), port, kTcpSyn | kTcpAck, 900, 101);
    REQUIRE(n.send(synack, kOutside).kind == VerdictKind::forward);
    Bytes ack = tcp("10.0.1.10", 40000, kServer, 443, kTcpAck, 101, 901);
    REQUIRE(n.send(ack, kInside).kind == VerdictKind::forward);

    const test::Bytes hello = test::records(test::clientHello({{0, "bad.example"}}), 16384);
    Bytes seg = FrameBuilder::tcp("10.0.1.10", 40000, kServer, 443, kTcpAck | kTcpPsh)
                    .seq(101)
                    .ack(901)
                    .data(hello)
                    .build();
    const Verdict v = n.send(seg, kInside);
    REQUIRE(v.kind == VerdictKind::forward);
    // On to the server: a reset from the translated address:port it knows.
    const PacketInfo on = parsed(seg);
    CHECK(on.tcp.flags == (kTcpRst | kTcpAck));
    CHECK(on.src == IpAddr::fromV4(kPoolAddr));
    CHECK(on.sport == port);
    // Back to the client: from the server to the client's own address:port.
    REQUIRE(v.reset != 0);
    const GeneratedFrame& g = n.pipe->generated(v.reset);
    PacketInfo back;
    REQUIRE(parseFrame(g.bytes.data(), g.len, {}, back) == ParseResult::ok);
    CHECK(back.src == *parseIpAddr(kServer));
    CHECK(back.dst == *parseIpAddr("10.0.1.10"));
    CHECK(back.dport == 40000);
    CHECK(back.tcp.flags == (kTcpRst | kTcpAck));
}
