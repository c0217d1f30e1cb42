// Policy loading: the [policy] rule lines, then each rules-file, parsed with
// parseRule; errors carry the file and line the rule came from and the
// column on that line. Rules must name zones that ports use.
#pragma once

#include "config/load_context.h"

namespace tandem::config_detail {

/// Fills ctx.cfg.rules; runs after validateConfig (which builds the zones).
void loadPolicy(LoadContext& ctx);

}  // namespace tandem::config_detail
