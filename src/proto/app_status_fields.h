// The fields of `show application` (one object per application), defined
// once; see proto/status_fields.h for what is built from the table. The
// getters are in dataplane/dataplane_status.cpp, the metrics in
// src/daemon/metrics_page.cpp (labels `protocol` and `name`), the docs
// check in tests/unit/proto/status_fields_test.cpp.
//
// Field names are pinned like the control protocol's: never rename or reuse
// one.
//
// Thread-safety: immutable tables.
#pragma once

#include "proto/status_fields.h"

namespace tandem::status {

// X(id, path, type, help, metric, metric kind, scale): see status_fields.h.

/// "applications[]": the applications of the sessions this node owns, the
/// most sessions first (session/app_usage.h).
#define TANDEM_APP_FIELDS(X)                                                                      \
    X(protocol, "protocol", text,                                                                 \
      "tls, http or dns; empty for sessions whose first payload named nothing.", "", none, 1)     \
    X(name, "name", text,                                                                         \
      "The server name, Host or query name read; empty when none was read or kept.", "", none, 1) \
    X(sessions, "sessions", integer, "Live sessions this node owns that name it.",                \
      "tandem_app_sessions", gauge, 1)                                                            \
    X(denied, "denied", integer, "Of them, the ones an app rule denied (closing).",               \
      "tandem_app_sessions_denied", gauge, 1)

enum class AppField : uint8_t { TANDEM_APP_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
inline constexpr FieldDef kAppFields[] = {TANDEM_APP_FIELDS(TANDEM_STATUS_FIELD_DEF)};

/// Where the table sits in the answer of `show application`.
inline constexpr StatusObject kApplicationsObjects[] = {{"applications", true, kAppFields}};

}  // namespace tandem::status
