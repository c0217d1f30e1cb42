// Test harness for the HA agent: nodes with fake dataplane workers on a
// FakeNetwork, driven step by step on one SimulatedClock.
//
// FakeWorker plays the dataplane's side of the rings: it keeps a session
// table, applies replicas, answers bulk scans (resumably, as ring space
// allows), moves ownership on transfer_owner, records released defer tokens
// and carries peer-link heartbeats to the other node's worker 0 unless the
// test cut that link.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/ha_channel.h"
#include "config/config.h"
#include "core/clock.h"
#include "fake_transport.h"
#include "fixtures/sessions.h"  // makeSession
#include "ha/ha_agent.h"

namespace tandem::test {

/// A config for node `self` in a cluster of `all` nodes: fast timers
/// (25 ms heartbeats, 100 ms hold), priority 10 × id (node 1 is best).
Config makeConfig(NodeId self, const std::vector<NodeId>& all);

struct FlowKeyHash {
    size_t operator()(const FlowKey& k) const { return size_t(flowHash(k)); }
};

class FakeWorker {
  public:
    using PeerLink = std::function<void(NodeId to, const WorkerEvent& ev)>;

    FakeWorker(NodeId self, uint16_t index, size_t ring_events, size_t ring_commands)
        : channel(ring_events, ring_commands), self_(self), index_(index) {}

    WorkerChannel channel;
    std::unordered_map<FlowKey, Session, FlowKeyHash> table;
    std::vector<uint32_t> released;  ///< defer tokens released, in order
    std::vector<AgentCommand> transfers;
    std::vector<NodeId> member_left;     ///< `from` of each member_left scan, in order
    uint32_t rebalances = 0;             ///< rebalance commands received
    std::vector<uint16_t> nat_departed;  ///< `members` of each nat_departed, in order
    uint64_t applied_upserts = 0, applied_erases = 0;
    PeerLink peer_link;
    bool paused = false;  ///< a stalled worker: takes no commands

    /// Creates (or changes) a session this worker owns and reports it.
    void upsert(const Session& s, uint32_t defer_token = 0);
    void erase(const FlowKey& key);
    /// Takes sessions of `dead` over (as the dataplane does on their next packet).
    void adopt(NodeId dead);
    /// Drains the command ring and continues any bulk scan.
    void service(uint32_t now_ms);
    /// Events waiting for the agent that could not be pushed yet.
    size_t backlog() const { return out_.size(); }

  private:
    void emit(const WorkerEvent& ev);
    void flush();
    void continueScans();

    NodeId self_;
    uint16_t index_;
    std::vector<WorkerEvent> out_;  // events behind a full ring, in order
    struct Scan {
        NodeId peer;
        uint32_t id;
        std::vector<FlowKey> keys;
        size_t next = 0;
    };
    std::vector<Scan> scans_;
};

struct TestNode {
    NodeId id = kNoNode;
    Config config;
    std::vector<std::unique_ptr<FakeWorker>> workers;
    ClusterViewCell view;
    FakeTransport* transport = nullptr;
    std::unique_ptr<HaAgent> agent;
    bool up = false;

    FakeWorker& worker(size_t i = 0) { return *workers[i]; }
    size_t sessions() const;
    /// Sessions across workers whose owner is `owner`.
    size_t ownedBy(NodeId owner) const;
    const Session* find(const FlowKey& key) const;
    NodeState state() const { return agent->state(); }
    ClusterView clusterView() const { return view.load(); }
};

struct ClusterOptions {
    size_t workers = 1;
    size_t ring_events = 65536;
    size_t ring_commands = 65536;
    std::function<void(Config&)> tweak;  ///< applied to every node's config
    HaAgentOptions agent = freshStatus();

    /// Status snapshots refreshed every step, so tests read current figures.
    static HaAgentOptions freshStatus() {
        HaAgentOptions o;
        o.status_interval_ms = 0;
        return o;
    }
};

class TestCluster {
  public:
    TestCluster(const std::vector<NodeId>& ids, ClusterOptions options = {});
    ~TestCluster();

    SimulatedClock clock;
    FakeNetwork net{clock};

    TestNode& node(NodeId id) { return *nodes_.at(id); }
    /// Starts (or restarts, with a fresh table and incarnation) node `id`.
    void start(NodeId id);
    void startAll();
    /// Starts every node and runs until each may own sessions or `max_ms`
    /// passed; returns whether all are active.
    bool startAllActive(uint64_t max_ms);
    /// Kills node `id`: no more steps, messages to it are lost.
    void crash(NodeId id);
    /// Cuts or heals the peer link between a and b.
    void cutPeerLink(NodeId a, NodeId b, bool cut);
    /// Advances time by `ms`, stepping every live node every `step_us`.
    void run(uint64_t ms, uint64_t step_us = 1000);
    /// Runs until `done()` or `max_ms` passed; returns whether done.
    bool runUntil(const std::function<bool()>& done, uint64_t max_ms, uint64_t step_us = 1000);
    /// One step of every live node at the current time.
    void stepAll();

  private:
    ClusterOptions options_;
    std::vector<NodeId> ids_;
    std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
    std::set<std::pair<NodeId, NodeId>> cut_links_;
    uint64_t incarnations_ = 0;
};

}  // namespace tandem::test
