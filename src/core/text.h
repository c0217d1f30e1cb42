// Small text helpers shared by every layer: reading unsigned numbers,
// splitting a line into words with their columns, joining words. One of each, here, so the config
// loader, the daemon's control handlers and the shell accept and word things alike.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

/// `text` as a decimal number within [lo, hi]: digits only (no sign, no
/// blanks, no base prefix); nullopt for anything else, an overflow included.
std::optional<uint64_t> parseUnsigned(std::string_view text, uint64_t lo = 0,
                                      uint64_t hi = std::numeric_limits<uint64_t>::max());

/// One word of a line of text and where it starts.
struct TextWord {
    std::string_view text;
    unsigned column = 0;  ///< 1-based, in bytes
};

/// The words of `text`, split at blanks (space, tab, CR, LF, VT, FF), each
/// with its column: what error messages point at.
std::vector<TextWord> splitWords(std::string_view text);

/// `words` joined with `separator` ("a, b, c").
std::string joinWords(const std::vector<std::string>& words, std::string_view separator = ", ");

}  // namespace tandem
