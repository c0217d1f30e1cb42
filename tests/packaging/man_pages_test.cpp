// The man pages are written by hand (packaging/man/*.[58]); these tests keep
// them true to the code: every section and key of the config keyword table is
// in tandem.conf(5), and every word of the shell's command table in tandem(8).
#include <doctest/doctest.h>

#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "cli/command_table.h"
#include "config/section_keywords.h"

namespace tandem {
namespace {

std::string readManPage(const std::string& name) {
    std::ifstream in(std::string(TANDEM_SOURCE_DIR) + "/packaging/man/" + name);
    REQUIRE_MESSAGE(in.good(), "cannot read packaging/man/" << name);
    std::stringstream text;
    text << in.rdbuf();
    // Font changes (\fB, \fI, \fR, \fP) are not part of the words they mark.
    std::string page = text.str();
    for (size_t at = page.find("\\f"); at != std::string::npos; at = page.find("\\f", at)) {
        page.erase(at, 3);
    }
    return page;
}

// How roff source spells a word: '-' is written "\-".
std::string roff(std::string_view word) {
    std::string out;
    for (char c : word) {
        if (c == '-') out += '\\';
        out += c;
    }
    return out;
}

bool isWordChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '\\' || c == '_';
}

// `word` occurs in `text` as a whole word (not as part of a longer key).
bool hasWord(const std::string& text, std::string_view word) {
    const std::string w = roff(word);
    for (size_t at = text.find(w); at != std::string::npos; at = text.find(w, at + 1)) {
        const bool starts = at == 0 || !isWordChar(text[at - 1]);
        const size_t end = at + w.size();
        const bool ends = end == text.size() || !isWordChar(text[end]);
        if (starts && ends) return true;
    }
    return false;
}

// The text of the man page section whose .SH heading starts with `heading`.
std::string manSection(const std::string& page, const std::string& heading) {
    const size_t start = page.find("\n.SH " + heading);
    if (start == std::string::npos) return "";
    const size_t end = page.find("\n.SH ", start + 1);
    return page.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST_CASE("tandem.conf(5) has a section for every config section and each of its keys") {
    const std::string page = readManPage("tandem.conf.5");
    for (const auto& kind : config_detail::sectionKinds()) {
        std::string heading = "[" + std::string(kind.name) + (kind.suffix.empty() ? "]" : ".");
        CAPTURE(heading);
        const std::string text = manSection(page, roff(heading));
        CHECK_MESSAGE(!text.empty(), "no .SH " << heading << " in tandem.conf.5");
        for (const auto& key : config_detail::keywordNames(kind)) {
            CHECK_MESSAGE(hasWord(text, key), "key '" << key << "' missing under " << heading);
        }
    }
}

void collectWords(const cli::CommandNode& node, std::set<std::string>* words,
                  std::set<std::string>* commands) {
    if (!node.word.empty()) words->insert(node.word);
    if (node.action) {
        if (!node.action->canonical.empty()) commands->insert(node.action->canonical);
        for (const auto& option : node.action->options) words->insert(option.keyword);
        for (const auto* list : {&node.action->args, &node.action->optional_args}) {
            for (const auto& arg : *list) words->insert(arg.choices.begin(), arg.choices.end());
        }
    }
    for (const auto& child : node.children) collectWords(child, words, commands);
}

TEST_CASE("tandem(8) names every command and every word of the shell's command table") {
    const std::string page = readManPage("tandem.8");
    std::set<std::string> words;
    std::set<std::string> commands;
    collectWords(cli::commandTable(), &words, &commands);
    REQUIRE(commands.size() > 10);
    for (const auto& command : commands) {
        CHECK_MESSAGE(page.find(roff(command)) != std::string::npos,
                      "command '" << command << "' missing from tandem.8");
    }
    for (const auto& word : words) {
        CHECK_MESSAGE(hasWord(page, word), "word '" << word << "' missing from tandem.8");
    }
}

TEST_CASE("a missing key is noticed") {
    // The checks above would pass on a page that matched anything.
    CHECK_FALSE(hasWord("\n.BI peer\\-link\\-listen \" = \" IP:PORT\n", "peer-link"));
    CHECK(hasWord("\n.BR peer\\-link \" = \" raw\n", "peer-link"));
    CHECK(manSection("\n.SH [node]\nx\n.SH [ha]\ny\n", "[ha]") == "\n.SH [ha]\ny\n");
}

}  // namespace
}  // namespace tandem
