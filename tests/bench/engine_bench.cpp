// engine_bench: figures for the core engine on one core.
//
//   engine_bench [--sessions N[,N...]] [--seconds S] [--repeat R] [--memory-floor]
//
// For each table size N it prints:
//   - insert rate: new sessions/s into an empty table of capacity N (key
//     canonicalisation, hashing and insertion; keys prebuilt);
//   - established-flow rate: packets/s through parse (Ethernet/IPv4/TCP) →
//     canonical key → hash → lookup → per-session counter and expiry update,
//     for 64-byte frames of flows drawn uniformly from all N sessions, in
//     bursts of 32 staged as Pipeline::processBurst stages them;
//   - the same per packet in CPU nanoseconds, stage by stage: each of the
//     loops "parse", "+ key and hash", "+ lookup" runs on its own, and the
//     differences between them (and the full loop) are printed;
//   - with --repeat R, the established-flow loop runs R times (S seconds
//     each) and the rate printed is their median, with the lowest and
//     highest: on a shared machine single runs vary by ±20 %;
//   - bytes per session: the table's whole allocation divided by N;
//   - with --memory-floor: the CPU ns per lookup of the memory accesses
//     alone (one random line, then one more random line picked by what the
//     first held — a bucket, then an entry's first line — bursts of 32, over
//     as much memory as the table), the floor the lookup stage sits on.
// Frames are prebuilt in memory (4 Mi of them, or N if smaller), so the figure
// is the engine alone, without any NIC or driver.
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "packet/packet_parser.h"
#include "session/session_table.h"

using namespace tandem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kFrameLen = 64;

FlowTuple flowTuple(uint32_t n) {
    FlowTuple t;
    t.src = IpAddr::fromV4(0x0a000000u | (n >> 8));  // 10.x.y.z, 256 ports each
    t.dst = IpAddr::fromV4(0xc6336401u);
    t.sport = uint16_t(1024 + (n & 0xff) * 97);
    t.dport = 443;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    return t;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8), p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v));
}

// Ethernet + IPv4 + TCP (ACK) frame of flow n, in the direction `reply`.
void buildFrame(uint8_t* f, uint32_t n, bool reply) {
    std::memset(f, 0, kFrameLen);
    FlowTuple t = flowTuple(n);
    if (reply) std::swap(t.src, t.dst), std::swap(t.sport, t.dport);
    f[12] = 0x08;  // IPv4
    uint8_t* ip = f + 14;
    ip[0] = 0x45;
    put16(ip + 2, 20 + 20 + 10);
    ip[8] = 64;
    ip[9] = kProtoTcp;
    std::memcpy(ip + 12, &t.src.b[12], 4);
    std::memcpy(ip + 16, &t.dst.b[12], 4);
    uint8_t* tcp = ip + 20;
    put16(tcp, t.sport);
    put16(tcp + 2, t.dport);
    put32(tcp + 4, 1000);
    put32(tcp + 8, 2000);
    tcp[12] = 5 << 4;
    tcp[13] = kTcpAck;
    put16(tcp + 14, 65535);
}

double secondsSince(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU time of this thread: rates per CPU-second are rates per core even when
// other processes share the machine (wall-clock rates are printed too).
double threadCpuSeconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct Figures {
    double inserts_per_s = 0;  // per CPU-second
    double lookups_per_s = 0;  // per CPU-second, median of the runs
    double lookups_min = 0, lookups_max = 0;
    double lookups_per_wall_s = 0;
    double bytes_per_session = 0;
    uint64_t misses = 0;
    double stage_ns[4] = {};  // CPU ns per packet up to and including each Stage
};

// How far down the per-packet path a timing loop goes. Each stage includes
// the ones before it, so differences between them are the cost of a stage.
enum class Stage { parse, key_hash, lookup, all };

// Runs bursts of 32 prebuilt frames through the engine for `seconds` of wall
// time, up to `stage`; counts packets and (at Stage::all) lookup misses.
// Each burst is staged as Pipeline::processBurst stages it: groups of 8
// frames are parsed, keyed and hashed (headers prefetched 8 frames ahead, the
// home bucket prefetched as soon as the hash is known), the group before is
// given its lookup candidates (entries start loading), and the group before
// that is confirmed and counted.
template <Stage stage>
void lookupLoop(SessionTable& table, const std::vector<uint8_t>& frames, uint32_t nframes,
                double seconds, uint64_t* packets_out, uint64_t* misses_out) {
    ParseOptions opts;
    constexpr uint32_t kBurst = 32, kGroup = 8, kGroups = kBurst / kGroup, kAhead = 8;
    constexpr bool kLookup = stage == Stage::lookup || stage == Stage::all;
    PacketInfo info[kBurst];
    FlowKey keys[kBurst];
    uint64_t hashes[kBurst];
    bool src_lo[kBurst];
    bool ok[kBurst];
    uint32_t cand[kBurst];

    uint64_t packets = 0, misses = 0, sink = 0;
    uint32_t now_ms = 1;
    const auto t0 = Clock::now();
    do {
        for (uint32_t base = 0; base + kBurst <= nframes; base += kBurst) {
            const uint8_t* burst = &frames[size_t(base) * kFrameLen];
            for (uint32_t i = 0; i < kAhead; ++i) {
                __builtin_prefetch(burst + i * kFrameLen);
                __builtin_prefetch(burst + i * kFrameLen + 53);
            }
            for (uint32_t g = 0; g < kGroups + 2; ++g) {
                for (uint32_t i = g * kGroup; g < kGroups && i < (g + 1) * kGroup; ++i) {
                    if (i + kAhead < kBurst) {
                        __builtin_prefetch(burst + (i + kAhead) * kFrameLen);
                        __builtin_prefetch(burst + (i + kAhead) * kFrameLen + 53);
                    }
                    ok[i] = parseFrame(burst + i * kFrameLen, kFrameLen, opts, info[i]) ==
                            ParseResult::ok;
                    if constexpr (stage == Stage::parse) {
                        sink += info[i].sport;
                    } else {
                        const PacketInfo& p = info[i];
                        hashes[i] = buildFlowKey(p.src, p.dst, p.sport, p.dport, p.proto, p.family,
                                                 0, &keys[i], &src_lo[i]);
                        if constexpr (stage != Stage::key_hash) table.prefetchBucket(hashes[i]);
                        sink += hashes[i];
                    }
                }
                if constexpr (kLookup) {
                    for (uint32_t i = (g - 1) * kGroup; g >= 1 && g <= kGroups && i < g * kGroup;
                         ++i)
                        cand[i] = table.candidate(hashes[i]);
                    for (uint32_t i = (g - 2) * kGroup; g >= 2 && i < (g - 1) * kGroup; ++i) {
                        const uint32_t idx = ok[i] ? table.confirm(keys[i], hashes[i], cand[i])
                                                   : SessionTable::kNoEntry;
                        if constexpr (stage == Stage::lookup) {
                            sink += idx;
                        } else {
                            if (idx == SessionTable::kNoEntry) {
                                ++misses;
                                continue;
                            }
                            Session& s = table.at(idx);
                            const auto d = static_cast<size_t>(s.directionOf(src_lo[i]));
                            s.count(d, info[i].ip_total_len);
                            s.expires_ms = now_ms + 3600000;
                        }
                    }
                }
            }
            packets += kBurst;
        }
        ++now_ms;
    } while (secondsSince(t0) < seconds);
    // Keeps the partial stages from being optimised away.
    if (sink == 1) std::fputs("", stderr);
    *packets_out = packets;
    *misses_out = misses;
}

template <Stage stage>
double nsPerPacket(SessionTable& table, const std::vector<uint8_t>& frames, uint32_t nframes,
                   double seconds) {
    uint64_t packets = 0, misses = 0;
    const double c0 = threadCpuSeconds();
    lookupLoop<stage>(table, frames, nframes, seconds, &packets, &misses);
    return (threadCpuSeconds() - c0) * 1e9 / double(packets);
}

Figures run(uint32_t sessions, double seconds, int repeat) {
    Figures fig;
    std::vector<FlowKey> keys(sessions);
    std::vector<uint64_t> hashes(sessions);
    for (uint32_t n = 0; n < sessions; ++n) {
        keys[n] = makeFlowKey(flowTuple(n));
        hashes[n] = flowHash(keys[n]);
    }

    SessionTable table(sessions, 0);
    fig.bytes_per_session = double(table.memoryBytes()) / sessions;
    {
        const double c0 = threadCpuSeconds();
        uint32_t idx;
        constexpr uint32_t kAhead = 16;  // prefetch distance, as a burst of new flows allows
        for (uint32_t n = 0; n < sessions; ++n) {
            if (n + kAhead < sessions) table.prefetchBucket(hashes[n + kAhead]);
            FlowKey k = makeFlowKey(flowTuple(n));
            if (table.insert(k, flowHash(k), 3600000, &idx) !=
                SessionTable::InsertResult::inserted) {
                std::fprintf(stderr, "insert %u failed\n", n);
                std::exit(1);
            }
            table.at(idx).state = SessionState::tcp_established;
        }
        fig.inserts_per_s = sessions / (threadCpuSeconds() - c0);
    }

    const uint32_t nframes = sessions < (4u << 20) ? sessions : (4u << 20);
    std::vector<uint8_t> frames(size_t(nframes) * kFrameLen);
    std::mt19937 rng(42);
    for (uint32_t i = 0; i < nframes; ++i) {
        buildFrame(&frames[size_t(i) * kFrameLen], rng() % sessions, rng() & 1);
    }

    fig.stage_ns[0] = nsPerPacket<Stage::parse>(table, frames, nframes, seconds / 4);
    fig.stage_ns[1] = nsPerPacket<Stage::key_hash>(table, frames, nframes, seconds / 4);
    fig.stage_ns[2] = nsPerPacket<Stage::lookup>(table, frames, nframes, seconds / 4);
    std::vector<std::pair<double, double>> runs;  // (per CPU-second, per wall-second)
    for (int r = 0; r < repeat; ++r) {
        uint64_t packets = 0, misses = 0;
        auto t0 = Clock::now();
        const double c0 = threadCpuSeconds();
        lookupLoop<Stage::all>(table, frames, nframes, seconds, &packets, &misses);
        runs.emplace_back(packets / (threadCpuSeconds() - c0), packets / secondsSince(t0));
        fig.misses += misses;
    }
    std::sort(runs.begin(), runs.end());
    fig.lookups_per_s = runs[runs.size() / 2].first;
    fig.lookups_per_wall_s = runs[runs.size() / 2].second;
    fig.lookups_min = runs.front().first;
    fig.lookups_max = runs.back().first;
    fig.stage_ns[3] = 1e9 / fig.lookups_per_s;
    return fig;
}

// The memory system's share alone: the access pattern of a lookup without
// any of its work. Over `bytes` of memory (the table's size), bursts of 32
// random 64-byte lines are prefetched, read, and each read picks one more
// random line that is prefetched and read in turn: the bucket line, then the
// entry's first line (all an IPv4 flow's lookup and counters touch).
// Returns CPU ns per such lookup.
double memoryFloorNs(size_t bytes, double seconds) {
    constexpr size_t kHuge = 2u << 20;
    bytes = (bytes + kHuge - 1) / kHuge * kHuge;
    auto* mem = static_cast<uint8_t*>(std::aligned_alloc(kHuge, bytes));
    if (!mem) return 0;
    ::madvise(mem, bytes, MADV_HUGEPAGE);
    std::memset(mem, 1, bytes);
    const uint64_t lines = bytes / 64 - 1;
    std::mt19937_64 rng(3);
    std::vector<uint64_t> first(1u << 20);
    for (auto& x : first) x = rng() % lines;
    uint64_t sum = 0, lookups = 0;
    const auto t0 = Clock::now();
    const double c0 = threadCpuSeconds();
    do {
        for (size_t b = 0; b + 32 <= first.size(); b += 32) {
            uint64_t second[32];
            for (int i = 0; i < 32; ++i) __builtin_prefetch(mem + first[b + i] * 64);
            for (int i = 0; i < 32; ++i) {
                uint64_t v;
                std::memcpy(&v, mem + first[b + i] * 64, 8);
                second[i] = (first[b + i] * 0x9e3779b97f4a7c15ULL + v) % lines;
                __builtin_prefetch(mem + second[i] * 64);
            }
            for (int i = 0; i < 32; ++i) {
                uint64_t v;
                std::memcpy(&v, mem + second[i] * 64, 8);
                sum += v;
            }
            lookups += 32;
        }
    } while (secondsSince(t0) < seconds);
    const double ns = (threadCpuSeconds() - c0) * 1e9 / double(lookups);
    std::free(mem);
    if (sum == 1) std::fputs("", stderr);  // keeps the reads
    return ns;
}

std::vector<uint32_t> parseSizes(const char* s) {
    std::vector<uint32_t> v;
    while (*s) {
        char* end;
        v.push_back(uint32_t(std::strtoul(s, &end, 10)));
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s) break;
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<uint32_t> sizes = {1000000, 10000000};
    double seconds = 3.0;
    bool floor = false;
    int repeat = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--sessions" && i + 1 < argc)
            sizes = parseSizes(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (a == "--repeat" && i + 1 < argc)
            repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--memory-floor")
            floor = true;
        else {
            std::fprintf(stderr,
                         "usage: engine_bench [--sessions N[,N...]] [--seconds S] [--repeat R] "
                         "[--memory-floor]\n");
            return 2;
        }
    }
    std::printf("engine_bench: one core, 64-byte Ethernet/IPv4/TCP frames, Session = %zu B\n",
                sizeof(Session));
    std::printf("rates per CPU-second of the benchmark thread (wall-clock rate in brackets)\n");
    std::printf("%12s %16s %22s %14s %16s\n", "sessions", "inserts/s", "parse+lookup pkts/s",
                "(wall)", "bytes/session");
    for (uint32_t n : sizes) {
        Figures f = run(n, seconds, repeat);
        std::printf("%12u %14.2f M %20.2f M %12.2f M %16.1f%s\n", n, f.inserts_per_s / 1e6,
                    f.lookups_per_s / 1e6, f.lookups_per_wall_s / 1e6, f.bytes_per_session,
                    f.misses ? "  (MISSES!)" : "");
        if (repeat > 1)
            std::printf("%12s median of %d runs; lowest %.2f M, highest %.2f M\n", "", repeat,
                        f.lookups_min / 1e6, f.lookups_max / 1e6);
        std::printf(
            "%12s per packet, CPU ns: parse %.1f | key+hash +%.1f | lookup +%.1f | "
            "counters+expiry +%.1f = %.1f\n",
            "", f.stage_ns[0], f.stage_ns[1] - f.stage_ns[0], f.stage_ns[2] - f.stage_ns[1],
            f.stage_ns[3] - f.stage_ns[2], f.stage_ns[3]);
        if (floor) {
            const size_t bytes = size_t(f.bytes_per_session * n);
            std::printf(
                "%12s memory floor: %.1f CPU ns per lookup (2 dependent random lines over %zu "
                "MB)\n",
                "", memoryFloorNs(bytes, seconds / 2), bytes >> 20);
        }
        std::fflush(stdout);
    }
    return 0;
}
