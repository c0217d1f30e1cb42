// The field tables of the control protocol's status answers: each status
// object (the HA state's local node, peers and sync streams, the
// interfaces) has one table of fields, defined with an X-macro in its own
// header (ha_status_fields.h, port_status_fields.h). From a table
//   - the daemon builds the JSON: one getter per field, beside the status
//     type, in a `switch` compiled with -Werror=switch, so a field added
//     without a getter does not build;
//   - the shell lays out its blocks and columns in the table's order;
//   - /metrics exports the fields that name a metric family, with the
//     field's help as HELP;
//   - a unit test checks that docs/control.md has a row for every field,
//     with the same help.
//
// A '.' in a path is a nested object ("timers.hold_time_ms" is
// {"timers": {"hold_time_ms": ...}}).
//
// Thread-safety: immutable tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tandem::status {

/// How a field reads in the JSON.
enum class FieldType : uint8_t {
    boolean,     ///< true / false
    integer,     ///< a whole number
    number,      ///< a decimal number
    text,        ///< a string
    node_state,  ///< a string, the name of a NodeState ("active-primary", ...)
    node_list,   ///< an array of node ids
    up_down,     ///< a string, "up" or "down"; exported as 1 / 0
};

/// Whether a field is exported on /metrics, and as what.
enum class MetricKind : uint8_t { none, gauge, counter };

struct FieldDef {
    std::string_view path;  ///< JSON member, '.' for a nested object
    FieldType type;
    std::string_view help;    ///< one sentence: docs/control.md and the metric's HELP
    std::string_view metric;  ///< Prometheus family name; empty when not exported
    MetricKind metric_kind;
    /// metric = value × scale (milliseconds become seconds: 0.001). A
    /// node_state field is exported as one sample per state, 1 for its own.
    double metric_scale;
};

/// Where a table sits in a command's answer: `member` an object, or an array
/// of objects when `array`; "" the top level.
struct StatusObject {
    std::string_view member;
    bool array;
    std::span<const FieldDef> fields;
};

/// The first component of `path` ("last_transition" of "last_transition.ago_ms").
constexpr std::string_view topMember(std::string_view path) {
    return path.substr(0, path.find('.'));
}

}  // namespace tandem::status

// The enum of a table's fields and its FieldDef array, from its X-macro.
#define TANDEM_STATUS_FIELD_ENUM(id, ...) id,
#define TANDEM_STATUS_FIELD_DEF(id, path, type, help, metric, kind, scale)       \
    ::tandem::status::FieldDef{path,   ::tandem::status::FieldType::type,  help, \
                               metric, ::tandem::status::MetricKind::kind, scale},
