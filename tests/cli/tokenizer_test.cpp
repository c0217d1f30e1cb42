#include "cli/tokenizer.h"

#include <doctest/doctest.h>

using namespace tandem::cli;

TEST_CASE("words split on blanks and keep their columns") {
    TokenizeResult r = tokenize("  show\tsession  id 42");
    REQUIRE(r.tokens.size() == 4);
    CHECK(r.tokens[0].text == "show");
    CHECK(r.tokens[0].begin == 2);
    CHECK(r.tokens[3].text == "42");
    CHECK(r.tokens[3].begin == 19);
    CHECK(r.tokens[3].end == 21);
    CHECK_FALSE(r.ends_with_blank);
    CHECK_FALSE(r.error);
}

TEST_CASE("a trailing blank means the next word has not started") {
    CHECK(tokenize("show ").ends_with_blank);
    CHECK(tokenize("").ends_with_blank);
    CHECK_FALSE(tokenize("show").ends_with_blank);
}

TEST_CASE("IPv6 addresses and hyphenated words are single words") {
    TokenizeResult r = tokenize("show session flow 2001:db8::1 high-availability");
    REQUIRE(r.tokens.size() == 5);
    CHECK(r.tokens[3].text == "2001:db8::1");
    CHECK(r.tokens[4].text == "high-availability");
}

TEST_CASE("quotes hold blanks and escaped quotes") {
    TokenizeResult r = tokenize(R"(debug "a b\"c" info)");
    REQUIRE(r.tokens.size() == 3);
    CHECK(r.tokens[1].text == "a b\"c");
    CHECK(r.tokens[1].quoted);
    CHECK(quoteWord("a b\"c") == R"("a b\"c")");
    CHECK(quoteWord("plain") == "plain");
}

TEST_CASE("an unclosed quote is reported with its column") {
    TokenizeResult r = tokenize("debug \"abc");
    REQUIRE(r.error);
    CHECK(r.error->find("column 7") != std::string::npos);
}
