// Application identity in the pipeline: rules that name an application
// wait for a session's first payload, then decide it again; the decision,
// the rule and the name stay with the session.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "fixtures/tls_hello.h"
#include "pipeline/pipeline.h"
#include "policy_of.h"

using namespace tandem;
using tandem::test::Bytes;
using tandem::test::clientHello;
using tandem::test::FrameBuilder;
using tandem::test::policyOf;
using tandem::test::records;

namespace {

constexpr uint16_t kOutside = 0, kInside = 1;  // zone ids equal port numbers here
const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";
constexpr uint32_t kIsn = 1000, kServerIsn = 5000;

// The rules of the tests below: two TLS names, an HTTP host, a DNS name,
// and after them what the rest of the traffic gets.
const std::vector<std::string> kRules = {
    "allow name good-tls from inside to outside app tls sni good.example,*.cdn.example log",
    "deny name bad-tls from inside to outside app tls sni bad.example",
    "allow name web from inside to outside app http host www.example",
    "deny name bad-dns from inside to outside app dns name *.tracker.example",
    "allow name dns from inside to outside proto udp dport 53",
    "allow name rest from inside to outside proto tcp dport 443",
};

struct Node {
    SessionTable table{1024, 0};
    std::unique_ptr<Pipeline> pipe;
    uint32_t now = 1000;

    explicit Node(const std::vector<std::string>& rules = kRules) {
        PipelineSettings s;
        s.node = 1;
        s.port_count = 2;
        s.ports[kOutside] = {kOutside, kInside};
        s.ports[kInside] = {kInside, kOutside};
        pipe = std::make_unique<Pipeline>(s, table, policyOf(rules));
    }
    Verdict send(const Bytes& frame, uint16_t port) {
        Bytes copy = frame;
        return pipe->process(copy.data(), uint16_t(copy.size()), port, now);
    }
    uint64_t count(PipelineCounter c) const { return pipe->counters().get(c); }
    uint32_t only() const {
        uint32_t found = SessionTable::kNoEntry, n = 0;
        for (uint32_t i = 0; i < table.capacity(); ++i)
            if (table.inUse(i)) found = i, ++n;
        REQUIRE(n == 1);
        return found;
    }
};

Bytes tcp(bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, Bytes data = {}) {
    auto b = from_client ? FrameBuilder::tcp(kClient, 40000, kServer, 443, flags)
                         : FrameBuilder::tcp(kServer, 443, kClient, 40000, flags);
    b.seq(seq).ack(ack);
    if (!data.empty()) b.data(std::move(data));
    return b.build();
}

// The handshake through `n`, all forwarded.
void handshake(Node& n) {
    REQUIRE(n.send(tcp(true, kTcpSyn, kIsn, 0), kInside).kind == VerdictKind::forward);
    REQUIRE(n.send(tcp(false, kTcpSyn | kTcpAck, kServerIsn, kIsn + 1), kOutside).kind ==
            VerdictKind::forward);
    REQUIRE(n.send(tcp(true, kTcpAck, kIsn + 1, kServerIsn + 1), kInside).kind ==
            VerdictKind::forward);
}

// The client's stream `stream` from offset `at`, as one segment.
Verdict clientData(Node& n, const Bytes& stream, size_t at, size_t len) {
    Bytes part(stream.begin() + long(at), stream.begin() + long(at + len));
    return n.send(tcp(true, kTcpAck | kTcpPsh, kIsn + 1 + uint32_t(at), kServerIsn + 1, part),
                  kInside);
}

Bytes tlsStream(const std::string& name, size_t record_chunk = 16384) {
    return records(clientHello({{0, name}}), record_chunk);
}

}  // namespace

TEST_CASE("a session an app rule waits for opens, and its ClientHello decides it") {
    Node n;
    handshake(n);
    const uint32_t i = n.only();
    CHECK(n.table.app(i).status == AppStatus::pending);
    CHECK((n.table.at(i).flags & kSessionAppPending) != 0);

    const Bytes hello = tlsStream("good.example");
    CHECK(clientData(n, hello, 0, hello.size()).kind == VerdictKind::forward);
    CHECK(n.table.app(i).status == AppStatus::identified);
    CHECK(n.table.app(i).proto == AppProtocol::tls);
    CHECK(n.table.appName(i) == "good.example");
    CHECK(n.pipe->policy().rule(n.table.at(i).rule).name == "good-tls");
    CHECK((n.table.at(i).flags & (kSessionAppPending | kSessionAppDenied)) == 0);
    CHECK((n.table.at(i).flags & kSessionLog) != 0);
    CHECK(n.count(PipelineCounter::app_identified_tls) == 1);
    // The connection goes on.
    CHECK(n.send(tcp(false, kTcpAck, kServerIsn + 1, kIsn + 1 + uint32_t(hello.size())), kOutside)
              .kind == VerdictKind::forward);
}

TEST_CASE("a denied name is cut at its ClientHello: that segment and every later one dropped") {
    Node n;
    handshake(n);
    const uint32_t i = n.only();
    const Bytes hello = tlsStream("bad.example");
    CHECK(clientData(n, hello, 0, hello.size()).kind == VerdictKind::drop);
    CHECK((n.table.at(i).flags & kSessionAppDenied) != 0);
    CHECK(n.pipe->policy().rule(n.table.at(i).rule).name == "bad-tls");
    CHECK(n.count(PipelineCounter::sessions_denied_by_app) == 1);
    // The retransmission, the server's answer, a FIN: all dropped.
    CHECK(clientData(n, hello, 0, hello.size()).kind == VerdictKind::drop);
    CHECK(n.send(tcp(false, kTcpAck, kServerIsn + 1, kIsn + 1), kOutside).kind ==
          VerdictKind::drop);
    CHECK(n.send(tcp(true, kTcpFin | kTcpAck, kIsn + 1, kServerIsn + 1), kInside).kind ==
          VerdictKind::drop);
    CHECK(n.count(PipelineCounter::dropped_app_denied) == 4);
    // A new connection on the same ports starts afresh.
    CHECK(n.send(tcp(true, kTcpSyn, kIsn + 100000, 0), kInside).kind == VerdictKind::forward);
    CHECK(n.table.app(n.only()).status == AppStatus::pending);
}

TEST_CASE("a reset rule's denied ClientHello resets both ends - without reset, neither") {
    std::vector<std::string> rules = kRules;
    rules[1] += " reset";  // bad-tls
    Node n(rules);
    handshake(n);
    const Bytes stream = tlsStream("bad.example");
    Bytes seg = tcp(true, kTcpAck | kTcpPsh, kIsn + 1, kServerIsn + 1, stream);
    const Verdict v = n.pipe->process(seg.data(), uint16_t(seg.size()), kInside, n.now);
    // On to the server, as a reset it takes: its sequence number is the one expected.
    CHECK(v.kind == VerdictKind::forward);
    CHECK(v.port == kOutside);
    PacketInfo on;
    REQUIRE(parseFrame(seg.data(), seg.size(), {}, on) == ParseResult::ok);
    CHECK(on.tcp.flags == (kTcpRst | kTcpAck));
    CHECK(on.tcp.seq == kIsn + 1);
    // Back to the client: a reset at the sequence number it expects.
    REQUIRE(v.reset != 0);
    const GeneratedFrame& g = n.pipe->generated(v.reset);
    PacketInfo back;
    REQUIRE(parseFrame(g.bytes.data(), g.len, {}, back) == ParseResult::ok);
    CHECK(back.src == *parseIpAddr(kServer));
    CHECK(back.dst == *parseIpAddr(kClient));
    CHECK(back.tcp.flags == (kTcpRst | kTcpAck));
    CHECK(back.tcp.seq == kServerIsn + 1);
    CHECK(back.tcp.ack == kIsn + 1 + stream.size());
    CHECK(n.count(PipelineCounter::tcp_resets_to_receiver) == 1);
    CHECK(n.count(PipelineCounter::tcp_resets_to_sender) == 1);
    CHECK(n.count(PipelineCounter::sessions_denied_by_app) == 1);
    // Later segments are dropped, not reset again.
    const Verdict again = clientData(n, stream, 0, stream.size());
    CHECK(again.kind == VerdictKind::drop);
    CHECK(again.reset == 0);

    // The same rule without reset: dropped, nothing written.
    Node quiet;
    handshake(quiet);
    const Verdict d = clientData(quiet, stream, 0, stream.size());
    CHECK(d.kind == VerdictKind::drop);
    CHECK(d.reset == 0);
    CHECK(quiet.count(PipelineCounter::tcp_resets_to_sender) == 0);
}

TEST_CASE("a SYN a reset rule denies is answered with a reset - other protocols are not") {
    Node n({"deny name no-ssh from inside to outside dport 22 proto tcp reset",
            "deny name no-udp from inside to outside reset", "allow from inside to outside"});
    Bytes syn = FrameBuilder::tcp(kClient, 40001, kServer, 22, kTcpSyn).seq(kIsn).build();
    const Verdict v = n.send(syn, kInside);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(n.count(PipelineCounter::dropped_policy) == 1);
    REQUIRE(v.reset != 0);
    const GeneratedFrame& g = n.pipe->generated(v.reset);
    PacketInfo back;
    REQUIRE(parseFrame(g.bytes.data(), g.len, {}, back) == ParseResult::ok);
    CHECK(back.sport == 22);
    CHECK(back.dport == 40001);
    CHECK(back.tcp.flags == (kTcpRst | kTcpAck));
    CHECK(back.tcp.ack == kIsn + 1);
    // A UDP datagram a reset rule denies is only dropped.
    const Verdict u =
        n.send(FrameBuilder::udp(kClient, 5000, kServer, 5001).payload(10).build(), kInside);
    CHECK(u.kind == VerdictKind::drop);
    CHECK(u.reset == 0);
    CHECK(n.count(PipelineCounter::tcp_resets_to_sender) == 1);
    // Nor is a reset answered with one.
    const Verdict r =
        n.send(FrameBuilder::tcp(kClient, 40002, kServer, 22, kTcpRst).build(), kInside);
    CHECK(r.reset == 0);
    CHECK(n.table.size() == 0);
}

TEST_CASE("a ClientHello over several segments, out of order and repeated, gives its name") {
    const Bytes hello = tlsStream("img.cdn.example", 40);  // TLS record fragmentation too
    REQUIRE(hello.size() > 120);
    const size_t a = 45, b = 100;
    struct Order {
        std::vector<std::pair<size_t, size_t>> parts;  // offset, length
    };
    const std::vector<Order> orders = {
        {{{0, a}, {a, hello.size() - a}}},              // two in order
        {{{0, a}, {b, hello.size() - b}, {a, b - a}}},  // three, last two swapped
        {{{b, hello.size() - b}, {a, b - a}, {0, a}}},  // three, reversed
        {{{0, a}, {0, a}, {a, b - a}, {a - 20, 40}, {b, hello.size() - b}}},  // retransmissions
    };
    for (size_t o = 0; o < orders.size(); ++o) {
        CAPTURE(o);
        Node n;
        handshake(n);
        const uint32_t i = n.only();
        for (const auto& [at, len] : orders[o].parts) {
            CHECK(clientData(n, hello, at, len).kind == VerdictKind::forward);
        }
        CHECK(n.table.app(i).status == AppStatus::identified);
        CHECK(n.table.appName(i) == "img.cdn.example");
        CHECK(n.table.appStreams().inUse() == 0);  // the buffer went back
    }
}

TEST_CASE("a first payload that names nothing is decided by the rules that name no application") {
    SUBCASE("not TLS or HTTP: the port rule allows it") {
        Node n;
        handshake(n);
        const uint32_t i = n.only();
        const Bytes ssh = {'S', 'S', 'H', '-', '2', '.', '0', '-', 'x', '\r', '\n'};
        CHECK(clientData(n, ssh, 0, ssh.size()).kind == VerdictKind::forward);
        CHECK(n.table.app(i).status == AppStatus::unidentified);
        CHECK(n.pipe->policy().rule(n.table.at(i).rule).name == "rest");
        CHECK(n.count(PipelineCounter::app_unidentified) == 1);
    }
    SUBCASE("no rule after the app rules: the default deny cuts it") {
        Node n({"allow from inside to outside app tls sni good.example"});
        handshake(n);
        const Bytes other = tlsStream("other.example");
        CHECK(clientData(n, other, 0, other.size()).kind == VerdictKind::drop);
        CHECK(n.count(PipelineCounter::sessions_denied_by_app) == 1);
    }
    SUBCASE("a stream that never completes its ClientHello is given up on") {
        Node n;
        handshake(n);
        const uint32_t i = n.only();
        const Bytes hello = tlsStream("good.example");
        // Tiny segments: the bound on segments read comes first.
        for (uint32_t k = 0; k + 1 < Pipeline::kMaxAppSegments; ++k)
            CHECK(clientData(n, hello, k, 1).kind == VerdictKind::forward);
        CHECK(n.table.app(i).status == AppStatus::pending);
        CHECK(clientData(n, hello, Pipeline::kMaxAppSegments - 1, 1).kind == VerdictKind::forward);
        CHECK(n.table.app(i).status == AppStatus::unidentified);
        CHECK(n.count(PipelineCounter::app_gave_up) == 1);
    }
}

TEST_CASE("HTTP Host and DNS query names decide their sessions") {
    Node n;
    const std::string req = "GET / HTTP/1.1\r\nHost: WWW.Example:8080\r\n\r\n";
    auto http = [&](uint8_t flags, uint32_t seq, uint32_t ack, Bytes data = {}) {
        auto b = FrameBuilder::tcp(kClient, 40001, kServer, 80, flags).seq(seq).ack(ack);
        if (!data.empty()) b.data(std::move(data));
        return b.build();
    };
    CHECK(n.send(http(kTcpSyn, kIsn, 0), kInside).kind == VerdictKind::forward);
    CHECK(n.send(FrameBuilder::tcp(kServer, 80, kClient, 40001, kTcpSyn | kTcpAck)
                     .seq(kServerIsn)
                     .ack(kIsn + 1)
                     .build(),
                 kOutside)
              .kind == VerdictKind::forward);
    CHECK(n.send(http(kTcpAck | kTcpPsh, kIsn + 1, kServerIsn + 1, Bytes(req.begin(), req.end())),
                 kInside)
              .kind == VerdictKind::forward);
    const uint32_t i = n.only();
    CHECK(n.table.app(i).proto == AppProtocol::http);
    CHECK(n.table.appName(i) == "www.example");

    // DNS: one datagram, decided on its own.
    auto query = [&](const std::string& name, uint16_t sport) {
        Bytes q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
        size_t at = 0;
        while (at <= name.size()) {
            const size_t dot = std::min(name.find('.', at), name.size());
            q.push_back(uint8_t(dot - at));
            q.insert(q.end(), name.begin() + long(at), name.begin() + long(dot));
            at = dot + 1;
        }
        q.insert(q.end(), {0, 0, 1, 0, 1});
        return FrameBuilder::udp(kClient, sport, "192.0.2.53", 53).data(q).build();
    };
    CHECK(n.send(query("ads.tracker.example", 50000), kInside).kind == VerdictKind::drop);
    CHECK(n.count(PipelineCounter::dropped_app_denied) == 1);
    CHECK(n.send(query("www.example", 50001), kInside).kind == VerdictKind::forward);
    CHECK(n.count(PipelineCounter::app_identified_dns) == 2);
}

TEST_CASE("names are kept once however many sessions name them, and freed with the last") {
    AppNameStore names(4);
    const uint32_t a = names.add("a.example");
    CHECK(names.add("a.example") == a);
    const uint32_t b = names.add("b.example");
    CHECK(b != a);
    CHECK(names.inUse() == 2);
    names.release(a);
    CHECK(names.get(a) == "a.example");  // one reference left
    names.release(a);
    CHECK(names.inUse() == 1);
    CHECK(names.add("c.example") != 0);
    CHECK(names.add("d.example") != 0);
    CHECK(names.add("e.example") != 0);
    CHECK(names.add("f.example") == 0);  // full: told, nothing overwritten
    CHECK(names.get(b) == "b.example");
}

TEST_CASE("over IPv6 the same: the ClientHello's name decides the session") {
    Node n;
    const char* c6 = "2001:db8:1::10";
    const char* s6 = "2001:db8:2::80";
    auto seg = [&](bool from_client, uint8_t flags, uint32_t seq, uint32_t ack, Bytes data = {}) {
        auto b = from_client ? FrameBuilder::tcp(c6, 40000, s6, 443, flags)
                             : FrameBuilder::tcp(s6, 443, c6, 40000, flags);
        b.seq(seq).ack(ack);
        if (!data.empty()) b.data(std::move(data));
        return b.build();
    };
    REQUIRE(n.send(seg(true, kTcpSyn, kIsn, 0), kInside).kind == VerdictKind::forward);
    REQUIRE(n.send(seg(false, kTcpSyn | kTcpAck, kServerIsn, kIsn + 1), kOutside).kind ==
            VerdictKind::forward);
    REQUIRE(n.send(seg(true, kTcpAck, kIsn + 1, kServerIsn + 1), kInside).kind ==
            VerdictKind::forward);
    const Bytes bad = tlsStream("bad.example");
    CHECK(n.send(seg(true, kTcpAck | kTcpPsh, kIsn + 1, kServerIsn + 1, bad), kInside).kind ==
          VerdictKind::drop);
    const uint32_t i = n.only();
    CHECK(n.table.appName(i) == "bad.example");
    CHECK((n.table.at(i).flags & kSessionAppDenied) != 0);
}
