// docs/config.md is written by hand; this test keeps it true to the config
// keyword table (src/config/section_keywords.cpp): every section has its
// "## [name]" heading and every key its table row under that heading, so a
// new key cannot ship undocumented.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "config/section_keywords.h"

namespace tandem {
namespace {

std::string readConfigDoc() {
    std::ifstream in(std::string(TANDEM_SOURCE_DIR) + "/docs/config.md");
    REQUIRE_MESSAGE(in.good(), "cannot read docs/config.md");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The text under the "## " heading that starts with `heading`, up to the next
// "## " heading ("### " subsections stay inside).
std::string docSection(const std::string& doc, const std::string& heading) {
    const size_t start = doc.find("\n## " + heading);
    if (start == std::string::npos) return "";
    const size_t end = doc.find("\n## ", start + 1);
    return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// A key is documented by a table row that starts with it: "| `key` |".
bool hasKeyRow(const std::string& section, std::string_view key) {
    return section.find("\n| `" + std::string(key) + "` |") != std::string::npos;
}

TEST_CASE("docs/config.md has a section for every config section and a row for each of its keys") {
    const std::string doc = readConfigDoc();
    for (const auto& kind : config_detail::sectionKinds()) {
        const std::string heading =
            "[" + std::string(kind.name) +
            (kind.suffix.empty() ? "]" : "." + std::string(kind.suffix) + "]");
        CAPTURE(heading);
        const std::string text = docSection(doc, heading);
        CHECK_MESSAGE(!text.empty(), "no '## " << heading << "' in docs/config.md");
        for (const auto& key : config_detail::keywordNames(kind)) {
            CHECK_MESSAGE(hasKeyRow(text, key), "key '" << key << "' has no row under " << heading);
        }
    }
}

TEST_CASE("a key missing from docs/config.md is noticed") {
    const std::string doc =
        "\n## [ha] — x\n\n| `peer-link-port` | name |\n\n## [tcp] — y\n| `pickup` |\n";
    const std::string ha = docSection(doc, "[ha]");
    CHECK(hasKeyRow(ha, "peer-link-port"));
    CHECK_FALSE(hasKeyRow(ha, "peer-link"));  // a prefix of a key is not the key
    CHECK_FALSE(hasKeyRow(ha, "pickup"));     // a row of the next section is not under [ha]
}

}  // namespace
}  // namespace tandem
