// Packet parser: Ethernet (802.1Q / QinQ) → IPv4 / IPv6 → TCP / UDP / ICMP /
// ICMPv6, and the tunnels the firewall terminates (GENEVE, VXLAN).
//
// A pure function of a byte buffer: no allocation, no exceptions, no I/O,
// never reads outside [data, data + len). Malformed input yields a named
// ParseResult (each one a drop counter); `out` is then only partly filled.
// Safe to call from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/packet_info.h"

namespace tandem {

struct ParseOptions {
    /// Decapsulate GENEVE on this UDP destination port (0 disables).
    uint16_t geneve_port = 0;
    /// Require the three AWS Gateway Load Balancer options in GENEVE frames.
    bool require_gwlb_options = false;
    /// Decapsulate VXLAN on this UDP destination port (0 disables).
    uint16_t vxlan_port = 0;
};

/// Parses one Ethernet frame. Returns ParseResult::ok for an IP packet whose
/// headers are all consistent, ParseResult::non_ip for frames the firewall
/// passes without inspection (ARP, LLDP, ...), an error reason otherwise.
/// A GENEVE or VXLAN tunnel enabled in `opts` is decapsulated once: `out`
/// then describes the inner packet and `out.tunnel` the encapsulation. Only
/// the first 65535 bytes of the buffer are looked at (offsets are 16-bit).
/// The checks behind each result are listed in src/packet/README.md.
ParseResult parseFrame(const uint8_t* data, size_t len, const ParseOptions& opts, PacketInfo& out);

/// Parses a bare IP packet (no Ethernet header), e.g. the inner packet of a
/// GENEVE frame from a Gateway Load Balancer. `out` offsets are relative to
/// `data`.
/// The version nibble picks the family: 6 is IPv6, anything else goes
/// through the IPv4 checks (an empty buffer is truncated_ipv4, version 5 is
/// bad_ipv4_version). l2_len is 0 and ethertype names the family.
ParseResult parseIpPacket(const uint8_t* data, size_t len, const ParseOptions& opts,
                          PacketInfo& out);

}  // namespace tandem
