// show high-availability state and show cluster members.
#include <algorithm>
#include <cctype>
#include <set>

#include "cli/json_fields.h"
#include "cli/result_renderer.h"
#include "cli/text_table.h"

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
// transition as "from -> to, 5.0 s ago (cause)".
std::string valueText(const std::string& key, const nlohmann::json& v) {
    const bool ms = key.size() > 3 && key.compare(key.size() - 3, 3, "_ms") == 0;
    if (ms && v.is_number() && v.get<double>() >= 0) return formatDuration(v.get<uint64_t>());
    if (key == "last_transition" && v.is_object()) return transitionText(v);
    return scalarText(v);
}

std::string labelText(const std::string& key) {
    std::string k = key;
    if (k.size() > 3 && k.compare(k.size() - 3, 3, "_ms") == 0) k.resize(k.size() - 3);
    return labelOf(k);
}

// The fields of `obj` named in `order` first (those present), then the rest,
// except `skip`.
Pairs fieldsOf(const nlohmann::json& obj, const std::vector<std::string>& order,
               const std::set<std::string>& skip = {}) {
    Pairs pairs;
    std::set<std::string> done = skip;
    for (const auto& k : order) {
        const nlohmann::json* v = field(obj, k.c_str());
        if (v == nullptr || done.count(k)) continue;
        pairs.emplace_back(labelText(k), valueText(k, *v));
        done.insert(k);
    }
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        if (done.count(it.key())) continue;
        pairs.emplace_back(labelText(it.key()), valueText(it.key(), it.value()));
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

    Pairs lp = fieldsOf(*local, {"state", "priority"}, {"id", "name", "last_transition"});
    if (const nlohmann::json* t = field(*local, "last_transition"); t && t->is_object()) {
        lp.emplace_back("last transition", transitionText(*t));
    }
    std::string out = nodeTitle("local node", *local) + "\n" + renderPairs(lp, 2);

    if (const nlohmann::json* peers = field(result, "peers"); peers && peers->is_array()) {
        if (peers->empty()) out += "\nno peers\n";
        for (const auto& p : *peers) {
            if (!p.is_object()) return std::nullopt;
            Pairs pp = fieldsOf(p, {"state", "alive", "control_link", "peer_link"},
                                {"id", "name", "last_heard_ms"});
            if (auto heard = uintField(p, "last_heard_ms")) {
                pp.emplace_back("last heard", formatDuration(*heard) + " ago");
            }
            out += "\n" + nodeTitle("peer", p) + "\n" + renderPairs(pp, 2);
        }
    }

    Pairs settings = fieldsOf(
        result, {"session_owner", "revert", "preempt", "heartbeat_interval_ms", "hold_time_ms"},
        {"local", "peers"});
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
