#include "proto/control_command.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

namespace tandem::control {

TEST_CASE("every command is defined once, under its own id, with unique words") {
    REQUIRE(commandSet().size() == kCommandCount);
    std::set<std::string_view> words;
    for (size_t i = 0; i < kCommandCount; ++i) {
        const CommandDef& def = commandSet()[i];
        CAPTURE(def.words);
        CHECK(def.id == CommandId(i));
        CHECK(&commandDef(def.id) == &def);
        CHECK(words.insert(def.words).second);
        CHECK_FALSE(def.help.empty());
        // Canonical words: no blank at either end, single blanks between.
        CHECK(def.words.find("  ") == std::string_view::npos);
        CHECK(def.words.front() != ' ');
        CHECK(def.words.back() != ' ');
        std::set<std::string_view> keys;
        for (const CommandArg& a : def.args) CHECK(keys.insert(a.key).second);
    }
}

TEST_CASE("a command is found by its canonical words only") {
    const CommandDef* resync =
        findCommand("request high-availability state-synchronization resync");
    REQUIRE(resync != nullptr);
    CHECK(resync->id == CommandId::request_ha_resync);
    CHECK(resync->needs_ha);
    CHECK(commandWords(CommandId::show_counters) == "show counters");
    CHECK(findCommand("show counters ") == nullptr);
    CHECK(findCommand("sh counters") == nullptr);
    CHECK(findCommand("") == nullptr);
}

}  // namespace tandem::control
