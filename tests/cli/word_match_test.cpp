#include "cli/word_match.h"

#include <doctest/doctest.h>

using namespace tandem::cli;

TEST_CASE("a prefix abbreviates a keyword") {
    CHECK(abbreviates("sh", "show"));
    CHECK(abbreviates("SH", "show"));
    CHECK(abbreviates("show", "show"));
    CHECK_FALSE(abbreviates("showx", "show"));
    CHECK_FALSE(abbreviates("", "show"));
}

TEST_CASE("initials of a hyphenated keyword abbreviate it") {
    CHECK(abbreviates("ha", "high-availability"));
    CHECK(abbreviates("hi-av", "high-availability"));
    CHECK(abbreviates("hiav", "high-availability"));
    CHECK(abbreviates("pl", "peer-link"));
    CHECK(abbreviates("ss", "state-synchronization"));
    CHECK_FALSE(abbreviates("hax", "high-availability"));
    CHECK_FALSE(abbreviates("ah", "high-availability"));
}

TEST_CASE("an exact word wins over longer keywords it begins") {
    WordMatch m = matchWord("state", {"state", "state-synchronization"});
    CHECK(m.kind == WordMatch::Kind::unique);
    CHECK(m.word == "state");
}

TEST_CASE("a shared prefix picks the keyword the others extend") {
    WordMatch m = matchWord("st", {"state-synchronization", "state"});
    CHECK(m.kind == WordMatch::Kind::unique);
    CHECK(m.word == "state");
    m = matchWord("state-s", {"state-synchronization", "state"});
    CHECK(m.word == "state-synchronization");
}

TEST_CASE("a word matching two unrelated keywords is ambiguous and names both") {
    WordMatch m = matchWord("co", {"counters", "config", "cluster"});
    CHECK(m.kind == WordMatch::Kind::ambiguous);
    CHECK(m.candidates == std::vector<std::string>{"config", "counters"});
}

TEST_CASE("a word matching nothing says so") {
    WordMatch m = matchWord("foo", {"show", "clear"});
    CHECK(m.kind == WordMatch::Kind::none);
    CHECK(m.candidates.empty());
}
