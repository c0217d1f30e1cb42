#include "fake_transport.h"

#include <algorithm>

namespace tandem {

bool FakeTransport::send(NodeId peer, HaChannel channel, std::string_view bytes) {
    if (!net_->deliver(node_, peer, channel, bytes)) {
        ++refused_;
        return false;
    }
    ++sent_;
    return true;
}

bool FakeTransport::poll(TransportEvent* out) {
    if (!net_->pollFor(node_, out)) return false;
    ++received_;
    return true;
}

std::vector<CounterValue> FakeTransport::counters() const {
    return {{"sent", "Messages sent.", sent_},
            {"send_refused", "Messages refused.", refused_},
            {"received", "Messages received.", received_}};
}

size_t FakeTransport::queued() const {
    auto it = net_->nodes_.find(node_);
    return it == net_->nodes_.end() ? 0 : it->second.queue.size();
}

FakeNetwork::FakeNetwork(const Clock& clock, uint64_t seed) : clock_(clock), rng_(seed) {}
FakeNetwork::~FakeNetwork() = default;

FakeTransport& FakeNetwork::attach(NodeId node, bool authenticates) {
    Node& n = nodes_[node];
    if (!n.transport) n.transport.reset(new FakeTransport(this, node, authenticates));
    n.transport->authenticates_ = authenticates;
    n.attached = true;
    n.queue.clear();
    return *n.transport;
}

void FakeNetwork::detach(NodeId node) {
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    it->second.attached = false;
    it->second.queue.clear();
}

void FakeNetwork::setRules(NodeId from, NodeId to, const FakeLinkRules& rules) {
    rules_[{from, to}] = rules;
}

void FakeNetwork::partition(NodeId a, NodeId b, bool cut, std::optional<HaChannel> channel) {
    const NodeId lo = std::min(a, b), hi = std::max(a, b);
    for (int c = 0; c < 2; ++c) {
        if (channel && int(*channel) != c) continue;
        if (cut)
            cuts_.insert({lo, hi, c});
        else
            cuts_.erase({lo, hi, c});
    }
}

void FakeNetwork::inject(NodeId to, TransportEvent event) {
    auto it = nodes_.find(to);
    if (it == nodes_.end() || !it->second.attached) return;
    enqueue(it->second, clock_.nowUs(), std::move(event));
}

const FakeLinkRules& FakeNetwork::rulesFor(NodeId from, NodeId to) const {
    auto it = rules_.find({from, to});
    return it == rules_.end() ? default_rules_ : it->second;
}

bool FakeNetwork::isCut(NodeId a, NodeId b, HaChannel channel) const {
    return cuts_.count({std::min(a, b), std::max(a, b), int(channel)}) != 0;
}

void FakeNetwork::enqueue(Node& n, uint64_t due, TransportEvent ev) {
    n.queue.push_back(InFlight{due, order_++, std::move(ev)});
    std::push_heap(n.queue.begin(), n.queue.end(), Later{});
}

bool FakeNetwork::deliver(NodeId from, NodeId to, HaChannel channel, std::string_view bytes) {
    auto self = nodes_.find(from);
    if (self == nodes_.end() || !self->second.attached) return false;
    auto it = nodes_.find(to);
    // Like ZeroMQ with "immediate": a message for a node that is not there
    // is accepted and lost, as on a real network.
    bytes_ += bytes.size();
    const FakeLinkRules& r = rulesFor(from, to);
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    const bool lost = r.drop > 0 && coin(rng_) < r.drop;
    const bool twice = r.duplicate > 0 && coin(rng_) < r.duplicate;
    if (it == nodes_.end() || !it->second.attached || lost || isCut(from, to, channel) ||
        (filter_ && filter_(from, to, channel, bytes))) {
        ++dropped_;
        return true;
    }
    for (int copy = 0; copy < (twice ? 2 : 1); ++copy) {
        uint64_t due = clock_.nowUs() + r.delay_us;
        if (r.jitter_us) due += rng_() % (r.jitter_us + 1);
        TransportEvent ev;
        ev.kind = TransportEventKind::message;
        ev.peer = from;
        ev.channel = channel;
        ev.authenticated = it->second.transport->authenticates_ ? from : kNoNode;
        ev.bytes.assign(bytes.data(), bytes.size());
        enqueue(it->second, due, std::move(ev));
        ++delivered_;
    }
    return true;
}

bool FakeNetwork::pollFor(NodeId node, TransportEvent* out) {
    auto it = nodes_.find(node);
    if (it == nodes_.end() || !it->second.attached) return false;
    std::vector<InFlight>& q = it->second.queue;
    if (q.empty() || q.front().due_us > clock_.nowUs()) return false;
    std::pop_heap(q.begin(), q.end(), Later{});
    *out = std::move(q.back().event);
    q.pop_back();
    return true;
}

}  // namespace tandem
