// Shell: the interactive `tandem` — GNU readline with the prompt
// "NODE(STATE)> ", persistent history, TAB completion of words and values,
// `?` help that keeps the typed line, and a pager for long output.
//
// readline is process-global, so at most one Shell runs at a time, on the
// main thread.
#pragma once

#include <memory>
#include <string>

#include "cli/command_parser.h"
#include "cli/control_client.h"

namespace tandem::cli {

class Shell {
  public:
    struct Settings {
        std::string history_path;  ///< "" keeps no history file
        bool json = false;         ///< print results as JSON
    };

    Shell(const ControlClient& client, const CommandParser& parser, Settings settings);
    ~Shell();

    /// Reads and runs commands until exit, quit or end of input (Ctrl-D).
    /// Ctrl-C abandons the line being typed, or the request being waited for.
    /// Returns the exit status: 0.
    int run();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::cli
