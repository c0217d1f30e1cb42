// Whether a device's RSS hash provably covers a received frame's flow: the
// check that lets a worker keep a frame its queue received, without parsing
// it to find its worker (core/worker_map.h, rss steering).
//
// A device programmed with the symmetric key hashes a TCP or UDP packet by
// its addresses and ports, and its queue is then exactly the worker
// WorkerMap::workerOf names for the packet's flow. That holds only where the
// device and the firewall see the same flow: a plain TCP or UDP packet. It
// does not hold for a fragment (devices hash fragments by their addresses,
// the firewall keys the datagram by its ports), an ICMP error (the firewall
// keys it by the embedded header), a tunnel the firewall terminates (keyed
// by the inner packet), or where a device's parsing is not known to reach
// the ports (VLAN tags, IPv4 options, IPv6 extension headers). Those, and
// everything else, answer false and go through Pipeline::workerFor.
//
// Reads at most the first 58 bytes; never outside [frame, frame + len).
// Thread-safety: a pure function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/packet_parser.h"

namespace tandem {

/// True when `frame` is an untagged Ethernet frame carrying a TCP or UDP
/// header directly over IPv4 (a 20-byte header, not a fragment) or IPv6 (no
/// extension header), and not a UDP tunnel that `opts` decapsulates.
inline bool rssCoversFrame(const uint8_t* frame, size_t len, const ParseOptions& opts) {
    constexpr size_t kEth = 14;
    if (len < kEth + 20 + 4) return false;
    const uint16_t ethertype = uint16_t(frame[12] << 8 | frame[13]);
    size_t l4 = 0;
    uint8_t proto = 0;
    if (ethertype == 0x0800) {
        const uint8_t* ip = frame + kEth;
        // Version 4, no options; flags and offset: neither more-fragments
        // nor an offset (the don't-fragment bit may be set).
        if (ip[0] != 0x45 || (uint16_t(ip[6] << 8 | ip[7]) & 0x3fff) != 0) return false;
        proto = ip[9];
        l4 = kEth + 20;
    } else if (ethertype == 0x86dd) {
        if (len < kEth + 40 + 4 || (frame[kEth] >> 4) != 6) return false;
        proto = frame[kEth + 6];
        l4 = kEth + 40;
    } else {
        return false;
    }
    if (proto == 6) return true;
    if (proto != 17) return false;
    const uint16_t dport = uint16_t(frame[l4 + 2] << 8 | frame[l4 + 3]);
    return !((opts.geneve_port && dport == opts.geneve_port) ||
             (opts.vxlan_port && dport == opts.vxlan_port));
}

}  // namespace tandem
