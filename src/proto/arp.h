// ARP for IPv4 over Ethernet (RFC 826), as far as the udp peer link needs it:
// the node answers for its own peer-link address and asks for its peers' (or
// its gateway's) MAC addresses on the peer-link port, because a network that
// carries only IP (EC2) leaves resolving the next hop to the host.
//
// Frame: Ethernet (14 bytes, EtherType 0x0806) + ARP (28 bytes): hardware
// type 1, protocol 0x0800, lengths 6 and 4, operation, sender MAC, sender IP,
// target MAC, target IP. Sent padded to the Ethernet minimum of 60 bytes.
// Addresses are IPv4 in host order. Pure, allocation-free functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tandem {

inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr size_t kArpFrameSize = 14 + 28;
inline constexpr size_t kArpFrameMinSize = 60;  ///< what is sent: padded to the Ethernet minimum

enum class ArpOp : uint16_t { request = 1, reply = 2 };

struct ArpMessage {
    ArpOp op = ArpOp::request;
    std::array<uint8_t, 6> sender_mac{};
    uint32_t sender_ip = 0;
    std::array<uint8_t, 6> target_mac{};
    uint32_t target_ip = 0;
};

/// Reads an Ethernet frame of `len` bytes as an ARP request or reply for
/// IPv4 over Ethernet. False (and *m untouched) for anything else: too
/// short, another EtherType, hardware or protocol type, address length or
/// operation.
bool decodeArp(const uint8_t* frame, size_t len, ArpMessage* m);

/// Writes an Ethernet + ARP frame (kArpFrameSize bytes) at `out`: Ethernet
/// source = m.sender_mac, destination = `eth_dst`.
void encodeArp(const ArpMessage& m, const std::array<uint8_t, 6>& eth_dst, uint8_t* out);

/// A request from (mac, ip) asking who has `target_ip` (sent to broadcast).
ArpMessage arpRequest(const std::array<uint8_t, 6>& mac, uint32_t ip, uint32_t target_ip);

/// The reply to `request` from the owner of its target address (mac, ip).
ArpMessage arpReply(const ArpMessage& request, const std::array<uint8_t, 6>& mac, uint32_t ip);

/// How long after asking for a neighbour's address its reply is taken.
inline constexpr uint32_t kArpAnswerWindowMs = 1000;

/// Whether ARP message `m` may set the MAC of the neighbour at
/// `neighbour_ip` (a peer, or the gateway): only a reply from that address
/// to this node's own request (target: this node's address and MAC) while
/// a request for it is outstanding (`asked_recently`). A request or an
/// unsolicited reply naming a neighbour's address teaches nothing: anyone
/// on the segment can send one.
bool arpTeachesNeighbour(const ArpMessage& m, uint32_t neighbour_ip, uint32_t own_ip,
                         const std::array<uint8_t, 6>& own_mac, bool asked_recently);

/// The Ethernet broadcast address.
inline constexpr std::array<uint8_t, 6> kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

}  // namespace tandem
