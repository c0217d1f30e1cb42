#include "nat/nat_rules.h"

#include <algorithm>

#include "core/ip_addr.h"
#include "core/text.h"

namespace tandem {

namespace {

std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}

bool fail(NatTextError* error, unsigned column, std::string message) {
    if (error) *error = {column, std::move(message)};
    return false;
}

std::optional<uint32_t> ipv4(std::string_view text) {
    const std::optional<IpAddr> a = parseIpAddr(text);
    if (!a || !a->isV4Mapped() || text.find(':') != std::string_view::npos) return std::nullopt;
    return a->v4();
}

// "LO-HI" as two numbers within [lo, hi].
std::optional<std::pair<uint32_t, uint32_t>> range(std::string_view text, uint32_t lo,
                                                   uint32_t hi) {
    const size_t dash = text.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const auto a = parseUnsigned(text.substr(0, dash), lo, hi);
    const auto b = parseUnsigned(text.substr(dash + 1), lo, hi);
    if (!a || !b || *b < *a) return std::nullopt;
    return std::make_pair(uint32_t(*a), uint32_t(*b));
}

// Printable, no commas, not a keyword of the pool or rule grammar.
bool isPoolName(std::string_view s) {
    if (s.empty() || s == "ports" || s == "block-size" || s == "pool") return false;
    for (char c : s)
        if (c <= ' ' || c >= 0x7f || c == ',') return false;
    return true;
}

}  // namespace

std::optional<NatPool> parseNatPool(std::string_view text, NatTextError* error) {
    const std::vector<TextWord> w = splitWords(text);
    const unsigned end = unsigned(text.size() + 1);
    if (w.empty() || !isPoolName(w[0].text)) {
        fail(error, w.empty() ? end : w[0].column,
             "expected a pool name, then its addresses (FIRST[-LAST])");
        return std::nullopt;
    }
    NatPool pool;
    pool.name = std::string(w[0].text);
    if (w.size() < 2) {
        fail(error, end, "expected the pool's addresses (FIRST[-LAST]) after its name");
        return std::nullopt;
    }
    const std::string_view addrs = w[1].text;
    const size_t dash = addrs.find('-');
    const auto first = ipv4(addrs.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : ipv4(addrs.substr(dash + 1));
    if (!first || !last) {
        fail(error, w[1].column,
             "expected IPv4 addresses FIRST[-LAST] after the pool name, found " + quoted(addrs));
        return std::nullopt;
    }
    pool.spec.first_addr = *first;
    pool.spec.last_addr = *last;
    unsigned ports_col = w[1].column, block_col = w[1].column;
    bool seen_ports = false, seen_block = false;
    for (size_t i = 2; i < w.size(); i += 2) {
        const TextWord& k = w[i];
        const bool ports = k.text == "ports", block = k.text == "block-size";
        if (!ports && !block) {
            fail(error, k.column,
                 "expected 'ports LO-HI' or 'block-size N', found " + quoted(k.text));
            return std::nullopt;
        }
        if ((ports && seen_ports) || (block && seen_block)) {
            fail(error, k.column, quoted(k.text) + " appears twice");
            return std::nullopt;
        }
        if (i + 1 >= w.size()) {
            fail(error, end,
                 "expected " + std::string(ports ? "a port range LO-HI" : "a number") + " after " +
                     quoted(k.text) + ", found the end of the pool");
            return std::nullopt;
        }
        const TextWord& v = w[i + 1];
        if (ports) {
            const auto r = range(v.text, 1, 65535);
            if (!r) {
                fail(error, v.column,
                     "expected a port range LO-HI (1..65535) after 'ports', found " +
                         quoted(v.text));
                return std::nullopt;
            }
            pool.spec.port_lo = uint16_t(r->first);
            pool.spec.port_hi = uint16_t(r->second);
            seen_ports = true;
            ports_col = v.column;
        } else {
            const auto n = parseUnsigned(v.text, kMinNatBlockSize, 65535);
            if (!n) {
                fail(error, v.column,
                     "expected a block size " + std::to_string(kMinNatBlockSize) +
                         "..65535 after 'block-size', found " + quoted(v.text));
                return std::nullopt;
            }
            pool.spec.block_size = uint16_t(*n);
            seen_block = true;
            block_col = v.column;
        }
    }
    if (const auto problem = natPoolProblem(pool.spec)) {
        // Point at what the problem is about.
        const bool about_addrs = problem->find("address") != std::string::npos;
        const bool about_blocks = problem->find("block") != std::string::npos;
        fail(error,
             about_addrs                  ? w[1].column
             : about_blocks && seen_block ? block_col
                                          : ports_col,
             *problem);
        return std::nullopt;
    }
    return pool;
}

namespace {

struct DnatTarget {
    uint32_t addr = 0;
    uint16_t port = 0;
};

// "ADDR" or "ADDR:PORT", IPv4.
std::optional<DnatTarget> parseTarget(std::string_view text) {
    const size_t colon = text.find(':');
    const auto addr = parseIpAddr(text.substr(0, colon));
    if (!addr || !addr->isV4Mapped()) return std::nullopt;
    DnatTarget t{addr->v4(), 0};
    if (colon != std::string_view::npos) {
        const auto port = parseUnsigned(text.substr(colon + 1), 1, 65535);
        if (!port) return std::nullopt;
        t.port = uint16_t(*port);
    }
    return t;
}

unsigned columnOf(const std::vector<TextWord>& w, std::string_view word, unsigned otherwise) {
    for (const TextWord& x : w)
        if (x.text == word) return x.column;
    return otherwise;
}

// What a dnat rule's match must say for its replies to be found: the one
// public address, and for a port forward the protocol and the one port.
bool checkDnat(const Rule& m, const std::vector<TextWord>& w, const TextWord* target, unsigned end,
               NatRule* rule, NatTextError* error) {
    if (m.dst.size() != 1 || m.dst[0].family != AddrFamily::v4 || m.dst[0].prefix != 128) {
        fail(error, columnOf(w, "dst", end),
             "a dnat rule needs 'dst ADDR': the one IPv4 address it translates (no prefix, no "
             "list)");
        return false;
    }
    rule->public_addr = m.dst[0].addr.v4();
    rule->proto = m.proto.value_or(0);
    if (rule->to_port != 0) {
        const bool one_port = m.dport.size() == 1 && m.dport[0].lo == m.dport[0].hi;
        if ((rule->proto != kProtoTcp && rule->proto != kProtoUdp) || !one_port) {
            fail(error, (target + 1)->column,
                 "a port in 'to' needs 'proto tcp' or 'proto udp' and one 'dport': the port it "
                 "forwards");
            return false;
        }
        rule->public_port = m.dport[0].lo;
    }
    return true;
}

}  // namespace

std::optional<NatRule> parseNatRule(std::string_view text, const std::vector<NatPool>& pools,
                                    NatTextError* error) {
    const std::vector<TextWord> w = splitWords(text);
    const unsigned end = unsigned(text.size() + 1);
    NatRule rule;
    if (w.empty() || (w[0].text != "snat" && w[0].text != "dnat" && w[0].text != "no-nat")) {
        fail(error, w.empty() ? 1 : w[0].column,
             "expected 'snat', 'dnat' or 'no-nat' to start the rule, found " +
                 (w.empty() ? std::string("an empty rule") : quoted(w[0].text)));
        return std::nullopt;
    }
    rule.action = w[0].text == "snat"   ? NatAction::snat
                  : w[0].text == "dnat" ? NatAction::dnat
                                        : NatAction::no_nat;
    // The match is a policy rule's: the same text with the action word and
    // `pool NAME` blanked out (columns kept), read by the policy's parser.
    std::string match(text);
    match.replace(w[0].column - 1, w[0].text.size(),
                  "deny" + std::string(w[0].text.size() - 4, ' '));
    const TextWord* pool_word = nullptr;
    for (size_t i = 1; i < w.size(); ++i) {
        if (w[i].text != "pool") continue;
        if (pool_word) {
            fail(error, w[i].column, "'pool' appears twice");
            return std::nullopt;
        }
        pool_word = &w[i];
        if (rule.action != NatAction::snat) {
            fail(error, w[i].column,
                 rule.action == NatAction::no_nat
                     ? "'pool' is for snat rules: no-nat translates nothing"
                     : "'pool' is for snat rules: dnat translates to its 'to' address");
            return std::nullopt;
        }
        if (i + 1 >= w.size()) {
            fail(error, end, "expected a pool name after 'pool', found the end of the rule");
            return std::nullopt;
        }
        const TextWord& name = w[i + 1];
        bool known = false;
        std::vector<std::string> names;
        for (const NatPool& p : pools) {
            known |= p.name == name.text;
            names.push_back(p.name);
        }
        if (!known) {
            fail(error, name.column,
                 "expected the name of a pool after 'pool' (" +
                     (names.empty() ? std::string("none is configured") : joinWords(names)) +
                     "), found " + quoted(name.text));
            return std::nullopt;
        }
        rule.pool = std::string(name.text);
        const size_t from = w[i].column - 1, to = name.column - 1 + name.text.size();
        match.replace(from, to - from, std::string(to - from, ' '));
        ++i;
    }
    if (rule.action == NatAction::snat && !pool_word) {
        fail(error, end, "expected 'pool NAME' in an snat rule: the pool it translates to");
        return std::nullopt;
    }
    // dnat: `to ADDR[:PORT]` (the `to` of a zone is followed by a name).
    const TextWord* target = nullptr;
    if (rule.action == NatAction::dnat) {
        for (size_t i = 1; i + 1 < w.size(); ++i)
            if (w[i].text == "to" && parseTarget(w[i + 1].text)) target = &w[i];
        if (!target) {
            fail(error, end,
                 "expected 'to ADDR[:PORT]' in a dnat rule: the IPv4 address (and port) it "
                 "translates to");
            return std::nullopt;
        }
        const TextWord& value = *(target + 1);
        const auto t = *parseTarget(value.text);
        rule.to_addr = t.addr, rule.to_port = t.port;
        const size_t from = target->column - 1, to = value.column - 1 + value.text.size();
        match.replace(from, to - from, std::string(to - from, ' '));
    }
    RuleError rule_error;
    std::optional<Rule> m = parseRule(match, &rule_error);
    if (!m) {
        fail(error, rule_error.column, rule_error.message);
        return std::nullopt;
    }
    if (rule.action == NatAction::dnat && !checkDnat(*m, w, target, end, &rule, error))
        return std::nullopt;
    for (const TextWord& word : w) {
        if (word.text == "app" || word.text == "reset" || word.text == "log") {
            fail(error, word.column,
                 quoted(word.text) +
                     " is for policy rules: a translation rule matches the "
                     "packet only");
            return std::nullopt;
        }
    }
    rule.match = std::move(*m);
    return rule;
}

std::shared_ptr<const NatRules> NatRules::compile(const std::vector<NatRule>& rules,
                                                  const std::vector<NatPool>& pools,
                                                  const std::vector<std::string>& zones,
                                                  std::string* error) {
    std::vector<Rule> matches;
    auto out = std::shared_ptr<NatRules>(new NatRules());
    for (size_t i = 0; i < rules.size(); ++i) {
        Rule m = rules[i].match;
        m.action = RuleAction::allow;  // a match: the classifier's verdict says which rule
        matches.push_back(std::move(m));
        NatDecision d;
        d.action = rules[i].action;
        d.rule = uint32_t(i);
        for (uint32_t p = 0; p < pools.size(); ++p)
            if (pools[p].name == rules[i].pool) d.pool = p;
        d.to_addr = rules[i].to_addr;
        d.to_port = rules[i].to_port;
        out->decisions_.push_back(d);
        if (rules[i].action != NatAction::dnat) continue;
        const Target t{rules[i].to_addr,
                       rules[i].to_port,
                       rules[i].proto,
                       {rules[i].public_addr, rules[i].public_port}};
        for (const Target& o : out->targets_) {
            if (o.addr == t.addr && o.port == t.port && o.proto == t.proto) {
                if (error)
                    *error = "dnat rule " + std::to_string(i + 1) +
                             " translates to the same address and port as an earlier one: "
                             "its replies could not be told apart";
                return nullptr;
            }
        }
        out->targets_.push_back(t);
    }
    std::sort(out->targets_.begin(), out->targets_.end(),
              [](const Target& a, const Target& b) { return a.addr < b.addr; });
    out->classifier_ = Policy::compile(matches, zones, error);
    if (!out->classifier_) return nullptr;
    return out;
}

std::optional<DnatPublic> NatRules::publicOf(uint8_t proto, uint32_t addr,
                                             uint16_t port) const noexcept {
    auto it = std::lower_bound(targets_.begin(), targets_.end(), addr,
                               [](const Target& t, uint32_t a) { return t.addr < a; });
    const Target* any_port = nullptr;
    for (; it != targets_.end() && it->addr == addr; ++it) {
        if (it->proto != 0 && it->proto != proto) continue;
        if (it->port == port) return it->to;
        if (it->port == 0) any_port = &*it;
    }
    if (any_port) return any_port->to;
    return std::nullopt;
}

bool NatRules::isTargetAddress(uint32_t addr) const noexcept {
    auto it = std::lower_bound(targets_.begin(), targets_.end(), addr,
                               [](const Target& t, uint32_t a) { return t.addr < a; });
    return it != targets_.end() && it->addr == addr;
}

NatDecision NatRules::match(const PolicyQuery& q) const noexcept {
    const PolicyVerdict v = classifier_->match(q);
    if (v.rule >= decisions_.size()) return {};  // no rule matched
    return decisions_[v.rule];
}

}  // namespace tandem
