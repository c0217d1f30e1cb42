// Verdict dispatch without DPDK: the decision for each verdict as a table,
// then a burst carried out against a recording Io, with small integers
// standing in for mbufs.
#include "dataplane/verdict_dispatch.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tandem;

namespace {

constexpr NodeId kSelf = 1;

Verdict verdict(VerdictKind kind, uint16_t port = 0, NodeId peer = kNoNode,
                NodeId notify = kNoNode) {
    Verdict v;
    v.kind = kind;
    v.port = port;
    v.peer = peer;
    v.notify = notify;
    v.reason = ForwardReason::owner_elsewhere;
    v.token = 77;
    v.flow_hash = 0x1122334455667788ull;
    return v;
}

const PeerOrigin kFromPort{};
const PeerOrigin kFromTwo{2, ForwardReason::owner_elsewhere, 2};      // entered by node 2
const PeerOrigin kViaThree{3, ForwardReason::via_director, 2};        // entered by 2, via 3
const PeerOrigin kHandedBack{3, ForwardReason::director_unknown, 1};  // entered here

struct PlanCase {
    const char* what;
    Verdict v;
    PeerOrigin origin;
    bool geneve;
    bool neighbour_known;  // of port 1
    FramePlan expect;
};

FramePlan plan(FrameAction a, uint16_t port = 0, NodeId peer = kNoNode, NodeId entered = kNoNode,
               bool readdress = false, bool hint = false) {
    return FramePlan{a, port, peer, entered, readdress, hint};
}

const PlanCase kPlans[] = {
    {"forward from a data port: out of its port", verdict(VerdictKind::forward, 1), kFromPort,
     false, false, plan(FrameAction::transmit, 1)},
    {"forward to a port this node does not have: dropped", verdict(VerdictKind::forward, 2),
     kFromPort, false, true, plan(FrameAction::drop)},
    {"forward of a forwarded frame, egress neighbour known: re-addressed and out",
     verdict(VerdictKind::forward, 1), kFromTwo, false, true,
     plan(FrameAction::transmit, 1, kNoNode, kNoNode, true)},
    {"forward of a forwarded frame, egress neighbour unknown: back to the node it entered by",
     verdict(VerdictKind::forward, 1), kViaThree, false, false,
     plan(FrameAction::egress_via_peer, 1, 2)},
    {"forward of a frame a director handed back: it entered here, so out of this node",
     verdict(VerdictKind::forward, 1), kHandedBack, false, false,
     plan(FrameAction::transmit, 1, kNoNode, kNoNode, true)},
    {"GENEVE forward of a forwarded frame: always back to the node it entered by",
     verdict(VerdictKind::forward, 1), kFromTwo, true, true,
     plan(FrameAction::egress_via_peer, 1, 2)},
    {"forward with a node to notify: the hint follows the frame",
     verdict(VerdictKind::forward, 1, kSelf, 3), kFromPort, false, false,
     plan(FrameAction::transmit, 1, kNoNode, kNoNode, false, true)},
    {"to_peer from a data port: entered here", verdict(VerdictKind::to_peer, 0, 4), kFromPort,
     false, false, plan(FrameAction::to_peer, 0, 4, kSelf)},
    {"to_peer passed on by a director: keeps the node it entered by",
     verdict(VerdictKind::to_peer, 0, 4, 2), kFromTwo, false, false,
     plan(FrameAction::to_peer, 0, 4, 2, false, true)},
    {"defer from a data port: parked for its port", verdict(VerdictKind::defer, 1), kFromPort,
     false, false, plan(FrameAction::park, 1)},
    {"defer of a forwarded frame inline: re-addressed and parked", verdict(VerdictKind::defer, 1),
     kFromTwo, false, false, plan(FrameAction::park, 1, kNoNode, kNoNode, true)},
    {"GENEVE defer of a forwarded frame: parked to leave by the node it entered by",
     verdict(VerdictKind::defer, 1), kFromTwo, true, true, plan(FrameAction::park, 1, 2)},
    {"defer to a port this node does not have: dropped", verdict(VerdictKind::defer, 5), kFromPort,
     false, false, plan(FrameAction::drop)},
    {"a health check from a data port: answered", verdict(VerdictKind::local, 0), kFromPort, true,
     false, plan(FrameAction::answer, 0)},
    {"a health check from the peer link: dropped", verdict(VerdictKind::local, 0), kFromTwo, true,
     false, plan(FrameAction::drop)},
    {"hold: to the fragment hold", verdict(VerdictKind::hold), kFromTwo, false, false,
     plan(FrameAction::hold)},
    {"await_owner: held for its flow's owner", verdict(VerdictKind::await_owner), kFromTwo, false,
     false, plan(FrameAction::await_owner)},
    {"drop: dropped", verdict(VerdictKind::drop, 1, kNoNode, 3), kFromPort, false, true,
     plan(FrameAction::drop)},
};

// What the worker was asked to do, in order, as text.
struct RecordingIo {
    std::vector<std::string> log;
    bool encapsulate_ok = true;
    bool answer_ok = true;
    bool hold_ok = true;
    bool encapsulate(uintptr_t f, PeerLinkType type, NodeId to, NodeId entered,
                     ForwardReason reason, uint16_t port, uint32_t hint) {
        log.push_back("encap " + std::to_string(f) + " type " + std::to_string(int(type)) + " to " +
                      std::to_string(to) + " entered " + std::to_string(entered) + " reason " +
                      std::to_string(int(reason)) + " port " + std::to_string(port) + " hint " +
                      std::to_string(hint));
        return encapsulate_ok;
    }
    bool answerHealthCheck(uintptr_t f) {
        log.push_back("answer " + std::to_string(f));
        return answer_ok;
    }
    void park(uintptr_t f, const Verdict& v, NodeId via) {
        log.push_back("park " + std::to_string(f) + " token " + std::to_string(v.token) + " via " +
                      std::to_string(via));
    }
    bool hold(uintptr_t f, uint16_t port, const PeerOrigin& from) {
        log.push_back("hold " + std::to_string(f) + " port " + std::to_string(port) + " from " +
                      std::to_string(from.node));
        return hold_ok;
    }
    bool awaitOwner(uintptr_t f, uint16_t port, const PeerOrigin& from, uint32_t wait_ms) {
        log.push_back("await " + std::to_string(f) + " port " + std::to_string(port) + " from " +
                      std::to_string(from.node) + " for " + std::to_string(wait_ms));
        return hold_ok;
    }
    void ownerHint(NodeId to, uint64_t, NodeId owner) {
        log.push_back("hint to " + std::to_string(to) + " owner " + std::to_string(owner));
    }
    void free(uintptr_t f) { log.push_back("free " + std::to_string(f)); }
    // Generated frames are 100 + the reset's number, their bytes here.
    bool buffers = true;
    uint8_t generated_bytes[4][14] = {};
    uintptr_t generated(uint8_t reset, uint8_t** data) {
        log.push_back("generated " + std::to_string(reset));
        if (!buffers) return 0;
        *data = generated_bytes[reset % 4];
        return 100 + reset;
    }
};

using Burst = BurstOf<uintptr_t>;
using Tx = TxListsOf<uintptr_t>;

}  // namespace

TEST_CASE("each verdict is planned by how its frame came and what the node knows") {
    for (const PlanCase& c : kPlans) {
        CAPTURE(c.what);
        PortNeighbours nb;
        const uint8_t mac[6] = {2, 0, 0, 0, 0, 9};
        if (c.neighbour_known) nb.learn(1, mac);
        const FramePlan p = planVerdict(c.v, c.origin, DispatchSettings{kSelf, c.geneve, 2}, nb);
        CHECK(int(p.action) == int(c.expect.action));
        CHECK(p.port == c.expect.port);
        CHECK(p.peer == c.expect.peer);
        CHECK(p.entered == c.expect.entered);
        CHECK(p.readdress == c.expect.readdress);
        CHECK(p.owner_hint == c.expect.owner_hint);
    }
}

TEST_CASE("a forwarded frame leaving by a port is re-addressed to this node's neighbours") {
    PortNeighbours nb;
    uint8_t frame[14] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb};
    nb.readdress(frame, 0, 1);  // nothing learned: left as it is
    CHECK(frame[0] == 0xaa);
    const uint8_t in[6] = {2, 0, 0, 0, 0, 1}, out[6] = {2, 0, 0, 0, 0, 2};
    nb.learn(1, out);
    nb.readdress(frame, 0, 1);  // only the egress side known: destination only
    CHECK(frame[5] == 2);
    CHECK(frame[6] == 0xbb);
    nb.learn(0, in);
    nb.readdress(frame, 0, 1);
    CHECK(std::vector<uint8_t>(frame, frame + 12) ==
          std::vector<uint8_t>{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1});
}

TEST_CASE("a burst's frames go to port lists, the peer list, the parking lot, the hold or free") {
    uint8_t bytes[8][14] = {};
    Burst b;
    b.reset(0, false);
    for (uintptr_t i = 0; i < 8; ++i) b.push(10 + i, bytes[i], 60);
    const Verdict v[] = {
        verdict(VerdictKind::forward, 1),
        verdict(VerdictKind::to_peer, 0, 3, 2),  // tell node 2 that 3 owns it
        verdict(VerdictKind::defer, 0),
        verdict(VerdictKind::forward, 0),
        verdict(VerdictKind::drop),
        verdict(VerdictKind::hold),
        verdict(VerdictKind::local, 1),
        verdict(VerdictKind::await_owner),
    };
    PortNeighbours nb;
    RecordingIo io;
    Tx tx;
    const DispatchCounts c = dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, io, tx);
    CHECK(c.egress_via_peer == 0);
    CHECK(tx.port_n[0] == 1);
    CHECK(tx.port[0][0] == 13);
    REQUIRE(tx.port_n[1] == 2);
    CHECK(tx.port[1][0] == 10);
    CHECK(tx.port[1][1] == 16);  // the answered health check
    REQUIRE(tx.peer_n == 1);
    CHECK(tx.peer[0] == 11);
    const uint32_t hint = 0x55667788;
    CHECK(io.log ==
          std::vector<std::string>{
              "encap 11 type 1 to 3 entered 1 reason 1 port 0 hint " + std::to_string(hint),
              "hint to 2 owner 3", "park 12 token 77 via 0", "free 14", "hold 15 port 0 from 0",
              "answer 16",
              "await 17 port 0 from 0 for 77",  // the verdict's token: its wait
          });
}

TEST_CASE("plain forwards leave as they are, with a hint or to a missing port not") {
    uint8_t bytes[4][14] = {};
    Burst b;
    b.reset(0, false);
    for (uintptr_t i = 0; i < 4; ++i) b.push(50 + i, bytes[i], 60);
    const Verdict v[] = {
        verdict(VerdictKind::forward, 1),
        verdict(VerdictKind::forward, 0, kSelf, 3),  // tell node 3 that this node owns it
        verdict(VerdictKind::forward, 2),            // no port 2 on this node
        verdict(VerdictKind::forward, 1),
    };
    PortNeighbours nb;
    RecordingIo io;
    Tx tx;
    dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, io, tx);
    REQUIRE(tx.port_n[1] == 2);
    CHECK(tx.port[1][0] == 50);
    CHECK(tx.port[1][1] == 53);
    REQUIRE(tx.port_n[0] == 1);
    CHECK(tx.port[0][0] == 51);
    CHECK(tx.peer_n == 0);
    CHECK(io.log == std::vector<std::string>{"hint to 3 owner 1", "free 52"});
}

TEST_CASE("a frame that cannot take its way is freed, and no hint goes for it") {
    uint8_t bytes[5][14] = {};
    Burst b;
    b.reset(1, true);
    b.push(20, bytes[0], 60, kFromTwo);
    b.push(21, bytes[1], 60, kFromTwo);
    b.push(22, bytes[2], 60, kFromTwo);
    b.push(23, bytes[3], 60, kFromTwo);
    b.push(24, bytes[4], 60, kFromTwo);
    const Verdict v[] = {
        verdict(VerdictKind::to_peer, 0, 3, 2),
        verdict(VerdictKind::forward, 0, kSelf, 2),  // no neighbour on port 0: back to node 2
        verdict(VerdictKind::hold),
        verdict(VerdictKind::local, 0),  // from the peer link: never answered
        verdict(VerdictKind::await_owner),
    };
    PortNeighbours nb;
    RecordingIo io;
    io.encapsulate_ok = false;
    io.hold_ok = false;
    Tx tx;
    const DispatchCounts c = dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, io, tx);
    CHECK(c.egress_via_peer == 0);
    CHECK(tx.peer_n == 0);
    CHECK(tx.port_n[0] == 0);
    CHECK(io.log.size() == 9);
    CHECK(io.log[1] == "free 20");
    CHECK(io.log[3] == "free 21");
    CHECK(io.log[4] == "hold 22 port 1 from 2");
    CHECK(io.log[5] == "free 22");
    CHECK(io.log[6] == "free 23");
    CHECK(io.log[7] == "await 24 port 1 from 2 for 77");
    CHECK(io.log[8] == "free 24");

    // The same with the peer link working: the egress frame is counted and hinted.
    RecordingIo ok;
    Tx tx2;
    const DispatchCounts c2 =
        dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, ok, tx2);
    CHECK(c2.egress_via_peer == 1);
    REQUIRE(tx2.peer_n == 2);
    CHECK(tx2.peer[1] == 21);
    CHECK(ok.log[2].rfind("encap 21 type 3 to 2 entered 0 reason 4 port 0", 0) == 0);
    CHECK(ok.log[3] == "hint to 2 owner 1");
}

TEST_CASE("a forwarded frame sent out of a port leaves with this node's neighbours' addresses") {
    uint8_t frame[14] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb};
    Burst b;
    b.reset(0, true);
    b.push(30, frame, 60, kFromTwo);
    PortNeighbours nb;
    const uint8_t in[6] = {2, 0, 0, 0, 0, 1}, out[6] = {2, 0, 0, 0, 0, 2};
    nb.learn(0, in);
    nb.learn(1, out);
    const Verdict v = verdict(VerdictKind::forward, 1);
    RecordingIo io;
    Tx tx;
    dispatchVerdicts(b, &v, DispatchSettings{kSelf, false, 2}, nb, io, tx);
    REQUIRE(tx.port_n[1] == 1);
    CHECK(io.log.empty());
    CHECK(frame[5] == 2);   // to port 1's neighbour
    CHECK(frame[11] == 1);  // from port 0's
}

TEST_CASE("a verdict's reset goes back out of the port its frame came in by") {
    uint8_t bytes[3][14] = {};
    Burst b;
    b.reset(0, false);
    for (uintptr_t i = 0; i < 3; ++i) b.push(40 + i, bytes[i], 60);
    Verdict v[] = {
        verdict(VerdictKind::drop),        // a SYN a reset rule denies: dropped, reset back
        verdict(VerdictKind::forward, 1),  // a denied segment on as a reset, one back
        verdict(VerdictKind::forward, 1),  // no reset
    };
    v[0].reset = 1;
    v[1].reset = 2;
    PortNeighbours nb;
    RecordingIo io;
    Tx tx;
    const DispatchCounts c = dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, io, tx);
    CHECK(c.resets_sent == 2);
    CHECK(c.resets_unsent == 0);
    REQUIRE(tx.port_n[0] == 2);
    CHECK(tx.port[0][0] == 101);
    CHECK(tx.port[0][1] == 102);
    REQUIRE(tx.port_n[1] == 2);
    CHECK(tx.port[1][0] == 41);
    CHECK(tx.port[1][1] == 42);
    CHECK(io.log == std::vector<std::string>{"generated 1", "free 40", "generated 2"});

    // No buffer for it: counted, and the frames go their way.
    RecordingIo empty;
    empty.buffers = false;
    Tx tx2;
    const DispatchCounts c2 =
        dispatchVerdicts(b, v, DispatchSettings{kSelf, false, 2}, nb, empty, tx2);
    CHECK(c2.resets_sent == 0);
    CHECK(c2.resets_unsent == 2);
    CHECK(tx2.port_n[0] == 0);
    CHECK(tx2.port_n[1] == 2);
}

TEST_CASE("a reset for a forwarded frame leaves by this node only where it can be addressed") {
    uint8_t frame[14] = {};
    Burst b;
    b.reset(0, true);
    b.push(50, frame, 60, kFromTwo);
    Verdict v = verdict(VerdictKind::drop);
    v.reset = 1;
    const DispatchSettings inline_mode{kSelf, false, 2}, geneve{kSelf, true, 2};

    // Port 0's neighbour not learned: no address to send it to.
    PortNeighbours nb;
    RecordingIo io;
    Tx tx;
    DispatchCounts c = dispatchVerdicts(b, &v, inline_mode, nb, io, tx);
    CHECK(c.resets_unsent == 1);
    CHECK(tx.port_n[0] == 0);

    // Learned: sent to it.
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 7};
    nb.learn(0, mac);
    RecordingIo io2;
    Tx tx2;
    c = dispatchVerdicts(b, &v, inline_mode, nb, io2, tx2);
    CHECK(c.resets_sent == 1);
    REQUIRE(tx2.port_n[0] == 1);
    CHECK(io2.generated_bytes[1][5] == 7);

    // GENEVE: never (the load balancer takes back only what it sent).
    RecordingIo io3;
    Tx tx3;
    c = dispatchVerdicts(b, &v, geneve, nb, io3, tx3);
    CHECK(c.resets_unsent == 1);
    CHECK(tx3.port_n[0] == 0);

    // From this node's own port: always.
    Burst own;
    own.reset(0, false);
    own.push(51, frame, 60);
    PortNeighbours none;
    RecordingIo io4;
    Tx tx4;
    c = dispatchVerdicts(own, &v, geneve, none, io4, tx4);
    CHECK(c.resets_sent == 1);
    CHECK(tx4.port_n[0] == 1);
}
