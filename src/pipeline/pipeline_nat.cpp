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
constexpr uint8_t kNatDestination = 2;

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
        const uint16_t members = settings_.nat->members | nodeBit(settings_.node);
        st.map = std::make_unique<PortBlockMap>(pool.spec, members);
        st.ports = std::make_unique<NatPortAllocator>(*st.map);
        st.ports->setBlocks(natBlocksHere(*st.map));
        st.counters = std::make_unique<NatPoolCounters>();
        st.ports_per_addr = uint32_t(pool.spec.port_hi) - pool.spec.port_lo + 1;
        st.replies.assign(
            size_t(pool.spec.last_addr - pool.spec.first_addr + 1) * st.ports_per_addr, 0);
        natPublish(st);
        nat_pools_.push_back(std::move(st));
    }
    table_.setNatRelease(&Pipeline::releaseNat, this);
}

// The blocks this worker hands out now: its share of its node's.
std::vector<uint32_t> Pipeline::natBlocksHere(const PortBlockMap& map) const {
    return map.blocksOf(settings_.node, settings_.worker, settings_.workers);
}

void Pipeline::natPublish(NatPoolState& pool) {
    NatPoolCounters& c = *pool.counters;
    c.blocks_here.store(pool.ports->blockCount(), std::memory_order_relaxed);
    c.ports_here.store(pool.ports->capacity(), std::memory_order_relaxed);
    c.ports_in_use.store(pool.ports->used(), std::memory_order_relaxed);
}

void Pipeline::natDeparted(uint16_t departed) {
    if (!settings_.nat) return;
    for (NatPoolState& pool : nat_pools_) {
        pool.map->setDeparted(departed);
        pool.ports->setBlocksHeld(natBlocksHere(*pool.map));
        natPublish(pool);
    }
    counters_.inc(PipelineCounter::nat_blocks_reassigned);
    // One scan at a time: a change while one runs starts it again.
    for (Job& j : jobs_) {
        if (j.active && j.kind == AgentCommandKind::nat_departed) {
            j.cursor = 0;
            return;
        }
    }
    for (Job& j : jobs_) {
        if (j.active) continue;
        j = Job();
        j.kind = AgentCommandKind::nat_departed;
        j.active = true;
        return;
    }
    counters_.inc(PipelineCounter::jobs_refused);  // cannot happen: see kMaxJobs
    natUnhold();
}

void Pipeline::natMarkHeld(uint32_t index) {
    const NatBinding& b = table_.nat(index);
    if (b.kind != kNatSource) return;
    // markUsed() says false for ports of blocks not here, or marked already.
    if (NatPoolState* pool = natPoolOf(b.addr); pool && pool->ports->markUsed(b.addr, b.port))
        natPublish(*pool);
}

void Pipeline::natUnhold() {
    for (NatPoolState& pool : nat_pools_) pool.ports->unhold();
}

NatPoolUsage Pipeline::natPoolUsage(size_t i) const {
    const NatPoolState& pool = nat_pools_[i];
    const NatPoolCounters& c = *pool.counters;
    NatPoolUsage u;
    u.name = settings_.nat->pools[i].name;
    u.spec = pool.map->pool();
    u.blocks = pool.map->blocks();
    u.blocks_here = c.blocks_here.load(std::memory_order_relaxed);
    u.ports_here = c.ports_here.load(std::memory_order_relaxed);
    u.ports_in_use = c.ports_in_use.load(std::memory_order_relaxed);
    u.exhausted = c.exhausted.load(std::memory_order_relaxed);
    return u;
}

Pipeline::NatPoolState* Pipeline::natPoolOf(uint32_t addr) {
    for (NatPoolState& p : nat_pools_) {
        const NatPoolSpec& spec = p.map->pool();
        if (addr >= spec.first_addr && addr <= spec.last_addr) return &p;
    }
    return nullptr;
}

// The reply index's entry for a pool address and port, null when the
// address is in no pool or the port outside its range.
uint32_t* Pipeline::natReplySlot(uint32_t addr, uint16_t port) {
    NatPoolState* pool = natPoolOf(addr);
    if (!pool) return nullptr;
    const NatPoolSpec& spec = pool->map->pool();
    if (port < spec.port_lo || port > spec.port_hi) return nullptr;
    return &pool->replies[size_t(addr - spec.first_addr) * pool->ports_per_addr +
                          (port - spec.port_lo)];
}

bool Pipeline::startNat(uint32_t index, const PolicyQuery& q, const PacketInfo& info) {
    const NatDecision d = settings_.nat->rules->match(q);
    if (d.action == NatAction::no_nat || !translatable(info)) return true;
    if (d.action == NatAction::dnat) {
        table_.nat(index) =
            NatBinding{d.to_addr, d.to_port ? d.to_port : info.dport, kNatDestination, 0};
        table_.at(index).flags |= kSessionNat;
        counters_.inc(PipelineCounter::sessions_translated);
        return true;
    }
    NatPoolState& pool = nat_pools_[d.pool];
    // A port of a block whose heir is the backup owner: if this node dies,
    // replies to the port go to the heir (natReplyFinish), which then holds
    // the session's copy and takes it over.
    const NodeId backup = table_.at(index).backup_owner;
    const std::optional<NatPortRef> got = pool.ports->allocate(backup);
    if (!got) {
        pool.counters->exhausted.fetch_add(1, std::memory_order_relaxed);
        return false;
    }
    if (backup != kNoNode && pool.map->heir(got->block) != backup) [[unlikely]]
        counters_.inc(PipelineCounter::nat_ports_off_heir);
    natPublish(pool);
    table_.nat(index) = NatBinding{got->addr, got->port, kNatSource, 0};
    table_.at(index).flags |= kSessionNat;
    *natReplySlot(got->addr, got->port) = index + 1;
    counters_.inc(PipelineCounter::sessions_translated);
    return true;
}

void Pipeline::natOriginal(const Slot& s, uint32_t index) {
    const NatBinding& b = table_.nat(index);
    natRewrite(s.frame, s.info, b.kind == kNatDestination ? NatEnd::destination : NatEnd::source,
               b.addr, b.port);
}

void Pipeline::natIcmpErrorBack(Slot& s) {
    PacketInfo& info = s.info;
    FlowTuple& q = info.icmp_error.inner;
    if (info.family != AddrFamily::v4 || info.tunnel.kind != TunnelKind::none ||
        q.family != AddrFamily::v4 ||
        !(q.proto == kProtoTcp || q.proto == kProtoUdp || q.proto == kProtoIcmp))
        return;
    const uint32_t* slot = natReplySlot(q.src.v4(), q.sport);
    if (!slot) {
        if (settings_.nat->rules->hasDnat()) natDnatIcmpErrorBack(s);
        return;
    }
    if (*slot == 0) {
        counters_.inc(PipelineCounter::nat_no_translation);
        return;
    }
    const Session& sess = table_.at(*slot - 1);
    const SessionEndpoints e = endpointsOf(sess);
    // It must quote a packet the session sent to its server.
    if (sess.key_proto != q.proto || !(q.dst == e.dst) ||
        (q.proto != kProtoIcmp && q.dport != e.dport) ||
        !natRewriteIcmpError(s.frame, info, NatEnd::source, e.src.v4(), e.sport)) {
        counters_.inc(PipelineCounter::nat_no_translation);
        return;
    }
    if (info.dst == q.src) info.dst = e.src;
    q.src = e.src;
    q.sport = e.sport;
    if (q.proto == kProtoIcmp) q.dport = e.sport;  // an echo's identifier is both
    counters_.inc(PipelineCounter::nat_icmp_errors_translated);
}

void Pipeline::natDnatIcmpErrorBack(Slot& s) {
    PacketInfo& info = s.info;
    FlowTuple& q = info.icmp_error.inner;
    // It quotes a packet sent to a dnat target: the session is keyed by
    // what its client sent, to the public address and port.
    const std::optional<DnatPublic> pub =
        settings_.nat->rules->publicOf(q.proto, q.dst.v4(), q.dport);
    if (!pub) return;
    const uint16_t port = pub->port ? pub->port : q.dport;
    FlowKey key;
    const uint64_t hash = buildFlowKey(q.src, IpAddr::fromV4(pub->addr), q.sport, port, q.proto,
                                       q.family, contextOf(info), &key, nullptr);
    const uint32_t index = table_.find(key, hash);
    if (index == SessionTable::kNoEntry) return;
    const NatBinding& b = table_.nat(index);
    if (b.kind != kNatDestination || b.addr != q.dst.v4() || b.port != q.dport) return;
    if (!natRewriteIcmpError(s.frame, info, NatEnd::destination, pub->addr, port)) return;
    if (info.src == q.dst) info.src = IpAddr::fromV4(pub->addr);
    q.dst = IpAddr::fromV4(pub->addr);
    q.dport = port;
    counters_.inc(PipelineCounter::nat_icmp_errors_translated);
}

void Pipeline::natIcmpErrorOut(Slot& s, uint32_t index) {
    const NatBinding& b = table_.nat(index);
    const FlowTuple& q = s.info.icmp_error.inner;
    const SessionEndpoints e = endpointsOf(table_.at(index));
    if (b.kind == kNatDestination) {
        // An error about a target's reply, which left from the public
        // address: it reaches the target quoting what the target sent.
        if (!(q.src == e.dst) || (q.proto != kProtoIcmp && q.sport != e.dport)) return;
        if (natRewriteIcmpError(s.frame, s.info, NatEnd::source, b.addr, b.port))
            counters_.inc(PipelineCounter::nat_icmp_errors_translated);
        return;
    }
    if (b.kind != kNatSource) return;
    // An error about a packet on its way to the client (a reply, put back
    // to the client's address): it leaves quoting what the server sent.
    if (!(q.dst == e.src) || (q.proto != kProtoIcmp && q.dport != e.sport)) return;
    if (natRewriteIcmpError(s.frame, s.info, NatEnd::destination, b.addr, b.port))
        counters_.inc(PipelineCounter::nat_icmp_errors_translated);
}

bool Pipeline::natReplyStart(Slot& s) {
    PacketInfo& info = s.info;
    if (info.icmp_is_error) [[unlikely]] {
        natIcmpErrorBack(s);
        return false;
    }
    if (!translatable(info)) return false;
    // A first fragment on its way to its datagram's fragment owner is
    // translated there, where its later fragments meet it.
    if (info.first_fragment && entered_here_ && fragmentOwner(datagramOf(info)) != view_.self)
        return false;
    uint32_t* slot = natReplySlot(info.dst.v4(), info.dport);
    if (!slot) {
        if (settings_.nat->rules->hasDnat()) natDnatReply(s);
        return false;
    }
    __builtin_prefetch(slot, 0, 3);
    s.nat_reply = slot;
    s.kind = kNatReply;
    return true;
}

NodeId Pipeline::natReplyFinish(Slot& s) {
    PacketInfo& info = s.info;
    // Read again: a frame decided before this one may have ended the
    // session or started another on the port since the second stage.
    const uint32_t r = *s.nat_reply;
    uint32_t candidate = SessionTable::kNoEntry;
    NodeId port_owner = kNoNode;
    if (r == 0) {
        // No session here holds the port: the node whose block it is gave
        // it out, and holds the session or its replica; while it is dead,
        // the block's heir, which holds the copy (startNat chose the block
        // so). A packet that entered here goes there as it came; one sent
        // here already stays.
        const PortBlockMap& map = *natPoolOf(info.dst.v4())->map;
        const std::optional<uint32_t> block = map.blockOf(info.dst.v4(), info.dport);
        NodeId o = block ? map.owner(*block) : kNoNode;
        const bool to_heir = o != kNoNode && o != view_.self && !view_.mayOwn(o);
        if (to_heir) o = map.heir(*block);
        if (entered_here_ && o != kNoNode && o != view_.self && view_.mayOwn(o)) {
            port_owner = o;
            if (to_heir) counters_.inc(PipelineCounter::nat_replies_to_port_heir);
        } else {
            counters_.inc(PipelineCounter::nat_no_translation);
        }
    } else {
        const Session& sess = table_.at(r - 1);
        const SessionEndpoints e = endpointsOf(sess);
        // Only the other end of the translated session is put through.
        if (sess.key_proto != info.proto || !(info.src == e.dst) ||
            (info.proto != kProtoIcmp && info.sport != e.dport)) {
            counters_.inc(PipelineCounter::nat_no_translation);
        } else {
            natRewrite(s.frame, info, NatEnd::destination, e.src.v4(), e.sport);
            info.dst = e.src;
            info.dport = e.sport;
            if (info.proto == kProtoIcmp) info.sport = e.sport;  // an echo's identifier is both
            counters_.inc(PipelineCounter::nat_replies_translated);
            candidate = r - 1;
        }
    }
    s.hash = buildFlowKey(info.src, info.dst, info.sport, info.dport, info.proto, info.family,
                          contextOf(info), &s.key, &s.src_is_lo);
    s.kind = kLookup;
    if (port_owner != kNoNode) return port_owner;
    // Not put back: the lookup of what it is (rarely anything) runs now.
    s.candidate = candidate != SessionTable::kNoEntry
                      ? candidate
                      : table_.candidate(s.hash, Session::hotBytes(info.family));
    return kNoNode;
}

void Pipeline::natDnatReply(Slot& s) {
    PacketInfo& info = s.info;
    const std::optional<DnatPublic> pub =
        settings_.nat->rules->publicOf(info.proto, info.src.v4(), info.sport);
    if (!pub) return;
    // From a dnat rule's target: a reply only if a session translated to it
    // this very address and port (else its own traffic, left as it is).
    const uint16_t port = pub->port ? pub->port : info.sport;
    FlowKey key;
    const uint64_t hash = buildFlowKey(IpAddr::fromV4(pub->addr), info.dst, port, info.dport,
                                       info.proto, info.family, contextOf(info), &key, nullptr);
    const uint32_t index = table_.find(key, hash);
    if (index == SessionTable::kNoEntry) return;
    const NatBinding& b = table_.nat(index);
    if (b.kind != kNatDestination || b.addr != info.src.v4() || b.port != info.sport) return;
    natRewrite(s.frame, info, NatEnd::source, pub->addr, port);
    info.src = IpAddr::fromV4(pub->addr);
    info.sport = port;
    if (info.proto == kProtoIcmp) info.dport = port;  // an echo's identifier is both
    counters_.inc(PipelineCounter::nat_replies_translated);
}

void Pipeline::natTakeBinding(uint32_t index, const NatBinding& b) {
    const NatBinding before = table_.nat(index);
    if (before.kind == kNatSource && (before.addr != b.addr || before.port != b.port))
        releaseNat(this, index, before);
    table_.nat(index) = b;
    if (!settings_.nat || b.kind != kNatSource) return;
    uint32_t* slot = natReplySlot(b.addr, b.port);
    if (!slot) {
        // A pool this node does not have (configs that differ): its
        // replies cannot be put back here.
        counters_.inc(PipelineCounter::nat_replica_unknown_pool);
        return;
    }
    if (*slot != 0 && *slot != index + 1) {
        // Another session holds the address:port here: two nodes gave it
        // out, which the blocks exclude. The one already here keeps it.
        counters_.inc(PipelineCounter::nat_replica_port_taken);
        return;
    }
    *slot = index + 1;
    // A port of this node's own blocks that a peer translated with (while
    // it held the block, or this node was away) is not to be handed out
    // again while the session lives (false for other nodes' ports).
    NatPoolState& pool = *natPoolOf(b.addr);
    if (pool.ports->markUsed(b.addr, b.port)) natPublish(pool);
}

void Pipeline::releaseNat(void* self, uint32_t index, const NatBinding& b) {
    auto* p = static_cast<Pipeline*>(self);
    if (b.kind != kNatSource) return;  // a dnat binding holds no pool port
    uint32_t* slot = p->natReplySlot(b.addr, b.port);
    // Only the entry the index names gives the port back: its own session
    // or a replica (whose port is free here again only if it is of this
    // node's blocks, in use here: release() says false otherwise).
    if (!slot || *slot != index + 1) return;
    *slot = 0;
    NatPoolState& pool = *p->natPoolOf(b.addr);
    if (pool.ports->release(b.addr, b.port)) p->natPublish(pool);
}

}  // namespace tandem
