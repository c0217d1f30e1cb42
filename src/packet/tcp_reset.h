// TCP resets for connections the policy denies (a rule's `reset`): one
// written back to the sender of a segment, and the segment itself turned
// into a reset for its receiver. Pure functions over byte buffers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "packet/packet_info.h"

namespace tandem {

/// The largest frame buildReverseReset() writes: Ethernet with two VLAN
/// tags, an IPv6 header, a TCP header without options.
inline constexpr size_t kMaxResetFrame = 14 + 8 + 40 + 20;

/// Writes to `out` (room for `cap` bytes) a reset answering the TCP segment
/// in `frame`, parsed into `info`: back to its sender, over the same
/// Ethernet and VLAN header with the MAC addresses swapped, IP and ports
/// swapped, no options, no payload. As RFC 793 answers a segment it does not
/// want: RST|ACK, sequence number the segment's acknowledgement (0 when it
/// has none), acknowledgement its sequence number plus its length (a SYN and
/// a FIN count one each), so the sender takes it in any state. Returns the
/// frame's length; 0 when there is none to write: not TCP, a reset itself,
/// a fragment, tunnelled (the sender is behind a load balancer that takes
/// back only what it sent), or no room.
size_t buildReverseReset(const uint8_t* frame, const PacketInfo& info, uint8_t* out, size_t cap);

/// Turns the TCP segment in `frame` (parsed into `info`) into a reset for
/// its receiver, in place: RST set, SYN, FIN and PSH cleared, ACK kept,
/// sequence number unchanged, so a receiver expecting exactly this segment
/// takes it. The payload stays (a reset may carry data, RFC 1122
/// 4.2.2.12): no length changes, and the checksum is updated incrementally,
/// which keeps a tunnel's outer checksum right as well.
void turnIntoReset(uint8_t* frame, const PacketInfo& info);

}  // namespace tandem
