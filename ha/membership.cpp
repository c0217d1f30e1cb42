#include "ha/membership.h"

#include "core/log.h"
#include "ha/preflight.h"

namespace tandem {
namespace {

std::string nodeText(const PeerView& p) {
    return "node " + std::to_string(p.id) + " (" + p.name + ")";
}

std::string msText(uint64_t us) {
    return std::to_string(us / 1000) + " ms";
}

// "120 ms ago", or "never" for a time stamp of 0.
std::string agoText(uint64_t now_us, uint64_t last_us) {
    return last_us ? msText(now_us - last_us) + " ago" : "never";
}

}  // namespace

Membership::Membership(const Config& config, const MembershipOptions& options, HaOutbox& outbox,
                       HaCounters& counters, const HaHello& local_hello, uint64_t now_us)
    : options_(options),
      outbox_(outbox),
      counters_(counters),
      local_hello_(local_hello),
      self_(config.node.id),
      priority_(config.ha.priority),
      preempt_(config.ha.preempt),
      primary_owns_(config.ha.session_owner == OwnerElection::primary),
      pair_(config.peers.size() <= 1),
      started_us_(now_us) {
    for (const PeerConfig& pc : config.peers) {
        PeerView p;
        p.id = pc.id;
        p.name = pc.name.empty() ? "node" + std::to_string(pc.id) : pc.name;
        peers_.push_back(p);
    }
    last_transition_.at_us = now_us;
    next_heartbeat_us_ = now_us;
}

PeerView* Membership::find(NodeId id) {
    for (PeerView& p : peers_)
        if (p.id == id) return &p;
    return nullptr;
}

const PeerView* Membership::peer(NodeId id) const {
    for (const PeerView& p : peers_)
        if (p.id == id) return &p;
    return nullptr;
}

bool Membership::isPaired(NodeId id) const {
    const PeerView* p = peer(id);
    return p && p->paired;
}

bool Membership::acceptsReplicas(NodeId id) const {
    const PeerView* p = peer(id);
    return p && p->alive && p->control_up;
}

void Membership::emit(MembershipEventKind kind, NodeId peer, NodeState from, NodeState to) {
    events_.push_back(MembershipEvent{kind, peer, from, to});
}

std::vector<MembershipEvent> Membership::takeEvents() {
    std::vector<MembershipEvent> out;
    out.swap(events_);
    return out;
}

// ---- inputs -----------------------------------------------------------------

void Membership::onHello(NodeId from, const HaHello& hello, uint64_t now_us) {
    PeerView* p = find(from);
    if (!p) return;
    counters_.inc(HaCounter::hello_rx);
    const std::string why = preflightMismatch(local_hello_, hello, from);
    if (!why.empty()) {
        counters_.inc(HaCounter::preflight_refused);
        if (p->refused != why || p->incarnation != hello.incarnation)
            TLOG_WARN("ha", "refusing to pair with %s: %s", nodeText(*p).c_str(), why.c_str());
        p->refused = why;
        p->paired = false;
        p->incarnation = hello.incarnation;
        return;
    }
    const bool restarted = p->incarnation != 0 && p->incarnation != hello.incarnation;
    if (restarted) {
        counters_.inc(HaCounter::peer_restart);
        TLOG_INFO("ha", "%s restarted (new incarnation): its sync stream restarts",
                  nodeText(*p).c_str());
        p->bulk_in_done = false;
        p->knows_us = false;
        p->state_known = false;
        p->state = NodeState::initial;
        p->primary = false;
        emit(MembershipEventKind::peer_restarted, from);
    }
    if (!p->paired)
        TLOG_INFO("ha", "paired with %s: version %s, priority %u, peer-link MTU %u",
                  nodeText(*p).c_str(), hello.software_version.c_str(), hello.priority,
                  hello.peer_link_mtu);
    p->paired = true;
    p->refused.clear();
    p->incarnation = hello.incarnation;
    notePolicy(*p, hello.rules_hash, hello.rules_count);
    p->name = hello.name.empty() ? p->name : hello.name;
    p->priority = hello.priority;
    p->software_version = hello.software_version;
    p->peer_link_mtu = hello.peer_link_mtu;
    if (!p->knows_us) sendHello(*p, now_us);
}

void Membership::onHeartbeat(NodeId from, const HaHeartbeat& hb, uint64_t now_us) {
    PeerView* p = find(from);
    if (!p) return;
    counters_.inc(HaCounter::heartbeat_rx);
    ++p->heartbeats_rx;
    if (!p->paired || hb.incarnation != p->incarnation) {
        // A peer we have no (current) HELLO from: unpair until its new HELLO
        // arrives, and offer ours so that it sends one.
        p->paired = false;
        p->state_known = false;
        p->reports_owners = 0;
        if (now_us - p->last_hello_tx_us >= options_.heartbeat_interval_us) sendHello(*p, now_us);
        return;
    }
    p->state = hb.state;
    p->state_known = true;
    p->primary = hb.primary || hb.state == NodeState::active_primary;
    p->priority = hb.priority;
    p->links_ok = hb.links_ok;
    p->bulk_received = hb.bulk_received;
    p->bulk_expected = hb.bulk_expected;
    if (hb.rules_hash) notePolicy(*p, hb.rules_hash, hb.rules_count);  // 0: an older sender
    p->knows_us = false;
    p->reports_owners = 0;
    for (const HaMemberView& m : hb.members) {
        if (m.id == self_)
            p->knows_us = m.incarnation == local_hello_.incarnation;
        else if (m.alive && canOwnSessions(m.state) && isValidNodeId(m.id))
            p->reports_owners |= nodeBit(m.id);
    }
}

void Membership::onHaTraffic(NodeId from, uint64_t now_us) {
    if (PeerView* p = find(from)) {
        p->last_control_us = now_us;
        p->control_credit_us = 0;
        p->connection_closed = false;  // it speaks: whatever closed, it is back
    }
}

void Membership::onConnection(NodeId peer, bool up, uint64_t now_us) {
    PeerView* p = find(peer);
    if (!p) return;
    if (!up && !p->connection_closed) p->connection_closed_us = now_us;
    p->connection_closed = !up;
}

void Membership::onPeerLinkHeartbeat(NodeId from, NodeState state, uint64_t now_us) {
    PeerView* p = find(from);
    if (!p) return;
    counters_.inc(HaCounter::peer_link_hb_rx);
    p->last_peer_link_us = now_us;
    p->peer_link_credit_us = 0;
    // The control channel carries more; the peer link speaks for the peer
    // only while the control channel is silent.
    if (!p->control_up) {
        p->state = state;
        p->primary = state == NodeState::active_primary;
    }
}

void Membership::onPeerLinkHeard(NodeId from, uint64_t heard_us) {
    PeerView* p = find(from);
    if (p && heard_us > p->last_peer_link_us) {
        p->last_peer_link_us = heard_us;
        p->peer_link_credit_us = 0;
    }
}

void Membership::onBulkProgress(NodeId from, uint64_t now_us) {
    if (PeerView* p = find(from)) p->bulk_progress_us = now_us;
}

void Membership::onBulkReceived(NodeId from, uint64_t now_us) {
    if (PeerView* p = find(from)) {
        p->bulk_in_done = true;
        p->bulk_progress_us = now_us;
    }
}

void Membership::suspend(const std::string& cause) {
    suspended_ = true;
    suspend_cause_ = cause;
}

void Membership::functional(const std::string& cause) {
    suspended_ = false;
    resume_cause_ = cause;
}

void Membership::setLinkState(bool ok, const std::string& cause) {
    links_ok_ = ok;
    link_cause_ = cause;
    if (ok) resume_cause_ = cause;
}

// ---- transitions --------------------------------------------------------------

void Membership::enter(NodeState to, const std::string& cause, uint64_t now_us) {
    const NodeState from = state_;
    if (from == to) return;
    state_ = to;
    counters_.inc(HaCounter::state_transitions);
    last_transition_ = StateTransition{from, to, cause, now_us};
    TLOG_INFO("ha", "state %s -> %s: %s", nodeStateName(from), nodeStateName(to), cause.c_str());
    emit(MembershipEventKind::self_state, self_, from, to);
}

void Membership::becomeTentative(const std::string& cause, uint64_t now_us) {
    tentative_since_us_ = now_us;
    for (PeerView& p : peers_) {
        p.bulk_in_done = false;
        p.bulk_progress_us = now_us;
        p.given_up = false;
    }
    primary_ = false;
    enter(NodeState::tentative, cause, now_us);
}

void Membership::becomeActivePrimary(const std::string& cause, uint64_t now_us) {
    primary_ = true;
    enter(NodeState::active_primary, cause, now_us);
}

void Membership::becomeActiveSecondary(const std::string& cause, uint64_t now_us) {
    primary_ = false;
    enter(NodeState::active_secondary, cause, now_us);
}

void Membership::becomeActive(const std::string& cause, uint64_t now_us) {
    enter(NodeState::active, cause, now_us);
}

void Membership::becomeSuspended(const std::string& cause, uint64_t now_us) {
    primary_ = false;
    enter(NodeState::suspended, cause, now_us);
}

void Membership::becomeNonFunctional(const std::string& cause, uint64_t now_us) {
    primary_ = false;
    enter(NodeState::non_functional, cause, now_us);
}

void Membership::setPrimaryRole(bool primary, const std::string& cause) {
    if (primary_ == primary) return;
    primary_ = primary;
    TLOG_INFO("ha", "%s the primary role: %s", primary ? "taking" : "leaving", cause.c_str());
    emit(MembershipEventKind::role, self_, state_, state_);
}

void Membership::activate(const std::string& cause, uint64_t now_us) {
    synced_ = true;
    std::string why;
    const bool primary = wantPrimary(&why);
    const std::string full = cause + "; " + why;
    if (!pair_) {
        primary_ = primary;
        becomeActive(full, now_us);
    } else if (primary) {
        becomeActivePrimary(full, now_us);
    } else {
        becomeActiveSecondary(full, now_us);
    }
}

// ---- decisions ------------------------------------------------------------------

bool Membership::betterThanSelf(const PeerView& p) const {
    return p.priority < priority_ || (p.priority == priority_ && p.id < self_);
}

bool Membership::wantPrimary(std::string* why) const {
    const PeerView* better_claimant = nullptr;
    const PeerView* claimant = nullptr;
    const PeerView* better_active = nullptr;
    const PeerView* better_waiting = nullptr;
    for (const PeerView& p : peers_) {
        if (!p.alive) continue;
        const bool active = canOwnSessions(p.state);
        if (active && p.primary) {
            claimant = claimant ? claimant : &p;
            if (betterThanSelf(p)) better_claimant = &p;
        }
        if (active && betterThanSelf(p)) better_active = &p;
        if (p.state == NodeState::tentative && betterThanSelf(p)) better_waiting = &p;
    }
    if (primary_) {
        if (better_claimant) {
            *why = nodeText(*better_claimant) + " is primary too and has the better priority";
            return false;
        }
        if (preempt_ && better_active) {
            *why = "preempted by " + nodeText(*better_active) + " (better priority)";
            return false;
        }
        *why = "keeps the primary role";
        return true;
    }
    if (claimant) {
        *why = nodeText(*claimant) + " is primary";
        return false;
    }
    if (better_active) {
        *why = nodeText(*better_active) + " has the better priority";
        return false;
    }
    if (better_waiting) {
        *why = "waiting for " + nodeText(*better_waiting) + " (better priority, syncing)";
        return false;
    }
    *why = "best priority among the active nodes";
    return true;
}

void Membership::electRole(uint64_t now_us) {
    std::string why;
    const bool primary = wantPrimary(&why);
    if (primary == primary_) return;
    if (!pair_) {
        setPrimaryRole(primary, why);
    } else if (primary) {
        becomeActivePrimary(why, now_us);
    } else {
        becomeActiveSecondary(why, now_us);
    }
}

void Membership::noteOwnStall(uint64_t now_us) {
    // The agent ticks every millisecond or so. A longer gap means this node
    // did not run: its process, or the whole machine, was stalled (a VM
    // pause, a starved host). A peer that shares the stall sent nothing in
    // it either, so the gap is not counted as that peer's silence: each
    // path heard before the stall is credited with it. A peer that did run
    // in the gap is heard at once from what it queued here meanwhile.
    const uint64_t gap = last_tick_us_ ? now_us - last_tick_us_ : 0;
    const uint64_t before_us = last_tick_us_;
    last_tick_us_ = now_us;
    if (gap < options_.hold_time_us / 4) return;
    counters_.inc(HaCounter::own_stalls);
    for (PeerView& p : peers_) {
        if (!p.alive) continue;
        if (p.last_control_us <= before_us) p.control_credit_us += gap;
        if (p.last_peer_link_us <= before_us) p.peer_link_credit_us += gap;
    }
    if (gap >= options_.hold_time_us / 2)
        TLOG_WARN("ha",
                  "this node did not run for %s (stalled): its peers' silence in that time is not "
                  "held against them",
                  msText(gap).c_str());
}

void Membership::updateLiveness(uint64_t now_us) {
    // A peer whose process ended is gone before the hold time: the kernel
    // closed its HA connection, and its peer link falls silent for two
    // heartbeat intervals. A cut link, a partition or a paused process
    // closes no connection, and waits out the hold time as before.
    const uint64_t quick_us = 2 * options_.heartbeat_interval_us;
    // With peer-link-detect-ms, a peer whose peer link was up and that fell
    // silent on both paths for that long is dead too (a crash or a power
    // cut closes nothing). Its workers send peer-link heartbeats on their
    // own, so a starved agent there is no death, and the control link's
    // heartbeats come at least twice within the detect time, so a cut peer
    // link is none either.
    const uint64_t detect_us = options_.peer_link_detect_us;
    // Silence is counted from the last time a path was heard, less this
    // node's own stalls since then (noteOwnStall).
    auto silentFor = [&](uint64_t last_us, uint64_t credit_us, uint64_t us) {
        return !last_us || now_us - last_us > us + credit_us;
    };
    for (PeerView& p : peers_) {
        auto heard = [&](uint64_t last_us, uint64_t credit_us) {
            return last_us > p.dead_early_us &&
                   now_us - last_us <= options_.hold_time_us + credit_us;
        };
        bool control = heard(p.last_control_us, p.control_credit_us);
        bool link = heard(p.last_peer_link_us, p.peer_link_credit_us);
        const bool ended = p.alive && p.connection_closed && (control || link) &&
                           silentFor(p.last_peer_link_us, p.peer_link_credit_us, quick_us) &&
                           silentFor(p.last_control_us, p.control_credit_us, quick_us);
        const bool vanished = !ended && detect_us && workers_polling_ && p.alive &&
                              p.peer_link_up && (control || link) &&
                              silentFor(p.last_peer_link_us, p.peer_link_credit_us, detect_us) &&
                              silentFor(p.last_control_us, p.control_credit_us, detect_us);
        if (ended || vanished) {
            control = link = false;
            p.dead_early_us = now_us;
        }
        if (!control) p.control_credit_us = 0;
        if (!link) p.peer_link_credit_us = 0;
        if (ended) {
            counters_.inc(HaCounter::peer_down_closed);
            TLOG_WARN("ha",
                      "%s: its HA connection closed %s ago and nothing was heard for %s: "
                      "it stopped",
                      nodeText(p).c_str(), msText(now_us - p.connection_closed_us).c_str(),
                      msText(now_us - std::max(p.last_control_us, p.last_peer_link_us)).c_str());
        } else if (vanished) {
            counters_.inc(HaCounter::peer_down_detected);
            TLOG_WARN("ha",
                      "%s: nothing heard for %s on the peer link or the control link "
                      "(peer-link-detect-ms %s): it stopped",
                      nodeText(p).c_str(),
                      msText(now_us - std::max(p.last_control_us, p.last_peer_link_us)).c_str(),
                      msText(detect_us).c_str());
        }
        const bool alive = p.paired && (control || link);
        // Say what is known, not what it means: a control link that falls
        // silent while the peer link is still heard is a cut control link,
        // or a node that just stopped and whose last peer-link heartbeat
        // came a little later; the peer link's own hold time tells which.
        auto logLink = [&](const char* link_name, bool up, uint64_t last_us, const char* other_name,
                           uint64_t other_last_us) {
            const std::string other = agoText(now_us, other_last_us);
            if (up)
                TLOG_WARN("ha", "%s: %s heard again (%s last heard %s)", nodeText(p).c_str(),
                          link_name, other_name, other.c_str());
            else
                TLOG_WARN("ha", "%s: %s silent for %s, %s last heard %s", nodeText(p).c_str(),
                          link_name, msText(now_us - last_us).c_str(), other_name, other.c_str());
        };
        if (alive && p.alive && control != p.control_up && p.control_seen) {
            logLink("control link", control, p.last_control_us, "peer link", p.last_peer_link_us);
            // Nothing was replicated while it was down: both sides send
            // their sessions again.
            if (control) emit(MembershipEventKind::control_restored, p.id);
        }
        if (alive && p.alive && link != p.peer_link_up && p.peer_link_seen)
            logLink("peer link", link, p.last_peer_link_us, "control link", p.last_control_us);
        p.control_up = control;
        p.peer_link_up = link;
        p.control_seen |= control;
        p.peer_link_seen |= link;
        if (alive == p.alive) continue;
        p.alive = alive;
        p.down_us = alive ? 0 : now_us;
        if (alive) {
            counters_.inc(HaCounter::peer_up);
            TLOG_INFO("ha", "%s alive (%s)", nodeText(p).c_str(),
                      control && link ? "control and peer link"
                      : control       ? "control link"
                                      : "peer link");
            emit(MembershipEventKind::peer_up, p.id);
        } else {
            counters_.inc(HaCounter::peer_down);
            if (!p.paired)
                TLOG_WARN("ha", "%s is no longer a member: %s", nodeText(p).c_str(),
                          p.refused.empty() ? "waiting for its new HELLO" : p.refused.c_str());
            else if (!ended && !vanished)
                TLOG_WARN("ha",
                          "%s dead: nothing heard for %s on the control link or the peer link",
                          nodeText(p).c_str(), msText(options_.hold_time_us).c_str());
            p.primary = false;
            emit(MembershipEventKind::peer_down, p.id);
        }
    }
    for (PeerView& p : peers_) {
        const bool active = p.alive && canOwnSessions(p.state);
        if (active && !p.counted_active) emit(MembershipEventKind::peer_active, p.id);
        p.counted_active = active;
    }
}

void Membership::tickTentative(uint64_t now_us) {
    std::string from;
    bool waiting = false, any_alive = false;
    for (PeerView& p : peers_) {
        if (!p.alive) continue;
        any_alive = true;
        if (p.bulk_in_done && p.state_known) {
            from += (from.empty() ? "" : ", ") + std::to_string(p.id);
            continue;
        }
        const bool too_long = now_us - tentative_since_us_ >= options_.bulk_max_us;
        const bool stalled = now_us - p.bulk_progress_us >= options_.bulk_stall_us;
        if ((too_long || stalled) && !p.bulk_in_done) {
            counters_.inc(HaCounter::bulk_timeouts);
            TLOG_WARN("ha", "bulk sync from %s %s: going on without it", nodeText(p).c_str(),
                      too_long
                          ? ("did not finish within " + msText(options_.bulk_max_us)).c_str()
                          : ("made no progress for " + msText(options_.bulk_stall_us)).c_str());
            p.bulk_in_done = true;
        }
        // Its state (is it primary?) decides ours: wait for a heartbeat too.
        if (p.bulk_in_done && (p.state_known || too_long)) continue;
        waiting = true;
    }
    if (waiting || !workers_started_) return;
    if (!membersFound(now_us)) return;
    activate(
        any_alive ? "bulk sync complete (from node " + from + ")" : "no peer left to sync from",
        now_us);
}

// A member that the peers this node synced from report alive and active
// owns sessions, and some of them this node backs up or directs once it is
// active. Had it not paired with that member yet, its view would leave the
// member out, and it would take the member's sessions for orphans (adopt
// them) and hold their packets as a new director. So it pairs with every
// member reported alive first; one it cannot reach (a cut path) is given
// up after the startup wait, and it goes on without it.
bool Membership::membersFound(uint64_t now_us) {
    uint16_t reported = 0;
    for (const PeerView& p : peers_) {
        if (p.alive && p.state_known) reported |= p.reports_owners;
    }
    bool waiting = false;
    for (PeerView& p : peers_) {
        if (p.alive || !(reported & nodeBit(p.id)) || p.given_up) continue;
        if (now_us - tentative_since_us_ < options_.startup_wait_us) {
            waiting = true;
            continue;
        }
        counters_.inc(HaCounter::members_not_found);
        TLOG_WARN("ha",
                  "%s is reported alive by the peers but did not answer within %s: going on "
                  "without it",
                  nodeText(p).c_str(), msText(options_.startup_wait_us).c_str());
        p.given_up = true;
    }
    return !waiting;
}

void Membership::updateSelf(uint64_t now_us) {
    if (suspended_) {
        if (state_ != NodeState::suspended) becomeSuspended(suspend_cause_, now_us);
        return;
    }
    if (!links_ok_) {
        if (state_ != NodeState::non_functional) becomeNonFunctional(link_cause_, now_us);
        return;
    }
    switch (state_) {
        case NodeState::initial: {
            for (const PeerView& p : peers_) {
                if (!p.alive) continue;
                becomeTentative(nodeText(p) + " found: bulk sync from the peers", now_us);
                return;
            }
            if (!workers_started_) return;
            if (peers_.empty()) {
                activate("no peers configured", now_us);
            } else if (now_us - started_us_ >= options_.startup_wait_us) {
                activate("no peer answered within " + msText(options_.startup_wait_us) +
                             ": active alone",
                         now_us);
            }
            return;
        }
        case NodeState::tentative:
            tickTentative(now_us);
            return;
        case NodeState::suspended:
        case NodeState::non_functional:
            if (synced_)
                activate(resume_cause_, now_us);
            else
                becomeTentative(resume_cause_ + ": syncing first", now_us);
            return;
        case NodeState::active_primary:
        case NodeState::active_secondary:
        case NodeState::active:
            electRole(now_us);
            return;
    }
}

// ---- policy -------------------------------------------------------------------------

void Membership::notePolicy(PeerView& p, uint64_t hash, uint32_t rules) {
    p.policy_hash = hash;
    p.policy_rules = rules;
    const std::string why =
        policyMismatch(local_hello_.rules_hash, local_hello_.rules_count, hash, rules, p.id);
    if (why == p.policy_warned) return;  // said already (or still in agreement)
    if (why.empty()) {
        TLOG_INFO("ha", "%s runs the same policy as this node again (hash %s)", nodeText(p).c_str(),
                  policyHashText(hash).c_str());
    } else {
        counters_.inc(HaCounter::policy_mismatch);
        TLOG_WARN("ha", "%s", why.c_str());
    }
    p.policy_warned = why;
}

void Membership::setPolicy(uint64_t hash, uint32_t rules) {
    local_hello_.rules_hash = hash;
    local_hello_.rules_count = rules;
    for (PeerView& p : peers_) {
        if (p.policy_hash) notePolicy(p, p.policy_hash, p.policy_rules);
    }
}

// ---- sending ------------------------------------------------------------------------

void Membership::sendHello(PeerView& p, uint64_t now_us) {
    p.last_hello_tx_us = now_us;
    if (outbox_.send(p.id, local_hello_)) counters_.inc(HaCounter::hello_tx);
}

void Membership::sendHeartbeats(uint64_t now_us) {
    if (now_us < next_heartbeat_us_) return;
    next_heartbeat_us_ = now_us + options_.heartbeat_interval_us;
    HaHeartbeat hb;
    hb.state = state_;
    hb.priority = priority_;
    hb.seq = ++heartbeat_seq_;
    hb.sent_us = now_us;
    hb.incarnation = local_hello_.incarnation;
    hb.primary = primary();
    hb.bulk_received = sync_received_;
    hb.bulk_expected = sync_expected_;
    hb.links_ok = links_ok_;
    hb.rules_hash = local_hello_.rules_hash;
    hb.rules_count = local_hello_.rules_count;
    for (const PeerView& p : peers_)
        hb.members.push_back(HaMemberView{p.id, p.state, p.alive, p.paired ? p.incarnation : 0});
    for (PeerView& p : peers_) {
        if (!p.paired || !p.knows_us) {
            if (now_us - p.last_hello_tx_us >= options_.heartbeat_interval_us ||
                !p.last_hello_tx_us)
                sendHello(p, now_us);
        }
        if (outbox_.send(p.id, hb)) counters_.inc(HaCounter::heartbeat_tx);
    }
}

void Membership::tick(uint64_t now_us) {
    noteOwnStall(now_us);
    updateLiveness(now_us);
    updateSelf(now_us);
    sendHeartbeats(now_us);
}

ClusterView Membership::view() const {
    ClusterView v;
    v.self = self_;
    v.self_state = state_;
    v.primary_owns = primary_owns_;
    v.reachable = nodeBit(self_);
    if (canOwnSessions(state_)) v.owners |= nodeBit(self_);
    if (primary()) v.primary = self_;
    for (const PeerView& p : peers_) {
        if (!p.alive) continue;
        v.reachable |= nodeBit(p.id);
        if (canOwnSessions(p.state)) {
            v.owners |= nodeBit(p.id);
            if (p.primary && v.primary == kNoNode) v.primary = p.id;
        }
        if (p.control_up) v.replicate = true;
    }
    return v;
}

}  // namespace tandem
