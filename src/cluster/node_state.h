// NodeState: where a cluster member is in its life (docs/architecture.md,
// "Node states and ownership").
#pragma once

#include <cstdint>

namespace tandem {

enum class NodeState : uint8_t {
    initial = 0,       ///< starting, not yet in touch with any peer
    tentative,         ///< joined, bulk sync running: forwards, owns nothing new
    active_primary,    ///< pair: the primary (owns everything in `primary` owner mode)
    active_secondary,  ///< pair: the other active node
    active,            ///< cluster (3+ nodes): an active member
    suspended,         ///< operator request: hands its sessions over, owns nothing
    non_functional,    ///< a monitored link or path is down: hands over, owns nothing
};

/// Highest NodeState value; a byte above it is not a state (wire decoding).
inline constexpr uint8_t kMaxNodeStateValue = uint8_t(NodeState::non_functional);

/// True when `v` names a NodeState (decoders check bytes from the wire).
inline constexpr bool isValidNodeState(unsigned v) {
    return v <= kMaxNodeStateValue;
}

/// "active-primary", "tentative", ... (the words the docs use, and the CLI
/// and logs). "?" for a value that is not a state. Any thread.
const char* nodeStateName(NodeState s);

/// Only active nodes own sessions.
inline constexpr bool canOwnSessions(NodeState s) {
    return s == NodeState::active_primary || s == NodeState::active_secondary ||
           s == NodeState::active;
}

}  // namespace tandem
