// Diagnostics: the errors and warnings collected while loading a config.
//
// The loader never stops at the first problem: every stage reports here and
// the caller fails once at the end. Items are returned in the order an
// operator reads the file (by line), so a problem found late (a cross-field
// check) still appears beside its neighbours.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace tandem::config_detail {

class Diagnostics {
  public:
    /// Reports a problem at `file:line` (line 0: not tied to a line). `order`
    /// positions it among the others; by default the line itself, and for a
    /// file included from the config (a rules file), the including line.
    void error(const std::string& file, unsigned line, std::string message);
    void errorAt(unsigned order, const std::string& file, unsigned line, std::string message);
    void warning(const std::string& file, unsigned line, std::string message);

    bool hasErrors() const { return !errors_.empty(); }
    size_t errorCount() const { return errors_.size(); }

    /// The collected items, sorted by position; lineless items come last.
    std::vector<ConfigError> errors() const { return sorted(errors_); }
    std::vector<ConfigError> warnings() const { return sorted(warnings_); }

  private:
    struct Item {
        unsigned order;
        ConfigError error;
    };
    static std::vector<ConfigError> sorted(std::vector<Item> items);

    std::vector<Item> errors_;
    std::vector<Item> warnings_;
};

}  // namespace tandem::config_detail
