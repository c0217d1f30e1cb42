// CommandLine: what `tandemd` was asked to do, parsed from argv with
// Boost.Program_options.
//
//   tandemd [--config FILE]              run (FILE defaults to /etc/tandem/tandem.conf)
//   tandemd --check-config [FILE]        validate FILE (or --config's) and exit
//   tandemd --version | --help
#pragma once

#include <optional>
#include <string>

namespace tandem {

inline constexpr const char* kDefaultConfigPath = "/etc/tandem/tandem.conf";

struct CommandLine {
    enum class Action { run, check_config, version, help, generate_keys };
    Action action = Action::run;
    std::string config_path = kDefaultConfigPath;
};

/// Parses the arguments. Returns nullopt and sets `error` (one line, without
/// the program name) on an unknown option, a missing value, a stray argument
/// or two different files named. Thread-safe (no shared state).
std::optional<CommandLine> parseCommandLine(int argc, const char* const* argv, std::string* error);

/// The --help text, usage line first.
std::string commandLineHelp(const char* program);

/// "tandemd VERSION".
std::string versionText();

}  // namespace tandem
