// Counters of the worker loop itself (I/O, not packet decisions).
#pragma once

#include "core/counters.h"

namespace tandem {

#define TANDEM_WORKER_COUNTERS(X)                                                                \
    X(rx_bursts, "non-empty receive bursts")                                                     \
    X(tx_packets, "frames handed to a port for transmission")                                    \
    X(tx_dropped, "frames a port could not take (TX queue full), freed")                         \
    X(dropped_own_frames,                                                                        \
      "frames the host's own stack sent on a data port (seen by a kernel-shared port), not "     \
      "transit traffic")                                                                         \
    X(dropped_multi_segment, "frames spread over several buffers (larger than the buffer size)") \
    X(idle_sleeps, "times the worker slept because every queue was empty")                       \
    X(peer_link_tx, "frames sent on the peer link (forwarded, heartbeats, ARP)")                 \
    X(peer_link_tx_dropped, "frames for the peer link that could not be sent")                   \
    X(peer_link_no_headroom,                                                                     \
      "frames without the buffer room for the peer-link headers (or padding)")                   \
    X(peer_link_unknown_peer, "frames for a node with no peer-link address")                     \
    X(egress_via_peer,                                                                           \
      "processed frames returned to the forwarding node: egress neighbour not learned yet")      \
    X(egress_for_peer, "frames a peer processed and returned, sent out of this node's port")     \
    X(heartbeats_sent, "heartbeats sent on the peer link")                                       \
    X(heartbeats_received, "heartbeats received on the peer link")                               \
    X(owner_hints_sent, "owner hints sent: a forwarder is told who owns a flow it sent here")    \
    X(owner_hints_received, "owner hints from a flow's director, kept in the owner cache")       \
    X(owner_hints_bad, "owner hints not understood (bad owner id) or with no owner cache here")  \
    X(deferred_parked, "first packets parked until the HA agent released them")                  \
    X(deferred_released, "parked first packets released by acknowledgement")                     \
    X(deferred_expired, "parked first packets sent after the safety deadline")                   \
    X(deferred_overflow, "first packets sent at once because the parking area was full")         \
    X(fragments_released, "held fragments sent on once their first fragment was decided")        \
    X(fragments_hold_expired,                                                                    \
      "held fragments whose first fragment did not come in time (reassembly timeout), freed")    \
    X(fragments_hold_full,                                                                       \
      "fragments that found the hold full (too many fragments waiting), freed")                  \
    X(owner_wait_released,                                                                       \
      "packets held for their session, decided again: it came, or the change settled")           \
    X(owner_wait_expired,                                                                        \
      "packets held for their session until their wait was over, decided as if they had not "    \
      "waited")                                                                                  \
    X(owner_wait_full, "packets to hold for their owner that found the wait full, freed")        \
    X(handoff_out, "frames passed to the worker that holds their flow")                          \
    X(handoff_in, "frames another worker passed here")                                           \
    X(handoff_dropped, "frames for another worker whose ring was full, freed")                   \
    X(commands_applied, "commands from the HA agent applied")                                    \
    X(events_lost, "events for the HA agent lost because its ring was full")                     \
    X(tcp_resets_sent, "TCP resets of reset rules sent back to a sender")                        \
    X(tcp_resets_unsent,                                                                         \
      "TCP resets of reset rules not sent: no buffer, or the sender's neighbour not known here")

TANDEM_COUNTER_ENUM(WorkerCounter, TANDEM_WORKER_COUNTERS)

// The udp peer link's next-hop resolution (ARP on the peer-link port).
#define TANDEM_PEER_LINK_ARP_COUNTERS(X)                                                      \
    X(arp_requests_answered, "ARP requests for this node's peer-link address answered")       \
    X(arp_requests_sent, "ARP requests sent for a peer's (or the gateway's) MAC")             \
    X(arp_from_neighbours, "ARP messages from a peer or the gateway, MAC taken")              \
    X(arp_neighbour_changed, "a peer's or the gateway's MAC learned or changed")              \
    X(arp_ignored, "ARP messages neither for this node nor from a peer or gateway")           \
    X(arp_unsolicited,                                                                        \
      "ARP messages naming a peer's or the gateway's address that answer no request of this " \
      "node's: not learned")                                                                  \
    X(arp_malformed, "ARP frames that are not IPv4-over-Ethernet requests or replies")        \
    X(tx_no_neighbour, "frames for a peer whose next hop's MAC is not known yet, dropped")

TANDEM_COUNTER_ENUM(PeerLinkArpCounter, TANDEM_PEER_LINK_ARP_COUNTERS)

}  // namespace tandem
