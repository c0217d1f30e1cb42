// Node states: names as the docs and the CLI spell them, and which states own sessions.
#include "cluster/node_state.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "cluster/cluster_view.h"

namespace tandem {
namespace {

TEST_CASE("every node state has the name the docs give it") {
    CHECK(std::string(nodeStateName(NodeState::initial)) == "initial");
    CHECK(std::string(nodeStateName(NodeState::tentative)) == "tentative");
    CHECK(std::string(nodeStateName(NodeState::active_primary)) == "active-primary");
    CHECK(std::string(nodeStateName(NodeState::active_secondary)) == "active-secondary");
    CHECK(std::string(nodeStateName(NodeState::active)) == "active");
    CHECK(std::string(nodeStateName(NodeState::suspended)) == "suspended");
    CHECK(std::string(nodeStateName(NodeState::non_functional)) == "non-functional");
    CHECK(std::string(nodeStateName(NodeState(200))) == "?");
}

TEST_CASE("only active states own sessions and only real values are states") {
    std::set<std::string> names;
    for (unsigned v = 0; v <= kMaxNodeStateValue; ++v) {
        CHECK(isValidNodeState(v));
        names.insert(nodeStateName(NodeState(v)));
    }
    CHECK(names.size() == kMaxNodeStateValue + 1u);
    CHECK_FALSE(isValidNodeState(kMaxNodeStateValue + 1));
    CHECK(canOwnSessions(NodeState::active_primary));
    CHECK(canOwnSessions(NodeState::active_secondary));
    CHECK(canOwnSessions(NodeState::active));
    CHECK_FALSE(canOwnSessions(NodeState::initial));
    CHECK_FALSE(canOwnSessions(NodeState::tentative));
    CHECK_FALSE(canOwnSessions(NodeState::suspended));
    CHECK_FALSE(canOwnSessions(NodeState::non_functional));
}

TEST_CASE("a cluster view survives packing into one word") {
    ClusterView v;
    v.owners = 0b1011;
    v.reachable = 0xffff;
    v.self = 16;
    v.primary = 3;
    v.self_state = NodeState::non_functional;
    v.primary_owns = true;
    v.replicate = true;
    v.epoch = 201;
    const ClusterView u = ClusterView::unpack(v.pack());
    CHECK(u.owners == v.owners);
    CHECK(u.reachable == v.reachable);
    CHECK(u.self == 16);
    CHECK(u.primary == 3);
    CHECK(u.self_state == NodeState::non_functional);
    CHECK(u.primary_owns);
    CHECK(u.replicate);
    CHECK(u.epoch == 201);
    CHECK(u.mayOwn(1));
    CHECK_FALSE(u.mayOwn(3));
    CHECK(u.isReachable(16));
    ClusterViewCell cell;
    cell.publish(v);
    CHECK(cell.load().pack() == v.pack());
}

}  // namespace
}  // namespace tandem
