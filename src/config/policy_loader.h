// Policy loading: the [policy] rule lines, then each rules-file, parsed with
// parseRule; errors carry the file and line the rule came from and the
// column on that line. Rules must name zones that ports use. The [nat]
// pools and rules the same way (nat/nat_rules.h).
#pragma once

#include "config/load_context.h"

namespace tandem::config_detail {

/// Fills ctx.cfg.rules; runs after validateConfig (which builds the zones).
void loadPolicy(LoadContext& ctx);

/// Fills ctx.cfg.nat from the [nat] pool and rule lines (pools first: a
/// rule names a pool defined before or after it), with the same errors;
/// refuses what the translation does not do yet. After validateConfig.
void loadNat(LoadContext& ctx);

}  // namespace tandem::config_detail
