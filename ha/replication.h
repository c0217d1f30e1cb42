// Replication: moves session state between this node's workers and its
// peers, reliably (docs/architecture.md, "A sync message's path"): per-peer
// sequence numbers, cumulative acknowledgements, resend, bulk resync when a
// gap cannot be repaired.
//
// Sending. Workers report every change of a session they own (upsert,
// erase) on their WorkerEvent ring. Changes are batched per peer (up to
// `batch_records`, or `flush_interval_us`, or at once when a record holds a
// deferred first packet) on each peer's own sync stream (sync_sender.h): to
// every live peer, or (`targeted`, clusters) to the session's owner and
// backup owner only; a `release` event sends an erase to the one peer that
// no longer backs the session up. When the peer acknowledges a batch that held
// a defer token, the token is released to the worker that emitted it
// (release_deferred); in a cluster the session's backup owner must be the
// one that acknowledged. A token nobody acknowledges within
// `defer_timeout_us` is released anyway and counted (defer_timeouts).
//
// Receiving. Messages of a peer's stream are taken strictly in order (a gap
// is NACKed, duplicates re-acknowledged), queued, and applied: each record
// becomes an apply_upsert / apply_erase pushed to the worker that owns the
// flow (WorkerMap::workerOf, core/worker_map.h: the dataplane's own map, so
// a replica lands where the flow's packets do), with its expiry moved onto this
// node's clock. Only then is the message acknowledged, so a packet that the
// peer sends after our ACK finds the replica in place. A full ring delays
// applying (counted); nothing blocks.
//
// Bulk sync. When a peer comes up, restarts, asks (RESYNC_REQUEST) or its
// stream cannot be repaired, this node sends BULK_BEGIN, asks every worker
// for a bulk_scan, forwards the bulk_record events as bulk batches and ends
// with BULK_END once every worker reported bulk_done. The receiving side
// reports progress and completion (the tentative state waits for it).
//
// Thread-safety: agent thread only. The worker rings are used as their
// agent-side end (pop events, push commands).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "cluster/ha_channel.h"
#include "core/worker_map.h"
#include "ha/ha_counters.h"
#include "ha/ha_outbox.h"
#include "ha/sync_sender.h"
#include "nat/nat_steering.h"
#include "proto/ha_messages.h"

namespace tandem {

struct ReplicationOptions {
    /// Clusters of three or more: each record goes to its session's owner
    /// and backup owner only (not to every peer), so the cost of a new
    /// session stays the same however many members there are. Off: every
    /// live peer gets every record (a pair: the one peer is the backup).
    bool targeted = false;
    /// Which worker owns each flow, as the dataplane steers it
    /// (Dataplane::workerMap()): a replica goes to that worker. None:
    /// software steering over the workers given (a dataplane of that many
    /// workers with [dataplane] steering = software).
    std::optional<WorkerMap> worker_map;
    /// The node's translation (nat/nat_steering.h: it steers translated
    /// flows); null: none.
    const NatSetup* nat = nullptr;
    uint32_t batch_records = 256;       ///< records per batch (<= kMaxHaRecordsPerBatch)
    uint64_t flush_interval_us = 1000;  ///< a partial batch waits at most this long
    /// A deferred packet waits at most this long. Releasing unacknowledged
    /// lets the reply race the replica (and lose: a 1 s TCP retransmission),
    /// so this is a safety net sized for a loaded machine, not a target.
    uint64_t defer_timeout_us = 40000;
    /// Unacknowledged messages are sent again after this long at least; the
    /// timeout grows with the measured ack delay up to resend_timeout_max_us.
    uint64_t resend_timeout_us = 100000;
    uint64_t resend_timeout_max_us = 1000000;
    /// A receiver acknowledges at once after this many applied messages (and
    /// in any case at the end of each step), so the sender's window keeps
    /// moving while a long burst is being applied.
    uint32_t ack_every_messages = 8;
    uint64_t nack_interval_us = 5000;  ///< the same gap is NACKed at most this often
    size_t inflight_messages = 64;     ///< sent, unacknowledged messages per peer
    /// Live (non-bulk) bytes waiting for a peer's ack; beyond it the peer is
    /// not keeping up: the stream restarts and a bulk sync follows.
    size_t window_max_bytes = 64u << 20;
    /// Bulk-sync bytes waiting for a peer's ack. A bulk sync is not paced by
    /// the workers (they scan as fast as their rings allow), so this is
    /// roughly the table size × ~160 bytes; beyond it the bulk is retried.
    size_t bulk_max_bytes = size_t(1) << 30;
    size_t inbound_max_messages = 256;  ///< received, not yet applied messages per peer
    uint64_t bulk_retry_us = 1000000;   ///< after an overflowed bulk, wait this long to retry
    /// Sessions this node holds (for BULK_BEGIN's expected count); may be empty.
    std::function<uint64_t()> session_count;
};

/// One peer's replication figures, for the status snapshot.
struct PeerSyncStatus {
    NodeId peer = kNoNode;
    bool up = false;
    uint64_t stream = 0;
    uint64_t tx_seq = 0;  ///< last sequence number assigned
    uint64_t acked_seq = 0;
    uint64_t lag_us = 0;  ///< age of the oldest unacknowledged message
    size_t window_messages = 0;
    size_t window_bytes = 0;
    uint64_t resends = 0, acks_rx = 0, nacks_rx = 0, bytes_tx = 0;
    uint64_t records_tx = 0, records_rx = 0;
    double records_tx_per_s = 0, records_rx_per_s = 0;
    uint64_t rx_stream = 0, rx_applied_seq = 0;
    size_t inbound_queued = 0;
    const char* bulk_out_state = "idle";  ///< idle | scanning | sent | waiting-retry
    uint32_t bulk_out_id = 0;
    uint64_t bulk_out_sent = 0;
    bool bulk_out_delivered = false;     ///< bulkDelivered(): sent and acknowledged
    const char* bulk_in_state = "idle";  ///< idle | receiving | complete
    uint64_t bulk_in_received = 0, bulk_in_expected = 0;
};

class Replication {
  public:
    /// `workers` are the daemon's worker channels (may be empty in tests);
    /// `stream_seed` makes stream ids of this run differ from earlier runs
    /// (the agent's incarnation). Throws std::invalid_argument when
    /// options.worker_map names another number of workers than `workers`
    /// holds (a wiring mistake at start-up).
    Replication(const ReplicationOptions& options, std::vector<WorkerChannel*> workers,
                HaOutbox& outbox, HaCounters& counters, uint64_t stream_seed);

    // ---- peers ---------------------------------------------------------------
    /// `peer` is alive: a fresh stream and a bulk sync towards it.
    void peerUp(NodeId peer, uint64_t now_us);
    /// `peer` is dead: its window is dropped, its bulk abandoned.
    void peerDown(NodeId peer, uint64_t now_us);
    /// `peer` restarted: as peerUp if it is up.
    void peerRestarted(NodeId peer, uint64_t now_us);
    /// Sends `peer` everything again (RESYNC_REQUEST or operator).
    void startBulk(NodeId peer, const char* why, uint64_t now_us);
    /// Asks every live peer for a bulk sync of its sessions.
    void requestResync(uint64_t now_us);
    /// Whether `peer` accepts replicas now (alive on the HA channels):
    /// a defer token of a session backed up by such a peer waits for its ack.
    void setReplicaTargets(uint16_t mask) { replica_targets_ = mask; }

    // ---- inputs -------------------------------------------------------------
    /// One event from worker `ev.worker` (upsert, erase, bulk_record, bulk_done).
    void onWorkerEvent(const WorkerEvent& ev, uint64_t now_us);
    /// Sync messages from paired peer `from`.
    void onBatch(NodeId from, HaSessionBatch&& batch, uint64_t now_us);
    void onBulkBegin(NodeId from, const HaBulkBegin& m, uint64_t now_us);
    void onBulkEnd(NodeId from, const HaBulkEnd& m, uint64_t now_us);
    void onAck(NodeId from, const HaAck& m, uint64_t now_us);
    void onNack(NodeId from, const HaNack& m, uint64_t now_us);
    void onResyncRequest(NodeId from, const HaResyncRequest& m, uint64_t now_us);
    /// Peer `from` was just paired, and its sync messages from `seq` of
    /// `stream` on were dropped before: asks it to send them again now
    /// (a NACK) rather than after its ack timeout.
    void missedBeforePairing(NodeId from, uint64_t stream, uint64_t seq, uint64_t now_us);

    /// Flushes batches, applies received messages, sends acks and due
    /// resends, releases timed-out defer tokens, retries waiting commands.
    /// Returns true when it did any work.
    bool tick(uint64_t now_us);
    /// Flushes the live batch now if it holds a defer token (called after
    /// draining the rings, so a deferred packet waits for no timer).
    void flushIfDeferred(uint64_t now_us);

    /// Pushes a command to worker `w` (queued in order behind earlier ones
    /// when the ring is full). And to every worker.
    void pushCommand(size_t w, const AgentCommand& cmd);
    void pushToAllWorkers(const AgentCommand& cmd);
    size_t workerCount() const { return workers_.size(); }

    /// Peers whose bulk sync to us made progress / completed since the last call.
    std::vector<NodeId> takeBulkProgress();
    std::vector<NodeId> takeBulksReceived();
    /// Whether the latest bulk sync to `peer` is complete and acknowledged
    /// (BULK_END sent and acked): `peer` holds every session of this node.
    bool bulkDelivered(NodeId peer) const;
    /// Inbound bulk figures summed over peers (for heartbeats).
    void inboundBulkProgress(uint64_t* received, uint64_t* expected) const;

    std::vector<PeerSyncStatus> status(uint64_t now_us) const;
    size_t pendingDeferTokens() const { return defer_index_.size(); }

  private:
    struct BulkOut {
        enum class State { idle, scanning, sent, waiting_retry } state = State::idle;
        uint32_t id = 0;
        std::vector<bool> worker_done;
        size_t workers_done = 0;
        uint64_t sent = 0;
        uint64_t end_seq = 0;  ///< seq of this bulk's BULK_END once queued
        uint64_t retry_at_us = 0;
        HaRecordBuffer buffer;
    };
    struct BulkIn {
        enum class State { idle, receiving, complete } state = State::idle;
        uint32_t id = 0;
        uint64_t received = 0;
        uint64_t expected = 0;
    };
    using InboundBody = std::variant<HaSessionBatch, HaBulkBegin, HaBulkEnd>;
    struct Inbound {
        uint64_t seq = 0;
        InboundBody body;
        size_t next_record = 0;  // records of a batch already pushed to workers
    };
    struct Peer {
        NodeId id = kNoNode;
        bool up = false;
        uint64_t resets = 0;
        SyncSender tx;
        BulkOut bulk_out;
        // receiving
        uint64_t rx_stream = 0;
        uint64_t rx_next = 1;     // next seq accepted into `inbound`
        uint64_t rx_applied = 0;  // last seq applied
        uint64_t rx_acked = 0;    // last seq acknowledged
        bool ack_due = false;
        uint64_t last_nack_us = 0, last_nack_from = 0;
        std::deque<Inbound> inbound;
        BulkIn bulk_in;
        // live records waiting to be batched for this peer
        HaRecordBuffer live;
        std::vector<DeferRef> live_tokens;
        uint64_t live_first_us = 0;
        // figures
        uint64_t resends = 0, acks_rx = 0, nacks_rx = 0, bytes_tx = 0;
        uint64_t records_tx = 0, records_rx = 0;
        uint64_t rate_start_us = 0, rate_tx_base = 0, rate_rx_base = 0;
        double tx_per_s = 0, rx_per_s = 0;
    };
    struct DeferEntry {
        uint16_t worker = 0;
        uint32_t token = 0;
        NodeId required = kNoNode;  // peer whose ack releases it; kNoNode = any peer
        uint64_t deadline_us = 0;
        bool done = false;
    };

    Peer* peer(NodeId id);
    Peer& peerOrAdd(NodeId id);
    void resetStream(Peer& p, uint64_t now_us);
    template <typename Body>
    void enqueueSequenced(Peer& p, Body body, uint32_t records, bool bulk,
                          std::vector<DeferRef> tokens);
    void enqueueBatch(Peer& p, const HaRecordBuffer& records, bool bulk, uint32_t bulk_id,
                      std::vector<DeferRef> tokens);
    void checkWindow(Peer& p, uint64_t now_us);
    void flushLive(uint64_t now_us);
    void flushLive(Peer& p, uint64_t now_us);
    /// The live peers a record of `s` goes to (targeted: its owner and
    /// backup owner among them).
    uint16_t recordTargets(const Session& s) const;
    void flushBulk(Peer& p);
    void finishBulkIfDone(Peer& p, uint64_t now_us);
    void onBulkEvent(const WorkerEvent& ev, uint64_t now_us);
    void acceptSequenced(NodeId from, uint64_t stream, uint64_t seq, InboundBody&& body,
                         uint64_t now_us);
    bool applyInbound(Peer& p, uint64_t now_us);
    bool applyBatch(Peer& p, Inbound& in, uint64_t now_us);
    void sendNack(Peer& p, uint64_t stream, uint64_t from, uint64_t now_us);
    bool sendAck(Peer& p);
    void onAcked(NodeId from, const OutMessage& m);
    void releaseToken(DeferEntry& e, HaCounter why);
    void expireTokens(uint64_t now_us);
    bool drainBacklogs();
    void updateRates(Peer& p, uint64_t now_us);

    const ReplicationOptions options_;
    std::vector<WorkerChannel*> workers_;
    WorkerMap worker_map_;  // options_.worker_map, or software over workers_
    std::vector<std::deque<AgentCommand>> backlog_;  // per worker, behind a full ring
    HaOutbox& outbox_;
    HaCounters& counters_;
    const uint64_t stream_seed_;
    std::vector<Peer> peers_;
    uint16_t replica_targets_ = 0;
    uint32_t next_bulk_id_ = 0;

    std::deque<DeferEntry> defer_queue_;
    std::unordered_map<uint64_t, DeferEntry*> defer_index_;

    std::vector<NodeId> bulk_progress_, bulks_received_;
};

}  // namespace tandem
