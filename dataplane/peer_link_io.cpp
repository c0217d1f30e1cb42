// The peer link's outer headers, for both transports (raw Ethernet, or
// IPv4/UDP), and the udp transport's next-hop resolution: answering ARP for
// this node's peer-link address and asking for the peers' (or the
// gateway's) MAC addresses at a bounded rate. Per packet: no allocation, no
// lock, no syscall; ARP requests take one mbuf each, a few per second.
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <cstring>

#include "dataplane/dataplane_impl.h"
#include "proto/arp.h"

namespace tandem {
namespace {

// While a next hop is unknown, ask again this often; once known, refresh it
// this often (a replaced peer or router answers with its new MAC).
constexpr uint32_t kArpRetryMs = 100;
constexpr uint32_t kArpRefreshMs = 5000;
constexpr uint16_t kEthernetMinFrame = 60;

uint64_t packMac(const std::array<uint8_t, 6>& mac) {
    uint64_t v = 0;
    for (uint8_t b : mac) v = v << 8 | b;
    return v | PeerLinkNeighbours::kKnown;
}

std::array<uint8_t, 6> unpackMac(uint64_t v) {
    std::array<uint8_t, 6> mac;
    for (int i = 5; i >= 0; --i, v >>= 8) mac[size_t(i)] = uint8_t(v);
    return mac;
}

std::array<uint8_t, 6> macOf(const rte_ether_addr& a) {
    std::array<uint8_t, 6> mac;
    std::memcpy(mac.data(), a.addr_bytes, 6);
    return mac;
}

// Ethernet frames shorter than the minimum are padded with zeros.
bool padToMinimum(rte_mbuf* m) {
    const uint16_t len = rte_pktmbuf_data_len(m);
    if (len >= kEthernetMinFrame) return true;
    auto* pad =
        reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(kEthernetMinFrame - len)));
    if (!pad) return false;
    std::memset(pad, 0, kEthernetMinFrame - len);
    return true;
}

}  // namespace

size_t Dataplane::Impl::peerLinkOverhead() const {
    return peerLinkOverheadOf(spec.peer_link.udp);
}

unsigned Dataplane::Impl::neighbourSlot(NodeId peer) const {
    return spec.peer_link.gateway_ip ? PeerLinkNeighbours::kGatewaySlot : peer;
}

bool Dataplane::Impl::prependPeerLinkHeaders(Worker& w, rte_mbuf* m, const PeerLinkHeader& hdr) {
    const PeerLinkSpec& pl = spec.peer_link;
    uint64_t next_hop = 0;
    if (pl.udp) {
        next_hop = neighbours.mac[neighbourSlot(hdr.to)].load(std::memory_order_acquire);
        if (!(next_hop & PeerLinkNeighbours::kKnown)) {
            w.peer_link_arp_counters.inc(PeerLinkArpCounter::tx_no_neighbour);
            return false;
        }
    }
    PeerLinkHeader h = hdr;
    if (pl.auth) {
        // Room for the trailer after the payload (the payload is all of m).
        if (!rte_pktmbuf_append(m, uint16_t(kPeerLinkAuthTrailerSize))) {
            w.counters.inc(WorkerCounter::peer_link_no_headroom);
            return false;
        }
        h.flags |= kPeerLinkFlagAuthenticated;
    }
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, uint16_t(peerLinkOverhead())));
    if (!p) {
        w.counters.inc(WorkerCounter::peer_link_no_headroom);
        return false;
    }
    uint8_t* header;
    if (pl.udp) {
        PeerLinkUdpRoute route;
        route.dst_mac = unpackMac(next_hop);
        route.src_mac = macOf(peer_port_mac);
        route.src = pl.listen;
        route.dst = pl.peer_addr[h.to];
        encodePeerLinkUdpFrame(route, h, p);
        header = p + kPeerLinkUdpHeadersSize;
    } else {
        std::memcpy(p, pl.peer_mac[h.to].data(), 6);
        std::memcpy(p + 6, peer_port_mac.addr_bytes, 6);
        p[12] = uint8_t(kPeerLinkEtherType >> 8);
        p[13] = uint8_t(kPeerLinkEtherType);
        encodePeerLinkHeader(h, p + 14);
        header = p + 14;
    }
    if (pl.auth) {
        const uint64_t seq = peer_link_seq.fetch_add(1, std::memory_order_relaxed);
        sealPeerLinkFrame(peer_link_ciphers[h.to], header, h.payload_len, peer_link_salt, seq);
    }
    if (!pl.udp && !padToMinimum(m)) {
        w.counters.inc(WorkerCounter::peer_link_no_headroom);
        return false;
    }
    return true;
}

PeerLinkResult Dataplane::Impl::decodePeerLinkReceived(Worker& w, const uint8_t* frame, size_t len,
                                                       PeerLinkHeader* h) const {
    return checkPeerLinkFrame(peer_rx, w.replay.data(), frame, len, h);
}

// ARP on a udp peer link: learn a next hop from its reply to our request
// (arpTeachesNeighbour), answer requests for our own address in the same
// buffer. Returns false if `m` is not ARP (the caller goes on with it); true
// if it was taken.
bool Dataplane::Impl::takePeerLinkArp(Worker& w, rte_mbuf* m, uint32_t now) {
    const PeerLinkSpec& pl = spec.peer_link;
    if (!pl.udp) return false;
    auto* data = rte_pktmbuf_mtod(m, uint8_t*);
    const uint16_t len = rte_pktmbuf_data_len(m);
    if (len < 14 || (data[12] << 8 | data[13]) != kEtherTypeArp) return false;
    PeerLinkArpCounters& c = w.peer_link_arp_counters;
    ArpMessage msg;
    if (!decodeArp(data, len, &msg)) {
        c.inc(PeerLinkArpCounter::arp_malformed);
        rte_pktmbuf_free(m);
        return true;
    }
    bool useful = false;
    bool unsolicited = false;
    if (msg.sender_ip != 0) {
        const std::array<uint8_t, 6> own = macOf(peer_port_mac);
        for (unsigned slot = 0; slot <= kMaxNodes; ++slot) {
            const uint32_t ip =
                slot == PeerLinkNeighbours::kGatewaySlot
                    ? pl.gateway_ip
                    : ((pl.known_peers & nodeBit(NodeId(slot))) ? pl.peer_addr[slot].ip : 0);
            if (ip == 0 || ip != msg.sender_ip) continue;
            const bool asked = now - neighbours.asked_ms[slot].load(std::memory_order_relaxed) <
                               kArpAnswerWindowMs;
            if (!arpTeachesNeighbour(msg, ip, pl.listen.ip, own, asked)) {
                unsolicited = true;
                continue;
            }
            const uint64_t v = packMac(msg.sender_mac);
            if (neighbours.mac[slot].exchange(v, std::memory_order_acq_rel) != v) {
                c.inc(PeerLinkArpCounter::arp_neighbour_changed);
            }
            useful = true;
        }
        if (useful) c.inc(PeerLinkArpCounter::arp_from_neighbours);
    }
    const bool for_us = msg.op == ArpOp::request && msg.target_ip == pl.listen.ip;
    if (unsolicited && !useful && !for_us) c.inc(PeerLinkArpCounter::arp_unsolicited);
    if (msg.op == ArpOp::request && msg.target_ip == pl.listen.ip && msg.sender_ip != 0) {
        encodeArp(arpReply(msg, macOf(peer_port_mac), pl.listen.ip), msg.sender_mac, data);
        rte_pktmbuf_trim(m, uint16_t(len - kArpFrameSize));
        if (padToMinimum(m)) {
            c.inc(PeerLinkArpCounter::arp_requests_answered);
            transmit(w, peer_port_id, &m, 1, true);
            return true;
        }
    } else if (!useful && !unsolicited) {
        c.inc(PeerLinkArpCounter::arp_ignored);
    }
    rte_pktmbuf_free(m);
    return true;
}

// Worker 0 keeps the next hops resolved: a request while one is unknown
// (every kArpRetryMs), and a refresh now and then once known.
void Dataplane::Impl::resolvePeerLinkNeighbours(Worker& w, uint32_t now) {
    const PeerLinkSpec& pl = spec.peer_link;
    if (!pl.udp || w.index != 0) return;
    for (unsigned slot = 0; slot <= kMaxNodes; ++slot) {
        uint32_t ip = 0;
        if (pl.gateway_ip) {
            if (slot == PeerLinkNeighbours::kGatewaySlot) ip = pl.gateway_ip;
        } else if (slot != PeerLinkNeighbours::kGatewaySlot &&
                   (pl.known_peers & nodeBit(NodeId(slot)))) {
            ip = pl.peer_addr[slot].ip;
        }
        if (ip == 0 || int32_t(now - neighbours.next_request_ms[slot]) < 0) continue;
        const bool known =
            neighbours.mac[slot].load(std::memory_order_relaxed) & PeerLinkNeighbours::kKnown;
        neighbours.next_request_ms[slot] = now + (known ? kArpRefreshMs : kArpRetryMs);
        neighbours.asked_ms[slot].store(now, std::memory_order_relaxed);
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (!m) continue;
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, kEthernetMinFrame));
        if (!p) {
            rte_pktmbuf_free(m);
            continue;
        }
        std::memset(p, 0, kEthernetMinFrame);
        encodeArp(arpRequest(macOf(peer_port_mac), pl.listen.ip, ip), kBroadcastMac, p);
        w.peer_link_arp_counters.inc(PeerLinkArpCounter::arp_requests_sent);
        transmit(w, peer_port_id, &m, 1, true);
    }
}

}  // namespace tandem
