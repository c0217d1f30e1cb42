// The fields of `show nat pools` (one object per pool), defined once; see
// proto/status_fields.h for what is built from the table. The getters are
// in dataplane/dataplane_status.cpp, the metrics in
// src/daemon/metrics_page.cpp (label `pool`), the docs check in
// tests/unit/proto/status_fields_test.cpp.
//
// Field names are pinned like the control protocol's: never rename or reuse
// one.
//
// Thread-safety: immutable tables.
#pragma once

#include "proto/status_fields.h"

namespace tandem::status {

// X(id, path, type, help, metric, metric kind, scale): see status_fields.h.

/// "pools[]": each [nat] pool and how this node uses it (nat/pool_usage.h).
#define TANDEM_NAT_POOL_FIELDS(X)                                                               \
    X(name, "name", text, "The pool's name, as [nat] pool gives it.", "", none, 1)              \
    X(addresses, "addresses", text, "Its IPv4 addresses, FIRST-LAST.", "", none, 1)             \
    X(ports, "ports", text, "The ports of each address it hands out, LO-HI.", "", none, 1)      \
    X(block_size, "block_size", integer, "Ports in a block.", "", none, 1)                      \
    X(blocks, "blocks", integer, "Blocks in the whole pool (all its addresses).", "", none, 1)  \
    X(blocks_here, "blocks_here", integer, "Blocks this node hands ports out of now.",          \
      "tandem_nat_pool_blocks", gauge, 1)                                                       \
    X(ports_here, "ports_here", integer, "The ports of those blocks.", "tandem_nat_pool_ports", \
      gauge, 1)                                                                                 \
    X(ports_in_use, "ports_in_use", integer,                                                    \
      "Of them, the ports sessions hold (a peer's sessions included).",                         \
      "tandem_nat_pool_ports_in_use", gauge, 1)                                                 \
    X(exhausted, "exhausted", integer,                                                          \
      "First packets dropped because none of those ports was free.",                            \
      "tandem_nat_pool_exhausted_total", counter, 1)

enum class NatPoolField : uint8_t { TANDEM_NAT_POOL_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
inline constexpr FieldDef kNatPoolFields[] = {TANDEM_NAT_POOL_FIELDS(TANDEM_STATUS_FIELD_DEF)};

/// Where the table sits in the answer of `show nat pools`.
inline constexpr StatusObject kNatPoolsObjects[] = {{"pools", true, kNatPoolFields}};

}  // namespace tandem::status
