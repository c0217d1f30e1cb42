// The packet buffer pool's layouts (dataplane/packet_pool.h) on a real
// DPDK EAL without hugepages, as the labs and the benchmarks run it: where
// DPDK's usual pool puts every buffer, where a packed one does, and that
// a packed pool's buffers hold whole frames of their own and go through a
// port of a copying driver (net_null).
#include "dataplane/packet_pool.h"

#include <doctest/doctest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "tests/unit/dataplane/test_eal.h"

using namespace tandem;

namespace {

constexpr unsigned kBuffers = 1023;
constexpr uint16_t kRoom = RTE_PKTMBUF_HEADROOM + 2048;  // a 1500-byte port's (packetDataRoom)

// One EAL per process (test_eal.h), one null port.
uint16_t nullPort() {
    static const int port = [] {
        if (!test::startTestEal("tandem_packet_pool_test", "net_null0")) return -1;
        uint16_t id = 0;
        return rte_eth_dev_get_port_by_name("net_null0", &id) == 0 ? int(id) : -1;
    }();
    REQUIRE_MESSAGE(port >= 0, "cannot start DPDK with a net_null port");
    return uint16_t(port);
}

// Where a pool's buffers lie: the 64-byte line of its page that each
// buffer's header and first frame byte start in, and the span of memory.
struct Layout {
    std::map<uintptr_t, unsigned> header_lines;  // line -> buffers
    std::map<uintptr_t, unsigned> frame_lines;
    uintptr_t lowest = UINTPTR_MAX, highest = 0;
    unsigned buffers = 0;
};

// The share of the buffers in the line most of them use.
double busiest(const std::map<uintptr_t, unsigned>& lines, unsigned buffers) {
    unsigned most = 0;
    for (const auto& [line, n] : lines) most = std::max(most, n);
    return double(most) / buffers;
}

Layout layoutOf(rte_mempool* mp) {
    Layout l;
    rte_mempool_obj_iter(
        mp,
        [](rte_mempool*, void* arg, void* obj, unsigned) {
            auto& out = *static_cast<Layout*>(arg);
            auto* m = static_cast<rte_mbuf*>(obj);
            const auto header = reinterpret_cast<uintptr_t>(m);
            const auto frame = reinterpret_cast<uintptr_t>(m->buf_addr) + m->data_off;
            ++out.header_lines[header % 4096 / 64];
            ++out.frame_lines[frame % 4096 / 64];
            out.lowest = std::min(out.lowest, header);
            out.highest = std::max(out.highest, header);
            ++out.buffers;
        },
        &l);
    return l;
}

}  // namespace

TEST_CASE("a packed pool only where no device writes into the buffers") {
    for (const char* copying : {"net_af_packet", "net_pcap", "net_tap", "net_null", "net_ring"})
        CHECK_MESSAGE(driverCopiesFrames(copying), copying);
    // Devices that DMA frames (EC2's ENA, SR-IOV VFs, virtio, AF_XDP's
    // shared memory), and anything not known to copy.
    for (const char* dma : {"net_ena", "net_ixgbe_vf", "net_iavf", "net_virtio", "net_virtio_user",
                            "net_af_xdp", "net_mlx5", "", "net_pcap_"})
        CHECK_MESSAGE(!driverCopiesFrames(dma), dma);
    CHECK(packetPoolLayout(false, true) == PacketPoolLayout::packed);
    CHECK(packetPoolLayout(true, true) == PacketPoolLayout::dma);
    CHECK(packetPoolLayout(false, false) == PacketPoolLayout::dma);
    CHECK(packetPoolLayout(true, false) == PacketPoolLayout::dma);
}

TEST_CASE("without hugepages DPDK's pool gives every buffer a page, a packed one spreads them") {
    nullPort();
    REQUIRE(rte_eal_has_hugepages() == 0);
    rte_mempool* dma = createPacketPool("pool_dma", kBuffers, 0, kRoom, 0, PacketPoolLayout::dma);
    rte_mempool* packed =
        createPacketPool("pool_packed", kBuffers, 0, kRoom, 0, PacketPoolLayout::packed);
    REQUIRE(dma != nullptr);
    REQUIRE(packed != nullptr);
    const Layout d = layoutOf(dma), p = layoutOf(packed);
    CHECK(d.buffers == kBuffers);
    CHECK(p.buffers == kBuffers);
    const double d_bytes = double(d.highest - d.lowest) / (d.buffers - 1);
    const double p_bytes = double(p.highest - p.lowest) / (p.buffers - 1);
    MESSAGE("bytes a buffer: dma " << d_bytes << ", packed " << p_bytes << "; header lines "
                                   << d.header_lines.size() << " / " << p.header_lines.size());
    // The usual pool: a page a buffer (the first may start inside one), and
    // nearly every header in one line of its page, every frame in another.
    CHECK(d_bytes > 4000);
    CHECK(busiest(d.header_lines, d.buffers) > 0.99);
    CHECK(busiest(d.frame_lines, d.buffers) > 0.99);
    // Packed: back to back, the headers and the frames spread evenly over
    // (nearly) every line of a page.
    CHECK(p_bytes < 2600);
    CHECK(p.header_lines.size() >= 56);
    CHECK(p.frame_lines.size() >= 56);
    CHECK(busiest(p.header_lines, p.buffers) < 0.03);
    CHECK(busiest(p.frame_lines, p.buffers) < 0.03);
    rte_mempool_free(dma);
    rte_mempool_free(packed);
}

TEST_CASE("a packed pool's buffers each hold a whole frame and go through a copying driver") {
    const uint16_t port = nullPort();
    rte_mempool* mp =
        createPacketPool("pool_frames", kBuffers, 32, kRoom, 0, PacketPoolLayout::packed);
    REQUIRE(mp != nullptr);
    // Every buffer at once, each filled to its 2048 bytes with a pattern of
    // its own: no two overlap.
    std::vector<rte_mbuf*> all(kBuffers);
    REQUIRE(rte_pktmbuf_alloc_bulk(mp, all.data(), kBuffers) == 0);
    for (unsigned i = 0; i < kBuffers; ++i) {
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(all[i], 2048));
        REQUIRE(p != nullptr);
        for (unsigned b = 0; b < 2048; ++b) p[b] = uint8_t(i * 7 + b);
    }
    unsigned intact = 0;
    for (unsigned i = 0; i < kBuffers; ++i) {
        const auto* p = rte_pktmbuf_mtod(all[i], const uint8_t*);
        bool same = true;
        for (unsigned b = 0; b < 2048; ++b) same = same && p[b] == uint8_t(i * 7 + b);
        intact += same;
    }
    CHECK(intact == kBuffers);
    rte_pktmbuf_free_bulk(all.data(), kBuffers);
    CHECK(rte_mempool_avail_count(mp) == kBuffers);

    // A null port receives into the pool's buffers and transmits them
    // (freeing them back), as a node's ports do.
    rte_eth_conf conf{};
    REQUIRE(rte_eth_dev_configure(port, 1, 1, &conf) == 0);
    REQUIRE(rte_eth_rx_queue_setup(port, 0, 64, 0, nullptr, mp) == 0);
    REQUIRE(rte_eth_tx_queue_setup(port, 0, 64, 0, nullptr) == 0);
    REQUIRE(rte_eth_dev_start(port) == 0);
    uint64_t moved = 0;
    rte_mbuf* burst[32];
    for (int round = 0; round < 100; ++round) {
        const uint16_t n = rte_eth_rx_burst(port, 0, burst, 32);
        for (uint16_t i = 0; i < n; ++i)
            std::memset(rte_pktmbuf_mtod(burst[i], uint8_t*), 0xab, 64);
        const uint16_t sent = rte_eth_tx_burst(port, 0, burst, n);
        for (uint16_t i = sent; i < n; ++i) rte_pktmbuf_free(burst[i]);
        moved += sent;
    }
    CHECK(moved == 100u * 32u);
    REQUIRE(rte_eth_dev_stop(port) == 0);
    CHECK(rte_mempool_avail_count(mp) == kBuffers);  // every buffer back
}
