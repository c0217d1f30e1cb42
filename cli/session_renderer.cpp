// show session all / id / flow.
#include <set>

#include "cli/json_fields.h"
#include "cli/result_renderer.h"
#include "cli/text_table.h"

namespace tandem::cli {
namespace {

std::string endpoint(const nlohmann::json& s, const char* addr_key, const char* port_key) {
    std::string addr = stringField(s, addr_key).value_or("?");
    auto port = uintField(s, port_key);
    if (!port) return addr;
    if (addr.find(':') != std::string::npos) addr = "[" + addr + "]";
    return addr + ":" + std::to_string(*port);
}

// [out, in] pairs as "out/in"; a plain number as itself.
std::string directions(const nlohmann::json& s, const char* key, const char* separator) {
    const nlohmann::json* f = field(s, key);
    if (f == nullptr) return "-";
    if (f->is_array() && f->size() == 2) {
        const std::string sep = separator;
        if (sep == "/") return scalarText((*f)[0]) + "/" + scalarText((*f)[1]);
        return scalarText((*f)[0]) + " out, " + scalarText((*f)[1]) + " in";
    }
    return scalarText(*f);
}

bool hasFilters(const nlohmann::json& args) {
    for (const char* k : {"src", "dst", "sport", "dport", "proto", "state", "owner"}) {
        if (field(args, k) != nullptr) return true;
    }
    return false;
}

std::optional<std::string> sessionTable(const nlohmann::json& sessions,
                                        const nlohmann::json& result, const nlohmann::json& args) {
    using A = TextTable::Align;
    TextTable table({{"ID", A::right},
                     {"PROTO"},
                     {"SOURCE"},
                     {"DESTINATION"},
                     {"STATE"},
                     {"OWNER", A::right},
                     {"PACKETS", A::right},
                     {"BYTES", A::right}});
    for (const auto& s : sessions) {
        if (!s.is_object()) return std::nullopt;
        const nlohmann::json* owner = field(s, "owner");
        table.addRow({field(s, "id") ? scalarText(s["id"]) : "-",
                      field(s, "proto") ? scalarText(s["proto"]) : "-", endpoint(s, "src", "sport"),
                      endpoint(s, "dst", "dport"), stringField(s, "state").value_or("-"),
                      owner ? scalarText(*owner) : "-", directions(s, "packets", "/"),
                      directions(s, "bytes", "/")});
    }
    const uint64_t shown = sessions.size();
    const uint64_t total = uintField(result, "total").value_or(shown);
    const bool truncated = boolField(result, "truncated").value_or(false) || total > shown;
    if (shown == 0) {
        if (total > 0) return "no sessions shown of " + std::to_string(total) + "\n";
        return hasFilters(args) ? "no sessions match the filters\n" : "no sessions\n";
    }
    std::string out = table.render();
    if (truncated) {
        out += "showing " + std::to_string(shown) + " of " + std::to_string(total) +
               " sessions; narrow the list with filters (src, dst, sport, dport, proto, state, "
               "owner)\n";
    } else {
        out += std::to_string(shown) + (shown == 1 ? " session\n" : " sessions\n");
    }
    return out;
}

}  // namespace

std::optional<std::string> renderSessionDetail(const nlohmann::json& s) {
    if (!s.is_object() || field(s, "src") == nullptr) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> pairs;
    std::set<std::string> shown = {"id", "proto", "src", "sport", "dst", "dport"};
    const std::string proto = field(s, "proto") ? scalarText(s["proto"]) : "?";
    pairs.emplace_back(
        "flow", proto + " " + endpoint(s, "src", "sport") + " -> " + endpoint(s, "dst", "dport"));
    auto add = [&](const char* key, const std::string& label, const std::string& value) {
        if (field(s, key) == nullptr) return;
        pairs.emplace_back(label, value);
        shown.insert(key);
    };
    add("state", "state", field(s, "state") ? scalarText(s["state"]) : "");
    add("rule", "rule", field(s, "rule") ? scalarText(s["rule"]) : "");
    if (field(s, "app_status")) {
        // "tls www.example.com (identified)", "(pending)", "... denied".
        std::string app = field(s, "app") ? scalarText(s["app"]) : "";
        if (field(s, "app_name")) app += (app.empty() ? "" : " ") + scalarText(s["app_name"]);
        app += (app.empty() ? "(" : " (") + scalarText(s["app_status"]) + ")";
        if (field(s, "app_denied")) app += ", denied";
        pairs.emplace_back("app", app);
        shown.insert({"app", "app_name", "app_status", "app_denied"});
    }
    for (const char* k : {"owner", "backup_owner", "director", "origin_owner"}) {
        add(k, labelOf(k), field(s, k) ? scalarText(s[k]) : "");
    }
    add("packets", "packets", directions(s, "packets", ","));
    add("bytes", "bytes", directions(s, "bytes", ","));
    if (auto ms = uintField(s, "expires_in_ms"))
        add("expires_in_ms", "expires in", formatDuration(*ms));
    for (auto it = s.begin(); it != s.end(); ++it) {
        if (shown.count(it.key()) == 0)
            pairs.emplace_back(labelOf(it.key()), scalarText(it.value()));
    }
    std::string title = "session";
    if (field(s, "id") != nullptr) title += " " + scalarText(s["id"]);
    return title + "\n" + renderPairs(pairs, 2);
}

std::optional<std::string> renderSessions(const nlohmann::json& result,
                                          const nlohmann::json& args) {
    const nlohmann::json* sessions = field(result, "sessions");
    if (sessions == nullptr || !sessions->is_array()) return std::nullopt;
    return sessionTable(*sessions, result, args);
}

std::optional<std::string> renderSessionLookup(const nlohmann::json& result) {
    if (const nlohmann::json* one = field(result, "session")) {
        if (one->is_null()) return "no such session\n";
        return renderSessionDetail(*one);
    }
    const nlohmann::json* sessions = field(result, "sessions");
    if (sessions == nullptr || !sessions->is_array()) return renderSessionDetail(result);
    if (sessions->empty()) return "no such session\n";
    if (sessions->size() == 1) return renderSessionDetail((*sessions)[0]);
    return sessionTable(*sessions, result, nlohmann::json::object());
}

}  // namespace tandem::cli
