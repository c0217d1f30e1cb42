// The in-memory network the HA tests run on: delivery on simulated time,
// loss, duplication, partitions, filters, crashes.
#include "fake_transport.h"

#include <doctest/doctest.h>

namespace tandem {
namespace {

std::vector<std::string> drain(FakeTransport& t) {
    std::vector<std::string> out;
    TransportEvent ev;
    while (t.poll(&ev)) out.push_back(ev.bytes);
    return out;
}

TEST_CASE("messages arrive after their delay, in order, with their sender") {
    SimulatedClock clock;
    FakeNetwork net(clock);
    FakeTransport& a = net.attach(1);
    FakeTransport& b = net.attach(2);
    net.setRules(1, 2, {0, 0, 500, 0});
    CHECK(a.send(2, HaChannel::sync, "one"));
    CHECK(a.send(2, HaChannel::sync, "two"));
    CHECK(drain(b).empty());
    clock.advanceUs(500);
    TransportEvent ev;
    REQUIRE(b.poll(&ev));
    CHECK(ev.bytes == "one");
    CHECK(ev.peer == 1);
    CHECK(ev.authenticated == 1);
    CHECK(ev.channel == HaChannel::sync);
    CHECK(drain(b) == std::vector<std::string>{"two"});
}

TEST_CASE("a partition cuts one channel or both, and heals") {
    SimulatedClock clock;
    FakeNetwork net(clock);
    FakeTransport& a = net.attach(1);
    FakeTransport& b = net.attach(2);
    net.partition(1, 2, true, HaChannel::sync);
    a.send(2, HaChannel::sync, "lost");
    a.send(2, HaChannel::control, "kept");
    b.send(1, HaChannel::sync, "lost too");
    CHECK(drain(b) == std::vector<std::string>{"kept"});
    CHECK(drain(a).empty());
    net.partition(1, 2, false);
    a.send(2, HaChannel::sync, "back");
    CHECK(drain(b) == std::vector<std::string>{"back"});
    CHECK(net.dropped() == 2);
}

TEST_CASE("loss and duplication follow the seed, the same every run") {
    auto run = [] {
        SimulatedClock clock;
        FakeNetwork net(clock, 7);
        FakeTransport& a = net.attach(1);
        FakeTransport& b = net.attach(2);
        net.setDefaultRules({0.3, 0.2, 0, 100});
        for (int i = 0; i < 200; ++i) a.send(2, HaChannel::sync, std::to_string(i));
        clock.advanceUs(1000);
        return drain(b);
    };
    const auto first = run();
    CHECK(first == run());
    CHECK(first.size() > 120);
    CHECK(first.size() < 200);
}

TEST_CASE("a detached node neither sends nor receives until it attaches again") {
    SimulatedClock clock;
    FakeNetwork net(clock);
    FakeTransport& a = net.attach(1);
    FakeTransport& b = net.attach(2);
    a.send(2, HaChannel::control, "before");
    net.detach(2);
    CHECK_FALSE(b.send(1, HaChannel::control, "x"));
    a.send(2, HaChannel::control, "while down");
    net.attach(2);
    CHECK(drain(b).empty());
    a.send(2, HaChannel::control, "after");
    CHECK(drain(b) == std::vector<std::string>{"after"});
}

TEST_CASE("a filter drops chosen messages and inject delivers forged ones") {
    SimulatedClock clock;
    FakeNetwork net(clock);
    FakeTransport& a = net.attach(1);
    FakeTransport& b = net.attach(2, false);
    net.setFilter(
        [](NodeId, NodeId, HaChannel, std::string_view bytes) { return bytes == "drop"; });
    a.send(2, HaChannel::sync, "drop");
    a.send(2, HaChannel::sync, "keep");
    TransportEvent forged;
    forged.peer = 9;
    forged.bytes = "forged";
    net.inject(2, forged);
    TransportEvent ev;
    REQUIRE(b.poll(&ev));
    CHECK(ev.bytes == "keep");
    CHECK(ev.authenticated == kNoNode);  // node 2 does not authenticate
    REQUIRE(b.poll(&ev));
    CHECK(ev.peer == 9);
}

}  // namespace
}  // namespace tandem
