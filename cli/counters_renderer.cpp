// show counters and show interfaces.
#include <algorithm>
#include <cctype>
#include <span>
#include <utility>
#include <vector>

#include "cli/command_parser.h"
#include "cli/json_fields.h"
#include "cli/result_renderer.h"
#include "cli/text_table.h"
#include "core/text.h"
#include "proto/app_status_fields.h"
#include "proto/nat_status_fields.h"
#include "proto/port_status_fields.h"

namespace tandem::cli {
namespace {

struct Section {
    std::string name;
    std::vector<std::pair<std::string, std::string>> lines;
};

void flatten(const nlohmann::json& j, const std::string& prefix, Section* out) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string name = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (it.value().is_object()) {
            flatten(it.value(), name, out);
        } else {
            out->lines.emplace_back(name, scalarText(it.value()));
        }
    }
}

// The daemon's sections that make up each group the shell offers.
const std::vector<std::string>& groupSections(const std::string& group) {
    static const std::vector<std::string> dataplane = {"dataplane", "parse", "io", "sessions"};
    static const std::vector<std::string> ha = {"ha"};
    static const std::vector<std::string> peer_link = {"peer-link", "peer_link"};
    static const std::vector<std::string> none;
    if (group == "dataplane") return dataplane;
    if (group == "ha") return ha;
    if (group == "peer-link") return peer_link;
    return none;
}

// Dataplane sections first, in the order a packet meets them, then the rest
// in the daemon's (alphabetical) order.
std::vector<std::string> sectionOrder(const nlohmann::json& result) {
    std::vector<std::string> order;
    for (const char* s : {"dataplane", "parse", "io", "sessions"}) {
        if (result.contains(s)) order.push_back(s);
    }
    for (auto it = result.begin(); it != result.end(); ++it) {
        if (std::find(order.begin(), order.end(), it.key()) == order.end()) {
            order.push_back(it.key());
        }
    }
    return order;
}

std::string speedText(uint64_t mbps) {
    if (mbps == 0) return "-";
    if (mbps >= 1000 && mbps % 1000 == 0) return std::to_string(mbps / 1000) + " Gb/s";
    if (mbps >= 1000) {
        return std::to_string(mbps / 1000) + "." + std::to_string(mbps % 1000 / 100) + " Gb/s";
    }
    return std::to_string(mbps) + " Mb/s";
}

std::string uintText(const nlohmann::json& j, const char* key) {
    auto v = uintField(j, key);
    return v ? std::to_string(*v) : "-";
}

}  // namespace

std::optional<std::string> renderCounters(const nlohmann::json& result,
                                          const nlohmann::json& args) {
    if (!result.is_object()) return std::nullopt;
    const bool all = boolField(args, "all").value_or(false);
    const std::string group = stringField(args, "group").value_or("");

    std::vector<Section> sections;
    for (const auto& name : sectionOrder(result)) {
        if (!group.empty()) {
            const auto& wanted = groupSections(group);
            if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
        }
        Section s{name, {}};
        const nlohmann::json& v = result[name];
        if (v.is_object()) {
            flatten(v, "", &s);
        } else {
            s.lines.emplace_back(name, scalarText(v));
        }
        sections.push_back(std::move(s));
    }
    if (sections.empty()) {
        std::vector<std::string> present;
        for (auto it = result.begin(); it != result.end(); ++it) present.push_back(it.key());
        if (group.empty()) return "tandemd reported no counters\n";
        return "tandemd reported no " + group + " counters (it reported: " +
               (present.empty() ? std::string("nothing") : joinWords(present)) + ")\n";
    }

    size_t name_width = 0, value_width = 0;
    for (const auto& s : sections) {
        for (const auto& [n, v] : s.lines) {
            name_width = std::max(name_width, n.size());
            value_width = std::max(value_width, v.size());
        }
    }
    std::string out;
    for (const auto& s : sections) {
        out += s.name + "\n";
        if (s.lines.empty()) out += all ? "  (none)\n" : "  (all zero)\n";
        for (const auto& [n, v] : s.lines) {
            out += "  " + n + std::string(name_width - n.size() + 2, ' ') +
                   std::string(value_width - v.size(), ' ') + v + "\n";
        }
    }
    if (!all) out += "(zero counters are hidden; 'show counters all' lists every one)\n";
    return out;
}

namespace {

// A status field's column: its path in capitals, '-' for '_', a unit
// suffix (_mbps) dropped; numbers to the right.
TextTable::Column columnOf(const status::FieldDef& f) {
    std::string header(f.path.ends_with("_mbps") ? f.path.substr(0, f.path.size() - 5) : f.path);
    for (char& c : header) c = c == '_' ? '-' : char(std::toupper(static_cast<unsigned char>(c)));
    return {header, f.type == status::FieldType::integer ? TextTable::Align::right
                                                         : TextTable::Align::left};
}

}  // namespace

std::optional<std::string> renderInterfaces(const nlohmann::json& result) {
    const nlohmann::json* ports = field(result, "interfaces");
    if (ports == nullptr || !ports->is_array()) return std::nullopt;
    if (ports->empty()) return "no interfaces\n";
    // The fields of src/proto/port_status_fields.h, in its order: the
    // counters in one table, the rest in another, the name first in both.
    using status::FieldDef;
    std::vector<const FieldDef*> link_fields, traffic_fields;
    for (const FieldDef& f : status::kPortFields) {
        if (f.path == "name") continue;
        (f.metric_kind == status::MetricKind::counter ? traffic_fields : link_fields).push_back(&f);
    }
    auto tableOf = [](const std::vector<const FieldDef*>& fields) {
        std::vector<TextTable::Column> columns = {{"NAME"}};
        for (const FieldDef* f : fields) columns.push_back(columnOf(*f));
        return TextTable(columns);
    };
    auto rowOf = [](const nlohmann::json& p, const std::vector<const FieldDef*>& fields) {
        std::vector<std::string> row = {stringField(p, "name").value_or("?")};
        for (const FieldDef* f : fields) {
            const std::string key(f->path);
            if (f->type != status::FieldType::integer) {
                row.push_back(stringField(p, key.c_str()).value_or("-"));
            } else if (auto mbps = uintField(p, key.c_str()); mbps && f->path.ends_with("_mbps")) {
                row.push_back(speedText(*mbps));
            } else {
                row.push_back(uintText(p, key.c_str()));
            }
        }
        return row;
    };
    TextTable links = tableOf(link_fields);
    TextTable traffic = tableOf(traffic_fields);
    for (const auto& p : *ports) {
        if (!p.is_object()) return std::nullopt;
        links.addRow(rowOf(p, link_fields));
        traffic.addRow(rowOf(p, traffic_fields));
    }
    return links.render() + "\n" + traffic.render();
}

namespace {

// One row per object of `list`, the columns the fields of a status table
// in its order; `-` for an empty text.
std::optional<std::string> fieldTable(const nlohmann::json& list,
                                      std::span<const status::FieldDef> fields) {
    std::vector<TextTable::Column> columns;
    for (const status::FieldDef& f : fields) columns.push_back(columnOf(f));
    TextTable table(columns);
    for (const auto& a : list) {
        if (!a.is_object()) return std::nullopt;
        std::vector<std::string> row;
        for (const status::FieldDef& f : fields) {
            const std::string key(f.path);
            if (f.type == status::FieldType::integer) {
                row.push_back(uintText(a, key.c_str()));
            } else {
                const std::string v = stringField(a, key.c_str()).value_or("");
                row.push_back(v.empty() ? "-" : v);
            }
        }
        table.addRow(row);
    }
    return table.render();
}

}  // namespace

std::optional<std::string> renderApplications(const nlohmann::json& result) {
    const nlohmann::json* apps = field(result, "applications");
    if (apps == nullptr || !apps->is_array()) return std::nullopt;
    if (apps->empty()) return "no session this node owns has had its application read\n";
    return fieldTable(*apps, status::kAppFields);
}

std::optional<std::string> renderNatPools(const nlohmann::json& result) {
    const nlohmann::json* pools = field(result, "pools");
    if (pools == nullptr || !pools->is_array()) return std::nullopt;
    if (pools->empty()) return "no NAT pool is configured\n";
    return fieldTable(*pools, status::kNatPoolFields);
}

}  // namespace tandem::cli
