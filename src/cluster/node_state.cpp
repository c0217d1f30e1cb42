#include "cluster/node_state.h"

namespace tandem {

const char* nodeStateName(NodeState s) {
    switch (s) {
        case NodeState::initial:
            return "initial";
        case NodeState::tentative:
            return "tentative";
        case NodeState::active_primary:
            return "active-primary";
        case NodeState::active_secondary:
            return "active-secondary";
        case NodeState::active:
            return "active";
        case NodeState::suspended:
            return "suspended";
        case NodeState::non_functional:
            return "non-functional";
    }
    return "?";
}

}  // namespace tandem
