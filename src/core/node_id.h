// NodeId: a cluster member's identity, 1..kMaxNodes; 0 means "none".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tandem {

using NodeId = uint8_t;
inline constexpr NodeId kNoNode = 0;
inline constexpr NodeId kMaxNodes = 16;

inline constexpr bool isValidNodeId(unsigned id) {
    return id >= 1 && id <= kMaxNodes;
}

/// Node names are host-name like: [node] name, [peer.ID] name, the shell's
/// `owner NAME`.
inline constexpr size_t kMaxNodeNameLength = 63;

/// 1..kMaxNodeNameLength letters, digits, '.', '-' or '_', the first a letter
/// or digit.
inline constexpr bool isValidNodeName(std::string_view name) {
    if (name.empty() || name.size() > kMaxNodeNameLength) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alnum =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '-' && c != '_'))) return false;
    }
    return true;
}

}  // namespace tandem
