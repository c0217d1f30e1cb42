#include "cli/prompt.h"

#include <doctest/doctest.h>

#include "cli/daemon_values.h"

using namespace tandem::cli;
using nlohmann::json;

TEST_CASE("the prompt shows the node name and its HA state") {
    json ha = {{"local", {{"id", 1}, {"name", "fw1"}, {"state", "active-primary"}}}};
    CHECK(promptText(&ha, nullptr) == "fw1(active-primary)> ");
}

TEST_CASE("without HA state the prompt falls back to the configured name, then to tandem") {
    json cfg = {{"file", "t.conf"}, {"summary", "node 1 (fw1) in cluster 1; inline mode"}};
    CHECK(promptText(nullptr, &cfg) == "fw1> ");
    json cfg2 = {{"node", {{"name", "edge-a"}}}};
    CHECK(promptText(nullptr, &cfg2) == "edge-a> ");
    json odd = {{"summary", "something else"}};
    CHECK(promptText(nullptr, &odd) == "tandem> ");
    CHECK(promptText(nullptr, nullptr) == "tandem> ");
}

TEST_CASE("completion values come from the daemon's answers and are kept a while") {
    int fetches = 0;
    DaemonValues values([&](const std::string& command) -> std::optional<json> {
        ++fetches;
        if (command == "show session all") {
            return json{{"sessions", {{{"id", 17}}, {{"id", 23}}, {{"name", "x"}}}}};
        }
        if (command == "show cluster members") return std::nullopt;  // not supported yet
        if (command == "show high-availability state") {
            return json{{"local", {{"id", 1}, {"name", "fw1"}}},
                        {"peers", {{{"id", 2}, {"name", "fw2"}}}}};
        }
        return std::nullopt;
    });
    CHECK(values(ValueSource::session_ids) == std::vector<std::string>{"17", "23"});
    CHECK(values(ValueSource::session_ids) == std::vector<std::string>{"17", "23"});
    CHECK(fetches == 1);
    CHECK(values(ValueSource::node_names) == std::vector<std::string>{"1", "2", "fw1", "fw2"});
    CHECK(fetches == 3);
}
