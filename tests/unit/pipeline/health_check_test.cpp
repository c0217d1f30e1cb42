// The node's own answers to a load balancer's health checks: a TCP
// handshake, an HTTP GET, each by the node's state, built in place with
// valid checksums, and nothing for segments that are no part of a check.
#include "pipeline/health_check.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "packet/packet_parser.h"
#include "pipeline/pipeline.h"

namespace tandem {
namespace {

using test::FrameBuilder;

const char* kChecker = "10.9.0.1";
const char* kNode = "10.9.0.2";

HealthCheckSettings settings(HealthCheckProtocol p) {
    HealthCheckSettings s;
    s.enabled = true;
    s.protocol = p;
    s.address = *parseIpAddr(kNode);
    s.port = 80;
    s.path = "/healthz";
    s.secret = 0x1234;
    return s;
}

uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t get32(const uint8_t* p) {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

uint16_t checksum(const uint8_t* p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// A segment from the checker, in a buffer with room for a reply.
struct Segment {
    std::vector<uint8_t> buf;
    size_t len = 0;
    PacketInfo info;

    Segment(uint8_t flags, uint32_t seq, uint32_t ack, const std::string& payload = "") {
        auto f = FrameBuilder::tcp(kChecker, 41000, kNode, 80, flags)
                     .seq(seq)
                     .ack(ack)
                     .payload(payload.size())
                     .build();
        std::memcpy(f.data() + f.size() - payload.size(), payload.data(), payload.size());
        len = f.size();
        buf = f;
        buf.resize(2048);
        REQUIRE(parseFrame(buf.data(), len, {}, info) == ParseResult::ok);
    }
};

// What a reply says, checked for well-formedness first.
struct Reply {
    uint8_t flags = 0;
    uint32_t seq = 0, ack = 0;
    std::string payload;
};

Reply parseReply(const std::vector<uint8_t>& buf, size_t n) {
    REQUIRE(n >= 54);
    const uint8_t* ip = buf.data() + 14;
    const uint8_t* t = ip + 20;
    CHECK(checksum(ip, 20) == 0);
    CHECK(get16(ip + 2) == n - 14);
    CHECK(std::memcmp(ip + 12, parseIpAddr(kNode)->b.data() + 12, 4) == 0);     // from the node
    CHECK(std::memcmp(ip + 16, parseIpAddr(kChecker)->b.data() + 12, 4) == 0);  // to the checker
    CHECK(get16(t) == 80);
    CHECK(get16(t + 2) == 41000);
    uint8_t pseudo[12];
    std::memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0, pseudo[9] = 6;
    pseudo[10] = uint8_t((n - 34) >> 8), pseudo[11] = uint8_t(n - 34);
    uint32_t sum = 0;
    for (int i = 0; i < 12; i += 2) sum += uint32_t(pseudo[i]) << 8 | pseudo[i + 1];
    CHECK(checksum(t, n - 34, sum) == 0);
    Reply r;
    r.flags = t[13];
    r.seq = get32(t + 4);
    r.ack = get32(t + 8);
    r.payload.assign(reinterpret_cast<const char*>(t + 20), n - 54);
    return r;
}

}  // namespace

TEST_CASE("a TCP health check is accepted while healthy and refused while not") {
    const auto s = settings(HealthCheckProtocol::tcp);
    HealthCheckCounters c;
    Segment syn(kTcpSyn, 1000, 0);
    const uint32_t isn = healthCheckIsn(syn.info, s.secret);
    size_t n = healthCheckReply(syn.buf.data(), syn.len, syn.buf.size(), syn.info, true, s, c);
    Reply r = parseReply(syn.buf, n);
    CHECK(r.flags == (kTcpSyn | kTcpAck));
    CHECK(r.seq == isn);
    CHECK(r.ack == 1001);
    CHECK(c.get(HealthCheckCounter::health_checks_healthy) == 1);
    // Ethernet addresses swapped: back to the sender.
    CHECK(syn.buf[5] == 0x02);  // the sender's MAC ends in 02, ours in 01
    CHECK(syn.buf[11] == 0x01);

    Segment ack(kTcpAck, 1001, isn + 1);  // the handshake's last ACK: nothing to say
    CHECK(healthCheckReply(ack.buf.data(), ack.len, ack.buf.size(), ack.info, true, s, c) == 0);
    Segment fin(kTcpFin | kTcpAck, 1001, isn + 1);
    n = healthCheckReply(fin.buf.data(), fin.len, fin.buf.size(), fin.info, true, s, c);
    r = parseReply(fin.buf, n);
    CHECK(r.flags == (kTcpFin | kTcpAck));
    CHECK(r.seq == isn + 1);
    CHECK(r.ack == 1002);

    Segment syn2(kTcpSyn, 5000, 0);
    n = healthCheckReply(syn2.buf.data(), syn2.len, syn2.buf.size(), syn2.info, false, s, c);
    r = parseReply(syn2.buf, n);
    CHECK(r.flags == (kTcpRst | kTcpAck));
    CHECK(r.ack == 5001);
    CHECK(c.get(HealthCheckCounter::health_checks_unhealthy) == 1);
}

TEST_CASE("an HTTP health check gets 200 while healthy, 503 while not, 404 and 405 otherwise") {
    const auto s = settings(HealthCheckProtocol::http);
    struct Row {
        const char* request;
        bool healthy;
        const char* status;
    };
    const Row rows[] = {
        {"GET /healthz HTTP/1.1\r\nHost: 10.9.0.2\r\nUser-Agent: ELB-HealthChecker/2.0\r\n\r\n",
         true, "HTTP/1.1 200 OK\r\n"},
        {"GET /healthz HTTP/1.1\r\n\r\n", false, "HTTP/1.1 503 Service Unavailable\r\n"},
        {"GET /healthz?probe=1 HTTP/1.0\r\n\r\n", true, "HTTP/1.1 200 OK\r\n"},
        {"GET / HTTP/1.1\r\n\r\n", true, "HTTP/1.1 404 Not Found\r\n"},
        {"POST /healthz HTTP/1.1\r\n\r\n", true, "HTTP/1.1 405 Method Not Allowed\r\n"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.request);
        HealthCheckCounters c;
        Segment syn(kTcpSyn, 7000, 0);
        const uint32_t isn = healthCheckIsn(syn.info, s.secret);
        // The handshake completes whatever the state: the answer is the status.
        Reply r = parseReply(syn.buf, healthCheckReply(syn.buf.data(), syn.len, syn.buf.size(),
                                                       syn.info, row.healthy, s, c));
        CHECK(r.flags == (kTcpSyn | kTcpAck));
        const std::string req = row.request;
        Segment get(kTcpAck | kTcpPsh, 7001, isn + 1, req);
        const size_t n =
            healthCheckReply(get.buf.data(), get.len, get.buf.size(), get.info, row.healthy, s, c);
        r = parseReply(get.buf, n);
        CHECK(r.flags == (kTcpAck | kTcpPsh | kTcpFin));
        CHECK(r.seq == isn + 1);
        CHECK(r.ack == 7001 + req.size());
        CHECK(r.payload.starts_with(row.status));
        CHECK(r.payload.find("Content-Length: ") != std::string::npos);
    }
    // HEAD: the same status line, no body.
    HealthCheckCounters c;
    Segment syn(kTcpSyn, 1, 0);
    const uint32_t isn = healthCheckIsn(syn.info, s.secret);
    Segment head(kTcpAck | kTcpPsh, 2, isn + 1, "HEAD /healthz HTTP/1.1\r\n\r\n");
    Reply r = parseReply(head.buf, healthCheckReply(head.buf.data(), head.len, head.buf.size(),
                                                    head.info, true, s, c));
    CHECK(r.payload.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(r.payload.ends_with("\r\n\r\n"));
}

TEST_CASE("segments that are no part of a check get no reply and are counted") {
    HealthCheckCounters c;
    const auto http = settings(HealthCheckProtocol::http);
    const auto tcp = settings(HealthCheckProtocol::tcp);
    // A request on a connection the node never accepted (wrong ack).
    Segment stray(kTcpAck | kTcpPsh, 10, 12345, "GET /healthz HTTP/1.1\r\n\r\n");
    CHECK(healthCheckReply(stray.buf.data(), stray.len, stray.buf.size(), stray.info, true, http,
                           c) == 0);
    // Data to a TCP check.
    Segment syn(kTcpSyn, 1, 0);
    Segment data(kTcpAck | kTcpPsh, 2, healthCheckIsn(syn.info, 0x1234) + 1, "hello");
    CHECK(healthCheckReply(data.buf.data(), data.len, data.buf.size(), data.info, true, tcp, c) ==
          0);
    // No ACK, or SYN with ACK.
    Segment bare(0, 1, 0);
    CHECK(healthCheckReply(bare.buf.data(), bare.len, bare.buf.size(), bare.info, true, tcp, c) ==
          0);
    Segment synack(kTcpSyn | kTcpAck, 1, 1);
    CHECK(healthCheckReply(synack.buf.data(), synack.len, synack.buf.size(), synack.info, true, tcp,
                           c) == 0);
    CHECK(c.get(HealthCheckCounter::health_check_garbage) == 4);
    // A FIN of no check this node accepted, a payload that is no HTTP request.
    Segment fin(kTcpFin | kTcpAck, 77, 0x5eed);
    CHECK(healthCheckReply(fin.buf.data(), fin.len, fin.buf.size(), fin.info, true, tcp, c) == 0);
    Segment tls(kTcpAck | kTcpPsh, 2, healthCheckIsn(syn.info, 0x1234) + 1, "\x16\x03\x01\x02\x00");
    CHECK(healthCheckReply(tls.buf.data(), tls.len, tls.buf.size(), tls.info, true, http, c) == 0);
    Segment words(kTcpAck | kTcpPsh, 2, healthCheckIsn(syn.info, 0x1234) + 1,
                  "NOT HTTP AT ALL\r\n");
    CHECK(healthCheckReply(words.buf.data(), words.len, words.buf.size(), words.info, true, http,
                           c) == 0);
    Segment ack(kTcpAck, 77, 0x5eed);  // a bare ACK of no check either
    CHECK(healthCheckReply(ack.buf.data(), ack.len, ack.buf.size(), ack.info, true, tcp, c) == 0);
    CHECK(c.get(HealthCheckCounter::health_check_garbage) == 8);
    // A reset ends nothing we keep.
    Segment rst(kTcpRst, 1, 0);
    CHECK(healthCheckReply(rst.buf.data(), rst.len, rst.buf.size(), rst.info, true, tcp, c) == 0);
    CHECK(c.get(HealthCheckCounter::health_check_ignored) == 1);
    // A buffer too small for the reply: nothing is written past it.
    Segment syn2(kTcpAck | kTcpPsh, 2, healthCheckIsn(syn.info, 0x1234) + 1,
                 "GET /healthz HTTP/1.1\r\n\r\n");
    CHECK(healthCheckReply(syn2.buf.data(), syn2.len, syn2.len, syn2.info, true, http, c) == 0);
}

TEST_CASE(
    "in GENEVE mode a segment to the health-check port is the node's, anything else "
    "not GENEVE is dropped") {
    PipelineSettings ps;
    ps.geneve = true;
    ps.parse.geneve_port = 6081;
    ps.parse.require_gwlb_options = true;
    ps.port_count = 1;
    ps.ports[0] = {0, 0};
    ps.health_check = settings(HealthCheckProtocol::tcp);
    SessionTable table(1024, 0);
    std::string err;
    Pipeline pipe(ps, table, Policy::compile({}, {"gwlb"}, &err));
    auto syn = FrameBuilder::tcp(kChecker, 41000, kNode, 80, kTcpSyn).build();
    Verdict v = pipe.process(syn.data(), uint16_t(syn.size()), 0, 1000);
    CHECK(v.kind == VerdictKind::local);
    CHECK(v.port == 0);
    CHECK(pipe.counters().get(PipelineCounter::health_check_segments) == 1);
    auto other = FrameBuilder::tcp(kChecker, 41000, kNode, 22, kTcpSyn).build();
    CHECK(pipe.process(other.data(), uint16_t(other.size()), 0, 1000).kind == VerdictKind::drop);
    auto udp = FrameBuilder::udp(kChecker, 5000, "10.9.0.77", 80).build();
    CHECK(pipe.process(udp.data(), uint16_t(udp.size()), 0, 1000).kind == VerdictKind::drop);
    CHECK(pipe.counters().get(PipelineCounter::dropped_not_tunnel) == 2);
    CHECK(table.size() == 0);
}

}  // namespace tandem
