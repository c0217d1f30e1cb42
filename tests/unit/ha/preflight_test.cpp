// The pre-flight check: which differences keep two nodes from pairing, and
// the reason each gives.
#include "ha/preflight.h"

#include <doctest/doctest.h>

#include "ha_test_util.h"

namespace tandem {
namespace {

HaHello hello(NodeId id, uint32_t mtu = 9001) {
    return makeLocalHello(test::makeConfig(id, {1, 2}), 100 + id, mtu);
}

TEST_CASE("two nodes of one cluster config pass the pre-flight check") {
    CHECK(preflightMismatch(hello(1), hello(2), 2).empty());
    CHECK(hello(1).config_fingerprint == hello(2).config_fingerprint);
    CHECK(hello(1).members_mask == 0b11);
}

TEST_CASE("a HELLO naming another node than its sender is refused") {
    CHECK(preflightMismatch(hello(1), hello(2), 3) == "HELLO names node 2 but came from node 3");
}

TEST_CASE("a different software major.minor is refused, a different patch level is not") {
    HaHello theirs = hello(2);
    theirs.software_version = majorMinor(hello(1).software_version) + ".99";
    CHECK(preflightMismatch(hello(1), theirs, 2).empty());
    theirs.software_version = "99.0.0";
    CHECK(preflightMismatch(hello(1), theirs, 2).find("software version is 99.0.0") !=
          std::string::npos);
    CHECK(majorMinor("1.2.3") == "1.2");
    CHECK(majorMinor("7") == "7");
}

TEST_CASE("a peer-link MTU mismatch is caught at join, an unknown MTU is not compared") {
    CHECK(preflightMismatch(hello(1, 9001), hello(2, 1500), 2) ==
          "the peer-link MTU is 1500 on node 2, 9001 here");
    CHECK(preflightMismatch(hello(1, 9001), hello(2, 0), 2).empty());
}

TEST_CASE("timers, owner election and preempt must match") {
    HaHello theirs = hello(2);
    theirs.heartbeat_interval_ms = 50;
    CHECK(preflightMismatch(hello(1), theirs, 2) ==
          "heartbeat-interval is 50 ms on node 2, 25 ms here");
    theirs = hello(2);
    theirs.peer_link_detect_ms = 60;
    CHECK(preflightMismatch(hello(1), theirs, 2) ==
          "peer-link-detect is 60 ms on node 2, 0 ms here");
    theirs = hello(2);
    theirs.preempt = true;
    CHECK(preflightMismatch(hello(1), theirs, 2) == "preempt is true on node 2, false here");
    theirs = hello(2);
    theirs.session_owner = uint8_t(OwnerElection::primary);
    CHECK(preflightMismatch(hello(1), theirs, 2) ==
          "session-owner is primary on node 2, first-packet here");
}

TEST_CASE("anything else the fingerprint covers is refused as a fingerprint mismatch") {
    HaHello theirs = hello(2);
    theirs.config_fingerprint ^= 1;
    CHECK(preflightMismatch(hello(1), theirs, 2) == "the config fingerprint differs from node 2's");
}

TEST_CASE("NAT pools that differ change the fingerprint: the nodes would share ports") {
    Config a = test::makeConfig(1, {1, 2}), b = test::makeConfig(2, {1, 2});
    NatPool pool;
    pool.name = "public";
    pool.spec.first_addr = pool.spec.last_addr = 0xc6336400;
    a.nat.pools = b.nat.pools = {pool};
    CHECK(makeLocalHello(a, 1, 0).config_fingerprint == makeLocalHello(b, 2, 0).config_fingerprint);
    b.nat.pools[0].spec.block_size = 128;
    CHECK(makeLocalHello(a, 1, 0).config_fingerprint != makeLocalHello(b, 2, 0).config_fingerprint);
    b.nat.pools = {};
    CHECK(makeLocalHello(a, 1, 0).config_fingerprint != makeLocalHello(b, 2, 0).config_fingerprint);
}

TEST_CASE("with NAT both nodes must have the same workers and steering") {
    Config a = test::makeConfig(1, {1, 2}), b = test::makeConfig(2, {1, 2});
    NatPool pool;
    pool.name = "public";
    pool.spec.first_addr = pool.spec.last_addr = 0xc6336400;
    a.nat.pools = b.nat.pools = {pool};
    a.nat.rules = b.nat.rules = {NatRule{}};  // snat to it
    a.dataplane.workers = b.dataplane.workers = 2;
    const WorkerMap software = WorkerMap::software(2), rss = WorkerMap::rss(2, 128);
    CHECK(
        preflightMismatch(makeLocalHello(a, 1, 0, &software), makeLocalHello(b, 2, 0), 2).empty());
    CHECK(preflightMismatch(makeLocalHello(a, 1, 0, &software), makeLocalHello(b, 2, 0, &rss), 2) ==
          "with [nat] both nodes must steer alike: node 2 has 2 workers, rss steering over 128 "
          "entries, this node 2 workers, software steering");
    b.dataplane.workers = 1;
    CHECK(preflightMismatch(makeLocalHello(a, 1, 0), makeLocalHello(b, 2, 0), 2) ==
          "with [nat] both nodes must steer alike: node 2 has 1 worker, this node 2 workers, "
          "software steering");
    // Without translation the workers are each node's own business.
    a.nat.pools = b.nat.pools = {};
    a.nat.rules = b.nat.rules = {};
    CHECK(preflightMismatch(makeLocalHello(a, 1, 0), makeLocalHello(b, 2, 0), 2).empty());
}

}  // namespace
}  // namespace tandem
