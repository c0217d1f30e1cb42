// decideSteering (dataplane/steering_decision.h): which steering a node
// runs for each thing its ports' devices lack, and the errors that stop
// start-up when rss was asked for.
#include "dataplane/steering_decision.h"

#include <doctest/doctest.h>

using namespace tandem;

namespace {

// A device that can: what ENA reports (40-byte key, 128 entries, TCP and
// UDP over IPv4 and IPv6).
PortRssCapability capable(const std::string& name, uint16_t reta_size = 128) {
    PortRssCapability p;
    p.name = name;
    p.device = "0000:00:0" + name.substr(0, 1) + ".0";
    p.hash_key_size = 40;
    p.reta_size = reta_size;
    p.flows = kRssFlowsNeeded;
    p.toeplitz = true;
    return p;
}

// What DPDK's net_af_packet, net_tap, net_pcap and net_null report: no RSS.
PortRssCapability afPacket(const std::string& name) {
    PortRssCapability p;
    p.name = name;
    p.device = "net_af_packet0,iface=" + name + ",qpairs=2";
    return p;
}

// `ports` cannot run rss steering, for the reason `why`: auto runs software
// steering over `workers` and says why; an explicit rss stops with it.
void checkCannot(const std::vector<PortRssCapability>& ports, unsigned workers, bool geneve,
                 const std::string& why) {
    const SteeringDecision automatic =
        decideSteering(SteeringSetting::automatic, workers, geneve, ports);
    REQUIRE(automatic.map);
    CHECK(automatic.map->steering() == Steering::software);
    CHECK(automatic.map->workers() == workers);
    CHECK(automatic.message == why);
    const SteeringDecision asked = decideSteering(SteeringSetting::rss, workers, geneve, ports);
    CHECK_FALSE(asked.map);
    CHECK(asked.message == "[dataplane] steering = rss: " + why);
}

}  // namespace

TEST_CASE("auto picks rss where every port can, over the smallest redirection table") {
    const SteeringDecision d = decideSteering(SteeringSetting::automatic, 4, false,
                                              {capable("a", 512), capable("b"), capable("c")});
    REQUIRE(d.map);
    CHECK(d.map->steering() == Steering::rss);
    CHECK(d.map->workers() == 4);
    CHECK(d.map->retaSize() == 128);
    CHECK(d.message ==
          "every port can: devices hash with the symmetric key over a redirection table of 128 "
          "entries");
    const SteeringDecision asked =
        decideSteering(SteeringSetting::rss, 2, false, {capable("a"), capable("b")});
    REQUIRE(asked.map);
    CHECK(asked.map->steering() == Steering::rss);
}

TEST_CASE("each missing capability leaves auto with software and stops an explicit rss") {
    struct Case {
        const char* what;
        void (*lack)(PortRssCapability&);
        const char* lacks;
    };
    const Case cases[] = {
        {"no key", [](PortRssCapability& p) { p.hash_key_size = 0; },
         "no settable 40-byte RSS key (the device takes 0)"},
        {"a 52-byte key", [](PortRssCapability& p) { p.hash_key_size = 52; },
         "no settable 40-byte RSS key (the device takes 52)"},
        {"no Toeplitz", [](PortRssCapability& p) { p.toeplitz = false; }, "no Toeplitz hash"},
        {"no IPv6 UDP", [](PortRssCapability& p) { p.flows &= uint8_t(~kRssIpv6Udp); },
         "no RSS over ipv6-udp"},
        {"no TCP", [](PortRssCapability& p) { p.flows = kRssIpv4Udp | kRssIpv6Udp; },
         "no RSS over ipv4-tcp, ipv6-tcp"},
        {"no table", [](PortRssCapability& p) { p.reta_size = 0; }, "no redirection table"},
        {"a table too small", [](PortRssCapability& p) { p.reta_size = 2; },
         "a redirection table of 2 entries, fewer than 4 workers"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.what);
        PortRssCapability peer = capable("peer");
        c.lack(peer);
        const std::vector<PortRssCapability> ports = {capable("a"), capable("b"), peer};
        checkCannot(ports, 4, false, std::string("port 'peer' (0000:00:0p.0) cannot: ") + c.lacks);
    }
}

TEST_CASE("a lab node on af_packet runs software steering, and cannot run rss") {
    // What DPDK's af_packet driver reports; tandemd with two workers on it
    // logs this reason under auto and stops with it under rss.
    checkCannot({afPacket("veth0"), afPacket("veth1")}, 2, false,
                "port 'veth0' (net_af_packet0,iface=veth0,qpairs=2) cannot: no settable 40-byte "
                "RSS key (the device takes 0); no Toeplitz hash; no RSS over ipv4-tcp, ipv4-udp, "
                "ipv6-tcp, ipv6-udp; no redirection table");
}

TEST_CASE("geneve mode never runs rss steering") {
    checkCannot({capable("a")}, 4, true,
                "geneve mode: devices hash a tunnel's outer header, not the flows inside it");
}

TEST_CASE("one worker or steering = software: software, whatever the devices") {
    const std::vector<PortRssCapability> ports = {capable("a"), capable("b")};
    for (SteeringSetting s :
         {SteeringSetting::automatic, SteeringSetting::rss, SteeringSetting::software}) {
        CAPTURE(steeringSettingName(s));
        const SteeringDecision one = decideSteering(s, 1, false, {afPacket("x")});
        REQUIRE(one.map);
        CHECK(one.map->steering() == Steering::software);
        CHECK(one.map->workers() == 1);
        CHECK(one.message == "one worker: nothing to steer");
    }
    const SteeringDecision sw = decideSteering(SteeringSetting::software, 4, false, ports);
    REQUIRE(sw.map);
    CHECK(sw.map->steering() == Steering::software);
    CHECK(sw.message == "[dataplane] steering = software");
}

TEST_CASE("redirection tables that do not divide each other cannot agree") {
    checkCannot({capable("a", 128), capable("b", 192)}, 4, false,
                "port 'b' (0000:00:0b.0) has a redirection table of 192 entries, not a multiple "
                "of port 'a' (0000:00:0a.0)'s 128");
}
