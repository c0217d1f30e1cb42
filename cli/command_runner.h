// CommandRunner: runs one typed line — parse, ask tandemd, render — and says
// what to print and which exit status it deserves. Shared by `tandem -c`,
// piped input and the interactive shell, which differ only in how they print.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "cli/command_parser.h"
#include "cli/control_client.h"

namespace tandem::cli {

/// Exit statuses of `tandem` (also listed by --help).
enum ExitStatus : int {
    kExitOk = 0,           ///< the command ran
    kExitRefused = 1,      ///< tandemd answered ok=false (or an unusable reply)
    kExitUsage = 2,        ///< the command line or the command does not parse
    kExitUnreachable = 3,  ///< no answer from tandemd
};

struct RunOutcome {
    int status = kExitOk;
    std::string output;                     ///< for stdout (ends in '\n' when not empty)
    std::string error;                      ///< for stderr, one line without prefix
    bool daemon_error = false;              ///< `error` is tandemd's own message (ok=false)
    bool interrupted = false;               ///< a signal (Ctrl-C) ended the wait for the answer
    std::optional<ParseError> parse_error;  ///< set for status kExitUsage from the parser
    bool exit_requested = false;            ///< exit / quit
};

class CommandRunner {
  public:
    /// `json`: print results as pretty JSON rather than text.
    CommandRunner(const ControlClient& client, const CommandParser& parser, bool json);

    /// Runs `line` (empty lines do nothing; a line ending in '?' gives the
    /// help for what precedes it, as the ? key does in the shell). Blocks for
    /// at most the client's timeout. Not thread-safe (the client is not).
    RunOutcome run(std::string_view line) const;

  private:
    const ControlClient& client_;
    const CommandParser& parser_;
    bool json_;
};

/// The text of the `help` command: how to use the shell, then the top-level
/// commands of `root`.
std::string shellHelpText(const CommandNode& root);

}  // namespace tandem::cli
