// src/proto/status_fields.h and its tables: every field of every status
// table is documented in docs/control.md with the table's own words, and
// each table is well formed.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "proto/app_status_fields.h"
#include "proto/ha_status_fields.h"
#include "proto/nat_status_fields.h"
#include "proto/port_status_fields.h"

namespace tandem::status {
namespace {

const char* typeWord(FieldType t) {
    switch (t) {
        case FieldType::boolean:
            return "boolean";
        case FieldType::integer:
            return "integer";
        case FieldType::number:
            return "number";
        case FieldType::text:
            return "string";
        case FieldType::node_state:
            return "state";
        case FieldType::node_list:
            return "node ids";
        case FieldType::up_down:
            return "up/down";
    }
    return "?";
}

std::string fieldPath(const StatusObject& o, const FieldDef& f) {
    if (o.member.empty()) return std::string(f.path);
    return std::string(o.member) + (o.array ? "[]." : ".") + std::string(f.path);
}

std::string readDoc() {
    std::ifstream in(std::string(TANDEM_SOURCE_DIR) + "/docs/control.md");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

const std::span<const StatusObject> kAnswers[] = {kHaStateObjects, kInterfacesObjects,
                                                  kApplicationsObjects, kNatPoolsObjects};

}  // namespace

TEST_CASE("docs/control.md documents every field of every status table, in the table's words") {
    const std::string doc = readDoc();
    REQUIRE_FALSE(doc.empty());
    for (const auto& answer : kAnswers) {
        for (const StatusObject& o : answer) {
            for (const FieldDef& f : o.fields) {
                // | `path` | type | help |
                const std::string row = "| `" + fieldPath(o, f) + "` | " + typeWord(f.type) +
                                        " | " + std::string(f.help) + " |";
                const std::string missing = "not in docs/control.md: " + row;
                CHECK_MESSAGE(doc.find(row) != std::string::npos, missing);
            }
        }
    }
}

TEST_CASE("a status table names each field once, and its metrics follow Prometheus' rules") {
    std::set<std::string> families;
    for (const auto& answer : kAnswers) {
        for (const StatusObject& o : answer) {
            std::set<std::string_view> paths;
            for (const FieldDef& f : o.fields) {
                CHECK_MESSAGE(paths.insert(f.path).second, f.path);
                CHECK_FALSE(f.help.empty());
                if (f.metric_kind == MetricKind::none) {
                    CHECK(f.metric.empty());
                    continue;
                }
                const std::string family(f.metric);
                CHECK_MESSAGE(family.starts_with("tandem_"), family);
                CHECK_MESSAGE(families.insert(family).second, family);
                CHECK_MESSAGE((f.metric_kind == MetricKind::counter) == family.ends_with("_total"),
                              family);
            }
        }
    }
}

}  // namespace tandem::status
