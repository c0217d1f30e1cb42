// The agent's gatekeeping and reporting: what it refuses (and counts), and
// the status snapshot the CLI renders.
#include "ha/ha_agent.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "core/log.h"
#include "ha_test_util.h"

namespace tandem {
namespace {

using test::ClusterOptions;
using test::makeSession;
using test::TestCluster;

uint64_t counter(TestCluster& c, NodeId id, HaCounter k) {
    return c.node(id).agent->counters().get(k);
}

void pairUp(TestCluster& c) {
    c.startAll();
    REQUIRE(c.runUntil(
        [&] { return canOwnSessions(c.node(1).state()) && canOwnSessions(c.node(2).state()); },
        3000));
}

TransportEvent forged(NodeId claimed, NodeId authenticated, const HaEnvelope& e, const HaBody& b) {
    TransportEvent ev;
    ev.peer = claimed;
    ev.channel = HaChannel::sync;
    ev.authenticated = authenticated;
    ev.bytes = encodeHaMessage(e, b);
    return ev;
}

HaEnvelope envelope(NodeId from, NodeId to, uint32_t cluster = 7) {
    HaEnvelope e;
    e.cluster_id = cluster;
    e.from = from;
    e.to = to;
    return e;
}

HaSessionBatch batchOf(uint32_t i, NodeId owner) {
    HaSessionBatch b;
    b.stream = 99;
    b.seq = 1;
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, makeSession(i, owner, 1, 0), 0));
    return b;
}

TEST_CASE("messages from unconfigured nodes, other clusters and garbage are dropped and counted") {
    TestCluster c({1, 2});
    pairUp(c);
    const size_t before = c.node(1).sessions();
    c.net.inject(1, forged(5, 5, envelope(5, 1), batchOf(1, 5)));
    c.net.inject(1, forged(2, 2, envelope(2, 1, 8), batchOf(2, 2)));
    TransportEvent junk;
    junk.peer = 2;
    junk.authenticated = 2;
    junk.bytes = "\x85\x00\x01";
    c.net.inject(1, junk);
    c.run(2);
    CHECK(counter(c, 1, HaCounter::unknown_peer) == 1);
    CHECK(c.node(1).agent->decodeCount(HaDecodeResult::wrong_cluster) == 1);
    CHECK(c.node(1).agent->decodeCount(HaDecodeResult::truncated) == 1);
    CHECK(counter(c, 1, HaCounter::decode_rejected) == 2);
    CHECK(c.node(1).sessions() == before);
    CHECK(canOwnSessions(c.node(1).state()));
}

TEST_CASE("a peer claiming another node's id is refused, whatever it sends") {
    TestCluster c({1, 2, 3});
    c.startAll();
    REQUIRE(c.runUntil([&] { return canOwnSessions(c.node(1).state()); }, 3000));
    // Node 3's key, but the message says node 2.
    c.net.inject(1, forged(2, 3, envelope(2, 1), batchOf(1, 2)));
    HaHello h;
    h.node = 2;
    h.incarnation = 5;
    c.net.inject(1, forged(3, 3, envelope(2, 1), h));  // connection says 3, envelope 2
    c.run(2);
    CHECK(counter(c, 1, HaCounter::auth_id_mismatch) == 1);
    CHECK(counter(c, 1, HaCounter::identity_mismatch) == 1);
    CHECK_FALSE(c.node(1).find(makeSession(1, 2, 1, 0).key()));
}

// Collects what is written to stderr (where log lines go) while it lives.
struct StderrCapture {
    FILE* file = std::tmpfile();
    int saved = ::dup(2);
    StderrCapture() { ::dup2(::fileno(file), 2); }
    std::string take() {
        ::dup2(saved, 2);
        std::string out;
        std::rewind(file);
        for (int ch; (ch = std::fgetc(file)) != EOF;) out += char(ch);
        return out;
    }
    ~StderrCapture() {
        ::dup2(saved, 2);
        ::close(saved);
        std::fclose(file);
    }
};

size_t occurrences(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST_CASE(
    "a peer that keeps claiming another node's id is logged once per interval, counted always") {
    TestCluster c({1, 2, 3});
    c.startAll();
    REQUIRE(c.runUntil([&] { return canOwnSessions(c.node(1).state()); }, 3000));
    const LogLevel level = logLevel("ha");
    setLogLevel("ha", LogLevel::warn);
    StderrCapture capture;
    for (int i = 0; i < 100; ++i) c.net.inject(1, forged(2, 3, envelope(2, 1), batchOf(1, 2)));
    c.run(2);
    c.run(10000);
    c.net.inject(1, forged(2, 3, envelope(2, 1), batchOf(1, 2)));
    c.run(2);
    const std::string log = capture.take();
    setLogLevel("ha", level);
    CHECK(counter(c, 1, HaCounter::auth_id_mismatch) == 101);
    CHECK(occurrences(log, "claims to be from node 2 but its key is node 3's") == 2);
    CHECK(occurrences(log, "auth_id_mismatch: 101 so far") == 1);
}

TEST_CASE("sync messages from a peer that has not passed the pre-flight check are dropped") {
    TestCluster c({1, 2});
    c.start(1);
    c.run(10);
    c.net.inject(1, forged(2, 2, envelope(2, 1), batchOf(1, 2)));
    c.run(2);
    CHECK(counter(c, 1, HaCounter::unpaired_drop) == 1);
    CHECK(c.node(1).sessions() == 0);
}

TEST_CASE("a peer speaking another protocol version is counted by name") {
    TestCluster c({1, 2});
    c.start(1);
    HaEnvelope e = envelope(2, 1);
    e.version = 9;
    HaHeartbeat hb;
    hb.incarnation = 1;
    c.net.inject(1, forged(2, 2, e, hb));
    c.run(2);
    CHECK(c.node(1).agent->decodeCount(HaDecodeResult::wrong_version) == 1);
    CHECK(counter(c, 1, HaCounter::wrong_version_rx) == 1);
}

TEST_CASE("the status snapshot renders as JSON with every documented field") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(50);  // node 1 hears node 2 is active
    c.node(1).worker().upsert(makeSession(1, 1, 2, c.clock.nowMs()));
    c.run(20);
    const nlohmann::json j = c.node(1).agent->statusJson();
    CHECK(j["local"]["id"] == 1);
    CHECK(j["local"]["name"] == "node1");
    CHECK(j["local"]["state"] == "active-primary");
    CHECK(j["local"]["priority"] == 10);
    CHECK(j["local"]["last_transition"]["to"] == "active-primary");
    CHECK(j["local"]["last_transition"]["cause"].is_string());
    CHECK(j["local"]["last_transition"]["ago_ms"].is_number());
    REQUIRE(j["peers"].size() == 1);
    const auto& p = j["peers"][0];
    CHECK(p["id"] == 2);
    CHECK(p["state"] == "active-secondary");
    CHECK(p["alive"] == true);
    CHECK(p["control_link"] == true);
    CHECK(p["peer_link"] == true);
    CHECK(p["last_heard_ms"].get<int64_t>() <= 25);
    CHECK(p["priority"] == 20);
    CHECK(j["session_owner"] == "first-packet");
    CHECK(j["revert"] == true);
    CHECK(j["preempt"] == false);
    CHECK(j["timers"]["heartbeat_interval_ms"] == 25);
    CHECK(j["timers"]["hold_time_ms"] == 100);
    REQUIRE(j["sync"].size() == 1);
    CHECK(j["sync"][0]["peer"] == 2);
    CHECK(j["sync"][0]["tx_seq"].get<uint64_t>() >= 3);
    CHECK(j["sync"][0]["acked_seq"] == j["sync"][0]["tx_seq"]);
    CHECK(j["sync"][0]["lag_ms"] == 0);
    CHECK(j["sync"][0]["bulk"]["out_state"] == "sent");
    CHECK(j["counters"]["records_tx"] == 1);
    CHECK(j["counters"].size() == kHaCounterCount);
    CHECK(j["decode_counters"].contains("truncated"));
    CHECK(j["transport_counters"].contains("sent"));
    CHECK(j["view"]["owners"] == nlohmann::json::array({1, 2}));
}

TEST_CASE("operator commands answer at once and take effect at the next step") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(10);
    CHECK(c.node(1).agent->functional().message == "not suspended: nothing to do");
    CHECK(c.node(1).agent->suspend().message == "suspending: sessions go to their backup owners");
    CHECK(canOwnSessions(c.node(1).state()));  // not yet
    c.stepAll();
    CHECK(c.node(1).state() == NodeState::suspended);
    CHECK(c.node(1).agent->suspend().message == "already suspended");
    // A resync asks the peer for a bulk sync, which it then starts.
    const uint64_t asked = counter(c, 1, HaCounter::resync_requests_tx);
    const uint64_t bulks = counter(c, 2, HaCounter::bulk_started);
    CHECK(c.node(1).agent->requestResync().message ==
          "asking every live peer for a full bulk sync");
    CHECK(counter(c, 1, HaCounter::resync_requests_tx) == asked);  // not yet
    c.stepAll();
    CHECK(counter(c, 1, HaCounter::resync_requests_tx) == asked + 1);
    c.run(20);
    CHECK(counter(c, 2, HaCounter::resync_requests_rx) == 1);
    CHECK(counter(c, 2, HaCounter::bulk_started) == bulks + 1);
}

TEST_CASE("a standalone node without peers is active at once") {
    TestCluster c({1});
    c.start(1);
    c.run(1);
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(1).clusterView().owners == nodeBit(1));
    CHECK(c.node(1).clusterView().primary == 1);
}

TEST_CASE("NAT: a peer dead for reassign-after-s lends its port blocks, and gets them back") {
    ClusterOptions o;
    o.tweak = [](Config& cfg) {
        NatPool pool;
        pool.name = "public";
        pool.spec.first_addr = pool.spec.last_addr = 0xc6336400;
        cfg.nat.pools = {pool};
        cfg.nat.reassign_after_s = 2;
    };
    TestCluster c({1, 2}, o);
    pairUp(c);
    test::FakeWorker& w = c.node(1).worker();
    c.run(100);
    CHECK(w.nat_departed.empty());  // both alive: nothing to say
    c.crash(2);
    c.run(1500);  // dead, for less than reassign-after-s
    CHECK(w.nat_departed.empty());
    c.run(1000);
    REQUIRE(w.nat_departed.size() == 1);
    CHECK(w.nat_departed[0] == 0b10);
    c.start(2);
    REQUIRE(c.runUntil([&] { return w.nat_departed.size() == 2; }, 3000));
    CHECK(w.nat_departed[1] == 0);  // back: its blocks are its own again
    c.run(3000);
    CHECK(w.nat_departed.size() == 2);  // said once
}

TEST_CASE("the agent thread runs step on its own and stops cleanly") {
    MonotonicClock clock;
    FakeNetwork net(clock);
    FakeTransport& t = net.attach(1);
    ClusterViewCell cell;
    WorkerChannel w(64, 64);
    w.polled_ms = 1;  // a worker that runs
    HaAgent agent(test::makeConfig(1, {1}), clock, t, {&w}, cell);
    agent.start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (agent.state() != NodeState::active_primary &&
           std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    agent.stop();
    agent.stop();
    CHECK(agent.state() == NodeState::active_primary);
    CHECK(cell.load().self == 1);
}

}  // namespace
}  // namespace tandem
