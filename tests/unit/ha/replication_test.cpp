// Replication over the fake network: records reach the peer's workers,
// acknowledgements release deferred packets, losses are repaired, gaps the
// window cannot cover and restarts end in a bulk sync, and revert / suspend
// move ownership through the workers.
#include "ha/replication.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "cluster/election.h"
#include "ha_test_util.h"

namespace tandem {
namespace {

using test::ClusterOptions;
using test::makeSession;
using test::TestCluster;

uint64_t counter(TestCluster& c, NodeId id, HaCounter k) {
    return c.node(id).agent->counters().get(k);
}

bool active(NodeState s) {
    return canOwnSessions(s);
}

void pairUp(TestCluster& c) {
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(1).state()) && active(c.node(2).state()); }, 3000));
}

HaMessageType typeOf(std::string_view bytes) {
    HaMessage m;
    // Decoded from the receiver's side of the envelope we cannot know here;
    // peek at the type by trying both directions.
    for (NodeId to : {NodeId(1), NodeId(2), NodeId(3)}) {
        if (decodeHaMessage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                            HaDecodeExpect{7, to}, &m) == HaDecodeResult::ok)
            return m.envelope.type;
    }
    return HaMessageType(0);
}

TEST_CASE("session changes reach the peer's worker with the expiry on the peer's clock") {
    TestCluster c({1, 2});
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 1000; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(10);
    REQUIRE(c.node(2).sessions() == 1000);
    const Session* r = c.node(2).find(makeSession(7, 1, 2, now).key());
    REQUIRE(r);
    CHECK(r->owner == 1);
    CHECK(r->backup_owner == 2);
    CHECK(r->packets(0) == 7);
    CHECK((r->flags & kSessionReplicated));
    CHECK(r->expires_ms == now + 60000);  // one clock in this test: same instant
    CHECK(counter(c, 2, HaCounter::records_rx) >= 1000);
    CHECK(counter(c, 1, HaCounter::acks_rx) > 0);
    const HaStatus s = c.node(1).agent->status();
    REQUIRE(s.sync.size() == 1);
    CHECK(s.sync[0].acked_seq == s.sync[0].tx_seq);
    CHECK(s.sync[0].lag_us == 0);
}

TEST_CASE("an erase removes the replica") {
    TestCluster c({1, 2});
    pairUp(c);
    const Session s = makeSession(1, 1, 2, c.clock.nowMs());
    c.node(1).worker().upsert(s);
    c.run(5);
    REQUIRE(c.node(2).find(s.key()));
    c.node(1).worker().erase(s.key());
    c.run(5);
    CHECK_FALSE(c.node(2).find(s.key()));
    CHECK(c.node(2).worker().applied_erases == 1);
}

TEST_CASE("records out of range from a peer are dropped and counted, the rest installed") {
    // A window scale over 14 is shifted by after a takeover; a state of
    // none leaves an entry that lookups find and listings, clear, bulk sync
    // and transfer skip; a key with its endpoints swapped is one no packet
    // ever looks up.
    TestCluster c({1, 2});
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 10; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    Session wide = makeSession(20, 1, 2, now);
    wide.win[1].wscale = 200;
    Session stateless = makeSession(21, 1, 2, now);
    stateless.state = SessionState::none;
    Session swapped = makeSession(22, 1, 2, now);
    FlowKey k = swapped.key();
    std::swap(k.lo, k.hi);
    std::swap(k.lo_port, k.hi_port);
    swapped.setKey(k);
    for (const Session& s : {wide, stateless, swapped}) c.node(1).worker().upsert(s);
    c.run(10);
    CHECK(c.node(2).sessions() == 10);
    CHECK_FALSE(c.node(2).find(wide.key()));
    CHECK_FALSE(c.node(2).find(stateless.key()));
    CHECK_FALSE(c.node(2).find(swapped.key()));
    CHECK(counter(c, 2, HaCounter::records_rejected) == 3);
    CHECK(counter(c, 2, HaCounter::records_rx) == 10);
}

TEST_CASE("records go to the worker that owns the flow") {
    ClusterOptions o;
    o.workers = 4;
    // The map the receiving node's dataplane steers by: the flow hash's
    // (none given), or its devices' (rss: the symmetric Toeplitz hash over
    // a redirection table).
    WorkerMap map = WorkerMap::software(4);
    SUBCASE("software steering") {}
    SUBCASE("rss steering") {
        map = WorkerMap::rss(4, 128);
        o.agent.replication.worker_map = map;
    }
    TestCluster c({1, 2}, o);
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    // Flows that differ in both addresses and the client port: the
    // symmetric key hashes the XOR of the tuple's 16-bit words, so flows
    // that differ only where those cancel (makeSession(i) for small i moves
    // an address and the port alike) would share a worker.
    for (uint32_t i = 0; i < 400; ++i) {
        c.node(1).worker(i % 4).upsert(makeSession(i * 65537, 1, 2, now));
    }
    c.run(10);
    REQUIRE(c.node(2).sessions() == 400);
    for (size_t w = 0; w < 4; ++w) {
        CHECK(c.node(2).worker(w).table.size() > 50);
        for (const auto& [key, s] : c.node(2).worker(w).table) CHECK(map.workerOf(key) == w);
    }
}

TEST_CASE("records of flows to pool ports go to the worker of the port's block") {
    // With translation a flow's worker is not the plain map's where an
    // endpoint is a pool port (nat/nat_steering.h): a replica must be where
    // the translated packets are steered.
    NatTextError e;
    NatSetup nat;
    nat.pools = {*parseNatPool("public 192.168.0.0-192.168.3.255 ports 400-463 block-size 8", &e)};
    nat.members = 0b11;
    nat.rules = NatRules::compile({}, nat.pools, {}, nullptr);
    REQUIRE(nat.rules);
    ClusterOptions o;
    o.workers = 4;
    o.agent.replication.nat = &nat;
    TestCluster c({1, 2}, o);
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    // makeSession(i * 65537)'s server is 192.168.(i div 256).(i mod 256):443,
    // a pool port.
    const PortBlockMap blocks(nat.pools[0].spec, 0b11);
    size_t moved = 0;
    for (uint32_t i = 0; i < 400; ++i) {
        const Session s = makeSession(i * 65537, 1, 2, now);
        const FlowKey k = s.key();
        const uint32_t b = *blocks.blockOf(k.hi.v4(), 443);
        if (natBlockWorker(b, 2, 4) != WorkerMap::software(4).workerOf(k)) ++moved;
        c.node(1).worker(i % 4).upsert(s);
    }
    REQUIRE(moved > 100);  // the plain map would put these elsewhere
    c.run(10);
    REQUIRE(c.node(2).sessions() == 400);
    for (size_t w = 0; w < 4; ++w) {
        for (const auto& [key, s] : c.node(2).worker(w).table) {
            CHECK(natBlockWorker(*blocks.blockOf(key.hi.v4(), 443), 2, 4) == w);
        }
    }
}

TEST_CASE("replication refuses a worker map of another worker count") {
    ClusterOptions o;
    o.workers = 2;
    o.agent.replication.worker_map = WorkerMap::rss(4, 128);
    TestCluster c({1, 2}, o);
    CHECK_THROWS_AS(c.start(1), std::invalid_argument);
}

TEST_CASE("an acknowledgement releases the deferred first packet to the worker that held it") {
    ClusterOptions o;
    o.workers = 2;
    TestCluster c({1, 2}, o);
    pairUp(c);
    c.net.setDefaultRules({0, 0, 200, 0});  // 0.2 ms each way
    c.node(1).worker(1).upsert(makeSession(1, 1, 2, c.clock.nowMs()), 77);
    for (int i = 0; i < 3; ++i) {  // the batch leaves, and is 0.2 ms on its way
        c.clock.advanceUs(100);
        c.stepAll();
        CHECK(c.node(1).worker(1).released.empty());  // not before the peer acknowledged
    }
    REQUIRE(c.runUntil([&] { return !c.node(1).worker(1).released.empty(); }, 5, 100));
    CHECK(c.node(1).worker(1).released == std::vector<uint32_t>{77});
    CHECK(c.node(1).worker(0).released.empty());
    CHECK(counter(c, 1, HaCounter::defer_released) == 1);
    CHECK(counter(c, 1, HaCounter::defer_timeouts) == 0);
    CHECK(c.node(2).find(makeSession(1, 1, 2, 0).key()));
}

TEST_CASE(
    "in a cluster a session goes to its backup owner only, and its deferred packet waits "
    "for that node's acknowledgement") {
    TestCluster c({1, 2, 3});
    REQUIRE(c.startAllActive(3000));
    c.run(50);
    const uint64_t records_before = counter(c, 1, HaCounter::records_tx);
    c.net.setRules(1, 3, {0, 0, 3000, 0});  // node 3 answers only after 3 ms
    c.node(1).worker().upsert(makeSession(1, 1, 3, c.clock.nowMs()), 11);
    c.run(2);
    CHECK(c.node(1).worker().released.empty());  // node 3, the backup owner, has not acked yet
    REQUIRE(c.runUntil([&] { return !c.node(1).worker().released.empty(); }, 10));
    CHECK(c.node(3).find(makeSession(1, 1, 3, 0).key()));
    CHECK_FALSE(c.node(2).find(makeSession(1, 1, 3, 0).key()));  // not a member of this session
    CHECK(counter(c, 1, HaCounter::records_tx) - records_before == 1);
    CHECK(counter(c, 1, HaCounter::defer_released) == 1);
    CHECK(counter(c, 1, HaCounter::defer_timeouts) == 0);
}

TEST_CASE("records per new session do not grow with the cluster: one to the backup owner") {
    for (const NodeId n : {NodeId(3), NodeId(4), NodeId(8)}) {
        CAPTURE(n);
        std::vector<NodeId> ids;
        for (NodeId i = 1; i <= n; ++i) ids.push_back(i);
        TestCluster c(ids);
        c.startAll();
        REQUIRE(c.runUntil(
            [&] {
                for (NodeId i : ids)
                    if (!active(c.node(i).state())) return false;
                return true;
            },
            5000));
        c.run(50);
        const uint64_t before = counter(c, 1, HaCounter::records_tx);
        const uint16_t owners = uint16_t((1u << n) - 1);
        for (uint32_t i = 0; i < 200; ++i) {
            Session s = makeSession(i, 1, kNoNode, c.clock.nowMs());
            s.backup_owner = backupOwnerOf(flowHash(s.key()), 1, owners);
            c.node(1).worker().upsert(s);
        }
        c.run(20);
        CHECK(counter(c, 1, HaCounter::records_tx) - before == 200);
        size_t held = 0;
        for (NodeId i = 2; i <= n; ++i) held += c.node(i).sessions();
        CHECK(held == 200);  // each on its backup owner, nowhere else
    }
}

TEST_CASE("a release tells the old backup owner alone to drop its copy") {
    TestCluster c({1, 2, 3});
    REQUIRE(c.startAllActive(3000));
    c.run(50);
    Session s = makeSession(7, 1, 2, c.clock.nowMs());
    c.node(1).worker().upsert(s);
    c.run(10);
    REQUIRE(c.node(2).find(s.key()));
    // The backup moves to node 3: the new record goes there, a release to 2.
    s.backup_owner = 3;
    ++s.version;
    c.node(1).worker().upsert(s);
    WorkerEvent release;
    release.kind = WorkerEventKind::release;
    release.peer = 2;
    release.session = s;
    c.node(1).worker().channel.to_agent.push(release);
    c.run(10);
    CHECK(c.node(3).find(s.key()));
    CHECK_FALSE(c.node(2).find(s.key()));
}

TEST_CASE("the replica is in the worker's ring before the acknowledgement leaves") {
    TestCluster c({1, 2});
    pairUp(c);
    bool checked = false, in_ring = true;
    c.net.setFilter([&](NodeId from, NodeId, HaChannel, std::string_view bytes) {
        if (from == 2 && typeOf(bytes) == HaMessageType::ack) {
            checked = true;
            in_ring &= c.node(2).worker().channel.to_worker.size() > 0 || c.node(2).sessions() > 0;
        }
        return false;
    });
    c.node(1).worker().upsert(makeSession(1, 1, 2, c.clock.nowMs()), 5);
    c.run(3);
    CHECK(checked);
    CHECK(in_ring);
}

TEST_CASE("a long burst is acknowledged every few messages, not once when it is all applied") {
    ClusterOptions o;
    o.agent.max_events_per_step = 1 << 20;  // node 1 sends the whole burst in one step
    TestCluster c({1, 2}, o);
    pairUp(c);
    std::vector<uint64_t> acked;  // seq of each ack node 2 sends, in order
    c.net.setFilter([&](NodeId from, NodeId, HaChannel, std::string_view bytes) {
        HaMessage m;
        if (from == 2 &&
            decodeHaMessage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                            HaDecodeExpect{7, 1}, &m) == HaDecodeResult::ok &&
            std::holds_alternative<HaAck>(m.body))
            acked.push_back(std::get<HaAck>(m.body).seq);
        return false;
    });
    const uint32_t batch = ReplicationOptions().batch_records;
    const uint32_t every = ReplicationOptions().ack_every_messages;
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < batch * 4 * every; ++i)
        c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(5);
    REQUIRE(c.node(2).sessions() == batch * 4 * every);
    // Node 2 took the burst in one step and acknowledged along the way.
    REQUIRE(acked.size() >= 4);
    CHECK(acked[1] - acked[0] == every);
    CHECK(c.node(1).agent->status().sync[0].acked_seq == c.node(1).agent->status().sync[0].tx_seq);
}

TEST_CASE("a peer whose acknowledgements come late but steadily is not sent the window again") {
    TestCluster c({1, 2});
    pairUp(c);
    FakeLinkRules slow;
    slow.delay_us = 80000;  // 160 ms there and back, above the 100 ms floor of the ack timeout
    c.net.setRules(1, 2, slow);
    c.net.setRules(2, 1, slow);
    const uint64_t timeouts0 = counter(c, 1, HaCounter::ack_timeouts);
    for (uint32_t round = 0; round < 40; ++round) {
        const uint32_t now = c.clock.nowMs();
        for (uint32_t i = 0; i < 10; ++i)
            c.node(1).worker().upsert(makeSession(round * 10 + i, 1, 2, now));
        c.run(50);
    }
    REQUIRE(c.runUntil([&] { return c.node(2).sessions() == 400; }, 1000));
    CHECK(active(c.node(2).state()));
    // Only messages sent before the first ack delay was measured may time out.
    CHECK(counter(c, 1, HaCounter::ack_timeouts) - timeouts0 <= 2);
}

TEST_CASE("a deferred packet nobody acknowledges is released after the safety timeout") {
    TestCluster c({1, 2});
    pairUp(c);
    c.net.partition(1, 2, true, HaChannel::sync);
    c.node(1).worker().upsert(makeSession(1, 1, 2, c.clock.nowMs()), 9);
    const uint32_t defer_ms = uint32_t(ReplicationOptions().defer_timeout_us / 1000);
    c.run(defer_ms - 1);
    CHECK(c.node(1).worker().released.empty());
    c.run(5);
    CHECK(c.node(1).worker().released == std::vector<uint32_t>{9});
    CHECK(counter(c, 1, HaCounter::defer_timeouts) == 1);
}

TEST_CASE("with no peer to replicate to a deferred packet is released at once") {
    TestCluster c({1, 2});
    c.start(1);
    c.run(1100);
    REQUIRE(c.node(1).state() == NodeState::active_primary);
    c.node(1).worker().upsert(makeSession(1, 1, 2, c.clock.nowMs()), 3);
    c.run(2);
    CHECK(c.node(1).worker().released == std::vector<uint32_t>{3});
    CHECK(counter(c, 1, HaCounter::defer_released_alone) == 1);
}

TEST_CASE("a lost batch is sent again and nothing is missing") {
    TestCluster c({1, 2});
    pairUp(c);
    int dropped = 0;
    c.net.setFilter([&](NodeId from, NodeId, HaChannel ch, std::string_view bytes) {
        if (from == 1 && ch == HaChannel::sync && dropped < 2 &&
            typeOf(bytes) == HaMessageType::session_batch) {
            ++dropped;
            return true;
        }
        return false;
    });
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 300; ++i) {
        c.node(1).worker().upsert(makeSession(i, 1, 2, now));
        if (i % 100 == 99) c.run(2);
    }
    c.run(5);
    CHECK(c.node(2).sessions() == 300);
    CHECK(dropped == 2);
    CHECK(counter(c, 2, HaCounter::out_of_order_rx) > 0);
    CHECK(counter(c, 2, HaCounter::nacks_tx) > 0);
    CHECK(counter(c, 1, HaCounter::resends) > 0);
}

TEST_CASE("the last batch lost is sent again after the resend timeout") {
    TestCluster c({1, 2});
    pairUp(c);
    bool dropped = false;
    c.net.setFilter([&](NodeId from, NodeId, HaChannel, std::string_view bytes) {
        if (from == 1 && !dropped && typeOf(bytes) == HaMessageType::session_batch)
            return dropped = true;
        return false;
    });
    c.node(1).worker().upsert(makeSession(1, 1, 2, c.clock.nowMs()));
    c.run(50);
    CHECK(c.node(2).sessions() == 0);
    CHECK(c.node(1).agent->status().sync[0].lag_us > 40000);
    c.run(100);
    CHECK(c.node(2).sessions() == 1);
    CHECK(counter(c, 1, HaCounter::resends) >= 1);
}

TEST_CASE("loss, duplication and reordering on the sync channel still deliver everything") {
    TestCluster c({1, 2});
    pairUp(c);
    c.net.setDefaultRules({0.05, 0.05, 100, 400});
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 5000; ++i) {
        c.node(1).worker().upsert(makeSession(i, 1, 2, now));
        if (i % 50 == 0) c.run(1, 250);
    }
    c.net.setDefaultRules({});
    c.run(500);
    CHECK(c.node(2).sessions() == 5000);
    CHECK(c.node(1).agent->status().sync[0].acked_seq == c.node(1).agent->status().sync[0].tx_seq);
    CHECK(active(c.node(1).state()));
    CHECK(active(c.node(2).state()));
}

TEST_CASE("a gap the resend window cannot cover ends in a full bulk resync") {
    TestCluster c({1, 2});
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 500; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(10);
    REQUIRE(c.node(2).sessions() == 500);
    // Node 2 loses its replicas (as after a crash of its table) and asks
    // for seq 1, long acknowledged: the window cannot repair that.
    c.node(2).worker().table.clear();
    const uint64_t stream = c.node(1).agent->status().sync[0].stream;
    HaEnvelope e;
    e.cluster_id = 7, e.from = 2, e.to = 1;
    TransportEvent ev;
    ev.peer = 2;
    ev.channel = HaChannel::sync;
    ev.authenticated = 2;
    ev.bytes = encodeHaMessage(e, HaNack{stream, 1});
    c.net.inject(1, ev);
    const uint64_t bulks = counter(c, 1, HaCounter::bulk_started);
    c.run(20);
    CHECK(counter(c, 1, HaCounter::unrepairable_gaps) == 1);
    CHECK(counter(c, 1, HaCounter::bulk_started) == bulks + 1);
    CHECK(c.node(2).sessions() == 500);
}

TEST_CASE("a sync window that outgrows its limit restarts the stream with a bulk sync") {
    ClusterOptions o;
    o.agent.replication.window_max_bytes = 64 * 1024;
    o.agent.replication.bulk_retry_us = 50000;
    TestCluster c({1, 2}, o);
    pairUp(c);
    c.net.partition(1, 2, true, HaChannel::sync);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 2000; ++i) {
        c.node(1).worker().upsert(makeSession(i, 1, 2, now));
        if (i % 100 == 0) c.run(1);
    }
    c.run(5);
    CHECK(counter(c, 1, HaCounter::window_overflow) >= 1);
    CHECK(c.node(1).agent->status().sync[0].window_bytes < 2000 * 200);
    c.net.partition(1, 2, false, HaChannel::sync);
    REQUIRE(c.runUntil([&] { return c.node(2).sessions() == 2000; }, 2000));
    CHECK(counter(c, 2, HaCounter::bulk_received) >= 2);
}

TEST_CASE("sessions made while the control link was cut reach the peer once it is back") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(50);
    c.net.partition(1, 2, true);  // every HA channel; the peer link keeps both alive
    c.run(300);
    REQUIRE(c.node(1).agent->status().peers[0].alive);
    REQUIRE_FALSE(c.node(1).agent->status().peers[0].control_link);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 300; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    for (uint32_t i = 300; i < 400; ++i) c.node(2).worker().upsert(makeSession(i, 2, 1, now));
    c.run(200);
    CHECK(c.node(2).sessions() == 100);  // nothing crossed
    const uint64_t bulks = counter(c, 1, HaCounter::bulk_started);
    c.net.partition(1, 2, false);
    REQUIRE(c.runUntil([&] { return c.node(2).sessions() == 400 && c.node(1).sessions() == 400; },
                       3000));
    CHECK(counter(c, 1, HaCounter::peer_down) == 0);
    CHECK(counter(c, 1, HaCounter::bulk_started) == bulks + 1);  // resent whole, not left to chance
    CHECK(c.node(2).ownedBy(1) == 300);
    CHECK(c.node(1).ownedBy(2) == 100);
}

TEST_CASE("a worker ring that is full delays replicas and acknowledgements but loses nothing") {
    ClusterOptions o;
    o.ring_commands = 16;
    TestCluster c({1, 2}, o);
    pairUp(c);
    c.node(2).worker().paused = true;
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 1000; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now), i + 1);
    const uint32_t defer_ms = uint32_t(ReplicationOptions().defer_timeout_us / 1000);
    c.run(defer_ms + 5);
    CHECK(counter(c, 2, HaCounter::apply_ring_full) > 0);
    CHECK(c.node(1).agent->status().sync[0].acked_seq < c.node(1).agent->status().sync[0].tx_seq);
    CHECK(counter(c, 1, HaCounter::defer_timeouts) > 0);  // released anyway after the timeout
    c.node(2).worker().paused = false;
    REQUIRE(c.runUntil([&] { return c.node(2).sessions() == 1000; }, 2000));
    c.run(defer_ms + 10);
    CHECK(c.node(1).agent->status().sync[0].acked_seq == c.node(1).agent->status().sync[0].tx_seq);
    std::vector<uint32_t> released = c.node(1).worker().released;
    std::sort(released.begin(), released.end());
    CHECK(std::unique(released.begin(), released.end()) == released.end());  // each once
    CHECK(released.size() == 1000);
}

TEST_CASE("a restarted peer receives a full bulk sync and stays tentative until it ends") {
    ClusterOptions o;
    o.agent.status_interval_ms = 1;
    o.agent.replication.inflight_messages = 2;
    TestCluster c({1, 2}, o);
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 3000; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(20);
    REQUIRE(c.node(2).sessions() == 3000);
    c.crash(2);
    c.run(200);
    c.start(2);
    // A slow sync link keeps the bulk sync running for a while.
    c.net.setRules(1, 2, {0, 0, 2000, 0});
    bool saw_progress = false;
    REQUIRE(c.runUntil(
        [&] {
            const HaStatus s = c.node(2).agent->status();
            if (s.local.state == NodeState::tentative && !s.sync.empty() &&
                s.sync[0].bulk_in_received > 0 && s.sync[0].bulk_in_received < 3000)
                saw_progress = true;
            return active(s.local.state);
        },
        3000));
    c.stepAll();  // the worker applies what the agent pushed last
    CHECK(saw_progress);
    CHECK(c.node(2).sessions() == 3000);
    CHECK(counter(c, 2, HaCounter::bulk_received) == 1);
}

TEST_CASE("a tentative node gives up a bulk sync that stalls, and says so") {
    ClusterOptions o;
    o.agent.bulk_stall_ms = 300;
    TestCluster c({1, 2}, o);
    c.start(1);
    c.run(150);
    c.node(1).worker().paused = true;  // its worker never answers the bulk scan
    c.start(2);
    REQUIRE(c.runUntil([&] { return c.node(2).state() == NodeState::tentative; }, 500));
    c.run(200);
    CHECK(c.node(2).state() == NodeState::tentative);
    REQUIRE(c.runUntil([&] { return active(c.node(2).state()); }, 500));
    CHECK(counter(c, 2, HaCounter::bulk_timeouts) == 1);
}

// Pairs nodes 1 and 2; node 1 owns `count` sessions, replicated to node 2,
// and is then killed, long enough ago for node 2 to have noticed.
void ownThenDie(TestCluster& c, uint32_t count) {
    pairUp(c);
    c.run(100);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < count; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(20);
    REQUIRE(c.node(2).sessions() == count);
    c.crash(1);
    c.run(200);
}

TEST_CASE("revert gives a returning node back the sessions it owned") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(100);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 200; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    for (uint32_t i = 200; i < 300; ++i) c.node(2).worker().upsert(makeSession(i, 2, 1, now));
    c.run(20);
    REQUIRE(c.node(2).sessions() == 300);
    c.crash(1);
    c.run(200);
    c.node(2).worker().adopt(1);  // its packets arrived: node 2 took them over
    c.run(10);
    CHECK(c.node(2).ownedBy(2) == 300);
    c.start(1);
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
    c.run(50);
    CHECK(counter(c, 2, HaCounter::revert_transfers) == 1);
    CHECK(c.node(2).ownedBy(1) == 200);
    CHECK(c.node(2).ownedBy(2) == 100);
    CHECK(c.node(1).ownedBy(1) == 200);  // replicated back with the new owner
    CHECK(c.node(1).sessions() == 300);
}

TEST_CASE("a returning node whose worker has not started stays tentative and is given nothing") {
    // Its agent pairs and takes the bulk sync into the ring at once; the
    // worker starts later (its session table takes a while to set up). Were
    // it active before, revert would hand it sessions nobody reads yet.
    TestCluster c({1, 2});
    ownThenDie(c, 200);
    c.node(2).worker().adopt(1);
    c.run(10);
    c.start(1);
    c.node(1).worker().paused = true;  // not polled once yet
    c.run(1500);
    CHECK(c.node(1).state() == NodeState::tentative);
    CHECK(counter(c, 2, HaCounter::revert_transfers) == 0);
    CHECK(c.node(2).ownedBy(2) == 200);
    c.node(1).worker().paused = false;
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 1000));
    c.run(50);
    CHECK(counter(c, 2, HaCounter::revert_transfers) == 1);
    CHECK(c.node(2).ownedBy(1) == 200);
    CHECK(c.node(1).sessions() == 200);
}

TEST_CASE("a dead peer's idle sessions are adopted at once, and revert returns every one of them") {
    // No packet of these sessions arrives while node 1 is away: the adoption
    // must not wait for one, or node 2 would leave them out of its bulk sync
    // and node 1 would come back without them.
    TestCluster c({1, 2});
    ownThenDie(c, 200);
    CHECK(c.node(2).worker().member_left == std::vector<NodeId>{1});
    CHECK(counter(c, 2, HaCounter::member_left_scans) == 1);
    CHECK(c.node(2).ownedBy(2) == 200);
    c.start(1);
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
    c.run(50);
    CHECK(counter(c, 2, HaCounter::revert_transfers) == 1);
    CHECK(c.node(1).sessions() == 200);
    CHECK(c.node(1).ownedBy(1) == 200);
    CHECK(c.node(2).ownedBy(1) == 200);
}

TEST_CASE("a peer that restarts within the hold time gets back its sessions, idle ones included") {
    // The restart is seen as a new incarnation, not a death: the sessions the
    // restarted node owned exist only as node 2's replicas. Node 2 adopts
    // them before its bulk sync to node 1 starts, so the bulk carries them.
    for (const bool revert : {true, false}) {
        CAPTURE(revert);
        ClusterOptions o;
        o.tweak = [revert](Config& cfg) { cfg.ha.revert = revert; };
        TestCluster c({1, 2}, o);
        pairUp(c);
        c.run(100);
        const uint32_t now = c.clock.nowMs();
        for (uint32_t i = 0; i < 100; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
        c.run(20);
        REQUIRE(c.node(2).sessions() == 100);
        c.crash(1);
        c.run(20);  // well within the hold time
        c.start(1);
        REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
        c.run(100);
        CHECK(counter(c, 2, HaCounter::peer_down) == 0);
        CHECK(c.node(2).worker().member_left == std::vector<NodeId>{1});
        CHECK(c.node(1).sessions() == 100);
        CHECK(c.node(1).ownedBy(revert ? 1 : 2) == 100);
        CHECK(c.node(2).ownedBy(revert ? 1 : 2) == 100);
    }
}

TEST_CASE(
    "a returning node that went active alone gets its sessions back only once it holds them") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(100);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 200; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(20);
    REQUIRE(c.node(2).sessions() == 200);
    c.crash(1);
    c.run(200);
    c.node(2).worker().adopt(1);
    c.run(10);
    // Node 1 comes back unable to reach node 2 and, after its startup wait,
    // goes active alone with an empty table.
    c.net.partition(1, 2, true);
    c.cutPeerLink(1, 2, true);
    c.start(1);
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
    CHECK(c.node(1).sessions() == 0);
    // The path heals; the bulk sync towards node 1 is slow.
    c.net.setRules(2, 1, {0, 0, 20000, 0});
    c.net.partition(1, 2, false);
    c.cutPeerLink(1, 2, false);
    uint64_t bulk_at_revert = 0;
    REQUIRE(c.runUntil(
        [&] {
            if (counter(c, 2, HaCounter::revert_transfers) == 0) return false;
            const HaStatus st = c.node(1).agent->status();
            bulk_at_revert = st.sync.empty() ? 0 : st.sync[0].bulk_in_received;
            return true;
        },
        5000));
    CHECK(bulk_at_revert == 200);  // node 1's agent had every session of node 2's bulk
    c.stepAll();                   // and its worker applies what the agent pushed
    CHECK(c.node(1).sessions() == 200);
    c.run(200);
    CHECK(c.node(2).ownedBy(1) == 200);
    CHECK(c.node(1).ownedBy(1) == 200);
}

TEST_CASE("without revert a returning node does not get its sessions back") {
    ClusterOptions o;
    o.tweak = [](Config& cfg) { cfg.ha.revert = false; };
    TestCluster c({1, 2}, o);
    pairUp(c);
    c.run(100);
    for (uint32_t i = 0; i < 50; ++i)
        c.node(1).worker().upsert(makeSession(i, 1, 2, c.clock.nowMs()));
    c.run(20);
    c.crash(1);
    c.run(200);
    c.node(2).worker().adopt(1);
    c.start(1);
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
    c.run(50);
    CHECK(counter(c, 2, HaCounter::revert_transfers) == 0);
    CHECK(c.node(2).ownedBy(2) == 50);
}

TEST_CASE("suspend hands the node's sessions to the peer and functional lets revert return them") {
    TestCluster c({1, 2});
    pairUp(c);
    c.run(100);
    for (uint32_t i = 0; i < 100; ++i)
        c.node(1).worker().upsert(makeSession(i, 1, 2, c.clock.nowMs()));
    c.run(20);
    c.node(1).agent->suspend();
    c.run(20);
    REQUIRE(c.node(1).worker().transfers.size() == 1);
    CHECK(c.node(1).worker().transfers[0].from == 1);
    CHECK(c.node(1).worker().transfers[0].to == 2);
    CHECK(c.node(1).ownedBy(2) == 100);
    CHECK(c.node(2).ownedBy(2) == 100);  // replicated to the peer as its own
    c.node(1).agent->functional();
    c.run(100);
    CHECK(active(c.node(1).state()));
    CHECK(c.node(2).ownedBy(1) == 100);  // revert
    CHECK(c.node(1).ownedBy(1) == 100);
}

TEST_CASE("an operator resync sends the peer's sessions again") {
    TestCluster c({1, 2});
    pairUp(c);
    for (uint32_t i = 0; i < 100; ++i)
        c.node(1).worker().upsert(makeSession(i, 1, 2, c.clock.nowMs()));
    c.run(10);
    c.node(2).worker().table.clear();
    c.node(2).agent->requestResync();
    c.run(20);
    CHECK(c.node(2).sessions() == 100);
    CHECK(counter(c, 1, HaCounter::resync_requests_rx) == 1);
}

TEST_CASE("two agents exchange a bulk sync of 100k sessions") {
    ClusterOptions o;
    o.workers = 2;
    TestCluster c({1, 2}, o);
    c.start(1);
    c.run(150);
    const uint32_t now = c.clock.nowMs();
    const uint32_t n = 100000;
    for (uint32_t i = 0; i < n; ++i) {
        c.node(1).worker(i % 2).table[makeSession(i, 1, 2, now).key()] = makeSession(i, 1, 2, now);
    }
    c.start(2);
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t sim0 = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return active(c.node(2).state()); }, 60000, 1000));
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    c.stepAll();  // the worker applies what the agent pushed last
    CHECK(c.node(2).sessions() == n);
    const HaStatus s = c.node(2).agent->status();
    CHECK(s.sync[0].bulk_in_received == n);
    CHECK(s.sync[0].bulk_in_expected == n);
    std::printf(
        "bulk sync of %u sessions over the fake transport: %.0f ms simulated, %.2f s wall, "
        "%.0f records/s wall\n",
        n, double(c.clock.nowUs() - sim0) / 1000, wall_s, n / wall_s);
}

}  // namespace
}  // namespace tandem

namespace tandem {

TEST_CASE("sync messages a restarted peer dropped before it was paired are sent again at once") {
    // A restarted node learns a peer through its HELLO, which travels on
    // the control connection; the peer's sync messages (its bulk sync to
    // the restarted node) may come first and are dropped. Once the HELLO is
    // in, the restarted node asks for them (a NACK) instead of waiting for
    // the sender's ack timeout (one second here).
    ClusterOptions o;
    o.agent.replication.resend_timeout_us = 1000000;
    o.agent.replication.resend_timeout_max_us = 1000000;
    TestCluster c({1, 2}, o);
    pairUp(c);
    const uint32_t now = c.clock.nowMs();
    for (uint32_t i = 0; i < 200; ++i) c.node(1).worker().upsert(makeSession(i, 1, 2, now));
    c.run(10);
    REQUIRE(c.node(2).sessions() == 200);

    bool hold_hello = true;
    c.net.setFilter([&](NodeId from, NodeId to, HaChannel, std::string_view bytes) {
        return hold_hello && from == 1 && to == 2 && typeOf(bytes) == HaMessageType::hello;
    });
    c.crash(2);
    c.start(2);
    REQUIRE(c.runUntil([&] { return counter(c, 2, HaCounter::unpaired_drop) > 0; }, 3000));
    c.run(20);  // more of the bulk sync is dropped
    CHECK(c.node(2).sessions() == 0);
    hold_hello = false;
    const uint64_t t0 = c.clock.nowMs();
    REQUIRE(c.runUntil([&] { return c.node(2).sessions() == 200; }, 3000));
    const uint64_t took = c.clock.nowMs() - t0;
    CAPTURE(took);
    CHECK(took < 500);  // the HELLO's next round, and the resend it asked for
    CHECK(counter(c, 2, HaCounter::nacks_tx) >= 1);
    CHECK(counter(c, 1, HaCounter::ack_timeouts) == 0);
}

}  // namespace tandem
