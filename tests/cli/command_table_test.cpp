#include "cli/command_table.h"

#include <doctest/doctest.h>

#include <map>
#include <set>

#include "cli/command_parser.h"
#include "proto/control_command.h"

using namespace tandem::cli;

namespace {

void walk(const CommandNode& node, const std::string& path,
          std::vector<std::pair<std::string, const CommandNode*>>* out) {
    out->push_back({path, &node});
    for (const auto& c : node.children) walk(c, path.empty() ? c.word : path + " " + c.word, out);
}

}  // namespace

TEST_CASE("every node has help and either words below it or an action") {
    std::vector<std::pair<std::string, const CommandNode*>> nodes;
    walk(commandTable(), "", &nodes);
    for (const auto& [path, node] : nodes) {
        if (path.empty()) continue;
        CAPTURE(path);
        CHECK_FALSE(node->help.empty());
        CHECK(node->children.empty() != !node->action.has_value());
        if (node->action && node->action->builtin == Builtin::none) {
            CHECK_FALSE(node->action->canonical.empty());
        }
    }
}

TEST_CASE("within a command, argument keys and keywords are unique") {
    std::vector<std::pair<std::string, const CommandNode*>> nodes;
    walk(commandTable(), "", &nodes);
    for (const auto& [path, node] : nodes) {
        if (!node->action) continue;
        CAPTURE(path);
        std::set<std::string> keys, words;
        for (const auto& a : node->action->args) CHECK(keys.insert(a.key).second);
        for (const auto& a : node->action->optional_args) {
            CHECK(keys.insert(a.key).second);
            for (const auto& c : a.choices) CHECK(words.insert(c).second);
        }
        for (const auto& o : node->action->options) {
            CHECK(words.insert(o.keyword).second);
            CHECK(keys.insert(o.value ? o.value->key : o.flag_key).second);
        }
    }
}

TEST_CASE("every command parses when typed in full") {
    CommandParser parser(commandTable());
    std::vector<std::pair<std::string, const CommandNode*>> nodes;
    walk(commandTable(), "", &nodes);
    for (const auto& [path, node] : nodes) {
        if (!node->action || !node->action->args.empty() || node->action->min_options > 0) continue;
        CAPTURE(path);
        ParseResult r = parser.parse(path);
        REQUIRE(r.command);
        CHECK(r.command->expanded == path);
    }
}

// The commands sent to tandemd are defined once (src/proto/control_command.h);
// the tree must spell each one as defined, and nothing else.
TEST_CASE("the tree has one leaf per daemon command, at the path of its words") {
    std::vector<std::pair<std::string, const CommandNode*>> nodes;
    walk(commandTable(), "", &nodes);
    std::map<std::string, const CommandNode*> leaves;  // canonical -> leaf
    for (const auto& [path, node] : nodes) {
        if (!node->action || node->action->builtin != Builtin::none) continue;
        CAPTURE(path);
        CHECK(node->action->canonical == path);
        CHECK_MESSAGE(tandem::control::findCommand(path) != nullptr,
                      "'" << path << "' is not in src/proto/control_command.cpp");
        CHECK(leaves.emplace(path, node).second);
    }
    for (const auto& def : tandem::control::commandSet()) {
        CAPTURE(def.words);
        auto it = leaves.find(std::string(def.words));
        REQUIRE_MESSAGE(it != leaves.end(), "the shell has no leaf for '" << def.words << "'");
        CHECK(it->second->help == def.help);
    }
}

TEST_CASE("a command's argument slots fill exactly the args its definition names") {
    std::vector<std::pair<std::string, const CommandNode*>> nodes;
    walk(commandTable(), "", &nodes);
    for (const auto& [path, node] : nodes) {
        const auto* def = node->action ? tandem::control::findCommand(path) : nullptr;
        if (def == nullptr) continue;
        CAPTURE(path);
        std::set<std::string> required, optional;
        for (const auto& a : node->action->args) required.insert(a.key);
        for (const auto& a : node->action->optional_args) optional.insert(a.key);
        for (const auto& o : node->action->options)
            optional.insert(o.value ? o.value->key : o.flag_key);
        std::set<std::string> want_required, want_optional;
        for (const auto& a : def->args)
            (a.required ? want_required : want_optional).insert(std::string(a.key));
        CHECK(required == want_required);
        CHECK(optional == want_optional);
    }
}
