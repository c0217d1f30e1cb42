// DaemonValues: the ValueProvider the shell's completion uses — session ids
// and node names, asked of tandemd and kept for a few seconds so that
// pressing TAB repeatedly does not query it each time.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/arg_spec.h"

namespace tandem::cli {

class DaemonValues {
  public:
    /// Runs one canonical command (no args) and returns its result, or
    /// nullopt when the daemon did not answer ok.
    using Fetch = std::function<std::optional<nlohmann::json>(const std::string& command)>;

    explicit DaemonValues(Fetch fetch, std::chrono::milliseconds keep = std::chrono::seconds(5));

    /// The candidates for `source`; empty when the daemon cannot tell.
    std::vector<std::string> operator()(ValueSource source);

    /// Session ids in a "show session all" result.
    static std::vector<std::string> sessionIds(const nlohmann::json& result);
    /// Node names and ids in a "show cluster members" result ("members") or a
    /// "show high-availability state" result ("local" and "peers").
    static std::vector<std::string> nodeNames(const nlohmann::json& result);

  private:
    struct Cached {
        std::chrono::steady_clock::time_point at;
        std::vector<std::string> values;
    };
    Fetch fetch_;
    std::chrono::milliseconds keep_;
    std::map<ValueSource, Cached> cache_;
};

}  // namespace tandem::cli
