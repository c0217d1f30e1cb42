// The cluster side of the pipeline: session events to the HA agent, replicas
// and commands from it, ownership changes, and table-wide jobs.
#include "cluster/election.h"
#include "pipeline/pipeline.h"
#include "session/tcp_tracker.h"

namespace tandem {

void Pipeline::emit(WorkerEventKind kind, uint32_t index, uint32_t now_ms, NodeId peer) {
    if (!settings_.events || !view_.replicate) return;
    WorkerEvent ev;
    ev.kind = kind;
    ev.peer = peer;
    ev.worker = settings_.worker;
    ev.now_ms = now_ms;
    ev.session = table_.at(index);
    ev.nat = table_.nat(index);
    if (kind != WorkerEventKind::erase) ev.app = table_.appIdentity(index);
    if (!settings_.events->push(ev)) counters_.inc(PipelineCounter::events_dropped);
}

bool Pipeline::emitDeferred(uint32_t index, uint32_t now_ms, uint32_t token) {
    WorkerEvent ev;
    ev.kind = WorkerEventKind::upsert;
    ev.worker = settings_.worker;
    ev.now_ms = now_ms;
    ev.defer_token = token;
    ev.session = table_.at(index);
    ev.nat = table_.nat(index);
    ev.app = table_.appIdentity(index);
    if (settings_.events->push(ev)) return true;
    counters_.inc(PipelineCounter::events_dropped);
    return false;
}

// Takeover: the owner is gone and this node continues the session. The
// replica's TCP windows are as of its last replicated state change, so the
// window check is relaxed for it (as for a picked-up session). `owners`:
// the nodes that may own now (the backup owner is picked among them).
void Pipeline::adopt(uint32_t index, uint64_t hash, uint16_t owners) {
    Session& s = table_.at(index);
    table_.setOwner(index, view_.self);
    s.backup_owner = backupOwnerOf(hash, view_.self, owners);
    s.flags |= kSessionPickedUp;
    s.flags &= uint16_t(~kSessionReplicated);
    ++s.version;
    counters_.inc(PipelineCounter::sessions_adopted);
}

// A packet of a session this node does not own, sent here by its owner of
// record (each node's record names the other while ownership changes
// hands). This node carries it on its copy, which the owner's next record
// overwrites: the copy's TCP windows may be behind, so they are not
// enforced, and nothing is replicated from here.
void Pipeline::standIn(Session& s) {
    s.flags |= kSessionPickedUp;
    counters_.inc(PipelineCounter::stand_in_packets);
}

// Timer callback: true erases the entry.
bool Pipeline::expireOne(uint32_t index, Session& s, uint32_t now_ms) {
    if (s.owner == view_.self) {
        counters_.inc(PipelineCounter::sessions_expired);
        emit(WorkerEventKind::erase, index, now_ms);
        logEnd(index,
               s.state == SessionState::tcp_close       ? TrafficEndReason::tcp_reset
               : s.state == SessionState::tcp_time_wait ? TrafficEndReason::tcp_fin
                                                        : TrafficEndReason::idle_timeout,
               now_ms);
        return true;
    }
    // A replica lives as long as its owner does: the owner decides when the
    // session ends and says so. If the owner is gone and nobody adopted the
    // session by sending it traffic, it ends here. In a cluster a copy this
    // node does not back up (left from a handover; its owner sends updates
    // to the backup owner only) lives on its own idle timeout.
    const bool backs_up = !settings_.directors || s.backup_owner == view_.self;
    if (backs_up && view_.isReachable(s.owner)) {
        s.expires_ms = now_ms + sessionTimeoutMs(s, settings_.timeouts);
        return false;
    }
    counters_.inc(PipelineCounter::replicas_expired);
    return true;
}

namespace {

// A TCP record that starts a connection, for a tuple whose record here is of
// a finished one (a connection cannot go from closing back to its handshake).
bool replacesFinished(const Session& cur, const Session& incoming) {
    const bool finished =
        cur.state == SessionState::tcp_time_wait || cur.state == SessionState::tcp_close;
    const bool opening = incoming.state == SessionState::tcp_syn_sent ||
                         incoming.state == SessionState::tcp_syn_recv;
    return finished && opening;
}

// Whether `incoming` replaces `cur`, two records of one session. Versions
// order the changes of a session, made by its one owner; an older record
// arrives late only after a resend and must not undo a newer state. Two
// owners change a session independently only after each took it for the
// other dead (a partition, or a stall of both longer than the hold time,
// healed since): every node settles each such conflict the same way,
// whichever record it sees first, so that one owner is left. The newer
// record wins; of two of one version, the one whose owner opened the
// session (its origin owner), else the one of the lower node id (also for
// two nodes that opened it at once, each its own origin). A record of this
// node's own session and version coming back changes nothing.
bool supersedes(const Session& incoming, const Session& cur, NodeId self) {
    const int32_t newer = int32_t(incoming.version - cur.version);
    if (newer != 0) return newer > 0;
    if (incoming.owner == cur.owner) return cur.owner != self;
    if (incoming.origin_owner == cur.origin_owner) {
        if (incoming.owner == incoming.origin_owner) return true;
        if (cur.owner == cur.origin_owner) return false;
    }
    return incoming.owner < cur.owner;
}

}  // namespace

void Pipeline::applyUpsert(const Session& incoming, const NatBinding& nat, const AppIdentity& app,
                           uint32_t now_ms) {
    // A session a frame waits for may be this one (releaseAwaiting()).
    ++wait_progress_;
    const FlowKey key = incoming.key();
    const uint64_t hash = flowHash(key);
    uint32_t index = table_.find(key, hash);
    if (index != SessionTable::kNoEntry && replacesFinished(table_.at(index), incoming)) {
        // A new connection on the ports of a finished one, opened by another
        // node: it replaces the old record whatever the versions say (the
        // new one counts again from 1). When the finished one was this
        // node's own, its backup owner holds a copy nobody else would end
        // (with translation, one that keeps the public port this node gives
        // out again): it is told, as when the connection's time is up.
        if (table_.at(index).owner == view_.self) {
            emit(WorkerEventKind::erase, index, now_ms);
            logEnd(index, TrafficEndReason::reopened, now_ms);
        }
        table_.erase(index);
        index = SessionTable::kNoEntry;
        counters_.inc(PipelineCounter::replicas_replaced_finished);
    }
    // A record naming another owner of a session this node owns: a late
    // resend from before a handover, or the other side of a conflict.
    const bool claim = index != SessionTable::kNoEntry && table_.at(index).owner == view_.self &&
                       incoming.owner != view_.self;
    if (index != SessionTable::kNoEntry && !supersedes(incoming, table_.at(index), view_.self)) {
        counters_.inc(PipelineCounter::replicas_stale);
        if (claim) {
            // This node's claim wins. The other claimant is sent this
            // node's record, as it is now, and yields when it arrives: the
            // updates of a session go to its owner's backup alone, and the
            // other claimant would never see a version that beats its own.
            counters_.inc(PipelineCounter::claims_overruled);
            emit(WorkerEventKind::upsert, index, now_ms, incoming.owner);
        }
        return;
    }
    // The other claim wins (supersedes()): this node's record follows it.
    // The node that backed this node's claim up drops its copy, unless the
    // winner's record names it too: told now, while the record still names
    // this node as the owner its copy names.
    const bool yields = claim;
    if (yields) {
        counters_.inc(PipelineCounter::sessions_yielded);
        const NodeId old_backup = table_.at(index).backup_owner;
        if (settings_.directors && old_backup != kNoNode && old_backup != view_.self &&
            old_backup != incoming.owner && old_backup != incoming.backup_owner &&
            view_.isReachable(old_backup)) {
            emit(WorkerEventKind::release, index, now_ms, old_backup);
        }
    }
    if (settings_.directors && incoming.owner != view_.self &&
        incoming.backup_owner != view_.self) {
        // In a cluster a session lives on its owner and its backup owner
        // (the flow's director, or the next member when the director owns
        // it). A record naming others (a bulk sync sends everything; a
        // handover moved the backup) is not kept, and a copy of it here is
        // no longer needed: a copy nobody updates would name a stale owner.
        // A session this node yields keeps its copy, naming the winner, for
        // the packets still sent here, as after a handover (below).
        if (!yields) {
            if (index != SessionTable::kNoEntry) {
                table_.erase(index);
                counters_.inc(PipelineCounter::replicas_removed);
            }
            counters_.inc(PipelineCounter::replicas_not_kept);
            return;
        }
    }
    if (index == SessionTable::kNoEntry) {
        if (incoming.owner != view_.self &&
            table_.ownerCount(incoming.owner) >=
                table_.capacity() - table_.capacity() / kOwnRoomDivisor) {
            counters_.inc(PipelineCounter::replicas_dropped_peer_limit);
            return;
        }
        Session init = incoming;
        init.flags |= kSessionReplicated;
        uint32_t installed;
        if (table_.insert(init, hash, &installed) == SessionTable::InsertResult::full) {
            counters_.inc(PipelineCounter::replicas_dropped_full);
            return;
        }
        natTakeBinding(installed, nat);
        if (!table_.setAppIdentity(installed, app)) counters_.inc(PipelineCounter::app_names_full);
        counters_.inc(PipelineCounter::replicas_installed);
        return;
    }
    Session& cur = table_.at(index);
    const uint64_t packets[2] = {cur.packets(0), cur.packets(1)};
    const uint64_t bytes[2] = {cur.bytes(0), cur.bytes(1)};
    const bool was_mine = cur.owner == view_.self;
    const NodeId owner_before = cur.owner;
    const uint8_t port_before = cur.ingress_port;
    cur = incoming;
    cur.owner = owner_before;
    table_.setOwner(index, incoming.owner);  // keeps the per-owner counts exact
    if (cur.ingress_port == kUnknownPort) cur.ingress_port = port_before;  // an older sender
    natTakeBinding(index, nat);
    if (!table_.setAppIdentity(index, app)) counters_.inc(PipelineCounter::app_names_full);
    if (was_mine) {
        // Counters are the owner's: keep what this node counted.
        cur.setCounts(0, packets[0], bytes[0]);
        cur.setCounts(1, packets[1], bytes[1]);
    }
    if (cur.owner != view_.self) {
        cur.flags |= kSessionReplicated;
    } else {
        cur.flags &= uint16_t(~kSessionReplicated);  // handed to this node
        // Its windows are the handing node's as of the handover; packets
        // that node (or a stand-in) carried since are not in them, so an
        // ACK for data this node never saw must not be taken as out of
        // window: the check is relaxed, as for an adopted session. So also
        // when this node owned it already: a newer record naming it comes
        // from a node that claimed the session meanwhile (took this node
        // for dead) and gives it back, with windows from its older copy
        // that lack what this node carried since.
        cur.flags |= kSessionPickedUp;
    }
    if (yields && settings_.directors && cur.backup_owner != view_.self) {
        table_.expireEarlier(index, now_ms + kHandoverCopyMs);
    }
    counters_.inc(PipelineCounter::replicas_installed);
}

void Pipeline::applyErase(const Session& incoming) {
    const FlowKey key = incoming.key();
    const uint32_t index = table_.find(key, flowHash(key));
    if (index == SessionTable::kNoEntry) return;
    const Session& cur = table_.at(index);
    // Only the owner of record ends a session: a late erase from a node
    // that has since handed the session over, or of a finished connection
    // whose ports a newer one (another node's) uses now, is ignored.
    if (cur.owner != incoming.owner) return;
    table_.erase(index);
    counters_.inc(PipelineCounter::replicas_removed);
}

void Pipeline::apply(const AgentCommand& cmd, uint32_t now_ms) {
    if (settings_.view) view_ = settings_.view->load();
    if (view_.owners != owners_seen_) [[unlikely]]
        noteOwners(now_ms);
    switch (cmd.kind) {
        case AgentCommandKind::apply_upsert:
            applyUpsert(cmd.session, cmd.nat, cmd.app, now_ms);
            return;
        case AgentCommandKind::apply_erase:
            applyErase(cmd.session);
            return;
        case AgentCommandKind::bulk_scan:
        case AgentCommandKind::transfer_owner:
        case AgentCommandKind::clear_sessions:
        case AgentCommandKind::member_left:
        case AgentCommandKind::rebalance:
            for (Job& j : jobs_) {
                if (j.active) continue;
                j = Job();
                j.kind = cmd.kind;
                j.active = true;
                j.peer = cmd.peer, j.from = cmd.from, j.to = cmd.to, j.origin = cmd.origin;
                j.bulk_id = cmd.bulk_id;
                j.since_ms = now_ms;
                return;
            }
            counters_.inc(PipelineCounter::jobs_refused);  // cannot happen: see kMaxJobs
            return;
        case AgentCommandKind::nat_departed:
            natDeparted(cmd.members);
            return;
        case AgentCommandKind::release_deferred:
        case AgentCommandKind::send_peer_link_heartbeat:
        case AgentCommandKind::reevaluate_policy:
            return;  // the dataplane's
    }
}

bool Pipeline::stepJob(Job& job, uint32_t now_ms, uint32_t& budget) {
    const uint32_t cap = table_.capacity();
    if (job.kind == AgentCommandKind::transfer_owner && job.to != kNoNode &&
        !view_.mayOwn(job.to)) {
        // A hand-over to a named node needs a view in which that node may
        // own: the new owner's backup is elected in it, and a packet of a
        // session given to a node the view does not let own is taken back at
        // once (adopted, as from a node that is gone). The agent publishes
        // that view before it sends the command; should this worker not have
        // it yet, the transfer waits for it, and is given up if the target
        // never becomes an owner (it left again).
        if (now_ms - job.since_ms < kTransferViewWaitMs) return true;
        counters_.inc(PipelineCounter::transfers_abandoned);
        job.active = false;
        return false;
    }
    while (budget > 0 && job.cursor < cap) {
        const uint32_t i = job.cursor;
        if (!table_.inUse(i)) {
            ++job.cursor;
            --budget;
            continue;
        }
        Session& s = table_.at(i);
        switch (job.kind) {
            case AgentCommandKind::bulk_scan: {
                // Each owner sends its own sessions; replicas are their
                // owners' to send (and may be older than the owner's copy).
                if (s.owner != view_.self) break;
                if (!settings_.events || settings_.events->freeSlots() < 2) return true;  // later
                WorkerEvent ev;
                ev.kind = WorkerEventKind::bulk_record;
                ev.peer = job.peer;
                ev.worker = settings_.worker;
                ev.bulk_id = job.bulk_id;
                ev.now_ms = now_ms;
                ev.session = s;
                ev.nat = table_.nat(i);
                ev.app = table_.appIdentity(i);
                settings_.events->push(ev);
                break;
            }
            case AgentCommandKind::transfer_owner:
                if (s.owner == job.from &&
                    (job.origin == kNoNode || s.origin_owner == job.origin)) {
                    if (settings_.events && settings_.events->freeSlots() < 3) return true;
                    // No target named: each session goes to its backup owner
                    // among the others (a suspend in a cluster).
                    const NodeId to = job.to != kNoNode
                                          ? job.to
                                          : backupOwnerOf(table_.hashOf(i), job.from,
                                                          view_.owners & ~nodeBit(job.from));
                    if (to == kNoNode) break;  // nobody to hand it to
                    const NodeId old_backup = s.backup_owner;
                    // Its backup owner is the one the new owner would elect
                    // (the flow's director, in a cluster); in a pair, or
                    // before the view says this node leaves, that is this
                    // node (a later rebalance moves it if this node goes).
                    const NodeId elected = backupOwnerOf(table_.hashOf(i), to, view_.owners);
                    const NodeId backup = elected != kNoNode ? elected : job.from;
                    if (settings_.directors && old_backup != kNoNode && old_backup != to &&
                        old_backup != backup && old_backup != view_.self &&
                        view_.isReachable(old_backup)) {
                        // The node that backed the session up under this
                        // node drops its copy, unless it keeps a role; a
                        // copy nobody updates would name a stale owner (and
                        // adopt the session if that owner died). Told before
                        // the record changes hands: an erase takes effect
                        // only where it names the owner the copy names.
                        emit(WorkerEventKind::release, i, now_ms, old_backup);
                    }
                    table_.setOwner(i, to);
                    s.backup_owner = backup;
                    s.flags |= kSessionReplicated;
                    ++s.version;
                    counters_.inc(PipelineCounter::sessions_given);
                    emit(WorkerEventKind::upsert, i, now_ms);
                    if (settings_.directors) {
                        // Nor is this node's copy updated from now on, unless
                        // it backs the session up: it serves the packets
                        // forwarders still send here during the handover, then goes.
                        if (s.backup_owner != view_.self) {
                            table_.expireEarlier(i, now_ms + kHandoverCopyMs);
                        }
                    }
                }
                break;
            case AgentCommandKind::member_left:
                if (!stepMemberLeft(job.from, i, now_ms)) return true;  // ring full: later
                break;
            case AgentCommandKind::rebalance:
                if (!stepRebalance(i, now_ms)) return true;  // ring full: later
                break;
            case AgentCommandKind::reevaluate_policy:
                if (!stepReevaluate(i, job.end_denied, now_ms)) return true;  // ring full: later
                break;
            case AgentCommandKind::nat_departed:
                natMarkHeld(i);
                break;
            case AgentCommandKind::clear_sessions:
                if (s.owner == view_.self) emit(WorkerEventKind::erase, i, now_ms);
                logEnd(i, TrafficEndReason::cleared, now_ms);
                table_.erase(i);
                break;
            default:
                break;
        }
        ++job.cursor;
        --budget;
    }
    if (job.cursor < cap) return true;
    if (job.kind == AgentCommandKind::bulk_scan) {
        if (!settings_.events) {
            job.active = false;
            return false;
        }
        WorkerEvent done;
        done.kind = WorkerEventKind::bulk_done;
        done.peer = job.peer;
        done.worker = settings_.worker;
        done.bulk_id = job.bulk_id;
        done.now_ms = now_ms;
        if (!settings_.events->push(done)) return true;  // ring full: say it next time
    }
    if (job.kind == AgentCommandKind::nat_departed) natUnhold();
    job.active = false;
    return false;
}

// One entry of a member_left scan. The agent sends the command when it
// learns that `gone` died or restarted, possibly before it publishes the view
// that says so, so `gone` is taken out of the owners here. A packet may have
// adopted the session already; then its owner is this node and only its
// backup is checked. Returns false (nothing changed) when the ring to the
// agent has no room for the upsert.
bool Pipeline::stepMemberLeft(NodeId gone, uint32_t index, uint32_t now_ms) {
    Session& s = table_.at(index);
    const uint16_t owners = view_.owners & uint16_t(~nodeBit(gone));
    const uint64_t hash = table_.hashOf(index);
    if (s.owner != gone) return true;
    ClusterView without = view_;
    without.owners = owners;
    if (effectiveOwner(hash, s.owner, s.backup_owner, without) != view_.self) return true;
    if (settings_.events && settings_.events->freeSlots() < 2) return false;
    adopt(index, hash, owners);
    emit(WorkerEventKind::upsert, index, now_ms);
    return true;
}

// One entry of a rebalance scan: a session of this node whose backup owner
// is not the one the view gives now (the old one left, or a member joined
// and is the flow's director now) gets the new one, which is sent the
// session; the old one, when alive, drops its copy. With nobody else (a
// pair whose peer is gone) the record keeps naming the peer, which gets
// everything again in the bulk sync when it returns. Returns false when the
// ring to the agent has no room.
bool Pipeline::stepRebalance(uint32_t index, uint32_t now_ms) {
    Session& s = table_.at(index);
    if (s.owner != view_.self) return true;
    const NodeId backup = backupOwnerOf(table_.hashOf(index), view_.self, view_.owners);
    if (backup == kNoNode || backup == s.backup_owner) return true;
    if (settings_.events && settings_.events->freeSlots() < 3) return false;
    const NodeId old = s.backup_owner;
    s.backup_owner = backup;
    ++s.version;
    counters_.inc(PipelineCounter::sessions_rebacked);
    emit(WorkerEventKind::upsert, index, now_ms);
    if (old != kNoNode && old != view_.self && view_.isReachable(old)) {
        emit(WorkerEventKind::release, index, now_ms, old);
    }
    return true;
}

void Pipeline::removeSession(uint32_t index, uint32_t now_ms) {
    if (!table_.inUse(index)) return;
    if (settings_.view) view_ = settings_.view->load();
    const Session& s = table_.at(index);
    if (s.owner == view_.self) emit(WorkerEventKind::erase, index, now_ms);
    logEnd(index, TrafficEndReason::cleared, now_ms);
    table_.erase(index);
}

bool Pipeline::runJobs(uint32_t now_ms, uint32_t budget) {
    bool pending = false;
    if (settings_.view) view_ = settings_.view->load();
    for (Job& j : jobs_) {
        if (!j.active) continue;
        if (budget == 0) return true;
        pending |= stepJob(j, now_ms, budget);
    }
    return pending;
}

}  // namespace tandem
