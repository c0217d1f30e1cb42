// Source translation in a cluster of three: three pipelines with directors
// on, the HA agent's part played by the test (a node's session events reach
// the session's owner and backup owner only, as targeted replication sends
// them). A node gives a new session a port of its own blocks whose heir is
// the session's backup owner, so a reply that reaches a third node goes to
// the port's owner and, once the owner is dead, to the heir, which holds
// the session's copy and takes it over.
#include <doctest/doctest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "cluster/election.h"
#include "fixtures/nat_pipelines.h"
#include "fixtures/replay_events.h"
#include "pipeline/pipeline.h"

using namespace tandem;

namespace {

constexpr uint16_t kOutside = test::kNatOutside, kInside = test::kNatInside;
constexpr uint16_t kAll = 0b111;
const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";
const char* kPool = "198.51.100.10";
const char* kPoolText = "public 198.51.100.10 ports 20000-23071 block-size 64";  // 48 blocks

using Bytes = std::vector<uint8_t>;

struct Member : test::NatMember {
    explicit Member(NodeId n)
        : NatMember(n,
                    test::natSetupOf(kPoolText, {"snat from inside to outside pool public"}, kAll),
                    {"allow from inside to outside"}, true) {}
};

struct Cluster {
    std::array<std::unique_ptr<Member>, 3> m = {
        std::make_unique<Member>(1), std::make_unique<Member>(2), std::make_unique<Member>(3)};
    Member& node(NodeId n) { return *m[n - 1]; }
    // Every node's session events applied on the session's owner and backup
    // owner (the other nodes never get them).
    void replicate() {
        for (auto& from : m) {
            WorkerEvent ev;
            AgentCommand cmd;
            while (from->channel.to_agent.pop(&ev)) {
                if (!test::replicaCommand(ev, &cmd)) continue;
                for (auto& to : m) {
                    if (to->id == from->id) continue;
                    if (to->id != cmd.session.owner && to->id != cmd.session.backup_owner) continue;
                    to->pipe->apply(cmd, 1000);
                }
            }
        }
    }
};

using test::parsedFrame;
using test::tcpFrame;

PortBlockMap blockMap() {
    NatTextError e;
    return PortBlockMap(parseNatPool(kPoolText, &e)->spec, kAll);
}

uint32_t poolAddr() {
    return parseIpAddr(kPool)->v4();
}

// The client's connection from `cport`: its session's backup owner when
// node `owner` opens it.
NodeId backupOf(uint16_t cport, NodeId owner) {
    const PacketInfo info = parsedFrame(tcpFrame(kClient, cport, kServer, 443, kTcpSyn, 1, 0));
    return backupOwnerOf(flowHash(makeFlowKey(info.tuple(0))), owner, kAll);
}

// A client SYN through `owner`, replicated: the translated port.
uint16_t open(Cluster& c, NodeId owner, uint16_t cport) {
    Bytes syn = tcpFrame(kClient, cport, kServer, 443, kTcpSyn, 100, 0);
    REQUIRE(c.node(owner).send(syn, kInside).kind == VerdictKind::defer);
    c.replicate();
    return parsedFrame(syn).sport;
}

}  // namespace

TEST_CASE("in a cluster of three a node's ports are its own, of a block its backup inherits") {
    Cluster c;
    const PortBlockMap map = blockMap();
    for (NodeId owner = 1; owner <= 3; ++owner) {
        for (uint16_t i = 0; i < 40; ++i) {
            const uint16_t cport = uint16_t(40000 + owner * 1000 + i);
            const uint16_t port = open(c, owner, cport);
            const uint32_t block = *map.blockOf(poolAddr(), port);
            CHECK(map.owner(block) == owner);
            CHECK(map.heir(block) == backupOf(cport, owner));
        }
        CHECK(c.node(owner).count(PipelineCounter::nat_ports_off_heir) == 0);
        CHECK(c.node(owner).count(PipelineCounter::sessions_translated) == 40);
    }
}

TEST_CASE("a reply through a third node goes to the port's owner, then to its heir") {
    Cluster c;
    // A connection through node 1 whose backup owner is node 2 or 3; the
    // third node has no copy of it.
    const uint16_t cport = 40000;
    const NodeId backup = backupOf(cport, 1);
    const NodeId third = backup == 2 ? 3 : 2;
    const uint16_t port = open(c, 1, cport);
    REQUIRE(c.node(third).table.size() == 0);

    // The SYN-ACK through the third node goes to node 1, as it came.
    Bytes synack = tcpFrame(kServer, 443, kPool, port, kTcpSyn | kTcpAck, 900, 101);
    Verdict v = c.node(third).send(synack, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(c.node(third).count(PipelineCounter::nat_replies_to_port_owner) == 1);
    CHECK(c.node(1)
              .send(synack, kOutside, Ingress::peer, third, ForwardReason::owner_elsewhere)
              .kind == VerdictKind::forward);
    CHECK(parsedFrame(synack).dst == *parseIpAddr(kClient));
    Bytes ack = tcpFrame(kClient, cport, kServer, 443, kTcpAck, 101, 901);
    REQUIRE(c.node(1).send(ack, kInside).kind == VerdictKind::forward);
    c.replicate();

    // Node 1 dies. The next reply through the third node goes to the heir
    // of the port's block, the backup owner, which puts it back to the
    // client and takes the session over.
    for (NodeId n : {NodeId(2), NodeId(3)}) c.node(n).setView(kAll & ~nodeBit(1));
    Bytes data = tcpFrame(kServer, 443, kPool, port, kTcpAck | kTcpPsh, 901, 101);
    v = c.node(third).send(data, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == backup);
    CHECK(c.node(third).count(PipelineCounter::nat_replies_to_port_heir) == 1);
    CHECK(c.node(backup)
              .send(data, kOutside, Ingress::peer, third, ForwardReason::owner_elsewhere)
              .kind == VerdictKind::forward);
    CHECK(parsedFrame(data).dst == *parseIpAddr(kClient));
    CHECK(parsedFrame(data).dport == cport);
    CHECK(c.node(backup).count(PipelineCounter::sessions_adopted) == 1);

    // The client's next segment through the third node reaches the new
    // owner by the flow's director and leaves with the same translation.
    Bytes more = tcpFrame(kClient, cport, kServer, 443, kTcpAck | kTcpPsh, 101, 901);
    v = c.node(third).send(more, kInside);
    REQUIRE(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == backup);
    CHECK(c.node(backup).send(more, kInside, Ingress::peer, third, v.reason).kind ==
          VerdictKind::forward);
    CHECK(parsedFrame(more).src == IpAddr::fromV4(poolAddr()));
    CHECK(parsedFrame(more).sport == port);
}

TEST_CASE("a node whose blocks for a backup are full takes another block, and counts it") {
    Cluster c;
    const PortBlockMap map = blockMap();
    // Node 1 has 16 blocks, about half of them inherited by each of the
    // others: 100 sessions more with one backup than those blocks hold.
    const NodeId want = backupOf(1024, 1);
    uint32_t blocks_for = 0;
    for (uint32_t b : map.blocksOf(1))
        if (map.heir(b) == want) ++blocks_for;
    REQUIRE(blocks_for > 0);
    REQUIRE(blocks_for < map.blocksOf(1).size());
    std::vector<uint16_t> cports;
    for (uint16_t p = 1024; cports.size() < blocks_for * 64 + 100 && p < 65000; ++p)
        if (backupOf(p, 1) == want) cports.push_back(p);
    uint32_t off_heir = 0;
    for (uint16_t p : cports) {
        Bytes syn = tcpFrame(kClient, p, kServer, 443, kTcpSyn, 100, 0);
        REQUIRE(c.node(1).send(syn, kInside).kind == VerdictKind::defer);
        if (map.heir(*map.blockOf(poolAddr(), parsedFrame(syn).sport)) != want) ++off_heir;
    }
    CHECK(off_heir == cports.size() - blocks_for * 64);
    CHECK(c.node(1).count(PipelineCounter::nat_ports_off_heir) == off_heir);
}
