// The worker loop: commands from the HA agent, then every port's RX queue
// through the pipeline, then aging and table jobs; idle back-off last.
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <cstring>

#include "core/clock.h"
#include "core/wire_bytes.h"
#include "dataplane/dataplane_impl.h"
#include "packet/rss_coverage.h"

namespace tandem {
namespace {

constexpr uint32_t kAgeBudget = 256;       // wheel entries per loop iteration
constexpr uint32_t kJobBudget = 4096;      // table entries scanned per iteration by jobs
constexpr uint32_t kCommandBudget = 4096;  // agent commands applied per iteration
// Idle back-off: keep polling for a short while after traffic (the next
// packet of a handshake or request/response is usually close behind), then
// sleep, doubling the sleep while the ports stay quiet, up to 1 ms; after a
// second without traffic, up to 4 ms. Each wake-up costs tens of µs of CPU
// on a virtual machine (timer, two context switches), so the ceiling sets
// an idle worker's CPU: ~3 % of a core at 1 ms, under 1 % at 4 ms. The
// price is the latency of the first frame after a quiet spell; busy-poll
// (production) never sleeps.
constexpr uint32_t kSpinAfterTrafficMs = 2;
constexpr long kMinSleepNs = 20 * 1000;
constexpr long kMaxSleepNs = 1000 * 1000;
constexpr uint32_t kDeepIdleAfterMs = 1000;
constexpr long kDeepIdleSleepNs = 4 * 1000 * 1000;

}  // namespace

void Dataplane::Impl::transmit(Worker& w, uint16_t port_id, rte_mbuf** pkts, uint16_t n,
                               bool peer_link) {
    const uint16_t sent = rte_eth_tx_burst(port_id, w.queue, pkts, n);
    w.counters.add(peer_link ? WorkerCounter::peer_link_tx : WorkerCounter::tx_packets, sent);
    if (sent < n) {
        w.counters.add(peer_link ? WorkerCounter::peer_link_tx_dropped : WorkerCounter::tx_dropped,
                       n - sent);
        for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(pkts[i]);
    }
}

bool Dataplane::Impl::encapsulate(Worker& w, rte_mbuf* m, PeerLinkType type, NodeId to,
                                  NodeId entered, ForwardReason reason, uint16_t port,
                                  uint32_t hint) {
    const PeerLinkSpec& pl = spec.peer_link;
    if (!pl.enabled || !(pl.known_peers & nodeBit(to))) {
        w.counters.inc(WorkerCounter::peer_link_unknown_peer);
        return false;
    }
    PeerLinkHeader h;
    h.type = type;
    h.cluster_id = pl.cluster_id;
    h.from = spec.pipeline.node;
    h.to = to;
    h.reason = reason;
    h.ingress_port = uint8_t(port);
    h.session_hint = hint;
    h.payload_len = rte_pktmbuf_data_len(m);
    h.origin = entered;
    return prependPeerLinkHeaders(w, m, h);
}

void Dataplane::Impl::sendPeerLinkMessage(Worker& w, PeerLinkType type, NodeId to, uint32_t hint,
                                          const uint8_t* payload, uint16_t len,
                                          WorkerCounter sent) {
    const PeerLinkSpec& pl = spec.peer_link;
    if (!pl.enabled || !(pl.known_peers & nodeBit(to))) return;
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return;
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, len));
    PeerLinkHeader h;
    h.type = type;
    h.cluster_id = pl.cluster_id;
    h.from = spec.pipeline.node;
    h.to = to;
    h.session_hint = hint;
    h.payload_len = len;
    if (p) std::memcpy(p, payload, len);
    if (!p || !prependPeerLinkHeaders(w, m, h)) {
        rte_pktmbuf_free(m);
        return;
    }
    w.counters.inc(sent);
    transmit(w, peer_port_id, &m, 1, true);
}

void Dataplane::Impl::sendHeartbeat(Worker& w, NodeId peer, uint32_t seq, uint8_t state) {
    PeerLinkHeartbeat hb;
    hb.seq = seq;
    hb.state = state;
    uint8_t payload[kPeerLinkHeartbeatSize];
    encodePeerLinkHeartbeat(hb, payload);
    sendPeerLinkMessage(w, PeerLinkType::heartbeat, peer, 0, payload, kPeerLinkHeartbeatSize,
                        WorkerCounter::heartbeats_sent);
}

void Dataplane::Impl::repeatHeartbeats(Worker& w, uint32_t now) {
    const uint32_t every = spec.peer_link.heartbeat_ms;
    if (every == 0 || w.heartbeat_peers == 0 || now - w.heartbeat_sent_ms < every ||
        now - w.heartbeat_cmd_ms > spec.peer_link.heartbeat_for_ms)
        return;
    w.heartbeat_sent_ms = now;
    for (NodeId peer = 1; peer <= kMaxNodes; ++peer)
        if (w.heartbeat_peers & nodeBit(peer))
            sendHeartbeat(w, peer, w.heartbeat_seq, w.heartbeat_state);
}

bool Dataplane::Impl::answerHealthCheck(Worker& w, rte_mbuf* m) {
    if (m->nb_segs != 1) return false;
    auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
    const uint16_t len = rte_pktmbuf_data_len(m);
    // Parsed again here: health checks come a few times a minute.
    PacketInfo info;
    if (parseFrame(frame, len, spec.pipeline.parse, info) != ParseResult::ok) return false;
    const bool healthy = !spec.view || canOwnSessions(spec.view->load().self_state);
    const size_t n = healthCheckReply(frame, len, size_t(len) + rte_pktmbuf_tailroom(m), info,
                                      healthy, spec.pipeline.health_check, w.health_check_counters);
    if (n == 0) return false;
    if (n > len) {
        rte_pktmbuf_append(m, uint16_t(n - len));
    } else {
        rte_pktmbuf_trim(m, uint16_t(len - n));
    }
    return true;
}

void Dataplane::Impl::sendOwnerHint(Worker& w, NodeId to, uint64_t flow_hash, NodeId owner) {
    uint8_t payload[kPeerLinkOwnerHintSize];
    encodePeerLinkOwnerHint(PeerLinkOwnerHint{flow_hash, owner}, payload);
    sendPeerLinkMessage(w, PeerLinkType::owner_hint, to, uint32_t(flow_hash), payload,
                        kPeerLinkOwnerHintSize, WorkerCounter::owner_hints_sent);
}

void Dataplane::Impl::sendParked(Worker& w, const ParkingLot::Parked& p) {
    rte_mbuf* m = p.frame;
    if (p.egress_via != kNoNode) {
        if (encapsulate(w, m, PeerLinkType::egress_frame, p.egress_via, kNoNode,
                        ForwardReason::egress_via_peer, p.port, 0)) {
            w.counters.inc(WorkerCounter::egress_via_peer);
            transmit(w, peer_port_id, &m, 1, true);
        } else {
            rte_pktmbuf_free(m);
        }
    } else {
        transmit(w, port_ids[p.port], &m, 1, false);
    }
}

void Dataplane::Impl::park(Worker& w, rte_mbuf* m, const Verdict& v, uint32_t now,
                           NodeId egress_via) {
    ParkingLot::Parked evicted;
    if (w.parking.park(m, v.token, v.port, egress_via, now, &evicted)) {
        // A very old packet still waiting in the slot: its time is up.
        w.counters.inc(WorkerCounter::deferred_overflow);
        sendParked(w, evicted);
    }
    w.counters.inc(WorkerCounter::deferred_parked);
}

void Dataplane::Impl::release(Worker& w, uint32_t token) {
    ParkingLot::Parked p;
    if (!w.parking.release(token, &p)) return;  // already sent
    w.counters.inc(WorkerCounter::deferred_released);
    sendParked(w, p);
}

void Dataplane::Impl::expireParked(Worker& w, uint32_t now) {
    w.parking.expire(now, [&](const ParkingLot::Parked& p) {
        w.counters.inc(WorkerCounter::deferred_expired);
        sendParked(w, p);
    });
}

bool Dataplane::Impl::holdFragment(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from,
                                   uint32_t now) {
    if (w.fragment_hold.hold(m, port, from, now)) return true;
    w.counters.inc(WorkerCounter::fragments_hold_full);
    return false;
}

void Dataplane::Impl::handleHeld(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from,
                                 Verdict v, uint32_t now) {
    Burst one;
    one.reset(port, from.node != kNoNode);
    one.push(m, rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m), from);
    handleVerdicts(w, one, &v, now);
}

void Dataplane::Impl::releaseHeldFragments(Worker& w, uint32_t now) {
    w.fragment_hold.retry(w.pipeline->fragmentHeadsDecided(), [&](const FragmentHold::Held& h) {
        uint8_t* data = rte_pktmbuf_mtod(h.frame, uint8_t*);
        const uint16_t len = rte_pktmbuf_data_len(h.frame);
        Verdict v = w.pipeline->releaseHeldFragment(data, len, h.port, now, h.from);
        if (v.kind == VerdictKind::hold) return false;
        w.counters.inc(WorkerCounter::fragments_released);
        handleHeld(w, h.frame, h.port, h.from, v, now);
        return true;
    });
}

bool Dataplane::Impl::awaitOwner(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from,
                                 uint32_t now, uint32_t wait_ms) {
    if (w.owner_wait.hold(m, port, from, now, wait_ms)) return true;
    w.counters.inc(WorkerCounter::owner_wait_full);
    return false;
}

Verdict Dataplane::Impl::redecideAwaiting(Worker& w, const OwnerWait::Held& h, uint32_t now,
                                          bool last) {
    return w.pipeline->releaseAwaiting(rte_pktmbuf_mtod(h.frame, uint8_t*),
                                       rte_pktmbuf_data_len(h.frame), h.port, now, h.from, last);
}

void Dataplane::Impl::releaseAwaiting(Worker& w, uint32_t now) {
    w.owner_wait.retry(w.pipeline->ownerWaitProgress(now), [&](const OwnerWait::Held& h) {
        const Verdict v = redecideAwaiting(w, h, now, false);
        if (v.kind == VerdictKind::await_owner) return false;
        w.counters.inc(WorkerCounter::owner_wait_released);
        handleHeld(w, h.frame, h.port, h.from, v, now);
        return true;
    });
}

void Dataplane::Impl::expireAwaiting(Worker& w, uint32_t now) {
    w.owner_wait.expire(now, [&](const OwnerWait::Held& h) {
        w.counters.inc(WorkerCounter::owner_wait_expired);
        handleHeld(w, h.frame, h.port, h.from, redecideAwaiting(w, h, now, true), now);
    });
}

void Dataplane::Impl::expireHeldFragments(Worker& w, uint32_t now) {
    w.fragment_hold.expire(now, [&](const FragmentHold::Held& h) {
        w.counters.inc(WorkerCounter::fragments_hold_expired);
        rte_pktmbuf_free(h.frame);
    });
}

void Dataplane::Impl::drainCommands(Worker& w, uint32_t now) {
    if (!w.channel) return;
    AgentCommand cmd;
    for (uint32_t n = 0; n < kCommandBudget && w.channel->to_worker.pop(&cmd); ++n) {
        w.counters.inc(WorkerCounter::commands_applied);
        switch (cmd.kind) {
            case AgentCommandKind::release_deferred:
                release(w, cmd.token);
                break;
            case AgentCommandKind::send_peer_link_heartbeat:
                sendHeartbeat(w, cmd.peer, cmd.heartbeat_seq, cmd.self_state);
                if (isValidNodeId(cmd.peer)) w.heartbeat_peers |= nodeBit(cmd.peer);
                w.heartbeat_state = cmd.self_state;
                w.heartbeat_seq = cmd.heartbeat_seq;
                w.heartbeat_cmd_ms = w.heartbeat_sent_ms = now;
                break;
            default:
                w.pipeline->apply(cmd, now);
                break;
        }
    }
}

void Dataplane::Impl::handOff(Worker& w, Burst& b, uint32_t now) {
    if (worker_map.workers() <= 1) return;
    // rss steering: the device put each plain TCP or UDP frame of a data
    // port on the queue of the worker that owns its flow, this one.
    const bool device_steered = worker_map.steering() == Steering::rss && !b.from_peer;
    // ... except a translated flow's frames, which have a worker of their
    // own (nat/nat_steering.h). rssCoversFrame() saw a 20-byte IPv4 header
    // or an IPv6 one (never translated).
    const NatSetup* nat = spec.pipeline.nat;
    auto natSteered = [nat](const uint8_t* frame) {
        if (!nat || frame[12] != 0x08 || frame[13] != 0x00) return false;
        return natSteersAddresses(*nat, wire::get32(frame + 26), wire::get32(frame + 30));
    };
    splitForWorkers(
        b, w.index,
        [&](const uint8_t* frame, uint16_t len) {
            if (device_steered && rssCoversFrame(frame, len, spec.pipeline.parse) &&
                !natSteered(frame))
                return w.index;
            return w.pipeline->workerFor(frame, len, worker_map, w.index, now);
        },
        [&](uint32_t to, const Handoff& h) {
            if (handoffRing(w.index, to).push(h)) {
                w.counters.inc(WorkerCounter::handoff_out);
            } else {
                w.counters.inc(WorkerCounter::handoff_dropped);
                rte_pktmbuf_free(h.frame);
            }
        });
}

void Dataplane::Impl::processFrames(Worker& w, const Burst& b, uint32_t now) {
    if (b.n == 0) return;
    Verdict* verdicts = w.verdicts.data();
    b.forEachSenderRun([&](uint16_t first, uint16_t n, const PeerOrigin& sender) {
        if (sender.node == kNoNode) {
            w.pipeline->processBurst(b.data + first, b.lens + first, n, b.port, now,
                                     verdicts + first);
        } else {
            w.pipeline->processBurst(b.data + first, b.lens + first, n, b.port, now,
                                     verdicts + first, Ingress::peer, sender.node, sender.reason);
        }
    });
    handleVerdicts(w, b, verdicts, now);
    releaseHeldFragments(w, now);
    releaseAwaiting(w, now);
}

bool Dataplane::Impl::pollHandoffs(Worker& w, uint32_t now) {
    const unsigned nworkers = unsigned(workers.size());
    if (nworkers <= 1) return false;
    bool any = false;
    Burst b;
    for (unsigned from = 0; from < nworkers; ++from) {
        if (from == w.index) continue;
        HandoffRing& ring = handoffRing(from, w.index);
        const uint32_t taken = takeHandoffs(
            b, Pipeline::kMaxBurst,
            [&](Handoff* h) {
                if (!ring.pop(h)) return false;
                if (!any) {
                    // As for a port's burst: replicas before the packets they let loose.
                    drainCommands(w, now);
                    any = true;
                }
                return true;
            },
            [](rte_mbuf* m) {
                return FrameBytes{rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m)};
            },
            [&](const Burst& run) { processFrames(w, run, now); });
        w.counters.add(WorkerCounter::handoff_in, taken);
    }
    return any;
}

namespace {

/// What verdict dispatch asks of the worker, on mbufs (verdict_dispatch.h).
struct WorkerDispatchIo {
    Dataplane::Impl& dp;
    Worker& w;
    uint32_t now;
    bool encapsulate(rte_mbuf* m, PeerLinkType type, NodeId to, NodeId entered,
                     ForwardReason reason, uint16_t port, uint32_t hint) {
        return dp.encapsulate(w, m, type, to, entered, reason, port, hint);
    }
    bool answerHealthCheck(rte_mbuf* m) { return dp.answerHealthCheck(w, m); }
    void park(rte_mbuf* m, const Verdict& v, NodeId egress_via) {
        dp.park(w, m, v, now, egress_via);
    }
    bool hold(rte_mbuf* m, uint16_t port, const PeerOrigin& from) {
        return dp.holdFragment(w, m, port, from, now);
    }
    bool awaitOwner(rte_mbuf* m, uint16_t port, const PeerOrigin& from, uint32_t wait_ms) {
        return dp.awaitOwner(w, m, port, from, now, wait_ms);
    }
    void ownerHint(NodeId to, uint64_t flow_hash, NodeId owner) {
        dp.sendOwnerHint(w, to, flow_hash, owner);
    }
    void free(rte_mbuf* m) { rte_pktmbuf_free(m); }
    rte_mbuf* generated(uint8_t reset, uint8_t** data) {
        const GeneratedFrame& g = w.pipeline->generated(reset);
        rte_mbuf* m = rte_pktmbuf_alloc(dp.pool);
        if (!m) return nullptr;
        *data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, g.len));
        std::memcpy(*data, g.bytes.data(), g.len);
        return m;
    }
};

}  // namespace

void Dataplane::Impl::handleVerdicts(Worker& w, const Burst& b, const Verdict* verdicts,
                                     uint32_t now) {
    const DispatchSettings settings{spec.pipeline.node, spec.pipeline.geneve,
                                    uint16_t(port_ids.size())};
    WorkerDispatchIo io{*this, w, now};
    TxListsOf<rte_mbuf*> tx;
    const DispatchCounts c = dispatchVerdicts(b, verdicts, settings, port_neighbours, io, tx);
    if (c.egress_via_peer) w.counters.add(WorkerCounter::egress_via_peer, c.egress_via_peer);
    if (c.resets_sent) w.counters.add(WorkerCounter::tcp_resets_sent, c.resets_sent);
    if (c.resets_unsent) w.counters.add(WorkerCounter::tcp_resets_unsent, c.resets_unsent);
    for (uint16_t e = 0; e < settings.nports; ++e) {
        if (tx.port_n[e]) transmit(w, port_ids[e], tx.port[e], tx.port_n[e], false);
    }
    if (tx.peer_n) transmit(w, peer_port_id, tx.peer, tx.peer_n, true);
}

bool Dataplane::Impl::pollPeerLink(Worker& w, uint32_t now) {
    rte_mbuf* rx[Pipeline::kMaxBurst];
    const uint16_t n = rte_eth_rx_burst(peer_port_id, w.queue, rx, Pipeline::kMaxBurst);
    if (n == 0) return false;
    drainCommands(w, now);  // as for data ports: replicas before the packets they let loose
    const size_t overhead = peerLinkOverhead();
    const uint16_t nports = uint16_t(port_ids.size());
    PeerLinkDemux demux(nports);
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = rx[i];
        if (m->nb_segs == 1 && takePeerLinkArp(w, m, now)) continue;
        PeerLinkHeader h;
        const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
        const PeerLinkResult r = PeerLinkDemux::admit(
            m->nb_segs == 1 ? decodePeerLinkReceived(w, data, rte_pktmbuf_data_len(m), &h)
                            : PeerLinkResult::bad_length,
            h, nports);
        w.peer_link_counters.inc(r);
        if (r != PeerLinkResult::ok) {
            rte_pktmbuf_free(m);
            continue;
        }
        switch (PeerLinkDemux::routeOf(h)) {
            case PeerLinkDemux::Route::owner_hint: {
                PeerLinkOwnerHint hint;
                if (decodePeerLinkOwnerHint(data + overhead, h.payload_len, &hint) && owner_cache) {
                    owner_cache->learn(hint.flow_hash, hint.owner, now);
                    w.counters.inc(WorkerCounter::owner_hints_received);
                } else {
                    w.counters.inc(WorkerCounter::owner_hints_bad);
                }
                rte_pktmbuf_free(m);
                continue;
            }
            case PeerLinkDemux::Route::heartbeat: {
                PeerLinkHeartbeat hb;
                decodePeerLinkHeartbeat(data + overhead, h.payload_len, &hb);
                w.counters.inc(WorkerCounter::heartbeats_received);
                if (w.channel && isValidNodeId(h.from))
                    w.channel->peer_link_heard_ms[h.from].store(now, std::memory_order_relaxed);
                if (w.channel) {
                    WorkerEvent ev;
                    ev.kind = WorkerEventKind::peer_link_heartbeat;
                    ev.peer = h.from;
                    ev.worker = uint16_t(w.index);
                    ev.now_ms = now;
                    ev.heartbeat_seq = hb.seq;
                    ev.peer_state = hb.state;
                    if (!w.channel->to_agent.push(ev)) w.counters.inc(WorkerCounter::events_lost);
                }
                rte_pktmbuf_free(m);
                continue;
            }
            case PeerLinkDemux::Route::data:
                break;
        }
        rte_pktmbuf_adj(m, uint16_t(overhead));
        rte_pktmbuf_trim(m, uint16_t(rte_pktmbuf_data_len(m) - h.payload_len));
        demux.add(m, rte_pktmbuf_mtod(m, uint8_t*), rte_pktmbuf_data_len(m), h);
    }
    for (uint16_t p = 0; p < nports; ++p) {
        const uint16_t k = demux.egressCount(p);
        if (k == 0) continue;
        w.counters.add(WorkerCounter::egress_for_peer, k);
        transmit(w, port_ids[p], demux.egress(p), k, false);
    }
    for (uint16_t p = 0; p < nports; ++p) {
        Burst& b = demux.forwarded(p);
        if (b.n == 0) continue;
        handOff(w, b, now);
        processFrames(w, b, now);
    }
    return true;
}

void Dataplane::Impl::servePolicy(Worker& w) {
    PolicyMailbox& mb = w.policy_box;
    if (mb.state.load(std::memory_order_acquire) != PolicyMailbox::kRequested) return;
    // Between bursts: the frames before matched the old policy, the next
    // ones match the new. The requester holds both, so neither is freed here.
    w.pipeline->setPolicy(mb.policy, mb.end_denied);
    mb.state.store(PolicyMailbox::kDone, std::memory_order_release);
}

bool Dataplane::Impl::serveMailbox(Worker& w, uint32_t now) {
    SessionMailbox& mb = w.mailbox;
    if (mb.state.load(std::memory_order_acquire) != SessionMailbox::kRequested) return false;
    if (mb.kind == SessionMailbox::Kind::applications) {
        if (mb.cursor++ == 0) w.app_tally->start(spec.pipeline.node);
        if (w.app_tally->step(kJobBudget)) {
            mb.n = w.app_tally->top(mb.apps, mb.cap);
            mb.state.store(SessionMailbox::kDone, std::memory_order_release);
        }
        return true;
    }
    SessionTable& table = *w.table;
    auto take = [&](uint32_t i) {
        const Session& s = table.at(i);
        ++mb.matched;
        if (mb.kind == SessionMailbox::Kind::clear) {
            w.pipeline->removeSession(i, now);
        } else if (mb.n < mb.cap) {
            SessionSnapshot& snap = mb.out[mb.n++];
            snap.id = uint64_t(w.index) * table.capacity() + i;
            snap.session = s;
            snap.expires_in_ms = int32_t(s.expires_ms - now);
            snap.app = table.app(i);
            snap.app_name.assign(table.appName(i));
            snap.nat = table.nat(i);
        }
    };
    if (mb.index) {
        if (table.inUse(*mb.index)) take(*mb.index);
        mb.state.store(SessionMailbox::kDone, std::memory_order_release);
        return true;
    }
    // Bounded work per loop iteration; the requester waits.
    const uint32_t end = std::min<uint32_t>(table.capacity(), mb.cursor + kJobBudget);
    for (uint32_t i = mb.cursor; i < end; ++i) {
        if (table.inUse(i) && sessionMatches(table.at(i), mb.filter)) take(i);
    }
    mb.cursor = end;
    if (end == table.capacity()) mb.state.store(SessionMailbox::kDone, std::memory_order_release);
    return true;
}

void Dataplane::Impl::loop(Worker& w) {
    // Sleep precision matters for the idle back-off: ask for 1 µs timer slack.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    const uint16_t nports = uint16_t(port_ids.size());
    const uint16_t burst = std::min<uint16_t>(spec.burst, Pipeline::kMaxBurst);
    rte_mbuf* rx[Pipeline::kMaxBurst];
    Burst b;
    uint32_t last_traffic_ms = monotonicMs();
    long sleep_ns = kMinSleepNs;

    while (!stopping.load(std::memory_order_relaxed)) {
        const uint32_t now = monotonicMs();
        if (w.channel) w.channel->polled_ms.store(now, std::memory_order_relaxed);
        // Commands first: a replica the agent acknowledged must be in the
        // table before any packet that the acknowledgement let loose.
        drainCommands(w, now);
        servePolicy(w);
        bool busy = false;
        for (uint16_t p = 0; p < nports; ++p) {
            const uint16_t n = rte_eth_rx_burst(port_ids[p], w.queue, rx, burst);
            if (n == 0) continue;
            busy = true;
            // Commands again, now that the burst is in hand: a replica the
            // agent queued before acknowledging must be applied before any
            // packet the acknowledgement let loose, and such a packet can be
            // in this burst even if the ring was empty at the top of the loop.
            drainCommands(w, now);
            w.counters.inc(WorkerCounter::rx_bursts);
            b.reset(p, false);
            const uint8_t* own_mac = port_macs[p].addr_bytes;
            for (uint16_t i = 0; i < n; ++i) {
                if (rx[i]->nb_segs != 1) {
                    w.counters.inc(WorkerCounter::dropped_multi_segment);
                    rte_pktmbuf_free(rx[i]);
                    continue;
                }
                // A port shared with a kernel (af_packet) also shows what the
                // host itself sends there (IPv6 ND, MLD): not transit
                // traffic, and no neighbour to learn.
                if (rte_pktmbuf_data_len(rx[i]) >= 12 &&
                    std::memcmp(rte_pktmbuf_mtod(rx[i], const uint8_t*) + 6, own_mac, 6) == 0) {
                    w.counters.inc(WorkerCounter::dropped_own_frames);
                    rte_pktmbuf_free(rx[i]);
                    continue;
                }
                b.push(rx[i], rte_pktmbuf_mtod(rx[i], uint8_t*), rte_pktmbuf_data_len(rx[i]));
            }
            if (b.n > 0) {
                // Learn this port's neighbour from a unicast source address.
                const uint8_t* src = b.data[b.n - 1] + 6;
                if (!(src[0] & 1)) port_neighbours.learn(p, src);
            }
            handOff(w, b, now);
            processFrames(w, b, now);
        }
        busy |= pollHandoffs(w, now);
        if (spec.peer_link.enabled) {
            repeatHeartbeats(w, now);
            busy |= pollPeerLink(w, now);
            resolvePeerLinkNeighbours(w, now);
        }
        w.pipeline->age(now, kAgeBudget);
        const bool jobs = w.pipeline->runJobs(now, kJobBudget) | serveMailbox(w, now);
        expireParked(w, now);
        expireHeldFragments(w, now);
        releaseAwaiting(w, now);  // a session came in a command, or the change settled
        expireAwaiting(w, now);

        const bool waiting = w.parking.parked() || w.owner_wait.held();
        if (busy || jobs || waiting || spec.busy_poll) {
            if (busy) last_traffic_ms = now;
            sleep_ns = kMinSleepNs;
            if (busy || spec.busy_poll) continue;
        }
        // Idle: poll on briefly, then sleep with back-off so that several
        // nodes can share a small machine. While polling on, give way to any
        // other thread waiting for this CPU (the HA agent, whose answer the
        // parked first packets wait for, a neighbour node's worker).
        if (now - last_traffic_ms < kSpinAfterTrafficMs || jobs || waiting) {
            sched_yield();
            continue;
        }
        w.counters.inc(WorkerCounter::idle_sleeps);
        timespec ts{0, sleep_ns};
        nanosleep(&ts, nullptr);
        sleep_ns =
            std::min(sleep_ns * 2,
                     now - last_traffic_ms < kDeepIdleAfterMs ? kMaxSleepNs : kDeepIdleSleepNs);
    }
}

}  // namespace tandem
