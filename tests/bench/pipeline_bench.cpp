// pipeline_bench: the whole per-packet path of one worker, fed from memory.
//
//   pipeline_bench [--flows N] [--seconds S] [--app-rules] [--nat]
//
// Prints, per CPU-second of the benchmark thread:
//   - established: 64-byte TCP ACK frames of N established flows (every
//     handshake completed beforehand, untimed; both directions, random
//     order) through Pipeline::processBurst — parse,
//     session lookup, TCP state and window tracking, counters, timer refresh,
//     verdict;
//   - new sessions: SYNs of distinct flows through policy and session creation;
//   - first payload: each flow's first client segment, a TLS ClientHello
//     (with --app-rules the policy's first rule names TLS servers, so this
//     is where each session is identified and decided again; without, it is
//     a data segment like any other);
//   - workerFor: what a worker of a multi-worker node adds per received frame
//     to find the worker that owns its flow (software steering), and the
//     header check that replaces it where the device steers (rss steering);
//   - with --nat, established packets of N flows source-translated (every
//     session from inside to outside to a pool big enough for them; the
//     replies go to the pool addresses) against the same flows untranslated,
//     in the same run: two pipelines, the same frames (put back as built
//     before each pass, untimed, since translation rewrites them in place).
// No NIC or driver is involved: this is the ceiling the dataplane adds I/O to.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fixtures/frame_builder.h"
#include "fixtures/tls_hello.h"
#include "packet/packet_parser.h"
#include "packet/rss_coverage.h"
#include "pipeline/pipeline.h"

using namespace tandem;
using tandem::test::FrameBuilder;

namespace {

double cpuSeconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

std::string clientAddr(uint32_t n) {
    return "10." + std::to_string((n >> 16) & 0xff) + "." + std::to_string((n >> 8) & 0xff) + "." +
           std::to_string(n & 0xff);
}

std::shared_ptr<const Policy> policy(bool app_rules) {
    RuleError err;
    std::string error;
    std::vector<Rule> rules;
    if (app_rules)
        rules.push_back(*parseRule(
            "allow from inside to outside app tls sni *.example.com,other.example", &err));
    rules.push_back(*parseRule("allow from inside to outside proto tcp dport 80", &err));
    return Policy::compile(rules, {"outside", "inside"}, &error);
}

PipelineSettings settings() {
    PipelineSettings s;
    s.port_count = 2;
    s.ports[0] = {0, 1};
    s.ports[1] = {1, 0};
    return s;
}

void run(std::vector<std::vector<uint8_t>>& frames, std::vector<uint16_t>& ports, Pipeline& p,
         uint32_t now) {
    constexpr uint32_t kBurst = 32;
    uint8_t* f[kBurst];
    uint16_t lens[kBurst];
    Verdict v[kBurst];
    for (size_t base = 0; base + kBurst <= frames.size(); base += kBurst) {
        // Bursts are per port, as a worker reads them; frames are grouped below.
        for (uint32_t i = 0; i < kBurst; ++i) {
            f[i] = frames[base + i].data();
            lens[i] = uint16_t(frames[base + i].size());
        }
        p.processBurst(f, lens, kBurst, ports[base], now, v);
    }
}

// --nat: one pipeline's established rate over `flows` flows, translated
// or not. The frames are rewritten in place when translated, so every pass
// starts from copies of the frames as built (untimed, in both modes).
double establishedRate(uint32_t flows, double seconds, bool nat) {
    NatSetup setup;
    if (nat) {
        NatTextError e;
        // 64,512 ports an address: enough addresses for every flow.
        const uint32_t addrs = flows / 64000 + 1;
        const std::string last =
            "198.51." + std::to_string(100 + addrs / 256) + "." + std::to_string(addrs % 256);
        setup.pools = {*parseNatPool("public 198.51.100.0-" + last, &e)};
        std::vector<NatRule> rules = {
            *parseNatRule("snat from inside to outside pool public", setup.pools, &e)};
        std::string error;
        setup.rules = NatRules::compile(rules, setup.pools, {"outside", "inside"}, &error);
        setup.members = 1;
    }
    PipelineSettings st = settings();
    if (nat) st.nat = &setup;
    SessionTable table(flows + 1024, 0);
    Pipeline pipe(st, table, policy(false));
    // Each flow's handshake, and where its replies go (the pool address and
    // port it was given, or the client).
    std::vector<std::string> reply_addr(flows);
    std::vector<uint16_t> reply_port(flows);
    std::vector<std::vector<uint8_t>> hs;
    std::vector<uint16_t> hs_ports;
    for (uint32_t n = 0; n < flows; ++n) {
        hs.push_back(FrameBuilder::tcp(clientAddr(n / 60000), uint16_t(1024 + n % 60000),
                                       "192.0.2.80", 80, kTcpSyn)
                         .seq(100)
                         .build());
        hs_ports.push_back(1);
    }
    run(hs, hs_ports, pipe, 1000);
    for (uint32_t n = 0; n < flows; ++n) {
        PacketInfo info;
        parseFrame(hs[n].data(), hs[n].size(), {}, info);
        reply_addr[n] = formatIpAddr(info.src);
        reply_port[n] = info.sport;
    }
    hs.clear();
    hs_ports.clear();
    for (uint32_t n = 0; n < flows; ++n) {
        hs.push_back(
            FrameBuilder::tcp("192.0.2.80", 80, reply_addr[n], reply_port[n], kTcpSyn | kTcpAck)
                .seq(500)
                .ack(101)
                .build());
        hs_ports.push_back(0);
    }
    run(hs, hs_ports, pipe, 1000);
    hs.clear();
    hs_ports.clear();
    for (uint32_t n = 0; n < flows; ++n) {
        hs.push_back(FrameBuilder::tcp(clientAddr(n / 60000), uint16_t(1024 + n % 60000),
                                       "192.0.2.80", 80, kTcpAck)
                         .seq(101)
                         .ack(501)
                         .build());
        hs_ports.push_back(1);
    }
    run(hs, hs_ports, pipe, 1000);
    hs.clear();
    std::mt19937 rng(7);
    std::vector<std::vector<uint8_t>> built, frames;
    std::vector<uint16_t> ports;
    const uint32_t nframes = std::min<uint32_t>(flows, 1u << 21) / 32 * 32;
    for (uint32_t b = 0; b < nframes / 32; ++b) {
        const bool reply = b & 1;
        for (uint32_t i = 0; i < 32; ++i) {
            const uint32_t n = rng() % flows;
            built.push_back(
                reply ? FrameBuilder::tcp("192.0.2.80", 80, reply_addr[n], reply_port[n], kTcpAck)
                            .seq(501)
                            .ack(101)
                            .build()
                      : FrameBuilder::tcp(clientAddr(n / 60000), uint16_t(1024 + n % 60000),
                                          "192.0.2.80", 80, kTcpAck)
                            .seq(101)
                            .ack(501)
                            .build());
            ports.push_back(reply ? 0 : 1);
        }
    }
    frames = built;
    uint64_t packets = 0;
    double busy = 0;
    do {
        for (size_t i = 0; i < frames.size(); ++i)
            std::copy(built[i].begin(), built[i].end(), frames[i].begin());
        const double c0 = cpuSeconds();
        run(frames, ports, pipe, 2000);
        busy += cpuSeconds() - c0;
        packets += frames.size();
    } while (busy < seconds);
    const uint64_t fwd = pipe.counters().get(PipelineCounter::forwarded);
    if (fwd < packets) {
        std::printf("  (%s: only %llu of %llu frames forwarded;",
                    nat ? "translated" : "untranslated", (unsigned long long)fwd,
                    (unsigned long long)packets);
        for (size_t c = 0; c < kPipelineCounterCount; ++c) {
            const uint64_t v = pipe.counters().get(PipelineCounter(c));
            const std::string_view name = kPipelineCounterInfo[c].name;
            if (v && name.rfind("dropped", 0) == 0)
                std::printf(" %.*s %llu", int(name.size()), name.data(), (unsigned long long)v);
        }
        std::printf(")\n");
    }
    return packets / busy;
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t flows = 1000000;
    double seconds = 3;
    bool app_rules = false;
    bool nat = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--app-rules") {
            app_rules = true;
        } else if (a == "--nat") {
            nat = true;
        } else if (i + 1 < argc && a == "--flows") {
            flows = uint32_t(std::atoi(argv[++i]));
        } else if (i + 1 < argc && a == "--seconds") {
            seconds = std::atof(argv[++i]);
        }
    }
    if (nat) {
        // Interleaved, two rounds each: a noisy neighbour hits both.
        double plain[2], translated[2];
        for (int r = 0; r < 2; ++r) {
            plain[r] = establishedRate(flows, seconds, false);
            translated[r] = establishedRate(flows, seconds, true);
        }
        const double p = std::max(plain[0], plain[1]), t = std::max(translated[0], translated[1]);
        std::printf(
            "pipeline_bench --nat: %u established flows, one thread, rates per CPU-second "
            "(best of 2, interleaved)\n",
            flows);
        std::printf("  untranslated packets/s  %8.2f M (%.1f ns each)\n", p / 1e6, 1e9 / p);
        std::printf("  translated packets/s    %8.2f M (%.1f ns each; %.0f %% of untranslated)\n",
                    t / 1e6, 1e9 / t, 100.0 * t / p);
        return 0;
    }
    SessionTable table(flows + 1024, 0);
    Pipeline pipe(settings(), table, policy(app_rules));

    // New sessions: one SYN per flow, inside -> outside, in bursts of 32.
    std::vector<std::vector<uint8_t>> syns, acks;
    std::vector<uint16_t> syn_ports, ack_ports;
    for (uint32_t n = 0; n < flows; ++n) {
        const std::string c = clientAddr(n / 60000), s = "192.0.2.80";
        const uint16_t sport = uint16_t(1024 + n % 60000);
        syns.push_back(FrameBuilder::tcp(c, sport, s, 80, kTcpSyn).seq(100).build());
        syn_ports.push_back(1);
    }
    double c0 = cpuSeconds();
    run(syns, syn_ports, pipe, 1000);
    const double new_rate = flows / (cpuSeconds() - c0);

    // Complete the handshakes (not timed), then build established traffic.
    std::vector<std::vector<uint8_t>> hs;
    std::vector<uint16_t> hs_ports;
    for (uint32_t n = 0; n < flows; ++n) {
        const std::string c = clientAddr(n / 60000), s = "192.0.2.80";
        const uint16_t sport = uint16_t(1024 + n % 60000);
        hs.push_back(
            FrameBuilder::tcp(s, 80, c, sport, kTcpSyn | kTcpAck).seq(500).ack(101).build());
        hs_ports.push_back(0);
    }
    run(hs, hs_ports, pipe, 1000);
    // The client's ACK that completes each handshake. Without it a flow stays
    // in syn-recv until its first timed packet from the client, and with as
    // many frames as flows most flows never send one: the figure would not be
    // of established flows.
    hs.clear();
    hs_ports.clear();
    for (uint32_t n = 0; n < flows; ++n) {
        const std::string c = clientAddr(n / 60000), s = "192.0.2.80";
        const uint16_t sport = uint16_t(1024 + n % 60000);
        hs.push_back(FrameBuilder::tcp(c, sport, s, 80, kTcpAck).seq(101).ack(501).build());
        hs_ports.push_back(1);
    }
    run(hs, hs_ports, pipe, 1000);
    // Each flow's first payload: a ClientHello, in flow order.
    hs.clear();
    hs_ports.clear();
    const std::vector<uint8_t> hello =
        tandem::test::records(tandem::test::clientHello({{0, "www.example.com"}}), 16384);
    for (uint32_t n = 0; n < flows; ++n) {
        const std::string c = clientAddr(n / 60000), s = "192.0.2.80";
        const uint16_t sport = uint16_t(1024 + n % 60000);
        hs.push_back(FrameBuilder::tcp(c, sport, s, 80, kTcpAck | kTcpPsh)
                         .seq(101)
                         .ack(501)
                         .data(hello)
                         .build());
        hs_ports.push_back(1);
    }
    c0 = cpuSeconds();
    run(hs, hs_ports, pipe, 1000);
    const double hello_rate = flows / (cpuSeconds() - c0);
    hs.clear();
    // Established frames, grouped in bursts of 32 per direction, flows random.
    std::mt19937 rng(7);
    const uint32_t nframes = std::min<uint32_t>(flows, 1u << 21) / 32 * 32;
    for (uint32_t b = 0; b < nframes / 32; ++b) {
        const bool reply = b & 1;
        for (uint32_t i = 0; i < 32; ++i) {
            const uint32_t n = rng() % flows;
            const std::string c = clientAddr(n / 60000), s = "192.0.2.80";
            const uint16_t sport = uint16_t(1024 + n % 60000);
            acks.push_back(
                reply ? FrameBuilder::tcp(s, 80, c, sport, kTcpAck).seq(501).ack(101).build()
                      : FrameBuilder::tcp(c, sport, s, 80, kTcpAck).seq(101).ack(501).build());
            ack_ports.push_back(reply ? 0 : 1);
        }
    }
    uint32_t established = 0;
    table.scan(0, table.capacity(), [&](uint32_t, const Session& s) {
        established += s.state == SessionState::tcp_established;
    });
    uint64_t packets = 0;
    c0 = cpuSeconds();
    do {
        run(acks, ack_ports, pipe, 2000);
        packets += acks.size();
    } while (cpuSeconds() - c0 < seconds);
    const double est_rate = packets / (cpuSeconds() - c0);

    // With several workers, the receiving worker first asks which worker owns
    // each frame's flow (a second parse and hash): its cost per frame.
    uint64_t steered = 0, to_other = 0;
    const WorkerMap two = WorkerMap::software(2);
    c0 = cpuSeconds();
    do {
        // Frames just received are in cache in the dataplane; here they are
        // scattered over the heap, so their lines are fetched ahead, as
        // processBurst() does.
        for (size_t i = 0; i < acks.size(); ++i) {
            if (i + 8 < acks.size()) __builtin_prefetch(acks[i + 8].data());
            to_other += pipe.workerFor(acks[i].data(), uint16_t(acks[i].size()), two, 0, 2000);
        }
        steered += acks.size();
    } while (cpuSeconds() - c0 < 1.0);
    const double steer_rate = steered / (cpuSeconds() - c0);
    // The same on a burst in cache, as a worker sees the burst it just
    // received (the driver has just written it).
    uint64_t steered_hot = 0;
    c0 = cpuSeconds();
    do {
        for (int rep = 0; rep < 1000; ++rep) {
            for (size_t i = 0; i < 32; ++i) {
                to_other += pipe.workerFor(acks[i].data(), uint16_t(acks[i].size()), two, 0, 2000);
            }
        }
        steered_hot += 32 * 1000;
    } while (cpuSeconds() - c0 < 1.0);
    const double steer_hot_rate = steered_hot / (cpuSeconds() - c0);
    // rss steering: what a worker asks of the same burst instead (whether
    // the device's queue is the flow's worker; packet/rss_coverage.h).
    uint64_t checked = 0, kept = 0;
    const ParseOptions plain;
    c0 = cpuSeconds();
    do {
        for (int rep = 0; rep < 1000; ++rep) {
            for (size_t i = 0; i < 32; ++i)
                kept += rssCoversFrame(acks[i].data(), acks[i].size(), plain);
        }
        checked += 32 * 1000;
    } while (cpuSeconds() - c0 < 1.0);
    const double rss_check_rate = checked / (cpuSeconds() - c0);
    const uint64_t fwd = pipe.counters().get(PipelineCounter::forwarded);
    std::printf("pipeline_bench: %u flows, one thread, rates per CPU-second%s\n", flows,
                app_rules ? ", app rules (TLS server names) first in the policy" : "");
    std::printf("  new sessions/s          %8.2f M\n", new_rate / 1e6);
    std::printf("  first payload pkts/s    %8.2f M (%.0f ns each; identified %llu)\n",
                hello_rate / 1e6, 1e9 / hello_rate,
                (unsigned long long)pipe.counters().get(PipelineCounter::app_identified_tls));
    std::printf("  established packets/s   %8.2f M\n", est_rate / 1e6);
    std::printf(
        "  workerFor (2 workers)   %8.2f M frames/s, %.1f ns each (frames from memory), "
        "%.1f ns (a burst in cache)\n",
        steer_rate / 1e6, 1e9 / steer_rate, 1e9 / steer_hot_rate);
    std::printf("  rss steering's check    %8.2f ns a frame (a burst in cache; %s kept)\n",
                1e9 / rss_check_rate, kept == checked ? "all" : "not all");
    std::printf(
        "  (forwarded %llu, sessions %u, of them established %u, drops %llu)\n",
        (unsigned long long)fwd, table.size(), established,
        (unsigned long long)(pipe.counters().get(PipelineCounter::dropped_tcp_invalid_state) +
                             pipe.counters().get(PipelineCounter::dropped_tcp_out_of_window) +
                             pipe.counters().get(PipelineCounter::dropped_no_session)));
    return 0;
}
