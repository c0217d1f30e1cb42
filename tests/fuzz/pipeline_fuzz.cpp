// The stateful per-packet pipeline of one node of a four-node cluster, fed a
// sequence of operations cut from the input: frames from its data ports and
// from peers over the peer link, replicas and erasures from peers (through
// the same record conversion and validation as received ones), membership
// views, the HA agent's table-wide commands, policy reloads, aging and the
// passing of time.
// Properties, after every step: each verdict names a port, peer or token
// that exists, and a reset it writes is a TCP RST|ACK that parses; the
// table never holds more than its capacity, and its
// per-owner counts add up to its size; the events it reports name a live
// session of this node.
#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <vector>

#include "cluster/cluster_view.h"
#include "cluster/ha_channel.h"
#include "fuzz_input.h"
#include "packet/packet_parser.h"
#include "pipeline/pipeline.h"
#include "policy/policy.h"
#include "proto/ha_session_record.h"

using namespace tandem;

namespace {

constexpr NodeId kSelf = 1;
constexpr uint32_t kCapacity = 256;

std::shared_ptr<const Policy> compile(std::initializer_list<const char*> texts) {
    std::vector<Rule> rules;
    for (const char* text : texts) {
        RuleError err;
        auto r = parseRule(text, &err);
        if (!r) fuzz::fail("the fuzz target's own rule does not parse");
        rules.push_back(*r);
    }
    std::string error;
    auto compiled = Policy::compile(rules, {"outside", "inside"}, &error);
    if (!compiled) fuzz::fail("the fuzz target's own rules do not compile");
    return compiled;
}

// The policy a node starts with (application rules first: TCP from inside
// waits for its first payload), and the one a reload brings (443 and DNS
// denied now, web logged).
std::shared_ptr<const Policy> policy(bool reloaded = false) {
    static const std::shared_ptr<const Policy> first =
        compile({"allow from inside to outside app tls sni *.example",
                 "deny from inside to outside app http host bad.example reset",
                 "deny from inside to outside app dns name *.bad.example",
                 "allow from inside to outside proto tcp dport 80,443",
                 "allow from inside to outside proto udp dport 53",
                 "allow from inside to outside proto icmp",
                 "allow from outside to inside dst 10.0.1.0/24 proto tcp dport 22",
                 "deny from outside reset log"});
    static const std::shared_ptr<const Policy> second =
        compile({"deny from inside to outside proto tcp dport 443",
                 "allow from inside to outside proto tcp dport 80 log",
                 "allow from inside to outside proto icmp"});
    return reloaded ? second : first;
}

// Address translation (mode bit 4): a small pool, so that it runs out, and
// destination rules both ways (a port forward, a 1:1 address).
const NatSetup& natSetup() {
    static const NatSetup setup = [] {
        NatSetup s;
        NatTextError e;
        s.pools = {*parseNatPool("public 198.51.100.10-198.51.100.11 ports 40000-40127", &e)};
        std::vector<NatRule> rules = {
            *parseNatRule("no-nat from inside to outside proto udp dport 53", s.pools, &e),
            *parseNatRule("dnat from outside dst 198.51.100.20 proto tcp dport 443 to "
                          "10.0.5.20:8443",
                          s.pools, &e),
            *parseNatRule("dnat from inside dst 192.0.2.80 to 10.0.5.21", s.pools, &e),
            *parseNatRule("snat from inside to outside pool public", s.pools, &e)};
        std::string error;
        s.rules = NatRules::compile(rules, s.pools, {"outside", "inside"}, &error);
        return s;
    }();
    return setup;
}

NodeId nodeFrom(fuzz::FuzzInput& in) {
    return NodeId(1 + in.choose(4));
}

// A session built from a frame in the input, as a peer would replicate it.
bool replicaFrom(fuzz::FuzzInput& in, uint32_t now, Session* out, AppIdentity* app) {
    const std::string_view f = in.chunk(256);
    PacketInfo info;
    if (parseFrame(reinterpret_cast<const uint8_t*>(f.data()), f.size(), {}, info) !=
        ParseResult::ok) {
        return false;
    }
    Session s;
    bool src_is_lo = false;
    s.setKey(makeFlowKey(info.tuple(0), &src_is_lo));
    if (src_is_lo) s.flags |= kSessionInitiatorIsLo;
    s.state = SessionState(in.choose(11));
    s.owner = nodeFrom(in);
    s.backup_owner = nodeFrom(in);
    s.origin_owner = nodeFrom(in);
    s.version = in.take<uint8_t>();
    s.expires_ms = now + in.take<uint16_t>() * 10u;
    s.rule = in.choose(6);
    for (TcpWindow& w : s.win) {
        w.end = in.take<uint32_t>();
        w.max_end = in.take<uint32_t>();
        w.max_win = in.take<uint16_t>();
        w.wscale = in.take<uint8_t>();
        w.flags = in.take<uint8_t>() & 0x0f;
    }
    // What a receiver does with a record: validate it, then convert it.
    HaSessionRecord rec = makeHaRecord(HaRecordOp::upsert, s, now);
    rec.app.app.status = AppStatus(in.choose(kMaxAppStatus + 1));
    rec.app.app.proto = AppProtocol(in.choose(kMaxAppProtocol + 1));
    rec.app.app.word = in.take<uint32_t>();
    if (rec.app.app.status == AppStatus::identified) {
        static constexpr std::string_view kNames[] = {"www.example", "a.cdn.example",
                                                      "bad.example"};
        const std::string_view name = kNames[in.choose(3)];
        std::copy(name.begin(), name.end(), rec.app.name.text);
        rec.app.name.len = uint8_t(name.size());
    }
    if (!haRecordValid(rec)) return false;
    *out = haRecordToSession(rec, now);
    *app = rec.app;
    return true;
}

struct Node {
    ClusterViewCell cell;
    WorkerChannel channel{512, 16};
    SessionTable table{kCapacity, 0};
    std::unique_ptr<Pipeline> pipe;
    uint32_t now = 1000;
    std::array<uint8_t, 2048> buf{};

    explicit Node(uint8_t mode) {
        PipelineSettings s;
        s.node = kSelf;
        s.directors = mode & 1;
        s.port_count = 2;
        s.ports[0] = {0, 1};
        s.ports[1] = {1, 0};
        s.view = &cell;
        s.events = &channel.to_agent;
        s.timeouts.tcp_established_s = 5;
        s.timeouts.udp_replied_s = 2;
        if (mode & 4) s.nat = &natSetup();
        pipe = std::make_unique<Pipeline>(s, table, policy());
        setView(0x000f, 0x000f, NodeState::active, mode & 2);
    }

    void setView(uint16_t owners, uint16_t reachable, NodeState state, bool primary_owns) {
        ClusterView v;
        v.self = kSelf;
        v.owners = owners;
        v.reachable = reachable | nodeBit(kSelf);
        v.self_state = state;
        v.primary = 2;
        v.primary_owns = primary_owns;
        v.replicate = (v.reachable & ~nodeBit(kSelf)) != 0;
        cell.publish(v);
    }

    void checkVerdict(const Verdict& v) const {
        FUZZ_CHECK(uint8_t(v.kind) <= uint8_t(VerdictKind::await_owner));
        if (v.kind == VerdictKind::forward || v.kind == VerdictKind::defer ||
            v.kind == VerdictKind::local) {
            FUZZ_CHECK(v.port < 2);
        }
        if (v.kind == VerdictKind::to_peer) {
            FUZZ_CHECK(v.peer >= 1 && v.peer <= kMaxNodes && v.peer != kSelf);
        }
        if (v.kind == VerdictKind::defer) FUZZ_CHECK(v.token != 0);
        if (v.reset) {
            const GeneratedFrame& g = pipe->generated(v.reset);
            PacketInfo info;
            FUZZ_CHECK(g.len > 0 && g.len <= g.bytes.size());
            FUZZ_CHECK(parseFrame(g.bytes.data(), g.len, {}, info) == ParseResult::ok);
            FUZZ_CHECK(info.proto == kProtoTcp && info.tcp.flags == (kTcpRst | kTcpAck));
        }
    }

    void checkTable() {
        FUZZ_CHECK(table.size() <= table.capacity());
        uint64_t by_owner = 0;
        for (NodeId n = 0; n <= kMaxNodes; ++n) by_owner += table.ownerCount(n);
        FUZZ_CHECK(by_owner == table.size());
        WorkerEvent ev;
        while (channel.to_agent.pop(&ev)) {
            if (ev.kind == WorkerEventKind::upsert) {
                FUZZ_CHECK(ev.session.state != SessionState::none);
            }
        }
    }

    void frame(fuzz::FuzzInput& in, Ingress ingress) {
        const uint16_t port = uint16_t(in.choose(2));
        const NodeId sender = ingress == Ingress::peer ? NodeId(2 + in.choose(3)) : kNoNode;
        const auto reason =
            ingress == Ingress::peer ? ForwardReason(in.choose(11)) : ForwardReason::none;
        const std::string_view f = in.chunk(1600);
        // A buffer of its own, as an mbuf's: the pipeline may rewrite the frame.
        std::memcpy(buf.data(), f.data(), f.size());
        const uint16_t len = uint16_t(f.size());
        const Verdict v = pipe->process(buf.data(), len, port, now, ingress, sender, reason);
        checkVerdict(v);
        const PeerOrigin from{sender, reason, sender};
        if (v.kind == VerdictKind::hold) {
            checkVerdict(pipe->releaseHeldFragment(buf.data(), len, port, now, from));
        }
        if (v.kind == VerdictKind::await_owner) {
            checkVerdict(pipe->releaseAwaiting(buf.data(), len, port, now, from));
            // Its wait over: decided, never held again.
            const Verdict last = pipe->releaseAwaiting(buf.data(), len, port, now, from, true);
            checkVerdict(last);
            FUZZ_CHECK(last.kind != VerdictKind::await_owner);
        }
    }

    void command(fuzz::FuzzInput& in) {
        AgentCommand cmd;
        switch (in.choose(8)) {
            case 0:
            case 1:
                if (!replicaFrom(in, now, &cmd.session, &cmd.app)) return;
                cmd.kind = cmd.session.state == SessionState::none || in.take<uint8_t>() & 1
                               ? AgentCommandKind::apply_erase
                               : AgentCommandKind::apply_upsert;
                break;
            case 2:
                cmd.kind = AgentCommandKind::transfer_owner;
                cmd.from = nodeFrom(in);
                cmd.to = in.take<uint8_t>() & 1 ? kNoNode : nodeFrom(in);
                cmd.origin = in.take<uint8_t>() & 1 ? kNoNode : nodeFrom(in);
                break;
            case 3:
                cmd.kind = AgentCommandKind::member_left;
                cmd.from = NodeId(2 + in.choose(3));
                break;
            case 4:
                cmd.kind = AgentCommandKind::rebalance;
                break;
            case 5:
                cmd.kind = AgentCommandKind::bulk_scan;
                cmd.peer = NodeId(2 + in.choose(3));
                cmd.bulk_id = in.take<uint8_t>();
                break;
            case 6:
                cmd.kind = AgentCommandKind::clear_sessions;
                break;
            default: {
                // A policy reload (Pipeline::setPolicy, as the dataplane does).
                const uint8_t b = in.take<uint8_t>();
                pipe->setPolicy(policy(b & 1), b & 2);
                return;
            }
        }
        pipe->apply(cmd, now);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    Node node(in.take<uint8_t>());
    for (unsigned step = 0; step < 256 && !in.empty(); ++step) {
        switch (in.choose(8)) {
            case 0:
            case 1:
            case 2:
                node.frame(in, Ingress::port);
                break;
            case 3:
                node.frame(in, Ingress::peer);
                break;
            case 4:
                node.command(in);
                break;
            case 5: {
                const uint16_t owners = in.take<uint16_t>() & 0x000f;
                const uint16_t reachable = in.take<uint16_t>() & 0x000f;
                node.setView(owners, reachable, NodeState(in.choose(7)), in.take<uint8_t>() & 1);
                break;
            }
            case 6:
                node.pipe->runJobs(node.now, in.take<uint8_t>());
                node.pipe->age(node.now, in.take<uint8_t>());
                break;
            default:
                node.now += in.take<uint16_t>();
                break;
        }
        node.checkTable();
    }
    // Every job ends, some only as time passes (a transfer waits up to a
    // second for a view that lets its target own), as in the worker's loop.
    while (node.pipe->runJobs(node.now, 1024)) {
        node.now += 10;
        node.checkTable();
    }
    node.checkTable();
    return 0;
}
