// Token: one word of a command line, with where it sits in the line, and
// tokenize(), which splits a line the way the shell reads it.
//
// Words are separated by blanks (space, tab). A word may be double-quoted to
// hold blanks ("a b"); inside quotes, \" and \\ stand for " and \. Nothing
// else is special: '-', ':', '.' and '/' are ordinary characters, so IPv6
// addresses and hyphenated keywords are single words.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::cli {

struct Token {
    std::string text;  ///< the word without its quotes
    size_t begin = 0;  ///< offset of the first character (the quote, if quoted)
    size_t end = 0;    ///< offset one past the last character
    bool quoted = false;
};

struct TokenizeResult {
    std::vector<Token> tokens;
    /// Set when a quote is not closed; the tokens up to it are still filled,
    /// and the unterminated word is the last token.
    std::optional<std::string> error;
    /// True when the line ends in a blank (or is empty): the next word has
    /// not been started. False when the last token runs to the end of the line.
    bool ends_with_blank = true;
};

/// Splits `line` into words. Pure; thread-safe.
TokenizeResult tokenize(std::string_view line);

/// Quotes `word` if it holds a blank, a quote or a backslash, so that
/// tokenize() gives it back unchanged; returns it as is otherwise.
std::string quoteWord(std::string_view word);

}  // namespace tandem::cli
