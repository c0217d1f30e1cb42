// programRss (dataplane/port_rss.h) on a real DPDK port: DPDK's net_null
// driver keeps the RSS key and redirection table it is given and reads
// them back, as a NIC does (it hashes nothing: what reaches its queues is
// not tested here). The table must read back entry i -> queueOfEntry(i) and
// the key the symmetric one; a table the device refuses fails the check.
#include "dataplane/port_rss.h"

#include <doctest/doctest.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/unit/dataplane/test_eal.h"

using namespace tandem;

namespace {

constexpr unsigned kQueues = 3;

// One EAL per process (test_eal.h), one null port.
uint16_t nullPort() {
    static const int port = [] {
        if (!test::startTestEal("tandem_port_rss_test", "net_null0,no-rx=1")) return -1;
        uint16_t id = 0;
        if (rte_eth_dev_get_port_by_name("net_null0", &id) != 0) return -1;
        rte_mempool* pool =
            rte_pktmbuf_pool_create("port_rss_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        rte_eth_dev_info info;
        if (!pool || rte_eth_dev_info_get(id, &info) != 0) return -1;
        rte_eth_conf conf{};
        uint8_t key[kRssKeyBytes];
        configureRss(WorkerMap::rss(kQueues, info.reta_size), info, kQueues, key, &conf);
        if (rte_eth_dev_configure(id, kQueues, kQueues, &conf) != 0) return -1;
        for (uint16_t q = 0; q < kQueues; ++q) {
            if (rte_eth_rx_queue_setup(id, q, 64, 0, nullptr, pool) != 0 ||
                rte_eth_tx_queue_setup(id, q, 64, 0, nullptr) != 0)
                return -1;
        }
        return rte_eth_dev_start(id) == 0 ? int(id) : -1;
    }();
    REQUIRE_MESSAGE(port >= 0, "cannot start DPDK with a net_null port");
    return uint16_t(port);
}

uint16_t retaSizeOf(uint16_t id) {
    rte_eth_dev_info info;
    REQUIRE(rte_eth_dev_info_get(id, &info) == 0);
    REQUIRE(info.reta_size > 0);
    return info.reta_size;
}

}  // namespace

TEST_CASE("a port's redirection table and symmetric key are programmed and read back") {
    const uint16_t id = nullPort();
    const uint16_t size = retaSizeOf(id);
    // The map's table may be smaller than the port's: entries repeat.
    const WorkerMap map = WorkerMap::rss(kQueues, size / 2);
    std::string why;
    CHECK_MESSAGE(programRss(id, map, &why), why);
    std::vector<rte_eth_rss_reta_entry64> reta((size + 63) / 64);
    for (auto& g : reta) g.mask = ~uint64_t(0);
    REQUIRE(rte_eth_dev_rss_reta_query(id, reta.data(), size) == 0);
    uint32_t wrong = 0;
    for (uint16_t i = 0; i < size; ++i) {
        wrong += reta[i / 64].reta[i % 64] != (i % (size / 2)) % kQueues;
    }
    CHECK(wrong == 0);
    uint8_t key[kRssKeyBytes] = {};
    rte_eth_rss_conf conf{};
    conf.rss_key = key;
    conf.rss_key_len = uint8_t(kRssKeyBytes);
    REQUIRE(rte_eth_dev_rss_hash_conf_get(id, &conf) == 0);
    CHECK(std::equal(key, key + kRssKeyBytes, kSymmetricRssKey.begin()));
}

TEST_CASE("a table the device refuses fails the check and says so") {
    // Queues the port does not have: DPDK refuses such a table.
    const uint16_t id = nullPort();
    std::string why;
    CHECK_FALSE(programRss(id, WorkerMap::rss(kQueues + 2, retaSizeOf(id)), &why));
    CHECK(why.find("the device refused its redirection table (" + std::to_string(retaSizeOf(id)) +
                   " entries)") == 0);
}
