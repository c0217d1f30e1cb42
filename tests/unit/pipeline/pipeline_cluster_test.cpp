// Two pipelines acting as a pair, with the HA agent's part played by the test:
// it moves WorkerEvents from one node's ring into the other's apply().
#include <doctest/doctest.h>

#include <vector>

#include "cluster/election.h"
#include "fixtures/frame_builder.h"
#include "fixtures/replay_events.h"
#include "fixtures/tls_hello.h"
#include "pipeline/pipeline.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = 0, kInside = 1;
const char* kClient = "10.0.1.10";
const char* kServer = "192.0.2.80";

std::shared_ptr<const Policy> webPolicy() {
    RuleError err;
    std::vector<Rule> rules = {*parseRule("allow from inside to outside proto tcp dport 80", &err),
                               *parseRule("allow from inside to outside proto udp dport 53", &err)};
    std::string error;
    auto p = Policy::compile(rules, {"outside", "inside"}, &error);
    REQUIRE(p);
    return p;
}

struct Member {
    NodeId id;
    ClusterViewCell cell;
    WorkerChannel channel{1024, 1024};
    SessionTable table{1024, 0};
    std::unique_ptr<Pipeline> pipe;

    explicit Member(NodeId n, bool directors = false,
                    std::shared_ptr<const Policy> policy = nullptr)
        : id(n) {
        PipelineSettings s;
        s.node = n;
        s.directors = directors;
        s.port_count = 2;
        s.ports[0] = {0, 1};
        s.ports[1] = {1, 0};
        s.view = &cell;
        s.events = &channel.to_agent;
        pipe = std::make_unique<Pipeline>(s, table, policy ? policy : webPolicy());
    }
    void setView(uint16_t owners, uint16_t reachable, NodeState state = NodeState::active,
                 bool primary_owns = false, NodeId primary = 1) {
        ClusterView v;
        v.self = id;
        v.owners = owners;
        v.reachable = reachable;
        v.self_state = state;
        v.primary = primary;
        v.primary_owns = primary_owns;
        v.replicate = (reachable & ~nodeBit(id)) != 0;
        cell.publish(v);
    }
    Verdict send(const std::vector<uint8_t>& f, uint16_t port, uint32_t now = 1000,
                 Ingress ingress = Ingress::port, NodeId sender = kNoNode,
                 ForwardReason reason = ForwardReason::none) {
        auto copy = f;
        return pipe->process(copy.data(), uint16_t(copy.size()), port, now, ingress, sender,
                             reason);
    }
    /// A frame held by await_owner decided again (`last`: its wait is over).
    Verdict redecide(const std::vector<uint8_t>& f, uint16_t port, uint32_t now,
                     const PeerOrigin& from = {}, bool last = false) {
        auto copy = f;
        return pipe->releaseAwaiting(copy.data(), uint16_t(copy.size()), port, now, from, last);
    }
    std::vector<WorkerEvent> events() {
        std::vector<WorkerEvent> out;
        WorkerEvent ev;
        while (channel.to_agent.pop(&ev)) out.push_back(ev);
        return out;
    }
    uint64_t count(PipelineCounter c) const { return pipe->counters().get(c); }
    const Session* find(const std::vector<uint8_t>& frame) const {
        PacketInfo info;
        REQUIRE(parseFrame(frame.data(), frame.size(), {}, info) == ParseResult::ok);
        FlowKey k = makeFlowKey(info.tuple(0));
        uint32_t i = table.find(k, flowHash(k));
        return i == SessionTable::kNoEntry ? nullptr : &table.at(i);
    }
};

// Replays `from`'s upserts/erases into `to`, as the HA agent would.
void replicate(Member& from, Member& to, uint32_t now = 1000) {
    test::replayEvents(from.channel.to_agent, *to.pipe, now);
}

auto syn() {
    return FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpSyn).seq(100).build();
}
auto synAck() {
    return FrameBuilder::tcp(kServer, 80, kClient, 40000, kTcpSyn | kTcpAck)
        .seq(500)
        .ack(101)
        .build();
}
auto ack() {
    return FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck).seq(101).ack(501).build();
}
// 1000 bytes from the server at `seq` (acknowledging the client's SYN).
auto serverData(uint32_t seq) {
    return FrameBuilder::tcp(kServer, 80, kClient, 40000, kTcpAck)
        .seq(seq)
        .ack(101)
        .payload(1000)
        .build();
}
auto reply() {
    return FrameBuilder::tcp(kServer, 80, kClient, 40000, kTcpAck)
        .seq(501)
        .ack(101)
        .payload(100)
        .build();
}

struct Pair {
    Member a{1}, b{2};
    Pair() {
        a.setView(0b11, 0b11);
        b.setView(0b11, 0b11);
    }
    /// The connection's handshake through node 1 (which owns it), then node
    /// 1's session events applied on node 2.
    void establishOnA() {
        handshakeOnA();
        replicate(a, b);
    }
    void handshakeOnA() {
        a.send(syn(), kInside);
        a.send(synAck(), kOutside);
        a.send(ack(), kInside);
    }
};

}  // namespace

TEST_CASE("a first packet is held until its session is replicated, with a release token") {
    Pair p;
    Verdict v = p.a.send(syn(), kInside);
    CHECK(v.kind == VerdictKind::defer);
    CHECK(v.port == kOutside);
    CHECK(v.token != 0);
    auto evs = p.a.events();
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].kind == WorkerEventKind::upsert);
    CHECK(evs[0].defer_token == v.token);
    CHECK(evs[0].session.owner == 1);
    CHECK(evs[0].session.backup_owner == 2);
    CHECK(p.a.count(PipelineCounter::deferred_first_packets) == 1);
}

TEST_CASE("a standalone node forwards first packets at once") {
    Member solo(1);
    solo.setView(0b1, 0b1);
    CHECK(solo.send(syn(), kInside).kind == VerdictKind::forward);
    CHECK(solo.events().empty());
}

TEST_CASE("the asymmetric reply reaches the owner through the peer link") {
    Pair p;
    REQUIRE(p.a.send(syn(), kInside).kind == VerdictKind::defer);
    replicate(p.a, p.b);  // what the defer waits for
    // The SYN-ACK comes back through node 2, which knows node 1 owns the flow.
    Verdict v = p.b.send(synAck(), kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::owner_elsewhere);
    CHECK(p.b.count(PipelineCounter::forwarded_to_peer) == 1);
    // Node 1 processes the forwarded frame as if it had entered on its outside port.
    Verdict at_owner = p.a.send(synAck(), kOutside, 1000, Ingress::peer);
    CHECK(at_owner.kind == VerdictKind::forward);
    CHECK(at_owner.port == kInside);
    CHECK(p.a.send(ack(), kInside).kind == VerdictKind::forward);
    CHECK(p.a.find(syn())->state == SessionState::tcp_established);
    // Each state change reached the peer too.
    replicate(p.a, p.b);
    CHECK(p.b.find(syn())->state == SessionState::tcp_established);
    CHECK(p.b.find(syn())->owner == 1);
}

TEST_CASE(
    "without the replica the non-owner cannot pass the reply: it waits for the copy (the race "
    "defer prevents, unless the owner's first packet left at its safety timeout)") {
    Pair p;
    REQUIRE(p.a.send(syn(), kInside).kind == VerdictKind::defer);
    // Node 2 has not heard of the flow: a SYN-ACK cannot start a session.
    // Its copy may be on its way: it waits, for at most a second.
    Verdict v = p.b.send(synAck(), kOutside);
    CHECK(v.kind == VerdictKind::await_owner);
    CHECK(v.token == 1000);
    CHECK(p.b.count(PipelineCounter::awaiting_replica) == 1);
    CHECK(p.b.redecide(synAck(), kOutside, 1100).kind == VerdictKind::await_owner);
    CHECK(p.b.count(PipelineCounter::awaiting_replica) == 1);  // counted once
    // The copy comes: the reply goes to its owner.
    replicate(p.a, p.b);
    v = p.b.redecide(synAck(), kOutside, 1200);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 1));
    CHECK(v.reason == ForwardReason::owner_elsewhere);
    // Another flow's reply whose copy never comes: once its wait is over it
    // goes to the other node to be judged, as while the sync channel is
    // down (that node may not have sent its copy: its channel was down for
    // a while); there it is dropped, never sent back.
    auto stray = FrameBuilder::tcp(kServer, 80, kClient, 40001, kTcpSyn | kTcpAck).build();
    CHECK(p.b.send(stray, kOutside).kind == VerdictKind::await_owner);
    v = p.b.redecide(stray, kOutside, 2000, {}, true);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 1));
    CHECK(v.reason == ForwardReason::unsynced_peer);
    CHECK(p.a.send(stray, kOutside, 2000, Ingress::peer, 2, ForwardReason::unsynced_peer).kind ==
          VerdictKind::drop);
    CHECK(p.a.count(PipelineCounter::dropped_no_session) == 1);
}

TEST_CASE("when the owner dies its backup adopts the session on the next packet") {
    Pair p;
    p.establishOnA();
    // Node 1 is gone: node 2 is alone.
    p.b.setView(0b10, 0b10);
    Verdict v = p.b.send(reply(), kOutside);
    CHECK(v.kind == VerdictKind::forward);
    CHECK(v.port == kInside);
    const Session* s = p.b.find(syn());
    REQUIRE(s);
    CHECK(s->owner == 2);
    CHECK(s->origin_owner == 1);  // remembered for revert
    CHECK(p.b.count(PipelineCounter::sessions_adopted) == 1);
    CHECK(p.b.send(ack(), kInside).kind == VerdictKind::forward);
}

TEST_CASE("a tentative node forwards new flows to a node that may own them") {
    Pair p;
    p.b.setView(0b01, 0b11, NodeState::tentative);  // node 2 may not own yet
    Verdict v = p.b.send(syn(), kInside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::new_flow);
    // Node 1 creates the session from the forwarded SYN.
    CHECK(p.a.send(syn(), kInside, 1000, Ingress::peer).kind == VerdictKind::defer);
    CHECK(p.a.find(syn())->owner == 1);
}

TEST_CASE("in primary mode the secondary forwards every new flow to the primary") {
    Pair p;
    p.a.setView(0b11, 0b11, NodeState::active_primary, true, 1);
    p.b.setView(0b11, 0b11, NodeState::active_secondary, true, 1);
    Verdict v = p.b.send(syn(), kInside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(p.a.send(syn(), kInside, 1000, Ingress::peer).kind == VerdictKind::defer);
}

TEST_CASE("a forwarded frame this node does not own either is dropped, not bounced") {
    Pair p;
    p.b.setView(0b01, 0b11, NodeState::tentative);
    CHECK(p.b.send(syn(), kInside, 1000, Ingress::peer).kind == VerdictKind::drop);
    CHECK(p.b.count(PipelineCounter::dropped_forward_loop) == 1);
}

// Node 2 owns 100 flows of node 1's, adopted while node 1 was down; node 1
// is back (reachable) but still tentative in node 2's view.
void adoptedWhileOneWasDown(Pair& p) {
    for (uint16_t port = 1000; port < 1100; ++port) {
        p.a.send(FrameBuilder::udp(kClient, port, kServer, 53).build(), kInside);
    }
    replicate(p.a, p.b);
    p.b.setView(0b10, 0b10);
    for (uint16_t port = 1000; port < 1100; ++port) {
        p.b.send(FrameBuilder::udp(kServer, 53, kClient, port).build(), kOutside);
    }
    REQUIRE(p.b.count(PipelineCounter::sessions_adopted) == 100);
    p.b.events();
    p.b.setView(0b10, 0b11);
}

// Node 2 gives back what node 1 owned before (the revert's command).
void giveBackToOne(Pair& p, uint32_t now) {
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::transfer_owner;
    cmd.from = 2, cmd.to = 1, cmd.origin = 1;
    p.b.pipe->apply(cmd, now);
}

TEST_CASE("ownership handed back by a transfer job moves every matching session") {
    Pair p;
    adoptedWhileOneWasDown(p);
    // Node 1 is back and synced: node 2 gives back what node 1 originally owned.
    p.b.setView(0b11, 0b11);
    p.a.setView(0b11, 0b11);
    giveBackToOne(p, 2000);
    while (p.b.pipe->runJobs(2000, 64)) {
    }
    CHECK(p.b.count(PipelineCounter::sessions_given) == 100);
    replicate(p.b, p.a, 2000);
    uint32_t owned_by_1 = 0;
    p.a.table.scan(0, p.a.table.capacity(),
                   [&](uint32_t, const Session& s) { owned_by_1 += s.owner == 1; });
    CHECK(owned_by_1 == 100);
    // Traffic now reaching node 2 goes to node 1.
    CHECK(p.b.send(FrameBuilder::udp(kServer, 53, kClient, 1000).build(), kOutside).kind ==
          VerdictKind::to_peer);
}

TEST_CASE("a hand-over waits until the view lets its target own") {
    // The revert command reaches the worker before the view that names node 1
    // an owner again: given now, each session's next packet would find an
    // owner the view says cannot own, and node 2 would adopt it back.
    Pair p;
    adoptedWhileOneWasDown(p);
    giveBackToOne(p, 2000);
    CHECK(p.b.pipe->runJobs(2000, 4096));  // still pending
    CHECK(p.b.count(PipelineCounter::sessions_given) == 0);
    CHECK(p.b.send(FrameBuilder::udp(kServer, 53, kClient, 1000).build(), kOutside).kind ==
          VerdictKind::forward);
    CHECK(p.b.count(PipelineCounter::sessions_adopted) == 100);
    // The view arrives: everything goes, and the next packet goes to node 1.
    p.b.setView(0b11, 0b11);
    while (p.b.pipe->runJobs(2100, 64)) {
    }
    CHECK(p.b.count(PipelineCounter::sessions_given) == 100);
    CHECK(p.b.send(FrameBuilder::udp(kServer, 53, kClient, 1000).build(), kOutside).kind ==
          VerdictKind::to_peer);
    CHECK(p.b.count(PipelineCounter::sessions_adopted) == 100);
    CHECK(p.b.count(PipelineCounter::transfers_abandoned) == 0);
}

TEST_CASE("a hand-over to a node that never becomes an owner is given up") {
    Pair p;
    adoptedWhileOneWasDown(p);
    giveBackToOne(p, 2000);
    CHECK(p.b.pipe->runJobs(2999, 4096));
    CHECK_FALSE(p.b.pipe->runJobs(3000, 4096));  // the wait is over: no job left
    CHECK(p.b.count(PipelineCounter::transfers_abandoned) == 1);
    CHECK(p.b.count(PipelineCounter::sessions_given) == 0);
    // A view that comes later does not revive it.
    p.b.setView(0b11, 0b11);
    CHECK_FALSE(p.b.pipe->runJobs(3100, 4096));
    CHECK(p.b.count(PipelineCounter::sessions_given) == 0);
}

TEST_CASE("a replica lives while its owner does, and goes when the owner is gone") {
    Pair p;
    p.a.send(FrameBuilder::udp(kClient, 5000, kServer, 53).build(), kInside);
    replicate(p.a, p.b);
    REQUIRE(p.b.table.size() == 1);
    const uint32_t later = 1000 + 10 * 60 * 1000;
    for (uint32_t t = 1000; t < later; t += 10000) p.b.pipe->age(t, 1000);
    CHECK(p.b.table.size() == 1);  // owner alive: the owner decides
    p.b.setView(0b10, 0b10);
    for (uint32_t t = later; t < later + 300000; t += 10000) p.b.pipe->age(t, 1000);
    CHECK(p.b.table.size() == 0);
    CHECK(p.b.count(PipelineCounter::replicas_expired) == 1);
}

TEST_CASE("when the owner ends a session the replica is removed") {
    Pair p;
    p.a.send(FrameBuilder::udp(kClient, 5001, kServer, 53).build(), kInside);
    replicate(p.a, p.b);
    REQUIRE(p.b.table.size() == 1);
    const uint32_t later = 1000 + 200 * 1000;
    for (uint32_t t = 1000; t <= later; t += 5000) p.a.pipe->age(t, 1000);
    CHECK(p.a.table.size() == 0);
    replicate(p.a, p.b, later);
    CHECK(p.b.table.size() == 0);
    CHECK(p.b.count(PipelineCounter::replicas_removed) == 1);
}

TEST_CASE("an older version of a session never overwrites a newer one") {
    Pair p;
    p.a.send(syn(), kInside);
    auto first = p.a.events();
    p.a.send(synAck(), kOutside);
    p.a.send(ack(), kInside);
    replicate(p.a, p.b);
    REQUIRE(p.b.find(syn())->state == SessionState::tcp_established);
    AgentCommand late;
    late.kind = AgentCommandKind::apply_upsert;
    late.session = first[0].session;  // the syn-sent version, resent late
    p.b.pipe->apply(late, 1000);
    CHECK(p.b.find(syn())->state == SessionState::tcp_established);
    CHECK(p.b.count(PipelineCounter::replicas_stale) == 1);
}

TEST_CASE("one peer's replicas never fill the table: room is kept for this node's own sessions") {
    Pair p;  // tables of 1024: a peer's replicas stop at 1024 - 1024/16 = 960
    const Session base = [&] {
        p.establishOnA();
        return p.b.find(syn())->owner == 1 ? *p.b.find(syn()) : Session{};
    }();
    REQUIRE(base.owner == 1);
    for (uint32_t i = 0; i < 2000; ++i) {
        AgentCommand cmd;
        cmd.kind = AgentCommandKind::apply_upsert;
        cmd.session = base;
        FlowKey k = base.key();
        k.context = 1000 + i;
        cmd.session.setKey(k);
        p.b.pipe->apply(cmd, 1000);
    }
    CHECK(p.b.table.ownerCount(1) == 960);
    CHECK(p.b.count(PipelineCounter::replicas_dropped_peer_limit) == 2000 - 959);
    CHECK(p.b.count(PipelineCounter::replicas_dropped_full) == 0);
    // Updates of replicas already installed still apply.
    AgentCommand update;
    update.kind = AgentCommandKind::apply_upsert;
    update.session = *p.b.find(syn());
    update.session.version += 1;
    update.session.setCounts(0, 77, update.session.bytes(0));
    p.b.pipe->apply(update, 1000);
    CHECK(p.b.find(syn())->packets(0) == 77);
    // This node still opens sessions of its own.
    p.b.send(FrameBuilder::tcp(kClient, 40001, kServer, 80, kTcpSyn).seq(100).build(), kInside);
    CHECK(p.b.table.ownerCount(2) == 1);
}

TEST_CASE("a copy of a session this node owns never overwrites it unless newer") {
    Pair p;
    p.handshakeOnA();
    REQUIRE(p.a.find(syn())->state == SessionState::tcp_established);
    const uint32_t version = p.a.find(syn())->version;
    AgentCommand echo;
    echo.kind = AgentCommandKind::apply_upsert;
    echo.session = *p.a.find(syn());
    echo.session.state = SessionState::tcp_syn_recv;  // same version, older content
    p.a.pipe->apply(echo, 1000);
    CHECK(p.a.find(syn())->state == SessionState::tcp_established);
    CHECK(p.a.count(PipelineCounter::replicas_stale) == 1);
    // A peer that took the session over and handed it back has a newer one.
    AgentCommand back = echo;
    back.session.state = SessionState::tcp_established;
    back.session.version = version + 2;
    p.a.pipe->apply(back, 1000);
    CHECK(p.a.find(syn())->version == version + 2);
    CHECK(p.a.count(PipelineCounter::replicas_installed) == 1);
}

TEST_CASE("a packet its owner of record forwards is carried while ownership changes hands") {
    Pair p;
    p.establishOnA();
    REQUIRE(p.b.find(syn())->owner == 1);
    // a hands its sessions to b (revert / suspend); the notice is not at b yet.
    AgentCommand give;
    give.kind = AgentCommandKind::transfer_owner;
    give.from = 1;
    give.to = 2;
    p.a.pipe->apply(give, 1000);
    p.a.pipe->runJobs(1000, 4096);
    REQUIRE(p.a.find(syn())->owner == 2);
    CHECK(p.a.send(reply(), kOutside).kind == VerdictKind::to_peer);
    // Forwarded by a, which b's copy names as owner: b carries it, and does
    // not claim the session (the two records may disagree the other way too).
    Verdict v = p.b.send(reply(), kOutside, 1000, Ingress::peer, 1);
    CHECK(v.kind == VerdictKind::forward);
    CHECK(v.port == kInside);
    CHECK(p.b.count(PipelineCounter::stand_in_packets) == 1);
    CHECK(p.b.count(PipelineCounter::dropped_forward_loop) == 0);
    CHECK(p.b.find(syn())->owner == 1);
    CHECK(p.b.events().empty());  // nothing replicated from a stand-in
    // The notice arrives and is newer than b's copy: b owns it.
    replicate(p.a, p.b);
    CHECK(p.b.find(syn())->owner == 2);
    CHECK(p.b.find(syn())->version == p.a.find(syn())->version);
    // And the reverse disagreement (a's record behind): a carries b's packet.
    AgentCommand back = give;
    back.from = 2;
    back.to = 1;
    p.b.pipe->apply(back, 1000);
    p.b.pipe->runJobs(1000, 4096);
    REQUIRE(p.b.find(syn())->owner == 1);
    CHECK(p.a.send(reply(), kOutside, 1000, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(p.a.find(syn())->owner == 2);  // until b's notice arrives
    CHECK(p.a.count(PipelineCounter::stand_in_packets) == 1);
}

TEST_CASE("a forwarded packet of a session neither node owns is a loop, not a handover") {
    Member a(1), b(2), c(3);
    for (Member* m : {&a, &b, &c}) m->setView(0b111, 0b111);
    a.send(syn(), kInside);
    a.send(synAck(), kOutside);
    replicate(a, b);
    // c forwards it to b, but b's copy names a: c's view disagrees.
    CHECK(b.send(ack(), kInside, 1000, Ingress::peer, 3).kind == VerdictKind::drop);
    CHECK(b.count(PipelineCounter::dropped_forward_loop) == 1);
    CHECK(b.count(PipelineCounter::stand_in_packets) == 0);
}

TEST_CASE(
    "with the sync channel down, a mid-stream packet with no session goes to the one live peer") {
    Pair p;
    auto unsynced = [](Member& m) {
        ClusterView v = m.cell.load();
        v.replicate = false;  // the peer is alive (peer link) but takes no replicas
        m.cell.publish(v);
    };
    unsynced(p.a);
    unsynced(p.b);
    REQUIRE(p.a.send(syn(), kInside).kind == VerdictKind::forward);  // not replicated
    Verdict v = p.b.send(synAck(), kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::unsynced_peer);
    CHECK(p.b.count(PipelineCounter::forwarded_unsynced_to_peer) == 1);
    // The node that has the session carries it; one without it drops it, and
    // never sends a peer's packet back.
    CHECK(p.a.send(synAck(), kOutside, 1000, Ingress::peer, 2).kind == VerdictKind::forward);
    CHECK(p.b.send(ack(), kInside, 1000, Ingress::peer, 1).kind == VerdictKind::drop);
    CHECK(p.b.count(PipelineCounter::dropped_no_session) == 1);
}

TEST_CASE(
    "with replication working, or no live peer, a mid-stream packet with no session is dropped") {
    Pair p;  // replicating: the peer's sessions would be here, once their copy came
    CHECK(p.b.send(synAck(), kOutside).kind == VerdictKind::await_owner);
    // None came: the other node judges it, and has no session either.
    CHECK(p.b.redecide(synAck(), kOutside, 2000, {}, true).peer == 1);
    CHECK(p.a.send(synAck(), kOutside, 2000, Ingress::peer, 2, ForwardReason::unsynced_peer).kind ==
          VerdictKind::drop);
    CHECK(p.a.count(PipelineCounter::dropped_no_session) == 1);
    Member solo(1);  // nobody sends it copies: nothing to wait for
    solo.setView(0b1, 0b1);
    CHECK(solo.send(synAck(), kOutside).kind == VerdictKind::drop);
    CHECK(solo.count(PipelineCounter::forwarded_unsynced_to_peer) == 0);
    CHECK(solo.count(PipelineCounter::awaiting_replica) == 0);
}

TEST_CASE("a session handed to this node accepts ACKs for data its notice does not include") {
    Pair p;
    p.establishOnA();
    AgentCommand give;
    give.kind = AgentCommandKind::transfer_owner;
    give.from = 1;
    give.to = 2;
    p.a.pipe->apply(give, 1000);
    p.a.pipe->runJobs(1000, 4096);
    // Before the notice reaches b, a forwards 3000 bytes from the server; b
    // carries them as a stand-in. Then the notice (a's state at the handover)
    // replaces b's copy: those bytes are not in its windows.
    for (uint32_t seq : {501u, 1501u, 2501u}) {
        REQUIRE(p.b.send(serverData(seq), kOutside, 1000, Ingress::peer, 1).kind ==
                VerdictKind::forward);
    }
    replicate(p.a, p.b);
    REQUIRE(p.b.find(syn())->owner == 2);
    // The client acknowledges all of it: b owns the session now and passes it.
    auto late_ack =
        FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck).seq(101).ack(3501).build();
    CHECK(p.b.send(late_ack, kInside).kind == VerdictKind::forward);
    CHECK(p.b.count(PipelineCounter::dropped_tcp_out_of_window) == 0);
}

TEST_CASE("a session's NAT binding arrives with its replica and leaves with its records") {
    // The binding is kept beside the session (SessionTable::nat), not in it:
    // every path that carries a session must carry it too.
    Pair p;
    const auto flow = FrameBuilder::udp(kClient, 5353, kServer, 53).build();
    p.a.send(flow, kInside);
    const NatBinding nat{0x0b000001, 40000, 1, 0};
    uint32_t applied = 0;
    for (const WorkerEvent& ev : p.a.events()) {
        if (ev.kind != WorkerEventKind::upsert) continue;
        AgentCommand cmd;
        cmd.kind = AgentCommandKind::apply_upsert;
        cmd.session = ev.session;
        cmd.nat = nat;
        p.b.pipe->apply(cmd, 1000);
        ++applied;
    }
    REQUIRE(applied == 1);
    REQUIRE(p.b.find(flow) != nullptr);
    const FlowKey key = p.b.find(flow)->key();
    const uint32_t index = p.b.table.find(key, flowHash(key));
    CHECK(p.b.table.nat(index).addr == nat.addr);
    CHECK(p.b.table.nat(index).port == nat.port);
    CHECK(p.b.table.nat(index).kind == nat.kind);
    // Handed to b, which then announces it: the announcement has the binding.
    AgentCommand give;
    give.kind = AgentCommandKind::transfer_owner;
    give.from = 1;
    give.to = 2;
    p.b.pipe->apply(give, 1000);
    while (p.b.pipe->runJobs(1000, 64)) {
    }
    uint32_t announced = 0;
    for (const WorkerEvent& ev : p.b.events()) {
        if (ev.kind != WorkerEventKind::upsert || !(ev.session.key() == key)) continue;
        ++announced;
        CHECK(ev.nat.addr == nat.addr);
        CHECK(ev.nat.port == nat.port);
        CHECK(ev.nat.kind == nat.kind);
    }
    CHECK(announced == 1);
}

TEST_CASE("a bulk scan sends only the sessions this node owns") {
    Pair p;
    for (uint16_t port = 2000; port < 2010; ++port) {
        p.a.send(FrameBuilder::udp(kClient, port, kServer, 53).build(), kInside);
    }
    for (uint16_t port = 3000; port < 3005; ++port) {
        p.b.send(FrameBuilder::udp(kClient, port, kServer, 53).build(), kInside);
    }
    replicate(p.b, p.a);  // a holds b's 5 as replicas
    p.a.events();
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::bulk_scan;
    cmd.peer = 2;
    cmd.bulk_id = 9;
    p.a.pipe->apply(cmd, 1000);
    uint32_t records = 0, done = 0;
    for (int i = 0; i < 100 && done == 0; ++i) {
        p.a.pipe->runJobs(1000, 128);
        for (auto& ev : p.a.events()) {
            if (ev.kind == WorkerEventKind::bulk_record) {
                ++records;
                CHECK(ev.session.owner == 1);
            }
            if (ev.kind == WorkerEventKind::bulk_done && ev.bulk_id == 9) ++done;
        }
    }
    CHECK(records == 10);
    CHECK(done == 1);
}

TEST_CASE("a bulk scan emits every session and then says it is done") {
    Pair p;
    for (uint16_t port = 2000; port < 2300; ++port) {
        p.a.send(FrameBuilder::udp(kClient, port, kServer, 53).build(), kInside);
    }
    p.a.events();
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::bulk_scan;
    cmd.peer = 2;
    cmd.bulk_id = 7;
    p.a.pipe->apply(cmd, 1000);
    uint32_t records = 0, done = 0;
    for (int i = 0; i < 100 && (done == 0); ++i) {
        p.a.pipe->runJobs(1000, 128);
        for (auto& ev : p.a.events()) {
            if (ev.kind == WorkerEventKind::bulk_record && ev.bulk_id == 7 && ev.peer == 2)
                ++records;
            if (ev.kind == WorkerEventKind::bulk_done && ev.bulk_id == 7) ++done;
        }
    }
    CHECK(records == 300);
    CHECK(done == 1);
}

namespace {

// Sends `cmd` to `m` and runs its jobs to the end, a few entries at a time.
void runJob(Member& m, const AgentCommand& cmd, uint32_t now = 2000) {
    m.pipe->apply(cmd, now);
    while (m.pipe->runJobs(now, 64)) {
    }
}

AgentCommand memberLeft(NodeId gone) {
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::member_left;
    cmd.from = gone;
    return cmd;
}

void applyUpserts(Member& to, const std::vector<WorkerEvent>& events) {
    for (const WorkerEvent& ev : events) {
        AgentCommand cmd;
        cmd.kind = AgentCommandKind::apply_upsert;
        cmd.session = ev.session;
        cmd.nat = ev.nat;
        cmd.app = ev.app;
        to.pipe->apply(cmd, 1000);
    }
}

std::vector<uint8_t> synFrom(uint16_t sport) {
    return FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
}

}  // namespace

TEST_CASE(
    "a newer record naming this node the owner of a session it owns already relaxes the window "
    "check: its windows are another node's") {
    // Node 2 took node 1 for dead (a stall of node 1 longer than the hold
    // time), adopted the session from its copy and, when node 1 was heard
    // again, gave it back (revert): its record names node 1, is newer, and
    // carries node 2's windows, from before what node 1 carried meanwhile.
    Pair p;
    p.establishOnA();
    Session stale = *p.b.find(syn());
    for (uint32_t seq : {501u, 1501u, 2501u})
        REQUIRE(p.a.send(serverData(seq), kOutside).kind == VerdictKind::forward);
    p.a.events();
    WorkerEvent back;
    back.kind = WorkerEventKind::upsert;
    back.session = stale;
    back.session.owner = 1;
    back.session.version = stale.version + 2;
    applyUpserts(p.a, {back});
    REQUIRE(p.a.find(syn())->owner == 1);
    REQUIRE(p.a.find(syn())->version == stale.version + 2);
    // The client acknowledges what node 1 carried: passed.
    auto ack_all =
        FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck).seq(101).ack(3501).build();
    CHECK(p.a.send(ack_all, kInside).kind == VerdictKind::forward);
    CHECK(p.a.count(PipelineCounter::dropped_tcp_out_of_window) == 0);
}

TEST_CASE("a dead owner's idle sessions are adopted by a scan, without waiting for a packet") {
    Pair p;
    for (uint16_t i = 0; i < 50; ++i) p.a.send(synFrom(uint16_t(41000 + i)), kInside);
    replicate(p.a, p.b);
    REQUIRE(p.b.table.size() == 50);
    // Node 1 dies. The agent sends the scan before it publishes the view
    // that says so: node 1 must count as gone all the same.
    runJob(p.b, memberLeft(1));
    CHECK(p.b.table.ownerCount(2) == 50);
    CHECK(p.b.count(PipelineCounter::sessions_adopted) == 50);
    const auto evs = p.b.events();
    CHECK(evs.size() == 50);
    for (const WorkerEvent& ev : evs) {
        CHECK(ev.kind == WorkerEventKind::upsert);
        CHECK(ev.session.owner == 2);
        CHECK(ev.session.origin_owner == 1);  // revert gives it back
        CHECK(ev.session.version == 2);
        CHECK((ev.session.flags & kSessionPickedUp) != 0);
    }
    // Its own sessions keep naming the peer as backup: there is no other.
    p.b.setView(0b10, 0b10);
    p.b.send(FrameBuilder::tcp(kClient, 42000, kServer, 80, kTcpSyn).seq(1).build(), kInside);
    runJob(p.b, memberLeft(1));
    CHECK(p.b.count(PipelineCounter::sessions_rebacked) == 0);
}

TEST_CASE(
    "in a cluster each of a dead owner's sessions is adopted by its backup owner only, "
    "and sessions it backed up get another backup once the view says it is gone") {
    Member m1(1), m2(2), m3(3);
    for (Member* m : {&m1, &m2, &m3}) m->setView(0b111, 0b111);
    for (uint16_t i = 0; i < 200; ++i) m1.send(synFrom(uint16_t(41000 + i)), kInside);
    for (uint16_t i = 0; i < 200; ++i) m2.send(synFrom(uint16_t(43000 + i)), kInside);
    const auto ev1 = m1.events(), ev2 = m2.events();
    applyUpserts(m2, ev1);
    applyUpserts(m3, ev1);
    applyUpserts(m3, ev2);
    size_t backed_by_2 = 0, backed_by_3 = 0, m2_backed_by_1 = 0;
    for (const WorkerEvent& ev : ev1) (ev.session.backup_owner == 2 ? backed_by_2 : backed_by_3)++;
    for (const WorkerEvent& ev : ev2) m2_backed_by_1 += ev.session.backup_owner == 1;
    REQUIRE(backed_by_2 > 0);
    REQUIRE(backed_by_3 > 0);
    REQUIRE(m2_backed_by_1 > 0);

    runJob(m2, memberLeft(1));
    runJob(m3, memberLeft(1));
    CHECK(m2.count(PipelineCounter::sessions_adopted) == backed_by_2);
    CHECK(m3.count(PipelineCounter::sessions_adopted) == backed_by_3);
    // The view without node 1 is published: backup owners are elected again.
    AgentCommand rebalance;
    rebalance.kind = AgentCommandKind::rebalance;
    for (Member* m : {&m2, &m3}) {
        m->setView(0b110, 0b110);
        runJob(*m, rebalance);
    }
    CHECK(m2.count(PipelineCounter::sessions_rebacked) == m2_backed_by_1);
    // Every upsert names a live backup owner other than its sender.
    for (Member* m : {&m2, &m3}) {
        for (const WorkerEvent& ev : m->events()) {
            CHECK(ev.session.owner == m->id);
            CHECK(ev.session.backup_owner != 1);
            CHECK(ev.session.backup_owner != m->id);
            CHECK(ev.session.backup_owner != kNoNode);
        }
    }
}

namespace {

// Three members with director forwarding, every one active.
struct Trio {
    Member m[3] = {Member(1, true), Member(2, true), Member(3, true)};
    Trio() {
        for (Member& x : m) x.setView(0b111, 0b111);
    }
    Member& node(NodeId id) { return m[id - 1]; }
};

uint64_t hashOfFrame(const std::vector<uint8_t>& frame) {
    PacketInfo info;
    REQUIRE(parseFrame(frame.data(), frame.size(), {}, info) == ParseResult::ok);
    return flowHash(makeFlowKey(info.tuple(0)));
}

// A client port from `first` on whose flow (client -> server:80) has
// director `before` among nodes 1..3 and `after` among `owners_after`.
uint16_t sportWithDirectors(NodeId before, NodeId after, uint16_t owners_after,
                            uint16_t first = 30000) {
    for (uint16_t sport = first; sport < 40000; ++sport) {
        const uint64_t h = hashOfFrame(FrameBuilder::tcp(kClient, sport, kServer, 80, 0).build());
        if (directorOf(h, 0b111) == before && directorOf(h, owners_after) == after) return sport;
    }
    FAIL("no such port");
    return 0;
}

// A client port whose flow (client -> server:80) has director `want`
// among nodes 1..3.
uint16_t sportWithDirector(NodeId want) {
    return sportWithDirectors(want, want, 0b111);
}

}  // namespace

TEST_CASE(
    "in a cluster a reply at a node without the session goes to the director, "
    "which passes it to the owner") {
    // Node 1 owns the flow, node 2 is its director (and backup owner) and
    // holds the replica; node 3 has not heard of it yet (the replica is on
    // its way, or replication is targeted): the SYN-ACK reaches node 3.
    Trio t;
    const uint16_t sport = sportWithDirector(2);
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    auto syn_ack =
        FrameBuilder::tcp(kServer, 80, kClient, sport, kTcpSyn | kTcpAck).seq(500).ack(101).build();
    Verdict v = t.node(1).send(syn, kInside);
    REQUIRE(v.kind == VerdictKind::defer);
    const auto evs = t.node(1).events();
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].session.backup_owner == 2);
    applyUpserts(t.node(2), evs);

    v = t.node(3).send(syn_ack, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 2);
    CHECK(v.reason == ForwardReason::to_director);
    CHECK(t.node(3).count(PipelineCounter::forwarded_to_director) == 1);
    CHECK(t.node(3).table.size() == 0);  // nothing created on the way

    v = t.node(2).send(syn_ack, kOutside, 1000, Ingress::peer, 3, ForwardReason::to_director);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::via_director);
    CHECK(t.node(2).count(PipelineCounter::forwarded_via_director) == 1);

    v = t.node(1).send(syn_ack, kOutside, 1000, Ingress::peer, 2, ForwardReason::via_director);
    CHECK((v.kind == VerdictKind::forward && v.port == kInside));
    CHECK(t.node(1).find(syn)->state == SessionState::tcp_syn_recv);
}

TEST_CASE(
    "in a cluster mid-stream segments and ICMP replies and errors with no session go to "
    "the director - packets that may start a session are decided where they arrive") {
    Trio t;
    const uint16_t sport = sportWithDirector(2);
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    Verdict v = t.node(3).send(ack, kInside);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 2));
    auto err =
        FrameBuilder::icmpError("198.51.100.1", kClient,
                                FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).build())
            .build();
    v = t.node(3).send(err, kOutside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer ==
          directorOf(hashOfFrame(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).build()),
                     0b111));
    CHECK(v.reason == ForwardReason::to_director);
    // An echo reply with no session: to the director of the echo's flow.
    auto reply = FrameBuilder::echo(kServer, kClient, 77, false).build();
    v = t.node(3).send(reply, kOutside);
    const NodeId d = directorOf(hashOfFrame(reply), 0b111);
    if (d == 3) {
        // It is the director itself: nobody knows the flow, unless its copy is late.
        CHECK(v.kind == VerdictKind::await_owner);
    } else {
        CHECK((v.kind == VerdictKind::to_peer && v.peer == d));
    }
    // A SYN is this node's new flow, whoever its director is.
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    CHECK(t.node(3).send(syn, kInside).kind == VerdictKind::defer);
    CHECK(t.node(3).find(syn)->owner == 3);
}

TEST_CASE(
    "a director that does not know the flow drops the packet - nobody forwards it a third time") {
    Trio t;
    const uint16_t sport = sportWithDirector(2);
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    const PeerOrigin from3{3, ForwardReason::to_director, 3};
    Verdict v = t.node(2).send(ack, kInside, 1000, Ingress::peer, 3, ForwardReason::to_director);
    CHECK(v.kind == VerdictKind::await_owner);  // its copy may be late: it waits first
    CHECK(t.node(2).count(PipelineCounter::awaiting_replica) == 1);
    v = t.node(2).redecide(ack, kInside, 1500, from3, true);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(t.node(2).count(PipelineCounter::dropped_no_session) == 1);
    // A node whose record names another owner drops what a director passed
    // it (views disagree) instead of passing it on again.
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    t.node(1).send(syn, kInside);
    auto evs = t.node(1).events();
    REQUIRE(evs.size() == 1);
    evs[0].session.backup_owner = 3;  // node 3 holds a copy naming node 1 as owner
    applyUpserts(t.node(3), evs);
    REQUIRE(t.node(3).table.size() == 1);
    v = t.node(3).send(ack, kInside, 1000, Ingress::peer, 2, ForwardReason::via_director);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(t.node(3).count(PipelineCounter::dropped_forward_loop) == 1);
}

TEST_CASE(
    "in a cluster a UDP datagram with no session asks the director: a new flow comes back "
    "to its first node, a reply goes on to the owner") {
    Trio t;
    // A flow whose director is node 2 (the ports decide the hash).
    uint16_t sport = 0;
    for (uint16_t p = 20000; p < 30000 && !sport; ++p) {
        if (directorOf(hashOfFrame(FrameBuilder::udp(kClient, p, kServer, 53).build()), 0b111) == 2)
            sport = p;
    }
    REQUIRE(sport != 0);
    auto query = FrameBuilder::udp(kClient, sport, kServer, 53).build();
    auto answer = FrameBuilder::udp(kServer, 53, kClient, sport).build();

    // Node 1 cannot tell a new flow from a reply: it asks the director.
    Verdict v = t.node(1).send(query, kInside);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 2);
    CHECK(v.reason == ForwardReason::to_director);
    // Nobody owns it: the director hands it back and keeps nothing.
    v = t.node(2).send(query, kInside, 1000, Ingress::peer, 1, ForwardReason::to_director);
    CHECK(v.kind == VerdictKind::to_peer);
    CHECK(v.peer == 1);
    CHECK(v.reason == ForwardReason::director_unknown);
    CHECK(t.node(2).count(PipelineCounter::returned_by_director) == 1);
    CHECK(t.node(2).table.size() == 0);
    // Back at node 1 it is a new flow of node 1's, held for its backup owner.
    v = t.node(1).send(query, kInside, 1000, Ingress::peer, 2, ForwardReason::director_unknown);
    CHECK(v.kind == VerdictKind::defer);
    CHECK(v.port == kOutside);
    REQUIRE(t.node(1).find(query) != nullptr);
    CHECK(t.node(1).find(query)->owner == 1);
    const auto evs = t.node(1).events();
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].session.backup_owner == 2);
    applyUpserts(t.node(2), evs);

    // The answer reaches node 3: through the director to node 1.
    v = t.node(3).send(answer, kOutside);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 2 && v.reason == ForwardReason::to_director));
    v = t.node(2).send(answer, kOutside, 1000, Ingress::peer, 3, ForwardReason::to_director);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 1 && v.reason == ForwardReason::via_director));
    v = t.node(1).send(answer, kOutside, 1000, Ingress::peer, 2, ForwardReason::via_director);
    CHECK((v.kind == VerdictKind::forward && v.port == kInside));
    CHECK(t.node(1).find(query)->state == SessionState::replied);
    CHECK(t.node(3).table.size() == 0);
}

TEST_CASE("the director's own UDP flows are decided where they arrive") {
    Trio t;
    uint16_t sport = 0;
    for (uint16_t p = 20000; p < 30000 && !sport; ++p) {
        if (directorOf(hashOfFrame(FrameBuilder::udp(kClient, p, kServer, 53).build()), 0b111) == 3)
            sport = p;
    }
    REQUIRE(sport != 0);
    auto query = FrameBuilder::udp(kClient, sport, kServer, 53).build();
    CHECK(t.node(3).send(query, kInside).kind == VerdictKind::defer);
    CHECK(t.node(3).count(PipelineCounter::forwarded_to_director) == 0);
}

TEST_CASE(
    "a member that joins becomes the backup owner of the flows it now directs: they are "
    "sent to it, and their old backup owner drops its copy") {
    Member m1(1, true);
    m1.setView(0b011, 0b011);  // node 3 not active yet
    for (uint16_t i = 0; i < 300; ++i) m1.send(synFrom(uint16_t(41000 + i)), kInside);
    (void)m1.events();
    size_t moving = 0;
    m1.table.scan(0, m1.table.capacity(), [&](uint32_t i, const Session& s) {
        CHECK(s.backup_owner == 2);
        moving += backupOwnerOf(m1.table.hashOf(i), 1, 0b111) == 3;
    });
    REQUIRE(moving > 0);
    m1.setView(0b111, 0b111);
    AgentCommand rebalance;
    rebalance.kind = AgentCommandKind::rebalance;
    runJob(m1, rebalance);
    CHECK(m1.count(PipelineCounter::sessions_rebacked) == moving);
    size_t upserts = 0, releases = 0;
    for (const WorkerEvent& ev : m1.events()) {
        if (ev.kind == WorkerEventKind::upsert) {
            ++upserts;
            CHECK(ev.session.backup_owner == 3);
        } else if (ev.kind == WorkerEventKind::release) {
            ++releases;
            CHECK(ev.peer == 2);
        }
    }
    CHECK(upserts == moving);
    CHECK(releases == moving);
    // Nothing more to do the second time.
    runJob(m1, rebalance);
    CHECK(m1.events().empty());
}

TEST_CASE("in a cluster a node keeps only the sessions it owns or backs up") {
    Member m3(3, true);
    m3.setView(0b111, 0b111);
    Member m1(1, true);
    m1.setView(0b111, 0b111);
    m1.send(synFrom(41000), kInside);
    auto evs = m1.events();
    REQUIRE(evs.size() == 1);
    Session rec = evs[0].session;
    rec.backup_owner = 3;
    applyUpserts(m3, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, rec, {}}});
    CHECK(m3.table.size() == 1);
    // The backup moved to node 2: node 3's copy goes.
    rec.backup_owner = 2;
    ++rec.version;
    applyUpserts(m3, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, rec, {}}});
    CHECK(m3.table.size() == 0);
    CHECK(m3.count(PipelineCounter::replicas_not_kept) == 1);
}

TEST_CASE("two claims to one session settle the same way on both claimants") {
    // After a partition two nodes own one session: node 1 opened it, node 2
    // took it over while node 1 seemed dead. Of one version, the claim of
    // the node that opened it wins, on both, whichever record comes first.
    Member m1(1, true), m2(2, true);
    m1.setView(0b111, 0b111);
    m2.setView(0b111, 0b111);
    m1.send(synFrom(41000), kInside);
    auto evs = m1.events();
    REQUIRE(evs.size() == 1);
    const Session mine = evs[0].session;
    Session theirs = mine;
    theirs.owner = 2;
    theirs.backup_owner = 3;
    // Node 2's own claim (as its adoption left it).
    applyUpserts(m2, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, theirs, {}}});
    REQUIRE(m2.find(synFrom(41000))->owner == 2);

    // Node 1 hears node 2's claim: it loses, so node 2 is sent node 1's record.
    applyUpserts(m1, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, theirs, {}}});
    CHECK(m1.find(synFrom(41000))->owner == 1);
    CHECK(m1.count(PipelineCounter::claims_overruled) == 1);
    auto answer = m1.events();
    REQUIRE(answer.size() == 1);
    CHECK(answer[0].kind == WorkerEventKind::upsert);
    CHECK(answer[0].peer == 2);
    // Node 2 takes it: its record names node 1 now.
    applyUpserts(m2, answer);
    CHECK(m2.find(synFrom(41000))->owner == 1);
    CHECK(m2.count(PipelineCounter::sessions_yielded) == 1);

    // A newer claim wins over the origin: node 1 yields to it.
    theirs.version = mine.version + 1;
    applyUpserts(m1, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, theirs, {}}});
    CHECK(m1.find(synFrom(41000))->owner == 2);
    CHECK(m1.count(PipelineCounter::sessions_yielded) == 1);

    // Two nodes that opened one flow at once, each its own origin: the
    // lower node id wins on both (were the origin to decide, each would
    // yield to the other and neither would own it).
    m1.send(synFrom(41001), kInside);
    evs = m1.events();
    REQUIRE(evs.size() == 1);
    Session other = evs[0].session;
    other.owner = other.origin_owner = 2;
    other.backup_owner = 3;
    applyUpserts(m2, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, other, {}}});
    REQUIRE(m2.find(synFrom(41001))->owner == 2);
    applyUpserts(m1, {WorkerEvent{WorkerEventKind::upsert, kNoNode, 0, 0, 0, 0, 0, 0, other, {}}});
    CHECK(m1.find(synFrom(41001))->owner == 1);
    applyUpserts(m2, m1.events());
    CHECK(m2.find(synFrom(41001))->owner == 1);
}

TEST_CASE("in a cluster a session handed back names the backup owner its new owner elects") {
    Member m2(2, true), m3(3, true);
    m2.setView(0b111, 0b111);
    m3.setView(0b111, 0b111);
    for (uint16_t i = 0; i < 100; ++i) m2.send(synFrom(uint16_t(41000 + i)), kInside);
    // Node 3 holds the copies of those node 2 elected it to back up.
    size_t held_by_3 = 0;
    for (const WorkerEvent& ev : m2.events()) {
        if (ev.session.backup_owner != 3) continue;
        applyUpserts(m3, {ev});
        ++held_by_3;
    }
    REQUIRE(m3.table.size() == held_by_3);
    // As if node 2 had adopted them from node 1: node 1 is their origin.
    m2.table.scan(0, m2.table.capacity(),
                  [&](uint32_t i, const Session&) { m2.table.at(i).origin_owner = 1; });
    AgentCommand give;
    give.kind = AgentCommandKind::transfer_owner;
    give.from = 2;
    give.to = 1;
    give.origin = 1;
    runJob(m2, give);
    size_t upserts = 0, backed_by_3 = 0, releases = 0;
    for (const WorkerEvent& ev : m2.events()) {
        if (ev.kind == WorkerEventKind::release) {
            // Node 3 backed it up under node 2 and has no role under node 1:
            // the erase names node 2 as owner, as node 3's copy does, and
            // takes it away there.
            CHECK(ev.peer == 3);
            CHECK(ev.session.owner == 2);
            CHECK(ev.session.backup_owner == 3);
            AgentCommand erase;
            erase.kind = AgentCommandKind::apply_erase;
            erase.session = ev.session;
            m3.pipe->apply(erase, 1000);
            ++releases;
            continue;
        }
        CHECK(ev.session.owner == 1);
        CHECK(ev.session.backup_owner == backupOwnerOf(flowHash(ev.session.key()), 1, 0b111));
        ++upserts;
        backed_by_3 += ev.session.backup_owner == 3;
    }
    CHECK(upserts == 100);
    CHECK(backed_by_3 > 0);  // not always the node that gave it back
    CHECK(releases > 0);
    // Node 3 keeps a copy only where node 1 elects it as backup.
    CHECK(m3.table.size() == held_by_3 - releases);
}

TEST_CASE("a forwarder that was told the owner sends the flow's next packets straight there") {
    Trio t;
    OwnerCache cache(1024);
    // Node 3's pipeline with an owner cache (the dataplane shares one per node).
    PipelineSettings s;
    s.node = 3;
    s.directors = true;
    s.port_count = 2;
    s.ports[0] = {0, 1};
    s.ports[1] = {1, 0};
    s.view = &t.node(3).cell;
    s.owner_cache = &cache;
    SessionTable table(1024, 0);
    Pipeline p3(s, table, webPolicy());
    const uint16_t sport = sportWithDirector(2);
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    auto send3 = [&](std::vector<uint8_t> f) {
        return p3.process(f.data(), uint16_t(f.size()), kInside, 1000);
    };
    Verdict v = send3(ack);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 2 && v.reason == ForwardReason::to_director));
    CHECK(p3.counters().get(PipelineCounter::owner_cache_misses) == 1);
    // The director passes it to node 1 and names node 1 to node 3 ...
    t.node(1).send(FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build(),
                   kInside);
    applyUpserts(t.node(2), t.node(1).events());
    Verdict d = t.node(2).send(ack, kInside, 1000, Ingress::peer, 3, ForwardReason::to_director);
    REQUIRE((d.kind == VerdictKind::to_peer && d.peer == 1));
    CHECK(d.notify == 3);
    CHECK(d.flow_hash == v.flow_hash);
    // ... which remembers it (the dataplane does this with the owner hint).
    cache.learn(d.flow_hash, d.peer, 1000);
    v = send3(ack);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 1 &&
           v.reason == ForwardReason::owner_elsewhere));
    CHECK(p3.counters().get(PipelineCounter::owner_cache_hits) == 1);
    // An owner that may no longer own is not asked: back to the director.
    t.node(3).setView(0b110, 0b110);
    v = send3(ack);
    CHECK(v.peer == directorOf(v.flow_hash, 0b110));
    CHECK(v.reason == ForwardReason::to_director);
}

TEST_CASE(
    "a node a stale cache names as owner passes the packet to the owner it knows and "
    "corrects the sender") {
    Trio t;
    const uint16_t sport = sportWithDirector(3);
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    // Node 2 owned the flow and handed it to node 1 (its record names node 1).
    t.node(1).send(syn, kInside);
    auto evs = t.node(1).events();
    evs[0].session.backup_owner = 2;
    applyUpserts(t.node(2), evs);
    Verdict v =
        t.node(2).send(ack, kInside, 1000, Ingress::peer, 3, ForwardReason::owner_elsewhere);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 1 && v.reason == ForwardReason::via_director));
    CHECK(v.notify == 3);
}

TEST_CASE(
    "a new connection on the ports of a finished one, opened by another node, replaces it "
    "everywhere its packets go") {
    Trio t;
    const uint16_t sport = sportWithDirector(2);
    auto tcp = [&](bool from_client, uint8_t flags, uint32_t seq, uint32_t ack) {
        return from_client
                   ? FrameBuilder::tcp(kClient, sport, kServer, 80, flags).seq(seq).ack(ack).build()
                   : FrameBuilder::tcp(kServer, 80, kClient, sport, flags)
                         .seq(seq)
                         .ack(ack)
                         .build();
    };
    // The old connection: owned by node 3, backed up by node 2, reset.
    t.node(3).send(tcp(true, kTcpSyn, 100, 0), kInside);
    t.node(3).send(tcp(false, kTcpSyn | kTcpAck, 500, 101), kOutside);
    t.node(3).send(tcp(true, kTcpRst, 101, 0), kInside);
    REQUIRE(t.node(3).find(tcp(true, kTcpAck, 0, 0))->state == SessionState::tcp_close);
    applyUpserts(t.node(2), t.node(3).events());
    REQUIRE(t.node(2).find(tcp(true, kTcpAck, 0, 0))->state == SessionState::tcp_close);
    REQUIRE(t.node(2).find(tcp(true, kTcpAck, 0, 0))->version > 1);

    // The client reuses the ports; its SYN goes through node 1.
    Verdict v = t.node(1).send(tcp(true, kTcpSyn, 9000, 0), kInside);
    REQUIRE(v.kind == VerdictKind::defer);
    auto evs = t.node(1).events();
    REQUIRE(evs.size() == 1);
    REQUIRE(evs[0].session.backup_owner == 2);
    applyUpserts(t.node(2), evs);  // version 1 against the old record's higher one
    const Session* at2 = t.node(2).find(tcp(true, kTcpAck, 0, 0));
    REQUIRE(at2 != nullptr);
    CHECK(at2->owner == 1);
    CHECK(at2->state == SessionState::tcp_syn_sent);
    CHECK(t.node(2).count(PipelineCounter::replicas_replaced_finished) == 1);

    // Its SYN-ACK at node 3, which still holds the finished record as owner:
    // not dropped, but sent to the director, which passes it to node 1.
    auto synack = tcp(false, kTcpSyn | kTcpAck, 7000, 9001);
    v = t.node(3).send(synack, kOutside);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 2 && v.reason == ForwardReason::to_director));
    v = t.node(2).send(synack, kOutside, 1000, Ingress::peer, 3, ForwardReason::to_director);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 1));
    v = t.node(1).send(synack, kOutside, 1000, Ingress::peer, 2, ForwardReason::via_director);
    CHECK((v.kind == VerdictKind::forward && v.port == kInside));

    // The same SYN-ACK sent to node 3 by a forwarder whose owner cache still
    // names node 3 for the old connection (node 1 stands in for it here):
    // not dropped either, but passed to the director, and the forwarder is
    // told to send the flow's next packets there.
    v = t.node(3).send(synack, kOutside, 1000, Ingress::peer, 1, ForwardReason::owner_elsewhere);
    CHECK(
        (v.kind == VerdictKind::to_peer && v.peer == 2 && v.reason == ForwardReason::to_director));
    CHECK(v.notify == 1);
    CHECK(t.node(3).count(PipelineCounter::dropped_tcp_out_of_window) == 0);
}

namespace {

// Trio's network: takes a frame where it enters, follows every verdict over
// the peer link (with the sender and reason a peer-link header carries, and
// the node it entered by) until it leaves a port, is dropped, or is held;
// held fragments are tried again after each frame, as the dataplane does.
struct FragmentNet {
    Trio& t;
    struct Held {
        NodeId at;
        std::vector<uint8_t> frame;
        uint16_t port;
        PeerOrigin from;
    };
    struct Left {
        NodeId at;
        uint16_t port;
    };
    std::vector<Held> held;
    std::vector<Left> left;  // every frame that left a port, in order
    uint32_t dropped = 0;

    void follow(NodeId at, std::vector<uint8_t> frame, uint16_t port, PeerOrigin from, Verdict v) {
        for (int hops = 0; hops < 4; ++hops) {
            switch (v.kind) {
                case VerdictKind::forward:
                case VerdictKind::defer:
                    left.push_back({at, v.port});
                    return;
                case VerdictKind::hold:
                    held.push_back({at, frame, port, from});
                    return;
                case VerdictKind::to_peer: {
                    const NodeId entered = from.node == kNoNode ? at : from.entered;
                    from = PeerOrigin{at, v.reason, entered};
                    at = v.peer;
                    auto copy = frame;
                    v = t.node(at).send(copy, port, 1000, Ingress::peer, from.node, from.reason);
                    continue;
                }
                default:
                    ++dropped;
                    return;
            }
        }
        FAIL("more than four peer-link hops");
    }
    void enter(NodeId at, const std::vector<uint8_t>& frame, uint16_t port) {
        follow(at, frame, port, {}, t.node(at).send(frame, port));
        // The backup owners learn new sessions before anything else moves.
        for (Member& m : t.m) {
            const auto evs = m.events();
            for (Member& other : t.m) {
                if (other.id != m.id) applyUpserts(other, evs);
            }
        }
        retryHeld();
    }
    void retryHeld() {
        auto waiting = std::move(held);
        held.clear();
        for (Held& h : waiting) {
            auto copy = h.frame;
            Verdict v = t.node(h.at).pipe->releaseHeldFragment(copy.data(), uint16_t(copy.size()),
                                                               h.port, 1000, h.from);
            follow(h.at, h.frame, h.port, h.from, v);
        }
    }
};

}  // namespace

TEST_CASE(
    "fragments of one datagram that reach different nodes meet at its fragment owner and "
    "leave where the first fragment leaves, in either order and either direction") {
    for (bool v6 : {false, true}) {
        CAPTURE(v6);
        Trio t;
        FragmentNet net{t};
        const char* client = v6 ? "2001:db8:1::10" : kClient;
        const char* server = v6 ? "2001:db8:2::80" : kServer;
        uint32_t datagrams = 0;
        for (uint16_t id = 1; id <= 36; ++id) {
            CAPTURE(id);
            // A DNS-sized exchange on its own ports, in three fragments each
            // way; every fragment enters at another node, the first one
            // first or last.
            const uint16_t sport = uint16_t(20000 + id);
            const bool first_last = id % 2 == 0;
            const NodeId entry = NodeId(1 + id % 3);
            for (bool answer : {false, true}) {
                const char* src = answer ? server : client;
                const char* dst = answer ? client : server;
                const uint16_t sp = answer ? 53 : sport, dp = answer ? sport : 53;
                const uint16_t in = answer ? kOutside : kInside;
                const uint16_t ip_id = uint16_t(answer ? 5000 + id : id);
                std::vector<std::vector<uint8_t>> frags = {
                    FrameBuilder::udp(src, sp, dst, dp)
                        .ipId(ip_id)
                        .fragment(0, true)
                        .payload(1472)
                        .build(),
                    FrameBuilder::udp(src, sp, dst, dp)
                        .ipId(ip_id)
                        .fragment(1480, true)
                        .payload(1472)
                        .build(),
                    FrameBuilder::udp(src, sp, dst, dp)
                        .ipId(ip_id)
                        .fragment(2960, false)
                        .payload(1000)
                        .build(),
                };
                const size_t before = net.left.size();
                const int order[2][3] = {{0, 1, 2}, {1, 2, 0}};
                for (int k = 0; k < 3; ++k) {
                    const int f = order[first_last][k];
                    net.enter(NodeId(1 + (entry + f) % 3), frags[f], in);
                }
                ++datagrams;
                CHECK(net.held.empty());
                REQUIRE(net.left.size() == before + 3);
                for (size_t k = before; k < net.left.size(); ++k) {
                    CHECK(net.left[k].port == (answer ? kInside : kOutside));
                    CHECK(net.left[k].at == net.left[before].at);
                }
            }
        }
        CHECK(net.dropped == 0);
        uint64_t to_owner = 0, held = 0, followed = 0, forwarded = 0;
        for (Member& m : t.m) {
            to_owner += m.count(PipelineCounter::fragments_to_owner);
            held += m.count(PipelineCounter::fragments_held);
            followed += m.count(PipelineCounter::fragments_followed);
            forwarded += m.count(PipelineCounter::fragments_forwarded);
        }
        CHECK(to_owner >= datagrams);       // two of every three fragments entered elsewhere
        CHECK(held > 0);                    // some came before their first fragment
        CHECK(followed > 0);                // some went on after it to the flow's owner
        CHECK(forwarded == 2 * datagrams);  // every later fragment left exactly once
    }
}

TEST_CASE(
    "a later fragment sent on after its first fragment is never sent back where it came "
    "from, and is dropped when its first fragment is not known") {
    Trio t;
    auto later = FrameBuilder::udp(kClient, 20001, kServer, 53)
                     .ipId(7)
                     .fragment(1480, false)
                     .payload(100)
                     .build();
    Verdict v =
        t.node(1).send(later, kInside, 1000, Ingress::peer, 2, ForwardReason::fragment_follows);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(t.node(1).count(PipelineCounter::dropped_fragment_no_head) == 1);
}

namespace {

std::shared_ptr<const Policy> appPolicy(const std::vector<const char*>& texts) {
    std::vector<Rule> rules;
    for (const char* t : texts) {
        RuleError err;
        auto r = parseRule(t, &err);
        REQUIRE(r);
        rules.push_back(*r);
    }
    std::string error;
    auto p = Policy::compile(rules, {"outside", "inside"}, &error);
    REQUIRE(p);
    return p;
}

const std::vector<const char*> kAppRules = {
    "allow name tls-ok from inside to outside app tls sni *.example",
    "allow name web from inside to outside proto tcp dport 80",
};

std::vector<uint8_t> helloSegment(const std::string& name) {
    const auto hello = tandem::test::records(tandem::test::clientHello({{0, name}}), 16384);
    return FrameBuilder::tcp(kClient, 40000, kServer, 80, kTcpAck | kTcpPsh)
        .seq(101)
        .ack(501)
        .data(hello)
        .build();
}

struct AppPair {
    Member a{1, false, appPolicy(kAppRules)}, b{2, false, appPolicy(kAppRules)};
    AppPair() {
        a.setView(0b11, 0b11);
        b.setView(0b11, 0b11);
    }
    uint32_t indexOn(Member& m) {
        PacketInfo info;
        auto f = syn();
        REQUIRE(parseFrame(f.data(), f.size(), {}, info) == ParseResult::ok);
        const FlowKey k = makeFlowKey(info.tuple(0));
        const uint32_t i = m.table.find(k, flowHash(k));
        REQUIRE(i != SessionTable::kNoEntry);
        return i;
    }
};

}  // namespace

TEST_CASE(
    "an identified session's name and decision travel with its replica and survive failover") {
    AppPair p;
    p.a.send(syn(), kInside);
    p.a.send(synAck(), kOutside);
    p.a.send(ack(), kInside);
    CHECK(p.a.send(helloSegment("www.example"), kInside).kind == VerdictKind::forward);
    replicate(p.a, p.b);
    const uint32_t ib = p.indexOn(p.b);
    CHECK(p.b.table.app(ib).status == AppStatus::identified);
    CHECK(p.b.table.appName(ib) == "www.example");
    CHECK(p.b.pipe->policy().rule(p.b.table.at(ib).rule).name == "tls-ok");

    // Node 1 dies: node 2 takes the session over with its application.
    p.b.setView(0b10, 0b10);
    CHECK(p.b.send(reply(), kOutside).kind == VerdictKind::forward);
    CHECK(p.b.table.at(ib).owner == 2);
    CHECK(p.b.table.appName(ib) == "www.example");

    // A reload that no longer allows the name ends exactly that session.
    p.b.pipe->setPolicy(appPolicy({"deny name no-tls from inside to outside app tls sni "
                                   "www.example",
                                   "allow name web from inside to outside proto tcp dport 80"}),
                        true);
    while (p.b.pipe->runJobs(2000, 64)) {
    }
    CHECK(p.b.count(PipelineCounter::sessions_ended_by_policy) == 1);
    CHECK(p.b.table.size() == 0);
}

TEST_CASE("a session whose owner dies before its ClientHello is identified by the new owner") {
    AppPair p;
    p.a.send(syn(), kInside);
    p.a.send(synAck(), kOutside);
    p.a.send(ack(), kInside);
    replicate(p.a, p.b);
    const uint32_t ib = p.indexOn(p.b);
    CHECK(p.b.table.app(ib).status == AppStatus::pending);
    CHECK((p.b.table.at(ib).flags & kSessionAppPending) != 0);

    p.b.setView(0b10, 0b10);
    CHECK(p.b.send(helloSegment("www.example"), kInside).kind == VerdictKind::forward);
    CHECK(p.b.table.at(ib).owner == 2);
    CHECK(p.b.table.app(ib).status == AppStatus::identified);
    CHECK(p.b.table.appName(ib) == "www.example");
    CHECK(p.b.count(PipelineCounter::app_identified_tls) == 1);
}

namespace tandem {

TEST_CASE(
    "a member left: the new director of its flows waits for the owner's session, then passes "
    "the packet on, and with none it decides as before once the change settled") {
    // Node 1 owns the flow; node 3 directs and backs it up, then dies, and
    // node 2 directs it: it holds nothing of it until node 1's rebalance
    // sends it the session.
    Trio t;
    const uint16_t sport = sportWithDirectors(3, 2, 0b011);
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    REQUIRE(t.node(1).send(syn, kInside).kind == VerdictKind::defer);
    auto evs = t.node(1).events();
    REQUIRE(evs.size() == 1);
    CHECK(evs[0].session.backup_owner == 3);
    // Node 2 sees the members as they were (its pipeline starts from there).
    CHECK(t.node(2).send(ack, kInside).peer == 3);

    t.node(2).setView(0b011, 0b011);  // node 3 died
    Verdict v = t.node(2).send(ack, kInside, 1010);
    CHECK(v.kind == VerdictKind::await_owner);
    CHECK(t.node(2).count(PipelineCounter::awaiting_owner) == 1);
    CHECK(t.node(2).table.size() == 0);
    // Asked again before the session came: it waits on (counted once).
    const uint32_t progress = t.node(2).pipe->ownerWaitProgress(1020);
    v = t.node(2).redecide(ack, kInside, 1020);
    CHECK(v.kind == VerdictKind::await_owner);
    CHECK(t.node(2).count(PipelineCounter::awaiting_owner) == 1);
    CHECK(t.node(2).count(PipelineCounter::rx_packets) == 2);  // counted when it came

    // Node 1's rebalance: the session, now backed up by node 2.
    evs[0].session.backup_owner = 2;
    applyUpserts(t.node(2), evs);
    CHECK(t.node(2).pipe->ownerWaitProgress(1030) != progress);
    v = t.node(2).redecide(ack, kInside, 1030);
    CHECK((v.kind == VerdictKind::to_peer && v.peer == 1));
    CHECK(v.reason == ForwardReason::owner_elsewhere);

    // Another flow of the same kind whose session never comes: once the
    // change settled (director_settle_ms, 500 by default) it waits on only
    // as any packet with no session does on the node its copy would reach
    // (a late copy), and is decided as before when its own wait is over: a
    // mid-stream segment nobody has a session for is dropped.
    const uint16_t sport2 = sportWithDirectors(3, 2, 0b011, uint16_t(sport + 1));
    auto lone = FrameBuilder::tcp(kClient, sport2, kServer, 80, kTcpAck).seq(7).ack(9).build();
    CHECK(t.node(2).send(lone, kInside, 1100).kind == VerdictKind::await_owner);
    const uint32_t before_settled = t.node(2).pipe->ownerWaitProgress(1509);
    CHECK(t.node(2).pipe->ownerWaitProgress(1511) != before_settled);  // settled
    v = t.node(2).redecide(lone, kInside, 1511);
    CHECK(v.kind == VerdictKind::await_owner);
    CHECK(t.node(2).count(PipelineCounter::awaiting_owner) == 2);
    CHECK(t.node(2).count(PipelineCounter::awaiting_replica) == 0);  // redecided: not counted
    v = t.node(2).redecide(lone, kInside, 3100, {}, true);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(t.node(2).count(PipelineCounter::dropped_no_session) == 1);
    // After the change settled, a new packet of it waits only for a late
    // copy: its own deadline.
    v = t.node(2).send(lone, kInside, 1520);
    CHECK(v.kind == VerdictKind::await_owner);
    CHECK(v.token == PipelineSettings().replica_wait_ms);
    CHECK(t.node(2).count(PipelineCounter::awaiting_owner) == 2);
    CHECK(t.node(2).count(PipelineCounter::awaiting_replica) == 1);
}

TEST_CASE(
    "a finished connection replaced by a newer one on its ports that another node opened: its "
    "owner tells the old one's backup, and a late end of the old one spares the new") {
    Trio t;
    // Node 1 directs the flow and owns the first connection (its backup:
    // the next pick); the second, on the same ports, enters at the third
    // node, and its backup is node 1, the director.
    const uint16_t sport = sportWithDirector(1);
    auto syn = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(100).build();
    REQUIRE(t.node(1).send(syn, kInside).kind == VerdictKind::defer);
    auto first = t.node(1).events();
    REQUIRE(first.size() == 1);
    const NodeId backup = first[0].session.backup_owner;
    const NodeId other = NodeId(6 - 1 - backup);  // the node that is neither
    REQUIRE((backup == 2 || backup == 3));
    auto rst = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpRst).seq(101).build();
    t.node(1).send(rst, kInside);
    REQUIRE(t.node(1).find(syn)->state == SessionState::tcp_close);
    auto closed = t.node(1).events();
    first.insert(first.end(), closed.begin(), closed.end());
    applyUpserts(t.node(backup), first);
    REQUIRE(t.node(backup).find(syn)->state == SessionState::tcp_close);

    // The new connection: node `other` owns it, node 1 backs it up.
    auto syn2 = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpSyn).seq(9000).build();
    REQUIRE(t.node(other).send(syn2, kInside).kind == VerdictKind::defer);
    const auto second = t.node(other).events();
    REQUIRE(second.size() == 1);
    CHECK(second[0].session.backup_owner == 1);
    applyUpserts(t.node(1), second);
    CHECK(t.node(1).find(syn)->owner == other);
    CHECK(t.node(1).count(PipelineCounter::replicas_replaced_finished) == 1);
    // Node 1 ended its own connection: its backup hears so, as it would
    // when the connection's time was up.
    const auto ended = t.node(1).events();
    REQUIRE(ended.size() == 1);
    CHECK(ended[0].kind == WorkerEventKind::erase);
    CHECK(ended[0].session.owner == 1);
    AgentCommand cmd;
    REQUIRE(test::replicaCommand(ended[0], &cmd));
    t.node(backup).pipe->apply(cmd, 1000);
    CHECK(t.node(backup).find(syn) == nullptr);
    // The same end reaching a node that holds the new connection: ignored.
    t.node(1).pipe->apply(cmd, 1000);
    REQUIRE(t.node(1).find(syn) != nullptr);
    CHECK(t.node(1).find(syn)->owner == other);
}

TEST_CASE(
    "a packet sent as to its director by a node whose view is ahead waits for this node's view "
    "and for the owner's session") {
    Trio t;
    // Director 3 among all, 1 once node 3 is gone; node 2 owns the flow.
    const uint16_t sport = sportWithDirectors(3, 1, 0b011);
    auto ack = FrameBuilder::tcp(kClient, sport, kServer, 80, kTcpAck).seq(101).ack(501).build();
    CHECK(t.node(1).send(ack, kInside).peer == 3);  // node 1 starts from all three
    // Node 2 saw node 3 die first and sends it to node 1 as its director.
    Verdict v = t.node(1).send(ack, kInside, 1010, Ingress::peer, 2, ForwardReason::to_director);
    CHECK(v.kind == VerdictKind::await_owner);
    // Node 1 sees the death: it directs the flow now and still waits.
    t.node(1).setView(0b011, 0b011);
    const PeerOrigin from{2, ForwardReason::to_director, 2};
    v = t.node(1).redecide(ack, kInside, 1020, from);
    CHECK(v.kind == VerdictKind::await_owner);
    // Without a session by the time its wait is over, it is decided as
    // before: the director drops a segment nobody owns.
    v = t.node(1).redecide(ack, kInside, 3010, from, true);
    CHECK(v.kind == VerdictKind::drop);
    CHECK(t.node(1).count(PipelineCounter::awaiting_owner) == 1);
    CHECK(t.node(1).count(PipelineCounter::dropped_no_session) == 1);
}

}  // namespace tandem
