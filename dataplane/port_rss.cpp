#include "dataplane/port_rss.h"

#include <rte_errno.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace tandem {
namespace {

// The flows a worker keeps without parsing (packet/rss_coverage.h).
constexpr uint64_t kNeededFlows = RTE_ETH_RSS_NONFRAG_IPV4_TCP | RTE_ETH_RSS_NONFRAG_IPV4_UDP |
                                  RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;

std::string errorText(int rc) {
    return rte_strerror(rc < 0 ? -rc : rc);
}

}  // namespace

PortRssCapability rssCapabilityOf(const std::string& name, const std::string& device,
                                  const rte_eth_dev_info& info) {
    PortRssCapability c;
    c.name = name;
    c.device = device;
    c.hash_key_size = info.hash_key_size;
    c.reta_size = info.reta_size;
    const uint64_t f = info.flow_type_rss_offloads;
    c.flows = uint8_t((f & RTE_ETH_RSS_NONFRAG_IPV4_TCP ? kRssIpv4Tcp : 0) |
                      (f & RTE_ETH_RSS_NONFRAG_IPV4_UDP ? kRssIpv4Udp : 0) |
                      (f & RTE_ETH_RSS_NONFRAG_IPV6_TCP ? kRssIpv6Tcp : 0) |
                      (f & RTE_ETH_RSS_NONFRAG_IPV6_UDP ? kRssIpv6Udp : 0));
    // DPDK 22.11 names no hash function in its device info: a key that the
    // ethdev API sets is a Toeplitz key (rte_eth_rss_conf), so a device that
    // takes one hashes with Toeplitz. programRss() checks what it did.
    c.toeplitz = info.hash_key_size > 0;
    return c;
}

void configureRss(const WorkerMap& map, const rte_eth_dev_info& info, unsigned queues,
                  uint8_t (&key)[kRssKeyBytes], rte_eth_conf* conf) {
    const uint64_t offered =
        info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    if (queues <= 1 || offered == 0) return;
    conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf->rx_adv_conf.rss_conf.rss_hf = offered;
    if (map.steering() != Steering::rss) return;
    std::memcpy(key, kSymmetricRssKey.data(), kRssKeyBytes);
    conf->rx_adv_conf.rss_conf.rss_key = key;
    conf->rx_adv_conf.rss_conf.rss_key_len = uint8_t(kRssKeyBytes);
    // Some drivers (ENA) answer for their table and key only when the
    // application asked for the hash in the packet buffers.
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_RSS_HASH)
        conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH;
}

bool programRss(uint16_t id, const WorkerMap& map, std::string* why) {
    rte_eth_dev_info info;
    if (rte_eth_dev_info_get(id, &info) != 0 || info.reta_size == 0) {
        *why = "cannot read its redirection table's size";
        return false;
    }
    // The key again, now that the port runs: a driver that only took it at
    // configure keeps it; one that cannot set a key says so here (ENA
    // falls back to a random key silently at configure).
    uint8_t key[kRssKeyBytes];
    std::memcpy(key, kSymmetricRssKey.data(), kRssKeyBytes);
    rte_eth_rss_conf rss{};
    rss.rss_key = key;
    rss.rss_key_len = uint8_t(kRssKeyBytes);
    rss.rss_hf = info.flow_type_rss_offloads & (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP);
    int rc = rte_eth_dev_rss_hash_update(id, &rss);
    if (rc != 0 && rc != -ENOTSUP) {
        *why = "the device refused the symmetric RSS key: " + errorText(rc);
        return false;
    }
    const uint16_t size = info.reta_size;
    const size_t groups = (size + RTE_ETH_RETA_GROUP_SIZE - 1) / RTE_ETH_RETA_GROUP_SIZE;
    std::vector<rte_eth_rss_reta_entry64> reta(groups);
    for (uint16_t i = 0; i < size; ++i) {
        auto& g = reta[i / RTE_ETH_RETA_GROUP_SIZE];
        g.mask |= uint64_t(1) << (i % RTE_ETH_RETA_GROUP_SIZE);
        g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = uint16_t(map.queueOfEntry(i));
    }
    rc = rte_eth_dev_rss_reta_update(id, reta.data(), size);
    if (rc != 0) {
        *why = "the device refused its redirection table (" + std::to_string(size) +
               " entries): " + errorText(rc);
        return false;
    }
    // Read everything back: a device that accepted a setting without
    // applying it must not leave a worker keeping another worker's flows.
    std::vector<rte_eth_rss_reta_entry64> back(groups);
    for (uint16_t i = 0; i < size; ++i) {
        auto& g = back[i / RTE_ETH_RETA_GROUP_SIZE];
        g.mask |= uint64_t(1) << (i % RTE_ETH_RETA_GROUP_SIZE);
        g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = UINT16_MAX;
    }
    rc = rte_eth_dev_rss_reta_query(id, back.data(), size);
    if (rc != 0) {
        *why = "cannot read its redirection table back: " + errorText(rc);
        return false;
    }
    for (uint16_t i = 0; i < size; ++i) {
        const uint16_t q = back[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE];
        if (q != map.queueOfEntry(i)) {
            *why = "its redirection table reads back entry " + std::to_string(i) + " -> queue " +
                   std::to_string(q) + ", not " + std::to_string(map.queueOfEntry(i));
            return false;
        }
    }
    uint8_t got[kRssKeyBytes] = {};
    rte_eth_rss_conf now{};
    now.rss_key = got;
    now.rss_key_len = uint8_t(kRssKeyBytes);
    rc = rte_eth_dev_rss_hash_conf_get(id, &now);
    if (rc != 0) {
        *why = "cannot read its RSS key back: " + errorText(rc);
        return false;
    }
    if (std::memcmp(got, kSymmetricRssKey.data(), kRssKeyBytes) != 0) {
        *why = "its RSS key reads back other than the symmetric key it was given";
        return false;
    }
    if ((now.rss_hf & kNeededFlows) != kNeededFlows) {
        char hf[24];
        std::snprintf(hf, sizeof hf, "%llx", static_cast<unsigned long long>(now.rss_hf));
        *why = std::string("it does not hash TCP and UDP over IPv4 and IPv6 (rss_hf 0x") + hf + ")";
        return false;
    }
    return true;
}

}  // namespace tandem
