#include "config/diagnostics.h"

#include <algorithm>
#include <climits>

namespace tandem::config_detail {
namespace {

unsigned positionOf(unsigned line) {
    return line == 0 ? UINT_MAX : line;
}

}  // namespace

void Diagnostics::error(const std::string& file, unsigned line, std::string message) {
    errorAt(line, file, line, std::move(message));
}

void Diagnostics::errorAt(unsigned order, const std::string& file, unsigned line,
                          std::string message) {
    errors_.push_back({positionOf(order), ConfigError{file, line, std::move(message)}});
}

void Diagnostics::warning(const std::string& file, unsigned line, std::string message) {
    warnings_.push_back({positionOf(line), ConfigError{file, line, std::move(message)}});
}

std::vector<ConfigError> Diagnostics::sorted(std::vector<Item> items) {
    std::stable_sort(items.begin(), items.end(),
                     [](const Item& a, const Item& b) { return a.order < b.order; });
    std::vector<ConfigError> out;
    out.reserve(items.size());
    for (auto& item : items) out.push_back(std::move(item.error));
    return out;
}

}  // namespace tandem::config_detail
