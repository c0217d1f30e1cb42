// show counters and show interfaces.
#include <algorithm>
#include <utility>
#include <vector>

#include "cli/command_parser.h"
#include "cli/json_fields.h"
#include "cli/result_renderer.h"
#include "cli/text_table.h"
#include "core/text.h"

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

std::optional<std::string> renderInterfaces(const nlohmann::json& result) {
    const nlohmann::json* ports = field(result, "interfaces");
    if (ports == nullptr || !ports->is_array()) return std::nullopt;
    if (ports->empty()) return "no interfaces\n";
    using A = TextTable::Align;
    TextTable links({{"NAME"},
                     {"ROLE"},
                     {"DEVICE"},
                     {"PORT", A::right},
                     {"LINK"},
                     {"SPEED", A::right},
                     {"MTU", A::right}});
    TextTable traffic({{"NAME"},
                       {"RX-PACKETS", A::right},
                       {"TX-PACKETS", A::right},
                       {"RX-BYTES", A::right},
                       {"TX-BYTES", A::right},
                       {"RX-MISSED", A::right},
                       {"RX-NO-MBUF", A::right},
                       {"RX-ERRORS", A::right},
                       {"TX-ERRORS", A::right}});
    for (const auto& p : *ports) {
        if (!p.is_object()) return std::nullopt;
        const std::string name = stringField(p, "name").value_or("?");
        auto speed = uintField(p, "speed_mbps");
        links.addRow({name, stringField(p, "role").value_or("-"),
                      stringField(p, "device").value_or("-"), uintText(p, "port_id"),
                      stringField(p, "link").value_or("-"), speed ? speedText(*speed) : "-",
                      uintText(p, "mtu")});
        traffic.addRow({name, uintText(p, "rx_packets"), uintText(p, "tx_packets"),
                        uintText(p, "rx_bytes"), uintText(p, "tx_bytes"), uintText(p, "rx_missed"),
                        uintText(p, "rx_no_mbuf"), uintText(p, "rx_errors"),
                        uintText(p, "tx_errors")});
    }
    return links.render() + "\n" + traffic.render();
}

}  // namespace tandem::cli
