// Every outcome of the per-packet path, as a named counter (one table).
#pragma once

#include "core/counters.h"

namespace tandem {

#define TANDEM_PIPELINE_COUNTERS(X)                                                                \
    X(rx_packets, "frames received")                                                               \
    X(rx_bytes, "bytes received")                                                                  \
    X(forwarded, "frames sent on (session or pass-through)")                                       \
    X(passed_non_ip, "non-IP frames (ARP, LLDP, ...) passed without inspection")                   \
    X(passed_neighbor_discovery, "ICMPv6 neighbour discovery / MLD passed without a session")      \
    X(dropped_malformed, "frames dropped because a header is malformed (see parse counters)")      \
    X(dropped_policy, "first packets denied by the policy")                                        \
    X(dropped_no_session, "TCP segments that cannot start a session and have none")                \
    X(dropped_tcp_invalid_flags, "TCP segments with impossible flag combinations")                 \
    X(dropped_tcp_invalid_state, "TCP segments not allowed in their connection's state")           \
    X(dropped_tcp_out_of_window, "TCP segments outside the tracked sequence window")               \
    X(dropped_table_full, "new sessions refused because the session table is full")                \
    X(embryonic_short_timeouts,                                                                    \
      "embryonic TCP sessions created with the short timeout: the table was under pressure")       \
    X(dropped_icmp_error_no_session, "ICMP errors about a flow with no session")                   \
    X(dropped_fragment_no_head,                                                                    \
      "later fragments sent after their first fragment, which is not known here (cache "           \
      "overwritten)")                                                                              \
    X(dropped_fragment_denied, "later fragments of a datagram whose first fragment was dropped")   \
    X(dropped_no_route, "frames from a port with no egress in this mode")                          \
    X(icmp_errors_forwarded, "ICMP errors forwarded to the session they refer to")                 \
    X(fragments_forwarded, "later fragments forwarded after their first fragment")                 \
    X(fragments_to_owner, "fragments sent to their datagram's fragment owner over the peer link")  \
    X(fragments_followed, "later fragments sent to the node their first fragment went to")         \
    X(fragments_held, "later fragments that came before their first fragment, held for it")        \
    X(sessions_created, "sessions created by this node")                                           \
    X(sessions_reopened, "TCP sessions restarted by a new SYN in time-wait / close")               \
    X(sessions_expired, "sessions removed by idle timeout")                                        \
    X(tunnel_frames, "GENEVE / VXLAN frames decapsulated and inspected")                           \
    X(health_check_segments,                                                                       \
      "GENEVE mode: segments to the health-check address and port (answered by the node)")         \
    X(dropped_not_tunnel, "GENEVE mode: IP frames that are neither GENEVE nor a health check")     \
    X(forwarded_to_peer, "frames sent to the owning node over the peer link")                      \
    X(forwarded_new_to_peer, "first packets sent to the node that will own the flow")              \
    X(forwarded_unsynced_to_peer,                                                                  \
      "mid-stream packets with no session sent to the one live peer while its sync channel is "    \
      "down")                                                                                      \
    X(received_from_peer, "frames a peer forwarded to this node over the peer link")               \
    X(forwarded_to_director,                                                                       \
      "packets with no session here that cannot start one, sent to their flow's director")         \
    X(forwarded_via_director, "packets sent here as the flow's director, passed on to the owner")  \
    X(owner_cache_hits,                                                                            \
      "packets with no session here sent straight to the owner a director named before")           \
    X(owner_cache_misses,                                                                          \
      "packets with no session here whose owner was not remembered: to the director")              \
    X(returned_by_director,                                                                        \
      "packets sent here as the flow's director, of a flow nobody owns: back to the sender to "    \
      "decide")                                                                                    \
    X(awaiting_owner,                                                                              \
      "packets of a flow this node has just become the director of, its session not here yet: "    \
      "held until the owner sends it or the membership change settles")                            \
    X(awaiting_replica,                                                                            \
      "replies with no session here that this node would hold a copy of: held until it arrives "   \
      "or a second passes (their owner released the first packet before the copy was "             \
      "acknowledged)")                                                                             \
    X(dropped_forward_loop, "forwarded frames this node does not own either (views disagree)")     \
    X(dropped_no_owner, "frames no active node may own (no active member)")                        \
    X(deferred_first_packets, "first packets held until the backup owner has the session")         \
    X(sessions_adopted, "sessions taken over from an owner that is gone")                          \
    X(sessions_ended_by_policy,                                                                    \
      "sessions a policy reload ended: the new policy denies them (re-evaluate on)")               \
    X(sessions_rule_changed,                                                                       \
      "sessions a policy reload kept under another rule (its index or name changed)")              \
    X(sessions_not_reevaluated,                                                                    \
      "sessions a policy reload could not match: ingress port not known (from an older peer)")     \
    X(sessions_rule_retired,                                                                       \
      "sessions a policy reload kept although the new policy denies them (re-evaluate off)")       \
    X(sessions_rebacked,                                                                           \
      "sessions of this node given a new backup owner (theirs left, or a member joined)")          \
    X(stand_in_packets,                                                                            \
      "packets carried for a session whose owner of record forwarded them here (ownership "        \
      "changing hands)")                                                                           \
    X(sessions_given, "sessions handed to another node (revert, suspend)")                         \
    X(claims_overruled,                                                                            \
      "records naming another owner of a session this node owns, older than its own: that owner "  \
      "was sent this node's record")                                                               \
    X(sessions_yielded,                                                                            \
      "sessions of this node that another node also owned, whose claim won (each took it for the " \
      "other dead: a partition healed)")                                                           \
    X(transfers_abandoned,                                                                         \
      "hand-overs not done: the target stayed unable to own sessions in this node's view")         \
    X(replicas_installed, "session replicas received from peers and installed")                    \
    X(replicas_removed, "session replicas removed at their owner's request")                       \
    X(replicas_expired, "replicas dropped after their owner left without adopting them")           \
    X(replicas_dropped_full, "replicas not installed because the table is full")                   \
    X(replicas_dropped_peer_limit,                                                                 \
      "replicas not installed: their owner already holds 15/16 of the table")                      \
    X(replicas_stale, "replicas ignored because a newer version is installed")                     \
    X(replicas_replaced_finished,                                                                  \
      "records of finished TCP connections replaced by a new connection's on the same ports")      \
    X(replicas_not_kept,                                                                           \
      "session records not kept: this node is neither their owner nor their backup owner "         \
      "(cluster)")                                                                                 \
    X(jobs_refused, "table-wide jobs (bulk scans, transfers, scans) refused: all job slots busy")  \
    X(events_dropped, "session changes not replicated because the ring to the HA agent was full")  \
    X(app_identified_tls, "sessions whose TLS ClientHello named a server (SNI)")                   \
    X(app_identified_http, "sessions whose HTTP request named a Host")                             \
    X(app_identified_dns, "DNS queries whose name was read")                                       \
    X(app_unidentified, "sessions an app rule waited for whose first payload named nothing")       \
    X(app_malformed, "first payloads that began as TLS, HTTP or DNS but were broken")              \
    X(app_gave_up, "sessions whose first payload did not name the application within bounds")      \
    X(app_names_full, "identified sessions whose name found no free slot (decided, not kept)")     \
    X(app_streams_full, "split first payloads not read: every stream buffer was in use")           \
    X(sessions_denied_by_app, "sessions an app rule denied once their application was known")      \
    X(dropped_app_denied, "packets of sessions an app rule denied (the one that told, and after)") \
    X(tcp_resets_to_sender,                                                                        \
      "TCP resets written back to the sender of a segment a reset rule denied")                    \
    X(tcp_resets_to_receiver,                                                                      \
      "segments a reset rule denied in an open connection, sent on to their receiver as resets")   \
    X(sessions_translated, "new sessions a snat rule gave a pool address and port")                \
    X(dropped_nat_exhausted, "first packets dropped: their snat pool had no port left")            \
    X(nat_replies_translated,                                                                      \
      "replies of translated sessions put back: to the client (snat), from the address the "       \
      "client sent to (dnat)")                                                                     \
    X(nat_no_translation,                                                                          \
      "packets to a pool address:port that no session holds (or from another end), left as is")    \
    X(nat_icmp_errors_translated,                                                                  \
      "ICMP errors about a translated session translated as the packet they quote")                \
    X(nat_replies_to_port_owner,                                                                   \
      "packets to a pool address:port no session here holds, sent to the node whose block it is")  \
    X(nat_replies_to_port_heir,                                                                    \
      "... of them, sent to the block's heir while its owner is dead (it holds the copies)")       \
    X(nat_ports_off_heir,                                                                          \
      "translated sessions given a port of a block whose heir is not their backup owner (none "    \
      "free)")                                                                                     \
    X(nat_fragments_translated,                                                                    \
      "later fragments of a translated datagram given its first fragment's new address")           \
    X(nat_blocks_reassigned,                                                                       \
      "times the NAT port blocks were reassigned: members left for good, or came back")            \
    X(nat_replica_port_taken,                                                                      \
      "replicated translations whose address:port another session here holds (not indexed)")       \
    X(nat_replica_unknown_pool,                                                                    \
      "replicated translations to an address in no pool of this node (configs differ)")            \
    X(traffic_log_dropped, "traffic log records lost because the ring to the logger was full")

TANDEM_COUNTER_ENUM(PipelineCounter, TANDEM_PIPELINE_COUNTERS)

}  // namespace tandem
