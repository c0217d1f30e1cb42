// The control commands tandemd answers: each one reads a component's status
// snapshot (or asks a component to act) and returns JSON. The shell renders
// them; docs/wire-formats.md lists the result fields.
#pragma once

#include "config/config.h"
#include "control/control_server.h"

namespace tandem {

class DataplaneQueries;
class HaAgent;
class PolicyReloader;

/// Registers every command on `server`. `ha` is null for a standalone node.
/// All referenced objects must outlive the server.
void registerControlCommands(ControlServer& server, const Config& config,
                             DataplaneQueries& dataplane, HaAgent* ha, PolicyReloader& reloader);

}  // namespace tandem
