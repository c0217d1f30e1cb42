#include "ha/replication.h"

#include <stdexcept>

#include "cluster/cluster_view.h"
#include "core/flow_key.h"
#include "core/log.h"

namespace tandem {
namespace {

uint64_t tokenKey(uint16_t worker, uint32_t token) {
    return uint64_t(worker) << 32 | token;
}

// The table clock (monotonicMs) as the agent's clock gives it.
uint32_t tableMs(uint64_t now_us) {
    return uint32_t(now_us / 1000);
}

const char* bulkOutName(int s) {
    static const char* const names[] = {"idle", "scanning", "sent", "waiting-retry"};
    return names[s];
}

const char* bulkInName(int s) {
    static const char* const names[] = {"idle", "receiving", "complete"};
    return names[s];
}

}  // namespace

Replication::Replication(const ReplicationOptions& options, std::vector<WorkerChannel*> workers,
                         HaOutbox& outbox, HaCounters& counters, uint64_t stream_seed)
    : options_(options),
      workers_(std::move(workers)),
      worker_map_(options.worker_map.value_or(WorkerMap::software(uint32_t(workers_.size())))),
      backlog_(workers_.size()),
      outbox_(outbox),
      counters_(counters),
      stream_seed_(stream_seed) {
    peers_.reserve(kMaxNodes);  // Peer references stay valid while peers are added
    if (!workers_.empty() && worker_map_.workers() != workers_.size()) {
        throw std::invalid_argument("replication: the worker map names " +
                                    std::to_string(worker_map_.workers()) + " workers, " +
                                    std::to_string(workers_.size()) + " are given");
    }
}

Replication::Peer* Replication::peer(NodeId id) {
    for (Peer& p : peers_)
        if (p.id == id) return &p;
    return nullptr;
}

Replication::Peer& Replication::peerOrAdd(NodeId id) {
    if (Peer* p = peer(id)) return *p;
    peers_.emplace_back();
    peers_.back().id = id;
    return peers_.back();
}

// ---- commands to workers ------------------------------------------------------

void Replication::pushCommand(size_t w, const AgentCommand& cmd) {
    if (w >= workers_.size()) return;
    if (backlog_[w].empty() && workers_[w]->to_worker.push(cmd)) return;
    backlog_[w].push_back(cmd);
    counters_.inc(HaCounter::command_ring_full);
}

void Replication::pushToAllWorkers(const AgentCommand& cmd) {
    for (size_t w = 0; w < workers_.size(); ++w) pushCommand(w, cmd);
}

bool Replication::drainBacklogs() {
    bool work = false;
    for (size_t w = 0; w < workers_.size(); ++w) {
        while (!backlog_[w].empty() && workers_[w]->to_worker.push(backlog_[w].front())) {
            backlog_[w].pop_front();
            work = true;
        }
    }
    return work;
}

// ---- peers -------------------------------------------------------------------------

void Replication::resetStream(Peer& p, uint64_t /*now_us*/) {
    ++p.resets;
    uint64_t stream = stream_seed_ + (p.resets << 8) + p.id;
    p.tx.reset(stream ? stream : 1);
    if (p.bulk_out.state == BulkOut::State::scanning) counters_.inc(HaCounter::bulk_aborted);
    p.bulk_out.state = BulkOut::State::idle;
    p.bulk_out.buffer.clear();
}

void Replication::peerUp(NodeId id, uint64_t now_us) {
    Peer& p = peerOrAdd(id);
    p.up = true;
    resetStream(p, now_us);
    startBulk(id, "peer up", now_us);
}

void Replication::peerDown(NodeId id, uint64_t /*now_us*/) {
    Peer* p = peer(id);
    if (!p) return;
    p->up = false;
    // Records waiting for it are moot; a deferred packet that waited only
    // for it leaves now (its session has no other copy to wait for).
    for (const DeferRef& r : p->live_tokens) {
        auto it = defer_index_.find(tokenKey(r.worker, r.token));
        if (it == defer_index_.end() || it->second->required != id) continue;
        releaseToken(*it->second, HaCounter::defer_released_alone);
        defer_index_.erase(it);
    }
    p->live.clear();
    p->live_tokens.clear();
    if (p->bulk_out.state == BulkOut::State::scanning) counters_.inc(HaCounter::bulk_aborted);
    p->bulk_out.state = BulkOut::State::idle;
    p->bulk_out.buffer.clear();
    p->tx.reset(0);
    if (p->bulk_in.state == BulkIn::State::receiving) p->bulk_in.state = BulkIn::State::idle;
    // Deferred packets that waited for this peer wait for any other now.
    for (DeferEntry& e : defer_queue_)
        if (e.required == id) e.required = kNoNode;
}

void Replication::peerRestarted(NodeId id, uint64_t now_us) {
    Peer& p = peerOrAdd(id);
    // Its old stream is gone with it: forget what we received of it.
    p.rx_stream = 0;
    p.rx_next = 1;
    p.rx_applied = p.rx_acked = 0;
    p.inbound.clear();
    p.bulk_in = BulkIn{};
    if (!p.up) return;
    resetStream(p, now_us);
    startBulk(id, "peer restarted", now_us);
}

void Replication::startBulk(NodeId id, const char* why, uint64_t now_us) {
    Peer* p = peer(id);
    if (!p || !p->up) return;
    BulkOut& b = p->bulk_out;
    if (b.state == BulkOut::State::scanning) counters_.inc(HaCounter::bulk_aborted);
    b = BulkOut{};
    b.state = BulkOut::State::scanning;
    b.id = ++next_bulk_id_;
    b.worker_done.assign(workers_.size(), false);
    counters_.inc(HaCounter::bulk_started);
    HaBulkBegin begin;
    begin.bulk_id = b.id;
    begin.expected = options_.session_count ? options_.session_count() : 0;
    enqueueSequenced(*p, begin, 0, true, {});
    TLOG_INFO("ha", "bulk sync %u to node %u started (%s)", b.id, id, why);
    AgentCommand scan;
    scan.kind = AgentCommandKind::bulk_scan;
    scan.peer = id;
    scan.bulk_id = b.id;
    pushToAllWorkers(scan);
    finishBulkIfDone(*p, now_us);
}

void Replication::requestResync(uint64_t /*now_us*/) {
    for (Peer& p : peers_) {
        if (!p.up) continue;
        if (outbox_.send(p.id, HaResyncRequest{HaResyncReason::operator_request}))
            counters_.inc(HaCounter::resync_requests_tx);
    }
}

// ---- sending -------------------------------------------------------------------------

template <typename Body>
void Replication::enqueueSequenced(Peer& p, Body body, uint32_t records, bool bulk,
                                   std::vector<DeferRef> tokens) {
    body.stream = p.tx.stream();
    body.seq = p.tx.nextSeq();
    OutMessage m;
    m.bytes = encodeHaMessage(outbox_.envelopeTo(p.id), body);
    m.records = records;
    m.bulk = bulk;
    m.tokens = std::move(tokens);
    p.tx.push(std::move(m));
}

void Replication::enqueueBatch(Peer& p, const HaRecordBuffer& records, bool bulk, uint32_t bulk_id,
                               std::vector<DeferRef> tokens) {
    HaSessionBatch head;
    head.stream = p.tx.stream();
    head.seq = p.tx.nextSeq();
    head.bulk = bulk;
    head.bulk_id = bulk_id;
    OutMessage m;
    m.bytes = encodeHaSessionBatch(outbox_.envelopeTo(p.id), head, records);
    m.records = records.count();
    m.bulk = bulk;
    m.tokens = std::move(tokens);
    p.tx.push(std::move(m));
    counters_.inc(HaCounter::batches_tx);
    counters_.add(HaCounter::records_tx, records.count());
    if (bulk) counters_.add(HaCounter::bulk_records_tx, records.count());
    p.records_tx += records.count();
}

void Replication::checkWindow(Peer& p, uint64_t now_us) {
    const size_t bulk = p.tx.bulkBytes(), live = p.tx.windowBytes() - bulk;
    if (live <= options_.window_max_bytes && bulk <= options_.bulk_max_bytes) return;
    counters_.inc(HaCounter::window_overflow);
    TLOG_WARN(
        "ha",
        "sync window to node %u outgrew its limit (%zu live bytes, %zu bulk bytes unacknowledged): "
        "stream restarts, bulk sync in %llu ms",
        p.id, live, bulk, (unsigned long long)(options_.bulk_retry_us / 1000));
    resetStream(p, now_us);
    p.bulk_out.state = BulkOut::State::waiting_retry;
    p.bulk_out.retry_at_us = now_us + options_.bulk_retry_us;
}

uint16_t Replication::recordTargets(const Session& s) const {
    uint16_t mask = 0;
    for (const Peer& p : peers_) {
        // A peer whose stream overflowed gets everything in its next bulk.
        if (!p.up || p.bulk_out.state == BulkOut::State::waiting_retry) continue;
        if (options_.targeted && p.id != s.owner && p.id != s.backup_owner) continue;
        mask |= nodeBit(p.id);
    }
    return mask;
}

void Replication::flushLive(Peer& p, uint64_t now_us) {
    if (p.live.empty() && p.live_tokens.empty()) return;
    enqueueBatch(p, p.live, false, 0, p.live_tokens);
    p.live.clear();
    p.live_tokens.clear();
    checkWindow(p, now_us);
}

void Replication::flushLive(uint64_t now_us) {
    for (Peer& p : peers_) flushLive(p, now_us);
}

void Replication::flushIfDeferred(uint64_t now_us) {
    for (Peer& p : peers_)
        if (!p.live_tokens.empty()) flushLive(p, now_us);
}

void Replication::flushBulk(Peer& p) {
    BulkOut& b = p.bulk_out;
    if (b.buffer.empty()) return;
    b.sent += b.buffer.count();
    enqueueBatch(p, b.buffer, true, b.id, {});
    b.buffer.clear();
}

bool Replication::bulkDelivered(NodeId peer) const {
    for (const Peer& p : peers_) {
        if (p.id != peer) continue;
        return p.up && p.bulk_out.state == BulkOut::State::sent &&
               p.tx.ackedSeq() >= p.bulk_out.end_seq;
    }
    return false;
}

void Replication::finishBulkIfDone(Peer& p, uint64_t now_us) {
    BulkOut& b = p.bulk_out;
    if (b.state != BulkOut::State::scanning || b.workers_done < workers_.size()) return;
    flushBulk(p);
    HaBulkEnd end;
    end.bulk_id = b.id;
    end.count = b.sent;
    b.end_seq = p.tx.nextSeq();
    enqueueSequenced(p, end, 0, true, {});
    b.state = BulkOut::State::sent;
    counters_.inc(HaCounter::bulk_completed);
    TLOG_INFO("ha", "bulk sync %u to node %u: %llu sessions queued", b.id, p.id,
              (unsigned long long)b.sent);
    checkWindow(p, now_us);
}

void Replication::onWorkerEvent(const WorkerEvent& ev, uint64_t now_us) {
    switch (ev.kind) {
        case WorkerEventKind::upsert:
        case WorkerEventKind::erase:
        case WorkerEventKind::release:
            break;
        case WorkerEventKind::bulk_record:
        case WorkerEventKind::bulk_done:
            onBulkEvent(ev, now_us);
            return;
        case WorkerEventKind::peer_link_heartbeat:
            return;  // membership's
    }
    uint16_t targets = recordTargets(ev.session);
    if (ev.kind == WorkerEventKind::release) {
        // Only the node that no longer backs the session up hears of it.
        const Peer* p = peer(ev.peer);
        targets = p && p->up ? nodeBit(ev.peer) : 0;
    } else if (ev.kind == WorkerEventKind::upsert && ev.peer != kNoNode) {
        // Another node that claims the session too, and whose claim lost.
        const Peer* p = peer(ev.peer);
        if (p && p->up) targets |= nodeBit(ev.peer);
    }
    if (ev.defer_token != 0 && ev.worker < workers_.size()) {
        counters_.inc(HaCounter::defer_tokens);
        const uint64_t key = tokenKey(ev.worker, ev.defer_token);
        if (auto it = defer_index_.find(key); it != defer_index_.end()) {
            it->second->done = true;  // the worker reused the token: the newer wait counts
            defer_index_.erase(it);
        }
        DeferEntry e;
        e.worker = ev.worker;
        e.token = ev.defer_token;
        const NodeId backup = ev.session.backup_owner;
        e.required = (replica_targets_ & targets & nodeBit(backup)) ? backup : kNoNode;
        e.deadline_us = now_us + options_.defer_timeout_us;
        defer_queue_.push_back(e);
        if (!targets) {
            releaseToken(defer_queue_.back(), HaCounter::defer_released_alone);
        } else {
            defer_index_[key] = &defer_queue_.back();
            for (Peer& p : peers_)
                if (targets & nodeBit(p.id))
                    p.live_tokens.push_back(DeferRef{ev.worker, ev.defer_token});
        }
    }
    const HaRecordOp op =
        ev.kind == WorkerEventKind::upsert ? HaRecordOp::upsert : HaRecordOp::erase;
    for (Peer& p : peers_) {
        if (!(targets & nodeBit(p.id))) continue;
        if (p.live.empty()) p.live_first_us = now_us;
        p.live.add(op, ev.session, ev.nat, tableMs(now_us), ev.app);
        if (p.live.count() >= options_.batch_records) flushLive(p, now_us);
    }
}

void Replication::onBulkEvent(const WorkerEvent& ev, uint64_t now_us) {
    Peer* p = peer(ev.peer);
    if (!p || !p->up || p->bulk_out.state != BulkOut::State::scanning ||
        ev.bulk_id != p->bulk_out.id) {
        counters_.inc(HaCounter::bulk_stale_events);
        return;
    }
    BulkOut& b = p->bulk_out;
    if (ev.kind == WorkerEventKind::bulk_record) {
        b.buffer.add(HaRecordOp::upsert, ev.session, ev.nat, tableMs(now_us), ev.app);
        if (b.buffer.count() >= options_.batch_records) {
            flushBulk(*p);
            checkWindow(*p, now_us);
        }
        return;
    }
    if (ev.worker < b.worker_done.size() && !b.worker_done[ev.worker]) {
        b.worker_done[ev.worker] = true;
        ++b.workers_done;
    }
    finishBulkIfDone(*p, now_us);
}

// ---- acknowledgements and defer tokens ---------------------------------------------------

void Replication::releaseToken(DeferEntry& e, HaCounter why) {
    AgentCommand cmd;
    cmd.kind = AgentCommandKind::release_deferred;
    cmd.token = e.token;
    pushCommand(e.worker, cmd);
    e.done = true;
    counters_.inc(why);
}

void Replication::onAcked(NodeId from, const OutMessage& m) {
    counters_.add(HaCounter::records_acked, m.records);
    for (const DeferRef& r : m.tokens) {
        auto it = defer_index_.find(tokenKey(r.worker, r.token));
        if (it == defer_index_.end()) continue;
        DeferEntry& e = *it->second;
        if (e.required != kNoNode && e.required != from) continue;
        releaseToken(e, HaCounter::defer_released);
        defer_index_.erase(it);
    }
}

void Replication::expireTokens(uint64_t now_us) {
    while (!defer_queue_.empty()) {
        DeferEntry& e = defer_queue_.front();
        if (!e.done) {
            if (e.deadline_us > now_us) break;
            defer_index_.erase(tokenKey(e.worker, e.token));
            releaseToken(e, HaCounter::defer_timeouts);
        }
        defer_queue_.pop_front();
    }
}

void Replication::onAck(NodeId from, const HaAck& m, uint64_t now_us) {
    Peer* p = peer(from);
    if (!p) return;
    counters_.inc(HaCounter::acks_rx);
    ++p->acks_rx;
    if (m.stream != p->tx.stream()) {
        counters_.inc(HaCounter::stale_stream_rx);
        return;
    }
    uint64_t sent_once_us = 0;  // newest acknowledged message sent only once (Karn)
    p->tx.ack(m.seq, [&](const OutMessage& om) {
        if (om.sends == 1) sent_once_us = om.last_sent_us;
        onAcked(from, om);
    });
    if (sent_once_us && now_us >= sent_once_us) p->tx.noteAckDelay(now_us - sent_once_us);
}

void Replication::onNack(NodeId from, const HaNack& m, uint64_t now_us) {
    Peer* p = peer(from);
    if (!p) return;
    counters_.inc(HaCounter::nacks_rx);
    ++p->nacks_rx;
    if (!p->up || m.stream != p->tx.stream()) {
        counters_.inc(HaCounter::stale_stream_rx);
        return;
    }
    const auto outcome = p->tx.nack(m.from_seq, [&](const OutMessage& om) { onAcked(from, om); });
    if (outcome != SyncSender::NackOutcome::unrepairable) return;
    counters_.inc(HaCounter::unrepairable_gaps);
    TLOG_WARN("ha", "node %u misses seq %llu, which it had acknowledged: full resync", from,
              (unsigned long long)m.from_seq);
    resetStream(*p, now_us);
    startBulk(from, "gap beyond the resend window", now_us);
}

void Replication::onResyncRequest(NodeId from, const HaResyncRequest&, uint64_t now_us) {
    counters_.inc(HaCounter::resync_requests_rx);
    startBulk(from, "peer asked for a resync", now_us);
}

// ---- receiving ------------------------------------------------------------------------------

void Replication::onBatch(NodeId from, HaSessionBatch&& batch, uint64_t now_us) {
    const uint64_t stream = batch.stream, seq = batch.seq;
    acceptSequenced(from, stream, seq, InboundBody(std::move(batch)), now_us);
}

void Replication::onBulkBegin(NodeId from, const HaBulkBegin& m, uint64_t now_us) {
    acceptSequenced(from, m.stream, m.seq, InboundBody(m), now_us);
}

void Replication::onBulkEnd(NodeId from, const HaBulkEnd& m, uint64_t now_us) {
    acceptSequenced(from, m.stream, m.seq, InboundBody(m), now_us);
}

void Replication::missedBeforePairing(NodeId from, uint64_t stream, uint64_t seq, uint64_t now_us) {
    Peer& p = peerOrAdd(from);
    // What the stream has delivered here already is not asked for again.
    if (stream == p.rx_stream && seq < p.rx_next) seq = p.rx_next;
    sendNack(p, stream, seq, now_us);
}

void Replication::sendNack(Peer& p, uint64_t stream, uint64_t from, uint64_t now_us) {
    if (p.last_nack_from == from && p.last_nack_us &&
        now_us - p.last_nack_us < options_.nack_interval_us)
        return;
    p.last_nack_from = from;
    p.last_nack_us = now_us;
    if (outbox_.send(p.id, HaNack{stream, from})) counters_.inc(HaCounter::nacks_tx);
}

void Replication::acceptSequenced(NodeId from, uint64_t stream, uint64_t seq, InboundBody&& body,
                                  uint64_t now_us) {
    Peer& p = peerOrAdd(from);
    if (stream != p.rx_stream) {
        if (seq != 1) {
            // A stream we never saw the start of: ask for it from the start
            // (the sender resends, or resyncs if it cannot).
            counters_.inc(HaCounter::stale_stream_rx);
            sendNack(p, stream, 1, now_us);
            return;
        }
        p.rx_stream = stream;
        p.rx_next = 1;
        p.rx_applied = p.rx_acked = 0;
        p.inbound.clear();
        p.bulk_in = BulkIn{};
    }
    if (seq < p.rx_next) {
        counters_.inc(HaCounter::duplicates_rx);
        p.ack_due = true;
        return;
    }
    if (seq > p.rx_next) {
        counters_.inc(HaCounter::out_of_order_rx);
        sendNack(p, stream, p.rx_next, now_us);
        return;
    }
    if (p.inbound.size() >= options_.inbound_max_messages) {
        counters_.inc(HaCounter::inbound_full);
        return;
    }
    p.inbound.push_back(Inbound{seq, std::move(body), 0});
    ++p.rx_next;
    applyInbound(p, now_us);
}

bool Replication::sendAck(Peer& p) {
    if (!p.ack_due || p.rx_stream == 0) return false;
    if (outbox_.send(p.id, HaAck{p.rx_stream, p.rx_applied})) {
        counters_.inc(HaCounter::acks_tx);
        p.rx_acked = p.rx_applied;
    }
    p.ack_due = false;
    return true;
}

bool Replication::applyBatch(Peer& p, Inbound& in, uint64_t now_us) {
    HaSessionBatch& batch = std::get<HaSessionBatch>(in.body);
    const size_t n = batch.records.size();
    if (workers_.empty()) {
        counters_.add(HaCounter::records_no_worker, n - in.next_record);
        in.next_record = n;
    }
    const uint32_t now_ms = tableMs(now_us);
    for (; in.next_record < n; ++in.next_record) {
        const HaSessionRecord& rec = batch.records[in.next_record];
        AgentCommand cmd;
        cmd.kind = rec.op == HaRecordOp::erase ? AgentCommandKind::apply_erase
                                               : AgentCommandKind::apply_upsert;
        cmd.peer = p.id;
        cmd.session = haRecordToSession(rec, now_ms);
        cmd.nat = rec.nat;
        cmd.app = rec.app;
        if (rec.op == HaRecordOp::upsert) cmd.session.flags |= kSessionReplicated;
        const FlowKey key = cmd.session.key();
        const size_t w = flowWorker(worker_map_, options_.nat, key, flowHash(key));
        if (!backlog_[w].empty() || !workers_[w]->to_worker.push(cmd)) {
            counters_.inc(HaCounter::apply_ring_full);
            return false;
        }
    }
    counters_.inc(HaCounter::batches_rx);
    counters_.add(HaCounter::records_rx, n);
    counters_.add(HaCounter::records_rejected, batch.rejected);
    p.records_rx += n;
    if (batch.bulk) {
        counters_.add(HaCounter::bulk_records_rx, n);
        if (p.bulk_in.state == BulkIn::State::receiving && batch.bulk_id == p.bulk_in.id) {
            p.bulk_in.received += n;
            bulk_progress_.push_back(p.id);
        }
    }
    return true;
}

bool Replication::applyInbound(Peer& p, uint64_t now_us) {
    bool work = false;
    while (!p.inbound.empty()) {
        Inbound& in = p.inbound.front();
        if (std::holds_alternative<HaSessionBatch>(in.body)) {
            if (!applyBatch(p, in, now_us)) return work;
        } else if (const auto* begin = std::get_if<HaBulkBegin>(&in.body)) {
            p.bulk_in = BulkIn{BulkIn::State::receiving, begin->bulk_id, 0, begin->expected};
            bulk_progress_.push_back(p.id);
        } else if (const auto* end = std::get_if<HaBulkEnd>(&in.body)) {
            if (p.bulk_in.state == BulkIn::State::receiving && p.bulk_in.id == end->bulk_id) {
                p.bulk_in.state = BulkIn::State::complete;
                p.bulk_in.expected = end->count;
                counters_.inc(HaCounter::bulk_received);
                bulks_received_.push_back(p.id);
                TLOG_INFO("ha", "bulk sync %u from node %u complete: %llu sessions", end->bulk_id,
                          p.id, (unsigned long long)p.bulk_in.received);
            }
        }
        p.rx_applied = in.seq;
        p.ack_due = true;
        p.inbound.pop_front();
        work = true;
        if (p.rx_applied - p.rx_acked >= options_.ack_every_messages) sendAck(p);
    }
    return work;
}

// ---- periodic work ------------------------------------------------------------------------

void Replication::updateRates(Peer& p, uint64_t now_us) {
    if (!p.rate_start_us) {
        p.rate_start_us = now_us;
        p.rate_tx_base = p.records_tx;
        p.rate_rx_base = p.records_rx;
        return;
    }
    const uint64_t elapsed = now_us - p.rate_start_us;
    if (elapsed < 1000000) return;
    p.tx_per_s = double(p.records_tx - p.rate_tx_base) * 1e6 / double(elapsed);
    p.rx_per_s = double(p.records_rx - p.rate_rx_base) * 1e6 / double(elapsed);
    p.rate_start_us = now_us;
    p.rate_tx_base = p.records_tx;
    p.rate_rx_base = p.records_rx;
}

bool Replication::tick(uint64_t now_us) {
    bool work = drainBacklogs();
    for (Peer& p : peers_) {
        if (!p.live.empty() && now_us - p.live_first_us >= options_.flush_interval_us) {
            flushLive(p, now_us);
            work = true;
        }
    }
    for (Peer& p : peers_) {
        if (p.up) {
            if (p.bulk_out.state == BulkOut::State::waiting_retry &&
                now_us >= p.bulk_out.retry_at_us)
                startBulk(p.id, "retry after the sync window overflowed", now_us);
            if (p.tx.checkTimeout(now_us, p.tx.ackTimeoutUs(options_.resend_timeout_us,
                                                            options_.resend_timeout_max_us)))
                counters_.inc(HaCounter::ack_timeouts);
            uint64_t resent = 0;
            const size_t sent = p.tx.pump(
                now_us, options_.inflight_messages,
                [&](const OutMessage& m) {
                    if (!outbox_.sendEncoded(p.id, HaChannel::sync, m.bytes)) return false;
                    p.bytes_tx += m.bytes.size();
                    return true;
                },
                &resent);
            p.resends += resent;
            counters_.add(HaCounter::resends, resent);
            work |= sent != 0;
        }
        work |= applyInbound(p, now_us);
        work |= sendAck(p);
        updateRates(p, now_us);
    }
    expireTokens(now_us);
    return work;
}

// ---- reporting ------------------------------------------------------------------------------

std::vector<NodeId> Replication::takeBulkProgress() {
    std::vector<NodeId> out;
    out.swap(bulk_progress_);
    return out;
}

std::vector<NodeId> Replication::takeBulksReceived() {
    std::vector<NodeId> out;
    out.swap(bulks_received_);
    return out;
}

void Replication::inboundBulkProgress(uint64_t* received, uint64_t* expected) const {
    *received = *expected = 0;
    for (const Peer& p : peers_) {
        if (p.bulk_in.state == BulkIn::State::idle) continue;
        *received += p.bulk_in.received;
        *expected += p.bulk_in.expected;
    }
}

std::vector<PeerSyncStatus> Replication::status(uint64_t now_us) const {
    std::vector<PeerSyncStatus> out;
    for (const Peer& p : peers_) {
        PeerSyncStatus s;
        s.peer = p.id;
        s.up = p.up;
        s.stream = p.tx.stream();
        s.tx_seq = p.tx.nextSeq() - 1;
        s.acked_seq = p.tx.ackedSeq();
        s.lag_us = p.tx.lagUs(now_us);
        s.window_messages = p.tx.windowMessages();
        s.window_bytes = p.tx.windowBytes();
        s.resends = p.resends;
        s.acks_rx = p.acks_rx;
        s.nacks_rx = p.nacks_rx;
        s.bytes_tx = p.bytes_tx;
        s.records_tx = p.records_tx;
        s.records_rx = p.records_rx;
        s.records_tx_per_s = p.tx_per_s;
        s.records_rx_per_s = p.rx_per_s;
        s.rx_stream = p.rx_stream;
        s.rx_applied_seq = p.rx_applied;
        s.inbound_queued = p.inbound.size();
        s.bulk_out_state = bulkOutName(int(p.bulk_out.state));
        s.bulk_out_id = p.bulk_out.id;
        s.bulk_out_sent = p.bulk_out.sent + p.bulk_out.buffer.count();
        s.bulk_out_delivered = bulkDelivered(p.id);
        s.bulk_in_state = bulkInName(int(p.bulk_in.state));
        s.bulk_in_received = p.bulk_in.received;
        s.bulk_in_expected = p.bulk_in.expected;
        out.push_back(s);
    }
    return out;
}

}  // namespace tandem
