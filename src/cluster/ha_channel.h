// The records a dataplane worker and the HA agent exchange.
//
// Each worker has two SpscRings with the agent: WorkerEvent (worker → agent)
// and AgentCommand (agent → worker). They carry whole Session values, so the
// dataplane needs no ZeroMQ or msgpack and the agent never touches a worker's
// table: the worker applies every change to its own table between bursts.
// Times (Session::expires_ms, now_ms) are on monotonicMs() (core/clock.h),
// shared by both threads; on the wire they travel as "remaining ms".
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "core/node_id.h"
#include "core/spsc_ring.h"
#include "session/session.h"
#include "session/session_app.h"

namespace tandem {

enum class WorkerEventKind : uint8_t {
    upsert = 1,               ///< a session this node owns was created or changed state/owner;
                              ///< `peer`, when set, gets it too (a claimant it overrules)
    erase = 2,                ///< a session this node owns ended (expiry, reset, operator clear)
    bulk_record = 3,          ///< one session of a bulk scan (agent asked with bulk_scan)
    bulk_done = 4,            ///< the bulk scan `bulk_id` is complete
    peer_link_heartbeat = 5,  ///< a heartbeat frame from `peer` arrived on the peer link
    release = 6,              ///< node `peer` no longer backs up this node's `session`: it
                              ///< drops its copy (an erase record to it alone)
};

struct WorkerEvent {
    WorkerEventKind kind = WorkerEventKind::upsert;
    NodeId peer = kNoNode;       ///< bulk_*: the peer being synced; heartbeat: the sender
    uint16_t worker = 0;         ///< index of the emitting worker
    uint32_t defer_token = 0;    ///< != 0: the flow's first packet is held until acknowledged
    uint32_t bulk_id = 0;        ///< bulk_*: which scan
    uint32_t now_ms = 0;         ///< monotonicMs() when emitted
    uint32_t heartbeat_seq = 0;  ///< peer_link_heartbeat: the sender's sequence number
    uint8_t peer_state = 0;      ///< peer_link_heartbeat: the sender's NodeState
    Session session;             ///< upsert / erase / bulk_record
    NatBinding nat;              ///< the session's NAT binding (kept beside it by the table)
    AppIdentity app;             ///< upsert / bulk_record: its application identity
};

enum class AgentCommandKind : uint8_t {
    apply_upsert = 1,  ///< install or refresh a replica received from a peer
    apply_erase = 2,   ///< remove a replica (its owner ended the session)
    release_deferred =
        3,               ///< the record with `token` is acknowledged (or gave up): send the packet
    bulk_scan = 4,       ///< emit bulk_record for every session, then bulk_done (for `peer`)
    transfer_owner = 5,  ///< sessions owned by `from` (and, if origin != 0, originally
                         ///< owned by `origin`) now belong to `to`; emit upserts for them.
                         ///< to == kNoNode (cluster suspend): each goes to its backup
                         ///< owner, effectiveOwner() under the published view
    send_peer_link_heartbeat = 6,  ///< send a heartbeat frame to `peer` on the peer link
    clear_sessions = 7,            ///< operator: remove every session (replicas included)
    member_left = 8,               ///< node `from` is gone with its table (died, or restarted):
                                   ///< each session it owned whose effective owner is now this
                                   ///< node is adopted, idle ones included (upserts, replicated)
    rebalance = 9,                 ///< the nodes that may own changed: each session this node
                                   ///< owns whose backup owner is not the one the published view
                                   ///< gives (backupOwnerOf) gets it: an upsert to the new one,
                                   ///< a release to the old one
    /// Not sent by the agent: Pipeline::setPolicy() starts it (a policy
    /// reload). Each session this node owns is matched against the new
    /// policy: kept under the rule that allows it now, or ended.
    reevaluate_policy = 10,
    nat_departed = 11,  ///< NAT: `members` are the members that left for good ([nat]
                        ///< reassign-after-s): their port blocks are lent to the others
                        ///< (docs/nat.md); 0: every block is its base owner's again
};

struct AgentCommand {
    AgentCommandKind kind = AgentCommandKind::apply_upsert;
    NodeId peer = kNoNode;
    NodeId from = kNoNode;
    NodeId to = kNoNode;
    NodeId origin = kNoNode;
    uint32_t token = 0;
    uint32_t bulk_id = 0;
    uint32_t heartbeat_seq = 0;
    uint8_t self_state = 0;  ///< send_peer_link_heartbeat: this node's NodeState
    uint16_t members = 0;    ///< nat_departed: node bits
    Session session;         ///< apply_*: expires_ms already on this node's clock
    NatBinding nat;          ///< apply_upsert: the session's NAT binding
    AppIdentity app;         ///< apply_upsert: its application identity
};

// Through the rings each record is copied up to the end of its
// application name (`app` is the last member): most sessions name none, and
// a 512-byte copy each way costs replication a fifth of its rate.
static_assert(sizeof(WorkerEvent) - offsetof(WorkerEvent, app) - sizeof(AppIdentity) <
              alignof(WorkerEvent));
static_assert(sizeof(AgentCommand) - offsetof(AgentCommand, app) - sizeof(AppIdentity) <
              alignof(AgentCommand));
inline size_t ringBytes(const WorkerEvent& e) {
    return offsetof(WorkerEvent, app) + usedBytes(e.app);
}
inline size_t ringBytes(const AgentCommand& c) {
    return offsetof(AgentCommand, app) + usedBytes(c.app);
}

using WorkerEventRing = SpscRing<WorkerEvent>;
using AgentCommandRing = SpscRing<AgentCommand>;

/// A worker's pair of rings, owned by the daemon, shared by the two threads.
struct WorkerChannel {
    explicit WorkerChannel(size_t events = 65536, size_t commands = 65536)
        : to_agent(events), to_worker(commands) {}
    WorkerEventRing to_agent;
    AgentCommandRing to_worker;
    // Stamps the worker writes and the agent reads for peer-link-detect-ms
    // (membership.h), on monotonicMs(); 0 = never. Times only, nothing
    // behind them to publish: relaxed.
    /// The worker's last pass through its loop.
    std::atomic<uint32_t> polled_ms{0};
    /// By sender: when the worker last received its peer-link heartbeat
    /// (the event ring also says so, but behind whatever it holds).
    std::array<std::atomic<uint32_t>, kMaxNodes + 1> peer_link_heard_ms{};
};

}  // namespace tandem
