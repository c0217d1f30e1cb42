// CommandParser: reads what an operator typed against the command table —
// expands abbreviations, checks every argument, and builds the request for
// tandemd; and, for the interactive shell, lists what may come next (tab
// completion and `?` help).
//
// Pure: no I/O, no readline, no ZeroMQ. Dynamic completion candidates
// (session ids, node names) come from a caller-supplied ValueProvider.
// Every function is const and thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command_tree.h"

namespace tandem::cli {

/// A command the operator typed, resolved.
struct ParsedCommand {
    const CommandAction* action = nullptr;  ///< points into the table
    std::string canonical;                  ///< command sent to tandemd
    nlohmann::json args = nlohmann::json::object();
    std::string expanded;  ///< the words in full: "show high-availability state"
};

struct ParseError {
    std::string message;  ///< says what was expected
    size_t column = 0;    ///< offset in the line of the word at fault (its end if missing)
};

struct ParseResult {
    std::optional<ParsedCommand> command;  ///< set on success
    std::optional<ParseError> error;       ///< set on failure
    bool empty = false;                    ///< the line held no words (neither is set)
};

/// One line of `?` help: a keyword, "<PLACEHOLDER>" for a value, or "<cr>".
struct HelpItem {
    std::string word;
    std::string help;
};

struct HelpResult {
    std::vector<HelpItem> items;
    std::optional<ParseError> error;  ///< the words before the cursor do not parse
};

/// Returns completion candidates of one dynamic kind (may be empty; may block
/// briefly to ask the daemon).
using ValueProvider = std::function<std::vector<std::string>(ValueSource)>;

class CommandParser {
  public:
    /// `root` must outlive the parser (the table does).
    explicit CommandParser(const CommandNode& root);

    /// Parses one whole line.
    ParseResult parse(std::string_view line) const;

    /// Candidates for the word that ends at the end of `before_cursor` (empty
    /// when a new word is started): keywords the partial word abbreviates,
    /// choice words, and values from `values` that start with it. Sorted,
    /// without duplicates; empty when the words before it do not parse.
    std::vector<std::string> complete(std::string_view before_cursor,
                                      const ValueProvider& values = {}) const;

    /// What may come at the cursor, with one line of help each. When the
    /// cursor is inside a word, only the entries that word abbreviates.
    HelpResult help(std::string_view before_cursor) const;

  private:
    const CommandNode& root_;
};

/// `?` help as printed: one "  word   help" line per item, or "error: ..."
/// when the words before the cursor do not parse. Ends in '\n'.
std::string formatHelp(const HelpResult& help);

}  // namespace tandem::cli
