#include "cli/word_match.h"

#include <algorithm>

namespace tandem::cli {
namespace {

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
}

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
    if (prefix.size() > text.size()) return false;
    for (size_t i = 0; i < prefix.size(); ++i) {
        if (lower(text[i]) != lower(prefix[i])) return false;
    }
    return true;
}

std::vector<std::string_view> splitParts(std::string_view word) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    while (true) {
        size_t dash = word.find('-', start);
        parts.push_back(word.substr(start, dash == std::string_view::npos ? dash : dash - start));
        if (dash == std::string_view::npos) break;
        start = dash + 1;
    }
    return parts;
}

// Can typed[pos..] be consumed as non-empty prefixes of parts[part..], one per
// part, each optionally preceded by a '-'?
bool consumesParts(std::string_view typed, size_t pos, const std::vector<std::string_view>& parts,
                   size_t part) {
    if (part == parts.size()) return pos == typed.size();
    if (part > 0 && pos < typed.size() && typed[pos] == '-') ++pos;
    const std::string_view p = parts[part];
    for (size_t len = 1; len <= p.size() && pos + len <= typed.size(); ++len) {
        if (lower(typed[pos + len - 1]) != lower(p[len - 1])) break;
        if (consumesParts(typed, pos + len, parts, part + 1)) return true;
    }
    return false;
}

}  // namespace

std::string lowerAscii(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = lower(c);
    return out;
}

bool abbreviates(std::string_view typed, std::string_view keyword) {
    if (typed.empty()) return false;
    if (startsWithNoCase(keyword, typed)) return true;
    if (keyword.find('-') == std::string_view::npos) return false;
    return consumesParts(typed, 0, splitParts(keyword), 0);
}

WordMatch matchWord(std::string_view typed, const std::vector<std::string>& keywords) {
    WordMatch m;
    for (const auto& k : keywords) {
        if (lowerAscii(k) == lowerAscii(typed)) {
            m.kind = WordMatch::Kind::unique;
            m.word = k;
            m.candidates = {k};
            return m;
        }
    }
    for (const auto& k : keywords) {
        if (abbreviates(typed, k)) m.candidates.push_back(k);
    }
    std::sort(m.candidates.begin(), m.candidates.end());
    m.candidates.erase(std::unique(m.candidates.begin(), m.candidates.end()), m.candidates.end());
    if (m.candidates.empty()) return m;
    if (m.candidates.size() == 1) {
        m.kind = WordMatch::Kind::unique;
        m.word = m.candidates.front();
        return m;
    }
    for (const auto& base : m.candidates) {
        const bool heads_all =
            std::all_of(m.candidates.begin(), m.candidates.end(), [&](const std::string& other) {
                return other == base || other.rfind(base + "-", 0) == 0;
            });
        if (heads_all) {
            m.kind = WordMatch::Kind::unique;
            m.word = base;
            return m;
        }
    }
    m.kind = WordMatch::Kind::ambiguous;
    return m;
}

}  // namespace tandem::cli
