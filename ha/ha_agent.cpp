#include "ha/ha_agent.h"

#include <pthread.h>

#include <algorithm>
#include <random>

#include "core/log.h"
#include "ha/preflight.h"

namespace tandem {
namespace {

uint64_t pickIncarnation(uint64_t given, const Clock& clock) {
    if (given) return given;
    std::random_device rd;
    uint64_t v = (uint64_t(rd()) << 32 | rd()) ^ clock.nowUs();
    return v ? v : 1;
}

MembershipOptions membershipOptions(const Config& c, const HaAgentOptions& o) {
    MembershipOptions m;
    m.heartbeat_interval_us = uint64_t(c.ha.heartbeat_interval_ms) * 1000;
    m.hold_time_us = uint64_t(c.ha.hold_time_ms) * 1000;
    m.peer_link_detect_us = uint64_t(c.ha.peer_link_detect_ms) * 1000;
    // A restarted node must find its peer (ZeroMQ connect, CURVE handshake,
    // HELLO) before it decides it is alone: never less than a second.
    m.startup_wait_us =
        (o.startup_wait_ms ? o.startup_wait_ms : std::max<uint64_t>(c.ha.hold_time_ms, 1000)) *
        1000;
    m.bulk_stall_us = o.bulk_stall_ms * 1000;
    m.bulk_max_us = o.bulk_max_ms * 1000;
    return m;
}

// Clusters of three or more replicate each session to its owner and backup
// owner only; a pair to its one peer (the same thing).
ReplicationOptions replicationOptions(const Config& c, ReplicationOptions o) {
    o.targeted = c.peers.size() >= 2;
    return o;
}

bool sameView(const ClusterView& a, const ClusterView& b) {
    ClusterView x = a, y = b;
    x.epoch = y.epoch = 0;
    return x.pack() == y.pack();
}

}  // namespace

HaAgent::HaAgent(const Config& config, const Clock& clock, HaTransport& transport,
                 std::vector<WorkerChannel*> workers, ClusterViewCell& view, HaAgentOptions options)
    : config_(config),
      clock_(clock),
      transport_(transport),
      workers_(workers),
      view_cell_(view),
      options_(std::move(options)),
      incarnation_(pickIncarnation(options_.incarnation, clock)),
      outbox_(transport, config.node.cluster_id, config.node.id, counters_),
      membership_(config_, membershipOptions(config_, options_), outbox_, counters_,
                  makeLocalHello(config_, incarnation_, options_.peer_link_mtu,
                                 options_.replication.worker_map ? &*options_.replication.worker_map
                                                                 : nullptr),
                  clock.nowUs()),
      replication_(replicationOptions(config_, options_.replication), std::move(workers), outbox_,
                   counters_, incarnation_) {
    membership_.setWorkersStarted(workers_.empty());
    publishView();
    snapshot(clock.nowUs());
}

HaAgent::~HaAgent() {
    stop();
}

void HaAgent::start() {
    if (running_.exchange(true)) return;
    thread_ = std::thread([this] { run(); });
}

void HaAgent::stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
}

void HaAgent::run() {
    // Named for ps -T / top -H (and the lab, which starves this thread alone).
    pthread_setname_np(pthread_self(), "ha-agent");
    unsigned idle = 0;
    while (running_.load(std::memory_order_relaxed)) {
        if (step()) {
            idle = 0;
            continue;
        }
        // Back off gently: a burst of new flows (defer tokens) is served
        // within tens of microseconds, an idle agent wakes once a millisecond.
        ++idle;
        transport_.wait(idle < 8 ? 50 : idle < 32 ? 200 : 1000);
    }
}

bool HaAgent::configured(NodeId id) const {
    for (const PeerConfig& p : config_.peers)
        if (p.id == id) return true;
    return false;
}

// ---- operator commands ------------------------------------------------------------

HaCommandResult HaAgent::suspend() {
    std::lock_guard lock(mu_);
    commands_.push_back({CommandKind::suspend, true, "operator request: suspend"});
    if (status_.local.operator_suspended) return {true, "already suspended"};
    return {true, "suspending: sessions go to their backup owners"};
}

HaCommandResult HaAgent::functional() {
    std::lock_guard lock(mu_);
    commands_.push_back({CommandKind::functional, true, "operator request: functional"});
    if (!status_.local.operator_suspended) return {true, "not suspended: nothing to do"};
    return {true, "leaving the suspended state"};
}

void HaAgent::setLinkState(bool ok, const std::string& reason) {
    std::lock_guard lock(mu_);
    commands_.push_back({CommandKind::link, ok,
                         reason.empty() ? (ok ? "data links up" : "a data link is down") : reason});
}

void HaAgent::setPolicy(uint64_t hash, uint32_t rules) {
    std::lock_guard lock(mu_);
    commands_.push_back({CommandKind::policy, true, "policy reload", hash, rules});
}

HaCommandResult HaAgent::requestResync() {
    std::lock_guard lock(mu_);
    commands_.push_back({CommandKind::resync, true, "operator request: resync"});
    return {true, "asking every live peer for a full bulk sync"};
}

void HaAgent::applyCommands(uint64_t now_us) {
    std::vector<Command> cmds;
    {
        std::lock_guard lock(mu_);
        cmds.swap(commands_);
    }
    for (const Command& c : cmds) {
        switch (c.kind) {
            case CommandKind::suspend:
                membership_.suspend(c.reason);
                break;
            case CommandKind::functional:
                membership_.functional(c.reason);
                break;
            case CommandKind::link:
                membership_.setLinkState(c.ok, c.reason);
                break;
            case CommandKind::resync:
                replication_.requestResync(now_us);
                break;
            case CommandKind::policy:
                membership_.setPolicy(c.policy_hash, c.policy_rules);
                break;
        }
        dirty_ = true;
    }
}

// ---- messages -----------------------------------------------------------------------------

void HaAgent::handleTransportEvent(TransportEvent& ev, uint64_t now_us) {
    if (ev.kind == TransportEventKind::auth_failed) {
        TLOG_WARN("ha", "CURVE handshake with node %u failed: check the keys in [peer.%u]", ev.peer,
                  ev.peer);
        return;
    }
    if (ev.kind == TransportEventKind::connected || ev.kind == TransportEventKind::disconnected) {
        if (configured(ev.peer))
            membership_.onConnection(ev.peer, ev.kind == TransportEventKind::connected, now_us);
        return;
    }
    if (ev.kind != TransportEventKind::message) return;
    HaMessage m;
    const HaDecodeExpect expect{config_.node.cluster_id, config_.node.id};
    const HaDecodeResult r = decodeHaMessage(reinterpret_cast<const uint8_t*>(ev.bytes.data()),
                                             ev.bytes.size(), expect, &m);
    if (r != HaDecodeResult::ok) {
        decode_counters_.inc(r);
        counters_.inc(HaCounter::decode_rejected);
        if (r == HaDecodeResult::wrong_version) {
            counters_.inc(HaCounter::wrong_version_rx);
            HaEnvelope e;
            const bool peeked = peekHaEnvelope(reinterpret_cast<const uint8_t*>(ev.bytes.data()),
                                               ev.bytes.size(), &e);
            if (peeked && configured(e.from) && !(warned_version_ & nodeBit(e.from))) {
                warned_version_ |= nodeBit(e.from);
                TLOG_WARN("ha", "node %u speaks HA protocol version %u, this node %u: not pairing",
                          e.from, e.version, kHaProtocolVersion);
            }
        }
        return;
    }
    const NodeId from = m.envelope.from;
    if (!configured(from)) {
        counters_.inc(HaCounter::unknown_peer);
        if (now_us - warned_unknown_us_ >= kRepeatedWarningUs || !warned_unknown_us_) {
            warned_unknown_us_ = now_us;
            TLOG_WARN("ha", "message from node %u, which is not a configured peer: dropped", from);
        }
        return;
    }
    if (ev.peer != kNoNode && ev.peer != from) {
        counters_.inc(HaCounter::identity_mismatch);
        return;
    }
    if (transport_.authenticates() && ev.authenticated != from) {
        counters_.inc(HaCounter::auth_id_mismatch);
        // Every message of such a peer lands here: one line per interval,
        // the counter has the rest.
        if (now_us - warned_auth_us_ >= kRepeatedWarningUs || !warned_auth_us_) {
            warned_auth_us_ = now_us;
            TLOG_WARN("ha",
                      "message claims to be from node %u but its key is node %u's: dropped "
                      "(auth_id_mismatch: %llu so far)",
                      from, ev.authenticated,
                      (unsigned long long)counters_.get(HaCounter::auth_id_mismatch));
        }
        return;
    }
    counters_.inc(HaCounter::msgs_rx);
    counters_.add(HaCounter::bytes_rx, ev.bytes.size());
    membership_.onHaTraffic(from, now_us);
    handleMessage(from, m, now_us);
}

void HaAgent::handleMessage(NodeId from, HaMessage& m, uint64_t now_us) {
    if (auto* hello = std::get_if<HaHello>(&m.body)) {
        membership_.onHello(from, *hello, now_us);
        dirty_ = true;
        Missed& missed = missed_unpaired_[from];
        if (missed.seq != 0 && membership_.isPaired(from)) {
            replication_.missedBeforePairing(from, missed.stream, missed.seq, now_us);
            missed = Missed{};
        }
        return;
    }
    if (auto* hb = std::get_if<HaHeartbeat>(&m.body)) {
        membership_.onHeartbeat(from, *hb, now_us);
        return;
    }
    if (auto* own = std::get_if<HaOwnership>(&m.body)) {
        counters_.inc(HaCounter::ownership_notices_rx);
        static const char* const kinds[] = {"?",
                                            "gives back sessions",
                                            "takes back sessions",
                                            "is suspended",
                                            "is functional again",
                                            "is non-functional"};
        TLOG_INFO("ha", "node %u %s%s", own->subject, kinds[size_t(own->kind)],
                  own->target ? (" (to node " + std::to_string(own->target) + ")").c_str() : "");
        return;
    }
    if (!membership_.isPaired(from)) {
        counters_.inc(HaCounter::unpaired_drop);
        // A restarted peer's HELLO and its first sync messages travel on
        // different connections: the ones that came first are asked for
        // again as soon as it is paired (a NACK), not after the sender's
        // ack timeout, so that the sessions in them are not late.
        uint64_t stream = 0, seq = 0;
        if (auto* b = std::get_if<HaSessionBatch>(&m.body)) stream = b->stream, seq = b->seq;
        if (auto* b = std::get_if<HaBulkBegin>(&m.body)) stream = b->stream, seq = b->seq;
        if (auto* b = std::get_if<HaBulkEnd>(&m.body)) stream = b->stream, seq = b->seq;
        Missed& missed = missed_unpaired_[from];
        if (seq != 0 && (missed.seq == 0 || missed.stream != stream || seq < missed.seq))
            missed = Missed{stream, seq};
        return;
    }
    std::visit(
        [&](auto& body) {
            using T = std::decay_t<decltype(body)>;
            if constexpr (std::is_same_v<T, HaSessionBatch>)
                replication_.onBatch(from, std::move(body), now_us);
            else if constexpr (std::is_same_v<T, HaAck>)
                replication_.onAck(from, body, now_us);
            else if constexpr (std::is_same_v<T, HaNack>)
                replication_.onNack(from, body, now_us);
            else if constexpr (std::is_same_v<T, HaResyncRequest>)
                replication_.onResyncRequest(from, body, now_us);
            else if constexpr (std::is_same_v<T, HaBulkBegin>)
                replication_.onBulkBegin(from, body, now_us);
            else if constexpr (std::is_same_v<T, HaBulkEnd>)
                replication_.onBulkEnd(from, body, now_us);
        },
        m.body);
}

void HaAgent::handleWorkerEvent(const WorkerEvent& ev, uint64_t now_us) {
    counters_.inc(HaCounter::events_rx);
    if (ev.kind != WorkerEventKind::peer_link_heartbeat) {
        replication_.onWorkerEvent(ev, now_us);
        return;
    }
    if (!configured(ev.peer) || !isValidNodeState(ev.peer_state)) {
        counters_.inc(HaCounter::peer_link_hb_bad);
        return;
    }
    membership_.onPeerLinkHeartbeat(ev.peer, NodeState(ev.peer_state), now_us);
}

// ---- ownership moves ----------------------------------------------------------------------

void HaAgent::notifyPeers(HaOwnershipKind kind, NodeId target) {
    for (const PeerView& p : membership_.peers())
        if (p.alive) outbox_.send(p.id, HaOwnership{kind, config_.node.id, target});
}

void HaAgent::handOver(HaOwnershipKind why) {
    // Pair: everything to the peer. Cluster: to = kNoNode, each session to
    // its backup owner (the worker decides per session with election.h).
    NodeId to = kNoNode;
    if (membership_.isPair()) {
        for (const PeerView& p : membership_.peers())
            if (p.alive && canOwnSessions(p.state)) to = p.id;
    }
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::transfer_owner;
    cmd.from = config_.node.id;
    cmd.to = to;
    replication_.pushToAllWorkers(cmd);
    counters_.inc(HaCounter::handover_transfers);
    TLOG_INFO("ha", "handing this node's sessions over to %s",
              to ? ("node " + std::to_string(to)).c_str() : "their backup owners");
    notifyPeers(why, to);
}

void HaAgent::giveBack(NodeId peer) {
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::transfer_owner;
    cmd.from = config_.node.id;
    cmd.to = peer;
    cmd.origin = peer;
    replication_.pushToAllWorkers(cmd);
    counters_.inc(HaCounter::revert_transfers);
    TLOG_INFO("ha", "revert: giving node %u back the sessions it owned before", peer);
    notifyPeers(HaOwnershipKind::giving_back, peer);
}

// A member died or restarted: its sessions exist only as the replicas its
// peers hold. Each is adopted now by its effective owner (its backup owner)
// with a bounded scan of every table, not when its next packet arrives, so
// an idle connection has an owner too, is replicated again, and is in the
// bulk sync (and the revert) when the member returns.
void HaAgent::memberLeft(NodeId peer, const char* why) {
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::member_left;
    cmd.from = peer;
    replication_.pushToAllWorkers(cmd);
    counters_.inc(HaCounter::member_left_scans);
    TLOG_INFO("ha", "node %u %s: adopting the sessions it owned that this node backs up", peer,
              why);
}

void HaAgent::handleMembershipEvents(uint64_t now_us) {
    for (const MembershipEvent& e : membership_.takeEvents()) {
        dirty_ = true;
        switch (e.kind) {
            case MembershipEventKind::peer_up:
                replication_.peerUp(e.peer, now_us);
                break;
            case MembershipEventKind::peer_down:
                revert_pending_ &= uint16_t(~nodeBit(e.peer));
                memberLeft(e.peer, "dead");
                replication_.peerDown(e.peer, now_us);
                break;
            case MembershipEventKind::peer_restarted:
                // Before the bulk sync that peerRestarted starts: the scan
                // runs first on every worker, so the bulk carries the
                // sessions this node adopted from the restarted peer.
                memberLeft(e.peer, "restarted with an empty table");
                replication_.peerRestarted(e.peer, now_us);
                break;
            case MembershipEventKind::control_restored:
                replication_.startBulk(e.peer, "control link back", now_us);
                break;
            case MembershipEventKind::peer_active:
                // A node that returns may go active before it has our
                // sessions (it found nobody within its startup wait): give
                // them back only once our bulk sync reached it.
                if (config_.ha.revert && (ever_active_ & nodeBit(e.peer))) {
                    revert_pending_ |= nodeBit(e.peer);
                    TLOG_INFO("ha",
                              "revert: node %u is active again; its sessions go back once "
                              "it holds our bulk sync",
                              e.peer);
                }
                ever_active_ |= nodeBit(e.peer);
                break;
            case MembershipEventKind::self_state:
                if (canOwnSessions(e.from) &&
                    (e.to == NodeState::suspended || e.to == NodeState::non_functional)) {
                    handOver(e.to == NodeState::suspended ? HaOwnershipKind::suspending
                                                          : HaOwnershipKind::non_functional);
                } else if ((e.from == NodeState::suspended ||
                            e.from == NodeState::non_functional) &&
                           canOwnSessions(e.to)) {
                    notifyPeers(HaOwnershipKind::functional, kNoNode);
                }
                break;
            case MembershipEventKind::role:
                break;
        }
    }
}

// ---- periodic work -------------------------------------------------------------------------

void HaAgent::revertWhenSynced() {
    if (!revert_pending_ || !canOwnSessions(membership_.state())) return;
    for (const PeerView& p : membership_.peers()) {
        const uint16_t bit = nodeBit(p.id);
        if (!(revert_pending_ & bit)) continue;
        if (!p.alive || !canOwnSessions(p.state)) {
            revert_pending_ &= uint16_t(~bit);  // it left the active states again
            continue;
        }
        if (!replication_.bulkDelivered(p.id)) continue;
        revert_pending_ &= uint16_t(~bit);
        giveBack(p.id);
    }
}

void HaAgent::natDepartures(uint64_t now_us) {
    if (config_.nat.pools.empty()) return;
    const uint64_t after_us = uint64_t(config_.nat.reassign_after_s) * 1000000;
    uint16_t departed = 0;
    for (const PeerView& p : membership_.peers()) {
        uint64_t& since = nat_down_since_us_[p.id];
        if (p.alive) {
            since = 0;
            continue;
        }
        if (since == 0) since = now_us;  // dead from now, or not heard since this node started
        if (now_us - since >= after_us) departed |= nodeBit(p.id);
    }
    if (departed == nat_departed_) return;
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::nat_departed;
    cmd.members = departed;
    replication_.pushToAllWorkers(cmd);
    TLOG_INFO("ha", "nat: port blocks reassigned: members gone for good 0x%x (was 0x%x)",
              unsigned(departed), unsigned(nat_departed_));
    nat_departed_ = departed;
}

void HaAgent::readWorkerStamps(uint64_t now_us) {
    if (!workers_started_) {
        // The agent starts before the workers (their tables take a while to
        // set up); this node becomes active only once each has polled.
        workers_started_ = true;
        for (WorkerChannel* w : workers_)
            if (w->polled_ms.load(std::memory_order_relaxed) == 0) workers_started_ = false;
        membership_.setWorkersStarted(workers_started_);
    }
    const uint32_t detect_ms = config_.ha.peer_link_detect_ms;
    if (detect_ms == 0 || workers_.empty()) return;
    // The stamps are on monotonicMs(), the millisecond view of this clock
    // (core/clock.h); one written after `now_us` was read counts as now.
    const uint32_t now_ms = uint32_t(now_us / 1000);
    auto ageMs = [&](uint32_t stamp) {
        const uint32_t age = now_ms - stamp;
        return age > UINT32_MAX / 2 ? 0u : age;
    };
    bool polling = true;
    for (WorkerChannel* w : workers_) {
        const uint32_t polled = w->polled_ms.load(std::memory_order_relaxed);
        if (polled == 0 || ageMs(polled) > detect_ms / 2) polling = false;
        for (const PeerConfig& p : config_.peers) {
            const uint32_t heard = w->peer_link_heard_ms[p.id].load(std::memory_order_relaxed);
            if (heard != 0)
                membership_.onPeerLinkHeard(p.id, now_us - uint64_t(ageMs(heard)) * 1000);
        }
    }
    membership_.setWorkersPolling(polling);
}

void HaAgent::sendPeerLinkHeartbeats(uint64_t now_us) {
    if (workers_.empty() || now_us < next_peer_link_hb_us_) return;
    next_peer_link_hb_us_ = now_us + uint64_t(peerLinkHeartbeatMs(config_.ha)) * 1000;
    ++peer_link_hb_seq_;
    for (const PeerConfig& p : config_.peers) {
        AgentCommand cmd;
        cmd.kind = AgentCommandKind::send_peer_link_heartbeat;
        cmd.peer = p.id;
        cmd.heartbeat_seq = peer_link_hb_seq_;
        cmd.self_state = uint8_t(membership_.state());
        // A heartbeat that cannot go now is worth nothing later: no backlog.
        if (workers_[0]->to_worker.push(cmd))
            counters_.inc(HaCounter::peer_link_hb_tx);
        else
            counters_.inc(HaCounter::command_ring_full);
    }
}

void HaAgent::publishView() {
    ClusterView v = membership_.view();
    if (published_once_ && sameView(v, published_)) return;
    v.epoch = uint8_t(published_.epoch + 1);
    const bool owners_changed = published_once_ && v.owners != published_.owners;
    published_ = v;
    published_once_ = true;
    view_cell_.publish(v);
    counters_.inc(HaCounter::views_published);
    if (owners_changed) {
        // Backup owners follow the members that may own: each worker gives
        // its sessions the backup owner this view elects (after the view is
        // published, so the scan sees it).
        AgentCommand cmd;
        cmd.kind = AgentCommandKind::rebalance;
        replication_.pushToAllWorkers(cmd);
        counters_.inc(HaCounter::rebalance_scans);
    }
    state_.store(uint8_t(v.self_state), std::memory_order_relaxed);
}

void HaAgent::snapshot(uint64_t now_us) {
    HaStatus s;
    s.local.id = config_.node.id;
    s.local.name = config_.node.name;
    s.local.state = membership_.state();
    s.local.primary = membership_.primary();
    s.local.priority = config_.ha.priority;
    s.local.operator_suspended = membership_.operatorSuspended();
    s.local.links_ok = membership_.linksOk();
    s.local.incarnation = incarnation_;
    s.local.policy_hash = membership_.policyHash();
    s.local.last_transition = membership_.lastTransition();
    s.local.last_transition_ago_ms = (now_us - s.local.last_transition.at_us) / 1000;
    s.peers.reserve(membership_.peers().size());
    for (const PeerView& p : membership_.peers()) {
        HaPeerStatus& ps = s.peers.emplace_back();
        ps.id = p.id;
        ps.name = p.name;
        ps.state = p.state;
        ps.alive = p.alive;
        ps.paired = p.paired;
        ps.refused = p.refused;
        ps.control_link = p.control_up;
        ps.peer_link = p.peer_link_up;
        const uint64_t heard = std::max(p.last_control_us, p.last_peer_link_us);
        ps.last_heard_ms = heard ? int64_t((now_us - heard) / 1000) : -1;
        ps.down_ms = p.down_us ? int64_t((now_us - p.down_us) / 1000) : -1;
        ps.priority = p.priority;
        ps.primary = p.primary;
        ps.software_version = p.software_version;
        ps.peer_link_mtu = p.peer_link_mtu;
        ps.policy_hash = p.policy_hash;
        ps.policy_matches = !p.policy_hash || p.policy_hash == membership_.policyHash();
    }
    s.session_owner = ownerElectionName(config_.ha.session_owner);
    s.revert = config_.ha.revert;
    s.preempt = config_.ha.preempt;
    s.heartbeat_interval_ms = config_.ha.heartbeat_interval_ms;
    s.hold_time_ms = config_.ha.hold_time_ms;
    s.peer_link_detect_ms = config_.ha.peer_link_detect_ms;
    s.view = published_;
    s.sync = replication_.status(now_us);
    s.pending_defer_tokens = replication_.pendingDeferTokens();
    s.counters = counterValues(counters_, kHaCounterInfo);
    s.decode_counters = counterValues(decode_counters_, kHaDecodeResultInfo, 1);  // not `ok`
    s.transport_counters = transport_.counters();
    std::lock_guard lock(mu_);
    status_ = std::move(s);
    last_snapshot_us_ = now_us;
    dirty_ = false;
}

HaStatus HaAgent::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

bool HaAgent::step() {
    const uint64_t now = clock_.nowUs();
    applyCommands(now);
    bool work = false;

    TransportEvent ev;
    for (size_t i = 0; i < options_.max_messages_per_step && transport_.poll(&ev); ++i) {
        handleTransportEvent(ev, now);
        work = true;
        if ((i & 15) == 15 && clock_.nowUs() - now >= options_.max_receive_us) break;
    }
    for (WorkerChannel* w : workers_) {
        WorkerEvent wev;
        for (size_t i = 0; i < options_.max_events_per_step && w->to_agent.pop(&wev); ++i) {
            handleWorkerEvent(wev, now);
            work = true;
        }
    }
    replication_.flushIfDeferred(now);

    for (NodeId p : replication_.takeBulkProgress()) membership_.onBulkProgress(p, now);
    for (NodeId p : replication_.takeBulksReceived()) membership_.onBulkReceived(p, now);
    uint64_t received = 0, expected = 0;
    replication_.inboundBulkProgress(&received, &expected);
    membership_.setSyncProgress(received, expected);
    readWorkerStamps(now);
    membership_.tick(now);
    handleMembershipEvents(now);
    // The view goes out once the membership has changed and before any
    // command that relies on it: a revert gives sessions to a peer the
    // workers must see as one that may own. Nothing below changes it.
    publishView();
    revertWhenSynced();
    natDepartures(now);
    uint16_t targets = 0;
    for (const PeerView& p : membership_.peers())
        if (membership_.acceptsReplicas(p.id)) targets |= nodeBit(p.id);
    replication_.setReplicaTargets(targets);

    sendPeerLinkHeartbeats(now);
    work |= replication_.tick(now);
    if (dirty_ || now - last_snapshot_us_ >= options_.status_interval_ms * 1000) snapshot(now);
    return work;
}

}  // namespace tandem
