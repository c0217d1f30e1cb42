#include "cli/command_parser.h"

#include <algorithm>

#include "cli/tokenizer.h"
#include "cli/word_match.h"
#include "core/text.h"

namespace tandem::cli {
namespace {

// Where a walk through the tree stands after some words.
struct Walk {
    const CommandNode* node = nullptr;
    std::vector<std::string> words;       // the words so far, expanded
    size_t next_arg = 0;                  // into args, then optional_args
    const OptionSpec* pending = nullptr;  // option keyword read, its value not yet
    std::vector<const OptionSpec*> used;  // options given so far
    nlohmann::json args = nlohmann::json::object();

    const CommandAction* action() const { return node->action ? &*node->action : nullptr; }

    // The slot the next word must fill, when a value is mandatory there.
    const ArgSpec* requiredSlot() const {
        if (pending != nullptr) return &*pending->value;
        const CommandAction* a = action();
        if (a != nullptr && next_arg < a->args.size()) return &a->args[next_arg];
        return nullptr;
    }

    // The optional positional slot the next word may fill.
    const ArgSpec* optionalSlot() const {
        const CommandAction* a = action();
        if (a == nullptr || pending != nullptr || next_arg < a->args.size()) return nullptr;
        const size_t i = next_arg - a->args.size();
        return i < a->optional_args.size() ? &a->optional_args[i] : nullptr;
    }

    bool isUsed(const OptionSpec* o) const {
        return std::find(used.begin(), used.end(), o) != used.end();
    }

    bool canEnd() const {
        const CommandAction* a = action();
        return a != nullptr && pending == nullptr && next_arg >= a->args.size() &&
               used.size() >= a->min_options;
    }

    std::string text() const {
        std::string out;
        for (const auto& w : words) {
            if (!out.empty()) out += ' ';
            out += w;
        }
        return out;
    }

    std::string after() const { return words.empty() ? "" : " after '" + text() + "'"; }
};

std::vector<std::string> childWords(const CommandNode& node) {
    std::vector<std::string> out;
    for (const auto& c : node.children) out.push_back(c.word);
    return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

// Keywords (option keywords and the words of an optional choice slot) that may
// come next once the required values are in.
std::vector<std::string> keywordsAt(const Walk& w, bool include_used) {
    std::vector<std::string> out;
    const CommandAction* a = w.action();
    if (a == nullptr) return childWords(*w.node);
    if (w.requiredSlot() != nullptr) return out;
    for (const auto& o : a->options) {
        if (include_used || !w.isUsed(&o)) out.push_back(o.keyword);
    }
    if (const ArgSpec* opt = w.optionalSlot(); opt != nullptr && opt->kind == ArgKind::choice) {
        for (const auto& c : opt->choices) out.push_back(c);
    }
    return out;
}

ParseError error(std::string message, const Token& at) {
    return {std::move(message), at.begin};
}

ParseError unknownWord(const Walk& w, const Token& t) {
    const CommandAction* a = w.action();
    if (a == nullptr) {
        const std::string what = w.words.empty() ? "unknown command '" : "unknown word '";
        return error(what + t.text + "'" + w.after() +
                         "; expected one of: " + joinWords(sorted(childWords(*w.node))),
                     t);
    }
    std::vector<std::string> expected = sorted(keywordsAt(w, false));
    if (const ArgSpec* opt = w.optionalSlot(); opt != nullptr && opt->kind != ArgKind::choice) {
        expected.push_back(opt->placeholder + " (" + expectedText(*opt) + ")");
    }
    if (expected.empty()) {
        return error(
            "unexpected word '" + t.text + "'" + w.after() + "; expected the end of the command",
            t);
    }
    std::string list = joinWords(expected);
    if (w.canEnd()) list += ", or the end of the command";
    return error("unknown word '" + t.text + "'" + w.after() + "; expected one of: " + list, t);
}

void acceptValue(Walk& w, const ArgSpec& slot, const ArgCheck& c) {
    w.args[slot.key] = *c.value;
    w.words.push_back(quoteWord(c.text));
    if (w.pending != nullptr) {
        w.pending = nullptr;
    } else {
        ++w.next_arg;
    }
}

std::optional<ParseError> checkValue(Walk& w, const ArgSpec& slot, const Token& t) {
    ArgCheck c = checkArg(slot, t.text);
    if (c.value) {
        acceptValue(w, slot, c);
        return std::nullopt;
    }
    if (!c.ambiguous.empty()) {
        return error("ambiguous " + slot.placeholder + " '" + t.text + "'" + w.after() +
                         ": could be " + joinWords(c.ambiguous),
                     t);
    }
    return error("invalid " + slot.placeholder + " '" + t.text + "'" + w.after() + "; expected " +
                     expectedText(slot),
                 t);
}

// Advances the walk by one word, or says why the word does not fit.
std::optional<ParseError> step(Walk& w, const Token& t) {
    if (const ArgSpec* slot = w.requiredSlot()) return checkValue(w, *slot, t);

    const std::vector<std::string> keywords = keywordsAt(w, true);
    const WordMatch m = matchWord(t.text, keywords);
    if (m.kind == WordMatch::Kind::ambiguous) {
        return error(
            "ambiguous word '" + t.text + "'" + w.after() + ": could be " + joinWords(m.candidates),
            t);
    }
    if (m.kind == WordMatch::Kind::unique) {
        if (w.action() == nullptr) {
            for (const auto& c : w.node->children) {
                if (c.word == m.word) w.node = &c;
            }
            w.words.push_back(m.word);
            return std::nullopt;
        }
        for (const auto& o : w.action()->options) {
            if (o.keyword != m.word) continue;
            if (w.isUsed(&o)) {
                return error(
                    "'" + o.keyword + "' is given twice" + w.after() + "; each may appear once", t);
            }
            w.used.push_back(&o);
            w.words.push_back(o.keyword);
            if (o.value) {
                w.pending = &o;
            } else {
                w.args[o.flag_key] = true;
            }
            return std::nullopt;
        }
        const ArgSpec* opt = w.optionalSlot();
        w.args[opt->key] = m.word;
        w.words.push_back(m.word);
        ++w.next_arg;
        return std::nullopt;
    }
    if (const ArgSpec* opt = w.optionalSlot(); opt != nullptr && opt->kind != ArgKind::choice) {
        ArgCheck c = checkArg(*opt, t.text);
        if (c.value) {
            acceptValue(w, *opt, c);
            return std::nullopt;
        }
    }
    return unknownWord(w, t);
}

// Whether the walk may stop here, or what is missing.
std::optional<ParseError> finish(const Walk& w, size_t end_column) {
    const CommandAction* a = w.action();
    if (a == nullptr) {
        return ParseError{"incomplete command '" + w.text() +
                              "'; expected one of: " + joinWords(sorted(childWords(*w.node))),
                          end_column};
    }
    if (const ArgSpec* slot = w.requiredSlot()) {
        return ParseError{"missing " + slot->placeholder + " after '" + w.text() + "'; expected " +
                              expectedText(*slot),
                          end_column};
    }
    if (w.used.size() < a->min_options) {
        std::vector<std::string> keys;
        for (const auto& o : a->options) keys.push_back(o.keyword);
        return ParseError{"incomplete command '" + w.text() +
                              "'; expected at least one of: " + joinWords(sorted(keys)),
                          end_column};
    }
    return std::nullopt;
}

// The words before the one being typed, walked; and the word being typed.
struct Position {
    Walk walk;
    std::optional<ParseError> error;
    std::string partial;
    Token partial_token;
};

Position locate(const CommandNode& root, std::string_view before_cursor) {
    Position p;
    p.walk.node = &root;
    TokenizeResult tr = tokenize(before_cursor);
    std::vector<Token> tokens = tr.tokens;
    if (!tr.ends_with_blank && !tokens.empty()) {
        p.partial_token = tokens.back();
        p.partial = tokens.back().text;
        tokens.pop_back();
    } else {
        p.partial_token.begin = p.partial_token.end = before_cursor.size();
    }
    for (const auto& t : tokens) {
        if ((p.error = step(p.walk, t))) break;
    }
    return p;
}

bool startsWith(const std::string& text, const std::string& prefix) {
    return text.compare(0, prefix.size(), prefix) == 0;
}

void addValueCandidates(const ArgSpec& slot, const std::string& partial,
                        const ValueProvider& values, std::vector<std::string>* out) {
    for (const auto& c : staticCandidates(slot)) {
        const bool keyword_like = slot.kind == ArgKind::choice || slot.kind == ArgKind::proto;
        if (partial.empty() || (keyword_like ? abbreviates(partial, c) : startsWith(c, partial))) {
            out->push_back(c);
        }
    }
    if (slot.source != ValueSource::none && values) {
        for (const auto& v : values(slot.source)) {
            if (startsWith(v, partial)) out->push_back(v);
        }
    }
}

void addSlotHelp(const ArgSpec& slot, const std::string& partial, std::vector<HelpItem>* out) {
    if (slot.kind == ArgKind::choice) {
        for (size_t i = 0; i < slot.choices.size(); ++i) {
            if (!partial.empty() && !abbreviates(partial, slot.choices[i])) continue;
            out->push_back(
                {slot.choices[i], i < slot.choice_help.size() ? slot.choice_help[i] : slot.help});
        }
        return;
    }
    out->push_back({"<" + slot.placeholder + ">", slot.help + " (" + expectedText(slot) + ")"});
}

bool byWord(const HelpItem& a, const HelpItem& b) {
    return a.word < b.word;
}

}  // namespace

std::string formatHelp(const HelpResult& help) {
    if (help.error) return "error: " + help.error->message + "\n";
    if (help.items.empty()) return "  <cr>  run the command\n";
    size_t width = 0;
    for (const auto& i : help.items) width = std::max(width, i.word.size());
    std::string out;
    for (const auto& i : help.items) {
        out += "  " + i.word + std::string(width - i.word.size() + 3, ' ') + i.help + "\n";
    }
    return out;
}

CommandParser::CommandParser(const CommandNode& root) : root_(root) {}

ParseResult CommandParser::parse(std::string_view line) const {
    ParseResult r;
    TokenizeResult tr = tokenize(line);
    if (tr.error) {
        r.error = ParseError{*tr.error, tr.tokens.empty() ? 0 : tr.tokens.back().begin};
        return r;
    }
    if (tr.tokens.empty()) {
        r.empty = true;
        return r;
    }
    Walk w;
    w.node = &root_;
    for (const auto& t : tr.tokens) {
        if ((r.error = step(w, t))) return r;
    }
    if ((r.error = finish(w, line.size()))) return r;
    ParsedCommand cmd;
    cmd.action = w.action();
    cmd.canonical = cmd.action->canonical;
    cmd.args = std::move(w.args);
    cmd.expanded = w.text();
    r.command = std::move(cmd);
    return r;
}

std::vector<std::string> CommandParser::complete(std::string_view before_cursor,
                                                 const ValueProvider& values) const {
    if (tokenize(before_cursor).error) return {};
    Position p = locate(root_, before_cursor);
    if (p.error) return {};
    const Walk& w = p.walk;
    std::vector<std::string> out;
    if (const ArgSpec* slot = w.requiredSlot()) {
        addValueCandidates(*slot, p.partial, values, &out);
        return sorted(out);
    }
    for (const auto& k : keywordsAt(w, false)) {
        if (p.partial.empty() || abbreviates(p.partial, k)) out.push_back(k);
    }
    if (const ArgSpec* opt = w.optionalSlot(); opt != nullptr && opt->kind != ArgKind::choice) {
        addValueCandidates(*opt, p.partial, values, &out);
    }
    return sorted(out);
}

HelpResult CommandParser::help(std::string_view before_cursor) const {
    HelpResult r;
    if (auto tr = tokenize(before_cursor); tr.error) {
        r.error = ParseError{*tr.error, tr.tokens.back().begin};
        return r;
    }
    Position p = locate(root_, before_cursor);
    if (p.error) {
        r.error = p.error;
        return r;
    }
    const Walk& w = p.walk;
    const CommandAction* a = w.action();
    if (a == nullptr) {
        for (const auto& c : w.node->children) {
            if (p.partial.empty() || abbreviates(p.partial, c.word)) {
                r.items.push_back({c.word, c.help});
            }
        }
        std::sort(r.items.begin(), r.items.end(), byWord);
    } else if (const ArgSpec* slot = w.requiredSlot()) {
        addSlotHelp(*slot, p.partial, &r.items);
    } else {
        for (const auto& o : a->options) {
            if (w.isUsed(&o) || (!p.partial.empty() && !abbreviates(p.partial, o.keyword))) {
                continue;
            }
            r.items.push_back({o.keyword, o.help});
        }
        std::sort(r.items.begin(), r.items.end(), byWord);
        if (const ArgSpec* opt = w.optionalSlot()) addSlotHelp(*opt, p.partial, &r.items);
        if (p.partial.empty() && w.canEnd()) r.items.push_back({"<cr>", "run the command"});
    }
    if (r.items.empty() && !p.partial.empty()) {
        Walk probe = w;
        r.error = step(probe, p.partial_token);
    }
    return r;
}

}  // namespace tandem::cli
