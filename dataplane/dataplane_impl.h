// Internals shared by dataplane.cpp (set-up, status) and worker_loop.cpp.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "core/spsc_ring.h"
#include "dataplane/burst.h"
#include "dataplane/dataplane.h"
#include "dataplane/handoff.h"
#include "dataplane/held_frames.h"
#include "dataplane/peer_link_demux.h"
#include "dataplane/port_neighbours.h"
#include "dataplane/verdict_dispatch.h"
#include "dataplane/worker_counters.h"
#include "proto/peer_link.h"
#include "proto/peer_link_receive.h"

namespace tandem {

using WorkerCounters = CounterBlock<WorkerCounter, kWorkerCounterCount>;
using PeerLinkCounters = CounterBlock<PeerLinkResult, kPeerLinkResultCount>;
using PeerLinkArpCounters = CounterBlock<PeerLinkArpCounter, kPeerLinkArpCounterCount>;

/// Next-hop MAC addresses of the udp peer link, by slot: node id for a peer
/// on the link, kGatewaySlot for the gateway. Any worker may learn one from
/// ARP; all read them. One word per slot (MAC in the low 48 bits, kKnown
/// set once learned) so that a reader never sees half an address.
struct PeerLinkNeighbours {
    static constexpr unsigned kGatewaySlot = 0;  // node ids start at 1
    static constexpr uint64_t kKnown = uint64_t(1) << 48;
    std::array<std::atomic<uint64_t>, kMaxNodes + 1> mac{};
    std::array<uint32_t, kMaxNodes + 1> next_request_ms{};  // worker 0 only
    /// When worker 0 last asked for each slot's address (any worker reads
    /// it: a reply is taken only while a request is outstanding).
    std::array<std::atomic<uint32_t>, kMaxNodes + 1> asked_ms{};
};

/// First packets parked until the HA agent says their session is
/// replicated, fragments held for their first fragment, and packets held
/// for their flow's owner (held_frames.h).
using ParkingLot = ParkingLotOf<rte_mbuf*>;
using FragmentHold = FragmentHoldOf<rte_mbuf*>;
using OwnerWait = OwnerWaitOf<rte_mbuf*>;
/// Received frames on their way through the pipeline (burst.h).
using Burst = BurstOf<rte_mbuf*>;
/// A peer-link receive burst sorted by port (peer_link_demux.h).
using PeerLinkDemux = PeerLinkDemuxOf<rte_mbuf*>;

/// A control thread's request to a worker (show / clear sessions, the
/// applications of its sessions), served between bursts in bounded steps.
/// The requester fills it and sets state to kRequested; the worker sets
/// kDone (release) when finished.
struct SessionMailbox {
    static constexpr int kIdle = 0, kRequested = 1, kDone = 2;
    enum class Kind : uint8_t { show, clear, applications };
    std::atomic<int> state{kIdle};
    Kind kind = Kind::show;
    SessionFilter filter;
    std::optional<uint32_t> index;   // a single entry
    SessionSnapshot* out = nullptr;  // show: capacity `cap`, owned by the requester
    AppUsage* apps = nullptr;        // applications: capacity `cap`, owned by the requester
    size_t cap = 0;
    size_t n = 0;
    uint64_t matched = 0;
    uint32_t cursor = 0;
};

/// A policy reload handed to a worker (Dataplane::setPolicy), taken between
/// bursts. The requester fills it and sets kRequested; the worker calls
/// Pipeline::setPolicy and sets kDone (release).
struct PolicyMailbox {
    static constexpr int kIdle = 0, kRequested = 1, kDone = 2;
    std::atomic<int> state{kIdle};
    std::shared_ptr<const Policy> policy;
    bool end_denied = false;
};

/// A frame one worker received that another must process: the worker that
/// holds its flow (Pipeline::workerFor). One SPSC ring per (from, to) pair
/// of workers; the receiving worker polls its rings like another port
/// (handoff.h).
using Handoff = HandoffOf<rte_mbuf*>;
using HandoffRing = SpscRing<Handoff>;

struct Worker {
    unsigned index = 0;
    unsigned lcore = 0;
    uint16_t queue = 0;
    std::unique_ptr<SessionTable> table;
    std::unique_ptr<Pipeline> pipeline;
    std::unique_ptr<AppUsageTally> app_tally;  // `show application`: a walk of `table`
    WorkerChannel* channel = nullptr;          // null when standalone
    WorkerCounters counters;
    PeerLinkCounters peer_link_counters;
    PeerLinkArpCounters peer_link_arp_counters;
    HealthCheckCounters health_check_counters;
    ParkingLot parking;
    FragmentHold fragment_hold;
    OwnerWait owner_wait;
    /// Authenticated peer link: what each sender's frames to this worker's
    /// queue have used of its sequence numbers (a sender's frames reach one
    /// queue: their outer headers do not change).
    std::array<ReplayWindow, kMaxNodes + 1> replay;
    uint32_t heartbeat_seq = 0;
    /// The agent's last heartbeat command (spec.peer_link.heartbeat_ms):
    /// to which peers, with which state, when; and when one last went.
    uint16_t heartbeat_peers = 0;
    uint8_t heartbeat_state = 0;
    uint32_t heartbeat_cmd_ms = 0;
    uint32_t heartbeat_sent_ms = 0;
    SessionMailbox mailbox;
    PolicyMailbox policy_box;
    /// The verdicts of the burst in processFrames() (one burst at a time):
    /// kept here, a local array would initialise all of them every burst.
    std::array<Verdict, Pipeline::kMaxBurst> verdicts;
};

struct Dataplane::Impl {
    DataplaneSpec spec;
    std::vector<uint16_t> port_ids;         // data ports, by index
    std::vector<rte_ether_addr> port_macs;  // their own addresses, by index
    uint16_t peer_port_id = 0;              // valid when spec.peer_link.enabled
    rte_ether_addr peer_port_mac{};
    PeerLinkUdpLocal peer_udp;  // udp peer link: what a received datagram must match
    /// The next sequence number of an authenticated peer-link frame (all
    /// workers; starts at the wall clock in ns: proto/peer_link_auth.h).
    std::atomic<uint64_t> peer_link_seq{0};
    uint32_t peer_link_salt = 0;  ///< drawn at start (proto/peer_link_auth.h)
    /// spec.peer_link.keys made ready, by node id (auth only).
    std::unique_ptr<PeerLinkCipher[]> peer_link_ciphers;
    PeerLinkReceiveRules peer_rx;   // what a received peer-link frame must pass
    PeerLinkNeighbours neighbours;  // udp peer link: next hops' MACs
    rte_mempool* pool = nullptr;
    std::unique_ptr<OwnerCache> owner_cache;  ///< spec.owner_cache_slots > 0
    std::vector<std::unique_ptr<Worker>> workers;
    PortNeighbours port_neighbours;
    /// Hand-off rings, [from * workers + to] (none with one worker).
    std::vector<std::unique_ptr<HandoffRing>> handoff;
    HandoffRing& handoffRing(unsigned from, unsigned to) {
        return *handoff[from * workers.size() + to];
    }
    /// Which worker owns each flow: decided before the ports open
    /// (chooseSteering), software again if a device did not take its rss
    /// settings, then fixed before the workers start.
    WorkerMap worker_map;
    std::string steering_why;  // chooseSteering()'s reason, for the log
    std::atomic<bool> stopping{false};
    bool eal_ready = false;
    bool ports_started = false;
    bool stopped = false;

    bool initEal(std::string* error);
    bool openPort(const std::string& name, const std::string& device, uint16_t mtu, unsigned queues,
                  uint16_t* id, std::string* error);
    bool openPorts(std::string* error);
    /// Reads what each port's device offers and sets worker_map
    /// (steering_decision.h); false when [dataplane] steering cannot be had.
    bool chooseSteering(std::string* error);
    bool launchWorkers(std::string* error);

    // worker_loop.cpp
    void loop(Worker& w);
    void transmit(Worker& w, uint16_t port_id, rte_mbuf** pkts, uint16_t n, bool peer_link);
    void drainCommands(Worker& w, uint32_t now);
    bool pollPeerLink(Worker& w, uint32_t now);  ///< true when frames arrived
    /// Carries out the verdicts of the frames of `b` (verdict_dispatch.h)
    /// and sends what leaves: data ports, then the peer link.
    void handleVerdicts(Worker& w, const Burst& b, const Verdict* verdicts, uint32_t now);
    /// Passes the frames of `b` that belong to other workers to them and
    /// keeps the rest in `b` (handoff.h). Frames a full ring cannot take are
    /// freed and counted.
    void handOff(Worker& w, Burst& b, uint32_t now);
    /// Processes the frames other workers passed here; true when there were any.
    bool pollHandoffs(Worker& w, uint32_t now);
    /// Runs the frames of `b` through the pipeline and out (one pipeline
    /// call per run of frames from one sender: Burst::forEachSenderRun).
    void processFrames(Worker& w, const Burst& b, uint32_t now);
    bool encapsulate(Worker& w, rte_mbuf* m, PeerLinkType type, NodeId to, NodeId entered,
                     ForwardReason reason, uint16_t port, uint32_t hint);
    // peer_link_io.cpp: the outer headers of both transports, ARP (udp)
    bool prependPeerLinkHeaders(Worker& w, rte_mbuf* m, const PeerLinkHeader& h);
    size_t peerLinkOverhead() const;
    /// Checks a frame received on the peer link (its transport's headers,
    /// the peer-link header, and with auth its trailer and sequence number,
    /// which the worker's replay window then counts as used).
    PeerLinkResult decodePeerLinkReceived(Worker& w, const uint8_t* frame, size_t len,
                                          PeerLinkHeader* h) const;
    bool takePeerLinkArp(Worker& w, rte_mbuf* m, uint32_t now);
    void resolvePeerLinkNeighbours(Worker& w, uint32_t now);
    unsigned neighbourSlot(NodeId peer) const;
    /// Sends a message of the peer link's own (heartbeat, owner hint) to
    /// node `to`: `len` bytes of `payload` in a fresh mbuf behind the
    /// headers, counted as `sent` once it leaves. Nothing when `to` has no
    /// peer-link address or no mbuf is free.
    void sendPeerLinkMessage(Worker& w, PeerLinkType type, NodeId to, uint32_t hint,
                             const uint8_t* payload, uint16_t len, WorkerCounter sent);
    void sendHeartbeat(Worker& w, NodeId peer, uint32_t seq, uint8_t state);
    /// spec.peer_link.heartbeat_ms: the agent's last heartbeats again, when
    /// it sent none for that long.
    void repeatHeartbeats(Worker& w, uint32_t now);
    /// Turns a health-check segment (VerdictKind::local) into its reply, in
    /// place; false when it gets none (the caller frees it).
    bool answerHealthCheck(Worker& w, rte_mbuf* m);
    /// Sends a parked first packet: out of its port, or back to the node it
    /// entered the cluster by (GENEVE: the load balancer sent it there).
    void sendParked(Worker& w, const ParkingLot::Parked& p);
    /// Tells node `to` on the peer link that `owner` owns the flow of `flow_hash`.
    void sendOwnerHint(Worker& w, NodeId to, uint64_t flow_hash, NodeId owner);
    void park(Worker& w, rte_mbuf* m, const Verdict& v, uint32_t now, NodeId egress_via = kNoNode);
    void release(Worker& w, uint32_t token);
    /// Keeps a fragment the pipeline answered `hold` for; false when the
    /// hold is full (the caller frees it).
    bool holdFragment(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from, uint32_t now);
    /// Sends a frame held back (a fragment, a packet that waited for its
    /// owner) the way the pipeline decided it now.
    void handleHeld(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from, Verdict v,
                    uint32_t now);
    /// Tries the held fragments again once a first fragment was decided.
    void releaseHeldFragments(Worker& w, uint32_t now);
    void expireHeldFragments(Worker& w, uint32_t now);
    /// Keeps a packet the pipeline answered `await_owner` for, at most
    /// `wait_ms` (0: OwnerWait's own limit); false when the wait is full
    /// (the caller frees it).
    bool awaitOwner(Worker& w, rte_mbuf* m, uint16_t port, const PeerOrigin& from, uint32_t now,
                    uint32_t wait_ms);
    /// A waiting packet decided again (`last`: its wait is over).
    Verdict redecideAwaiting(Worker& w, const OwnerWait::Held& h, uint32_t now, bool last);
    /// Decides the waiting packets again once a session arrived or the
    /// membership change settled.
    void releaseAwaiting(Worker& w, uint32_t now);
    /// Decides the packets whose wait is over as if they had not waited.
    void expireAwaiting(Worker& w, uint32_t now);
    void expireParked(Worker& w, uint32_t now);
    bool serveMailbox(Worker& w, uint32_t now);
    void servePolicy(Worker& w);
    bool request(bool clear, const SessionFilter& filter, std::optional<uint64_t> id, size_t max,
                 uint32_t timeout_ms, std::vector<SessionSnapshot>* out, uint64_t* matched) const;
    /// Hands w's filled mailbox to it and waits until it is done or
    /// `deadline_us` passes (false; the worker is still let finish first,
    /// as it may be writing into the requester's buffer). mailbox_mu held.
    bool askWorker(Worker& w, uint64_t deadline_us) const;
    mutable std::mutex mailbox_mu;         // one control request at a time
    mutable std::mutex policy_mu;          // guards `policy`; one reload at a time
    std::shared_ptr<const Policy> policy;  // what the workers match against (the last reload's)
};

}  // namespace tandem
