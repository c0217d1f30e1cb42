// Membership: who is in the cluster, who is alive, and this node's state
// (docs/architecture.md, "Node states and ownership").
//
// A peer is *paired* once its HELLO passed the pre-flight check, and *alive*
// while it is paired and something was heard from it within the hold time on
// either path: the HA control/sync channels or the peer link (heartbeat
// frames relayed by the workers). Losing one path is shown, not mistaken for
// death, so a single cut link does not split the brain.
//
// This node's state follows one function per transition (becomeTentative,
// becomeActivePrimary, ...), each logged with its cause:
//   initial ──peer found──▶ tentative ──bulk sync done / timeout──▶ active-*
//   initial ──nobody within the startup wait──▶ active-* (alone)
//   any ──operator suspend──▶ suspended ──functional──▶ active-* (or tentative)
//   any ──data link down──▶ non-functional ──link up──▶ active-* (or tentative)
// active-primary/active-secondary in a pair, active (+ a primary role) in a
// cluster of three or more. The primary is elected by priority (lower value
// wins, ties to the lower node id); without preempt a better node that comes
// back does not take the role from the current primary.
//
// Membership is pure logic on the time it is given: it sends hellos and
// heartbeats through an HaOutbox and reports what the rest of the agent must
// act on as MembershipEvents.
//
// Thread-safety: agent thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/cluster_view.h"
#include "config/config.h"
#include "ha/ha_counters.h"
#include "ha/ha_outbox.h"
#include "proto/ha_messages.h"

namespace tandem {

struct MembershipOptions {
    uint64_t heartbeat_interval_us = 100000;
    uint64_t hold_time_us = 400000;
    /// [ha] peer-link-detect-ms in µs (0 = off): a peer whose peer link was
    /// up and that is silent on both paths this long is dead.
    uint64_t peer_link_detect_us = 0;
    /// initial → active alone when no peer paired within this time.
    uint64_t startup_wait_us = 400000;
    /// tentative: a peer's bulk sync that made no progress this long is given up.
    uint64_t bulk_stall_us = 5000000;
    /// tentative: the whole sync is given up after this long.
    uint64_t bulk_max_us = 120000000;
};

enum class MembershipEventKind : uint8_t {
    peer_up,         ///< `peer` became alive (paired and heard): start replicating, bulk sync it
    peer_down,       ///< `peer` is dead (hold time passed on every path) or unpaired
    peer_restarted,  ///< `peer` came back with a new incarnation: its stream restarts, bulk sync it
    peer_active,     ///< `peer` (alive) entered an active state: revert gives its sessions back
    control_restored,  ///< `peer` stayed alive (peer link) and its control link is back: resync it
    self_state,        ///< this node went from `from` to `to`
    role,              ///< this node's primary role changed (cluster mode; pair: see self_state)
};

struct MembershipEvent {
    MembershipEventKind kind = MembershipEventKind::peer_up;
    NodeId peer = kNoNode;
    NodeState from = NodeState::initial;
    NodeState to = NodeState::initial;
};

/// What this node knows about one configured peer.
struct PeerView {
    NodeId id = kNoNode;
    std::string name;          ///< from the config, then as the peer names itself
    bool paired = false;       ///< its HELLO passed the pre-flight check
    std::string refused;       ///< why its HELLO was refused (empty when not)
    uint64_t incarnation = 0;  ///< of its HELLO
    std::string software_version;
    uint32_t peer_link_mtu = 0;
    bool alive = false;
    bool control_up = false;       ///< heard on the HA channels within the hold time
    bool peer_link_up = false;     ///< heard on the peer link within the hold time
    uint64_t last_control_us = 0;  ///< 0 = never
    uint64_t last_peer_link_us = 0;
    /// This node's own stalls since each path was last heard (µs): time in
    /// which this node could not hear the peer is not the peer's silence.
    uint64_t control_credit_us = 0;
    uint64_t peer_link_credit_us = 0;
    NodeState state = NodeState::initial;  ///< as it last reported
    bool primary = false;                  ///< it claims the primary role
    uint8_t priority = 0;
    bool links_ok = true;
    bool knows_us = false;     ///< its heartbeats show it paired with our incarnation
    bool state_known = false;  ///< a heartbeat of its current incarnation arrived
    /// Members its last heartbeat reported alive and able to own sessions
    /// (node bits): a starting node waits to pair with each of them.
    uint16_t reports_owners = 0;
    uint64_t heartbeats_rx = 0;
    uint64_t bulk_received = 0;  ///< its inbound bulk sync, as it reports
    uint64_t bulk_expected = 0;
    /// Declared dead before the hold time then: what was heard before it
    /// no longer counts (else it would be alive again at the next tick).
    uint64_t dead_early_us = 0;
    uint64_t down_us = 0;  ///< when it was last declared dead (0: alive, or never declared)
    bool connection_closed = false;  ///< its HA connection closed and not reopened since
    uint64_t connection_closed_us = 0;
    uint64_t policy_hash = 0;  ///< its policy (HELLO, then heartbeats); 0 = not known
    uint32_t policy_rules = 0;
    std::string policy_warned;  ///< the mismatch last logged (empty: none)
    // bookkeeping
    bool bulk_in_done = false;  ///< a bulk sync from it completed (or was given up) since tentative
    bool given_up = false;  ///< tentative: reported alive, not found in time, gone on without it
    uint64_t bulk_progress_us = 0;  ///< last time its bulk sync to us made progress
    uint64_t last_hello_tx_us = 0;
    bool counted_active = false;  ///< alive and active, as last reported in an event
    bool control_seen = false;    ///< each path was up at least once (for path-loss logs)
    bool peer_link_seen = false;
};

struct StateTransition {
    NodeState from = NodeState::initial;
    NodeState to = NodeState::initial;
    std::string cause = "starting";
    uint64_t at_us = 0;
};

class Membership {
  public:
    /// `local_hello` is this node's HELLO (preflight.h); `now_us` starts the
    /// startup wait.
    Membership(const Config& config, const MembershipOptions& options, HaOutbox& outbox,
               HaCounters& counters, const HaHello& local_hello, uint64_t now_us);

    // ---- inputs (all with the agent's current time) ----------------------
    /// A HELLO from configured peer `from`: pre-flight check, pairing, restart detection.
    void onHello(NodeId from, const HaHello& hello, uint64_t now_us);
    /// A heartbeat on the control channel.
    void onHeartbeat(NodeId from, const HaHeartbeat& hb, uint64_t now_us);
    /// Any accepted message from `from` on the HA channels (the control path is alive).
    void onHaTraffic(NodeId from, uint64_t now_us);
    /// A peer-link heartbeat relayed by a worker (the second path).
    void onPeerLinkHeartbeat(NodeId from, NodeState state, uint64_t now_us);
    /// A worker received a peer-link heartbeat from `from` at `heard_us`
    /// (read from the worker's stamp, not its event ring, which may lag
    /// behind a burst of session events): the peer link is alive then.
    void onPeerLinkHeard(NodeId from, uint64_t heard_us);
    /// Whether this node's own workers polled lately. While they did not,
    /// a silent peer link may be this node's own delay (heartbeats waiting
    /// in a queue nobody reads), and the peer-link detect time waits.
    void setWorkersPolling(bool polling) { workers_polling_ = polling; }
    /// Whether this node's dataplane workers have started (each passed
    /// through its loop once; true unless told otherwise). Until they have,
    /// this node stays initial or tentative: an active node is handed
    /// sessions (revert) and packets (as a flow's director) at once, and
    /// nobody here would read them yet.
    void setWorkersStarted(bool started) { workers_started_ = started; }
    /// This node's HA connection to `peer` closed (`up` false: the peer's
    /// side closed it, as the kernel does when a process ends) or opened.
    void onConnection(NodeId peer, bool up, uint64_t now_us);
    /// The bulk sync from `from` made progress / completed.
    void onBulkProgress(NodeId from, uint64_t now_us);
    void onBulkReceived(NodeId from, uint64_t now_us);
    /// Operator: suspend / functional. Data links: ok or not. Effective at the next tick.
    void suspend(const std::string& cause);
    void functional(const std::string& cause);
    void setLinkState(bool ok, const std::string& cause);
    /// This node's inbound bulk progress, carried in heartbeats.
    void setSyncProgress(uint64_t received, uint64_t expected) {
        sync_received_ = received, sync_expected_ = expected;
    }

    /// Runs liveness, state and role decisions, and sends due hellos and
    /// heartbeats.
    void tick(uint64_t now_us);

    /// Events since the last call, in order.
    std::vector<MembershipEvent> takeEvents();

    // ---- outputs ---------------------------------------------------------
    /// The view for the workers (epoch left 0: the publisher stamps it).
    ClusterView view() const;
    NodeState state() const { return state_; }
    bool primary() const { return primary_ && canOwnSessions(state_); }
    NodeId self() const { return self_; }
    bool isPair() const { return pair_; }
    bool operatorSuspended() const { return suspended_; }
    bool linksOk() const { return links_ok_; }
    uint8_t priority() const { return priority_; }
    /// A policy reload on this node: HELLOs and heartbeats carry the new
    /// hash, and every peer is compared with it again.
    void setPolicy(uint64_t hash, uint32_t rules);
    uint64_t policyHash() const { return local_hello_.rules_hash; }
    uint32_t policyRules() const { return local_hello_.rules_count; }
    uint64_t incarnation() const { return local_hello_.incarnation; }
    const std::vector<PeerView>& peers() const { return peers_; }
    const PeerView* peer(NodeId id) const;
    bool isPaired(NodeId id) const;
    /// Alive with a working HA path: sync messages can reach it.
    bool acceptsReplicas(NodeId id) const;
    const StateTransition& lastTransition() const { return last_transition_; }
    uint64_t tentativeSinceUs() const { return tentative_since_us_; }

  private:
    PeerView* find(NodeId id);
    // Transitions (one per target state; each logs its cause).
    void becomeTentative(const std::string& cause, uint64_t now_us);
    void becomeActivePrimary(const std::string& cause, uint64_t now_us);
    void becomeActiveSecondary(const std::string& cause, uint64_t now_us);
    void becomeActive(const std::string& cause, uint64_t now_us);
    void becomeSuspended(const std::string& cause, uint64_t now_us);
    void becomeNonFunctional(const std::string& cause, uint64_t now_us);
    void enter(NodeState to, const std::string& cause, uint64_t now_us);
    void setPrimaryRole(bool primary, const std::string& cause);
    /// Enters the active state the election gives.
    void activate(const std::string& cause, uint64_t now_us);
    /// tentative: every member the peers report alive and active was paired
    /// with (or given up after the startup wait).
    bool membersFound(uint64_t now_us);

    void noteOwnStall(uint64_t now_us);
    void updateLiveness(uint64_t now_us);
    void updateSelf(uint64_t now_us);
    void tickTentative(uint64_t now_us);
    void electRole(uint64_t now_us);
    bool wantPrimary(std::string* why) const;
    bool betterThanSelf(const PeerView& p) const;
    void sendHeartbeats(uint64_t now_us);
    void sendHello(PeerView& p, uint64_t now_us);
    void notePolicy(PeerView& p, uint64_t hash, uint32_t rules);
    void emit(MembershipEventKind kind, NodeId peer, NodeState from = NodeState::initial,
              NodeState to = NodeState::initial);

    const MembershipOptions options_;
    HaOutbox& outbox_;
    HaCounters& counters_;
    HaHello local_hello_;  // rules_hash/rules_count follow policy reloads (setPolicy)
    const NodeId self_;
    const uint8_t priority_;
    const bool preempt_;
    const bool primary_owns_;
    const bool pair_;
    const uint64_t started_us_;

    std::vector<PeerView> peers_;
    NodeState state_ = NodeState::initial;
    bool primary_ = false;
    bool synced_ = false;     ///< completed the initial sync once
    bool suspended_ = false;  ///< operator request
    bool links_ok_ = true;
    std::string suspend_cause_, resume_cause_, link_cause_;
    uint64_t tentative_since_us_ = 0;
    uint64_t next_heartbeat_us_ = 0;
    uint64_t last_tick_us_ = 0;  ///< 0 = not ticked yet
    uint64_t heartbeat_seq_ = 0;
    uint64_t sync_received_ = 0, sync_expected_ = 0;
    bool workers_polling_ = true;
    bool workers_started_ = true;
    StateTransition last_transition_;
    std::vector<MembershipEvent> events_;
};

}  // namespace tandem
