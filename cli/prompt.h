// The shell's prompt: "NAME(STATE)> " from the daemon's HA state, "NAME> "
// when only the configuration names the node, "tandem> " when nothing does.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tandem::cli {

/// `ha_state` is the result of "show high-availability state" (or nullptr),
/// `config` the result of "show config" (or nullptr). Pure.
std::string promptText(const nlohmann::json* ha_state, const nlohmann::json* config);

/// The node name in a "show config" result: its "node"."name" field, else the
/// "node ID (NAME)" that opens its summary.
std::optional<std::string> nodeNameFromConfig(const nlohmann::json& config);

}  // namespace tandem::cli
