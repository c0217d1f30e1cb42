// The fields of `show high-availability state`, defined once: one table per
// status object (the local node, each peer, each peer's replication stream,
// the cluster settings and view); proto/status_fields.h says what is built
// from a table. Here: the getters are in ha/ha_status.cpp, the shell's blocks
// in cli/ha_renderer.cpp, the metrics in src/daemon/metrics_page.cpp, the
// docs check in tests/unit/ha/ha_status_test.cpp.
//
// Field names are pinned like the control protocol's: never rename or reuse
// one.
//
// Thread-safety: immutable tables.
#pragma once

#include "proto/status_fields.h"

namespace tandem::status {

// X(id, path, type, help, metric, metric kind, scale): see status_fields.h.

/// "local": this node.
#define TANDEM_HA_LOCAL_FIELDS(X)                                                                 \
    X(id, "id", integer, "This node's id, 1..16.", "", none, 1)                                   \
    X(name, "name", text, "This node's name.", "", none, 1)                                       \
    X(state, "state", node_state, "This node's HA state.", "tandem_node_state", gauge, 1)         \
    X(ready, "ready", boolean,                                                                    \
      "true when this node is active, its links are up, every peer is paired and alive, and "     \
      "the bulk sync with every peer is done (acknowledged by the peer, and none from it "        \
      "still arriving): the one field a script starting a node waits for.",                       \
      "tandem_ha_ready", gauge, 1)                                                                \
    X(primary, "primary", boolean, "true when this node is the pair's primary.",                  \
      "tandem_node_primary", gauge, 1)                                                            \
    X(priority, "priority", integer, "[ha] priority: the lower value wins the primary role.", "", \
      none, 1)                                                                                    \
    X(operator_suspended, "operator_suspended", boolean,                                          \
      "true after `request high-availability suspend`, until `functional`.", "", none, 1)         \
    X(links_ok, "links_ok", boolean, "true while every monitored data link is up.", "", none, 1)  \
    X(policy_hash, "policy_hash", text,                                                           \
      "The hash of the policy in force (16 hex digits; it changes with a policy reload).", "",    \
      none, 1)                                                                                    \
    X(transition_from, "last_transition.from", node_state,                                        \
      "The state before the last transition.", "", none, 1)                                       \
    X(transition_to, "last_transition.to", node_state, "The state the last transition entered.",  \
      "", none, 1)                                                                                \
    X(transition_cause, "last_transition.cause", text, "Why the last transition happened.", "",   \
      none, 1)                                                                                    \
    X(transition_ago_ms, "last_transition.ago_ms", integer,                                       \
      "Milliseconds since the last transition.", "tandem_node_state_last_change_seconds", gauge,  \
      0.001)

/// "peers[]": each configured peer, as this node sees it.
#define TANDEM_HA_PEER_FIELDS(X)                                                                  \
    X(id, "id", integer, "The peer's node id.", "", none, 1)                                      \
    X(name, "name", text, "The peer's name.", "", none, 1)                                        \
    X(state, "state", node_state, "The peer's state, as it announced it.", "tandem_peer_state",   \
      gauge, 1)                                                                                   \
    X(alive, "alive", boolean, "true while the peer is paired and heard within the hold time.",   \
      "tandem_peer_alive", gauge, 1)                                                              \
    X(paired, "paired", boolean, "true once the peer's HELLO passed the pre-flight check.", "",   \
      none, 1)                                                                                    \
    X(refused, "refused", text,                                                                   \
      "Why the pre-flight check refused the peer; empty when it did "                             \
      "not.",                                                                                     \
      "", none, 1)                                                                                \
    X(control_link, "control_link", boolean,                                                      \
      "true while the peer is heard on the HA channels within the hold time.",                    \
      "tandem_peer_control_link_up", gauge, 1)                                                    \
    X(peer_link, "peer_link", boolean,                                                            \
      "true while the peer is heard on the peer link within the hold time.",                      \
      "tandem_peer_link_up", gauge, 1)                                                            \
    X(last_heard_ms, "last_heard_ms", integer,                                                    \
      "Milliseconds since anything was heard from the peer; -1 when never.",                      \
      "tandem_peer_last_heard_seconds", gauge, 0.001)                                             \
    X(down_ms, "down_ms", integer,                                                                \
      "Milliseconds since this node declared the peer dead; -1 while it is alive or was never "   \
      "declared dead.",                                                                           \
      "", none, 1)                                                                                \
    X(priority, "priority", integer, "The peer's [ha] priority.", "", none, 1)                    \
    X(primary, "primary", boolean, "true when the peer is the pair's primary.", "", none, 1)      \
    X(software_version, "software_version", text, "The peer's tandemd version.", "", none, 1)     \
    X(peer_link_mtu, "peer_link_mtu", integer, "The MTU of the peer's peer-link port.", "", none, \
      1)                                                                                          \
    X(policy_hash, "policy_hash", text,                                                           \
      "The hash of the peer's policy, as its HELLO and heartbeats say; empty until known.", "",   \
      none, 1)                                                                                    \
    X(policy_matches, "policy_matches", boolean,                                                  \
      "false while the peer runs another policy than this node (a reload not done on every "      \
      "node): its sessions are decided by other rules.",                                          \
      "tandem_peer_policy_matches", gauge, 1)

/// "sync[]": the replication stream with each peer.
#define TANDEM_HA_SYNC_FIELDS(X)                                                                  \
    X(peer, "peer", integer, "The peer's node id.", "", none, 1)                                  \
    X(up, "up", boolean, "true while the sync stream to the peer is up.", "tandem_ha_sync_up",    \
      gauge, 1)                                                                                   \
    X(tx_seq, "tx_seq", integer, "Last sequence number sent to the peer.",                        \
      "tandem_ha_sync_tx_sequence", gauge, 1)                                                     \
    X(acked_seq, "acked_seq", integer, "Last sequence number the peer acknowledged.",             \
      "tandem_ha_sync_acked_sequence", gauge, 1)                                                  \
    X(lag_ms, "lag_ms", integer,                                                                  \
      "Age in milliseconds of the oldest message the peer has not acknowledged (0 when none).",   \
      "tandem_ha_sync_lag_seconds", gauge, 0.001)                                                 \
    X(window_messages, "window_messages", integer, "Messages sent and not yet acknowledged.",     \
      "tandem_ha_sync_window_messages", gauge, 1)                                                 \
    X(window_bytes, "window_bytes", integer, "Bytes sent and not yet acknowledged.",              \
      "tandem_ha_sync_window_bytes", gauge, 1)                                                    \
    X(resends, "resends", integer, "Sync messages sent to the peer again.",                       \
      "tandem_ha_sync_resends_total", counter, 1)                                                 \
    X(acks, "acks", integer, "Acknowledgements from the peer.",                                   \
      "tandem_ha_sync_acks_received_total", counter, 1)                                           \
    X(nacks, "nacks", integer, "Negative acknowledgements from the peer.",                        \
      "tandem_ha_sync_nacks_received_total", counter, 1)                                          \
    X(bytes_tx, "bytes_tx", integer, "Sync bytes sent to the peer.",                              \
      "tandem_ha_sync_bytes_sent_total", counter, 1)                                              \
    X(records_tx, "records_tx", integer, "Session records sent to the peer.",                     \
      "tandem_ha_sync_records_sent_total", counter, 1)                                            \
    X(records_rx, "records_rx", integer, "Session records received from the peer.",               \
      "tandem_ha_sync_records_received_total", counter, 1)                                        \
    X(records_tx_per_s, "records_tx_per_s", number, "Session records sent per second, lately.",   \
      "", none, 1)                                                                                \
    X(records_rx_per_s, "records_rx_per_s", number,                                               \
      "Session records received per second, lately.", "", none, 1)                                \
    X(rx_applied_seq, "rx_applied_seq", integer, "Last sequence number applied from the peer.",   \
      "tandem_ha_sync_rx_applied_sequence", gauge, 1)                                             \
    X(inbound_queued, "inbound_queued", integer,                                                  \
      "Messages from the peer received and not yet applied.", "", none, 1)                        \
    X(bulk_out_state, "bulk.out_state", text,                                                     \
      "The bulk sync towards the peer: idle, scanning, sent or waiting-retry.", "", none, 1)      \
    X(bulk_out_id, "bulk.out_id", integer, "The id of the bulk sync towards the peer.", "", none, \
      1)                                                                                          \
    X(bulk_sent, "bulk.sent", integer, "Records sent by the current bulk sync to the peer.",      \
      "tandem_ha_sync_bulk_sent_total", counter, 1)                                               \
    X(bulk_out_delivered, "bulk.out_delivered", boolean,                                          \
      "true once the peer acknowledged the whole bulk sync towards it.", "", none, 1)             \
    X(bulk_in_state, "bulk.in_state", text,                                                       \
      "The bulk sync from the peer: idle, receiving or complete.", "", none, 1)                   \
    X(bulk_received, "bulk.received", integer,                                                    \
      "Records received by the current bulk sync from the peer.",                                 \
      "tandem_ha_sync_bulk_received_total", counter, 1)                                           \
    X(bulk_expected, "bulk.expected", integer,                                                    \
      "Records the peer announced for its current bulk sync.", "", none, 1)

/// The top level: cluster settings, the published view, the agent's queues.
#define TANDEM_HA_CLUSTER_FIELDS(X)                                                                \
    X(session_owner, "session_owner", text, "[ha] session-owner: first-packet or primary.", "",    \
      none, 1)                                                                                     \
    X(revert, "revert", boolean, "[ha] revert.", "", none, 1)                                      \
    X(preempt, "preempt", boolean, "[ha] preempt.", "", none, 1)                                   \
    X(heartbeat_interval_ms, "timers.heartbeat_interval_ms", integer,                              \
      "[ha] heartbeat-interval-ms.", "", none, 1)                                                  \
    X(hold_time_ms, "timers.hold_time_ms", integer, "[ha] hold-time-ms.", "", none, 1)             \
    X(peer_link_detect_ms, "timers.peer_link_detect_ms", integer,                                  \
      "[ha] peer-link-detect-ms (0: off).", "", none, 1)                                           \
    X(view_owners, "view.owners", node_list,                                                       \
      "The nodes that may own sessions now (active and alive), this one included.", "", none, 1)   \
    X(view_reachable, "view.reachable", node_list,                                                 \
      "The nodes heard from lately on any path, this one included.", "", none, 1)                  \
    X(view_primary, "view.primary", integer, "The pair's primary node id; 0 when none.", "", none, \
      1)                                                                                           \
    X(view_replicate, "view.replicate", boolean, "true while sessions are replicated.", "", none,  \
      1)                                                                                           \
    X(view_epoch, "view.epoch", integer, "Counts the changes of the published view.", "", none, 1) \
    X(pending_defer_tokens, "pending_defer_tokens", integer,                                       \
      "First packets held until a peer acknowledges their session.",                               \
      "tandem_ha_pending_defer_tokens", gauge, 1)

enum class HaLocalField : uint8_t { TANDEM_HA_LOCAL_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
enum class HaPeerField : uint8_t { TANDEM_HA_PEER_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
enum class HaSyncField : uint8_t { TANDEM_HA_SYNC_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
enum class HaClusterField : uint8_t { TANDEM_HA_CLUSTER_FIELDS(TANDEM_STATUS_FIELD_ENUM) };

inline constexpr FieldDef kHaLocalFields[] = {TANDEM_HA_LOCAL_FIELDS(TANDEM_STATUS_FIELD_DEF)};
inline constexpr FieldDef kHaPeerFields[] = {TANDEM_HA_PEER_FIELDS(TANDEM_STATUS_FIELD_DEF)};
inline constexpr FieldDef kHaSyncFields[] = {TANDEM_HA_SYNC_FIELDS(TANDEM_STATUS_FIELD_DEF)};
inline constexpr FieldDef kHaClusterFields[] = {TANDEM_HA_CLUSTER_FIELDS(TANDEM_STATUS_FIELD_DEF)};

/// Where each table sits in the answer of `show high-availability state`.
inline constexpr StatusObject kHaStateObjects[] = {
    {"local", false, kHaLocalFields},
    {"peers", true, kHaPeerFields},
    {"sync", true, kHaSyncFields},
    {"", false, kHaClusterFields},
};

}  // namespace tandem::status
