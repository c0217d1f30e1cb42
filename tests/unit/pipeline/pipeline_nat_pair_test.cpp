// Source translation in a pair: two pipelines, the HA agent's part played by
// the test (it moves each node's session events into the other's apply()).
// Each node translates from its own port blocks; a replica carries its
// translation, so a reply that reaches the other node is put back there and
// sent to the owner, and the survivor of a dead owner keeps translating as
// the owner did.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/election.h"
#include "fixtures/nat_pipelines.h"
#include "fixtures/replay_events.h"
#include "pipeline/fragment_cache.h"
#include "pipeline/pipeline.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = test::kNatOutside, kInside = test::kNatInside;
const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";
const char* kPool = "198.51.100.10";
// 128 ports, two blocks of 64: block 0 is node 1's, block 1 node 2's.
const char* kPoolText = "public 198.51.100.10 ports 20000-20127 block-size 64";

using Bytes = std::vector<uint8_t>;

NatSetup pairNat() {
    return test::natSetupOf(
        kPoolText,
        {"dnat from outside dst 198.51.100.20 proto tcp dport 443 to 10.0.5.20:8443",
         "snat from inside to outside pool public"},
        0b11);
}

struct Member : test::NatMember {
    explicit Member(NodeId n)
        : NatMember(n, pairNat(),
                    {"allow from inside to outside", "allow from outside to inside"}) {}
};

// `from`'s session events applied on `to`, as the HA agent would.
void replicate(Member& from, Member& to) {
    test::replayEvents(from.channel.to_agent, *to.pipe, 1000);
}

Bytes tcp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
          uint8_t flags, uint32_t seq, uint32_t ack) {
    return test::tcpFrame(src, sport, dst, dport, flags, seq, ack);
}

PacketInfo parsed(const Bytes& f) {
    return test::parsedFrame(f);
}

uint32_t poolAddr() {
    return parseIpAddr(kPool)->v4();
}

// The node whose block holds `port` of the pool address.
NodeId blockOwner(uint16_t port) {
    NatTextError e;
    const NatPool pool = *parseNatPool(kPoolText, &e);
    return PortBlockMap(pool.spec, 0b11).ownerOf(poolAddr(), port);
}

// The table index of the client's connection from `client_port`.
uint32_t indexOf(Member& m, uint16_t client_port) {
    const PacketInfo info = parsed(tcp(kClient, client_port, kServer, 443, kTcpAck, 1, 1));
    const FlowKey k = makeFlowKey(info.tuple(0));
    const uint32_t i = m.table.find(k, flowHash(k));
    REQUIRE(i != SessionTable::kNoEntry);
    return i;
}

// A client's SYN through `m` (which owns the new session), then the
// session's events applied on `other`. The translated source port.
uint16_t openOn(Member& m, Member& other, uint16_t client_port) {
    Bytes syn = tcp(kClient, client_port, kServer, 443, kTcpSyn, 100, 0);
    const Verdict v = m.send(syn, kInside);
    REQUIRE(v.kind == VerdictKind::defer);  // held until the peer has the session
    replicate(m, other);
    const PacketInfo out = parsed(syn);
    REQUIRE(out.src == IpAddr::fromV4(poolAddr()));
    return out.sport;
}

// A connection from the client's port 40000 established through `owner`
// (replicated to `survivor`), then `owner` dies and `survivor` takes it
// over on the client's next segment (which `data` holds, as it left). The
// translated port.
uint16_t establishThenAdopt(Member& owner, Member& survivor, Bytes* data) {
    const uint16_t port = openOn(owner, survivor, 40000);
    Bytes synack = tcp(kServer, 443, kPool, port, kTcpSyn | kTcpAck, 900, 101);
    REQUIRE(owner.send(synack, kOutside).kind == VerdictKind::forward);
    Bytes ack = tcp(kClient, 40000, kServer, 443, kTcpAck, 101, 901);
    REQUIRE(owner.send(ack, kInside).kind == VerdictKind::forward);
    replicate(owner, survivor);
    survivor.setView(nodeBit(survivor.id));  // the owner is dead
    *data = tcp(kClient, 40000, kServer, 443, kTcpAck | kTcpPsh, 101, 901);
    REQUIRE(survivor.send(*data, kInside).kind == VerdictKind::forward);
    return port;
}

}  // namespace

TEST_CASE("in a pair each node translates from its own port blocks") {
    Member a(1), b(2);
    for (uint16_t i = 0; i < 20; ++i) {
        CHECK(blockOwner(openOn(a, b, uint16_t(40000 + i))) == 1);
        CHECK(blockOwner(openOn(b, a, uint16_t(41000 + i))) == 2);
    }
}

TEST_CASE("a reply that reaches the other node is put back there and goes to the owner") {
    Member a(1), b(2);
    const uint16_t port = openOn(a, b, 40000);
    // The SYN-ACK comes back through node 2: its replica knows the translation.
    Bytes synack = tcp(kServer, 443, kPool, port, kTcpSyn | kTcpAck, 900, 101);
    const Verdict v = b.send(synack, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(b.count(PipelineCounter::nat_replies_translated) == 1);
    CHECK(parsed(synack).dst == *parseIpAddr(kClient));
    CHECK(parsed(synack).dport == 40000);
    // Node 1 sends on what node 2 put back.
    CHECK(a.send(synack, kOutside, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(parsed(synack).dst == *parseIpAddr(kClient));
    // The client's next segment through node 2 goes to node 1 untranslated,
    // which translates it as for the SYN.
    Bytes ack = tcp(kClient, 40000, kServer, 443, kTcpAck, 101, 901);
    const Verdict via_b = b.send(ack, kInside);
    CHECK(via_b.kind == VerdictKind::to_peer);
    CHECK(parsed(ack).src == *parseIpAddr(kClient));
    CHECK(a.send(ack, kInside, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(parsed(ack).src == IpAddr::fromV4(poolAddr()));
    CHECK(parsed(ack).sport == port);
}

TEST_CASE("the survivor of a dead owner keeps the owner's translation both ways") {
    Member a(1), b(2);
    Bytes data;
    const uint16_t port = establishThenAdopt(a, b, &data);
    CHECK(b.count(PipelineCounter::sessions_adopted) == 1);
    CHECK(parsed(data).src == IpAddr::fromV4(poolAddr()));
    CHECK(parsed(data).sport == port);  // node 1's port, in node 1's block
    Bytes answer = tcp(kServer, 443, kPool, port, kTcpAck | kTcpPsh, 901, 101);
    CHECK(b.send(answer, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(answer).dst == *parseIpAddr(kClient));
    CHECK(parsed(answer).dport == 40000);
}

TEST_CASE("a port of this node's blocks that a peer's session holds is not handed out here") {
    Member a(1), b(2);
    // Node 2 translates a connection, then dies; node 1 adopts it.
    Bytes data;
    const uint16_t port = establishThenAdopt(b, a, &data);
    REQUIRE(blockOwner(port) == 2);
    REQUIRE(a.count(PipelineCounter::sessions_adopted) == 1);

    // Node 2 starts again, empty, and gets node 1's sessions (a bulk sync).
    Member b2(2);
    {
        WorkerEvent ev;
        while (a.channel.to_agent.pop(&ev)) {
        }
    }
    a.setView(0b11);
    AgentCommand scan;
    scan.kind = AgentCommandKind::bulk_scan;
    scan.peer = 2;
    a.pipe->apply(scan, 1000);
    while (a.pipe->runJobs(1000, 4096)) {
    }
    replicate(a, b2);
    REQUIRE(b2.table.size() == 1);
    // Its block has 64 ports, one of them still node 1's adopted session's:
    // 63 new sessions get a port, the 64th none, and none gets that one.
    for (uint16_t i = 0; i < 63; ++i) {
        Bytes syn = tcp("10.0.2.1", uint16_t(30000 + i), kServer, 80, kTcpSyn, 1, 0);
        REQUIRE(b2.send(syn, kInside).kind == VerdictKind::defer);
        CHECK(parsed(syn).sport != port);
        CHECK(blockOwner(parsed(syn).sport) == 2);
    }
    Bytes one_more = tcp("10.0.2.1", 31000, kServer, 80, kTcpSyn, 1, 0);
    CHECK(b2.send(one_more, kInside).kind == VerdictKind::drop);
    CHECK(b2.count(PipelineCounter::dropped_nat_exhausted) == 1);

    // The adopted session ends on node 1: node 2 may hand its port out again.
    a.pipe->removeSession(indexOf(a, 40000), 1000);
    replicate(a, b2);
    Bytes again = tcp("10.0.2.1", 31001, kServer, 80, kTcpSyn, 1, 0);
    CHECK(b2.send(again, kInside).kind == VerdictKind::defer);
    CHECK(parsed(again).sport == port);
}

TEST_CASE("when the owner ends a translated session its replica's translation goes too") {
    Member a(1), b(2);
    const uint16_t port = openOn(a, b, 40000);
    a.pipe->removeSession(indexOf(a, 40000), 1000);
    replicate(a, b);
    CHECK(b.table.size() == 0);
    // A late reply through node 2 finds nothing there: it goes to node 1,
    // whose block the port is, which has nothing either.
    Bytes late = tcp(kServer, 443, kPool, port, kTcpAck, 900, 101);
    CHECK(b.send(late, kOutside).kind == VerdictKind::to_peer);
    CHECK(b.count(PipelineCounter::nat_replies_to_port_owner) == 1);
    CHECK(a.send(late, kOutside, Ingress::peer, 2).kind == VerdictKind::drop);
    CHECK(a.count(PipelineCounter::nat_no_translation) == 1);
    CHECK(parsed(late).dst == IpAddr::fromV4(poolAddr()));  // left as it came
}

TEST_CASE("a translated reply's fragments meet at their fragment owner, and are put back there") {
    Member a(1), b(2);
    Bytes query = FrameBuilder::udp(kClient, 5000, kServer, 53).payload(30).build();
    REQUIRE(a.send(query, kInside).kind == VerdictKind::defer);
    replicate(a, b);
    const uint16_t port = parsed(query).sport;
    // A reply datagram whose fragment owner is node 1, entering at node 2.
    uint16_t id = 1;
    while (fragmentOwnerOf(
               DatagramId{*parseIpAddr(kServer), IpAddr::fromV4(poolAddr()), id, kProtoUdp}.hash(),
               0b11) != 1)
        ++id;
    auto fragment = [&](uint16_t offset, bool more) {
        return FrameBuilder::udp(kServer, 53, kPool, port)
            .ipId(id)
            .fragment(offset, more)
            .payload(40)
            .build();
    };
    Bytes head = fragment(0, true), later = fragment(48, false);
    for (Bytes* f : {&head, &later}) {
        const Verdict v = b.send(*f, kOutside);
        CHECK(v.kind == VerdictKind::to_peer);
        CHECK(v.peer == 1);
        CHECK(v.reason == ForwardReason::to_fragment_owner);
        CHECK(parsed(*f).dst == IpAddr::fromV4(poolAddr()));  // as it came: translated there
    }
    for (Bytes* f : {&head, &later}) {
        CHECK(a.send(*f, kOutside, Ingress::peer, 2, ForwardReason::to_fragment_owner).kind ==
              VerdictKind::forward);
        CHECK(parsed(*f).dst == *parseIpAddr(kClient));
    }
    CHECK(parsed(head).dport == 5000);
    CHECK(a.count(PipelineCounter::nat_fragments_translated) == 1);
}

TEST_CASE("a node left for good lends its blocks to the survivor, which keeps its ports in use") {
    Member a(1), b(2);
    // Node 2 translates a connection from its block, then dies; node 1
    // adopts it.
    Bytes data;
    const uint16_t port = establishThenAdopt(b, a, &data);
    CHECK(a.pipe->natPoolUsage(0).blocks_here == 1);

    AgentCommand gone;
    gone.kind = AgentCommandKind::nat_departed;
    gone.members = 0b10;
    a.pipe->apply(gone, 1000);
    CHECK(a.pipe->natPoolUsage(0).blocks_here == 2);
    // Until its scan of the table is done, node 2's block is not handed out.
    uint16_t n = 0;
    auto open = [&] {
        Bytes syn = tcp("10.0.2.1", uint16_t(30000 + n++), kServer, 80, kTcpSyn, 1, 0);
        const Verdict v = a.send(syn, kInside);
        return v.kind == VerdictKind::forward ? parsed(syn).sport : uint16_t(0);
    };
    for (int i = 0; i < 64; ++i) CHECK(blockOwner(open()) == 1);
    CHECK(open() == 0);  // its own block is full, the lent one held
    while (a.pipe->runJobs(1000, 4096)) {
    }
    // Now the lent block, less the port the adopted session holds.
    for (int i = 0; i < 63; ++i) {
        const uint16_t p = open();
        CHECK(blockOwner(p) == 2);
        CHECK(p != port);
    }
    CHECK(open() == 0);
    CHECK(a.pipe->natPoolUsage(0).ports_in_use == 128);
    CHECK(a.pipe->natPoolUsage(0).exhausted == 2);

    // Node 2 is back: its block is its own again.
    gone.members = 0;
    a.pipe->apply(gone, 1000);
    while (a.pipe->runJobs(1000, 4096)) {
    }
    CHECK(a.pipe->natPoolUsage(0).blocks_here == 1);
    CHECK(a.pipe->natPoolUsage(0).ports_in_use == 64);
}

TEST_CASE("a reply to a port no session here holds goes to the node whose block it is") {
    Member a(1), b(2);
    Bytes query = FrameBuilder::udp(kClient, 5000, kServer, 53).payload(30).build();
    REQUIRE(a.send(query, kInside).kind == VerdictKind::defer);
    const uint16_t port = parsed(query).sport;
    WorkerEvent dropped;
    while (a.channel.to_agent.pop(&dropped)) {
    }  // node 2 never gets the replica
    Bytes answer = FrameBuilder::udp(kServer, 53, kPool, port).payload(60).build();
    const Verdict v = b.send(answer, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::owner_elsewhere);
    CHECK(b.count(PipelineCounter::nat_replies_to_port_owner) == 1);
    CHECK(parsed(answer).dst == IpAddr::fromV4(poolAddr()));  // as it came
    // Node 1 puts it back to the client.
    CHECK(a.send(answer, kOutside, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(parsed(answer).dst == *parseIpAddr(kClient));
    CHECK(parsed(answer).dport == 5000);
    // Sent back here by a peer, a port no session holds stays here.
    Bytes stray = FrameBuilder::udp(kServer, 53, kPool, uint16_t(port + 1)).payload(60).build();
    b.send(stray, kOutside, Ingress::peer, 1);
    CHECK(b.count(PipelineCounter::nat_replies_to_port_owner) == 1);
    CHECK(b.count(PipelineCounter::nat_no_translation) == 1);
}

TEST_CASE("a port forward's replies that reach the other node leave from the public address") {
    Member a(1), b(2);
    Bytes syn = tcp("192.0.2.9", 50000, "198.51.100.20", 443, kTcpSyn, 100, 0);
    REQUIRE(a.send(syn, kOutside).kind == VerdictKind::defer);
    CHECK(parsed(syn).dst == *parseIpAddr("10.0.5.20"));
    replicate(a, b);
    // The target answers through node 2: its replica knows the translation.
    Bytes synack = tcp("10.0.5.20", 8443, "192.0.2.9", 50000, kTcpSyn | kTcpAck, 900, 101);
    const Verdict v = b.send(synack, kInside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(parsed(synack).src == *parseIpAddr("198.51.100.20"));
    CHECK(parsed(synack).sport == 443);
    CHECK(a.send(synack, kInside, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(parsed(synack).src == *parseIpAddr("198.51.100.20"));
    replicate(a, b);
    // Node 1 dies: node 2 carries on, both ways.
    b.setView(0b10);
    Bytes ack = tcp("192.0.2.9", 50000, "198.51.100.20", 443, kTcpAck, 101, 901);
    CHECK(b.send(ack, kOutside).kind == VerdictKind::forward);
    CHECK(parsed(ack).dst == *parseIpAddr("10.0.5.20"));
    CHECK(parsed(ack).dport == 8443);
    Bytes data = tcp("10.0.5.20", 8443, "192.0.2.9", 50000, kTcpAck | kTcpPsh, 901, 101);
    CHECK(b.send(data, kInside).kind == VerdictKind::forward);
    CHECK(parsed(data).src == *parseIpAddr("198.51.100.20"));
    CHECK(b.count(PipelineCounter::sessions_adopted) == 1);
}
