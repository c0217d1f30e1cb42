// Translation with several workers: a node's workers are pipelines of their
// own, each with its own session table, and the test plays the dataplane
// (each frame goes to the worker Pipeline::workerFor names) and, in a pair,
// the HA agent (a replica goes to the worker flowWorker names for its flow,
// as ha/replication.cpp routes it). A translated session's replies carry
// the translated tuple, so they meet their session only because each worker
// hands out the ports of its own blocks and steering follows the blocks.
#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "fixtures/nat_pipelines.h"
#include "fixtures/replay_events.h"
#include "pipeline/pipeline.h"

using namespace tandem;

namespace {

constexpr uint16_t kOutside = test::kNatOutside, kInside = test::kNatInside;
constexpr uint32_t kWorkers = 2;
const char* kServer = "192.0.2.80";
const char* kPool = "198.51.100.10";
const char* kPublic = "198.51.100.20";  // a port forward's public address
const char* kTarget = "10.0.5.20";      // ... and its target

using Bytes = std::vector<uint8_t>;

NatSetup natFor(uint16_t members) {
    return test::natSetupOf(
        "public 198.51.100.10 ports 20000-21023 block-size 64",
        {"dnat from outside dst 198.51.100.20 proto tcp dport 443 to 10.0.5.20:8443",
         "snat from inside to outside pool public"},
        members);
}

// One node: kWorkers pipelines, a table each.
struct Node {
    NodeId id;
    WorkerMap map;
    NatSetup nat;
    ClusterViewCell cell;
    std::vector<std::unique_ptr<WorkerChannel>> channels;
    std::vector<std::unique_ptr<SessionTable>> tables;
    std::vector<std::unique_ptr<Pipeline>> pipes;

    Node(NodeId n, WorkerMap m, uint16_t members) : id(n), map(m), nat(natFor(members)) {
        RuleError err;
        std::string error;
        auto policy = Policy::compile({*parseRule("allow from inside to outside", &err),
                                       *parseRule("allow from outside to inside", &err)},
                                      {"outside", "inside"}, &error);
        REQUIRE(policy);
        const bool pair = members != nodeBit(n);
        for (uint32_t w = 0; w < kWorkers; ++w) {
            channels.push_back(std::make_unique<WorkerChannel>(4096, 1024));
            tables.push_back(std::make_unique<SessionTable>(2048, 0));
            PipelineSettings s;
            s.node = n;
            s.worker = uint16_t(w);
            s.workers = kWorkers;
            s.port_count = 2;
            s.ports[kOutside] = {kOutside, kInside};
            s.ports[kInside] = {kInside, kOutside};
            s.nat = &nat;
            if (pair) {
                s.view = &cell;
                s.events = &channels[w]->to_agent;
            }
            pipes.push_back(std::make_unique<Pipeline>(s, *tables[w], policy));
        }
        if (pair) setView(members);
    }
    void setView(uint16_t alive) { test::publishAlive(cell, id, alive); }
    // The worker the dataplane hands `f` to (any worker's workerFor answers
    // alike: it asks from worker 0).
    uint32_t steer(const Bytes& f) {
        return pipes[0]->workerFor(f.data(), uint16_t(f.size()), map, 0, 1000);
    }
    // `f` steered and decided; *worker: where.
    Verdict send(Bytes& f, uint16_t port, uint32_t* worker, Ingress ingress = Ingress::port,
                 NodeId sender = kNoNode) {
        *worker = steer(f);
        return pipes[*worker]->process(
            f.data(), uint16_t(f.size()), port, 1000, ingress, sender,
            ingress == Ingress::peer ? ForwardReason::owner_elsewhere : ForwardReason::none);
    }
    uint64_t count(PipelineCounter c) const {
        uint64_t n = 0;
        for (const auto& p : pipes) n += p->counters().get(c);
        return n;
    }
};

// `from`'s session events applied on `to`, each to the worker the HA agent
// routes its flow to.
void replicate(Node& from, Node& to) {
    for (auto& ch : from.channels) {
        WorkerEvent ev;
        AgentCommand cmd;
        while (ch->to_agent.pop(&ev)) {
            if (!test::replicaCommand(ev, &cmd)) continue;
            const FlowKey key = cmd.session.key();
            to.pipes[flowWorker(to.map, &to.nat, key, flowHash(key))]->apply(cmd, 1000);
        }
    }
}

Bytes tcp(const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
          uint8_t flags, uint32_t seq, uint32_t ack) {
    return test::tcpFrame(src, sport, dst, dport, flags, seq, ack);
}

PacketInfo parsed(const Bytes& f) {
    return test::parsedFrame(f);
}

std::string clientOf(uint32_t i) {
    return "10.0.1." + std::to_string(10 + i % 50);
}

uint32_t blockWorker(uint16_t port, uint16_t members) {
    const NatSetup nat = natFor(members);
    const PortBlockMap map(nat.pools[0].spec, members);
    return natBlockWorker(*map.blockOf(parseIpAddr(kPool)->v4(), port), map.memberCount(),
                          kWorkers);
}

}  // namespace

TEST_CASE("several workers translate without sharing a port, and replies find their worker") {
    WorkerMap map = WorkerMap::software(kWorkers);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(kWorkers, 128);
    }
    Node node(1, map, nodeBit(1));
    std::set<uint16_t> ports;
    uint32_t per_worker[kWorkers] = {};
    for (uint32_t i = 0; i < 300; ++i) {
        const std::string client = clientOf(i);
        const uint16_t cport = uint16_t(40000 + i * 7);
        Bytes syn = tcp(client, cport, kServer, 443, kTcpSyn, 100, 0);
        uint32_t w = 0;
        REQUIRE(node.send(syn, kInside, &w).kind == VerdictKind::forward);
        const PacketInfo out = parsed(syn);
        REQUIRE(out.src == *parseIpAddr(kPool));
        CHECK(blockWorker(out.sport, nodeBit(1)) == w);  // from its worker's own blocks
        CHECK(ports.insert(out.sport).second);           // no port twice
        ++per_worker[w];
        // The server's answer, to the translated port, reaches that worker
        // and is put back to the client.
        Bytes synack = tcp(kServer, 443, kPool, out.sport, kTcpSyn | kTcpAck, 900, 101);
        uint32_t back = 0;
        CHECK(node.send(synack, kOutside, &back).kind == VerdictKind::forward);
        CHECK(back == w);
        CHECK(parsed(synack).dst == *parseIpAddr(client));
        CHECK(parsed(synack).dport == cport);
    }
    CHECK(node.count(PipelineCounter::nat_replies_translated) == 300);
    CHECK(node.count(PipelineCounter::nat_no_translation) == 0);
    for (uint32_t w = 0; w < kWorkers; ++w) CHECK(per_worker[w] > 60);
}

TEST_CASE("a port forward's replies reach the worker its client's packets did") {
    WorkerMap map = WorkerMap::software(kWorkers);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(kWorkers, 128);
    }
    Node node(1, map, nodeBit(1));
    uint32_t per_worker[kWorkers] = {};
    for (uint32_t i = 0; i < 200; ++i) {
        const std::string client = "203.0.113." + std::to_string(1 + i % 100);
        const uint16_t cport = uint16_t(50000 + i * 11);
        Bytes syn = tcp(client, cport, kPublic, 443, kTcpSyn, 100, 0);
        uint32_t w = 0;
        REQUIRE(node.send(syn, kOutside, &w).kind == VerdictKind::forward);
        REQUIRE(parsed(syn).dst == *parseIpAddr(kTarget));
        ++per_worker[w];
        Bytes synack = tcp(kTarget, 8443, client, cport, kTcpSyn | kTcpAck, 900, 101);
        uint32_t back = 0;
        CHECK(node.send(synack, kInside, &back).kind == VerdictKind::forward);
        CHECK(back == w);
        CHECK(parsed(synack).src == *parseIpAddr(kPublic));
        CHECK(parsed(synack).sport == 443);
    }
    CHECK(node.count(PipelineCounter::nat_replies_translated) == 200);
    for (uint32_t w = 0; w < kWorkers; ++w) CHECK(per_worker[w] > 40);
}

TEST_CASE("in a pair of two-worker nodes a reply through the other node meets the replica") {
    WorkerMap map = WorkerMap::software(kWorkers);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(kWorkers, 128);
    }
    Node a(1, map, 0b11), b(2, map, 0b11);
    std::vector<std::pair<uint16_t, uint16_t>> conns;  // client port, translated port
    for (uint32_t i = 0; i < 100; ++i) {
        const uint16_t cport = uint16_t(40000 + i * 7);
        Bytes syn = tcp(clientOf(i), cport, kServer, 443, kTcpSyn, 100, 0);
        uint32_t w = 0;
        REQUIRE(a.send(syn, kInside, &w).kind == VerdictKind::defer);
        replicate(a, b);
        const uint16_t port = parsed(syn).sport;
        CHECK(blockWorker(port, 0b11) == w);
        // The SYN-ACK comes back through node 2.
        Bytes synack = tcp(kServer, 443, kPool, port, kTcpSyn | kTcpAck, 900, 101);
        uint32_t at_b = 0;
        const Verdict v = b.send(synack, kOutside, &at_b);
        CHECK(v.kind == VerdictKind::to_peer);
        CHECK(v.peer == 1);
        CHECK(at_b == w);
        CHECK(parsed(synack).dst == *parseIpAddr(clientOf(i)));
        uint32_t at_a = 0;
        CHECK(a.send(synack, kOutside, &at_a, Ingress::peer, 2).kind == VerdictKind::forward);
        CHECK(at_a == w);
        conns.emplace_back(cport, port);
    }
    CHECK(b.count(PipelineCounter::nat_replies_translated) == 100);
    CHECK(b.count(PipelineCounter::nat_replies_to_port_owner) == 0);
    replicate(a, b);  // the handshake's progress
    // Node 1 dies: node 2 translates both ways as node 1 did.
    b.setView(nodeBit(2));
    for (uint32_t i = 0; i < conns.size(); ++i) {
        const auto [cport, port] = conns[i];
        Bytes ack = tcp(clientOf(i), cport, kServer, 443, kTcpAck, 101, 901);
        uint32_t w = 0;
        REQUIRE(b.send(ack, kInside, &w).kind == VerdictKind::forward);
        CHECK(parsed(ack).sport == port);
        Bytes data = tcp(kServer, 443, kPool, port, kTcpAck | kTcpPsh, 901, 101);
        uint32_t back = 0;
        CHECK(b.send(data, kOutside, &back).kind == VerdictKind::forward);
        CHECK(back == w);
        CHECK(parsed(data).dport == cport);
    }
    CHECK(b.count(PipelineCounter::sessions_adopted) == 100);
}
