// The dataplane's status snapshot (dataplane.h) as the control protocol
// reads it: one getter per field of src/proto/port_status_fields.h,
// src/proto/app_status_fields.h and src/proto/nat_status_fields.h. No DPDK;
// part of tandem_dataplane_api, for the control handlers and /metrics.
//
// Thread-safety: pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "dataplane/dataplane.h"
#include "proto/app_status_fields.h"
#include "proto/nat_status_fields.h"
#include "proto/port_status_fields.h"

namespace tandem {

/// The value of one field of port_status_fields.h, as it reads in the JSON.
nlohmann::json portStatusValue(status::PortField field, const PortStatus& port);

/// One object of `show interfaces`: every field of port_status_fields.h.
nlohmann::json portStatusJson(const PortStatus& port);

/// The value of one field of app_status_fields.h.
nlohmann::json appUsageValue(status::AppField field, const AppUsage& app);

/// One object of `show application`: every field of app_status_fields.h.
nlohmann::json appUsageJson(const AppUsage& app);

/// The value of one field of nat_status_fields.h.
nlohmann::json natPoolValue(status::NatPoolField field, const NatPoolUsage& pool);

/// One object of `show nat pools`: every field of nat_status_fields.h.
nlohmann::json natPoolJson(const NatPoolUsage& pool);

}  // namespace tandem
