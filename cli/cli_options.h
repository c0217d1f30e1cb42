// CliOptions: what `tandem` was asked to do, from argv (Boost.Program_options).
//
//   tandem [--socket PATH] [--timeout MS] [--json]            interactive shell
//   tandem [...] -c "COMMAND"   |   tandem [...] COMMAND WORDS   one command
//   tandem --complete "WORDS"   the words that may follow (shell completion)
//   tandem --version | --help
#pragma once

#include <optional>
#include <string>

namespace tandem::cli {

inline constexpr const char* kDefaultSocket = "/run/tandem/tandemd.sock";
inline constexpr int kDefaultTimeoutMs = 3000;

struct CliOptions {
    enum class Action { shell, command, complete, help, version };
    Action action = Action::shell;
    std::string command;                  ///< Action::command; the words of Action::complete
    std::string socket = kDefaultSocket;  ///< --socket, else $TANDEM_SOCKET, else the default
    int timeout_ms = kDefaultTimeoutMs;
    bool json = false;
};

/// Parses argv. `env_socket` is $TANDEM_SOCKET (nullptr when unset). Returns
/// nullopt and sets *error (one line) on a bad option or value. Thread-safe.
std::optional<CliOptions> parseCliOptions(int argc, const char* const* argv, const char* env_socket,
                                          std::string* error);

/// The --help text.
std::string cliHelpText(const char* program);

/// The --version text: "tandem VERSION (control protocol vN)".
std::string cliVersionText();

}  // namespace tandem::cli
