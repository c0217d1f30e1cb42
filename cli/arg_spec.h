// ArgSpec: one argument slot of a command (an ID, an address, a port ...):
// what it accepts, how it is checked, the JSON value it becomes in the
// request's "args", and where tab completion finds candidates.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tandem::cli {

enum class ArgKind {
    integer,  ///< decimal, min..max                         -> JSON number
    ip,       ///< IPv4 or IPv6 address, normalised          -> JSON string
    port,     ///< 0..65535                                  -> JSON number
    proto,    ///< tcp|udp|icmp|icmpv6 or 0..255             -> JSON string ("tcp", "47")
    choice,   ///< one of `choices`, abbreviations expand    -> JSON string
    node,     ///< node id 1..16 or a node name              -> JSON number or string
    word,     ///< any word                                  -> JSON string
};

/// Where completion finds candidates beyond the static ones; the shell asks
/// the daemon for these (CommandParser::complete takes a provider).
enum class ValueSource {
    none,
    session_ids,  ///< ids from "show session all"
    node_names,   ///< names and ids from "show cluster members"
};

struct ArgSpec {
    std::string placeholder;  ///< shown in help and errors: "SRC-IP", "ID"
    std::string key;          ///< field name in the request's "args"
    ArgKind kind = ArgKind::word;
    std::string help;  ///< one line for `?`
    uint64_t min = 0;  ///< integer bounds (kind integer)
    uint64_t max = std::numeric_limits<uint64_t>::max();
    std::vector<std::string> choices;      ///< kind choice: the accepted words
    std::vector<std::string> choice_help;  ///< one line per choice; empty: `help` for all
    std::vector<std::string> suggestions;  ///< completion candidates for free kinds
    ValueSource source = ValueSource::none;
};

/// The outcome of checking one typed word against a slot.
struct ArgCheck {
    std::optional<nlohmann::json> value;  ///< set when the word is accepted
    std::string text;                     ///< the accepted word, expanded / normalised
    std::vector<std::string> ambiguous;   ///< set when a choice abbreviation is ambiguous
};

/// Checks `typed` for `spec`. Pure; thread-safe.
ArgCheck checkArg(const ArgSpec& spec, const std::string& typed);

/// What the slot expects, for messages: "a port 0..65535",
/// "one of: established, syn-sent, ...". Pure.
std::string expectedText(const ArgSpec& spec);

/// Words completion may offer for the slot without asking the daemon
/// (choices, protocol names, suggestions). Pure.
std::vector<std::string> staticCandidates(const ArgSpec& spec);

}  // namespace tandem::cli
