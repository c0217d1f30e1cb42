// tandem: the operator shell of a Tandem node. Wiring only: options, then one
// command, piped commands or the interactive shell.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "cli/cli_options.h"
#include "cli/command_runner.h"
#include "cli/command_table.h"
#include "cli/shell.h"

namespace tandem::cli {
namespace {

int report(const RunOutcome& o) {
    std::fwrite(o.output.data(), 1, o.output.size(), stdout);
    std::fflush(stdout);
    if (!o.error.empty()) {
        std::fprintf(stderr, "%s: %s\n", o.daemon_error ? "tandemd" : "tandem", o.error.c_str());
    }
    return o.status;
}

// Commands from a pipe or a file, one per line; '#' starts a comment line.
// The status is the worst of all.
int runLines(const CommandRunner& runner) {
    int status = kExitOk;
    std::string line;
    while (std::getline(std::cin, line)) {
        const size_t first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        RunOutcome o = runner.run(line);
        if (o.exit_requested) break;
        status = std::max(status, report(o));
    }
    return status;
}

std::string historyPath() {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') {
        const passwd* pw = ::getpwuid(::getuid());
        home = pw != nullptr ? pw->pw_dir : nullptr;
    }
    if (home == nullptr || *home == '\0') return "";
    return std::string(home) + "/.tandem_history";
}

}  // namespace
}  // namespace tandem::cli

int main(int argc, char** argv) {
    using namespace tandem::cli;
    std::string error;
    auto options = parseCliOptions(argc, argv, std::getenv("TANDEM_SOCKET"), &error);
    if (!options) {
        std::fprintf(stderr, "tandem: %s\n", error.c_str());
        return kExitUsage;
    }
    switch (options->action) {
        case CliOptions::Action::help:
            std::printf("%s", cliHelpText("tandem").c_str());
            return kExitOk;
        case CliOptions::Action::version:
            std::printf("%s\n", cliVersionText().c_str());
            return kExitOk;
        case CliOptions::Action::complete:
            // The command table is the one source of the words: bash
            // completion (packaging/completion/tandem) asks here.
            for (const auto& word : CommandParser(commandTable()).complete(options->command)) {
                std::printf("%s\n", word.c_str());
            }
            return kExitOk;
        case CliOptions::Action::command:
        case CliOptions::Action::shell:
            break;
    }
    ControlClient client(options->socket, options->timeout_ms);
    CommandParser parser(commandTable());
    CommandRunner runner(client, parser, options->json);
    if (options->action == CliOptions::Action::command) {
        if (options->command.find_first_not_of(" \t") == std::string::npos) {
            std::fprintf(stderr, "tandem: -c needs a command, e.g. -c \"show version\"\n");
            return kExitUsage;
        }
        return report(runner.run(options->command));
    }
    if (!::isatty(STDIN_FILENO)) return runLines(runner);
    Shell shell(client, parser, {.history_path = historyPath(), .json = options->json});
    return shell.run();
}
