#include "policy/rule.h"

#include <algorithm>
#include <array>

#include "core/flow_key.h"
#include "core/protocol_name.h"
#include "core/text.h"

namespace tandem {
namespace {

// One whitespace-separated word, or one comma-separated item of a list word.
using Token = TextWord;

enum class Field { name, from, to, src, dst, proto, sport, dport, icmp_type, app, reset, log };

// The keyword table: one entry per keyword, with what its value must look like
// (used verbatim in "expected ... after 'KEYWORD'" messages).
struct Keyword {
    std::string_view word;
    Field field;
    std::string_view expected;  // empty: the keyword takes no value
};

constexpr std::array<Keyword, 12> kKeywords{{
    {"name", Field::name, "a rule name"},
    {"from", Field::from, "a zone name or a comma-separated list of zones"},
    {"to", Field::to, "a zone name or a comma-separated list of zones"},
    {"src", Field::src, "an address or CIDR like 10.0.0.0/8 or 2001:db8::/32"},
    {"dst", Field::dst, "an address or CIDR like 10.0.0.0/8 or 2001:db8::/32"},
    {"proto", Field::proto, "a protocol (tcp, udp, icmp, icmpv6, any or 0..255)"},
    {"sport", Field::sport, "a port or port range like 1024-65535"},
    {"dport", Field::dport, "a port or port range like 1024-65535"},
    {"icmp-type", Field::icmp_type, "an ICMP type 0..255"},
    {"app", Field::app, "an application protocol (tls, http or dns)"},
    {"reset", Field::reset, ""},
    {"log", Field::log, ""},
}};

const Keyword* findKeyword(std::string_view word) {
    for (const Keyword& k : kKeywords) {
        if (k.word == word) return &k;
    }
    return nullptr;
}

// Splits "a,b,c" keeping each item's column; empty items are kept so that the
// caller can point at them.
std::vector<Token> splitList(const Token& word) {
    std::vector<Token> items;
    size_t start = 0;
    for (;;) {
        size_t comma = word.text.find(',', start);
        size_t end = comma == std::string_view::npos ? word.text.size() : comma;
        items.push_back({word.text.substr(start, end - start), unsigned(word.column + start)});
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return items;
}

// Decimal without sign or spaces, at most `max`.
std::optional<uint32_t> parseNumber(std::string_view text, uint32_t max) {
    if (auto v = parseUnsigned(text, 0, max)) return uint32_t(*v);
    return std::nullopt;
}

unsigned __int128 prefixMask(unsigned prefix) {
    if (prefix == 0) return 0;
    return ~static_cast<unsigned __int128>(0) << (128 - prefix);
}

enum class CidrProblem { none, syntax, prefix_range, host_bits };

struct CidrParse {
    Cidr cidr;  // valid when problem is none; the masked block for host_bits
    CidrProblem problem = CidrProblem::syntax;
};

CidrParse parseCidrDetailed(std::string_view text) {
    CidrParse out;
    size_t slash = text.find('/');
    std::string_view addr_text = text.substr(0, slash);
    // The family follows the text: "::ffff:10.0.0.1" is written as IPv6.
    bool v6 = addr_text.find(':') != std::string_view::npos;
    std::optional<IpAddr> addr = parseIpAddr(addr_text);
    if (!addr) return out;
    unsigned max_len = v6 ? 128 : 32;
    unsigned len = max_len;
    if (slash != std::string_view::npos) {
        std::string_view len_text = text.substr(slash + 1);
        bool digits = !len_text.empty() && len_text.size() <= 3 &&
                      std::all_of(len_text.begin(), len_text.end(),
                                  [](char c) { return c >= '0' && c <= '9'; });
        if (!digits) return out;
        std::optional<uint32_t> n = parseNumber(len_text, max_len);
        if (!n) {
            out.problem = CidrProblem::prefix_range;
            return out;
        }
        len = *n;
    }
    unsigned prefix = v6 ? len : 96 + len;
    unsigned __int128 bits = addr->asU128();
    unsigned __int128 masked = bits & prefixMask(prefix);
    out.cidr.addr = IpAddr::fromU128(masked);
    out.cidr.prefix = uint8_t(prefix);
    out.cidr.family = v6 ? AddrFamily::v6 : AddrFamily::v4;
    out.problem = masked == bits ? CidrProblem::none : CidrProblem::host_bits;
    return out;
}

std::string quoted(std::string_view s) {
    std::string out = "'";
    out += s;
    out += "'";
    return out;
}

// Printable ASCII, no commas: names end up in logs, the CLI and JSON.
bool isNameText(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 0x7f && c != ','; });
}

class RuleParser {
  public:
    explicit RuleParser(std::string_view text) : text_(text), words_(splitWords(text)) {}

    std::optional<Rule> parse(RuleError* error) {
        if (!parseAll() || !validate()) {
            if (error) *error = error_;
            return std::nullopt;
        }
        return rule_;
    }

  private:
    // Where each keyword was seen: the keyword's word and its value's word.
    struct Seen {
        bool present = false;
        bool is_any = false;  // value was the word `any`
        Token keyword;
        Token value;
    };

    bool fail(unsigned column, std::string message) {
        error_.column = column;
        error_.message = std::move(message);
        return false;
    }

    unsigned endColumn() const { return unsigned(text_.size() + 1); }

    bool failExpected(const Keyword& k, const Token& found, std::string_view detail = {}) {
        std::string msg = "expected ";
        msg += k.expected;
        msg += " after ";
        msg += quoted(k.word);
        msg += ", found ";
        if (found.text.empty()) {
            msg += "an empty list item";
        } else {
            msg += quoted(found.text);
        }
        if (!detail.empty()) {
            msg += " (";
            msg += detail;
            msg += ")";
        }
        return fail(found.column, std::move(msg));
    }

    bool parseAll() {
        if (words_.empty()) {
            return fail(1, "expected 'allow' or 'deny' to start the rule, found an empty rule");
        }
        const Token& action = words_[0];
        if (action.text == "allow") {
            rule_.action = RuleAction::allow;
        } else if (action.text == "deny") {
            rule_.action = RuleAction::deny;
        } else {
            return fail(action.column, "expected 'allow' or 'deny' to start the rule, found " +
                                           quoted(action.text));
        }
        next_ = 1;
        while (next_ < words_.size()) {
            const Token& word = words_[next_++];
            const Keyword* k = findKeyword(word.text);
            if (!k) {
                if (word.text == "allow" || word.text == "deny") {
                    return fail(word.column, "expected a keyword, found a second action " +
                                                 quoted(word.text) +
                                                 "; 'allow' or 'deny' comes once, first");
                }
                return fail(word.column,
                            "expected a keyword (name, from, to, src, dst, proto, sport, dport, "
                            "icmp-type, app, reset or log), found " +
                                quoted(word.text));
            }
            Seen& seen = seen_[size_t(k->field)];
            if (seen.present) {
                return fail(word.column, quoted(k->word) + " appears twice (first at column " +
                                             std::to_string(seen.keyword.column) +
                                             "); give every value in one comma-separated list");
            }
            seen.present = true;
            seen.keyword = word;
            if (k->expected.empty()) {
                (k->field == Field::reset ? rule_.reset : rule_.log) = true;
                continue;
            }
            if (next_ == words_.size()) {
                return fail(endColumn(), "expected " + std::string(k->expected) + " after " +
                                             quoted(k->word) + ", found the end of the rule");
            }
            const Token& value = words_[next_++];
            seen.value = value;
            if (const Keyword* other = findKeyword(value.text)) {
                return fail(value.column, "expected " + std::string(k->expected) + " after " +
                                              quoted(k->word) + ", found the keyword " +
                                              quoted(other->word));
            }
            if (value.text == "any" && k->field != Field::name && k->field != Field::app) {
                seen.is_any = true;  // same as leaving the field out
                continue;
            }
            if (!parseValue(*k, value)) return false;
        }
        return true;
    }

    bool parseValue(const Keyword& k, const Token& value) {
        switch (k.field) {
            case Field::name:
                if (!isNameText(value.text)) return failExpected(k, value, "printable, no commas");
                rule_.name = std::string(value.text);
                return true;
            case Field::from:
                return parseZones(k, value, &rule_.from_zones);
            case Field::to:
                return parseZones(k, value, &rule_.to_zones);
            case Field::src:
                return parseCidrs(k, value, &rule_.src);
            case Field::dst:
                return parseCidrs(k, value, &rule_.dst);
            case Field::proto:
                return parseProto(k, value);
            case Field::sport:
                return parsePorts(k, value, &rule_.sport);
            case Field::dport:
                return parsePorts(k, value, &rule_.dport);
            case Field::icmp_type:
                return parseIcmpTypes(k, value);
            case Field::app:
                return parseApp(k, value);
            case Field::reset:
            case Field::log:
                return true;
        }
        return true;
    }

    bool parseZones(const Keyword& k, const Token& word, std::vector<std::string>* out) {
        for (const Token& item : splitList(word)) {
            if (!isNameText(item.text) || item.text == "any") {
                return failExpected(k, item, item.text == "any" ? "'any' stands alone" : "");
            }
            out->emplace_back(item.text);
        }
        return true;
    }

    bool parseCidrs(const Keyword& k, const Token& word, std::vector<Cidr>* out) {
        for (const Token& item : splitList(word)) {
            CidrParse p = parseCidrDetailed(item.text);
            switch (p.problem) {
                case CidrProblem::none:
                    out->push_back(p.cidr);
                    break;
                case CidrProblem::syntax:
                    return failExpected(k, item, item.text == "any" ? "'any' stands alone" : "");
                case CidrProblem::prefix_range:
                    return failExpected(k, item,
                                        item.text.find(':') != std::string_view::npos
                                            ? "an IPv6 prefix length is 0..128"
                                            : "an IPv4 prefix length is 0..32");
                case CidrProblem::host_bits:
                    return fail(item.column, std::string(item.text) +
                                                 " has host bits set; did you mean " +
                                                 formatCidr(p.cidr) + "?");
            }
        }
        return true;
    }

    bool parseProto(const Keyword& k, const Token& value) {
        std::optional<uint8_t> p = parseProtocol(value.text);
        if (!p) return failExpected(k, value);
        rule_.proto = *p;
        return true;
    }

    bool parsePorts(const Keyword& k, const Token& word, std::vector<PortRange>* out) {
        for (const Token& item : splitList(word)) {
            size_t dash = item.text.find('-');
            std::optional<uint32_t> lo = parseNumber(item.text.substr(0, dash), 65535);
            std::optional<uint32_t> hi = lo;
            if (dash != std::string_view::npos) {
                hi = parseNumber(item.text.substr(dash + 1), 65535);
            }
            if (!lo || !hi)
                return failExpected(k, item, item.text == "any" ? "'any' stands alone" : "");
            if (*lo > *hi) {
                return fail(item.column, "expected LO <= HI in the port range " +
                                             quoted(item.text) + " after " + quoted(k.word) +
                                             "; did you mean " + std::to_string(*hi) + "-" +
                                             std::to_string(*lo) + "?");
            }
            out->push_back({uint16_t(*lo), uint16_t(*hi)});
        }
        return true;
    }

    bool parseIcmpTypes(const Keyword& k, const Token& word) {
        for (const Token& item : splitList(word)) {
            std::optional<uint32_t> n = parseNumber(item.text, 255);
            if (!n) return failExpected(k, item, item.text == "any" ? "'any' stands alone" : "");
            rule_.icmp_types.push_back(uint8_t(*n));
        }
        return true;
    }

    // `app PROTOCOL SELECTOR NAMES`: the selector word names what is matched
    // (tls sni, http host, dns name) and is followed by the list of names.
    bool parseApp(const Keyword& k, const Token& value) {
        struct AppWords {
            std::string_view proto, selector;
            AppProtocol id;
        };
        static constexpr AppWords kApps[] = {{"tls", "sni", AppProtocol::tls},
                                             {"http", "host", AppProtocol::http},
                                             {"dns", "name", AppProtocol::dns}};
        const AppWords* app = nullptr;
        for (const AppWords& a : kApps)
            if (a.proto == value.text) app = &a;
        if (!app) return failExpected(k, value);
        const std::string after = "'app " + std::string(app->proto) + "'";
        if (next_ == words_.size() || words_[next_].text != app->selector) {
            const unsigned col = next_ == words_.size() ? endColumn() : words_[next_].column;
            return fail(col, "expected '" + std::string(app->selector) + "' after " + after +
                                 ", found " +
                                 (next_ == words_.size() ? std::string("the end of the rule")
                                                         : quoted(words_[next_].text)));
        }
        ++next_;
        const std::string expected = "a name or *.suffix, or a comma-separated list of them";
        if (next_ == words_.size()) {
            return fail(endColumn(), "expected " + expected + " after " + after + " " +
                                         std::string(app->selector) +
                                         ", found the end of the rule");
        }
        const Token& list = words_[next_++];
        for (const Token& item : splitList(list)) {
            std::string_view name = item.text;
            const bool wildcard = name.size() > 2 && name.substr(0, 2) == "*.";
            if (wildcard) name.remove_prefix(2);
            AppName canonical;
            if (!canonicalAppName(name, &canonical)) {
                return fail(item.column, "expected " + expected + " after " + after + " " +
                                             std::string(app->selector) + ", found " +
                                             (item.text.empty() ? std::string("an empty list item")
                                                                : quoted(item.text)));
            }
            rule_.app.names.push_back((wildcard ? "*." : "") + std::string(canonical.view()));
        }
        rule_.app.proto = app->id;
        return true;
    }

    // Checks that need the whole rule. Of several problems, the leftmost one
    // is reported, as a reader would meet it.
    bool validate() {
        unsigned best_column = 0;
        std::string best_message;
        auto consider = [&](unsigned column, std::string message) {
            if (best_column == 0 || column < best_column) {
                best_column = column;
                best_message = std::move(message);
            }
        };
        const Seen& proto = seen_[size_t(Field::proto)];
        std::string proto_now =
            proto.present ? ", not 'proto " + std::string(proto.value.text) + "'" : "";
        bool tcp_or_udp = rule_.proto == kProtoTcp || rule_.proto == kProtoUdp;
        for (Field f : {Field::sport, Field::dport}) {
            const Seen& s = seen_[size_t(f)];
            if (s.present && !s.is_any && !tcp_or_udp) {
                consider(s.keyword.column,
                         quoted(s.keyword.text) + " needs 'proto tcp' or 'proto udp'" + proto_now);
            }
        }
        const Seen& icmp = seen_[size_t(Field::icmp_type)];
        bool is_icmp = rule_.proto == kProtoIcmp || rule_.proto == kProtoIcmpV6;
        if (icmp.present && !icmp.is_any && !is_icmp) {
            consider(icmp.keyword.column,
                     "'icmp-type' needs 'proto icmp' or 'proto icmpv6'" + proto_now);
        }
        const Seen& app = seen_[size_t(Field::app)];
        if (app.present) {
            // TLS and HTTP run over TCP, DNS queries over UDP here: the rule
            // matches only that protocol, said or not.
            const uint8_t need = rule_.app.proto == AppProtocol::dns ? kProtoUdp : kProtoTcp;
            if (!proto.present || proto.is_any) {
                rule_.proto = need;
            } else if (rule_.proto != need) {
                consider(app.keyword.column,
                         "'app " + std::string(app.value.text) + "' needs 'proto " +
                             (need == kProtoUdp ? "udp" : "tcp") + "'" + proto_now);
            }
        }
        const Seen& reset = seen_[size_t(Field::reset)];
        if (reset.present && rule_.action != RuleAction::deny) {
            consider(reset.keyword.column, "'reset' is for deny rules: it resets what they deny");
        } else if (reset.present && rule_.proto && rule_.proto != kProtoTcp) {
            consider(
                reset.keyword.column,
                "'reset' resets TCP connections: it needs 'proto tcp' or no proto" + proto_now);
        }
        auto hasFamily = [](const std::vector<Cidr>& list, AddrFamily f) {
            return list.empty() || std::any_of(list.begin(), list.end(),
                                               [f](const Cidr& c) { return c.family == f; });
        };
        bool v4 = hasFamily(rule_.src, AddrFamily::v4) && hasFamily(rule_.dst, AddrFamily::v4);
        bool v6 = hasFamily(rule_.src, AddrFamily::v6) && hasFamily(rule_.dst, AddrFamily::v6);
        if (!v4 && !v6) {
            const Seen& src = seen_[size_t(Field::src)];
            const Seen& dst = seen_[size_t(Field::dst)];
            bool src_v4 = hasFamily(rule_.src, AddrFamily::v4);
            const Seen& later = src.value.column > dst.value.column ? src : dst;
            consider(later.value.column, std::string("no packet can match: 'src' lists only ") +
                                             (src_v4 ? "IPv4" : "IPv6") +
                                             " addresses and 'dst' only " +
                                             (src_v4 ? "IPv6" : "IPv4") + " addresses");
        }
        if (best_column != 0) return fail(best_column, std::move(best_message));
        return true;
    }

    std::string_view text_;
    std::vector<Token> words_;
    size_t next_ = 1;  // the next word parseAll() reads
    std::array<Seen, kKeywords.size()> seen_{};
    Rule rule_;
    RuleError error_;
};

template <typename T, typename Fn>
void appendList(std::string* out, std::string_view keyword, const std::vector<T>& items, Fn fmt) {
    if (items.empty()) return;
    *out += ' ';
    *out += keyword;
    char sep = ' ';
    for (const T& item : items) {
        *out += sep;
        *out += fmt(item);
        sep = ',';
    }
}

std::string formatPorts(const PortRange& r) {
    if (r.lo == r.hi) return std::to_string(r.lo);
    return std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

}  // namespace

std::optional<Rule> parseRule(std::string_view text, RuleError* error) {
    return RuleParser(text).parse(error);
}

std::optional<Cidr> parseCidr(std::string_view text) {
    CidrParse p = parseCidrDetailed(text);
    if (p.problem != CidrProblem::none) return std::nullopt;
    return p.cidr;
}

std::string formatCidr(const Cidr& cidr) {
    std::string out;
    if (cidr.family == AddrFamily::v6 && cidr.addr.isV4Mapped()) {
        // Keep the colon so that the text still reads as IPv6.
        out = "::ffff:";
        out += formatIpAddr(cidr.addr);
    } else {
        out = formatIpAddr(cidr.addr);
    }
    unsigned len =
        cidr.family == AddrFamily::v4 ? (cidr.prefix >= 96 ? cidr.prefix - 96u : 0u) : cidr.prefix;
    unsigned host = cidr.family == AddrFamily::v4 ? 32 : 128;
    if (len != host) {
        out += '/';
        out += std::to_string(len);
    }
    return out;
}

std::string formatRule(const Rule& rule) {
    std::string out = rule.action == RuleAction::allow ? "allow" : "deny";
    if (!rule.name.empty()) {
        out += " name ";
        out += rule.name;
    }
    auto same = [](const std::string& s) { return s; };
    appendList(&out, "from", rule.from_zones, same);
    appendList(&out, "to", rule.to_zones, same);
    appendList(&out, "src", rule.src, formatCidr);
    appendList(&out, "dst", rule.dst, formatCidr);
    if (rule.proto) {
        out += " proto ";
        out += protocolText(*rule.proto);
    }
    appendList(&out, "sport", rule.sport, formatPorts);
    appendList(&out, "dport", rule.dport, formatPorts);
    appendList(&out, "icmp-type", rule.icmp_types, [](uint8_t t) { return std::to_string(t); });
    if (rule.app.proto != AppProtocol::none) {
        out += " app ";
        out += appProtocolName(rule.app.proto);
        const char* selector = rule.app.proto == AppProtocol::tls    ? "sni"
                               : rule.app.proto == AppProtocol::http ? "host"
                                                                     : "name";
        appendList(&out, selector, rule.app.names, [](const std::string& n) { return n; });
    }
    if (rule.reset) out += " reset";
    if (rule.log) out += " log";
    return out;
}

uint64_t policyHash(const std::vector<Rule>& rules) {
    std::string text;
    for (const Rule& r : rules) text += formatRule(r) + "\n";
    return hashBytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::string policyHashText(uint64_t hash) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, hash >>= 4) out[size_t(i)] = kDigits[hash & 0xf];
    return out;
}

}  // namespace tandem
