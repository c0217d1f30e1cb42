// IniReader: tandem.conf text → sections and `key = value` entries with the
// line each came from.
//
// One pass over the lines: each is classified, a syntax error is reported
// with its line (every one, not just the first), and each entry keeps its
// line and column for the keyword handlers' messages.
//
// Line syntax: blank; a comment ('#' or ';' first, or '#' anywhere, which
// ends the line's content); `[section]`; `key = value`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"

namespace tandem::config_detail {

struct IniSection {
    std::string name;  ///< text between the brackets, trimmed
    unsigned line = 0;
    bool well_formed = true;  ///< false: a syntax error was reported for it
};

struct IniEntry {
    int section = -1;  ///< index into IniDocument::sections; -1 before any
    std::string key;
    std::string value;  ///< trimmed, '#' comment removed
    /// The text after '=' up to the end of the line, leading blanks removed,
    /// comment included. Z85 keys may contain '#', so key values are cut from
    /// this rather than from `value`.
    std::string raw_value;
    unsigned line = 0;
    unsigned value_column = 0;  ///< 1-based column where `value` starts
};

struct IniDocument {
    std::vector<IniSection> sections;
    std::vector<IniEntry> entries;  ///< in file order
};

/// Scans `text`; syntax errors go to `diag` under the name `file`. Lines with
/// errors are left out of the result; everything else is returned.
IniDocument readIni(std::string_view text, const std::string& file, Diagnostics& diag);

}  // namespace tandem::config_detail
