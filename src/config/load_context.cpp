#include "config/load_context.h"

namespace tandem::config_detail {
namespace {

std::string shortValue(std::string_view v) {
    constexpr size_t kMax = 60;
    if (v.size() <= kMax) return std::string(v);
    return std::string(v.substr(0, kMax)) + "...";
}

}  // namespace

const SectionState* LoadContext::findSection(std::string_view name) const {
    for (const auto& s : sections)
        if (s.name == name) return &s;
    return nullptr;
}

unsigned LoadContext::lineOf(std::string_view name, std::string_view key) const {
    const SectionState* s = findSection(name);
    if (s == nullptr) return 0;
    auto it = s->keys.find(key);
    return it == s->keys.end() ? s->line : it->second;
}

bool LoadContext::isSet(std::string_view name, std::string_view key) const {
    const SectionState* s = findSection(name);
    return s != nullptr && s->keys.find(key) != s->keys.end();
}

bool LoadContext::badValue(const IniEntry& e, std::string_view expected) {
    std::string where = "[" + section().name + "] " + e.key;
    if (e.value.empty()) {
        error(e.line, where + " is empty: " + std::string(expected));
    } else {
        error(e.line, where + " = " + shortValue(e.value) + ": " + std::string(expected));
    }
    return false;
}

}  // namespace tandem::config_detail
