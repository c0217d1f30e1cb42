// Which worker owns a translated flow (nat/nat_steering.h): a flow with an
// endpoint at a pool port belongs to the port's block's worker, one with an
// endpoint at a dnat target is steered as its public address and port, and
// every other flow as the node's WorkerMap says.
#include "nat/nat_steering.h"

#include <doctest/doctest.h>

#include <set>

using namespace tandem;

namespace {

constexpr uint8_t kTcp = 6, kUdp = 17;

NatSetup setup(uint16_t members) {
    NatTextError e;
    NatSetup s;
    s.pools = {
        *parseNatPool("public 198.51.100.10-198.51.100.11 ports 20000-20511 block-size 64", &e)};
    const std::vector<NatRule> rules = {
        *parseNatRule("dnat dst 198.51.100.20 proto tcp dport 443 to 10.0.5.20:8443", s.pools, &e),
        *parseNatRule("dnat dst 198.51.100.21 to 10.0.5.21", s.pools, &e),
        *parseNatRule("snat pool public", s.pools, &e)};
    std::string error;
    s.rules = NatRules::compile(rules, s.pools, {}, &error);
    REQUIRE(s.rules);
    s.members = members;
    return s;
}

uint32_t v4(const char* text) {
    return parseIpAddr(text)->v4();
}

FlowKey keyOf(uint32_t a, uint16_t pa, uint32_t b, uint16_t pb, uint8_t proto, uint64_t* hash) {
    FlowKey k;
    *hash = buildFlowKey(IpAddr::fromV4(a), IpAddr::fromV4(b), pa, pb, proto, AddrFamily::v4, 0, &k,
                         nullptr);
    return k;
}

uint32_t workerOf(const WorkerMap& map, const NatSetup& nat, uint32_t a, uint16_t pa, uint32_t b,
                  uint16_t pb, uint8_t proto = kTcp) {
    uint64_t h = 0;
    const FlowKey k = keyOf(a, pa, b, pb, proto, &h);
    return flowWorker(map, &nat, k, h);
}

}  // namespace

TEST_CASE("a flow to a pool port belongs to the worker of the port's block, both ways") {
    for (const WorkerMap& map : {WorkerMap::software(4), WorkerMap::rss(4, 128)}) {
        for (uint16_t members : {uint16_t(0b1), uint16_t(0b11)}) {
            const NatSetup nat = setup(members);
            const PortBlockMap blocks(nat.pools[0].spec, members);
            std::set<uint32_t> seen;
            for (uint32_t addr = v4("198.51.100.10"); addr <= v4("198.51.100.11"); ++addr) {
                for (uint32_t port = 20000; port <= 20511; port += 7) {
                    const uint32_t b = *blocks.blockOf(addr, uint16_t(port));
                    const uint32_t want = natBlockWorker(b, blocks.memberCount(), 4);
                    const uint32_t server = v4("192.0.2.80") + port % 13;
                    CHECK(workerOf(map, nat, server, 443, addr, uint16_t(port)) == want);
                    CHECK(workerOf(map, nat, addr, uint16_t(port), server, 443) == want);
                    seen.insert(want);
                }
            }
            CHECK(seen.size() == 4);  // every worker has blocks
        }
    }
}

TEST_CASE("each worker hands out the ports of its own share of its node's blocks") {
    const NatSetup nat = setup(0b11);
    const PortBlockMap map(nat.pools[0].spec, 0b11);
    std::set<uint32_t> all;
    for (NodeId node : {NodeId(1), NodeId(2)}) {
        size_t total = 0;
        for (uint32_t w = 0; w < 3; ++w) {
            const std::vector<uint32_t> mine = map.blocksOf(node, w, 3);
            CHECK(mine.size() >= map.blocksOf(node).size() / 3);
            for (uint32_t b : mine) {
                CHECK(map.owner(b) == node);
                CHECK(natBlockWorker(b, 2, 3) == w);
                CHECK(all.insert(b).second);
            }
            total += mine.size();
        }
        CHECK(total == map.blocksOf(node).size());
    }
    CHECK(all.size() == map.blocks());
}

TEST_CASE("a lent block keeps its worker index on the node it is lent to") {
    const NatSetup nat = setup(0b11);
    PortBlockMap map(nat.pools[0].spec, 0b11);
    map.setDeparted(nodeBit(2));
    for (uint32_t w = 0; w < 2; ++w)
        for (uint32_t b : map.blocksOf(1, w, 2)) CHECK(natBlockWorker(b, 2, 2) == w);
    CHECK(map.blocksOf(1, 0, 2).size() + map.blocksOf(1, 1, 2).size() == map.blocks());
}

TEST_CASE("a dnat target's flows are steered as the public address and port they stand for") {
    const NatSetup nat = setup(0b1);
    for (const WorkerMap& map : {WorkerMap::software(4), WorkerMap::rss(4, 128)}) {
        std::set<uint32_t> seen;
        for (uint32_t i = 0; i < 400; ++i) {
            const uint32_t client = v4("203.0.113.1") + i * 7;
            const uint16_t cport = uint16_t(30000 + i * 13);
            // A port forward: the client's packets to the public address and
            // the target's replies from its own.
            const uint32_t to_public = workerOf(map, nat, client, cport, v4("198.51.100.20"), 443);
            CHECK(workerOf(map, nat, v4("10.0.5.20"), 8443, client, cport) == to_public);
            CHECK(workerOf(map, nat, client, cport, v4("10.0.5.20"), 8443) == to_public);
            seen.insert(to_public);
            // 1:1: every port, and ICMP (an echo's identifier is its ports).
            for (uint8_t proto : {kTcp, kUdp, uint8_t(1)}) {
                const uint32_t w =
                    workerOf(map, nat, client, cport, v4("198.51.100.21"), cport, proto);
                CHECK(workerOf(map, nat, v4("10.0.5.21"), cport, client, cport, proto) == w);
            }
            // Another port of a port forward's target is its own flow.
            uint64_t h = 0;
            const FlowKey own = keyOf(v4("10.0.5.20"), 22, client, cport, kTcp, &h);
            CHECK(flowWorker(map, &nat, own, h) == map.workerOf(own, h));
        }
        CHECK(seen.size() == 4);
    }
}

TEST_CASE("other flows, one worker, IPv6 and no translation follow the worker map") {
    const NatSetup nat = setup(0b11);
    const WorkerMap map = WorkerMap::software(4);
    for (uint32_t i = 0; i < 200; ++i) {
        uint64_t h = 0;
        const FlowKey k =
            keyOf(v4("10.0.1.10") + i, uint16_t(40000 + i), v4("192.0.2.80"), 443, kTcp, &h);
        CHECK(flowWorker(map, &nat, k, h) == map.workerOf(k, h));
        CHECK(flowWorker(map, nullptr, k, h) == map.workerOf(k, h));
        // A pool address outside the pool's ports.
        const FlowKey p =
            keyOf(v4("198.51.100.10"), uint16_t(1000 + i), v4("192.0.2.80"), 443, kTcp, &h);
        CHECK(flowWorker(map, &nat, p, h) == map.workerOf(p, h));
    }
    uint64_t h = 0;
    const FlowKey k = keyOf(v4("198.51.100.10"), 20000, v4("192.0.2.80"), 443, kTcp, &h);
    CHECK(flowWorker(WorkerMap::software(1), &nat, k, h) == 0);
    FlowKey six;
    const uint64_t h6 = buildFlowKey(*parseIpAddr("2001:db8::1"), *parseIpAddr("2001:db8::2"),
                                     20000, 443, kTcp, AddrFamily::v6, 0, &six, nullptr);
    CHECK(flowWorker(map, &nat, six, h6) == map.workerOf(six, h6));
}

TEST_CASE("frames a device may not keep under rss: to or from a pool or a dnat target") {
    const NatSetup nat = setup(0b11);
    CHECK(natSteersAddresses(nat, v4("192.0.2.80"), v4("198.51.100.11")));
    CHECK(natSteersAddresses(nat, v4("198.51.100.10"), v4("192.0.2.80")));
    CHECK(natSteersAddresses(nat, v4("10.0.5.20"), v4("203.0.113.9")));
    CHECK(natSteersAddresses(nat, v4("203.0.113.9"), v4("10.0.5.21")));
    CHECK_FALSE(natSteersAddresses(nat, v4("10.0.1.10"), v4("192.0.2.80")));
    CHECK_FALSE(natSteersAddresses(nat, v4("198.51.100.12"), v4("198.51.100.20")));
}

TEST_CASE("the steering both nodes must share, in words") {
    CHECK(natSteeringText(WorkerMap::software(1)) == "1 worker");
    CHECK(natSteeringText(WorkerMap::software(2)) == "2 workers, software steering");
    CHECK(natSteeringText(WorkerMap::rss(4, 128)) == "4 workers, rss steering over 128 entries");
}
