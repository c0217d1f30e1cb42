// Membership and node states on simulated time: pairing, death after the
// hold time, one lost path, primary election with and without preempt,
// suspend / functional, non-functional, tentative until the bulk sync ends,
// and the pre-flight check.
#include "ha/membership.h"

#include <doctest/doctest.h>

#include "ha_test_util.h"

namespace tandem {
namespace {

using test::ClusterOptions;
using test::TestCluster;

uint64_t counter(TestCluster& c, NodeId id, HaCounter k) {
    return c.node(id).agent->counters().get(k);
}

bool active(NodeState s) {
    return canOwnSessions(s);
}

// Starts nodes 1 and 2 of `c` and runs until both are active.
void startPair(TestCluster& c) {
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(2).state()) && active(c.node(1).state()); }, 2000));
}

TEST_CASE("two nodes pair and the better priority becomes active-primary") {
    TestCluster c({1, 2});
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(1).state()) && active(c.node(2).state()); }, 2000));
    c.run(100);
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(2).state() == NodeState::active_secondary);
    const ClusterView v1 = c.node(1).clusterView();
    CHECK(v1.owners == (nodeBit(1) | nodeBit(2)));
    CHECK(v1.reachable == (nodeBit(1) | nodeBit(2)));
    CHECK(v1.primary == 1);
    CHECK(v1.replicate);
    CHECK(c.node(2).clusterView().primary == 1);
    const HaStatus s = c.node(2).agent->status();
    REQUIRE(s.peers.size() == 1);
    CHECK(s.peers[0].alive);
    CHECK(s.peers[0].paired);
    CHECK(s.peers[0].control_link);
    CHECK(s.peers[0].peer_link);
    CHECK(s.local.last_transition.to == NodeState::active_secondary);
}

TEST_CASE("a node passes through tentative before it becomes active with a peer") {
    TestCluster c({1, 2});
    c.startAll();
    bool saw_tentative = false;
    REQUIRE(c.runUntil(
        [&] {
            saw_tentative |= c.node(2).state() == NodeState::tentative;
            return active(c.node(2).state());
        },
        2000));
    CHECK(saw_tentative);
}

TEST_CASE("a lone node becomes active after the startup wait and says why") {
    TestCluster c({1, 2});
    c.start(1);
    c.run(950);  // the startup wait: the hold time, and never under a second
    CHECK(c.node(1).state() == NodeState::initial);
    CHECK_FALSE(c.node(1).clusterView().selfMayOwn());
    c.run(60);
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(1).agent->status().local.last_transition.cause.find("no peer answered") !=
          std::string::npos);
    CHECK(c.node(1).clusterView().owners == nodeBit(1));
    CHECK_FALSE(c.node(1).clusterView().replicate);
}

TEST_CASE("a peer that falls silent is declared dead within the hold time and the view drops it") {
    TestCluster c({1, 2});
    startPair(c);
    c.run(50);
    CHECK(c.node(2).agent->status().peers.at(0).down_ms == -1);  // alive
    c.crash(1);
    const uint64_t crashed_us = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 500, 250));
    const uint64_t detect_ms = (c.clock.nowUs() - crashed_us) / 1000;
    CHECK(detect_ms <= 100);  // hold time 100 ms, heard at most one interval before the crash
    CHECK(detect_ms >= 75);
    // The status says since when: what a poll that came late can tell.
    c.run(40);
    const int64_t down_ms = c.node(2).agent->status().peers.at(0).down_ms;
    CHECK(down_ms >= 39);
    CHECK(down_ms <= 41);
    const ClusterView v = c.node(2).clusterView();
    CHECK(v.owners == nodeBit(2));
    CHECK(v.primary == 2);
    CHECK(c.node(2).state() == NodeState::active_primary);
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
}

TEST_CASE("a peer whose process ended is declared dead before the hold time") {
    // Its HA connection closes (the kernel closes a dead process's sockets)
    // and its peer link falls silent: two heartbeat intervals (50 ms) are
    // enough, not the hold time (100 ms).
    TestCluster c({1, 2});
    startPair(c);
    c.run(50);
    c.crash(1);
    const uint64_t crashed_us = c.clock.nowUs();
    TransportEvent closed;
    closed.kind = TransportEventKind::disconnected;
    closed.peer = 1;
    c.net.inject(2, closed);
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 500, 250));
    const uint64_t detect_ms = (c.clock.nowUs() - crashed_us) / 1000;
    CHECK(detect_ms <= 55);  // last heard at most one 25 ms interval before the crash
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
    CHECK(counter(c, 2, HaCounter::peer_down_closed) == 1);
    CHECK(c.node(2).state() == NodeState::active_primary);
    // Dead it stays: what was heard before the death is not heard again.
    c.run(500);
    CHECK_FALSE(c.node(2).clusterView().isReachable(1));
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
    CHECK(counter(c, 2, HaCounter::peer_up) == 1);
}

// peer-link-detect-ms: a crash or a power cut closes nothing; a peer whose
// peer link was up and that falls silent on both paths for the detect time
// is dead then, not after the hold time.
ClusterOptions fastDetect(uint32_t detect_ms = 60) {
    ClusterOptions o;
    o.tweak = [detect_ms](Config& cfg) {
        cfg.ha.hold_time_ms = 400;
        cfg.ha.peer_link_detect_ms = detect_ms;
    };
    return o;
}

TEST_CASE("with peer-link-detect-ms a peer silent on both paths is dead within the detect time") {
    TestCluster c({1, 2}, fastDetect());
    startPair(c);
    c.run(50);
    c.crash(1);  // no connection closes: a power cut
    const uint64_t crashed_us = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 1000, 250));
    const uint64_t detect_ms = (c.clock.nowUs() - crashed_us) / 1000;
    CHECK(detect_ms >= 48);  // the last heartbeat came at most 12 ms before the cut
    CHECK(detect_ms <= 62);
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
    CHECK(counter(c, 2, HaCounter::peer_down_detected) == 1);
    CHECK(c.node(2).state() == NodeState::active_primary);
    CHECK(c.node(2).agent->status().peer_link_detect_ms == 60);
    c.run(500);
    CHECK_FALSE(c.node(2).clusterView().isReachable(1));
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
    CHECK(counter(c, 2, HaCounter::peer_up) == 1);
}

TEST_CASE("without peer-link-detect-ms the same silence waits out the hold time") {
    ClusterOptions o = fastDetect(0);
    TestCluster c({1, 2}, o);
    startPair(c);
    c.run(50);
    c.crash(1);
    const uint64_t crashed_us = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 1000, 250));
    CHECK((c.clock.nowUs() - crashed_us) / 1000 >= 375);
    CHECK(counter(c, 2, HaCounter::peer_down_detected) == 0);
}

TEST_CASE("with peer-link-detect-ms one cut path, or a silence shorter than it, is no death") {
    TestCluster c({1, 2}, fastDetect());
    startPair(c);
    // The peer link cut: the control link's heartbeats (25 ms) keep it alive.
    c.cutPeerLink(1, 2, true);
    c.run(600);
    CHECK(c.node(2).clusterView().isReachable(1));
    CHECK(c.node(1).clusterView().isReachable(2));
    c.cutPeerLink(1, 2, false);
    c.run(100);
    // The control link cut: the peer link's heartbeats keep it alive.
    c.net.partition(1, 2, true);
    c.run(600);
    CHECK(c.node(2).clusterView().isReachable(1));
    c.net.partition(1, 2, false);
    c.run(200);
    // Both silent for 40 ms (a short pause): still alive.
    c.net.partition(1, 2, true);
    c.cutPeerLink(1, 2, true);
    c.run(40);
    c.net.partition(1, 2, false);
    c.cutPeerLink(1, 2, false);
    c.run(200);
    CHECK(c.node(2).clusterView().isReachable(1));
    CHECK(c.node(1).clusterView().isReachable(2));
    CHECK(counter(c, 1, HaCounter::peer_down) == 0);
    CHECK(counter(c, 2, HaCounter::peer_down) == 0);
}

TEST_CASE("with peer-link-detect-ms a node whose own workers stall waits out the hold time") {
    // Its workers did not poll: the peer's heartbeats may be waiting in a
    // queue nobody reads, so the silence says nothing about the peer.
    TestCluster c({1, 2}, fastDetect());
    startPair(c);
    c.node(2).worker().paused = true;
    c.net.partition(1, 2, true);
    c.cutPeerLink(1, 2, true);
    const uint64_t cut_us = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 1000, 250));
    CHECK((c.clock.nowUs() - cut_us) / 1000 >= 375);
    CHECK(counter(c, 2, HaCounter::peer_down_detected) == 0);
    // Node 1's workers polled: it found node 2 gone within the detect time.
    CHECK(counter(c, 1, HaCounter::peer_down_detected) == 1);
}

TEST_CASE("a stall of the whole machine is no death: each node holds its own stall out of it") {
    // Every node stops for four hold times (a VM pause, a starved host),
    // then each runs again. Nobody sent anything in the stall; the first
    // node to run must not declare the others dead before they could speak.
    for (const bool detect : {false, true}) {
        CAPTURE(detect);
        TestCluster c({1, 2, 3}, detect ? fastDetect() : ClusterOptions{});
        REQUIRE(c.startAllActive(3000));
        c.run(100);
        const uint64_t hold_ms = c.node(1).config.ha.hold_time_ms;
        c.clock.advanceUs(4 * hold_ms * 1000);
        c.run(3 * hold_ms);
        for (NodeId id : {1, 2, 3}) {
            CAPTURE(id);
            CHECK(counter(c, id, HaCounter::peer_down) == 0);
            CHECK(counter(c, id, HaCounter::own_stalls) == 1);
            CHECK(c.node(id).clusterView().owners == (nodeBit(1) | nodeBit(2) | nodeBit(3)));
        }
    }
}

TEST_CASE("a peer that died in this node's stall is dead one hold time after the stall") {
    TestCluster c({1, 2});
    startPair(c);
    c.run(50);
    c.crash(1);
    c.clock.advanceUs(300000);  // node 2 stalls three hold times
    c.stepAll();
    const uint64_t resumed_us = c.clock.nowUs();
    CHECK(c.node(2).clusterView().isReachable(1));
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 500, 250));
    const uint64_t detect_ms = (c.clock.nowUs() - resumed_us) / 1000;
    CHECK(detect_ms <= 100);  // the hold time, less what it had been silent before the stall
    CHECK(detect_ms >= 70);
    CHECK(counter(c, 2, HaCounter::peer_down) == 1);
    CHECK(counter(c, 2, HaCounter::own_stalls) == 1);
}

TEST_CASE("a closed HA connection alone, or silence alone, is no early death") {
    TestCluster c({1, 2});
    startPair(c);
    // The connection closes but the peer lives: its heartbeats go on.
    TransportEvent closed;
    closed.kind = TransportEventKind::disconnected;
    closed.peer = 1;
    c.net.inject(2, closed);
    c.run(300);
    CHECK(c.node(2).clusterView().isReachable(1));
    CHECK(counter(c, 2, HaCounter::peer_down) == 0);
    // Silence with the connection open (a partition, a paused process): the hold time.
    c.net.partition(1, 2, true);
    c.cutPeerLink(1, 2, true);
    const uint64_t cut_us = c.clock.nowUs();
    REQUIRE(c.runUntil([&] { return !c.node(2).clusterView().isReachable(1); }, 500, 250));
    CHECK((c.clock.nowUs() - cut_us) / 1000 >= 75);
    CHECK(counter(c, 2, HaCounter::peer_down_closed) == 0);
}

TEST_CASE("losing only the control link keeps the peer alive and shows the loss") {
    TestCluster c({1, 2});
    startPair(c);
    c.net.partition(1, 2, true);
    c.run(500);
    CHECK(c.node(2).clusterView().isReachable(1));
    CHECK(c.node(2).clusterView().mayOwn(1));
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(2).state() == NodeState::active_secondary);
    const HaStatus s = c.node(2).agent->status();
    REQUIRE(s.peers.size() == 1);
    CHECK(s.peers[0].alive);
    CHECK_FALSE(s.peers[0].control_link);
    CHECK(s.peers[0].peer_link);
    CHECK_FALSE(c.node(2).clusterView().replicate);  // nothing can be replicated now
    CHECK(counter(c, 2, HaCounter::peer_down) == 0);
}

TEST_CASE("losing only the peer link keeps the peer alive and shows the loss") {
    TestCluster c({1, 2});
    startPair(c);
    c.cutPeerLink(1, 2, true);
    c.run(500);
    const HaStatus s = c.node(1).agent->status();
    REQUIRE(s.peers.size() == 1);
    CHECK(s.peers[0].alive);
    CHECK(s.peers[0].control_link);
    CHECK_FALSE(s.peers[0].peer_link);
    CHECK(c.node(1).clusterView().mayOwn(2));
}

TEST_CASE("losing both paths makes the peer dead") {
    TestCluster c({1, 2});
    startPair(c);
    c.net.partition(1, 2, true);
    c.cutPeerLink(1, 2, true);
    c.run(150);
    CHECK_FALSE(c.node(1).clusterView().isReachable(2));
    CHECK_FALSE(c.node(2).clusterView().isReachable(1));
    // Split brain is what a double failure gives: both own.
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(2).state() == NodeState::active_primary);
    // Healed: the worse primary yields.
    c.net.partition(1, 2, false);
    c.cutPeerLink(1, 2, false);
    c.run(300);
    CHECK(c.node(1).state() == NodeState::active_primary);
    CHECK(c.node(2).state() == NodeState::active_secondary);
}

TEST_CASE("without preempt a returning better node does not take the primary role back") {
    TestCluster c({1, 2});
    c.startAll();
    REQUIRE(c.runUntil(
        [&] { return c.node(1).state() == NodeState::active_primary && active(c.node(2).state()); },
        2000));
    c.crash(1);
    c.run(200);
    REQUIRE(c.node(2).state() == NodeState::active_primary);
    c.start(1);
    REQUIRE(c.runUntil([&] { return active(c.node(1).state()); }, 3000));
    c.run(300);
    CHECK(c.node(1).state() == NodeState::active_secondary);
    CHECK(c.node(2).state() == NodeState::active_primary);
    CHECK(c.node(1).clusterView().primary == 2);
}

TEST_CASE("with preempt a returning better node takes the primary role back") {
    ClusterOptions o;
    o.tweak = [](Config& cfg) { cfg.ha.preempt = true; };
    TestCluster c({1, 2}, o);
    c.startAll();
    REQUIRE(c.runUntil(
        [&] { return c.node(1).state() == NodeState::active_primary && active(c.node(2).state()); },
        2000));
    c.crash(1);
    c.run(200);
    REQUIRE(c.node(2).state() == NodeState::active_primary);
    c.start(1);
    REQUIRE(c.runUntil([&] { return c.node(1).state() == NodeState::active_primary; }, 3000));
    c.run(100);
    CHECK(c.node(2).state() == NodeState::active_secondary);
    CHECK(c.node(2).agent->status().local.last_transition.cause.find("preempted") !=
          std::string::npos);
}

TEST_CASE("equal priorities elect the lower node id") {
    ClusterOptions o;
    o.tweak = [](Config& cfg) { cfg.ha.priority = 50; };
    TestCluster d({1, 2}, o);
    d.startAll();
    REQUIRE(
        d.runUntil([&] { return active(d.node(1).state()) && active(d.node(2).state()); }, 2000));
    d.run(100);
    CHECK(d.node(1).state() == NodeState::active_primary);
    CHECK(d.node(2).state() == NodeState::active_secondary);
}

TEST_CASE("suspend takes the node out of the owners and functional brings it back") {
    TestCluster c({1, 2});
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(1).state()) && active(c.node(2).state()); }, 2000));
    CHECK(c.node(1).agent->suspend().ok);
    c.run(60);
    CHECK(c.node(1).state() == NodeState::suspended);
    CHECK_FALSE(c.node(1).clusterView().selfMayOwn());
    CHECK_FALSE(c.node(2).clusterView().mayOwn(1));
    CHECK(c.node(2).clusterView().isReachable(1));
    CHECK(c.node(2).state() == NodeState::active_primary);  // the primary role moved
    CHECK(c.node(1).agent->status().local.operator_suspended);
    CHECK(c.node(1).agent->status().local.last_transition.cause == "operator request: suspend");
    c.node(1).agent->functional();
    c.run(100);
    CHECK(active(c.node(1).state()));
    CHECK(c.node(1).state() == NodeState::active_secondary);  // no preempt
    CHECK(c.node(2).clusterView().mayOwn(1));
}

TEST_CASE("a data link down makes the node non-functional until it is back") {
    TestCluster c({1, 2});
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(1).state()) && active(c.node(2).state()); }, 2000));
    c.node(2).agent->setLinkState(false, "port outside: link down");
    c.run(60);
    CHECK(c.node(2).state() == NodeState::non_functional);
    CHECK(c.node(2).agent->status().local.last_transition.cause == "port outside: link down");
    CHECK_FALSE(c.node(1).clusterView().mayOwn(2));
    c.node(2).agent->setLinkState(true, "port outside: link up");
    c.run(60);
    CHECK(c.node(2).state() == NodeState::active_secondary);
}

TEST_CASE("an incompatible peer is refused with a reason and never becomes a member") {
    ClusterOptions o;
    o.tweak = [](Config& cfg) {
        if (cfg.node.id == 2) cfg.ha.session_owner = OwnerElection::primary;
    };
    TestCluster c({1, 2}, o);
    c.startAll();
    c.run(1200);
    CHECK(c.node(1).state() == NodeState::active_primary);  // alone
    CHECK(c.node(2).state() == NodeState::active_primary);
    CHECK_FALSE(c.node(1).clusterView().isReachable(2));
    const HaStatus s = c.node(1).agent->status();
    REQUIRE(s.peers.size() == 1);
    CHECK_FALSE(s.peers[0].paired);
    CHECK(s.peers[0].refused.find("session-owner is primary on node 2") != std::string::npos);
    CHECK(counter(c, 1, HaCounter::preflight_refused) > 0);
    CHECK(counter(c, 1, HaCounter::records_rx) == 0);
}

TEST_CASE("the pre-flight check names timers, zones, members and MTU mismatches") {
    ClusterOptions base;
    const std::vector<std::pair<std::function<void(Config&)>, std::string>> cases = {
        {[](Config& c) { c.ha.hold_time_ms = 200; }, "hold-time"},
        {[](Config& c) { c.ha.revert = false; }, "revert"},
        {[](Config& c) { c.zones.push_back("dmz"); }, "zones differ"},
        {[](Config& c) {
             PeerConfig p;
             p.id = 3;
             c.peers.push_back(p);
         },
         "member list"},
    };
    for (const auto& [tweak, expect] : cases) {
        ClusterOptions o;
        o.tweak = [&](Config& cfg) {
            if (cfg.node.id == 2) tweak(cfg);
        };
        TestCluster c({1, 2}, o);
        c.startAll();
        c.run(200);
        const HaStatus s = c.node(1).agent->status();
        CAPTURE(expect);
        REQUIRE(s.peers.size() == 1);
        CHECK(s.peers[0].refused.find(expect) != std::string::npos);
    }
}

TEST_CASE("peers with different policies pair, are shown as such, and agree again after a reload") {
    RuleError err;
    const Rule web = *parseRule("allow name web from inside to outside proto tcp dport 80", &err);
    const Rule dns = *parseRule("allow name dns from inside to outside proto udp dport 53", &err);
    ClusterOptions o;
    o.tweak = [&](Config& cfg) {
        cfg.rules = {web};
        if (cfg.node.id == 2) cfg.rules.push_back(dns);  // node 2 reloaded a policy first
    };
    TestCluster c({1, 2}, o);
    c.startAll();
    REQUIRE(c.runUntil(
        [&] {
            const HaStatus s = c.node(1).agent->status();
            return s.peers.size() == 1 && s.peers[0].alive && s.peers[0].policy_hash != 0;
        },
        2000));
    HaStatus s = c.node(1).agent->status();
    CHECK(s.peers[0].paired);
    CHECK(s.peers[0].refused.empty());
    CHECK_FALSE(s.peers[0].policy_matches);
    CHECK(s.peers[0].policy_hash == policyHash({web, dns}));
    CHECK(s.local.policy_hash == policyHash({web}));
    CHECK(counter(c, 1, HaCounter::policy_mismatch) == 1);

    // Node 1 reloads the same rules: the heartbeats carry it, both agree.
    c.node(1).agent->setPolicy(policyHash({web, dns}), 2);
    REQUIRE(c.runUntil(
        [&] {
            return c.node(2).agent->status().peers[0].policy_matches &&
                   c.node(1).agent->status().peers[0].policy_matches;
        },
        1000));
    CHECK(c.node(2).agent->status().peers[0].policy_hash == policyHash({web, dns}));
    CHECK(counter(c, 1, HaCounter::policy_mismatch) == 1);
    CHECK(counter(c, 2, HaCounter::policy_mismatch) == 1);
}

TEST_CASE("three nodes form a cluster of active members with one primary") {
    TestCluster c({1, 2, 3});
    REQUIRE(c.startAllActive(3000));
    c.run(200);
    int primaries = 0;
    for (NodeId n : {1, 2, 3}) {
        CHECK(c.node(n).state() == NodeState::active);
        CHECK(c.node(n).clusterView().owners == (nodeBit(1) | nodeBit(2) | nodeBit(3)));
        CHECK(c.node(n).clusterView().primary == 1);
        primaries += c.node(n).agent->status().local.primary;
    }
    CHECK(primaries == 1);
    c.crash(1);
    c.run(200);
    CHECK(c.node(2).clusterView().primary == 2);
    CHECK(c.node(3).clusterView().primary == 2);
    CHECK(c.node(3).clusterView().owners == (nodeBit(2) | nodeBit(3)));
}

// Starts nodes 1-3, crashes node 3 once all are active, and restarts it
// with its paths to node 1 cut (the HA channels and the peer link): node 2
// answers it at once, node 1 not.
void restartThirdCutFromFirst(TestCluster& c) {
    REQUIRE(c.startAllActive(3000));
    c.crash(3);
    REQUIRE(c.runUntil([&] { return c.node(2).clusterView().owners == (nodeBit(1) | nodeBit(2)); },
                       1000));
    c.net.partition(1, 3, true);
    c.cutPeerLink(1, 3, true);
    c.start(3);
}

TEST_CASE("a starting node pairs with every member its peers report alive before it is active") {
    TestCluster c({1, 2, 3});
    restartThirdCutFromFirst(c);
    // Node 2 is found and synced from at once; node 1, which node 2 reports
    // alive and active, is not reachable yet: node 3 waits for it.
    REQUIRE(c.runUntil([&] { return c.node(3).state() == NodeState::tentative; }, 1000));
    c.run(400);
    CHECK(c.node(3).state() == NodeState::tentative);
    CHECK_FALSE(c.node(3).clusterView().selfMayOwn());
    c.net.partition(1, 3, false);
    c.cutPeerLink(1, 3, false);
    // Once active, its first view has every member: no owner of a session
    // it backs up is missing from it.
    uint16_t owners_when_active = 0;
    REQUIRE(c.runUntil(
        [&] {
            if (!active(c.node(3).state())) return false;
            owners_when_active = c.node(3).clusterView().owners;
            return true;
        },
        2000));
    CHECK(owners_when_active == (nodeBit(1) | nodeBit(2) | nodeBit(3)));
    CHECK(counter(c, 3, HaCounter::members_not_found) == 0);
}

TEST_CASE("a member reported alive that stays unreachable is given up after the startup wait") {
    TestCluster c({1, 2, 3});
    restartThirdCutFromFirst(c);
    REQUIRE(c.runUntil([&] { return c.node(3).state() == NodeState::tentative; }, 1000));
    const uint64_t since = c.node(3).agent->status().local.last_transition.at_us;
    REQUIRE(c.runUntil([&] { return active(c.node(3).state()); }, 3000));
    const uint64_t waited_us = c.node(3).agent->status().local.last_transition.at_us - since;
    CHECK(waited_us >= 1000000);  // the startup wait (never under a second)
    CHECK(waited_us < 1100000);
    CHECK(counter(c, 3, HaCounter::members_not_found) == 1);
    CHECK(c.node(3).clusterView().owners == (nodeBit(2) | nodeBit(3)));
}

TEST_CASE("a restarted peer is detected by its new incarnation") {
    TestCluster c({1, 2});
    c.startAll();
    REQUIRE(
        c.runUntil([&] { return active(c.node(1).state()) && active(c.node(2).state()); }, 2000));
    c.crash(2);
    c.run(30);  // back before the hold time passed
    c.start(2);
    REQUIRE(c.runUntil([&] { return active(c.node(2).state()); }, 2000));
    CHECK(counter(c, 1, HaCounter::peer_restart) == 1);
    CHECK(c.node(1).state() == NodeState::active_primary);
}

TEST_CASE("a cluster view is published on every change, with a new epoch") {
    TestCluster c({1, 2});
    c.start(1);
    const uint8_t e0 = c.node(1).clusterView().epoch;
    c.run(1100);
    const uint8_t e1 = c.node(1).clusterView().epoch;
    CHECK(e1 != e0);
    c.run(100);
    CHECK(c.node(1).clusterView().epoch == e1);  // nothing changed
    c.start(2);
    c.run(300);
    CHECK(c.node(1).clusterView().epoch != e1);
    CHECK(counter(c, 1, HaCounter::views_published) >= 3);
}

}  // namespace
}  // namespace tandem
