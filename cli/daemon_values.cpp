#include "cli/daemon_values.h"

#include <algorithm>

#include "cli/json_fields.h"
#include "proto/control_command.h"

namespace tandem::cli {
namespace {

void addNode(const nlohmann::json& node, std::vector<std::string>* out) {
    if (auto name = stringField(node, "name")) out->push_back(*name);
    if (auto id = uintField(node, "id")) out->push_back(std::to_string(*id));
}

}  // namespace

DaemonValues::DaemonValues(Fetch fetch, std::chrono::milliseconds keep)
    : fetch_(std::move(fetch)), keep_(keep) {}

std::vector<std::string> DaemonValues::sessionIds(const nlohmann::json& result) {
    std::vector<std::string> ids;
    const nlohmann::json* sessions = field(result, "sessions");
    if (sessions == nullptr || !sessions->is_array()) return ids;
    for (const auto& s : *sessions) {
        if (auto id = uintField(s, "id")) ids.push_back(std::to_string(*id));
    }
    return ids;
}

std::vector<std::string> DaemonValues::nodeNames(const nlohmann::json& result) {
    std::vector<std::string> out;
    if (const nlohmann::json* members = field(result, "members"); members && members->is_array()) {
        for (const auto& m : *members) addNode(m, &out);
    }
    if (const nlohmann::json* local = field(result, "local")) addNode(*local, &out);
    if (const nlohmann::json* peers = field(result, "peers"); peers && peers->is_array()) {
        for (const auto& p : *peers) addNode(p, &out);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<std::string> DaemonValues::operator()(ValueSource source) {
    const auto now = std::chrono::steady_clock::now();
    if (auto it = cache_.find(source); it != cache_.end() && now - it->second.at < keep_) {
        return it->second.values;
    }
    std::vector<std::string> values;
    switch (source) {
        case ValueSource::none:
            break;
        case ValueSource::session_ids:
            if (auto r = fetch_(control::commandWords(control::CommandId::show_session_all)))
                values = sessionIds(*r);
            break;
        case ValueSource::node_names:
            if (auto r = fetch_(control::commandWords(control::CommandId::show_cluster_members)))
                values = nodeNames(*r);
            if (values.empty()) {
                if (auto r = fetch_(control::commandWords(control::CommandId::show_ha_state)))
                    values = nodeNames(*r);
            }
            break;
    }
    cache_[source] = {now, values};
    return values;
}

}  // namespace tandem::cli
