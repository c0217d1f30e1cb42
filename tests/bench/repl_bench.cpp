// repl_bench: session replication between two nodes over the real HA path.
//
//   repl_bench [--sessions N] [--runs R] [--curve on|off|both] [--rate R/s]
//              [--paced N] [--backlog N] [--batch N] [--port P] [--quiet] [--verbose]
//
// Two nodes, each a real HaAgent (membership, pre-flight, Replication,
// SyncSender) on a real ZmqTransport (TCP on 127.0.0.1, CURVE keys as in
// production unless --curve off), each with one dataplane worker's side: a
// WorkerChannel (the rings the agent drains and fills), a SessionTable and a
// Pipeline whose apply() installs replicas and whose runJobs() answers bulk
// scans, as dataplane/worker_loop.cpp does.
//
// Threads: one per node, each running that node's agent step and its
// worker's ring service in turn (plus ZeroMQ's own I/O thread per node). On
// this two-core machine that gives each node one core, as two real nodes
// would have at least; a separate agent and worker thread per node would
// put four busy threads on two cores and measure the scheduler. Both threads
// share one monotonic clock, so lag is measured without clock sync.
//
// Per run, on a fresh pair of nodes:
//   1. bulk: node 1's table is filled with N sessions, node 2 asks for a
//      resync (RESYNC_REQUEST, the operator path); timed from node 1's
//      BULK_BEGIN (bulk_started) to node 2's worker having applied all N.
//   2. live: N new sessions pushed onto node 1's event ring as fast as it
//      takes them (upsert events, as Pipeline::emit pushes them), with at
//      most --backlog (131072) pushed and unacknowledged; timed from the
//      first push to node 1 holding node 2's ack of the last record.
//   3. paced: --paced sessions pushed at --rate per second; per record, the
//      lag from push to applied on node 2 and to acknowledged at node 1.
// Every replicated session is checked for on node 2 at the end of a run.
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/ha_channel.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "ha/curve_keypair.h"
#include "ha/ha_agent.h"
#include "ha/zmq_transport.h"
#include "ha_test_util.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"

using namespace tandem;

namespace {

using Steady = std::chrono::steady_clock;

uint64_t nowNs() {
    return uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch())
            .count());
}

double cpuSeconds(clockid_t id) {
    timespec ts;
    clock_gettime(id, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct Options {
    uint32_t sessions = 1000000;
    uint32_t paced = 300000;
    double rate = 500000;
    uint64_t backlog = 131072;
    uint32_t batch = 0;  // 0: ReplicationOptions' default
    int runs = 1;
    bool curve_on = true, curve_off = false;
    int port = 0;
    bool quiet = false;
    bool verbose = false;
};

// A test flow (unique 5-tuple per i) with TCP windows and counters set, so
// records are as large as a real established session's.
Session benchSession(uint32_t i, NodeId owner, NodeId backup, uint32_t now_ms) {
    Session s = test::makeSession(i, owner, backup, now_ms);
    s.rule = 1;
    s.expires_ms = now_ms + 3600 * 1000;
    s.setCounts(0, 3, 180);
    s.setCounts(1, 2, 120);
    for (TcpWindow& w : s.win) {
        w.end = 0x12345678;
        w.max_end = 0x12355678;
        w.max_win = 64240;
        w.wscale = 7;
        w.flags = kWinInitialised | kWinScaleSeen;
    }
    return s;
}

std::shared_ptr<const Policy> benchPolicy() {
    RuleError err;
    std::string error;
    return Policy::compile({*parseRule("allow from inside to outside proto tcp dport 443", &err)},
                           {"inside", "outside"}, &error);
}

// The test config with ZeroMQ endpoints on loopback, production timers and
// (with keys) CURVE.
Config nodeConfig(NodeId self, int base_port, const CurveKeypair* keys) {
    Config c = test::makeConfig(self, {1, 2});
    c.ha.heartbeat_interval_ms = 100;
    c.ha.hold_time_ms = 1000;
    c.ha.listen = "tcp://127.0.0.1:" + std::to_string(base_port + self);
    if (keys) {
        c.ha.secret_key = keys[self].secret_key;
        c.ha.public_key = keys[self].public_key;
    }
    for (PeerConfig& p : c.peers) {
        p.ha_address = "tcp://127.0.0.1:" + std::to_string(base_port + p.id);
        if (keys) p.public_key = keys[p.id].public_key;
    }
    return c;
}

// One node: agent + one worker's side of the rings, table and pipeline.
struct Node {
    Node(NodeId id, int base_port, const CurveKeypair* keys, uint32_t capacity, uint32_t batch)
        : config(nodeConfig(id, base_port, keys)), table(capacity, monotonicMs()) {
        std::string error;
        transport = ZmqTransport::create(ZmqTransportConfig::fromConfig(config), &error);
        if (!transport) {
            std::fprintf(stderr, "repl_bench: %s\n", error.c_str());
            std::exit(1);
        }
        PipelineSettings s;
        s.node = id;
        s.port_count = 2;
        s.ports[0] = {0, 1};
        s.ports[1] = {1, 0};
        s.view = &view;
        s.events = &channel.to_agent;
        pipeline = std::make_unique<Pipeline>(s, table, benchPolicy());
        HaAgentOptions o;
        o.incarnation = 1000 + id;
        if (batch) o.replication.batch_records = batch;
        agent = std::make_unique<HaAgent>(config, clock, *transport,
                                          std::vector<WorkerChannel*>{&channel}, view, o);
    }

    // The worker's side between bursts: every waiting command (a worker has
    // its own core and keeps up with its ring; here it shares the node's
    // thread, so it empties the ring), then table-wide jobs with the budget
    // of dataplane/worker_loop.cpp. Calls on_upsert(cmd) before applying
    // each replica. Returns true when it did anything.
    template <typename OnUpsert>
    bool serviceWorker(OnUpsert&& on_upsert) {
        const uint32_t now = monotonicMs();
        bool work = false;
        AgentCommand cmd;
        while (channel.to_worker.pop(&cmd)) {
            if (cmd.kind == AgentCommandKind::apply_upsert) on_upsert(cmd);
            pipeline->apply(cmd, now);
            work = true;
        }
        work |= pipeline->runJobs(now, 4096);
        return work;
    }

    uint64_t installed() const {
        return pipeline->counters().get(PipelineCounter::replicas_installed);
    }
    uint64_t ha(HaCounter c) const { return agent->counters().get(c); }

    Config config;
    MonotonicClock clock;
    std::unique_ptr<ZmqTransport> transport;
    WorkerChannel channel;
    SessionTable table;
    ClusterViewCell view;
    std::unique_ptr<Pipeline> pipeline;
    std::unique_ptr<HaAgent> agent;
};

// The idle back-off of HaAgent::run(): a busy node never sleeps.
struct Backoff {
    unsigned idle = 0;
    void after(bool work, HaTransport& t) {
        if (work) {
            idle = 0;
            return;
        }
        ++idle;
        t.wait(idle < 8 ? 50 : idle < 32 ? 200 : 1000);
    }
};

struct Figures {
    double bulk_s = 0;
    double live_per_s = 0;
    double applied_p50_us = 0, applied_p99_us = 0, acked_p50_us = 0, acked_p99_us = 0;
    double paced_per_s = 0;
    // CPU microseconds per live session: node 1's thread, node 2's thread,
    // and everything else in the process (ZeroMQ I/O threads: TCP, CURVE).
    double cpu_us_a = 0, cpu_us_b = 0, cpu_us_io = 0;
    uint64_t resends = 0, nacks = 0, timeouts = 0, inbound_full = 0, apply_ring_full = 0;
};

double percentile(std::vector<uint32_t>& v, double p) {
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, size_t(p * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
}

// The phases of one run, shared by the two node threads.
enum class Phase : int { pairing, bulk, live, paced, done };

Figures runOnce(const Options& opt, bool curve, int base_port) {
    CurveKeypair keys[3];
    if (curve) {
        for (auto& k : keys) k = *generateCurveKeypair();
    }
    const uint32_t n = opt.sessions, paced = opt.paced;
    Node a(1, base_port, curve ? keys : nullptr, n + 1024, opt.batch);
    // Node 2 holds every session as a replica: a table keeps 1/16 of its
    // room for its own sessions (replicas_dropped_peer_limit), so more room.
    const uint32_t replicas = 2 * n + paced;
    Node b(2, base_port, curve ? keys : nullptr, replicas + replicas / 15 + 1024, opt.batch);

    std::atomic<int> phase{int(Phase::pairing)};
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> bulk_start_ns{0}, bulk_end_ns{0};
    uint64_t bulk_base = 0;  // bulk syncs node 1 started while pairing (set before Phase::bulk)
    std::atomic<uint64_t> live_applied{0};  // replicas of phases live/paced applied on b
    std::vector<uint64_t> push_ns(size_t(n) + paced);
    std::vector<uint32_t> applied_lag_us, acked_lag_us;
    applied_lag_us.reserve(paced);
    acked_lag_us.reserve(paced);
    uint64_t live_t0 = 0, live_t1 = 0, paced_t0 = 0, paced_t1 = 0;
    // CPU seconds of each node thread and of the process at the live phase's
    // start and end (read by the threads themselves when they see it).
    std::atomic<double> cpu_a0{0}, cpu_a1{0}, cpu_b0{0}, cpu_b1{0}, cpu_p0{0}, cpu_p1{0};

    // Node 1: the sender. Feeds events, steps its agent, answers bulk scans.
    std::thread ta([&] {
        pthread_setname_np(pthread_self(), "node1");
        Backoff backoff;
        uint64_t pushed = 0, acked_seen = 0, acked_base = 0;
        bool based = false;
        while (!stop.load(std::memory_order_relaxed)) {
            const Phase ph = Phase(phase.load(std::memory_order_acquire));
            bool work = false;
            if (ph == Phase::live || ph == Phase::paced) {
                const uint64_t total = ph == Phase::live ? n : uint64_t(n) + paced;
                uint64_t want = total;
                if (ph == Phase::paced) {
                    if (!paced_t0) paced_t0 = nowNs();
                    const double el = double(nowNs() - paced_t0) / 1e9;
                    want = std::min<uint64_t>(total, n + uint64_t(el * opt.rate));
                } else {
                    // Closed loop: at most `backlog` records pushed and not
                    // yet acknowledged (an open loop only measures how fast
                    // the live window overflows into a bulk resync).
                    want = std::min<uint64_t>(want, acked_seen - acked_base + opt.backlog);
                }
                if (ph == Phase::live && !live_t0) {
                    live_t0 = nowNs();
                    cpu_a0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
                    cpu_p0 = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
                }
                // Pushes as Pipeline::emit does: a whole Session per event.
                size_t room = a.channel.to_agent.freeSlots();
                while (pushed < want && room > 0) {
                    WorkerEvent ev;
                    ev.kind = WorkerEventKind::upsert;
                    ev.worker = 0;
                    ev.now_ms = monotonicMs();
                    ev.session = benchSession(n + uint32_t(pushed), 1, 2, ev.now_ms);
                    const uint64_t t = nowNs();
                    // The push time travels with the record.
                    ev.session.setCounts(1, ev.session.packets(1), t);
                    push_ns[pushed] = t;
                    if (!a.channel.to_agent.push(ev)) break;
                    ++pushed;
                    --room;
                    work = true;
                }
            }
            const bool stepped = a.agent->step();
            // Records acknowledged, oldest first: the lag of each is now - push.
            const uint64_t acked = a.ha(HaCounter::records_acked);
            if (ph == Phase::live || ph == Phase::paced) {
                if (!based) acked_base = acked_seen = acked, based = true;  // earlier phases' acks
                const uint64_t t = nowNs();
                for (uint64_t i = acked_seen - acked_base; i < acked - acked_base && i < pushed;
                     ++i)
                    if (i >= n) acked_lag_us.push_back(uint32_t((t - push_ns[i]) / 1000));
                acked_seen = acked;
                if (ph == Phase::live && acked - acked_base >= n && !live_t1) {
                    live_t1 = t;
                    cpu_a1 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
                    cpu_p1 = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
                    phase.store(int(Phase::paced), std::memory_order_release);
                }
                if (ph == Phase::paced && acked - acked_base >= uint64_t(n) + paced && !paced_t1) {
                    paced_t1 = t;
                    phase.store(int(Phase::done), std::memory_order_release);
                }
            }
            if (ph == Phase::bulk && !bulk_start_ns && a.ha(HaCounter::bulk_started) > bulk_base)
                bulk_start_ns = nowNs();
            const bool served = a.serviceWorker([](const AgentCommand&) {});
            backoff.after(work || stepped || served, *a.transport);
        }
    });

    // Node 2: the receiver. Steps its agent and applies replicas.
    std::thread tb([&] {
        pthread_setname_np(pthread_self(), "node2");
        Backoff backoff;
        Phase last = Phase::pairing;
        while (!stop.load(std::memory_order_relaxed)) {
            const bool stepped = b.agent->step();
            const Phase ph = Phase(phase.load(std::memory_order_acquire));
            if (ph != last) {
                if (ph == Phase::live) cpu_b0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
                if (ph == Phase::paced) cpu_b1 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
                last = ph;
            }
            const bool served = b.serviceWorker([&](const AgentCommand& cmd) {
                if (ph != Phase::live && ph != Phase::paced && ph != Phase::done) return;
                const uint64_t stamp = cmd.session.bytes(1);
                if (stamp < 1000000) return;  // a bulk record (fixed counters)
                const uint64_t i = live_applied.fetch_add(1, std::memory_order_relaxed);
                if (i >= n) applied_lag_us.push_back(uint32_t((nowNs() - stamp) / 1000));
            });
            if (ph == Phase::bulk && !bulk_end_ns && b.installed() >= n) bulk_end_ns = nowNs();
            backoff.after(stepped || served, *b.transport);
        }
    });

    auto waitFor = [&](auto done, double seconds, const char* what) {
        const auto deadline = Steady::now() + std::chrono::duration<double>(seconds);
        while (!done()) {
            if (Steady::now() > deadline) {
                std::fprintf(stderr,
                             "repl_bench: timed out waiting for %s (node 1: records_tx %llu "
                             "acked %llu resends %llu; node 2: records_rx %llu installed %llu "
                             "live applied %llu, inbound_full %llu)\n",
                             what, (unsigned long long)a.ha(HaCounter::records_tx),
                             (unsigned long long)a.ha(HaCounter::records_acked),
                             (unsigned long long)a.ha(HaCounter::resends),
                             (unsigned long long)b.ha(HaCounter::records_rx),
                             (unsigned long long)b.installed(),
                             (unsigned long long)live_applied.load(),
                             (unsigned long long)b.ha(HaCounter::inbound_full));
                for (Node* x : {&a, &b})
                    for (const CounterValue& c : x->agent->status().counters)
                        if (c.value)
                            std::fprintf(stderr, "  node %u %s %llu\n", x->config.node.id,
                                         c.name.c_str(), (unsigned long long)c.value);
                stop = true;
                ta.join();
                tb.join();
                std::exit(1);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    };

    // Pairing, and the (empty) bulk syncs of pairing, before anything is timed.
    waitFor(
        [&] {
            return canOwnSessions(a.agent->state()) && canOwnSessions(b.agent->state()) &&
                   a.ha(HaCounter::bulk_received) >= 1 && b.ha(HaCounter::bulk_received) >= 1;
        },
        30, "pairing");

    // 1. bulk: node 1's table gets N sessions (not replicated: filled as a
    //    table is before a peer joins), node 2 asks for everything.
    {
        const uint32_t now = monotonicMs();
        for (uint32_t i = 0; i < n; ++i) {
            Session s = benchSession(i, 1, 2, now);
            uint32_t index;
            a.table.insert(s, flowHash(s.key()), &index);
        }
    }
    // Node 1's table is only touched by its thread: hand it over by the
    // phase store (release) before the thread's next runJobs (acquire).
    bulk_base = a.ha(HaCounter::bulk_started);
    // Repairs counted from here on (pairing drops sync messages that beat
    // their HELLO, and resends them: that is not the figures' business).
    const uint64_t resends0 = a.ha(HaCounter::resends), nacks0 = a.ha(HaCounter::nacks_rx),
                   timeouts0 = a.ha(HaCounter::ack_timeouts),
                   inbound0 = b.ha(HaCounter::inbound_full),
                   ring0 = b.ha(HaCounter::apply_ring_full);
    const uint64_t received_base = b.ha(HaCounter::bulk_received);
    phase.store(int(Phase::bulk), std::memory_order_release);
    b.agent->requestResync();
    waitFor([&] { return bulk_end_ns.load() != 0 && bulk_start_ns.load() != 0; }, 120, "bulk sync");
    waitFor([&] { return b.ha(HaCounter::bulk_received) > received_base; }, 30, "bulk end");

    // 2. live and 3. paced (the sender thread moves from one to the next).
    phase.store(int(Phase::live), std::memory_order_release);
    waitFor([&] { return phase.load() == int(Phase::done); }, 300, "live replication");
    waitFor([&] { return live_applied.load() >= uint64_t(n) + paced; }, 30, "applied");
    stop = true;
    ta.join();
    tb.join();

    Figures f;
    f.bulk_s = double(bulk_end_ns - bulk_start_ns) / 1e9;
    f.live_per_s = double(n) / (double(live_t1 - live_t0) / 1e9);
    f.paced_per_s = double(paced) / (double(paced_t1 - paced_t0) / 1e9);
    // Node 2 sees the phase change a step late at both ends: close enough.
    f.cpu_us_a = (cpu_a1 - cpu_a0) * 1e6 / n;
    f.cpu_us_b = (cpu_b1 - cpu_b0) * 1e6 / n;
    f.cpu_us_io = ((cpu_p1 - cpu_p0) - (cpu_a1 - cpu_a0) - (cpu_b1 - cpu_b0)) * 1e6 / n;
    f.applied_p50_us = percentile(applied_lag_us, 0.50);
    f.applied_p99_us = percentile(applied_lag_us, 0.99);
    f.acked_p50_us = percentile(acked_lag_us, 0.50);
    f.acked_p99_us = percentile(acked_lag_us, 0.99);
    f.resends = a.ha(HaCounter::resends) - resends0;
    f.nacks = a.ha(HaCounter::nacks_rx) - nacks0;
    f.timeouts = a.ha(HaCounter::ack_timeouts) - timeouts0;
    f.inbound_full = b.ha(HaCounter::inbound_full) - inbound0;
    f.apply_ring_full = b.ha(HaCounter::apply_ring_full) - ring0;

    // Every session node 1 replicated is on node 2, as node 1 sent it.
    uint64_t missing = 0, wrong = 0;
    const uint32_t now = monotonicMs();
    for (uint32_t i = 0; i < 2 * n + paced; ++i) {
        const Session s = benchSession(i, 1, 2, now);
        const uint32_t idx = b.table.find(s.key(), flowHash(s.key()));
        if (idx == SessionTable::kNoEntry) {
            ++missing;
            continue;
        }
        const Session& r = b.table.at(idx);
        if (r.owner != 1 || r.state != s.state || r.win[1].max_end != s.win[1].max_end ||
            !(r.flags & kSessionReplicated))
            ++wrong;
    }
    if (missing || wrong) {
        std::fprintf(stderr, "repl_bench: node 2 misses %llu sessions, %llu differ\n",
                     (unsigned long long)missing, (unsigned long long)wrong);
        std::exit(1);
    }
    return f;
}

struct Stat {
    double median, lo, hi;
};

Stat stat(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v.front(), v.back()};
}

void report(const char* label, const std::vector<Figures>& runs, const Options& opt) {
    auto col = [&](double Figures::*m) {
        std::vector<double> v;
        for (const Figures& f : runs) v.push_back(f.*m);
        return stat(v);
    };
    const Stat bulk = col(&Figures::bulk_s), live = col(&Figures::live_per_s),
               ap50 = col(&Figures::applied_p50_us), ap99 = col(&Figures::applied_p99_us),
               ak50 = col(&Figures::acked_p50_us), ak99 = col(&Figures::acked_p99_us),
               paced = col(&Figures::paced_per_s);
    std::printf("%s, %u sessions, median of %zu (range):\n", label, opt.sessions, runs.size());
    std::printf("  bulk sync            %8.3f s      (%.3f - %.3f)   %.2f M sessions/s\n",
                bulk.median, bulk.lo, bulk.hi, opt.sessions / bulk.median / 1e6);
    std::printf("  live replication     %8.3f M/s    (%.3f - %.3f)\n", live.median / 1e6,
                live.lo / 1e6, live.hi / 1e6);
    std::printf(
        "  paced %.0f k/s (%u sessions, achieved %.0f k/s): lag to applied p50 %.0f us "
        "(%.0f - %.0f), p99 %.0f us (%.0f - %.0f);\n",
        opt.rate / 1e3, opt.paced, paced.median / 1e3, ap50.median, ap50.lo, ap50.hi, ap99.median,
        ap99.lo, ap99.hi);
    std::printf("    lag to acknowledged p50 %.0f us (%.0f - %.0f), p99 %.0f us (%.0f - %.0f)\n",
                ak50.median, ak50.lo, ak50.hi, ak99.median, ak99.lo, ak99.hi);
    const Stat ca = col(&Figures::cpu_us_a), cb = col(&Figures::cpu_us_b),
               io = col(&Figures::cpu_us_io);
    std::printf(
        "  CPU per live session: node 1 %.2f us, node 2 %.2f us, ZeroMQ I/O threads "
        "(both) %.2f us\n",
        ca.median, cb.median, io.median);
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : "";
        if (a == "--sessions")
            opt.sessions = uint32_t(std::atol(v)), ++i;
        else if (a == "--paced")
            opt.paced = uint32_t(std::atol(v)), ++i;
        else if (a == "--rate")
            opt.rate = std::atof(v), ++i;
        else if (a == "--backlog")
            opt.backlog = uint64_t(std::atol(v)), ++i;
        else if (a == "--batch")
            opt.batch = uint32_t(std::atol(v)), ++i;
        else if (a == "--runs")
            opt.runs = std::max(1, std::atoi(v)), ++i;
        else if (a == "--port")
            opt.port = std::atoi(v), ++i;
        else if (a == "--curve") {
            const std::string c = v;
            opt.curve_on = c == "on" || c == "both";
            opt.curve_off = c == "off" || c == "both";
            ++i;
        } else if (a == "--quiet")
            opt.quiet = true;
        else if (a == "--verbose")
            opt.verbose = true;
        else {
            std::fprintf(stderr,
                         "usage: repl_bench [--sessions N] [--runs R] [--curve on|off|both] "
                         "[--rate R] [--paced N] [--backlog N] [--batch N] [--port P] [--quiet] "
                         "[--verbose]\n");
            return 2;
        }
    }
    setLogLevel("ha", opt.verbose ? LogLevel::info : LogLevel::error);
    int port = opt.port ? opt.port : 10000 + int(getpid() % 700) * 32;  // below the ephemeral range
    std::printf("repl_bench: two nodes, one thread each, ZeroMQ over TCP loopback\n");
    for (bool curve : {true, false}) {
        if ((curve && !opt.curve_on) || (!curve && !opt.curve_off)) continue;
        std::vector<Figures> runs;
        for (int r = 0; r < opt.runs; ++r) {
            runs.push_back(runOnce(opt, curve, port));
            port += 4;
            const Figures& f = runs.back();
            if (!opt.quiet)
                std::printf(
                    "  run %d (%s): bulk %.3f s, live %.3f M/s, paced lag applied p50/p99 "
                    "%.0f/%.0f us, acked %.0f/%.0f us, resends %llu (nacks %llu, ack timeouts "
                    "%llu, inbound_full %llu), apply_ring_full %llu, "
                    "CPU us/session node1 %.2f node2 %.2f zmq-io %.2f\n",
                    r + 1, curve ? "CURVE" : "plain", f.bulk_s, f.live_per_s / 1e6,
                    f.applied_p50_us, f.applied_p99_us, f.acked_p50_us, f.acked_p99_us,
                    (unsigned long long)f.resends, (unsigned long long)f.nacks,
                    (unsigned long long)f.timeouts, (unsigned long long)f.inbound_full,
                    (unsigned long long)f.apply_ring_full, f.cpu_us_a, f.cpu_us_b, f.cpu_us_io);
        }
        report(curve ? "CURVE on" : "CURVE off", runs, opt);
    }
    return 0;
}
