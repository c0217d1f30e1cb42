#include "cli/result_renderer.h"

#include <cstdio>

#include "cli/json_fields.h"
#include "proto/control_command.h"

namespace tandem::cli {
namespace {

void generic(const nlohmann::json& j, size_t indent, std::string* out) {
    const std::string pad(indent, ' ');
    if (j.is_object()) {
        if (j.empty()) {
            *out += pad + "(empty)\n";
            return;
        }
        for (auto it = j.begin(); it != j.end(); ++it) {
            const auto& v = it.value();
            if ((v.is_object() || v.is_array()) && !v.empty()) {
                *out += pad + it.key() + ":\n";
                generic(v, indent + 2, out);
            } else if (v.is_object() || v.is_array()) {
                *out += pad + it.key() + ": (none)\n";
            } else {
                *out += pad + it.key() + ": " + scalarText(v) + "\n";
            }
        }
        return;
    }
    if (j.is_array()) {
        for (const auto& v : j) {
            if (v.is_object() && !v.empty()) {
                // "- first: x" then the other members under it.
                std::string inner;
                generic(v, indent + 2, &inner);
                inner.replace(indent, 2, "- ");
                *out += inner;
            } else if (v.is_array() && !v.empty()) {
                *out += pad + "-\n";
                generic(v, indent + 2, out);
            } else {
                *out += pad + "- " + scalarText(v) + "\n";
            }
        }
        return;
    }
    *out += pad + scalarText(j) + "\n";
}

// The renderer of each command. No `default`: with -Werror=switch a command
// added to src/proto/control_command.h without a renderer does not build.
std::optional<std::string> renderCommand(control::CommandId id, const nlohmann::json& r,
                                         const nlohmann::json& args) {
    using enum control::CommandId;
    switch (id) {
        case show_counters:
            return renderCounters(r, args);
        case show_interfaces:
            return renderInterfaces(r);
        case show_application:
            return renderApplications(r);
        case show_nat_pools:
            return renderNatPools(r);
        case show_config:
            return renderConfig(r);
        case show_version:
            return renderVersion(r);
        case show_session_all:
            return renderSessions(r, args);
        case show_session_id:
        case show_session_flow:
            return renderSessionLookup(r);
        case show_ha_state:
            return renderHaState(r);
        case show_ha_sync:
            return std::nullopt;  // the generic layout
        case show_cluster_members:
            return renderClusterMembers(r);
        case request_ha_suspend:
        case request_ha_functional:
        case request_ha_resync:
        case request_policy_reload:
        case clear_session_all:
        case clear_session_id:
        case clear_session_filter:
        case debug:
            return renderActionResult(r);
    }
    return std::nullopt;
}

}  // namespace

std::string renderGeneric(const nlohmann::json& result) {
    std::string out;
    generic(result, 0, &out);
    return out;
}

std::string renderResult(const std::string& canonical, const nlohmann::json& args,
                         const nlohmann::json& result) {
    if (const control::CommandDef* def = control::findCommand(canonical)) {
        try {
            if (auto text = renderCommand(def->id, result, args)) return *text;
        } catch (const nlohmann::json::exception&) {
            // An unexpected shape somewhere deep: the generic layout shows it all.
        }
    }
    return renderGeneric(result);
}

std::optional<std::string> renderConfig(const nlohmann::json& result) {
    auto summary = stringField(result, "summary");
    if (!summary) return std::nullopt;
    std::string out;
    if (auto file = stringField(result, "file")) out += "file: " + *file + "\n";
    // The summary is one paragraph of "; "-separated clauses: one per line.
    size_t start = 0;
    while (start < summary->size()) {
        size_t end = summary->find("; ", start);
        out += summary->substr(start, end == std::string::npos ? end : end - start) + "\n";
        if (end == std::string::npos) break;
        start = end + 2;
    }
    nlohmann::json rest = result;
    rest.erase("summary");
    rest.erase("file");
    if (!rest.empty()) out += renderGeneric(rest);
    return out;
}

std::optional<std::string> renderVersion(const nlohmann::json& result) {
    auto version = stringField(result, "version");
    if (!version) return std::nullopt;
    std::string out = "tandemd " + *version + "\n";
    nlohmann::json rest = result;
    rest.erase("version");
    if (!rest.empty()) out += renderGeneric(rest);
    return out;
}

std::optional<std::string> renderActionResult(const nlohmann::json& result) {
    if (result.is_null() || (result.is_object() && result.empty())) return "ok\n";
    if (auto message = stringField(result, "message")) {
        nlohmann::json rest = result;
        rest.erase("message");
        return *message + "\n" + (rest.empty() ? "" : renderGeneric(rest));
    }
    if (auto n = uintField(result, "cleared"); n && result.size() == 1) {
        return std::to_string(*n) + (*n == 1 ? " session" : " sessions") + " cleared\n";
    }
    return std::nullopt;
}

std::string formatDuration(uint64_t ms) {
    char buf[64];
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%llu ms", static_cast<unsigned long long>(ms));
    } else if (ms < 60'000) {
        std::snprintf(buf, sizeof buf, "%.1f s", double(ms) / 1000.0);
    } else if (ms < 3'600'000) {
        std::snprintf(buf, sizeof buf, "%llu min %llu s",
                      static_cast<unsigned long long>(ms / 60'000),
                      static_cast<unsigned long long>(ms / 1000 % 60));
    } else if (ms < 86'400'000) {
        std::snprintf(buf, sizeof buf, "%llu h %llu min",
                      static_cast<unsigned long long>(ms / 3'600'000),
                      static_cast<unsigned long long>(ms / 60'000 % 60));
    } else {
        std::snprintf(buf, sizeof buf, "%llu d %llu h",
                      static_cast<unsigned long long>(ms / 86'400'000),
                      static_cast<unsigned long long>(ms / 3'600'000 % 24));
    }
    return buf;
}

}  // namespace tandem::cli
