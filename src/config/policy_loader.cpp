#include "config/policy_loader.h"

#include <sys/stat.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "config/value_parsers.h"

namespace tandem::config_detail {
namespace {

struct LoadedRule {
    Rule rule;
    const RuleSource* source;
};

void ruleError(LoadContext& c, const RuleSource& src, unsigned column, const std::string& msg) {
    std::string text =
        column == 0 ? msg : "column " + std::to_string(src.column_offset + column) + ": " + msg;
    c.diag.errorAt(src.order, src.file, src.line, std::move(text));
}

// 1-based column of `word` as a whole token of `text` (tokens end at blanks
// and commas) after the keyword `after`, or 0.
unsigned columnOfToken(std::string_view text, std::string_view after, std::string_view word) {
    auto isBreak = [](char ch) { return ch == ' ' || ch == '\t' || ch == ','; };
    size_t from = 0;
    for (size_t at = text.find(after); at != std::string_view::npos;
         at = text.find(after, at + 1)) {
        bool starts = at == 0 || isBreak(text[at - 1]);
        bool ends = at + after.size() < text.size() && isBreak(text[at + after.size()]);
        if (starts && ends) {
            from = at + after.size();
            break;
        }
    }
    for (size_t at = text.find(word, from); at != std::string_view::npos;
         at = text.find(word, at + 1)) {
        bool starts = at == 0 || isBreak(text[at - 1]);
        bool ends = at + word.size() == text.size() || isBreak(text[at + word.size()]);
        if (starts && ends) return unsigned(at + 1);
    }
    return 0;
}

void parseOne(LoadContext& c, const RuleSource& src, std::vector<LoadedRule>& out) {
    RuleError err;
    auto rule = parseRule(src.text, &err);
    if (!rule) {
        ruleError(c, src, err.column, err.message.empty() ? "invalid rule" : err.message);
        return;
    }
    out.push_back({std::move(*rule), &src});
}

void readRulesFile(LoadContext& c, const LoadContext::RulesFile& f,
                   std::vector<RuleSource>& sources) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
        c.error(f.line, "[policy] rules-file: " + f.path + " is not a regular file");
        return;
    }
    std::ifstream in(f.path);
    if (!in) {
        c.error(f.line, "[policy] rules-file: cannot read " + f.path + ": " + std::strerror(errno));
        return;
    }
    std::string line;
    unsigned line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        std::string_view l = line;
        l = l.substr(0, l.find('#'));
        size_t lead = l.find_first_not_of(" \t\r");
        if (lead == std::string_view::npos) continue;
        std::string_view text = trimBlanks(l);
        sources.push_back({std::string(text), f.path, line_no, unsigned(lead), f.line});
    }
}

void checkZones(LoadContext& c, const Rule& rule, const RuleSource& source) {
    const auto& zones = c.cfg.zones;
    auto check = [&](const std::vector<std::string>& names, std::string_view keyword) {
        for (const auto& z : names) {
            if (std::find(zones.begin(), zones.end(), z) != zones.end()) continue;
            unsigned column = columnOfToken(source.text, keyword, z);
            ruleError(c, source, column,
                      "zone '" + z + "' is not the zone of any port; zones: " +
                          (zones.empty() ? std::string("(none)") : joinWords(zones)));
        }
    };
    check(rule.from_zones, "from");
    check(rule.to_zones, "to");
}

}  // namespace

void loadPolicy(LoadContext& c) {
    std::vector<RuleSource> file_sources;
    for (const auto& f : c.rules_files) readRulesFile(c, f, file_sources);

    std::vector<LoadedRule> loaded;
    for (const auto& src : c.inline_rules) parseOne(c, src, loaded);
    for (const auto& src : file_sources) parseOne(c, src, loaded);

    for (size_t i = 0; i < loaded.size(); ++i) {
        Rule& rule = loaded[i].rule;
        if (c.zones_complete) checkZones(c, rule, *loaded[i].source);
        if (rule.name.empty()) rule.name = "rule-" + std::to_string(i + 1);
        for (size_t j = 0; j < i; ++j) {
            if (loaded[j].rule.name == rule.name) {
                const RuleSource& first = *loaded[j].source;
                const RuleSource& here = *loaded[i].source;
                std::string where = first.file == here.file
                                        ? "line " + std::to_string(first.line)
                                        : first.file + ":" + std::to_string(first.line);
                ruleError(c, here, 0,
                          "rule name '" + rule.name + "' is already used at " + where +
                              "; rule names must be unique");
                break;
            }
        }
    }
    for (auto& r : loaded) c.cfg.rules.push_back(std::move(r.rule));

    if (c.cfg.rules.empty() && !c.diag.hasErrors()) {
        c.warning(c.lineOf("policy", ""),
                  "no rules: every new session will be denied (the policy ends in deny)");
    }
}

void loadNat(LoadContext& c) {
    NatConfig& nat = c.cfg.nat;
    for (const RuleSource& src : c.nat_pools) {
        NatTextError err;
        std::optional<NatPool> pool = parseNatPool(src.text, &err);
        if (!pool) {
            ruleError(c, src, err.column, err.message);
            continue;
        }
        for (const NatPool& other : nat.pools) {
            if (other.name == pool->name) {
                ruleError(c, src, 1, "pool name '" + pool->name + "' is already used");
                break;
            }
        }
        nat.pools.push_back(std::move(*pool));
    }
    for (const RuleSource& src : c.nat_rules) {
        NatTextError err;
        std::optional<NatRule> rule = parseNatRule(src.text, nat.pools, &err);
        if (!rule) {
            ruleError(c, src, err.column, err.message);
            continue;
        }
        if (c.zones_complete) checkZones(c, rule->match, src);
        if (rule->action == NatAction::dnat) {
            // A reply from the target names its rule by address and port.
            for (const NatRule& o : nat.rules) {
                if (o.action == NatAction::dnat && o.to_addr == rule->to_addr &&
                    o.to_port == rule->to_port && o.proto == rule->proto) {
                    ruleError(c, src, 1,
                              "dnat to the same address and port as an earlier dnat rule: their "
                              "replies could not be told apart");
                    break;
                }
            }
        }
        nat.rules.push_back(std::move(*rule));
    }
    if (c.nat_pools.empty() && c.nat_rules.empty()) return;
    // What the translation cannot do stops the start rather than running
    // untranslated.
    const unsigned line = c.lineOf("nat", "");
    if (c.cfg.dataplane.mode == DataplaneMode::geneve) {
        c.error(line,
                "[nat] cannot be used in geneve mode: the load balancer takes its packets back "
                "unchanged");
    } else {
        // Every worker of every node hands out ports of blocks of its own
        // (nat/nat_steering.h): a worker with none could translate nothing.
        const uint32_t members = uint32_t(c.cfg.peers.size()) + 1;
        const uint32_t needed = members * c.cfg.dataplane.workers;
        // (nat.pools and their lines match where every pool parsed.)
        for (size_t i = 0; nat.pools.size() == c.nat_pools.size() && i < nat.pools.size(); ++i) {
            const NatPoolSpec& spec = nat.pools[i].spec;
            const uint32_t blocks = PortBlockMap(spec, 1).blocks();
            if (blocks >= needed) continue;
            ruleError(c, c.nat_pools[i], 0,
                      "pool '" + nat.pools[i].name + "' has " + std::to_string(blocks) +
                          (blocks == 1 ? " block" : " blocks") + ": each worker of each node (" +
                          std::to_string(members) + " x " +
                          std::to_string(c.cfg.dataplane.workers) +
                          ") needs one of its own (more addresses or ports, or a smaller "
                          "block-size)");
        }
    }
}

}  // namespace tandem::config_detail
