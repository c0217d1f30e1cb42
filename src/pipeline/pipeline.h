// Pipeline: the per-packet path of one worker, as a pure function of
// (frame, tables, worker state) → verdict.
//
// parse → (tunnel: decapsulate) → canonical key → session lookup →
//   hit, owned here:   TCP state / window tracking, UDP/ICMP reply tracking
//   hit, owned elsewhere: forward to the owner over the peer link, or adopt
//                      the session if its owner is gone and this node is next
//   miss: who owns new flows (ClusterView + election.h)? elsewhere → forward;
//         here → may it start a session? → policy → create → hold the first
//         packet until the backup owner has the session (defer)
// → refresh the idle timer (embryonic TCP sessions get a short one while the
//   table is under pressure: SessionTimeouts::tcp_embryonic_pressure_s)
// → counters → verdict.
//
// A burst is worked in three stages over groups of 8 frames (parse and hash
// one group while the lookups of the group before start and the group before
// that is decided), so that frame, bucket and session cache misses overlap
// with work; frames are still decided in order, each seeing the sessions the
// frames before it created or changed.
//
// No allocation, no lock, no syscall, no logging, no exception: every outcome
// is a counter in PipelineCounter (or ParseResult for malformed frames).
// Frames are byte buffers, so the whole path is unit-tested without DPDK.
//
// Cluster state comes in through a ClusterViewCell (read once per burst) and
// AgentCommands (apply()); session changes go out as WorkerEvents on a ring to
// the HA agent. Without a view the node is a standalone firewall.
//
// Threading: a Pipeline and its SessionTable belong to one worker thread; only
// that thread calls process*/age/apply/runJobs. counters() may be read from
// any thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "cluster/cluster_view.h"
#include "cluster/ha_channel.h"
#include "cluster/owner_cache.h"
#include "core/counters.h"
#include "core/node_id.h"
#include "core/worker_map.h"
#include "nat/nat_rules.h"
#include "nat/nat_steering.h"
#include "nat/pool_usage.h"
#include "nat/port_allocator.h"
#include "packet/packet_parser.h"
#include "packet/tcp_reset.h"
#include "pipeline/fragment_cache.h"
#include "pipeline/health_check.h"
#include "pipeline/pipeline_counters.h"
#include "pipeline/traffic_log_record.h"
#include "policy/policy.h"
#include "proto/peer_link.h"
#include "session/session_table.h"
#include "session/session_timeouts.h"

namespace tandem {

inline constexpr uint16_t kMaxPorts = 8;
inline constexpr uint16_t kNoPort = 0xffff;

struct PipelinePort {
    uint16_t zone = 0;          ///< zone id (index into Config::zones)
    uint16_t egress = kNoPort;  ///< where allowed traffic from this port leaves
};

struct PipelineSettings {
    NodeId node = 1;      ///< this node: owner of sessions it creates
    bool geneve = false;  ///< one-arm GWLB mode: frames return where they came from
    ParseOptions parse;
    SessionTimeouts timeouts;
    TcpTrackingConfig tcp;
    uint16_t port_count = 0;
    std::array<PipelinePort, kMaxPorts> ports{};
    uint16_t worker = 0;   ///< this worker's index (in events)
    uint16_t workers = 1;  ///< the node's workers (nat: each hands out its share of the blocks)
    /// Three or more configured members: a packet with no session here that
    /// does not plainly open a flow (anything but a TCP SYN or an ICMP
    /// request: a SYN-ACK, a mid-stream segment, an ICMP reply or error, a
    /// UDP datagram that may be a reply) goes to its flow's director, which
    /// passes it to the owner, or hands it back when nobody owns the flow.
    /// In a pair every node holds every session (the defer makes sure of it
    /// before a reply can exist), so this stays off.
    bool directors = false;
    /// directors: how long after the members that may own change this node
    /// waits for the owners of the flows it has just become the director of
    /// to send it their sessions (docs/architecture.md, "Membership
    /// changes"): about how far apart two nodes may learn of one change
    /// (the hold time, and a heartbeat for a member's return).
    uint32_t director_settle_ms = 500;
    /// How long a reply with no session here waits for its flow's copy on
    /// the node the copy goes to (awaitsReplica): up to the client's first
    /// SYN retransmission (1 s): past that TCP has sent the handshake again
    /// anyway. 0: it does not wait.
    uint32_t replica_wait_ms = 1000;
    /// GENEVE mode: the load balancer's health checks to the data port's
    /// own address (health_check.h); every other IP frame that is not
    /// GENEVE is dropped (dropped_not_tunnel).
    HealthCheckSettings health_check;
    const ClusterViewCell* view = nullptr;  ///< null: a standalone node
    WorkerEventRing* events = nullptr;      ///< null: nothing is replicated
    TrafficLogRing* traffic_log = nullptr;  ///< null: no traffic log
    /// directors: who owns flows this node has no session for, as their
    /// directors told it (shared by the node's workers); null: none kept.
    OwnerCache* owner_cache = nullptr;
    /// Address translation (docs/nat.md): pools and rules, shared by the
    /// node's workers and outliving them; null: none. A standalone node or
    /// a pair, for now (the configuration refuses more).
    const NatSetup* nat = nullptr;
    /// The two shortcuts of an established TCP flow's packets: the inline
    /// parse of a plain Ethernet/IPv4/TCP frame (packet/plain_tcp_parser.h)
    /// with its IPv4 flow key, and the ACK of an established session
    /// forwarded without the rest of the decision (forwardEstablished()).
    /// Each gives the verdict, counters and session the general path gives;
    /// off, every frame takes the general path (tests compare the two).
    /// Without effect in GENEVE mode and with translation, where frames
    /// are not plain.
    bool shortcuts = true;
};

enum class VerdictKind : uint8_t {
    forward,      ///< send out of `port`
    drop,         ///< free it (the reason is counted)
    to_peer,      ///< send to node `peer` over the peer link
    defer,        ///< hold until the HA agent releases `token`, then send out of `port`
    local,        ///< a health check to this node: the dataplane answers it out of `port`
    hold,         ///< a later fragment whose first fragment this node has not decided yet:
                  ///< keep it (bounded, briefly) and call releaseHeldFragment() after bursts
                  ///< in which fragmentHeadsDecided() moved
    await_owner,  ///< a packet whose session may be on its way here (a new director's flow
                  ///< whose owner has not sent it yet, a reply that outran its replica):
                  ///< keep it (bounded, for at most `token` ms; 0: the hold's own limit) and
                  ///< call releaseAwaiting() whenever ownerWaitProgress() moved, and once more
                  ///< with `last` when its time is up
};

struct Verdict {
    VerdictKind kind = VerdictKind::drop;
    uint16_t port = kNoPort;  ///< forward/defer: egress port
    NodeId peer = kNoNode;    ///< to_peer: destination node
    ForwardReason reason = ForwardReason::none;
    /// to_peer: also tell this node that `peer` owns the flow; forward: that
    /// `peer` (this node) does.
    NodeId notify = kNoNode;
    /// A deny rule's `reset`: 0, or Pipeline::generated(reset) is a TCP
    /// reset to send back out of the port this frame came in by (whatever
    /// becomes of the frame itself).
    uint8_t reset = 0;
    uint32_t token = 0;      ///< defer: release token; await_owner: the most it waits, ms
    uint64_t flow_hash = 0;  ///< to_peer: the flow's hash (its low half is the header's hint)
};

static_assert(sizeof(Verdict) == 24, "a verdict per frame: keep it in its padding");

/// A frame the pipeline wrote itself: a TCP reset (packet/tcp_reset.h).
struct GeneratedFrame {
    uint16_t len = 0;
    std::array<uint8_t, kMaxResetFrame> bytes;
};

/// Where a burst came from.
enum class Ingress : uint8_t {
    port,  ///< a data port of this node
    peer,  ///< the peer link: a node that does not own the flow sent it here
};

/// The node that forwarded a frame over the peer link and why: its
/// peer-link header's `from` and `reason`.
struct PeerOrigin {
    NodeId node = kNoNode;  ///< kNoNode: the frame entered on a data port of this node
    ForwardReason reason = ForwardReason::none;
    NodeId entered = kNoNode;  ///< the node whose data port it entered the cluster by
    bool operator==(const PeerOrigin&) const = default;
};

using PipelineCounters = CounterBlock<PipelineCounter, kPipelineCounterCount>;
using ParseCounters = CounterBlock<ParseResult, kParseResultCount>;

/// A drop: its reason counted, no egress port (inlined: the same
/// instructions as spelling it out at each drop).
inline Verdict drop(PipelineCounters& counters, PipelineCounter reason) {
    counters.inc(reason);
    return {VerdictKind::drop, kNoPort};
}

class Pipeline {
  public:
    static constexpr uint32_t kMaxBurst = 64;

    /// `table` and `policy` must outlive the pipeline.
    Pipeline(const PipelineSettings& settings, SessionTable& table,
             std::shared_ptr<const Policy> policy);

    /// Processes up to kMaxBurst frames that entered on `in_port` (for frames
    /// from the peer link: the port they entered the cluster on). Frames may be
    /// rewritten in place (GENEVE turnaround). out[i] is frame i's verdict.
    /// rx_packets / rx_bytes are counted once per burst, before the frames.
    /// `sender`, `reason`: for Ingress::peer, the node that forwarded the
    /// burst and the reason its peer-link headers give.
    void processBurst(uint8_t* const* frames, const uint16_t* lens, uint32_t n, uint16_t in_port,
                      uint32_t now_ms, Verdict* out, Ingress ingress = Ingress::port,
                      NodeId sender = kNoNode, ForwardReason reason = ForwardReason::none);

    /// One frame; same as a burst of one.
    Verdict process(uint8_t* frame, uint16_t len, uint16_t in_port, uint32_t now_ms,
                    Ingress ingress = Ingress::port, NodeId sender = kNoNode,
                    ForwardReason reason = ForwardReason::none);

    /// The worker (of `map`'s) that must process `frame`: the one holding
    /// its flow's session, flowWorker() of the flow key the pipeline looks
    /// it up by (the inner packet of a tunnel; an ICMP error's embedded
    /// header), whichever direction the frame goes: map.workerOf() of the
    /// key, but for translated flows (nat/nat_steering.h).
    /// A datagram's later fragments carry no ports: they go where this
    /// worker sent its first fragment (remembered here for a few seconds;
    /// devices queue all fragments of a datagram together, by addresses).
    /// A frame of no flow (non-IP, malformed, neighbour discovery, a fragment
    /// whose first fragment was not seen here) returns `here`: that worker
    /// passes or drops it. Counts nothing.
    uint32_t workerFor(const uint8_t* frame, uint16_t len, const WorkerMap& map, uint32_t here,
                       uint32_t now_ms);

    /// A frame this pipeline answered `hold` for, tried again: the verdict
    /// its first fragment got (hold again while there is none yet). `from`
    /// is how it reached this node (node kNoNode: a data port). Counts only
    /// the outcome; the frame was counted as received when it was held.
    Verdict releaseHeldFragment(uint8_t* frame, uint16_t len, uint16_t in_port, uint32_t now_ms,
                                const PeerOrigin& from);

    /// Moves each time a datagram's first fragment is decided here: held
    /// fragments are worth trying again only after it moved.
    uint32_t fragmentHeadsDecided() const { return fragment_heads_; }

    /// A frame this pipeline answered `await_owner` for, decided again
    /// (await_owner again while its session has not arrived and what it
    /// waits for may still bring it). `from` is how it reached this node
    /// (node kNoNode: a data port). `last`: its wait is over; it is decided
    /// as if it had not waited. Counts only the outcome; the frame was
    /// counted as received when it first came.
    Verdict releaseAwaiting(uint8_t* frame, uint16_t len, uint16_t in_port, uint32_t now_ms,
                            const PeerOrigin& from, bool last = false);

    /// Moves each time a session arrives from a peer, and when a membership
    /// change has settled (as of `now_ms`): frames answered `await_owner`
    /// are worth deciding again only after it moved.
    uint32_t ownerWaitProgress(uint32_t now_ms) {
        if (settling_ && int32_t(now_ms - settle_until_ms_) >= 0) {
            settling_ = false;
            ++wait_progress_;
        }
        return wait_progress_;
    }

    /// Expires idle sessions, at most `budget` timer entries per call.
    /// Returns the number removed.
    uint32_t age(uint32_t now_ms, uint32_t budget);

    /// Applies a command from the HA agent (replicas, ownership transfers,
    /// scans). A new replica is not installed while its owner already has
    /// capacity - capacity/16 entries in the table (replicas_dropped_peer_limit). release_deferred
    /// and send_peer_link_heartbeat are the dataplane's and are ignored here.
    void apply(const AgentCommand& cmd, uint32_t now_ms);

    /// Advances table-wide jobs (bulk scans, ownership transfers, clears) by
    /// at most `budget` entries. Returns true while a job is unfinished.
    bool runJobs(uint32_t now_ms, uint32_t budget);

    /// Operator: removes the session at `index`; peers are told if this node
    /// owns it.
    void removeSession(uint32_t index, uint32_t now_ms);

    /// A policy reload: frames from the next burst on are matched against
    /// `policy` (the caller swaps it between bursts, so no frame sees half of
    /// it). Then a table job (runJobs) matches each session this node owns
    /// against it, as its first packet would be now: one still allowed
    /// takes the rule that allows it (replicated when that changed); one
    /// denied is ended and replicated as ended when `end_denied` (`[policy]
    /// re-evaluate`), else kept under kRuleOfEarlierPolicy. A reload while
    /// the job of an earlier one runs starts it again. Releases this
    /// pipeline's reference to the old policy (the caller keeps one, so the
    /// worker never frees it).
    void setPolicy(std::shared_ptr<const Policy> policy, bool end_denied);

    /// The frame a verdict's `reset` names. Valid until kMaxBurst more
    /// frames have been written, so for the burst it came from (a worker
    /// sends them before it processes its next burst).
    const GeneratedFrame& generated(uint8_t reset) const { return generated_[reset - 1u]; }

    /// The policy frames are matched against now.
    const std::shared_ptr<const Policy>& policyPtr() const { return policy_; }

    const PipelineCounters& counters() const { return counters_; }
    /// How this worker uses NAT pool `pool` (NatSetup::pools order); any
    /// thread. natPoolCount() is 0 without translation.
    size_t natPoolCount() const { return nat_pools_.size(); }
    NatPoolUsage natPoolUsage(size_t pool) const;
    const ParseCounters& parseCounters() const { return parse_counters_; }
    const SessionTable& table() const { return table_; }
    const PipelineSettings& settings() const { return settings_; }
    const Policy& policy() const { return *policy_; }

    /// A session an app rule waits for is decided after at most this many
    /// of its client's payload segments (or kMaxAppPrefix stream bytes).
    static constexpr uint8_t kMaxAppSegments = 8;

  private:
    // Everything the first stage learns about one frame.
    struct Slot {
        PacketInfo info;
        FlowKey key;
        uint64_t hash;
        uint32_t candidate;  // SessionTable::candidate() of the lookup kinds
        bool src_is_lo;
        ParseResult parse;
        uint8_t kind;         // Kind below
        uint8_t* frame;       // the frame `info` describes
        uint32_t* nat_reply;  // kNatReply: its entry in the reply index
        // A first IPv4 fragment with translation on: its addresses as it came.
        uint32_t frag_src4, frag_dst4;
    };
    // kNatReply: a packet to a pool address:port; the reply index names its
    // session (read in the second stage, the entry loads meanwhile), and it
    // becomes a kLookup in the third, put back to the client.
    enum Kind : uint8_t { kDecided, kLookup, kIcmpError, kFragment, kNatReply };

    // A table-wide job driven by runJobs().
    struct Job {
        AgentCommandKind kind =
            AgentCommandKind::bulk_scan;  // bulk_scan, transfer_owner, clear_sessions, member_left,
                                          // rebalance
        bool active = false;
        NodeId peer = kNoNode, from = kNoNode, to = kNoNode, origin = kNoNode;
        uint32_t bulk_id = 0;
        uint32_t cursor = 0;
        uint32_t since_ms = 0;    // when the command arrived
        bool end_denied = false;  // reevaluate_policy: end what the policy denies now
    };
    // A bulk scan per peer (up to 15 at once when a cluster of 16 starts),
    // a member_left per gone peer, transfers, rebalances: room for all.
    static constexpr int kMaxJobs = 64;
    // Clusters: how long a node keeps the copy of a session it handed over
    // and does not back up (packets forwarders send the former owner meanwhile).
    static constexpr uint32_t kHandoverCopyMs = 10000;
    // A transfer to a node waits at most this long for a view that lets the
    // node own (the agent publishes that view first; see stepJob).
    static constexpr uint32_t kTransferViewWaitMs = 1000;
    // Replicas owned by any one peer take at most the table's capacity less
    // this share (1/16): a peer, faulty or not, never fills the table with
    // its sessions, and this node keeps room for its own new sessions and
    // for other peers' replicas. A backup of a primary that owns everything
    // keeps all of its sessions while they fill up to 15/16 of the table.
    static constexpr uint32_t kOwnRoomDivisor = 16;

    void classify(uint8_t* frame, uint16_t len, Slot& s, Verdict& v, uint16_t in_port);
    /// What classify() does for a plain Ethernet/IPv4/TCP frame, when the
    /// shortcuts are on: parsePlainTcp(), buildFlowKeyV4(). Returns false
    /// for any other frame, which classify() takes. (processBurst() starts
    /// each group's bucket loads after both.)
    bool classifyPlainTcp(uint8_t* frame, uint16_t len, Slot& s);
    /// decide() for what most frames are: an ACK (no SYN, FIN or RST) of an
    /// established TCP session this node owns, entered on a data port, the
    /// session with no translation and no application rule pending or
    /// denied, the segment inside its windows. Does what decide() would do
    /// for it (window tracking, direction flag, packet and byte counts,
    /// idle timer, `forwarded`) into *v and returns true; changes nothing
    /// and returns false for any other frame, which decide() then takes.
    bool forwardEstablished(const Slot& s, uint16_t in_port, uint32_t now_ms, Verdict* v);
    Verdict decide(Slot& s, uint32_t index, uint16_t in_port, uint32_t now_ms, Ingress ingress);
    /// A later fragment (no ports): to its datagram's fragment owner, or
    /// after the verdict its first fragment got, or held until there is one.
    Verdict decideFragment(const Slot& s, uint16_t in_port, uint32_t now_ms, Ingress ingress,
                           bool again);
    /// Records the verdict of a datagram's first fragment for the later ones.
    void noteFirstFragment(const Slot& s, const Verdict& v, uint32_t now_ms);
    /// The node that gathers the fragments of datagram `d`: this node when
    /// it is alone (or may not own), else fragmentOwnerOf() of the members.
    NodeId fragmentOwner(const DatagramId& d) const;
    Verdict decideNew(Slot& s, uint16_t in_port, uint16_t out_port, uint32_t now_ms,
                      Ingress ingress);
    /// The idle time of `s` in its state: sessionTimeoutMs(), except that an
    /// embryonic TCP session (syn-sent, syn-recv) gets at most
    /// SessionTimeouts::tcp_embryonic_pressure_s while the table holds
    /// pressure_at_ entries or more (a SYN flood then cannot hold the room
    /// for the full syn-sent time).
    uint32_t idleTimeoutMs(const Session& s) const;
    Verdict createSession(Slot& s, uint16_t in_port, uint16_t out_port, uint32_t now_ms);
    Verdict forwardFrom(uint16_t in_port);
    void standIn(Session& s);
    /// A packet that plainly opens a flow: a TCP segment that may create a
    /// session (a SYN; any, with pickup), an ICMP request. Not a UDP
    /// datagram, which cannot say whether it is a reply.
    bool opensFlow(const PacketInfo& info) const;
    /// The one other live node, when the sync channel to it is down (else kNoNode).
    NodeId unsyncedPeer() const;
    /// The one other live node (else kNoNode).
    NodeId onlyPeer() const;
    Verdict toPeer(NodeId peer, ForwardReason reason, uint64_t hash, PipelineCounter counter);
    /// The flow's director when this node is not it and a packet with no
    /// session here must go there (settings_.directors); else kNoNode.
    NodeId directorToAsk(const Slot& s, Ingress ingress) const;
    /// Notes a change of the members that may own (view_ against the last
    /// seen): the flows whose director changes have a new director that
    /// may not have their sessions yet, for settings_.director_settle_ms.
    void noteOwners(uint32_t now_ms);
    /// While a change of the members that may own settles: a packet of a
    /// flow with no session here, which does not plainly open one, that
    /// this node directs since the change and did not before, or that was
    /// sent here as to the flow's owner. Its owner may not have sent the
    /// session yet (a rebalance, a handover).
    bool awaitsOwner(const Slot& s, Ingress ingress, uint32_t now_ms);
    /// A reply (a TCP segment that cannot open a flow, an ICMP reply) with
    /// no session here, on the node that would hold the flow's copy: its
    /// director (a cluster), the other node (a pair, while replicating). Its
    /// owner released the first packet before this node acknowledged the
    /// session (the first packet's safety timeout: a stalled node), so the
    /// record may still be on its way.
    bool awaitsReplica(const Slot& s, Ingress ingress) const;
    /// Classify and decide frames (processBurst without the receive counts).
    void decideBurst(uint8_t* const* frames, const uint16_t* lens, uint32_t n, uint16_t in_port,
                     uint32_t now_ms, Verdict* out, Ingress ingress, NodeId sender,
                     ForwardReason reason);
    uint32_t contextOf(const PacketInfo& info) const;

    // Application identity (pipeline_app.cpp).
    struct AppRead {
        AppStatus status = AppStatus::none;
        AppProtocol which = AppProtocol::none;
        AppName name;
    };
    /// The decision on a new flow whose first matching rule names an
    /// application: for a TCP SYN that rule's (the session waits for its
    /// first payload, read->status pending); otherwise decided now, from a
    /// UDP datagram's DNS name or without a name.
    /// `first`: match()'s verdict, whose rule names an application.
    PolicyVerdict firstPacketApp(const Slot& s, const PolicyQuery& q, const PolicyVerdict& first,
                                 AppRead* read);
    void startApp(uint32_t index, const Slot& s, const AppRead& read);
    /// What becomes of a pending session's client payload segment.
    enum class AppOutcome : uint8_t {
        pass,   ///< allowed, or still to be read
        deny,   ///< the session is now denied: the segment is dropped
        reset,  ///< denied by a `reset` rule: the segment resets both ends
    };
    AppOutcome readApp(const Slot& s, uint32_t index, uint32_t now_ms);
    AppOutcome decideApp(uint32_t index, AppProtocol which, AppStatus status, const AppName& name,
                         uint32_t now_ms);
    /// A segment a `reset` rule denies once its session is open: it goes
    /// on to its receiver as a reset, and one goes back to its sender.
    Verdict resetBothEnds(const Slot& s, uint32_t index, uint16_t in_port);
    /// A reset back to the sender of the TCP segment in `s`, written to
    /// generated_: the verdict's `reset`, 0 when none can be written.
    uint8_t resetToSender(const Slot& s);
    void countAppOutcome(AppParse r, AppProtocol which);
    Verdict dropAppDenied(uint32_t index, uint32_t now_ms);
    /// The policy's verdict on a live session now: by its application when
    /// read (or never to be), by its rule's tuple while pending.
    PolicyVerdict verdictNow(uint32_t index, const PolicyQuery& q) const;
    /// What the policy sees of the session's first packet (its zones from
    /// the port it entered the cluster by); false when that port is not
    /// known here.
    bool sessionPolicyQuery(const Session& s, PolicyQuery* q) const;

    // Address translation (pipeline_nat.cpp).
    struct NatPoolState {
        std::unique_ptr<PortBlockMap> map;
        std::unique_ptr<NatPortAllocator> ports;
        std::unique_ptr<NatPoolCounters> counters;  ///< what natPoolUsage() reads
        std::vector<uint32_t> replies;              ///< per address:port, the session's index + 1
        uint32_t ports_per_addr = 0;
    };
    void initNat();
    NatPoolState* natPoolOf(uint32_t addr);
    /// A new session's translation, if a rule asks for one: false when its
    /// pool has no port left (the session is not to be created).
    bool startNat(uint32_t index, const PolicyQuery& q, const PacketInfo& info);
    /// A packet of `index` in its original direction: its source translated.
    void natOriginal(const Slot& s, uint32_t index);
    /// First stage, with translation on: an ICMP error or a dnat target's
    /// reply is put back at once; a packet to a pool address:port becomes
    /// kNatReply (true: no flow key yet), its reply index entry loading.
    bool natReplyStart(Slot& s);
    /// Third stage of a kNatReply: its destination put back to the
    /// session's client (when the session's other end sent it), then its
    /// flow key and hash, the session's index as the lookup candidate.
    /// When no session here holds the port and the packet entered here, the
    /// node whose block holds the port (kNoNode: decide it here).
    NodeId natReplyFinish(Slot& s);
    uint32_t* natReplySlot(uint32_t addr, uint16_t port);
    /// An ICMP error quoting a packet a translated session sent: back to
    /// its client, the quote as the client sent it (before the lookup).
    void natIcmpErrorBack(Slot& s);
    /// natIcmpErrorBack() for a dnat session: an error quoting what was
    /// sent to the target reaches the client quoting what it sent (to the
    /// public address and port), from the public address when the target
    /// itself answered.
    void natDnatIcmpErrorBack(Slot& s);
    /// An ICMP error about a packet on its way to a translated session's
    /// client (snat), or about a dnat target's reply: the quote as its
    /// sender sent it (after the lookup).
    void natIcmpErrorOut(Slot& s, uint32_t index);
    /// A packet from a dnat rule's target that is a translated session's
    /// reply: its source put back to the address its client sent to.
    void natDnatReply(Slot& s);
    static void releaseNat(void* self, uint32_t index, const NatBinding& binding);
    /// Entry `index` (a replica, or a session handed here) now carries
    /// `binding`: replies to its address:port find it here too, and a port
    /// of this node's own blocks counts as in use (a peer translated with
    /// it while it held the block, or while this node was away).
    void natTakeBinding(uint32_t index, const NatBinding& binding);
    /// Publishes pool `pool`'s allocator state to its counters.
    void natPublish(NatPoolState& pool);
    std::vector<uint32_t> natBlocksHere(const PortBlockMap& map) const;
    /// The members in `departed` left for good: every pool's blocks are
    /// reassigned (PortBlockMap::setDeparted); blocks new to this node are
    /// held while a table scan (a nat_departed job) marks the ports its
    /// sessions hold in them, then handed out (natUnhold).
    void natDeparted(uint16_t departed);
    void natMarkHeld(uint32_t index);
    void natUnhold();

    // Cluster side (pipeline_ha.cpp).
    void adopt(uint32_t index, uint64_t hash, uint16_t owners);
    void emit(WorkerEventKind kind, uint32_t index, uint32_t now_ms, NodeId peer = kNoNode);
    bool emitDeferred(uint32_t index, uint32_t now_ms, uint32_t token);
    bool expireOne(uint32_t index, Session& s, uint32_t now_ms);
    void applyUpsert(const Session& incoming, const NatBinding& nat, const AppIdentity& app,
                     uint32_t now_ms);
    void applyErase(const Session& incoming);
    bool stepJob(Job& job, uint32_t now_ms, uint32_t& budget);
    bool stepMemberLeft(NodeId gone, uint32_t index, uint32_t now_ms);
    bool stepRebalance(uint32_t index, uint32_t now_ms);
    bool stepReevaluate(uint32_t index, bool end_denied, uint32_t now_ms);

    // Traffic log (pipeline_log.cpp): start/end of sessions of `log` rules
    // that this node owns, as records on settings_.traffic_log.
    void logStart(uint32_t index, uint32_t now_ms) {
        if (settings_.traffic_log && (table_.at(index).flags & kSessionLog)) {
            pushTrafficLog(TrafficLogEvent::start, TrafficEndReason::none, index, now_ms);
        }
    }
    void logEnd(uint32_t index, TrafficEndReason reason, uint32_t now_ms) {
        const Session& s = table_.at(index);
        if (settings_.traffic_log && (s.flags & kSessionLog) && s.owner == view_.self) {
            pushTrafficLog(TrafficLogEvent::end, reason, index, now_ms);
        }
    }
    void pushTrafficLog(TrafficLogEvent event, TrafficEndReason reason, uint32_t index,
                        uint32_t now_ms);

    PipelineSettings settings_;
    SessionTable& table_;
    std::shared_ptr<const Policy> policy_;
    FragmentCache fragments_;         // each first fragment's verdict (FragmentVerdict)
    uint32_t fragment_heads_ = 0;     // fragmentHeadsDecided()
    FragmentCache fragment_workers_;  // workerFor(): where each first fragment went
    PacketInfo steer_info_;           // workerFor()'s parse
    PipelineCounters counters_;
    ParseCounters parse_counters_;
    ClusterView view_;  // as of the current burst
    // This burst entered the cluster here (from a port, not sent by a peer):
    // its first fragments go to their fragment owner, its packets to a pool
    // port no session here holds to the port's block owner.
    bool entered_here_ = false;
    uint16_t cache_owners_ = 0;  // the members that may own as the owner cache was last told
    // Membership changes settling (noteOwners): the members that may own as
    // last seen, and as they were before the change that settles now.
    uint16_t owners_seen_ = 0;
    bool owners_known_ = false;  // owners_seen_ is a view's
    uint16_t settle_from_owners_ = 0;
    bool settling_ = false;
    uint32_t settle_until_ms_ = 0;
    uint32_t wait_progress_ = 0;  // ownerWaitProgress()
    bool redeciding_ = false;     // in releaseAwaiting(): the frame was counted when held
    bool last_try_ = false;       // in releaseAwaiting(last): decided as if it had not waited
    NodeId sender_ = kNoNode;     // the node that forwarded the current burst (Ingress::peer)
    ForwardReason reason_ = ForwardReason::none;  // and why
    uint32_t next_token_ = 1;
    uint32_t pressure_at_ = 1;  // table size from which the table is under pressure (idleTimeoutMs)
    bool shortcuts_ = false;    // settings_.shortcuts, where frames may be plain
    Job jobs_[kMaxJobs];
    Slot slots_[kMaxBurst];
    uint8_t* frames_[kMaxBurst];
    std::vector<NatPoolState> nat_pools_;              // by NatDecision::pool
    std::array<GeneratedFrame, kMaxBurst> generated_;  // resets to senders, a ring
    uint32_t generated_next_ = 0;
};

}  // namespace tandem
