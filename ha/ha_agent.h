// HaAgent: the HA control plane of one node. It runs membership (who is
// alive, this node's state, the primary role), replication (session state to
// and from the peers) and the pre-flight check, talks to the peers through an
// HaTransport and to the dataplane workers through their WorkerChannel rings,
// and publishes the ClusterView the workers read per burst.
//
// Two ways to run it:
//   - start(): its own thread calls step() in a loop; when idle it sleeps in
//     the transport's wait for at most 1 ms (defer tokens need a prompt
//     agent; several nodes may share two cores in the lab);
//   - step(): tests drive it by hand on a SimulatedClock with a FakeNetwork,
//     deterministically and without sleeping.
//
// Thread-safety: the constructor, start() and stop() from one (the daemon's)
// thread. step() only from the agent thread (or the test while no thread
// runs). status(), statusJson(), state(), suspend(), functional(),
// setLinkState() and requestResync() from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/cluster_view.h"
#include "cluster/ha_channel.h"
#include "config/config.h"
#include "core/clock.h"
#include "ha/ha_counters.h"
#include "ha/ha_outbox.h"
#include "ha/ha_status.h"
#include "ha/ha_transport.h"
#include "ha/membership.h"
#include "ha/replication.h"

namespace tandem {

/// Tunables that tandem.conf does not carry (defaults suit production).
struct HaAgentOptions {
    uint32_t peer_link_mtu = 0;           ///< announced in HELLO (0 = unknown, not compared)
    uint64_t incarnation = 0;             ///< 0 = pick a random one (tests pin it)
    uint64_t startup_wait_ms = 0;         ///< 0 = the hold time
    uint64_t bulk_stall_ms = 5000;        ///< tentative gives up a silent peer's bulk sync
    uint64_t bulk_max_ms = 120000;        ///< tentative gives up waiting after this long
    size_t max_messages_per_step = 1024;  ///< transport messages handled per step
    /// A step stops taking transport messages after this long, so heartbeats,
    /// acks and timers run between bursts of large session batches.
    uint64_t max_receive_us = 2000;
    size_t max_events_per_step = 4096;  ///< worker events drained per worker per step
    uint64_t status_interval_ms = 50;   ///< the status snapshot is refreshed this often
    ReplicationOptions replication;
};

/// What an operator command did, for the CLI.
struct HaCommandResult {
    bool ok = true;
    std::string message;
};

class HaAgent {
  public:
    /// `transport`, `workers` and `view` must outlive the agent. `workers`
    /// may be empty (tests). Nothing is sent before the first step().
    HaAgent(const Config& config, const Clock& clock, HaTransport& transport,
            std::vector<WorkerChannel*> workers, ClusterViewCell& view,
            HaAgentOptions options = {});
    ~HaAgent();

    HaAgent(const HaAgent&) = delete;
    HaAgent& operator=(const HaAgent&) = delete;

    /// Starts the agent thread (step() in a loop). Call once.
    void start();
    /// Stops and joins the agent thread; idempotent.
    void stop();

    /// One iteration at clock.nowUs(): pending operator commands, received
    /// messages, worker events, membership timers, replication, view
    /// publication, status. Returns true when it found work (the thread loop
    /// backs off only when it did not).
    bool step();

    /// The latest status snapshot (refreshed every status_interval_ms and on
    /// every state change).
    HaStatus status() const;
    nlohmann::json statusJson() const { return haStatusToJson(status()); }
    /// This node's state as of the last step.
    NodeState state() const { return NodeState(state_.load(std::memory_order_relaxed)); }

    /// Operator: hand every session over to the peers and own nothing.
    HaCommandResult suspend();
    /// Operator: leave the suspended state.
    HaCommandResult functional();
    /// Daemon: a monitored data link (or path) is down (`ok` false) or back.
    void setLinkState(bool ok, const std::string& reason = {});
    /// Operator (`request high-availability state-synchronization resync`):
    /// ask every peer for a full bulk sync of its sessions.
    HaCommandResult requestResync();
    /// Daemon: a policy reload applied a policy of `rules` rules whose
    /// policyHash() is `hash`; HELLOs and heartbeats carry it from now on,
    /// and peers running another one are warned about.
    void setPolicy(uint64_t hash, uint32_t rules);

    /// Counters (any thread).
    const HaCounters& counters() const { return counters_; }
    uint64_t decodeCount(HaDecodeResult r) const { return decode_counters_.get(r); }
    uint64_t incarnation() const { return incarnation_; }

  private:
    enum class CommandKind { suspend, functional, link, resync, policy };
    struct Command {
        CommandKind kind;
        bool ok = true;
        std::string reason;
        uint64_t policy_hash = 0;  // policy
        uint32_t policy_rules = 0;
    };

    void run();
    void applyCommands(uint64_t now_us);
    void handleTransportEvent(TransportEvent& ev, uint64_t now_us);
    void handleMessage(NodeId from, HaMessage& m, uint64_t now_us);
    void handleWorkerEvent(const WorkerEvent& ev, uint64_t now_us);
    void handleMembershipEvents(uint64_t now_us);
    void handOver(HaOwnershipKind why);
    void giveBack(NodeId peer);
    void memberLeft(NodeId peer, const char* why);
    void revertWhenSynced();
    /// NAT: a peer dead for [nat] reassign-after-s has left for good; its
    /// port blocks are lent to the members left until it is back
    /// (nat_departed to every worker when the set changes).
    void natDepartures(uint64_t now_us);
    void notifyPeers(HaOwnershipKind kind, NodeId target);
    void sendPeerLinkHeartbeats(uint64_t now_us);
    /// The workers' stamps (WorkerChannel) into membership: whether they
    /// have started, and for peer-link-detect-ms, whether they poll and when
    /// they last heard each peer's peer-link heartbeat.
    void readWorkerStamps(uint64_t now_us);
    void publishView();
    void snapshot(uint64_t now_us);
    bool configured(NodeId id) const;

    const Config config_;
    const Clock& clock_;
    HaTransport& transport_;
    std::vector<WorkerChannel*> workers_;
    ClusterViewCell& view_cell_;
    const HaAgentOptions options_;
    const uint64_t incarnation_;

    HaCounters counters_;
    CounterBlock<HaDecodeResult, kHaDecodeResultCount> decode_counters_;
    HaOutbox outbox_;
    Membership membership_;
    Replication replication_;

    ClusterView published_;
    bool published_once_ = false;
    bool workers_started_ = false;  ///< each worker polled once (membership waits for it)
    uint64_t next_peer_link_hb_us_ = 0;
    uint32_t peer_link_hb_seq_ = 0;
    uint64_t last_snapshot_us_ = 0;
    bool dirty_ = true;
    std::array<uint64_t, kMaxNodes + 1> nat_down_since_us_{};  ///< 0: alive (or never seen)
    uint16_t nat_departed_ = 0;                                ///< as the workers were last told
    uint16_t ever_active_ = 0;  ///< peers seen active during this run (revert applies to them)
    uint16_t revert_pending_ =
        0;  ///< returned peers to give back to once our bulk sync reached them
    uint16_t warned_version_ = 0;  ///< peers already reported for speaking another version
    /// The first sync message (stream, seq) each peer sent before it was
    /// paired, dropped (unpaired_drop): asked for again once it is.
    struct Missed {
        uint64_t stream = 0, seq = 0;  ///< seq 0: none
    };
    std::array<Missed, kMaxNodes + 1> missed_unpaired_{};
    /// A warning caused by what a peer sends is logged at most this often.
    static constexpr uint64_t kRepeatedWarningUs = 10'000'000;
    uint64_t warned_unknown_us_ = 0;
    uint64_t warned_auth_us_ = 0;

    std::atomic<uint8_t> state_{0};
    mutable std::mutex mu_;  // guards status_ and commands_
    HaStatus status_;
    std::vector<Command> commands_;

    std::atomic<bool> running_{false};
    std::thread thread_;
};

}  // namespace tandem
