// FakeNetwork: an in-memory network of HA transports for tests, on simulated
// time. Each node attaches and gets a FakeTransport; messages sent between
// them are delivered when the shared clock reaches their delivery time.
// Per-link rules drop, delay, reorder (jitter) and duplicate messages with a
// seeded generator, a filter drops chosen messages, and partitions cut
// links, per channel or whole. Everything is deterministic for a given seed
// and sequence of calls.
//
// Thread-safety: none. One thread drives the network and all its
// transports (the test's thread).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <tuple>

#include "core/clock.h"
#include "ha/ha_transport.h"

namespace tandem {

class FakeNetwork;

/// One node's end of a FakeNetwork. Owned by the network.
class FakeTransport final : public HaTransport {
  public:
    bool send(NodeId peer, HaChannel channel, std::string_view bytes) override;
    bool poll(TransportEvent* out) override;
    void wait(uint64_t) override {}
    bool authenticates() const override { return authenticates_; }
    std::vector<CounterValue> counters() const override;

    NodeId node() const { return node_; }
    /// Messages waiting for this node (delivered or not yet due).
    size_t queued() const;

  private:
    friend class FakeNetwork;
    FakeTransport(FakeNetwork* net, NodeId node, bool authenticates)
        : net_(net), node_(node), authenticates_(authenticates) {}
    FakeNetwork* net_;
    NodeId node_;
    bool authenticates_;
    uint64_t sent_ = 0, refused_ = 0, received_ = 0;
};

/// How one direction of a link misbehaves.
struct FakeLinkRules {
    double drop = 0;         ///< probability a message is lost
    double duplicate = 0;    ///< probability a message is delivered twice
    uint64_t delay_us = 0;   ///< fixed latency
    uint64_t jitter_us = 0;  ///< extra random latency (reorders messages)
};

class FakeNetwork {
  public:
    explicit FakeNetwork(const Clock& clock, uint64_t seed = 1);
    ~FakeNetwork();

    /// Attaches node `node` (again: a restart, its queue is emptied) and
    /// returns its transport. `authenticates`: messages carry the proven
    /// sender, as with CURVE.
    FakeTransport& attach(NodeId node, bool authenticates = true);
    /// Detaches a node (it crashed): messages to it are lost, its transport
    /// refuses to send. Its FakeTransport object stays valid.
    void detach(NodeId node);

    /// Rules for messages from `from` to `to` (both directions: call twice).
    void setRules(NodeId from, NodeId to, const FakeLinkRules& rules);
    /// Rules for every link without its own.
    void setDefaultRules(const FakeLinkRules& rules) { default_rules_ = rules; }

    /// Cuts (or heals) both directions between a and b, on one channel or both.
    void partition(NodeId a, NodeId b, bool cut, std::optional<HaChannel> channel = std::nullopt);

    /// Drops every message for which `drop_if` returns true (nullptr: none).
    using Filter = std::function<bool(NodeId from, NodeId to, HaChannel, std::string_view bytes)>;
    void setFilter(Filter drop_if) { filter_ = std::move(drop_if); }

    /// Delivers `event` to `to` as it is (forged identities, garbage bytes).
    void inject(NodeId to, TransportEvent event);

    uint64_t delivered() const { return delivered_; }
    uint64_t dropped() const { return dropped_; }
    uint64_t bytes() const { return bytes_; }

  private:
    friend class FakeTransport;
    struct InFlight {
        uint64_t due_us;
        uint64_t order;
        TransportEvent event;
    };
    struct Later {
        bool operator()(const InFlight& a, const InFlight& b) const {
            return std::tie(a.due_us, a.order) > std::tie(b.due_us, b.order);
        }
    };
    struct Node {
        std::unique_ptr<FakeTransport> transport;
        bool attached = false;
        std::vector<InFlight> queue;  // heap ordered by Later
    };

    bool deliver(NodeId from, NodeId to, HaChannel channel, std::string_view bytes);
    bool pollFor(NodeId node, TransportEvent* out);
    const FakeLinkRules& rulesFor(NodeId from, NodeId to) const;
    bool isCut(NodeId a, NodeId b, HaChannel channel) const;
    void enqueue(Node& n, uint64_t due, TransportEvent ev);

    const Clock& clock_;
    std::mt19937_64 rng_;
    std::map<NodeId, Node> nodes_;
    std::map<std::pair<NodeId, NodeId>, FakeLinkRules> rules_;
    FakeLinkRules default_rules_;
    std::set<std::tuple<NodeId, NodeId, int>> cuts_;  // (lo, hi, channel)
    Filter filter_;
    uint64_t order_ = 0;
    uint64_t delivered_ = 0, dropped_ = 0, bytes_ = 0;
};

}  // namespace tandem
