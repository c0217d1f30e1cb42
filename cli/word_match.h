// Keyword abbreviation: which of a set of keywords an operator meant by a
// shortened word, the way vendor firewall shells accept `sh int`.
//
// A typed word `t` abbreviates keyword `k` when, ignoring case,
//   - `t` is a prefix of `k` ("int" -> "interfaces"), or
//   - `k` is hyphenated and `t` is a prefix of each of its parts in order,
//     optionally separated by '-' ("ha" or "hi-av" -> "high-availability",
//     "pl" -> "peer-link").
// An exact match always wins. When several keywords match and one of them is
// the first part of all the others ("state" for "state-synchronization"),
// that one is chosen, so the shorter command stays reachable by abbreviation.
// Anything else matching twice or more is ambiguous.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tandem::cli {

struct WordMatch {
    enum class Kind { none, unique, ambiguous };
    Kind kind = Kind::none;
    std::string word;                     ///< the chosen keyword (unique)
    std::vector<std::string> candidates;  ///< every keyword that matched, sorted
};

/// True when `typed` abbreviates `keyword` by the rules above. Pure.
bool abbreviates(std::string_view typed, std::string_view keyword);

/// Resolves `typed` against `keywords`. Pure; thread-safe.
WordMatch matchWord(std::string_view typed, const std::vector<std::string>& keywords);

/// Lower-cases ASCII letters.
std::string lowerAscii(std::string_view text);

}  // namespace tandem::cli
