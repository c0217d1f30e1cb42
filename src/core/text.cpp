#include "core/text.h"

#include <charconv>

namespace tandem {

std::optional<uint64_t> parseUnsigned(std::string_view text, uint64_t lo, uint64_t hi) {
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 10);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    if (v < lo || v > hi) return std::nullopt;
    return v;
}

std::vector<TextWord> splitWords(std::string_view text) {
    auto blank = [](char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
    };
    std::vector<TextWord> words;
    size_t i = 0;
    while (i < text.size()) {
        if (blank(text[i])) {
            ++i;
            continue;
        }
        const size_t start = i;
        while (i < text.size() && !blank(text[i])) ++i;
        words.push_back({text.substr(start, i - start), unsigned(start + 1)});
    }
    return words;
}

std::string joinWords(const std::vector<std::string>& words, std::string_view separator) {
    std::string out;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i > 0) out += separator;
        out += words[i];
    }
    return out;
}

}  // namespace tandem
