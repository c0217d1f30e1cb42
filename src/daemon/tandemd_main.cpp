// tandemd: the daemon's entry point. Wiring only: parse the command line,
// load the configuration, start the components.
#include <cstdio>
#include <string>

#include "config/config.h"
#include "daemon/command_line.h"
#include "daemon/daemon.h"
#include "ha/curve_keypair.h"

namespace tandem {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitConfigError = 1;
constexpr int kExitUsage = 64;  // EX_USAGE

void printProblems(const ConfigLoadResult& result) {
    for (const auto& w : result.warnings) {
        std::string text = w.line == 0
                               ? w.file + ": warning: " + w.message
                               : w.file + ":" + std::to_string(w.line) + ": warning: " + w.message;
        std::fprintf(stderr, "%s\n", text.c_str());
    }
    for (const auto& e : result.errors) std::fprintf(stderr, "%s\n", e.format().c_str());
}

// Breaks one long line into lines of at most `width` columns at blanks.
std::string wrap(const std::string& text, size_t width) {
    std::string out;
    size_t column = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find(' ', pos);
        if (end == std::string::npos) end = text.size();
        size_t len = end - pos;
        if (column > 0 && column + 1 + len > width) {
            out += '\n';
            column = 0;
        } else if (column > 0) {
            out += ' ';
            ++column;
        }
        out.append(text, pos, len);
        column += len;
        pos = end + 1;
    }
    return out;
}

int checkConfig(const std::string& path) {
    ConfigLoadResult result = loadConfigFile(path);
    printProblems(result);
    if (!result.config) {
        std::fprintf(stderr, "%s: %zu error%s\n", path.c_str(), result.errors.size(),
                     result.errors.size() == 1 ? "" : "s");
        return kExitConfigError;
    }
    std::printf("%s: OK\n%s\n", path.c_str(), wrap(describeConfig(*result.config), 78).c_str());
    return kExitOk;
}

int run(const std::string& path) {
    ConfigLoadResult result = loadConfigFile(path);
    printProblems(result);
    if (!result.config) {
        std::fprintf(stderr, "tandemd: not starting: %s has %zu error%s\n", path.c_str(),
                     result.errors.size(), result.errors.size() == 1 ? "" : "s");
        return kExitConfigError;
    }
    return runDaemon(*result.config);
}

}  // namespace
}  // namespace tandem

int main(int argc, char** argv) {
    using tandem::CommandLine;
    std::string error;
    auto cl = tandem::parseCommandLine(argc, argv, &error);
    if (!cl) {
        std::fprintf(stderr, "tandemd: %s\n", error.c_str());
        return tandem::kExitUsage;
    }
    switch (cl->action) {
        case CommandLine::Action::help:
            std::printf("%s", tandem::commandLineHelp("tandemd").c_str());
            return tandem::kExitOk;
        case CommandLine::Action::version:
            std::printf("%s\n", tandem::versionText().c_str());
            return tandem::kExitOk;
        case CommandLine::Action::generate_keys: {
            auto kp = tandem::generateCurveKeypair();
            if (!kp) {
                std::fprintf(stderr, "tandemd: this libzmq has no CURVE support\n");
                return tandem::kExitConfigError;
            }
            std::printf(
                "# this node: put the secret key in a file only root can read and name it\n"
                "# in [ha] secret-key-file; give the public key to every peer as\n"
                "# [peer.N] public-key (and to this node as [ha] public-key)\n"
                "public-key = %s\nsecret-key = %s\n",
                kp->public_key.c_str(), kp->secret_key.c_str());
            return tandem::kExitOk;
        }
        case CommandLine::Action::check_config:
            return tandem::checkConfig(cl->config_path);
        case CommandLine::Action::run:
            return tandem::run(cl->config_path);
    }
    return tandem::kExitUsage;
}
