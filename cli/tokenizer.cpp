#include "cli/tokenizer.h"

namespace tandem::cli {
namespace {

bool isBlank(char c) {
    return c == ' ' || c == '\t';
}

}  // namespace

TokenizeResult tokenize(std::string_view line) {
    TokenizeResult out;
    size_t i = 0;
    const size_t n = line.size();
    while (i < n) {
        while (i < n && isBlank(line[i])) ++i;
        if (i == n) break;
        Token t;
        t.begin = i;
        if (line[i] == '"') {
            t.quoted = true;
            ++i;
            bool closed = false;
            while (i < n) {
                char c = line[i];
                if (c == '\\' && i + 1 < n && (line[i + 1] == '"' || line[i + 1] == '\\')) {
                    t.text += line[i + 1];
                    i += 2;
                } else if (c == '"') {
                    ++i;
                    closed = true;
                    break;
                } else {
                    t.text += c;
                    ++i;
                }
            }
            if (!closed)
                out.error =
                    "missing closing quote for the word at column " + std::to_string(t.begin + 1);
        } else {
            while (i < n && !isBlank(line[i])) t.text += line[i++];
        }
        t.end = i;
        out.tokens.push_back(std::move(t));
    }
    out.ends_with_blank =
        line.empty() || isBlank(line.back()) || out.tokens.empty() || out.tokens.back().end < n;
    return out;
}

std::string quoteWord(std::string_view word) {
    bool needs = word.empty();
    for (char c : word) {
        if (isBlank(c) || c == '"' || c == '\\') needs = true;
    }
    if (!needs) return std::string(word);
    std::string out = "\"";
    for (char c : word) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

}  // namespace tandem::cli
