#include "cli/prompt.h"

#include "cli/json_fields.h"

namespace tandem::cli {

std::optional<std::string> nodeNameFromConfig(const nlohmann::json& config) {
    if (const nlohmann::json* node = field(config, "node")) {
        if (auto name = stringField(*node, "name")) return name;
    }
    auto summary = stringField(config, "summary");
    if (!summary || summary->rfind("node ", 0) != 0) return std::nullopt;
    const size_t open = summary->find(" (");
    const size_t close = summary->find(')', open == std::string::npos ? 0 : open);
    if (open == std::string::npos || close == std::string::npos || close <= open + 2) {
        return std::nullopt;
    }
    return summary->substr(open + 2, close - open - 2);
}

std::string promptText(const nlohmann::json* ha_state, const nlohmann::json* config) {
    if (ha_state != nullptr) {
        if (const nlohmann::json* local = field(*ha_state, "local")) {
            auto name = stringField(*local, "name");
            auto state = stringField(*local, "state");
            if (name && state) return *name + "(" + *state + ")> ";
            if (name) return *name + "> ";
        }
    }
    if (config != nullptr) {
        if (auto name = nodeNameFromConfig(*config)) return *name + "> ";
    }
    return "tandem> ";
}

}  // namespace tandem::cli
