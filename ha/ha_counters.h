// HaCounter: every outcome the HA agent counts, declared once (names are
// stable: they appear in `show counters`, the status JSON and the docs).
//
// Thread-safety: the agent thread is the only writer; any thread may read
// (CounterBlock, core/counters.h).
#pragma once

#include "core/counters.h"

namespace tandem {

#define TANDEM_HA_COUNTERS(X)                                                                      \
    X(msgs_tx, "HA messages handed to the transport")                                              \
    X(msgs_rx, "HA messages received and accepted")                                                \
    X(bytes_tx, "bytes of HA messages sent")                                                       \
    X(bytes_rx, "bytes of HA messages received")                                                   \
    X(send_refused, "messages the transport could not take (peer down, queue full)")               \
    X(decode_rejected, "received messages rejected by the decoder (see decode counters)")          \
    X(wrong_version_rx, "messages from a peer speaking another protocol version")                  \
    X(unknown_peer, "messages from a node id that is not a configured peer")                       \
    X(identity_mismatch, "messages whose connection names another node than the sender")           \
    X(auth_id_mismatch, "messages whose sender id differs from the node its key proves")           \
    X(unpaired_drop, "sync messages from a peer that has not passed the pre-flight check")         \
    X(hello_tx, "HELLO messages sent")                                                             \
    X(hello_rx, "HELLO messages received")                                                         \
    X(preflight_refused, "HELLOs refused: the peer's config or version is incompatible")           \
    X(policy_mismatch, "times a peer was found running another policy (hash) than this node")      \
    X(heartbeat_tx, "heartbeats sent on the control channel")                                      \
    X(heartbeat_rx, "heartbeats received on the control channel")                                  \
    X(peer_link_hb_tx, "peer-link heartbeats handed to a worker")                                  \
    X(peer_link_hb_rx, "peer-link heartbeats reported by workers")                                 \
    X(peer_link_hb_bad, "peer-link heartbeats from unknown nodes or with bad states")              \
    X(peer_up, "peers that became alive")                                                          \
    X(peer_down, "peers declared dead (nothing heard on any path for the hold time)")              \
    X(peer_down_closed,                                                                            \
      "of those, declared before the hold time: their HA connection closed and nothing was heard " \
      "for two heartbeat intervals")                                                               \
    X(peer_down_detected,                                                                          \
      "of those, declared before the hold time by peer-link-detect-ms: the peer link was up and "  \
      "both paths fell silent for that long")                                                      \
    X(own_stalls,                                                                                  \
      "times this node did not run for a quarter of the hold time or more: its peers' silence in " \
      "that time was not held against them")                                                       \
    X(peer_restart, "peers seen with a new incarnation (restarted)")                               \
    X(state_transitions, "state changes of this node")                                             \
    X(views_published, "cluster views published to the workers")                                   \
    X(events_rx, "worker events drained from the rings")                                           \
    X(records_tx, "session records sent (all peers)")                                              \
    X(records_rx, "session records received and handed to workers")                                \
    X(records_rejected,                                                                            \
      "session records dropped on receipt: key out of order, no state or a window scale over 14")  \
    X(records_acked, "session records a peer acknowledged (applied there; all peers)")             \
    X(batches_tx, "session batches built (live and bulk)")                                         \
    X(batches_rx, "session batches received in order")                                             \
    X(acks_tx, "acknowledgements sent")                                                            \
    X(acks_rx, "acknowledgements received")                                                        \
    X(nacks_tx, "negative acknowledgements sent (a gap was seen)")                                 \
    X(nacks_rx, "negative acknowledgements received")                                              \
    X(resends, "messages sent again (nack or ack timeout)")                                        \
    X(ack_timeouts, "go-back-N because the oldest message waited too long for its ack")            \
    X(duplicates_rx, "sync messages received twice (already applied)")                             \
    X(out_of_order_rx, "sync messages received ahead of a gap (dropped, nacked)")                  \
    X(stale_stream_rx, "sync messages or acks of a stream that was replaced")                      \
    X(inbound_full, "in-order sync messages dropped: the apply queue was full")                    \
    X(unrepairable_gaps, "gaps the resend window no longer covered (bulk resync)")                 \
    X(window_overflow, "resend windows that outgrew their limit (stream reset, bulk)")             \
    X(resync_requests_tx, "RESYNC_REQUESTs sent")                                                  \
    X(resync_requests_rx, "RESYNC_REQUESTs received")                                              \
    X(bulk_started, "bulk syncs started towards a peer")                                           \
    X(bulk_completed, "bulk syncs sent completely (BULK_END queued)")                              \
    X(bulk_aborted, "bulk syncs abandoned (peer gone, restarted, superseded)")                     \
    X(bulk_received, "bulk syncs received completely")                                             \
    X(bulk_records_tx, "session records sent by bulk syncs")                                       \
    X(bulk_records_rx, "session records received by bulk syncs")                                   \
    X(bulk_timeouts, "peers whose bulk sync did not complete in time (tentative ended)")           \
    X(members_not_found,                                                                           \
      "members the peers reported alive that this node could not pair with before it went active") \
    X(bulk_stale_events, "bulk events of a scan that is no longer wanted")                         \
    X(defer_tokens, "deferred first packets waiting for a peer's acknowledgement")                 \
    X(defer_released, "deferred packets released by an acknowledgement")                           \
    X(defer_timeouts, "deferred packets released by the safety timeout")                           \
    X(defer_released_alone, "deferred packets released at once: no peer takes replicas")           \
    X(command_ring_full, "commands that waited because a worker's ring was full")                  \
    X(apply_ring_full, "replicas that waited because a worker's ring was full")                    \
    X(records_no_worker, "received records dropped: no worker to apply them")                      \
    X(revert_transfers, "give-back transfers sent to workers (revert)")                            \
    X(handover_transfers, "hand-over transfers sent to workers (suspend, non-functional)")         \
    X(member_left_scans, "scans sent to workers to adopt a dead or restarted peer's sessions")     \
    X(rebalance_scans,                                                                             \
      "scans sent to workers to re-elect backup owners after the members that may own changed")    \
    X(ownership_notices_rx, "OWNERSHIP notices received")

TANDEM_COUNTER_ENUM(HaCounter, TANDEM_HA_COUNTERS)

using HaCounters = CounterBlock<HaCounter, kHaCounterCount>;

}  // namespace tandem
