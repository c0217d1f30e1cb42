// LoadContext: the state of one config load, shared by the keyword handlers
// (section_keywords.cpp), the cross-field checks (config_validator.cpp) and
// the policy loader (policy_loader.cpp).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "config/diagnostics.h"
#include "config/ini_reader.h"

namespace tandem::config_detail {

struct SectionKind;

/// One `[section]` of the file as the loader sees it.
struct SectionState {
    const SectionKind* kind = nullptr;  ///< nullptr: unknown or unusable section
    std::string name;                   ///< as written, e.g. "port.inside"
    unsigned line = 0;
    int target = -1;  ///< index into ports or peers, for port.* / peer.*
    std::map<std::string, unsigned, std::less<>> keys;  ///< key → line where set
};

/// A rule's text and where it came from.
struct RuleSource {
    std::string text;
    std::string file;
    unsigned line = 0;
    unsigned column_offset = 0;  ///< columns before the text on its line
    unsigned order = 0;          ///< position of the error among the config's lines
};

struct LoadContext {
    Config cfg;
    Diagnostics diag;
    std::string file;      ///< name of the config in messages
    std::string base_dir;  ///< relative paths resolve against it
    std::vector<SectionState> sections;
    int current = -1;  ///< section whose keys are being handled

    std::vector<RuleSource> inline_rules;  ///< [policy] rule = ..., in order
    std::vector<RuleSource> nat_pools;     ///< [nat] pool = ..., in order
    std::vector<RuleSource> nat_rules;     ///< [nat] rule = ..., in order
    struct RulesFile {
        std::string path;   ///< resolved
        unsigned line = 0;  ///< of the rules-file key
    };
    std::vector<RulesFile> rules_files;
    std::string key_file_public_key;  ///< public key found in [ha] secret-key-file
    /// "section.key" of every value a handler rejected: checks that build on
    /// such a value are skipped rather than reported again.
    std::set<std::string, std::less<>> rejected;
    bool wasRejected(std::string_view section, std::string_view key) const {
        return rejected.count(std::string(section) + "." + std::string(key)) != 0;
    }

    /// False once a port problem was reported: zone lists may then be
    /// incomplete, so rules are not checked against them (no cascades).
    bool zones_complete = true;

    SectionState& section() { return sections[size_t(current)]; }
    PortConfig& port() { return cfg.dataplane.ports[size_t(section().target)]; }
    PeerConfig& peer() { return cfg.peers[size_t(section().target)]; }

    /// The section named `name` (first one), or nullptr.
    const SectionState* findSection(std::string_view name) const;
    /// Line of `key` in section `name`; else the section's line; else 0.
    unsigned lineOf(std::string_view name, std::string_view key) const;
    /// True when `key` was set in section `name`.
    bool isSet(std::string_view name, std::string_view key) const;

    void error(unsigned line, std::string message) { diag.error(file, line, std::move(message)); }
    void warning(unsigned line, std::string message) {
        diag.warning(file, line, std::move(message));
    }
    /// Reports "[SECTION] KEY = VALUE: EXPECTED" at the entry's line; returns false.
    bool badValue(const IniEntry& e, std::string_view expected);
};

}  // namespace tandem::config_detail
