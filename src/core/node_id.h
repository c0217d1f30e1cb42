// NodeId: a cluster member's identity, 1..kMaxNodes; 0 means "none".
#pragma once

#include <cstdint>

namespace tandem {

using NodeId = uint8_t;
inline constexpr NodeId kNoNode = 0;
inline constexpr NodeId kMaxNodes = 16;

inline constexpr bool isValidNodeId(unsigned id) { return id >= 1 && id <= kMaxNodes; }

}  // namespace tandem
