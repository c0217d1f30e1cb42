// Address translation of one IPv4 packet in place: its source or its
// destination address and port replaced, every checksum that covers them
// updated incrementally (RFC 1624), nothing else touched. Pure functions
// over byte buffers, for the per-packet path (docs/nat.md).
#pragma once

#include <cstdint>

#include "packet/packet_info.h"

namespace tandem {

/// Which end of the packet is translated.
enum class NatEnd : uint8_t { source, destination };

/// Rewrites `end`'s address to `addr` (IPv4, host order) and, when the
/// packet carries its ports (TCP, UDP; an ICMP echo's identifier stands in
/// for both), its port to `port`, in `frame`, parsed into `info` (IPv4,
/// not a tunnel). The IP header checksum and the TCP or UDP checksum (its
/// pseudo header holds the addresses) follow; a UDP datagram sent without
/// a checksum (0) keeps none. A later fragment carries no ports: only its
/// address changes; a first fragment's L4 checksum still follows the
/// address and port (it covers the whole datagram, so the other fragments
/// need nothing more). Returns false, changing nothing, when the packet is
/// not IPv4 or is tunnelled.
bool natRewrite(uint8_t* frame, const PacketInfo& info, NatEnd end, uint32_t addr, uint16_t port);

/// Translates an ICMPv4 error (`info.icmp_is_error`) about a translated
/// flow as the packet it quotes: the quoted packet's `quoted` end gets
/// `addr` and, for a quoted TCP or UDP packet or ICMP echo, `port`; the
/// outer packet's opposite end (its destination when the quoted source
/// changes: the error goes back to the quoted packet's sender) gets `addr`
/// too when it held the quoted address (a host of the translated end that
/// answered itself; a router's own address is kept). Checksums follow: the
/// outer IP header, the quoted IP header, the quoted TCP or UDP checksum
/// when the quote holds it (an ICMP echo's, which covers its message
/// only), and the ICMP checksum over all of it. Returns false, changing
/// nothing, when the packet is no IPv4 ICMP error or quotes no IPv4 header
/// and 8 bytes beyond it.
bool natRewriteIcmpError(uint8_t* frame, const PacketInfo& info, NatEnd quoted, uint32_t addr,
                         uint16_t port);

}  // namespace tandem
