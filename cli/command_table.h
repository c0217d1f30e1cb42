// The shell's command table: every command `tandem` knows, as one tree.
//
// This is the only place a command is declared. Adding a command means adding
// a node here (words, help, slots, canonical daemon command); parsing,
// abbreviation, completion, `?` help and error messages follow from it.
// README.md beside this file lists the canonical commands and their args.
#pragma once

#include "cli/command_tree.h"

namespace tandem::cli {

/// The root of the tree (its word is empty). Built once, immutable, safe to
/// read from any thread.
const CommandNode& commandTable();

/// Session states the daemon reports (src/session: sessionStateName()),
/// offered by the `state` filter.
const std::vector<std::string>& sessionStateNames();

}  // namespace tandem::cli
