// The packet buffer pool: one per node, shared by every port and worker.
//
// DPDK lays a pool out for devices that write frames into the buffers by
// DMA: a buffer must then be contiguous in IO addresses, and without
// hugepages (EAL's --no-huge, 4 KiB pages) no buffer may cross a page. A
// buffer of a 1500-byte port is ~2.3 KiB (header, headroom, 2 KiB of data),
// so each gets a 4 KiB page of its own, and every buffer's header and frame
// start at the same offset in their pages. Those few 64-byte lines are the
// only L1 sets any buffer's header or first frame line can use (8 ways
// each), so a burst of 32 frames keeps evicting itself between the
// receive, the pipeline's stages and the transmit.
//
// Drivers that copy each frame in software (af_packet, pcap, tap, null,
// ring) never hand a buffer's address to a device, so they need no such
// contiguity. When every port is on one of them and there are no hugepages,
// the pool is *packed*: buffers follow each other across page boundaries,
// their offsets spread over every L1 set, and a buffer takes ~2.3 KiB
// instead of 4 KiB. With hugepages, or any port on a device that DMAs, the
// pool is DPDK's usual one.
#pragma once

#include <cstdint>
#include <string_view>

struct rte_mempool;

namespace tandem {

/// True for a DPDK driver (rte_eth_dev_info::driver_name) that moves frames
/// in and out of packet buffers by copying them in software, never by a
/// device's DMA: such a port works with a packed pool.
bool driverCopiesFrames(std::string_view driver_name);

enum class PacketPoolLayout : uint8_t {
    dma,     ///< DPDK's default: IO-contiguous buffers, as devices need
    packed,  ///< buffers back to back across pages (copying drivers only)
};

/// The layout a node's pool takes: packed only without hugepages and when
/// every port's driver copies frames.
constexpr PacketPoolLayout packetPoolLayout(bool hugepages, bool all_ports_copy) {
    return !hugepages && all_ports_copy ? PacketPoolLayout::packed : PacketPoolLayout::dma;
}

const char* packetPoolLayoutName(PacketPoolLayout layout);

/// Creates a pool of `buffers` packet buffers with `data_room` bytes each
/// (headroom included), `cache` of them per lcore, on `socket`, in
/// `layout`. Returns nullptr with rte_errno set when DPDK refuses.
rte_mempool* createPacketPool(const char* name, unsigned buffers, unsigned cache,
                              uint16_t data_room, int socket, PacketPoolLayout layout);

}  // namespace tandem
