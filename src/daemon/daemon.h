// The tandemd runtime: wires a validated Config into the dataplane and the
// control server, runs until SIGTERM/SIGINT, then stops everything in order.
#pragma once

#include "config/config.h"

namespace tandem {

/// Runs the daemon. Returns the process exit status: 0 after a clean stop on
/// SIGTERM/SIGINT, 1 when start-up fails (the reason is logged).
/// Call from the main thread before any other thread exists.
int runDaemon(const Config& config);

}  // namespace tandem
