// PipelineSettings::shortcuts: the inline parse of plain TCP frames and
// forwardEstablished() must be invisible. Two pipelines, one with them and
// one without, get the same random bursts (handshakes, established traffic
// both ways, data, FIN and RST, segments out of their windows, frames on the
// wrong port or on one with no route, unknown flows, VLAN-tagged and IPv6
// frames, sessions waiting for an application rule) and must answer with
// the same verdicts, the same counters, the same events and the same
// session table after every burst.
#include <doctest/doctest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "pipeline/pipeline.h"
#include "policy_of.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

constexpr uint16_t kOutside = 0, kInside = 1;
constexpr uint16_t kNoRoute = 2;  // a port whose traffic has nowhere to go

std::shared_ptr<const Policy> policyOf(bool app_rule) {
    std::vector<std::string> texts = {
        "deny name no-ssh from inside to outside proto tcp dport 22",
        "allow name web from inside to outside proto tcp dport 80",
        "allow name tls from inside to outside proto tcp dport 443",
    };
    if (app_rule) {
        texts.insert(texts.begin(),
                     "allow name tls-app from inside to outside app tls sni good.example");
    }
    return test::policyOf(texts);
}

struct Variant {
    const char* name;
    bool pickup, window_check, app_rule;
};

struct Node {
    SessionTable table{512, 0};
    WorkerEventRing events{4096};
    std::unique_ptr<Pipeline> pipe;

    Node(const Variant& v, bool shortcuts) {
        PipelineSettings s;
        s.node = 1;
        s.port_count = 3;
        s.ports[kOutside] = {kOutside, kInside};
        s.ports[kInside] = {kInside, kOutside};
        s.ports[kNoRoute] = {kInside, kNoPort};
        s.tcp.pickup = v.pickup;
        s.tcp.window_check = v.window_check;
        s.events = &events;
        s.shortcuts = shortcuts;
        pipe = std::make_unique<Pipeline>(s, table, policyOf(v.app_rule));
    }
};

// One connection as its two ends see it.
struct Flow {
    std::string client, server;
    uint16_t sport = 0, dport = 0;
    uint32_t cseq = 0, sseq = 0;  // next sequence number of each end
    int phase = 0;                // 0 closed, 1 SYN sent, 2 SYN-ACK sent, 3 established
};

class Traffic {
  public:
    explicit Traffic(uint64_t seed) : rng_(seed) {
        for (int i = 0; i < 48; ++i) {
            Flow f;
            const bool v6 = i % 12 == 11;
            f.client = v6 ? "2001:db8::" + std::to_string(10 + i % 4)
                          : "10.0." + std::to_string(i % 3) + "." + std::to_string(10 + i % 5);
            f.server = v6 ? "2001:db8:1::80" : "192.0.2." + std::to_string(80 + i % 2);
            f.sport = uint16_t(40000 + i);
            static const uint16_t kPorts[] = {80, 80, 443, 443, 80, 22};
            f.dport = kPorts[i % 6];
            f.cseq = uint32_t(rng_());
            f.sseq = uint32_t(rng_());
            flows_.push_back(f);
        }
    }

    // The next frame from the client side (inside) or the server side.
    std::vector<uint8_t> next(bool client) {
        const uint64_t roll = pick(100);
        if (roll < 3) return unknown(client);
        // A flow whose next step is this side's: a handshake's, or any
        // segment of an established one.
        Flow* f = &flows_[pick(flows_.size())];
        for (int tries = 0; f->phase < 3 && (f->phase == 1) == client; ++tries) {
            if (tries == 8) return unknown(client);
            f = &flows_[pick(flows_.size())];
        }
        if (roll < 8) return noise(*f, client);
        // Now and then a new connection on the tuple (the last one may
        // have been lost with a frame on the port with no route).
        if (f->phase == 3 && client && pick(50) == 0) f->phase = 0;
        switch (f->phase) {
            case 0:
                f->phase = 1;
                return segment(*f, true, kTcpSyn, 0);
            case 1:
                f->phase = 2;
                return segment(*f, false, kTcpSyn | kTcpAck, 0);
            case 2:
                f->phase = 3;
                return segment(*f, true, kTcpAck, 0);
            default:
                break;
        }
        if (roll < 14) {
            f->phase = 0;
            return segment(*f, client, kTcpRst | (pick(2) ? kTcpAck : 0), 0);
        }
        if (roll < 16) {
            if (pick(2)) f->phase = 0;
            return segment(*f, client, kTcpFin | kTcpAck, 0);
        }
        const size_t payload = pick(3) ? 0 : pick(200);
        return segment(*f, client, kTcpAck | (payload ? kTcpPsh : 0), payload);
    }

    uint64_t pick(uint64_t n) { return rng_() % n; }

  private:
    std::vector<uint8_t> segment(Flow& f, bool client, uint8_t flags, size_t payload) {
        uint32_t& seq = client ? f.cseq : f.sseq;
        const uint32_t ack = client ? f.sseq : f.cseq;
        FrameBuilder b = client ? FrameBuilder::tcp(f.client, f.sport, f.server, f.dport, flags)
                                : FrameBuilder::tcp(f.server, f.dport, f.client, f.sport, flags);
        b.seq(seq).ack((flags & kTcpAck) ? ack : 0).window(uint16_t(1000 + pick(60000)));
        if ((flags & kTcpSyn) && pick(2)) b.wscale(uint8_t(pick(15)));
        if (payload) b.payload(payload);
        if (pick(40) == 0) b.vlan(uint16_t(pick(4096)));
        seq += uint32_t(payload) + ((flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
        return b.build();
    }
    // A segment of a known flow that does not follow it: any flags, numbers
    // anywhere or just off the edge of the window.
    std::vector<uint8_t> noise(Flow& f, bool client) {
        const uint32_t seq = client ? f.cseq : f.sseq, ack = client ? f.sseq : f.cseq;
        const uint32_t off = pick(2) ? uint32_t(rng_()) : uint32_t(pick(200000)) - 100000;
        const uint8_t flags = pick(3) ? uint8_t(kTcpAck) : uint8_t(rng_());
        FrameBuilder b = client ? FrameBuilder::tcp(f.client, f.sport, f.server, f.dport, flags)
                                : FrameBuilder::tcp(f.server, f.dport, f.client, f.sport, flags);
        b.seq(pick(2) ? seq + off : seq).ack(pick(2) ? ack : ack + off);
        if (pick(3) == 0) b.payload(pick(100));
        return b.build();
    }
    // A flow nobody opened: an ACK from somewhere, or a UDP datagram.
    std::vector<uint8_t> unknown(bool client) {
        const std::string a = "10.9." + std::to_string(pick(4)) + "." + std::to_string(pick(250));
        const uint16_t port = uint16_t(1024 + pick(60000));
        if (pick(4) == 0) return FrameBuilder::udp(a, port, "192.0.2.53", 53).payload(20).build();
        FrameBuilder b = client ? FrameBuilder::tcp(a, port, "192.0.2.80", 80, kTcpAck)
                                : FrameBuilder::tcp("192.0.2.80", 80, a, port, kTcpAck);
        return b.seq(uint32_t(rng_())).ack(uint32_t(rng_())).build();
    }

    std::mt19937_64 rng_;
    std::vector<Flow> flows_;
};

bool sameVerdict(const Verdict& a, const Verdict& b) {
    return a.kind == b.kind && a.port == b.port && a.peer == b.peer && a.reason == b.reason &&
           a.notify == b.notify && a.reset == b.reset && a.token == b.token &&
           a.flow_hash == b.flow_hash;
}

bool sameWindow(const TcpWindow& a, const TcpWindow& b) {
    return a.end == b.end && a.max_end == b.max_end && a.max_win == b.max_win &&
           a.wscale == b.wscale && a.flags == b.flags;
}

// Every field of the two entries (their key included).
bool sameSession(const Session& a, const Session& b) {
    return a.key() == b.key() && a.state == b.state && a.owner == b.owner &&
           a.expires_ms == b.expires_ms && a.flags == b.flags && a.ingress_port == b.ingress_port &&
           a.backup_owner == b.backup_owner && a.origin_owner == b.origin_owner &&
           a.version == b.version && a.packets(0) == b.packets(0) && a.packets(1) == b.packets(1) &&
           a.bytes(0) == b.bytes(0) && a.bytes(1) == b.bytes(1) && sameWindow(a.win[0], b.win[0]) &&
           sameWindow(a.win[1], b.win[1]) && a.rule == b.rule && a.created_s == b.created_s;
}

void checkSameTables(const Node& on, const Node& off) {
    REQUIRE(on.table.size() == off.table.size());
    for (uint32_t i = 0; i < on.table.capacity(); ++i) {
        REQUIRE(on.table.inUse(i) == off.table.inUse(i));
        if (!on.table.inUse(i)) continue;
        INFO("session " << i);
        REQUIRE(sameSession(on.table.at(i), off.table.at(i)));
    }
}

void checkSameCounters(const Node& on, const Node& off) {
    for (size_t c = 0; c < kPipelineCounterCount; ++c) {
        const auto which = static_cast<PipelineCounter>(c);
        INFO("counter " << std::string(kPipelineCounterInfo[c].name));
        REQUIRE(on.pipe->counters().get(which) == off.pipe->counters().get(which));
    }
    for (size_t c = 0; c < kParseResultCount; ++c) {
        const auto which = static_cast<ParseResult>(c);
        REQUIRE(on.pipe->parseCounters().get(which) == off.pipe->parseCounters().get(which));
    }
}

void checkSameEvents(Node& on, Node& off) {
    WorkerEvent a, b;
    while (on.events.pop(&a)) {
        REQUIRE(off.events.pop(&b));
        CHECK(a.kind == b.kind);
        CHECK(a.defer_token == b.defer_token);
        CHECK(sameSession(a.session, b.session));
    }
    CHECK_FALSE(off.events.pop(&b));
}

}  // namespace

TEST_CASE(
    "the established-flow shortcuts give the verdicts, counters and sessions of the full "
    "path") {
    const Variant variants[] = {
        {"handshakes, windows checked", false, true, false},
        {"mid-stream pickup, windows checked", true, true, false},
        {"mid-stream pickup, windows not checked", true, false, false},
        {"an application rule on port 443", false, true, true},
    };
    for (const Variant& variant : variants) {
        INFO(std::string(variant.name));
        Node on(variant, true), off(variant, false);
        Traffic traffic(uint64_t(variant.pickup) * 2 + variant.window_check + variant.app_rule * 4);
        uint32_t now = 1000;
        uint64_t frames = 0;
        for (int burst = 0; burst < 3000; ++burst) {
            // Mostly the port a frame's direction enters by, now and then
            // the other one or a port with no route.
            const uint64_t where = traffic.pick(20);
            const uint16_t port = where < 10 ? kInside : where < 19 ? kOutside : kNoRoute;
            const uint32_t n = 1 + uint32_t(traffic.pick(Pipeline::kMaxBurst));
            std::vector<std::vector<uint8_t>> a(n), b(n);
            std::vector<uint8_t*> fa(n), fb(n);
            std::vector<uint16_t> lens(n);
            for (uint32_t i = 0; i < n; ++i) {
                // Now and then a frame of the other direction on this port.
                const bool client = (port != kOutside) != (traffic.pick(10) == 0);
                a[i] = traffic.next(client);
                b[i] = a[i];
                fa[i] = a[i].data(), fb[i] = b[i].data();
                lens[i] = uint16_t(a[i].size());
            }
            std::vector<Verdict> va(n), vb(n);
            on.pipe->processBurst(fa.data(), lens.data(), n, port, now, va.data());
            off.pipe->processBurst(fb.data(), lens.data(), n, port, now, vb.data());
            INFO("burst " << burst);
            for (uint32_t i = 0; i < n; ++i) {
                INFO("frame " << i);
                REQUIRE(sameVerdict(va[i], vb[i]));
                REQUIRE(a[i] == b[i]);
            }
            frames += n;
            checkSameCounters(on, off);
            checkSameTables(on, off);
            checkSameEvents(on, off);
            // A session installed from elsewhere (a replica taken over) may
            // know both windows without having seen a reply here.
            if (traffic.pick(10) == 0) {
                const uint32_t i = uint32_t(traffic.pick(on.table.capacity()));
                if (on.table.inUse(i)) {
                    on.table.at(i).flags &= uint8_t(~kSessionSeenReply);
                    off.table.at(i).flags &= uint8_t(~kSessionSeenReply);
                }
            }
            // Time passes, sometimes past an idle timeout.
            now += traffic.pick(50) == 0 ? 400000 : uint32_t(traffic.pick(3000));
            CHECK(on.pipe->age(now, 64) == off.pipe->age(now, 64));
        }
        // The bursts did what they are for: established flows forwarded in
        // bulk, and every other outcome present too.
        const auto& c = on.pipe->counters();
        CHECK(frames > 50000);
        CHECK(c.get(PipelineCounter::forwarded) > frames / 3);
        CHECK(c.get(PipelineCounter::dropped_tcp_out_of_window) +
                  c.get(PipelineCounter::dropped_tcp_invalid_state) >
              100);
        CHECK(c.get(PipelineCounter::dropped_no_route) > 100);
        CHECK(c.get(PipelineCounter::sessions_created) > 100);
    }
}
