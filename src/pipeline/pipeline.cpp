#include "pipeline/pipeline.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "cluster/election.h"
#include "core/wire_bytes.h"
#include "packet/nat_rewrite.h"
#include "packet/plain_tcp_parser.h"
#include "session/tcp_tracker.h"

namespace tandem {
namespace {

// ICMPv6 messages a link needs to work at all (neighbour discovery, MLD):
// passed like ARP, without a session.
bool isLinkLocalIcmpV6(uint8_t type) {
    return (type >= 133 && type <= 137) || (type >= 130 && type <= 132) || type == 143;
}

// ICMP replies never start a session: a reply without its request is junk.
bool isIcmpReply(const PacketInfo& info) {
    if (info.proto == kProtoIcmp) {
        return info.icmp_type == 0 || info.icmp_type == 14 || info.icmp_type == 16 ||
               info.icmp_type == 18;
    }
    return info.proto == kProtoIcmpV6 && info.icmp_type == 129;
}

PolicyQuery policyQuery(const PacketInfo& info, uint16_t from_zone, uint16_t to_zone) {
    return flowPolicyQuery(from_zone, to_zone, info.family, info.src, info.dst, info.proto,
                           info.sport, info.dport, info.icmp_type);
}

// GENEVE turnaround: the frame goes back to the load balancer that sent it,
// with the same GENEVE header and options, so only the outer Ethernet and IP
// addresses are swapped. Swapping leaves the IPv4 and UDP checksums valid
// (both sums are order-independent).
void turnAround(uint8_t* frame, const TunnelInfo& t) {
    uint8_t mac[6];
    std::memcpy(mac, frame, 6);
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, mac, 6);
    uint8_t* ip = frame + t.outer_l3_offset;
    const bool v4 = (ip[0] >> 4) == 4;
    const size_t off = v4 ? 12 : 8, len = v4 ? 4 : 16;
    uint8_t tmp[16];
    std::memcpy(tmp, ip + off, len);
    std::memcpy(ip + off, ip + off + len, len);
    std::memcpy(ip + off + len, tmp, len);
}

constexpr uint32_t kFramePrefetch = 8;
constexpr uint32_t kGroup = 8;  // frames per stage of processBurst()

// The lines holding a frame's first 54 bytes: Ethernet, IPv4 and TCP without
// options (one line when the frame starts on a line, as DPDK mbuf data does;
// two otherwise). A prefetch past a short frame's end is harmless: it never
// faults and nothing reads the line.
inline void prefetchHeaders(const uint8_t* frame) {
    __builtin_prefetch(frame, 0, 3);
    __builtin_prefetch(frame + 53, 0, 3);
}

}  // namespace

Pipeline::Pipeline(const PipelineSettings& settings, SessionTable& table,
                   std::shared_ptr<const Policy> policy)
    : settings_(settings), table_(table), policy_(std::move(policy)) {
    const uint64_t pct = std::clamp<uint32_t>(settings_.timeouts.pressure_percent, 1, 100);
    pressure_at_ = std::max<uint32_t>(1, uint32_t(table_.capacity() * pct / 100));
    // A standalone node is a cluster of one that always may own.
    view_.self = settings_.node;
    view_.owners = view_.reachable = nodeBit(settings_.node);
    view_.self_state = NodeState::active;
    // GENEVE mode drops what is not a tunnel, and translation rewrites
    // frames before their lookup: there a plain frame is not decided as one.
    shortcuts_ = settings_.shortcuts && !settings_.geneve && settings_.nat == nullptr;
    initNat();
}

uint32_t Pipeline::idleTimeoutMs(const Session& s) const {
    // Most packets: an established connection, never embryonic.
    if (s.state == SessionState::tcp_established) [[likely]]
        return settings_.timeouts.tcp_established_s * 1000u;
    const uint32_t ms = sessionTimeoutMs(s, settings_.timeouts);
    const bool embryonic =
        s.state == SessionState::tcp_syn_sent || s.state == SessionState::tcp_syn_recv;
    if (!embryonic || table_.size() < pressure_at_) return ms;
    const uint32_t short_ms = settings_.timeouts.tcp_embryonic_pressure_s * 1000u;
    return short_ms < ms ? short_ms : ms;
}

uint32_t Pipeline::contextOf(const PacketInfo& info) const {
    switch (info.tunnel.kind) {
        case TunnelKind::geneve:
            // Flows behind different GWLB endpoints may reuse addresses.
            return uint32_t(info.tunnel.gwlb_endpoint_id ^ (info.tunnel.gwlb_endpoint_id >> 32)) ^
                   info.tunnel.vni;
        case TunnelKind::vxlan:
            return info.tunnel.vni;
        case TunnelKind::none:
            break;
    }
    return 0;
}

Verdict Pipeline::forwardFrom(uint16_t in_port) {
    const uint16_t out = settings_.ports[in_port].egress;
    if (out == kNoPort) {
        return drop(counters_, PipelineCounter::dropped_no_route);
    }
    counters_.inc(PipelineCounter::forwarded);
    return {VerdictKind::forward, out};
}

// Inline in processBurst()'s first stage: most frames take it, and the
// call and its saved registers would be a tenth of what it costs.
[[gnu::always_inline]] inline bool Pipeline::classifyPlainTcp(uint8_t* frame, uint16_t len,
                                                              Slot& s) {
    if (!shortcuts_ || !parsePlainTcp(frame, len, s.info)) return false;
    // What classify() does for such a frame (no tunnel, not ICMP, not a
    // fragment, context 0), with the IPv4 key builder.
    const PacketInfo& info = s.info;
    s.frame = frame;
    s.parse = ParseResult::ok;
    s.hash = buildFlowKeyV4(info.src.v4(), info.dst.v4(), info.sport, info.dport, kProtoTcp, 0,
                            &s.key, &s.src_is_lo);
    s.kind = kLookup;
    return true;
}

void Pipeline::classify(uint8_t* frame, uint16_t len, Slot& s, Verdict& v, uint16_t in_port) {
    s.kind = kDecided;
    s.frame = frame;
    s.parse = parseFrame(frame, len, settings_.parse, s.info);
    if (s.parse != ParseResult::ok) {
        if (s.parse == ParseResult::non_ip) {
            counters_.inc(PipelineCounter::passed_non_ip);
            v = forwardFrom(in_port);
        } else {
            parse_counters_.inc(s.parse);
            v = drop(counters_, PipelineCounter::dropped_malformed);
        }
        return;
    }
    const PacketInfo& info = s.info;
    if (info.tunnel.kind != TunnelKind::none) {
        counters_.inc(PipelineCounter::tunnel_frames);
    } else if (settings_.geneve) [[unlikely]] {
        // One-arm mode carries GENEVE only; what else comes is for the node.
        const HealthCheckSettings& hc = settings_.health_check;
        if (hc.enabled && info.proto == kProtoTcp && !info.is_fragment && info.has_l4 &&
            info.dst == hc.address && info.dport == hc.port) {
            counters_.inc(PipelineCounter::health_check_segments);
            v = {VerdictKind::local, in_port};
        } else {
            v = drop(counters_, PipelineCounter::dropped_not_tunnel);
        }
        return;
    }
    if (info.has_l4 && info.proto == kProtoIcmpV6 && isLinkLocalIcmpV6(info.icmp_type)) {
        counters_.inc(PipelineCounter::passed_neighbor_discovery);
        v = forwardFrom(in_port);
        return;
    }
    if (info.is_fragment && !info.has_l4) {
        s.kind = kFragment;
        return;
    }
    if (settings_.nat) [[unlikely]] {
        // A first fragment's addresses as they came: its datagram's name,
        // which its later fragments carry (noteFirstFragment).
        if (info.first_fragment && info.family == AddrFamily::v4) {
            s.frag_src4 = info.src.v4();
            s.frag_dst4 = info.dst.v4();
        }
        // To a translated address: back to the initiator's first.
        if (natReplyStart(s)) return;
    }
    const uint32_t ctx = contextOf(info);
    if (info.icmp_is_error) [[unlikely]] {
        const FlowTuple& in = info.icmp_error.inner;
        s.hash = buildFlowKey(in.src, in.dst, in.sport, in.dport, in.proto, in.family, ctx, &s.key,
                              &s.src_is_lo);
        s.kind = kIcmpError;
    } else {
        s.hash = buildFlowKey(info.src, info.dst, info.sport, info.dport, info.proto, info.family,
                              ctx, &s.key, &s.src_is_lo);
        s.kind = kLookup;
    }
}

uint32_t Pipeline::workerFor(const uint8_t* frame, uint16_t len, const WorkerMap& map,
                             uint32_t here, uint32_t now_ms) {
    // A member, not a local: constructing a PacketInfo per frame costs more
    // than parsing into one (parseFrame resets what it fills).
    PacketInfo& info = steer_info_;
    if (map.workers() <= 1 || parseFrame(frame, len, settings_.parse, info) != ParseResult::ok)
        return here;
    if (info.has_l4 && info.proto == kProtoIcmpV6 && isLinkLocalIcmpV6(info.icmp_type)) return here;
    if (info.is_fragment && !info.has_l4) {
        const auto to = fragment_workers_.recall(datagramOf(info), now_ms);
        return to ? uint32_t(*to) : here;
    }
    const uint32_t ctx = contextOf(info);
    const FlowTuple* t = info.icmp_is_error ? &info.icmp_error.inner : nullptr;
    FlowKey key;
    const uint64_t hash = t ? buildFlowKey(t->src, t->dst, t->sport, t->dport, t->proto, t->family,
                                           ctx, &key, nullptr)
                            : buildFlowKey(info.src, info.dst, info.sport, info.dport, info.proto,
                                           info.family, ctx, &key, nullptr);
    const uint32_t to = flowWorker(map, settings_.nat, key, hash);
    if (info.first_fragment) fragment_workers_.remember(datagramOf(info), to, now_ms);
    return to;
}

// Inline in processBurst()'s last stage, for the same reason as
// classifyPlainTcp().
[[gnu::always_inline]] inline bool Pipeline::forwardEstablished(const Slot& s, uint16_t in_port,
                                                                uint32_t now_ms, Verdict* v) {
    // decide()'s steps for this frame, in its order, each with the outcome
    // it has here; everything else about the frame falls back to decide().
    const PacketInfo& info = s.info;
    if (info.proto != kProtoTcp || info.first_fragment ||
        (info.tcp.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) != kTcpAck)
        return false;
    const uint16_t out_port = settings_.ports[in_port].egress;
    if (out_port == kNoPort) return false;
    const uint32_t index = table_.confirm(s.key, s.hash, s.candidate);
    if (index == SessionTable::kNoEntry) return false;
    Session& sess = table_.at(index);
    // Not owned here, translated, or an application rule still reading or
    // denying it: decide() has more to do.
    if (sess.owner != view_.self ||
        (sess.flags & (kSessionNat | kSessionAppPending | kSessionAppDenied)) != 0)
        return false;
    const Direction dir = sess.directionOf(s.src_is_lo);
    const auto d = static_cast<size_t>(dir);
    // tcpTrack()'s own shortcut: established, both windows known, no FIN
    // yet. It writes nothing unless the segment is accepted.
    TcpVerdict tv;
    if (!detail::establishedAck(sess, int(d), info.tcp, settings_.tcp, &tv) ||
        tv != TcpVerdict::accept)
        return false;
    // The state stays established: no version bump, no event.
    if (dir == Direction::reply) sess.flags |= kSessionSeenReply;
    sess.count(d, info.ip_total_len);
    sess.expires_ms = now_ms + settings_.timeouts.tcp_established_s * 1000u;
    counters_.inc(PipelineCounter::forwarded);
    *v = {VerdictKind::forward, out_port};
    return true;
}

void Pipeline::processBurst(uint8_t* const* frames, const uint16_t* lens, uint32_t n,
                            uint16_t in_port, uint32_t now_ms, Verdict* out, Ingress ingress,
                            NodeId sender, ForwardReason reason) {
    if (n > kMaxBurst) n = kMaxBurst;
    if (ingress == Ingress::peer) counters_.add(PipelineCounter::received_from_peer, n);
    uint64_t rx_bytes = 0;
    for (uint32_t i = 0; i < n; ++i) rx_bytes += lens[i];
    counters_.add(PipelineCounter::rx_packets, n);
    counters_.add(PipelineCounter::rx_bytes, rx_bytes);
    decideBurst(frames, lens, n, in_port, now_ms, out, ingress, sender, reason);
}

void Pipeline::decideBurst(uint8_t* const* frames, const uint16_t* lens, uint32_t n,
                           uint16_t in_port, uint32_t now_ms, Verdict* out, Ingress ingress,
                           NodeId sender, ForwardReason reason) {
    sender_ = ingress == Ingress::peer ? sender : kNoNode;
    reason_ = ingress == Ingress::peer ? reason : ForwardReason::none;
    // A frame its flow's director handed back is this node's own again: it
    // is decided as if it had just entered here (directorToAsk() does not
    // send it a second time). So is a fragment sent here as to its
    // datagram's fragment owner (decideFragment() does not send it on
    // again).
    if (reason_ == ForwardReason::director_unknown || reason_ == ForwardReason::to_fragment_owner)
        ingress = Ingress::port;
    // decide() sends a first fragment that entered here to its datagram's
    // fragment owner, as it came (classify() must not translate it first).
    entered_here_ = ingress == Ingress::port && reason_ == ForwardReason::none;
    if (settings_.view) view_ = settings_.view->load();
    if (settings_.owner_cache && view_.owners != cache_owners_) [[unlikely]] {
        // Members that may no longer own may have lost their sessions.
        const uint16_t gone = cache_owners_ & uint16_t(~view_.owners);
        for (NodeId n = 1; n <= kMaxNodes; ++n)
            if (gone & nodeBit(n)) settings_.owner_cache->forgetOwner(n);
        cache_owners_ = view_.owners;
    }
    if (view_.owners != owners_seen_) [[unlikely]]
        noteOwners(now_ms);

    // Three stages over groups of kGroup frames, each stage one group behind
    // the one before, so that every cache miss is covered by the work on
    // another group: classify group g (parse, key, hash; frame headers are
    // prefetched ahead, buckets start loading), pick the lookup candidates of
    // group g-1 (their entries start loading), decide group g-2 (lookup
    // confirmed, TCP tracking, counters, timer). Decisions stay in frame
    // order, and decide() confirms each candidate against the table as it is
    // then, so every frame sees the sessions the frames before it changed.
    for (uint32_t i = 0; i < n && i < kFramePrefetch; ++i) prefetchHeaders(frames[i]);
    const uint32_t groups = (n + kGroup - 1) / kGroup;
    for (uint32_t g = 0; g < groups + 2; ++g) {
        if (g < groups) {
            const uint32_t end = std::min(n, (g + 1) * kGroup);
            for (uint32_t i = g * kGroup; i < end; ++i) {
                if (i + kFramePrefetch < n) prefetchHeaders(frames[i + kFramePrefetch]);
                frames_[i] = frames[i];
                if (!classifyPlainTcp(frames[i], lens[i], slots_[i])) [[unlikely]]
                    classify(frames[i], lens[i], slots_[i], out[i], in_port);
            }
            // The group's buckets start loading together, so that their
            // TLB misses overlap: a prefetch waits for its page's
            // translation, and one after each frame's parse waited alone.
            for (uint32_t i = g * kGroup; i < end; ++i) {
                const Slot& s = slots_[i];
                if (s.kind == kLookup || s.kind == kIcmpError) table_.prefetchBucket(s.hash);
            }
        }
        if (g >= 1 && g - 1 < groups) {
            const uint32_t end = std::min(n, g * kGroup);
            for (uint32_t i = (g - 1) * kGroup; i < end; ++i) {
                Slot& s = slots_[i];
                if (s.kind == kLookup) {
                    s.candidate = table_.candidate(s.hash, Session::hotBytes(s.info.family));
                    // Its translation, if it has one, is read when it is decided.
                    if (settings_.nat && s.candidate != SessionTable::kNoEntry) [[unlikely]]
                        table_.prefetchNat(s.candidate);
                } else if (s.kind == kNatReply) {
                    if (const uint32_t r = *s.nat_reply; r != 0)
                        table_.prefetchIndex(r - 1, Session::hotBytes(s.info.family));
                } else {
                    s.candidate = s.kind == kIcmpError
                                      ? table_.candidate(s.hash, Session::kBothLines)
                                      : SessionTable::kNoEntry;
                }
            }
        }
        if (g >= 2) {
            const uint32_t end = std::min(n, (g - 1) * kGroup);
            for (uint32_t i = (g - 2) * kGroup; i < end; ++i) {
                Slot& s = slots_[i];
                if (s.kind == kDecided) continue;
                if (shortcuts_ && s.kind == kLookup && ingress == Ingress::port &&
                    forwardEstablished(s, in_port, now_ms, &out[i])) [[likely]]
                    continue;
                NodeId port_owner = kNoNode;
                if (s.kind == kNatReply) [[unlikely]]
                    port_owner = natReplyFinish(s);
                out[i] = port_owner != kNoNode
                             ? toPeer(port_owner, ForwardReason::owner_elsewhere, s.hash,
                                      PipelineCounter::nat_replies_to_port_owner)
                             : decide(s, s.candidate, in_port, now_ms, ingress);
                if (s.info.first_fragment) noteFirstFragment(s, out[i], now_ms);
                // A deferred first packet leaves later exactly as it is now,
                // so it is turned around here like a forwarded one.
                const bool leaves =
                    out[i].kind == VerdictKind::forward || out[i].kind == VerdictKind::defer;
                if (leaves && settings_.geneve && s.info.tunnel.kind == TunnelKind::geneve) {
                    turnAround(frames_[i], s.info.tunnel);
                }
            }
        }
    }
}

Verdict Pipeline::process(uint8_t* frame, uint16_t len, uint16_t in_port, uint32_t now_ms,
                          Ingress ingress, NodeId sender, ForwardReason reason) {
    Verdict v;
    processBurst(&frame, &len, 1, in_port, now_ms, &v, ingress, sender, reason);
    return v;
}

Verdict Pipeline::releaseAwaiting(uint8_t* frame, uint16_t len, uint16_t in_port, uint32_t now_ms,
                                  const PeerOrigin& from, bool last) {
    Verdict v;
    redeciding_ = true;
    last_try_ = last;
    decideBurst(&frame, &len, 1, in_port, now_ms, &v,
                from.node == kNoNode ? Ingress::port : Ingress::peer, from.node, from.reason);
    redeciding_ = false;
    last_try_ = false;
    return v;
}

void Pipeline::noteOwners(uint32_t now_ms) {
    // The first view this pipeline sees is where it starts from: a node
    // starting is not active yet (its arrival is a change it sees later),
    // and a cluster that starts together has no sessions to wait for.
    if (settings_.directors && owners_known_) {
        // The flows whose director changed have a new one, which holds none
        // of those owned by another node until that owner's rebalance scan
        // sends it the session (a member left: its flows' backups elect new
        // ones; a member joined: it directs some flows now). Until then it
        // must not take such a flow's packet for a new flow's (a second
        // session, another translation) nor drop it: it waits. Changes
        // close together settle as one, from the members before the first.
        if (!settling_) settle_from_owners_ = owners_seen_;
        settling_ = true;
        settle_until_ms_ = now_ms + settings_.director_settle_ms;
        ++wait_progress_;
    }
    owners_seen_ = view_.owners;
    owners_known_ = true;
}

bool Pipeline::awaitsOwner(const Slot& s, Ingress ingress, uint32_t now_ms) {
    if (settling_ && int32_t(now_ms - settle_until_ms_) >= 0) {
        settling_ = false;
        ++wait_progress_;
    }
    const bool disagree = ingress == Ingress::peer && reason_ == ForwardReason::to_director &&
                          directorOf(s.hash, view_.owners) != view_.self;
    if ((!settling_ && !disagree) || last_try_) [[likely]]
        return false;
    // Handed back by its director, which waited already; an opening packet
    // (a TCP SYN, an ICMP request) starts a new flow wherever it enters.
    if (s.kind != kLookup || reason_ == ForwardReason::director_unknown) return false;
    if (opensFlow(s.info)) return false;
    if (disagree) {
        // Sent here as to its director, which this node is not by its own
        // view: the sender saw a change of the members this node has not
        // seen yet. It settles from the members as this node sees them now.
        if (!settling_) {
            settle_from_owners_ = view_.owners;
            settling_ = true;
            settle_until_ms_ = now_ms + settings_.director_settle_ms;
        }
        return true;
    }
    // Sent here as to its owner, by its director or a forwarder that it
    // told: the session is on its way here (handed over: revert, suspend).
    if (ingress == Ingress::peer &&
        (reason_ == ForwardReason::via_director || reason_ == ForwardReason::owner_elsewhere))
        return true;
    return directorOf(s.hash, view_.owners) == view_.self &&
           directorOf(s.hash, settle_from_owners_) != view_.self;
}

bool Pipeline::awaitsReplica(const Slot& s, Ingress ingress) const {
    if (last_try_ || s.kind != kLookup || view_.self == kNoNode || settings_.replica_wait_ms == 0)
        return false;
    // Sent here by a peer as to its owner (a handover) or handed back by
    // its director: not a copy this node would hold.
    if (ingress == Ingress::peer && reason_ != ForwardReason::to_director) return false;
    // A UDP datagram may open a flow (its director hands it back at once).
    const uint8_t proto = s.info.proto;
    if (opensFlow(s.info) || (proto != kProtoTcp && proto != kProtoIcmp && proto != kProtoIcmpV6))
        return false;
    if (settings_.directors) return directorOf(s.hash, view_.owners) == view_.self;
    return view_.replicate;
}

Verdict Pipeline::toPeer(NodeId peer, ForwardReason reason, uint64_t hash,
                         PipelineCounter counter) {
    counters_.inc(counter);
    Verdict v;
    v.kind = VerdictKind::to_peer;
    v.peer = peer;
    v.reason = reason;
    v.flow_hash = hash;
    return v;
}

Verdict Pipeline::decide(Slot& s, uint32_t index, uint16_t in_port, uint32_t now_ms,
                         Ingress ingress) {
    const PacketInfo& info = s.info;
    const uint16_t out_port = settings_.ports[in_port].egress;
    if (out_port == kNoPort) {
        return drop(counters_, PipelineCounter::dropped_no_route);
    }
    if (s.kind == kFragment) return decideFragment(s, in_port, now_ms, ingress, false);
    if (info.first_fragment && ingress == Ingress::port && reason_ == ForwardReason::none) {
        // The first fragment of a datagram goes where the rest gather.
        const DatagramId d = datagramOf(info);
        const NodeId fo = fragmentOwner(d);
        if (fo != view_.self) {
            return toPeer(fo, ForwardReason::to_fragment_owner, d.hash(),
                          PipelineCounter::fragments_to_owner);
        }
    }
    // `index` is a lookup candidate (SessionTable::candidate) taken before some
    // earlier frames of this burst were decided; one of them may have created,
    // replaced or removed the entry (two packets of a new flow, a SYN reopening
    // a closed connection), so the lookup is confirmed against the table now.
    index = table_.confirm(s.key, s.hash, index);
    if (index == SessionTable::kNoEntry) {
        if (const NodeId d = directorToAsk(s, ingress); d != kNoNode) {
            // A director named the owner of this flow before: straight there.
            if (OwnerCache* cache = settings_.owner_cache) {
                const NodeId o = cache->lookup(s.hash, now_ms);
                if (o != kNoNode && o != view_.self && view_.mayOwn(o)) {
                    counters_.inc(PipelineCounter::owner_cache_hits);
                    return toPeer(o, ForwardReason::owner_elsewhere, s.hash,
                                  PipelineCounter::forwarded_to_peer);
                }
                counters_.inc(PipelineCounter::owner_cache_misses);
            }
            return toPeer(d, ForwardReason::to_director, s.hash,
                          PipelineCounter::forwarded_to_director);
        }
        if (s.kind == kIcmpError) {
            return drop(counters_, PipelineCounter::dropped_icmp_error_no_session);
        }
        return decideNew(s, in_port, out_port, now_ms, ingress);
    }

    Session& sess = table_.at(index);
    bool stand_in = false;
    if (sess.owner != view_.self) {
        // Owned elsewhere: hand it to the owner, or take the session over if
        // its owner is gone and this node is the one to continue it.
        const NodeId owner = effectiveOwner(s.hash, sess.owner, sess.backup_owner, view_);
        if (owner == kNoNode) {
            return drop(counters_, PipelineCounter::dropped_no_owner);
        }
        if (owner == view_.self) {
            adopt(index, s.hash, view_.owners);
            emit(WorkerEventKind::upsert, index, now_ms);
        } else if (ingress == Ingress::peer && owner == sender_ && sess.owner == sender_) {
            // The owner of record forwarded it here: ownership is changing
            // hands (revert, suspend, a link back up) and one of the two
            // records is behind. Carry the packet without taking the session;
            // the owner's notice settles the record.
            standIn(sess);
            stand_in = true;
        } else if (ingress == Ingress::peer && owner != sender_ &&
                   (reason_ == ForwardReason::to_director ||
                    (settings_.directors && reason_ == ForwardReason::owner_elsewhere))) {
            // Sent here as the flow's director, or as its owner by a
            // forwarder whose cache is behind (ownership moved): this node
            // knows the owner. The packet's second and last hop (the owner
            // never forwards it on), and the sender is told where to send
            // the flow's next packets.
            Verdict v = toPeer(owner, ForwardReason::via_director, s.hash,
                               PipelineCounter::forwarded_via_director);
            v.notify = sender_;
            return v;
        } else if (ingress == Ingress::peer) {
            return drop(counters_, PipelineCounter::dropped_forward_loop);
        } else {
            return toPeer(owner,
                          owner == sess.owner ? ForwardReason::owner_elsewhere
                                              : ForwardReason::backup_takeover,
                          s.hash, PipelineCounter::forwarded_to_peer);
        }
    }
    if (s.kind == kIcmpError) {
        if (sess.flags & kSessionNat) [[unlikely]]
            natIcmpErrorOut(s, index);
        counters_.inc(PipelineCounter::icmp_errors_forwarded);
        return forwardFrom(in_port);
    }

    const Direction dir = sess.directionOf(s.src_is_lo);
    const SessionState state_before = sess.state;
    if (info.proto == kProtoTcp) {
        const TcpInfo& tcp = info.tcp;
        if ((sess.state == SessionState::tcp_time_wait || sess.state == SessionState::tcp_close) &&
            classifyTcp(tcp.flags) == TcpEvent::syn) {
            // A new connection on the tuple of a finished one: judge it afresh.
            emit(WorkerEventKind::erase, index, now_ms);
            logEnd(index, TrafficEndReason::reopened, now_ms);
            table_.erase(index);
            counters_.inc(PipelineCounter::sessions_reopened);
            return decideNew(s, in_port, out_port, now_ms, ingress);
        }
        if (sess.flags & kSessionAppDenied) [[unlikely]]
            return dropAppDenied(index, now_ms);
        const TcpVerdict tv = tcpTrack(sess, dir, tcp, settings_.tcp);
        const bool from_cache =
            ingress == Ingress::peer && reason_ == ForwardReason::owner_elsewhere;
        if (tv != TcpVerdict::accept && settings_.directors &&
            (ingress == Ingress::port || from_cache) &&
            (sess.state == SessionState::tcp_time_wait || sess.state == SessionState::tcp_close)) {
            // A finished connection's record, and a packet that does not fit
            // it: most likely a newer connection on the same ports that
            // another node opened (its SYN went elsewhere). Its director
            // knows; a stray segment of the old one is dropped there. A
            // forwarder whose owner cache still names this node for the old
            // connection is told to ask the director from now on.
            const NodeId d = directorOf(s.hash, view_.owners);
            if (d != kNoNode && d != view_.self) {
                Verdict v = toPeer(d, ForwardReason::to_director, s.hash,
                                   PipelineCounter::forwarded_to_director);
                if (from_cache) v.notify = sender_;
                return v;
            }
        }
        switch (tv) {
            case TcpVerdict::accept:
                break;
            case TcpVerdict::invalid_flags:
                return drop(counters_, PipelineCounter::dropped_tcp_invalid_flags);
            case TcpVerdict::invalid_state:
                return drop(counters_, PipelineCounter::dropped_tcp_invalid_state);
            case TcpVerdict::out_of_window:
                return drop(counters_, PipelineCounter::dropped_tcp_out_of_window);
        }
        if ((sess.flags & kSessionAppPending) && dir == Direction::original && tcp.payload_len &&
            !stand_in) [[unlikely]] {
            switch (readApp(s, index, now_ms)) {
                case AppOutcome::pass:
                    break;
                case AppOutcome::deny:
                    return drop(counters_, PipelineCounter::dropped_app_denied);
                case AppOutcome::reset:
                    return resetBothEnds(s, index, in_port);
            }
        }
    } else if (dir == Direction::reply && sess.state == SessionState::open) {
        sess.state = SessionState::replied;
    }
    if (dir == Direction::reply) sess.flags |= kSessionSeenReply;
    const auto d = static_cast<size_t>(dir);
    sess.count(d, info.ip_total_len);
    sess.expires_ms = now_ms + idleTimeoutMs(sess);
    if (sess.state != state_before && !stand_in) {
        ++sess.version;
        emit(WorkerEventKind::upsert, index, now_ms);
    }
    Verdict v = forwardFrom(in_port);
    if ((sess.flags & kSessionNat) && dir == Direction::original) [[unlikely]]
        natOriginal(s, index);
    if (ingress == Ingress::peer && reason_ == ForwardReason::to_director) {
        // Sent here as the flow's director, which owns it too: the sender
        // is told so, as any director tells, and sends the flow's next
        // packets here as to their owner.
        v.notify = sender_;
        v.peer = view_.self;
        v.flow_hash = s.hash;
    }
    return v;
}

NodeId Pipeline::fragmentOwner(const DatagramId& d) const {
    if (!settings_.view) return view_.self;
    const NodeId fo = fragmentOwnerOf(d.hash(), view_.owners);
    return fo == kNoNode ? view_.self : fo;
}

Verdict Pipeline::decideFragment(const Slot& s, uint16_t in_port, uint32_t now_ms, Ingress ingress,
                                 bool again) {
    // The fragments of one datagram may reach different nodes (per-packet
    // load balancing, a path change); only the first carries the ports that
    // name its flow. They all meet at the datagram's fragment owner, which
    // decides the first (as if it had entered there) and sends every later
    // one where the first went: out of its own port, or to the node the
    // first went to (the flow's director or owner), which does the same.
    const DatagramId d = datagramOf(s.info);
    if (ingress == Ingress::port && reason_ == ForwardReason::none) {
        const NodeId fo = fragmentOwner(d);
        if (fo != view_.self) {
            return toPeer(fo, ForwardReason::to_fragment_owner, d.hash(),
                          PipelineCounter::fragments_to_owner);
        }
    }
    const auto known = fragments_.recall(d, now_ms);
    if (!known) {
        if (reason_ == ForwardReason::fragment_follows) {
            // Its first fragment came this way before it (one link, in
            // order), so it is gone from the cache: nothing to follow.
            return drop(counters_, PipelineCounter::dropped_fragment_no_head);
        }
        // Here before its first fragment: kept until that is decided.
        if (!again) counters_.inc(PipelineCounter::fragments_held);
        return {VerdictKind::hold, kNoPort};
    }
    fragments_.account(d, s.info.frag_offset, s.info.frag_len, !s.info.more_fragments);
    const FragmentVerdict fv = FragmentVerdict::unpack(*known);
    if (fv.nat != FragmentVerdict::nat_none && fv.kind != FragmentVerdict::drop) [[unlikely]] {
        // Its first fragment was translated: the address changes alike
        // (later fragments carry no ports and no L4 checksum).
        natRewrite(s.frame, s.info,
                   fv.nat == FragmentVerdict::nat_source ? NatEnd::source : NatEnd::destination,
                   fv.nat_addr, 0);
        counters_.inc(PipelineCounter::nat_fragments_translated);
    }
    switch (fv.kind) {
        case FragmentVerdict::forward:
            counters_.inc(PipelineCounter::fragments_forwarded);
            return forwardFrom(in_port);
        case FragmentVerdict::to_peer:
        case FragmentVerdict::returned:
            // A node that sent the first fragment to the sender of this one
            // (not handed it back) would only send it round again.
            if (fv.kind == FragmentVerdict::to_peer && ingress == Ingress::peer &&
                fv.peer == sender_) {
                return drop(counters_, PipelineCounter::dropped_forward_loop);
            }
            return toPeer(fv.peer, ForwardReason::fragment_follows, d.hash(),
                          PipelineCounter::fragments_followed);
        case FragmentVerdict::drop:
            break;
    }
    return drop(counters_, PipelineCounter::dropped_fragment_denied);
}

void Pipeline::noteFirstFragment(const Slot& s, const Verdict& v, uint32_t now_ms) {
    const PacketInfo& info = s.info;
    DatagramId d = datagramOf(info);
    FragmentVerdict fv;
    if (settings_.nat && info.family == AddrFamily::v4) [[unlikely]] {
        // Named as it came (translation may have changed info and the
        // frame since); an address the translation changed is changed in
        // the later fragments too, wherever they go.
        d.src = IpAddr::fromV4(s.frag_src4);
        d.dst = IpAddr::fromV4(s.frag_dst4);
        const uint8_t* ip = s.frame + info.l3_offset;
        if (const uint32_t src = wire::get32(ip + 12); src != s.frag_src4) {
            fv.nat = FragmentVerdict::nat_source;
            fv.nat_addr = src;
        } else if (const uint32_t dst = wire::get32(ip + 16); dst != s.frag_dst4) {
            fv.nat = FragmentVerdict::nat_destination;
            fv.nat_addr = dst;
        }
    }
    switch (v.kind) {
        case VerdictKind::forward:
        case VerdictKind::defer:
            fv.kind = FragmentVerdict::forward;
            break;
        case VerdictKind::to_peer:
            fv.kind = v.reason == ForwardReason::director_unknown ? FragmentVerdict::returned
                                                                  : FragmentVerdict::to_peer;
            fv.peer = v.peer;
            break;
        case VerdictKind::drop:
            fv.kind = FragmentVerdict::drop;
            break;
        case VerdictKind::local:
        case VerdictKind::hold:
        case VerdictKind::await_owner:  // decided when it is released
            return;
    }
    fragments_.remember(d, fv.pack(), now_ms);
    fragments_.account(d, 0, info.frag_len, false);
    ++fragment_heads_;
}

Verdict Pipeline::releaseHeldFragment(uint8_t* frame, uint16_t len, uint16_t in_port,
                                      uint32_t now_ms, const PeerOrigin& from) {
    Slot& s = slots_[0];  // between bursts: free
    s.frame = frame;
    if (parseFrame(frame, len, settings_.parse, s.info) != ParseResult::ok || !s.info.is_fragment ||
        s.info.has_l4 || in_port >= settings_.port_count) {
        return drop(counters_, PipelineCounter::dropped_malformed);
    }
    if (settings_.view) view_ = settings_.view->load();
    const NodeId saved_sender = sender_;
    const ForwardReason saved_reason = reason_;
    sender_ = from.node;
    reason_ = from.node != kNoNode ? from.reason : ForwardReason::none;
    const Ingress ingress = from.node == kNoNode || reason_ == ForwardReason::to_fragment_owner
                                ? Ingress::port
                                : Ingress::peer;
    Verdict v = decideFragment(s, in_port, now_ms, ingress, true);
    sender_ = saved_sender;
    reason_ = saved_reason;
    if (v.kind == VerdictKind::forward && settings_.geneve &&
        s.info.tunnel.kind == TunnelKind::geneve) {
        turnAround(frame, s.info.tunnel);
    }
    return v;
}

Verdict Pipeline::decideNew(Slot& s, uint16_t in_port, uint16_t out_port, uint32_t now_ms,
                            Ingress ingress) {
    if (settings_.directors && ingress == Ingress::peer &&
        reason_ == ForwardReason::owner_elsewhere) {
        // A node sent this here as the flow's owner, from a copy or a hint
        // that is behind (the session moved on since, or this node restarted):
        // the flow's director knows. One hop more, never a lost packet.
        const NodeId d = directorOf(s.hash, view_.owners);
        if (d != kNoNode && d != view_.self && d != sender_) {
            return toPeer(d, ForwardReason::to_director, s.hash,
                          PipelineCounter::forwarded_to_director);
        }
    }
    if (settings_.directors && awaitsOwner(s, ingress, now_ms)) [[unlikely]] {
        if (!redeciding_) counters_.inc(PipelineCounter::awaiting_owner);
        Verdict v;
        v.kind = VerdictKind::await_owner;
        return v;
    }
    if (awaitsReplica(s, ingress)) [[unlikely]] {
        if (!redeciding_) counters_.inc(PipelineCounter::awaiting_replica);
        Verdict v;
        v.kind = VerdictKind::await_owner;
        v.token = settings_.replica_wait_ms;
        return v;
    }
    if (ingress == Ingress::peer && reason_ == ForwardReason::to_director) {
        // Sent here as the flow's director, and nobody owns the flow. A
        // packet that may start one (UDP) goes back to the node it entered
        // at, which decides it and owns it (first packet); TCP and ICMP that
        // came here cannot start one and are dropped below.
        const uint8_t proto = s.info.proto;
        if (proto != kProtoTcp && proto != kProtoIcmp && proto != kProtoIcmpV6) {
            return toPeer(sender_, ForwardReason::director_unknown, s.hash,
                          PipelineCounter::returned_by_director);
        }
    }
    const NodeId owner = ownerForNewFlow(s.hash, view_);
    if (owner == kNoNode) {
        return drop(counters_, PipelineCounter::dropped_no_owner);
    }
    if (owner != view_.self) {
        if (ingress == Ingress::peer) {
            return drop(counters_, PipelineCounter::dropped_forward_loop);
        }
        return toPeer(owner, ForwardReason::new_flow, s.hash,
                      PipelineCounter::forwarded_new_to_peer);
    }
    if (ingress == Ingress::port && s.info.proto == kProtoTcp &&
        !tcpMayCreate(s.info.tcp, settings_.tcp)) {
        // A mid-stream TCP packet with no session here. While the sync
        // channel to the only other live node is down, its sessions cannot
        // reach this table: the packet may belong to one of them (SYN via
        // that node, SYN-ACK via this one), so it goes there to be judged.
        // So does one that waited for its copy in vain: the other node may
        // have lost its sync channel for a while (its control link fell
        // silent on a lossy link) and sends its sessions only once it is back.
        const NodeId peer = last_try_ && !settings_.directors ? onlyPeer() : unsyncedPeer();
        if (peer != kNoNode) {
            return toPeer(peer, ForwardReason::unsynced_peer, s.hash,
                          PipelineCounter::forwarded_unsynced_to_peer);
        }
    }
    return createSession(s, in_port, out_port, now_ms);
}

NodeId Pipeline::directorToAsk(const Slot& s, Ingress ingress) const {
    if (!settings_.directors || ingress != Ingress::port ||
        reason_ == ForwardReason::director_unknown)
        return kNoNode;
    // A packet that plainly opens a flow (a TCP SYN, an ICMP request) is
    // decided here: this node owns a new flow that reaches it first (its
    // first packet waits until the backup owner, the director or the next
    // member, has the session). Anything else may belong to a flow another
    // node owns; a UDP datagram cannot say whether it is a reply.
    if (s.kind == kLookup && opensFlow(s.info)) return kNoNode;
    const NodeId d = directorOf(s.hash, view_.owners);
    return d == view_.self ? kNoNode : d;
}

bool Pipeline::opensFlow(const PacketInfo& info) const {
    if (info.proto == kProtoTcp) return tcpMayCreate(info.tcp, settings_.tcp);
    return (info.proto == kProtoIcmp || info.proto == kProtoIcmpV6) && !isIcmpReply(info);
}

NodeId Pipeline::unsyncedPeer() const {
    if (view_.replicate) return kNoNode;  // some peer takes replicas: it knows our sessions
    return onlyPeer();
}

NodeId Pipeline::onlyPeer() const {
    const uint16_t others = view_.reachable & uint16_t(~nodeBit(view_.self));
    if (others == 0 || (others & (others - 1)) != 0) return kNoNode;  // none, or not one
    return NodeId(__builtin_ctz(others) + 1);
}

Verdict Pipeline::createSession(Slot& s, uint16_t in_port, uint16_t out_port, uint32_t now_ms) {
    const PacketInfo& info = s.info;
    if (info.proto == kProtoTcp && !tcpMayCreate(info.tcp, settings_.tcp)) {
        return drop(counters_, PipelineCounter::dropped_no_session);
    }
    if (isIcmpReply(info)) {
        return drop(counters_, PipelineCounter::dropped_no_session);
    }
    const PolicyQuery q =
        policyQuery(info, settings_.ports[in_port].zone, settings_.ports[out_port].zone);
    PolicyVerdict pv = policy_->match(q);
    AppRead app;
    if (pv.app) [[unlikely]] {
        pv = firstPacketApp(s, q, pv, &app);
    }
    if (pv.action != RuleAction::allow) {
        Verdict v = drop(counters_, app.status == AppStatus::identified
                                        ? PipelineCounter::dropped_app_denied
                                        : PipelineCounter::dropped_policy);
        if (pv.reset) v.reset = resetToSender(s);
        return v;
    }

    // The initial state decides the initial timeout, so set it up first.
    Session init;
    init.setKey(s.key);
    if (info.proto == kProtoTcp) {
        tcpStart(init, info.tcp);
    } else {
        init.state = SessionState::open;
    }
    init.flags |= s.src_is_lo ? kSessionInitiatorIsLo : 0;
    if (pv.log) init.flags |= kSessionLog;
    init.owner = view_.self;
    init.origin_owner = view_.self;
    init.backup_owner = backupOwnerOf(s.hash, view_.self, view_.owners);
    init.rule = pv.rule;
    init.ingress_port = uint8_t(in_port);
    init.version = 1;
    init.created_s = now_ms / 1000;
    init.setCounts(0, 1, info.ip_total_len);
    const uint32_t idle_ms = idleTimeoutMs(init);
    init.expires_ms = now_ms + idle_ms;

    uint32_t index;
    switch (table_.insert(init, s.hash, &index)) {
        case SessionTable::InsertResult::full:
            return drop(counters_, PipelineCounter::dropped_table_full);
        case SessionTable::InsertResult::exists:
            // An earlier packet of this burst created it after the burst
            // lookup (two packets of a new flow in one burst).
            return decide(s, index, in_port, now_ms, Ingress::port);
        case SessionTable::InsertResult::inserted:
            break;
    }
    if (settings_.nat && !startNat(index, q, info)) [[unlikely]] {
        table_.erase(index);
        return drop(counters_, PipelineCounter::dropped_nat_exhausted);
    }
    counters_.inc(PipelineCounter::sessions_created);
    if (app.status != AppStatus::none) startApp(index, s, app);
    if (idle_ms < sessionTimeoutMs(init, settings_.timeouts)) {
        counters_.inc(PipelineCounter::embryonic_short_timeouts);
    }
    logStart(index, now_ms);
    Verdict v = forwardFrom(in_port);
    if (table_.at(index).flags & kSessionNat) natOriginal(s, index);
    if (view_.replicate && settings_.events && v.kind == VerdictKind::forward) {
        // Hold the first packet until the backup owner has the session: the
        // reply may reach any node, and the one it reaches must know the flow.
        const uint32_t token = next_token_++;
        if (next_token_ == 0) next_token_ = 1;
        if (emitDeferred(index, now_ms, token)) {
            counters_.inc(PipelineCounter::deferred_first_packets);
            v.kind = VerdictKind::defer;
            v.token = token;
        }
    } else {
        emit(WorkerEventKind::upsert, index, now_ms);
    }
    return v;
}

uint32_t Pipeline::age(uint32_t now_ms, uint32_t budget) {
    if (settings_.view) view_ = settings_.view->load();
    return table_.expire(now_ms, budget,
                         [&](uint32_t i, Session& s) { return expireOne(i, s, now_ms); });
}

}  // namespace tandem
