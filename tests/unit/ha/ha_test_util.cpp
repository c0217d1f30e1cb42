#include "ha_test_util.h"

#include "cluster/election.h"
#include "core/log.h"

namespace tandem::test {

Config makeConfig(NodeId self, const std::vector<NodeId>& all) {
    Config c;
    c.path = "test.conf";
    c.node.id = self;
    c.node.name = "node" + std::to_string(self);
    c.node.cluster_id = 7;
    c.ha.enabled = all.size() > 1;
    c.ha.priority = uint8_t(10 * self);
    c.ha.heartbeat_interval_ms = 25;
    c.ha.hold_time_ms = 100;
    c.ha.listen = "fake";
    c.zones = {"inside", "outside"};
    for (NodeId n : all) {
        if (n == self) continue;
        PeerConfig p;
        p.id = n;
        p.name = "node" + std::to_string(n);
        p.ha_address = "fake";
        c.peers.push_back(p);
    }
    return c;
}

// ---- FakeWorker ------------------------------------------------------------------------

void FakeWorker::emit(const WorkerEvent& ev) {
    if (out_.empty() && channel.to_agent.push(ev)) return;
    out_.push_back(ev);
}

void FakeWorker::flush() {
    size_t i = 0;
    while (i < out_.size() && channel.to_agent.push(out_[i])) ++i;
    out_.erase(out_.begin(), out_.begin() + long(i));
}

void FakeWorker::upsert(const Session& s, uint32_t defer_token) {
    table[s.key()] = s;
    WorkerEvent ev;
    ev.kind = WorkerEventKind::upsert;
    ev.worker = index_;
    ev.defer_token = defer_token;
    ev.session = s;
    emit(ev);
}

void FakeWorker::erase(const FlowKey& key) {
    auto it = table.find(key);
    if (it == table.end()) return;
    WorkerEvent ev;
    ev.kind = WorkerEventKind::erase;
    ev.worker = index_;
    ev.session = it->second;
    table.erase(it);
    emit(ev);
}

void FakeWorker::adopt(NodeId dead) {
    for (auto& [key, s] : table) {
        if (s.owner != dead) continue;
        s.owner = self_;
        s.backup_owner = dead;
        ++s.version;
        s.flags &= uint16_t(~kSessionReplicated);
        WorkerEvent ev;
        ev.kind = WorkerEventKind::upsert;
        ev.worker = index_;
        ev.session = s;
        emit(ev);
    }
}

void FakeWorker::continueScans() {
    while (!scans_.empty() && out_.empty()) {
        Scan& sc = scans_.front();
        while (sc.next < sc.keys.size()) {
            auto it = table.find(sc.keys[sc.next]);
            if (it != table.end()) {
                WorkerEvent ev;
                ev.kind = WorkerEventKind::bulk_record;
                ev.peer = sc.peer;
                ev.bulk_id = sc.id;
                ev.worker = index_;
                ev.session = it->second;
                if (!channel.to_agent.push(ev)) return;  // ring full: go on next time
            }
            ++sc.next;
        }
        WorkerEvent done;
        done.kind = WorkerEventKind::bulk_done;
        done.peer = sc.peer;
        done.bulk_id = sc.id;
        done.worker = index_;
        if (!channel.to_agent.push(done)) return;
        scans_.erase(scans_.begin());
    }
}

void FakeWorker::service(uint32_t now_ms) {
    if (!paused) channel.polled_ms.store(now_ms, std::memory_order_relaxed);
    flush();
    AgentCommand cmd;
    while (!paused && channel.to_worker.pop(&cmd)) {
        switch (cmd.kind) {
            case AgentCommandKind::apply_upsert: {
                Session& s = table[cmd.session.key()];
                if (cmd.session.version >= s.version || s.owner == kNoNode) s = cmd.session;
                ++applied_upserts;
                break;
            }
            case AgentCommandKind::apply_erase:
                table.erase(cmd.session.key());
                ++applied_erases;
                break;
            case AgentCommandKind::release_deferred:
                released.push_back(cmd.token);
                break;
            case AgentCommandKind::bulk_scan: {
                Scan sc{cmd.peer, cmd.bulk_id, {}, 0};
                for (const auto& [key, s] : table)
                    if (s.owner == self_) sc.keys.push_back(key);  // as the pipeline: own sessions
                scans_.push_back(std::move(sc));
                break;
            }
            case AgentCommandKind::transfer_owner: {
                transfers.push_back(cmd);
                for (auto& [key, s] : table) {
                    if (s.owner != cmd.from) continue;
                    if (cmd.origin != kNoNode && s.origin_owner != cmd.origin) continue;
                    if (cmd.to == kNoNode) continue;
                    s.owner = cmd.to;
                    ++s.version;
                    WorkerEvent ev;
                    ev.kind = WorkerEventKind::upsert;
                    ev.worker = index_;
                    ev.session = s;
                    emit(ev);
                }
                break;
            }
            case AgentCommandKind::rebalance:
                ++rebalances;
                break;
            case AgentCommandKind::reevaluate_policy:
                break;  // the dataplane's own
            case AgentCommandKind::member_left: {
                // As the pipeline does when this node is the backup owner
                // (pipeline_cluster_test covers the election details).
                member_left.push_back(cmd.from);
                for (auto& [key, s] : table) {
                    if (s.owner != cmd.from || s.backup_owner != self_) continue;
                    s.owner = self_;
                    s.backup_owner = kNoNode;
                    ++s.version;
                    s.flags &= uint16_t(~kSessionReplicated);
                    WorkerEvent ev;
                    ev.kind = WorkerEventKind::upsert;
                    ev.worker = index_;
                    ev.session = s;
                    emit(ev);
                }
                break;
            }
            case AgentCommandKind::send_peer_link_heartbeat: {
                WorkerEvent ev;
                ev.kind = WorkerEventKind::peer_link_heartbeat;
                ev.peer = self_;
                ev.heartbeat_seq = cmd.heartbeat_seq;
                ev.peer_state = cmd.self_state;
                ev.now_ms = now_ms;
                if (peer_link) peer_link(cmd.peer, ev);
                break;
            }
            case AgentCommandKind::clear_sessions:
                table.clear();
                break;
            case AgentCommandKind::nat_departed:
                nat_departed.push_back(cmd.members);
                break;
        }
    }
    continueScans();
}

// ---- TestNode ---------------------------------------------------------------------------------

size_t TestNode::sessions() const {
    size_t n = 0;
    for (const auto& w : workers) n += w->table.size();
    return n;
}

size_t TestNode::ownedBy(NodeId owner) const {
    size_t n = 0;
    for (const auto& w : workers)
        for (const auto& [key, s] : w->table) n += s.owner == owner;
    return n;
}

const Session* TestNode::find(const FlowKey& key) const {
    for (const auto& w : workers) {
        auto it = w->table.find(key);
        if (it != w->table.end()) return &it->second;
    }
    return nullptr;
}

// ---- TestCluster -----------------------------------------------------------------------------

TestCluster::TestCluster(const std::vector<NodeId>& ids, ClusterOptions options)
    : options_(std::move(options)), ids_(ids) {
    setLogLevel("ha", LogLevel::warn);
    for (NodeId id : ids) {
        auto n = std::make_unique<TestNode>();
        n->id = id;
        n->config = makeConfig(id, ids);
        if (options_.tweak) options_.tweak(n->config);
        nodes_[id] = std::move(n);
    }
}

TestCluster::~TestCluster() = default;

void TestCluster::start(NodeId id) {
    TestNode& n = node(id);
    n.agent.reset();
    n.workers.clear();
    std::vector<WorkerChannel*> channels;
    for (size_t w = 0; w < options_.workers; ++w) {
        n.workers.push_back(std::make_unique<FakeWorker>(id, uint16_t(w), options_.ring_events,
                                                         options_.ring_commands));
        n.workers.back()->peer_link = [this, id](NodeId to, const WorkerEvent& ev) {
            auto it = nodes_.find(to);
            if (it == nodes_.end() || !it->second->up || it->second->workers.empty()) return;
            if (cut_links_.count({std::min(id, to), std::max(id, to)})) return;
            it->second->workers[0]->channel.to_agent.push(ev);
        };
        channels.push_back(&n.workers.back()->channel);
    }
    n.transport = &net.attach(id);
    HaAgentOptions o = options_.agent;
    o.incarnation = (uint64_t(id) << 32) + ++incarnations_;
    n.agent = std::make_unique<HaAgent>(n.config, clock, *n.transport, channels, n.view, o);
    n.up = true;
}

void TestCluster::startAll() {
    for (NodeId id : ids_) start(id);
}

bool TestCluster::startAllActive(uint64_t max_ms) {
    startAll();
    return runUntil(
        [&] {
            for (NodeId id : ids_)
                if (!canOwnSessions(node(id).state())) return false;
            return true;
        },
        max_ms);
}

void TestCluster::crash(NodeId id) {
    TestNode& n = node(id);
    n.up = false;
    net.detach(id);
}

void TestCluster::cutPeerLink(NodeId a, NodeId b, bool cut) {
    const auto key = std::make_pair(std::min(a, b), std::max(a, b));
    if (cut)
        cut_links_.insert(key);
    else
        cut_links_.erase(key);
}

void TestCluster::stepAll() {
    const uint32_t now_ms = clock.nowMs();
    for (auto& [id, n] : nodes_) {
        if (!n->up) continue;
        for (auto& w : n->workers) w->service(now_ms);
        n->agent->step();
    }
}

void TestCluster::run(uint64_t ms, uint64_t step_us) {
    const uint64_t end = clock.nowUs() + ms * 1000;
    while (clock.nowUs() < end) {
        clock.advanceUs(step_us);
        stepAll();
    }
}

bool TestCluster::runUntil(const std::function<bool()>& done, uint64_t max_ms, uint64_t step_us) {
    const uint64_t end = clock.nowUs() + max_ms * 1000;
    while (clock.nowUs() < end) {
        if (done()) return true;
        clock.advanceUs(step_us);
        stepAll();
    }
    return done();
}

}  // namespace tandem::test
