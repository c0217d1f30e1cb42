#include "cli/cli_options.h"

#include <boost/program_options.hpp>

#include <sstream>

#include "cmdline/parsed_arguments.h"
#include "proto/control_protocol.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "unknown"
#endif

namespace po = boost::program_options;

namespace tandem::cli {
namespace {

po::options_description visibleOptions() {
    po::options_description opts("Options");
    // clang-format off
    opts.add_options()
        ("command,c", po::value<std::string>()->value_name("COMMAND"),
         "run COMMAND and exit (words may be shortened)")
        ("json,j", "print results as JSON, as tandemd sent them")
        ("complete", po::value<std::string>()->value_name("WORDS"),
         "print the words that may come after WORDS, one a line, and exit "
         "(for shell completion; asks no daemon)")
        ("socket,s", po::value<std::string>()->value_name("PATH"),
         "tandemd's control socket (default $TANDEM_SOCKET, else /run/tandem/tandemd.sock)")
        ("timeout,t", po::value<int>()->value_name("MS"),
         "how long to wait for each answer, in milliseconds (default 3000)")
        ("version,V", "print the version and exit")
        ("help,h", "print this help and exit");
    // clang-format on
    return opts;
}

}  // namespace

std::optional<CliOptions> parseCliOptions(int argc, const char* const* argv, const char* env_socket,
                                          std::string* error) {
    const std::optional<po::variables_map> parsed =
        parseArguments(argc, argv, visibleOptions(), "words", error);
    if (!parsed) return std::nullopt;
    const po::variables_map& vm = *parsed;

    CliOptions o;
    if (vm.count("help")) {
        o.action = CliOptions::Action::help;
        return o;
    }
    if (vm.count("version")) {
        o.action = CliOptions::Action::version;
        return o;
    }
    if (vm.count("complete")) {
        o.action = CliOptions::Action::complete;
        o.command = vm["complete"].as<std::string>();
        return o;
    }
    if (env_socket != nullptr && *env_socket != '\0') o.socket = env_socket;
    if (vm.count("socket")) o.socket = vm["socket"].as<std::string>();
    if (o.socket.empty()) {
        *error = "--socket needs a path";
        return std::nullopt;
    }
    if (vm.count("timeout")) {
        o.timeout_ms = vm["timeout"].as<int>();
        if (o.timeout_ms < 1 || o.timeout_ms > 3'600'000) {
            *error =
                "--timeout " + std::to_string(o.timeout_ms) + ": expected milliseconds 1..3600000";
            return std::nullopt;
        }
    }
    o.json = vm.count("json") > 0;
    std::string words;
    if (vm.count("words")) {
        for (const auto& w : vm["words"].as<std::vector<std::string>>()) {
            if (!words.empty()) words += ' ';
            words += w;
        }
    }
    if (vm.count("command")) {
        if (!words.empty()) {
            *error = "give the command either with -c or as words, not both ('" + words + "')";
            return std::nullopt;
        }
        o.action = CliOptions::Action::command;
        o.command = vm["command"].as<std::string>();
    } else if (!words.empty()) {
        o.action = CliOptions::Action::command;
        o.command = words;
    }
    return o;
}

std::string cliHelpText(const char* program) {
    std::ostringstream out;
    out << "Usage: " << program << " [OPTIONS]                    interactive shell\n"
        << "       " << program << " [OPTIONS] -c \"COMMAND\"       run one command\n"
        << "       " << program << " [OPTIONS] COMMAND WORDS...   run one command\n\n"
        << "tandem is the operator shell of the Tandem firewall: it asks the local tandemd\n"
        << "for state, sessions and counters, and sends it operational commands.\n"
        << "In the shell, ? lists what may come next and TAB completes.\n\n"
        << visibleOptions() << "\n"
        << "Exit status:\n"
        << "  0  the command ran\n"
        << "  1  tandemd refused it (its message is printed)\n"
        << "  2  the command line or the command is wrong (what was expected is printed)\n"
        << "  3  tandemd is not answering on its control socket\n";
    return out.str();
}

std::string cliVersionText() {
    return std::string("tandem ") + TANDEM_VERSION + " (control protocol v" +
           std::to_string(control::kVersion) + ")";
}

}  // namespace tandem::cli
