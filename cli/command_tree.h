// CommandNode: one word of the shell's command tree, and what running the
// command that ends at it does.
//
// The tree is data (cli/command_table.cpp holds the only instance): keyword
// nodes lead to a leaf whose CommandAction names the canonical command sent
// to tandemd and the argument slots that fill the request's "args":
//   - `args`: required positional values, in order;
//   - `optional_args`: trailing positional values that may be left out
//     (normally `choice` slots, whose words then read like keywords);
//   - `options`: "keyword [VALUE]" pairs in any order, each at most once —
//     a keyword without a value is a flag that sets its key to true.
// A node has either children or an action, never both.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "cli/arg_spec.h"

namespace tandem::cli {

/// A "keyword [VALUE]" element of a command (a filter such as `src 10.0.0.1`).
struct OptionSpec {
    std::string keyword;
    std::string help;
    std::optional<ArgSpec> value;  ///< none: a flag
    std::string flag_key;          ///< for a flag: the args field set to true
};

/// Commands the shell answers itself, without the daemon.
enum class Builtin { none, exit, help };

struct CommandAction {
    std::string canonical;               ///< command sent to tandemd ("" for builtins)
    std::vector<ArgSpec> args;           ///< required, in order
    std::vector<ArgSpec> optional_args;  ///< may follow the required ones
    std::vector<OptionSpec> options;     ///< any order, each once
    size_t min_options = 0;              ///< options that must be given (filters)
    Builtin builtin = Builtin::none;
};

struct CommandNode {
    std::string word;
    std::string help;
    std::vector<CommandNode> children;
    std::optional<CommandAction> action;
};

}  // namespace tandem::cli
