// Cross-field checks of a loaded config: what no single key can check alone
// (data ports per mode, zones, the peer link, peers against each other,
// all-or-none CURVE keys, timers). Also fills derived values and defaults
// that depend on other keys (names, zone ids, hold time, ha.enabled).
#pragma once

#include "config/load_context.h"

namespace tandem::config_detail {

/// Runs after every key was handled; reports into ctx.diag.
void validateConfig(LoadContext& ctx);

}  // namespace tandem::config_detail
