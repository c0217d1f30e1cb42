#include "dataplane/packet_pool.h"

#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

namespace tandem {

bool driverCopiesFrames(std::string_view driver_name) {
    // Each reads or writes frames with the CPU: af_packet and pcap copy
    // between a buffer and a kernel ring or a capture, tap reads and
    // writes a kernel file, null and ring move no bytes at all.
    for (std::string_view copying :
         {"net_af_packet", "net_pcap", "net_tap", "net_null", "net_ring"})
        if (driver_name == copying) return true;
    return false;
}

const char* packetPoolLayoutName(PacketPoolLayout layout) {
    return layout == PacketPoolLayout::packed ? "packed" : "dma";
}

rte_mempool* createPacketPool(const char* name, unsigned buffers, unsigned cache,
                              uint16_t data_room, int socket, PacketPoolLayout layout) {
    if (layout == PacketPoolLayout::dma)
        return rte_pktmbuf_pool_create(name, buffers, cache, 0, data_room, socket);
    // rte_pktmbuf_pool_create()'s steps, with the one flag it does not
    // take: buffers need not be IO-contiguous, so none is kept from
    // crossing a page.
    rte_pktmbuf_pool_private priv{};
    priv.mbuf_data_room_size = data_room;
    priv.mbuf_priv_size = 0;
    rte_mempool* mp =
        rte_mempool_create_empty(name, buffers, unsigned(sizeof(rte_mbuf)) + data_room, cache,
                                 unsigned(sizeof priv), socket, RTE_MEMPOOL_F_NO_IOVA_CONTIG);
    if (!mp) return nullptr;
    int ret = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
    if (ret == 0) {
        rte_pktmbuf_pool_init(mp, &priv);
        ret = rte_mempool_populate_default(mp);
    }
    if (ret < 0) {
        rte_mempool_free(mp);
        rte_errno = -ret;
        return nullptr;
    }
    rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
    return mp;
}

}  // namespace tandem
