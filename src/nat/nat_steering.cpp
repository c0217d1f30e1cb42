#include "nat/nat_steering.h"

namespace tandem {

namespace {

// The worker of the block that addr:port is a port of, if it is one.
bool poolWorker(const NatSetup& nat, uint32_t members, uint32_t workers, uint32_t addr,
                uint16_t port, uint32_t* worker) {
    for (const NatPool& p : nat.pools) {
        if (const std::optional<uint32_t> b = natBlockOf(p.spec, addr, port)) {
            *worker = natBlockWorker(*b, members, workers);
            return true;
        }
    }
    return false;
}

}  // namespace

uint32_t flowWorker(const WorkerMap& map, const NatSetup* nat, const FlowKey& key, uint64_t hash) {
    if (!nat || map.workers() <= 1 || key.family != AddrFamily::v4) return map.workerOf(key, hash);
    const uint32_t members = uint32_t(__builtin_popcount(nat->members));
    uint32_t a = key.lo.v4(), b = key.hi.v4();
    uint16_t pa = key.lo_port, pb = key.hi_port;
    uint32_t w = 0;
    if (poolWorker(*nat, members, map.workers(), a, pa, &w) ||
        poolWorker(*nat, members, map.workers(), b, pb, &w))
        return w;
    if (!nat->rules || !nat->rules->hasDnat()) return map.workerOf(key, hash);
    bool moved = false;
    // An ICMP echo's identifier is both of its ports: a 1:1 rule keeps it.
    if (const std::optional<DnatPublic> pub = nat->rules->publicOf(key.proto, a, pa)) {
        a = pub->addr;
        if (pub->port) pa = pub->port;
        moved = true;
    }
    if (const std::optional<DnatPublic> pub = nat->rules->publicOf(key.proto, b, pb)) {
        b = pub->addr;
        if (pub->port) pb = pub->port;
        moved = true;
    }
    if (!moved) return map.workerOf(key, hash);
    FlowKey k;
    const uint64_t h = buildFlowKey(IpAddr::fromV4(a), IpAddr::fromV4(b), pa, pb, key.proto,
                                    key.family, key.context, &k, nullptr);
    return map.workerOf(k, h);
}

bool natSteersAddresses(const NatSetup& nat, uint32_t a, uint32_t b) {
    for (const NatPool& p : nat.pools) {
        if ((a >= p.spec.first_addr && a <= p.spec.last_addr) ||
            (b >= p.spec.first_addr && b <= p.spec.last_addr))
            return true;
    }
    return nat.rules && (nat.rules->isTargetAddress(a) || nat.rules->isTargetAddress(b));
}

std::string natSteeringText(const WorkerMap& map) {
    std::string s = std::to_string(map.workers()) + (map.workers() == 1 ? " worker" : " workers");
    if (map.workers() <= 1) return s;
    s += std::string(", ") + steeringName(map.steering()) + " steering";
    if (map.steering() == Steering::rss)
        s += " over " + std::to_string(map.retaSize()) + " entries";
    return s;
}

}  // namespace tandem
