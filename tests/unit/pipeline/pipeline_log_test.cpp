// Traffic log records from the per-packet path: who logs (only the owner,
// only for rules marked `log`), when (creation, removal) and why it ended.
#include <doctest/doctest.h>

#include <vector>

#include "cluster/election.h"
#include "fixtures/frame_builder.h"
#include "pipeline/pipeline.h"
#include "policy_of.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = 0, kInside = 1;  // zone ids equal port numbers here
const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";
constexpr uint32_t kHour = 3600 * 1000;

std::shared_ptr<const Policy> logPolicy() {
    return test::policyOf({"allow name web from inside to outside proto tcp dport 80 log",
                           "allow name dns from inside to outside proto udp dport 53",
                           "allow name syslog from inside to outside proto udp dport 514 log"});
}

struct LogNode {
    NodeId id;
    ClusterViewCell cell;
    TrafficLogRing ring;
    SessionTable table{1024, 0};
    std::unique_ptr<Pipeline> pipe;
    uint32_t now = 1000;

    explicit LogNode(NodeId n = 1, size_t ring_size = 64, bool clustered = false)
        : id(n), ring(ring_size) {
        PipelineSettings s;
        s.node = n;
        s.port_count = 2;
        s.ports[0] = {0, 1};
        s.ports[1] = {1, 0};
        s.traffic_log = &ring;
        if (clustered) s.view = &cell;
        pipe = std::make_unique<Pipeline>(s, table, logPolicy());
    }
    Verdict send(std::vector<uint8_t> f, uint16_t port) {
        return pipe->process(f.data(), uint16_t(f.size()), port, now);
    }
    std::vector<TrafficLogRecord> records() {
        std::vector<TrafficLogRecord> out;
        TrafficLogRecord r;
        while (ring.pop(&r)) out.push_back(r);
        return out;
    }
    void ageAll() {
        now += kHour + 1000;
        for (int i = 0; i < 200; ++i) pipe->age(now, 1000);
    }
    uint64_t count(PipelineCounter c) const { return pipe->counters().get(c); }
};

void handshake(LogNode& n, uint16_t sport) {
    REQUIRE(
        n.send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build(), kInside)
            .kind == VerdictKind::forward);
    REQUIRE(n.send(FrameBuilder::tcp(kServer, 80, kClient, sport, kTcpSyn | kTcpAck)
                       .seq(500)
                       .ack(101)
                       .build(),
                   kOutside)
                .kind == VerdictKind::forward);
    REQUIRE(
        n.send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build(),
               kInside)
            .kind == VerdictKind::forward);
}

void closeWithFins(LogNode& n, uint16_t sport) {
    REQUIRE(n.send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpFin | kTcpAck)
                       .seq(101)
                       .ack(501)
                       .build(),
                   kInside)
                .kind == VerdictKind::forward);
    REQUIRE(n.send(FrameBuilder::tcp(kServer, 80, kClient, sport, kTcpFin | kTcpAck)
                       .seq(501)
                       .ack(102)
                       .build(),
                   kOutside)
                .kind == VerdictKind::forward);
    REQUIRE(
        n.send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(102).ack(502).build(),
               kInside)
            .kind == VerdictKind::forward);
}

}  // namespace

TEST_CASE(
    "a logged TCP connection gives one start record at the SYN and one end record after its FINs") {
    LogNode n;
    handshake(n, 40000);
    auto recs = n.records();
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].event == TrafficLogEvent::start);
    CHECK(recs[0].session.rule == 0);
    CHECK(recs[0].from_zone == kInside);
    CHECK(recs[0].to_zone == kOutside);
    CHECK(recs[0].now_ms == 1000);
    CHECK(n.table.inUse(uint32_t(recs[0].session_id)));
    const uint64_t id = recs[0].session_id;

    closeWithFins(n, 40000);
    CHECK(n.records().empty());  // state changes are not logged
    n.ageAll();
    recs = n.records();
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].event == TrafficLogEvent::end);
    CHECK(recs[0].reason == TrafficEndReason::tcp_fin);
    CHECK(recs[0].session_id == id);
    CHECK(recs[0].session.packets(0) == 4);  // SYN, ACK, FIN, ACK
    CHECK(recs[0].session.packets(1) == 2);  // SYN-ACK, FIN
    CHECK(recs[0].from_zone == kInside);
    CHECK(n.table.size() == 0);
}

TEST_CASE("sessions of a rule without log give no records") {
    LogNode n;
    REQUIRE(n.send(FrameBuilder::udp(kClient, 3000, kServer, 53).build(), kInside).kind ==
            VerdictKind::forward);
    n.ageAll();
    CHECK(n.count(PipelineCounter::sessions_expired) == 1);
    CHECK(n.records().empty());
}

TEST_CASE("end reasons: idle timeout, reset, operator clear and a reopening SYN") {
    LogNode n;
    REQUIRE(n.send(FrameBuilder::udp(kClient, 3000, kServer, 514).build(), kInside).kind ==
            VerdictKind::forward);
    handshake(n, 40001);
    REQUIRE(
        n.send(FrameBuilder::tcp(kServer, 80, kClient, 40001, kTcpRst).seq(501).build(), kOutside)
            .kind == VerdictKind::forward);
    CHECK(n.records().size() == 2);
    n.ageAll();
    auto recs = n.records();
    REQUIRE(recs.size() == 2);
    int idle = 0, reset = 0;
    for (auto& r : recs) {
        CHECK(r.event == TrafficLogEvent::end);
        idle += r.reason == TrafficEndReason::idle_timeout && r.session.key_proto == kProtoUdp;
        reset += r.reason == TrafficEndReason::tcp_reset && r.session.key_proto == kProtoTcp;
    }
    CHECK(idle == 1);
    CHECK(reset == 1);

    handshake(n, 40002);
    auto start = n.records();
    REQUIRE(start.size() == 1);
    n.pipe->removeSession(uint32_t(start[0].session_id), n.now);
    recs = n.records();
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].reason == TrafficEndReason::cleared);

    handshake(n, 40003);
    REQUIRE(
        n.send(FrameBuilder::tcp(kServer, 80, kClient, 40003, kTcpRst).seq(501).build(), kOutside)
            .kind == VerdictKind::forward);
    n.records();
    REQUIRE(
        n.send(FrameBuilder::tcp(kClient, 40003, kServer, 80, kTcpSyn).seq(7000).build(), kInside)
            .kind == VerdictKind::forward);
    recs = n.records();
    REQUIRE(recs.size() == 2);
    CHECK(recs[0].event == TrafficLogEvent::end);
    CHECK(recs[0].reason == TrafficEndReason::reopened);
    CHECK(recs[1].event == TrafficLogEvent::start);
}

TEST_CASE("a full traffic log ring is counted, never waited for") {
    LogNode n(1, 2);
    for (uint16_t p = 0; p < 5; ++p) {
        REQUIRE(
            n.send(FrameBuilder::udp(kClient, uint16_t(4000 + p), kServer, 514).build(), kInside)
                .kind == VerdictKind::forward);
    }
    CHECK(n.records().size() == 2);
    CHECK(n.count(PipelineCounter::traffic_log_dropped) == 3);
    CHECK(n.count(PipelineCounter::sessions_created) == 5);
}

TEST_CASE("a replica is not logged - a node that adopts a logged session logs its end") {
    LogNode owner(1, 64, true), other(2, 64, true);
    ClusterView v;
    v.owners = v.reachable = nodeBit(1) | nodeBit(2);
    v.self_state = NodeState::active;
    v.replicate = false;  // the test carries the replica by hand
    v.self = 1;
    owner.cell.publish(v);
    v.self = 2;
    other.cell.publish(v);

    // Find a client port whose new flow node 1 owns under first-packet mode.
    REQUIRE(owner.send(FrameBuilder::udp(kClient, 5000, kServer, 514).build(), kInside).kind ==
            VerdictKind::forward);
    auto recs = owner.records();
    REQUIRE(recs.size() == 1);
    Session s = recs[0].session;
    REQUIRE(s.owner == 1);
    REQUIRE((s.flags & kSessionLog) != 0);

    AgentCommand cmd;
    cmd.kind = AgentCommandKind::apply_upsert;
    cmd.session = s;
    other.pipe->apply(cmd, other.now);
    cmd.kind = AgentCommandKind::apply_erase;
    other.pipe->apply(cmd, other.now);
    CHECK(other.pipe->counters().get(PipelineCounter::replicas_removed) == 1);
    CHECK(other.records().empty());

    // Again, and now node 1 is gone: node 2 adopts the session on its next packet.
    cmd.kind = AgentCommandKind::apply_upsert;
    other.pipe->apply(cmd, other.now);
    v.owners = v.reachable = nodeBit(2);
    other.cell.publish(v);
    REQUIRE(other.send(FrameBuilder::udp(kServer, 514, kClient, 5000).build(), kOutside).kind ==
            VerdictKind::forward);
    CHECK(other.count(PipelineCounter::sessions_adopted) == 1);
    CHECK(other.table.ownerCount(2) == 1);
    CHECK(other.table.ownerCount(1) == 0);
    CHECK(other.records().empty());
    other.ageAll();
    recs = other.records();
    REQUIRE(recs.size() == 1);
    CHECK(recs[0].event == TrafficLogEvent::end);
    CHECK(recs[0].reason == TrafficEndReason::idle_timeout);
    CHECK(recs[0].session.packets(1) == 1);
    CHECK(recs[0].from_zone == kInside);  // the ingress port travels with the replica
    CHECK(recs[0].to_zone == kOutside);
}
