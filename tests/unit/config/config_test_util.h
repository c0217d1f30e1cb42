// Helpers shared by the config tests: a scratch directory, and matching
// errors by "LINE: substring".
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace tandem::test {

// A valid single-node inline config; tests append to it.
inline constexpr const char* kMinimal =
    "[node]\n"
    "id = 1\n"
    "[port.a]\n"
    "device = net_null0\n"
    "zone = in\n"
    "[port.b]\n"
    "device = net_null1\n"
    "zone = out\n"
    "[policy]\n"
    "rule = allow from in to out\n";

// A valid two-node config with a raw peer link and CURVE keys.
inline const std::string kPair = std::string(kMinimal) +
                                 "[port.link]\n"
                                 "device = net_null2\n"
                                 "[peer.2]\n"
                                 "ha-address = tcp://10.0.0.2:7400\n"
                                 "link-address = 02:00:00:00:00:02\n"
                                 "public-key = Peer2PublicKeyPlaceholder.00000000000000\n"
                                 "[ha]\n"
                                 "listen = tcp://10.0.0.1:7400\n"
                                 "peer-link-port = link\n"
                                 "secret-key = Node1SecretKeyPlaceholder.00000000000000\n"
                                 "public-key = Node1PublicKeyPlaceholder.00000000000000\n";

/// A fresh directory under $TMPDIR, removed with everything in it.
class ScratchDir {
  public:
    ScratchDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "tandem-config-test-XXXXXX").string();
        char* made = ::mkdtemp(pattern.data());
        REQUIRE(made != nullptr);
        path_ = made;
    }
    ~ScratchDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;

    const std::string& path() const { return path_; }

    /// Writes `text` to `name` inside the directory; returns the full path.
    std::string write(const std::string& name, const std::string& text,
                      std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                     std::filesystem::perms::owner_write) const {
        std::string full = path_ + "/" + name;
        std::ofstream(full) << text;
        std::filesystem::permissions(full, perms);
        return full;
    }

  private:
    std::string path_;
};

/// Every error as "LINE: MESSAGE", for readable failure output.
inline std::string describeErrors(const std::vector<ConfigError>& errors) {
    std::string out;
    for (const auto& e : errors) out += "  " + e.format() + "\n";
    return out.empty() ? "  (none)\n" : out;
}

/// True when some item is at `line` and its message contains `part`.
inline bool hasItem(const std::vector<ConfigError>& items, unsigned line, const std::string& part) {
    for (const auto& e : items)
        if (e.line == line && e.message.find(part) != std::string::npos) return true;
    return false;
}

/// Parses "LINE: substring".
inline bool hasItem(const std::vector<ConfigError>& items, const std::string& expected) {
    size_t colon = expected.find(": ");
    unsigned line = unsigned(std::stoul(expected.substr(0, colon)));
    return hasItem(items, line, expected.substr(colon + 2));
}

}  // namespace tandem::test
