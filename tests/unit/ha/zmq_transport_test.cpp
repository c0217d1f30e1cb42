// The ZeroMQ transport on loopback: two agents pair with CURVE keys, an
// unknown key is refused by the ZAP handler, a key that proves another node
// id is refused by the agent, a bulk sync crosses real sockets, and a
// connection that announces a frame over the largest HA message or never
// completes its handshake is closed. Real time: each case polls until its
// outcome or a deadline, and ctest runs it alone (RUN_SERIAL). What is
// tested is the sockets and the keys, not how fast a death is noticed: the
// hold time is 20 heartbeats (1 s), each poll waits at most one heartbeat
// interval, and the agents must never declare each other dead (a scheduler
// stall under a sanitizer stays well below the hold time; a pairing that
// only held between flaps would fail).
#include "ha/zmq_transport.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/log.h"
#include "ha/curve_keypair.h"
#include "ha/ha_agent.h"
#include "ha/preflight.h"
#include "ha_test_util.h"

namespace tandem {
namespace {

using Steady = std::chrono::steady_clock;

// Ports below the kernel's ephemeral range (32768 and up by default), so
// that no connection's source port, of this test or of one running beside
// it, can take a port before the test listens on it.
int basePort() {
    static const int base = 10000 + int(getpid() % 700) * 32;  // 32 apart: offsets reach 27
    return base;
}

std::string endpoint(int port) {
    return "tcp://127.0.0.1:" + std::to_string(port);
}

struct Keys {
    CurveKeypair k[4];
    Keys() {
        for (auto& kp : k) {
            auto g = generateCurveKeypair();
            REQUIRE(g);
            kp = *g;
        }
    }
};

// Heartbeat and hold time on the real clock (see the top of the file).
constexpr uint32_t kHeartbeatMs = 50;
constexpr uint32_t kHoldMs = 20 * kHeartbeatMs;
// A poll step's longest wait for a message: one heartbeat interval, so
// that every agent steps (and sends its heartbeats) at least that often.
constexpr int kWaitMs = int(kHeartbeatMs);

/// Node `self`'s config for the nodes in `all`, listening on basePort()+offset+id.
Config zmqConfig(NodeId self, const std::vector<NodeId>& all, const Keys& keys, int offset) {
    Config c = test::makeConfig(self, all);
    c.ha.heartbeat_interval_ms = kHeartbeatMs;
    c.ha.hold_time_ms = kHoldMs;
    c.ha.listen = endpoint(basePort() + offset + self);
    c.ha.secret_key = keys.k[self].secret_key;
    c.ha.public_key = keys.k[self].public_key;
    for (PeerConfig& p : c.peers) {
        p.ha_address = endpoint(basePort() + offset + p.id);
        p.public_key = keys.k[p.id].public_key;
    }
    return c;
}

std::unique_ptr<ZmqTransport> transportFor(const ZmqTransportConfig& cfg) {
    std::string error;
    auto t = ZmqTransport::create(cfg, &error);
    INFO(error);
    REQUIRE(t);
    return t;
}

bool pollUntil(const std::function<void()>& step, const std::function<bool()>& done,
               double seconds) {
    const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
    while (Steady::now() < deadline) {
        step();
        if (done()) return true;
    }
    return done();
}

TEST_CASE("generated CURVE keys are Z85 text and the public key derives from the secret") {
    REQUIRE(curveAvailable());
    auto k = generateCurveKeypair();
    REQUIRE(k);
    CHECK(k->public_key.size() == 40);
    CHECK(k->secret_key.size() == 40);
    CHECK(curvePublicKeyOf(k->secret_key) == k->public_key);
    CHECK_FALSE(curvePublicKeyOf("short"));
}

TEST_CASE("a bad endpoint or a missing peer key is refused at creation with a reason") {
    Keys keys;
    ZmqTransportConfig cfg;
    cfg.self = 1;
    cfg.listen = "not-an-endpoint";
    std::string error;
    CHECK_FALSE(ZmqTransport::create(cfg, &error));
    CHECK(error.find("HA transport") != std::string::npos);
    cfg.listen = endpoint(basePort() + 7);
    cfg.secret_key = keys.k[1].secret_key;
    cfg.peers.push_back({2, endpoint(basePort() + 6), ""});
    CHECK_FALSE(ZmqTransport::create(cfg, &error));
    CHECK(error == "[peer.2] needs a valid public-key when [ha] has a secret key");
}

TEST_CASE("two agents pair over ZeroMQ with CURVE keys and an unknown key is refused") {
    setLogLevel("ha", LogLevel::error);
    Keys keys;
    MonotonicClock clock;
    const Config c1 = zmqConfig(1, {1, 2}, keys, 0), c2 = zmqConfig(2, {1, 2}, keys, 0);
    auto t1 = transportFor(ZmqTransportConfig::fromConfig(c1));
    auto t2 = transportFor(ZmqTransportConfig::fromConfig(c2));
    // An intruder: node 2's name and node 1's address, but a key nobody lists.
    ZmqTransportConfig xc;
    xc.self = 2;
    xc.listen = endpoint(basePort() + 5);
    xc.secret_key = keys.k[3].secret_key;
    xc.peers.push_back({1, c1.ha.listen, keys.k[1].public_key});
    auto tx = transportFor(xc);
    CHECK(t1->authenticates());

    ClusterViewCell v1, v2;
    HaAgent a1(c1, clock, *t1, {}, v1), a2(c2, clock, *t2, {}, v2);
    bool intruder_refused = false;
    auto step = [&] {
        a1.step();
        a2.step();
        tx->send(1, HaChannel::control, "let me in");
        TransportEvent ev;
        while (tx->poll(&ev)) intruder_refused |= ev.kind == TransportEventKind::auth_failed;
        t1->wait(kWaitMs);
    };
    // Which node is primary depends on who finished its handshakes first
    // (no preempt): one of each is what matters.
    REQUIRE(pollUntil(
        step,
        [&] {
            const NodeState s1 = a1.state(), s2 = a2.state();
            return intruder_refused && canOwnSessions(s1) && canOwnSessions(s2) && s1 != s2 &&
                   v1.load().owners == (nodeBit(1) | nodeBit(2)) &&
                   v1.load().primary == v2.load().primary;
        },
        15));
    CHECK(t1->counter(ZmqTransportCounter::zap_rejected_unknown_key) > 0);
    CHECK(t1->counter(ZmqTransportCounter::zap_accepted) >= 2);
    CHECK(t1->counter(ZmqTransportCounter::rx_messages) > 0);
    CHECK(a1.counters().get(HaCounter::auth_id_mismatch) == 0);
    CHECK(a1.counters().get(HaCounter::peer_down) == 0);
    CHECK(a2.counters().get(HaCounter::peer_down) == 0);
    const HaStatus s = a1.status();
    CHECK(s.peers[0].alive);
    bool has_zap_counter = false;
    for (const CounterValue& c : s.transport_counters)
        has_zap_counter |= c.name == "zap_rejected_unknown_key" && c.value > 0;
    CHECK(has_zap_counter);
}

TEST_CASE("a peer whose key proves another node id is refused by the agent") {
    setLogLevel("ha", LogLevel::error);
    Keys keys;
    MonotonicClock clock;
    const Config c1 = zmqConfig(1, {1, 2, 3}, keys, 10);
    auto t1 = transportFor(ZmqTransportConfig::fromConfig(c1));
    // Node 3's keys, presenting itself as node 2.
    ZmqTransportConfig ic;
    ic.self = 2;
    ic.listen = endpoint(basePort() + 15);
    ic.secret_key = keys.k[3].secret_key;
    ic.peers.push_back({1, c1.ha.listen, keys.k[1].public_key});
    auto impostor = transportFor(ic);
    ClusterViewCell v1;
    HaAgent a1(c1, clock, *t1, {}, v1);
    HaHello h = makeLocalHello(test::makeConfig(2, {1, 2, 3}), 77, 0);
    HaEnvelope e;
    e.cluster_id = c1.node.cluster_id;
    e.from = 2;
    e.to = 1;
    const std::string bytes = encodeHaMessage(e, h);
    auto step = [&] {
        a1.step();
        impostor->send(1, HaChannel::control, bytes);
        TransportEvent ev;
        while (impostor->poll(&ev)) {
        }
        t1->wait(kWaitMs);
    };
    REQUIRE(pollUntil(
        step, [&] { return a1.counters().get(HaCounter::auth_id_mismatch) > 0; }, 15));
    CHECK_FALSE(a1.status().peers[0].paired);
    CHECK(a1.counters().get(HaCounter::hello_rx) == 0);
}

TEST_CASE("a bulk sync crosses ZeroMQ loopback") {
    setLogLevel("ha", LogLevel::error);
    Keys keys;
    MonotonicClock clock;
    const Config c1 = zmqConfig(1, {1, 2}, keys, 20), c2 = zmqConfig(2, {1, 2}, keys, 20);
    auto t1 = transportFor(ZmqTransportConfig::fromConfig(c1));
    auto t2 = transportFor(ZmqTransportConfig::fromConfig(c2));
    test::FakeWorker w1(1, 0, 65536, 65536), w2(2, 0, 65536, 65536);
    const uint32_t n = 20000;
    for (uint32_t i = 0; i < n; ++i) {
        const Session s = test::makeSession(i, 1, 2, clock.nowMs());
        w1.table[s.key()] = s;
    }
    ClusterViewCell v1, v2;
    HaAgent a1(c1, clock, *t1, {&w1.channel}, v1);
    auto step1 = [&] {
        w1.service(clock.nowMs());
        a1.step();
        t1->wait(kWaitMs);
    };
    // Alone, a node waits max(hold time, 1 s) for peers before it owns.
    REQUIRE(pollUntil(
        step1, [&] { return a1.state() == NodeState::active_primary; }, 5 + kHoldMs / 1000.0));
    HaAgent a2(c2, clock, *t2, {&w2.channel}, v2);
    const auto t0 = Steady::now();
    auto step = [&] {
        w1.service(clock.nowMs());
        w2.service(clock.nowMs());
        a1.step();
        a2.step();
    };
    REQUIRE(pollUntil(
        step, [&] { return canOwnSessions(a2.state()); }, 30));
    step();
    const double s = std::chrono::duration<double>(Steady::now() - t0).count();
    // Active because the bulk sync completed, not because it gave up on a1.
    CHECK(a2.counters().get(HaCounter::peer_down) == 0);
    CHECK(a1.counters().get(HaCounter::peer_down) == 0);
    CHECK(a2.counters().get(HaCounter::bulk_received) == 1);
    CHECK(w2.table.size() == n);
    std::printf("bulk sync of %u sessions over ZeroMQ loopback (CURVE): %.3f s, %.0f records/s\n",
                n, s, n / s);
}

// ---- pre-authentication limits ---------------------------------------------------------------

// A raw TCP client speaking ZMTP 3.0 by hand (ZeroMQ RFC 23): what an
// attacker who reaches [ha] listen can send without any key.
struct RawZmtpClient {
    int fd = -1;
    explicit RawZmtpClient(int port) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(uint16_t(port));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~RawZmtpClient() { close(fd); }
    void send(const std::string& bytes) {
        REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()));
    }
    // True once the server closed the connection, reading (and dropping)
    // whatever it sent; false if it was still open after `seconds`.
    bool closedWithin(double seconds) {
        const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
        char buf[4096];
        while (Steady::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        }
        return false;
    }
};

std::string zmtpGreeting(std::string_view mechanism) {
    std::string g(64, '\0');
    g[0] = char(0xff), g[9] = 0x7f, g[10] = 3, g[11] = 0;  // signature, version 3.0
    g.replace(12, mechanism.size(), mechanism);            // 20-byte mechanism name
    return g;
}

// READY of the NULL mechanism for a DEALER, then the head of one message
// frame of `bytes` bytes (8-byte length) followed by `first` bytes of it.
std::string nullReadyAndFrameHead(uint64_t bytes, size_t first) {
    std::string body = "\x05READY";
    body += "\x0bSocket-Type";
    body += std::string("\0\0\0\x06", 4) + "DEALER";
    std::string out = "\x04";
    out += char(body.size());
    out += body;
    out += '\x02';  // a long message frame, the last one
    for (int i = 7; i >= 0; --i) out += char(uint8_t(bytes >> (8 * i)));
    out += std::string(first, 'x');
    return out;
}

// Polls `t` for `seconds`; the sizes of the messages it received.
std::vector<size_t> received(ZmqTransport& t, double seconds) {
    std::vector<size_t> sizes;
    const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
    while (Steady::now() < deadline) {
        TransportEvent ev;
        while (t.poll(&ev))
            if (ev.kind == TransportEventKind::message) sizes.push_back(ev.bytes.size());
        t.wait(20000);
    }
    return sizes;
}

TEST_CASE("a connection that announces a frame over the largest HA message is closed at once") {
    ZmqTransportConfig cfg;
    cfg.self = 1;
    cfg.listen = endpoint(basePort() + 24);
    auto t = transportFor(cfg);
    // A greeting, READY, and the head of a 1 GiB frame: without a limit the
    // receiver keeps the connection and buffers whatever of it arrives.
    RawZmtpClient raw(basePort() + 24);
    raw.send(zmtpGreeting("NULL") + nullReadyAndFrameHead(uint64_t(1) << 30, 4096));
    CHECK(raw.closedWithin(5));
    RawZmtpClient just_over(basePort() + 24);
    just_over.send(zmtpGreeting("NULL") + nullReadyAndFrameHead(kMaxHaMessageBytes + 1, 16));
    CHECK(just_over.closedWithin(5));
    CHECK(t->counter(ZmqTransportCounter::rx_messages) == 0);

    // The receiver still serves others, and a legal message of the largest
    // size passes.
    zmq::context_t ctx;
    zmq::socket_t dealer(ctx, zmq::socket_type::dealer);
    dealer.set(zmq::sockopt::linger, 0);
    dealer.set(zmq::sockopt::routing_id, "2s");
    dealer.connect(cfg.listen);
    dealer.send(zmq::buffer(std::string(kMaxHaMessageBytes, 'a')), zmq::send_flags::none);
    const std::vector<size_t> got = received(*t, 2);
    REQUIRE(got.size() == 1);
    CHECK(got[0] == kMaxHaMessageBytes);
}

TEST_CASE("over CURVE the largest HA message passes and one byte more never arrives") {
    setLogLevel("ha", LogLevel::error);
    Keys keys;
    const Config c1 = zmqConfig(1, {1, 2}, keys, 24), c2 = zmqConfig(2, {1, 2}, keys, 24);
    auto t1 = transportFor(ZmqTransportConfig::fromConfig(c1));
    auto t2 = transportFor(ZmqTransportConfig::fromConfig(c2));
    std::vector<size_t> got;  // sizes of the messages node 1 received
    auto pump = [&] {
        TransportEvent ev;
        while (t1->poll(&ev))  // serves the ZAP handler too
            if (ev.kind == TransportEventKind::message) got.push_back(ev.bytes.size());
        while (t2->poll(&ev)) {
        }
        t1->wait(20000);
    };
    auto pumpFor = [&](double seconds) {
        pollUntil(
            pump, [] { return false; }, seconds);
    };
    auto sendWhenConnected = [&](const std::string& bytes) {
        REQUIRE(pollUntil(
            pump, [&] { return t2->send(1, HaChannel::sync, bytes); }, 10));
    };
    const std::string largest(kMaxHaMessageBytes, 'b');
    sendWhenConnected(largest);
    pumpFor(2);
    CHECK(got == std::vector<size_t>{kMaxHaMessageBytes});
    got.clear();
    sendWhenConnected(largest + "b");
    pumpFor(2);
    CHECK(got.empty());
    // The sender reconnects, and what it sends then arrives (what it sent
    // while the closed connection was being torn down may be lost).
    for (int i = 0; i < 50 && got.empty(); ++i) {
        t2->send(1, HaChannel::sync, "after");
        pumpFor(0.2);
    }
    CHECK(!got.empty());
    CHECK(std::count(got.begin(), got.end(), size_t(5)) == ptrdiff_t(got.size()));
}

TEST_CASE("a connection that does not complete its handshake is closed within seconds") {
    Keys keys;
    ZmqTransportConfig cfg;
    cfg.self = 1;
    cfg.listen = endpoint(basePort() + 27);
    cfg.secret_key = keys.k[1].secret_key;
    auto t = transportFor(cfg);
    RawZmtpClient raw(basePort() + 27);
    raw.send(zmtpGreeting("CURVE"));  // and then nothing: no HELLO
    CHECK(raw.closedWithin(8));       // ZeroMQ's default: 30 s
}

}  // namespace
}  // namespace tandem
