#include "daemon/command_line.h"

#include <boost/program_options.hpp>

#include <sstream>

#include "cmdline/parsed_arguments.h"

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "unknown"
#endif

namespace po = boost::program_options;

namespace tandem {
namespace {

po::options_description visibleOptions() {
    po::options_description opts("Options");
    opts.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                       "configuration file (default /etc/tandem/tandem.conf)")(
        "check-config,t", po::value<std::string>()->implicit_value("")->value_name("FILE"),
        "check the configuration (FILE, else --config's) and exit: "
        "0 if valid, 1 with every error as FILE:LINE: message")(
        "generate-keys",
        "print a new CURVE key pair for [ha] secret-key-file / [peer.N] public-key")(
        "version,V", "print the version and exit")("help,h", "print this help and exit");
    return opts;
}

}  // namespace

std::optional<CommandLine> parseCommandLine(int argc, const char* const* argv, std::string* error) {
    // `--check-config FILE` with a blank: Program_options leaves FILE as a
    // positional argument, taken here as the file to check.
    const std::optional<po::variables_map> parsed =
        parseArguments(argc, argv, visibleOptions(), "positional", error);
    if (!parsed) return std::nullopt;
    const po::variables_map& vm = *parsed;

    CommandLine cl;
    std::vector<std::string> extra;
    if (vm.count("positional")) extra = vm["positional"].as<std::vector<std::string>>();
    if (vm.count("help")) {
        cl.action = CommandLine::Action::help;
        return cl;
    }
    if (vm.count("version")) {
        cl.action = CommandLine::Action::version;
        return cl;
    }
    if (vm.count("generate-keys")) {
        cl.action = CommandLine::Action::generate_keys;
        return cl;
    }
    if (vm.count("config")) cl.config_path = vm["config"].as<std::string>();
    if (vm.count("check-config")) {
        cl.action = CommandLine::Action::check_config;
        std::string file = vm["check-config"].as<std::string>();
        if (file.empty() && !extra.empty()) {
            file = extra.front();
            extra.erase(extra.begin());
        }
        if (!file.empty() && vm.count("config") && file != cl.config_path) {
            *error = "--check-config " + file + " and --config " + cl.config_path +
                     " name different files; give one";
            return std::nullopt;
        }
        if (!file.empty()) cl.config_path = file;
    }
    if (!extra.empty()) {
        *error = "unexpected argument '" + extra.front() + "' (see --help)";
        return std::nullopt;
    }
    if (cl.config_path.empty()) {
        *error = "the configuration file name is empty";
        return std::nullopt;
    }
    return cl;
}

std::string commandLineHelp(const char* program) {
    std::ostringstream out;
    out << "Usage: " << program << " [--config FILE]\n"
        << "       " << program << " --check-config [FILE]\n"
        << "       " << program << " --generate-keys\n\n"
        << "tandemd is the Tandem active/active firewall daemon: the DPDK dataplane and the\n"
        << "HA agent of one node. The configuration format is described in tandem.conf(5).\n\n"
        << visibleOptions()
        << "\nDPDK EAL arguments are not taken on the command line: they go in the\n"
        << "configuration, [dataplane] eal-args (e.g. eal-args = -l 0-2 -n 4). tandemd adds\n"
        << "each [port.NAME] device to them itself (-a for PCI, --vdev= for virtual ones).\n";
    return out.str();
}

std::string versionText() {
    return std::string("tandemd ") + TANDEM_VERSION;
}

}  // namespace tandem
