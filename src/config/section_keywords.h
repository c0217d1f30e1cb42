// The keyword table of tandem.conf: for each section, the keys it accepts
// and the handler that parses and stores each one (keepalived style). A
// handler validates only its own value; checks that involve several keys
// live in config_validator.cpp.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/load_context.h"

namespace tandem::config_detail {

/// Parses `entry.value` into ctx.cfg; on a bad value reports it and returns false.
using KeyHandler = bool (*)(LoadContext& ctx, const IniEntry& entry);

enum class KeyUse : uint8_t {
    optional,    ///< at most once
    required,    ///< exactly once
    repeatable,  ///< any number of times, in order
};

struct Keyword {
    std::string_view name;
    KeyHandler handle;
    KeyUse use = KeyUse::optional;
};

struct SectionKind {
    std::string_view name;    ///< "node", or "port" for [port.NAME]
    std::string_view suffix;  ///< "" or what follows the dot: "NAME", "ID"
    std::span<const Keyword> keywords;
    /// Called at the section header with the text after the dot (empty for
    /// plain sections); creates the port or peer the keys will fill. Returns
    /// false (after reporting) when the section cannot be used.
    bool (*open)(LoadContext& ctx, std::string_view suffix);
};

/// Every section kind, in documentation order.
std::span<const SectionKind> sectionKinds();

/// The kind for a section name such as "ha" or "port.inside", or nullptr.
/// `suffix` receives the part after the dot.
const SectionKind* findSectionKind(std::string_view name, std::string_view* suffix);

/// "node, dataplane, port.NAME, ..." for messages.
std::string sectionKindNames();

/// The keyword named `key` in `kind`, or nullptr.
const Keyword* findKeyword(const SectionKind& kind, std::string_view key);

std::vector<std::string> keywordNames(const SectionKind& kind);

}  // namespace tandem::config_detail
