// The worker a node with N workers and software steering gives each flow
// (core/worker_map.h): bench_e2e.py --presplit puts each flow's frames on
// its worker's queue, as a device with RSS would, so that no frame crosses
// between workers.
//
//   flow_workers N < tuples     one "SRC DST SPORT DPORT PROTO" per line
//                               (IPv4 addresses as host-order integers);
//                               prints each one's worker, a line each
#include <cstdio>
#include <cstdlib>

#include "core/flow_key.h"
#include "core/worker_map.h"

using namespace tandem;

int main(int argc, char** argv) {
    if (argc != 2 || std::atoi(argv[1]) < 1) {
        std::fprintf(stderr, "usage: flow_workers WORKERS < tuples\n");
        return 2;
    }
    const WorkerMap map = WorkerMap::software(uint32_t(std::atoi(argv[1])));
    unsigned long src = 0, dst = 0;
    unsigned sport = 0, dport = 0, proto = 0;
    while (std::scanf("%lu %lu %u %u %u", &src, &dst, &sport, &dport, &proto) == 5) {
        FlowKey key;
        const uint64_t hash = buildFlowKey(
            IpAddr::fromV4(uint32_t(src)), IpAddr::fromV4(uint32_t(dst)), uint16_t(sport),
            uint16_t(dport), uint8_t(proto), AddrFamily::v4, 0, &key, nullptr);
        std::printf("%u\n", map.workerOf(key, hash));
    }
    return 0;
}
