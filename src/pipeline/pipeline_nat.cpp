// Address translation on the pipeline's side (docs/nat.md): a new session a
// `snat` rule matches takes an address:port of its pool; its packets leave
// with that source; packets to that address:port are put back to the
// session's initiator before the lookup, which then finds the session as
// for any reply. The port goes back to the pool when the session goes,
// whatever removes it (SessionTable's release hook).
#include "packet/nat_rewrite.h"
#include "pipeline/pipeline.h"
#include "session/session_filter.h"

namespace tandem {

namespace {

constexpr uint8_t kNatSource = 1;  // NatBinding::kind

bool translatable(const PacketInfo& info) {
    return info.family == AddrFamily::v4 && info.tunnel.kind == TunnelKind::none &&
           (info.proto == kProtoTcp || info.proto == kProtoUdp ||
            (info.proto == kProtoIcmp && !info.icmp_is_error));
}

}  // namespace

void Pipeline::initNat() {
    if (!settings_.nat) return;
    for (const NatPool& pool : settings_.nat->pools) {
        NatPoolState st;
        st.map = std::make_unique<PortBlockMap>(pool.spec, nodeBit(settings_.node));
        st.ports = std::make_unique<NatPortAllocator>(*st.map);
        st.ports->setBlocks(st.map->blocksOf(settings_.node));
        st.ports_per_addr = uint32_t(pool.spec.port_hi) - pool.spec.port_lo + 1;
        st.replies.assign(
            size_t(pool.spec.last_addr - pool.spec.first_addr + 1) * st.ports_per_addr, 0);
        nat_pools_.push_back(std::move(st));
    }
    table_.setNatRelease(&Pipeline::releaseNat, this);
}

Pipeline::NatPoolState* Pipeline::natPoolOf(uint32_t addr) {
    for (NatPoolState& p : nat_pools_) {
        const NatPoolSpec& spec = p.map->pool();
        if (addr >= spec.first_addr && addr <= spec.last_addr) return &p;
    }
    return nullptr;
}

bool Pipeline::startNat(uint32_t index, const PolicyQuery& q, const PacketInfo& info) {
    const NatDecision d = settings_.nat->rules->match(q);
    if (d.action != NatAction::snat || !translatable(info)) return true;
    NatPoolState& pool = nat_pools_[d.pool];
    const std::optional<NatPortRef> got = pool.ports->allocate();
    if (!got) return false;
    table_.nat(index) = NatBinding{got->addr, got->port, kNatSource, 0};
    table_.at(index).flags |= kSessionNat;
    const NatPoolSpec& spec = pool.map->pool();
    pool.replies[size_t(got->addr - spec.first_addr) * pool.ports_per_addr +
                 (got->port - spec.port_lo)] = index + 1;
    counters_.inc(PipelineCounter::sessions_translated);
    return true;
}

void Pipeline::natOriginal(const Slot& s, uint32_t index) {
    const NatBinding& b = table_.nat(index);
    natRewrite(s.frame, s.info, NatEnd::source, b.addr, b.port);
}

void Pipeline::natReply(Slot& s) {
    PacketInfo& info = s.info;
    if (!translatable(info)) return;
    const uint32_t addr = info.dst.v4();
    NatPoolState* pool = natPoolOf(addr);
    if (!pool) return;
    const NatPoolSpec& spec = pool->map->pool();
    if (info.dport < spec.port_lo || info.dport > spec.port_hi) return;
    const uint32_t slot = pool->replies[size_t(addr - spec.first_addr) * pool->ports_per_addr +
                                        (info.dport - spec.port_lo)];
    if (slot == 0) {
        counters_.inc(PipelineCounter::nat_no_translation);
        return;
    }
    const uint32_t index = slot - 1;
    const Session& sess = table_.at(index);
    const SessionEndpoints e = endpointsOf(sess);
    // Only the other end of the translated session is put through.
    if (sess.key_proto != info.proto || !(info.src == e.dst) ||
        (info.proto != kProtoIcmp && info.sport != e.dport)) {
        counters_.inc(PipelineCounter::nat_no_translation);
        return;
    }
    natRewrite(s.frame, info, NatEnd::destination, e.src.v4(), e.sport);
    info.dst = e.src;
    info.dport = e.sport;
    if (info.proto == kProtoIcmp) info.sport = e.sport;  // an echo's identifier is both
    counters_.inc(PipelineCounter::nat_replies_translated);
}

void Pipeline::releaseNat(void* self, uint32_t index, const NatBinding& b) {
    auto* p = static_cast<Pipeline*>(self);
    NatPoolState* pool = p->natPoolOf(b.addr);
    if (!pool) return;
    const NatPoolSpec& spec = pool->map->pool();
    if (b.port < spec.port_lo || b.port > spec.port_hi) return;
    uint32_t& slot = pool->replies[size_t(b.addr - spec.first_addr) * pool->ports_per_addr +
                                   (b.port - spec.port_lo)];
    // Only the session that took the port here gives it back (a replica's
    // binding is its owner's).
    if (slot != index + 1) return;
    slot = 0;
    pool->ports->release(b.addr, b.port);
}

}  // namespace tandem
