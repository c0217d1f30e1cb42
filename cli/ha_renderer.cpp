// show high-availability state and show cluster members.
#include <algorithm>
#include <cctype>
#include <set>
#include <span>
#include <string_view>

#include "cli/json_fields.h"
#include "cli/result_renderer.h"
#include "cli/text_table.h"
#include "core/text.h"
#include "proto/ha_status_fields.h"

namespace tandem::cli {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

std::string transitionText(const nlohmann::json& t) {
    std::string out =
        stringField(t, "from").value_or("?") + " -> " + stringField(t, "to").value_or("?");
    if (auto ago = uintField(t, "ago_ms")) out += ", " + formatDuration(*ago) + " ago";
    if (auto cause = stringField(t, "cause")) out += " (" + *cause + ")";
    return out;
}

// A field's value as an operator reads it: *_ms fields as durations, a state
// transition as "from -> to, 5.0 s ago (cause)", a list of numbers as "1, 2".
std::string valueText(const std::string& key, const nlohmann::json& v) {
    const bool ms = key.size() > 3 && key.compare(key.size() - 3, 3, "_ms") == 0;
    if (ms && v.is_number() && v.get<double>() >= 0) return formatDuration(v.get<uint64_t>());
    if (key == "last_transition" && v.is_object()) return transitionText(v);
    if (v.is_array() &&
        std::all_of(v.begin(), v.end(), [](const auto& e) { return e.is_number(); })) {
        std::vector<std::string> items;  // node lists: "1, 2"
        for (const auto& e : v) items.push_back(scalarText(e));
        return items.empty() ? "none" : joinWords(items);
    }
    return scalarText(v);
}

std::string labelText(const std::string& key) {
    std::string k = key;
    if (k.size() > 3 && k.compare(k.size() - 3, 3, "_ms") == 0) k.resize(k.size() - 3);
    return labelOf(k);
}

// The member `path` of `obj` ("a.b": obj["a"]["b"]), or nullptr.
const nlohmann::json* fieldAt(const nlohmann::json& obj, std::string_view path) {
    const nlohmann::json* v = &obj;
    while (v != nullptr) {
        const size_t dot = path.find('.');
        v = field(*v, std::string(path.substr(0, dot)).c_str());
        if (dot == std::string_view::npos) break;
        path.remove_prefix(dot + 1);
    }
    return v;
}

// "timers.hold_time_ms" -> "timers hold time".
std::string pathLabel(std::string_view path) {
    std::string label;
    for (size_t dot; (dot = path.find('.')) != std::string_view::npos;
         path.remove_prefix(dot + 1)) {
        label += labelOf(std::string(path.substr(0, dot))) + " ";
    }
    return label + labelText(std::string(path));
}

// The fields of `obj` in the order of its status table (ha_status_fields.h),
// those present, except the members named in `skip`.
Pairs fieldsOf(const nlohmann::json& obj, std::span<const status::FieldDef> fields,
               const std::set<std::string_view>& skip) {
    Pairs pairs;
    for (const status::FieldDef& f : fields) {
        if (skip.count(status::topMember(f.path))) continue;
        const nlohmann::json* v = fieldAt(obj, f.path);
        if (v == nullptr) continue;
        const size_t dot = f.path.rfind('.');
        const std::string key(dot == std::string_view::npos ? f.path : f.path.substr(dot + 1));
        pairs.emplace_back(pathLabel(f.path), valueText(key, *v));
    }
    return pairs;
}

std::string nodeTitle(const std::string& what, const nlohmann::json& node) {
    std::string title = what;
    if (auto name = stringField(node, "name")) title += " " + *name;
    if (const nlohmann::json* id = field(node, "id")) title += " (id " + scalarText(*id) + ")";
    return title;
}

}  // namespace

std::optional<std::string> renderHaState(const nlohmann::json& result) {
    const nlohmann::json* local = field(result, "local");
    if (local == nullptr || !local->is_object()) return std::nullopt;

    Pairs lp = fieldsOf(*local, status::kHaLocalFields, {"id", "name", "last_transition"});
    if (const nlohmann::json* t = field(*local, "last_transition"); t && t->is_object()) {
        lp.emplace_back("last transition", transitionText(*t));
    }
    std::string out = nodeTitle("local node", *local) + "\n" + renderPairs(lp, 2);

    if (const nlohmann::json* peers = field(result, "peers"); peers && peers->is_array()) {
        if (peers->empty()) out += "\nno peers\n";
        for (const auto& p : *peers) {
            if (!p.is_object()) return std::nullopt;
            Pairs pp =
                fieldsOf(p, status::kHaPeerFields, {"id", "name", "last_heard_ms", "down_ms"});
            if (auto heard = uintField(p, "last_heard_ms")) {
                pp.emplace_back("last heard", formatDuration(*heard) + " ago");
            }
            if (auto down = uintField(p, "down_ms")) {
                pp.emplace_back("declared dead", formatDuration(*down) + " ago");
            }
            out += "\n" + nodeTitle("peer", p) + "\n" + renderPairs(pp, 2);
        }
    }

    // The replication streams and counters have their own commands (show
    // high-availability state-synchronization, show counters ha).
    Pairs settings = fieldsOf(result, status::kHaClusterFields, {});
    if (const nlohmann::json* sec = field(result, "security"); sec && sec->is_object()) {
        for (auto it = sec->begin(); it != sec->end(); ++it) {
            settings.emplace_back(pathLabel("security." + it.key()), valueText(it.key(), *it));
        }
    }
    if (!settings.empty()) out += "\ncluster settings\n" + renderPairs(settings, 2);
    return out;
}

std::optional<std::string> renderClusterMembers(const nlohmann::json& result) {
    const nlohmann::json* members = field(result, "members");
    if (members == nullptr || !members->is_array()) return std::nullopt;
    if (members->empty()) return "no members\n";
    std::vector<std::string> keys = {"id", "name", "state"};
    for (const auto& m : *members) {
        if (!m.is_object()) return std::nullopt;
        for (auto it = m.begin(); it != m.end(); ++it) {
            if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) {
                keys.push_back(it.key());
            }
        }
    }
    keys.erase(std::remove_if(keys.begin(), keys.end(),
                              [&](const std::string& k) {
                                  return std::none_of(
                                      members->begin(), members->end(),
                                      [&](const nlohmann::json& m) { return m.contains(k); });
                              }),
               keys.end());
    std::vector<TextTable::Column> columns;
    for (const auto& k : keys) {
        std::string header = labelText(k);
        for (char& c : header)
            c = c == ' ' ? '-' : char(std::toupper(static_cast<unsigned char>(c)));
        columns.push_back({header, k == "id" ? TextTable::Align::right : TextTable::Align::left});
    }
    TextTable table(columns);
    for (const auto& m : *members) {
        std::vector<std::string> row;
        for (const auto& k : keys) {
            const nlohmann::json* v = field(m, k.c_str());
            row.push_back(v ? valueText(k, *v) : "-");
        }
        table.addRow(row);
    }
    std::string out = table.render();
    nlohmann::json rest = result;
    rest.erase("members");
    if (!rest.empty()) out += "\n" + renderGeneric(rest);
    return out;
}

}  // namespace tandem::cli
