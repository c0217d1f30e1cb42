// Policy: the compiled, ordered rule set. First matching rule wins; a packet
// matching no rule is denied (default deny).
//
// compile() turns the rules into per-field interval tables, each interval
// holding a bitset of the rules it satisfies (bit-vector classification):
// a lookup is one binary search per field plus an AND over ceil(N/64) words,
// so cost grows with log N and N/64, not N. The compiled form is immutable:
// build a new Policy and publish it to replace the old one.
//
// Thread-safety: compile() on the control plane; match() is const,
// allocation-free and lock-free, callable from any number of workers at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/flow_key.h"
#include "core/ip_addr.h"
#include "policy/rule.h"

namespace tandem {

/// What the classifier sees of a new flow's first packet.
struct PolicyQuery {
    uint16_t from_zone = 0;              ///< zone id of the ingress port
    uint16_t to_zone = 0;                ///< zone id of the egress port
    AddrFamily family = AddrFamily::v4;  ///< v4 or v6; `none` gets the default deny
    IpAddr src;                          ///< v4-mapped for IPv4 (only bytes 12..15 are read)
    IpAddr dst;
    uint8_t proto = 0;
    uint16_t sport = 0;      ///< TCP/UDP only
    uint16_t dport = 0;      ///< TCP/UDP only
    int16_t icmp_type = -1;  ///< ICMP/ICMPv6 only, -1 otherwise
};

/// The query for a flow's first packet: ports count for TCP and UDP only,
/// the ICMP type for ICMP and ICMPv6 only.
inline PolicyQuery flowPolicyQuery(uint16_t from_zone, uint16_t to_zone, AddrFamily family,
                                   const IpAddr& src, const IpAddr& dst, uint8_t proto,
                                   uint16_t sport, uint16_t dport, uint8_t icmp_type) {
    PolicyQuery q;
    q.from_zone = from_zone;
    q.to_zone = to_zone;
    q.family = family;
    q.src = src;
    q.dst = dst;
    q.proto = proto;
    if (proto == kProtoTcp || proto == kProtoUdp) {
        q.sport = sport;
        q.dport = dport;
    } else if (proto == kProtoIcmp || proto == kProtoIcmpV6) {
        q.icmp_type = icmp_type;
    }
    return q;
}

struct PolicyVerdict {
    RuleAction action = RuleAction::deny;
    bool log = false;
    /// Index of the matching rule in the compiled list, or kDefaultRule.
    uint32_t rule = kDefaultRule;
    /// The rule names an application (`app ...`): its action applies only
    /// if the session's application matches, which its first payload tells.
    /// From match(), the decision waits for that (matchApp()).
    bool app = false;
    /// A deny rule's `reset`: the TCP connection it denies is reset.
    bool reset = false;
    static constexpr uint32_t kDefaultRule = UINT32_MAX;
};

/// The size of a compiled policy, for status output and capacity planning.
struct PolicyStats {
    size_t rules = 0;
    size_t bitset_words = 0;      ///< 64-bit words per rule bitset: ceil(rules / 64)
    size_t distinct_bitsets = 0;  ///< rule sets stored (each once, however often used)
    size_t intervals = 0;         ///< elementary intervals over ports and addresses
    size_t bytes = 0;             ///< classifier tables, not counting the Rule copies
};

class Policy {
  public:
    /// Compiles `rules` in order. `zones` names the zones by id (zone id is the
    /// index). Rules without a name are named "rule-<position>" (from 1).
    /// Returns nullptr and fills `error` (may be null) when a rule names an
    /// unknown zone: one line per problem, each naming the rule's position,
    /// its name and the zone, e.g.
    ///   rule 3 (web): unknown zone 'dmz' in 'to'; known zones: inside, outside
    /// Control plane only: allocates; time and memory are described in
    /// src/policy/README.md.
    static std::shared_ptr<const Policy> compile(const std::vector<Rule>& rules,
                                                 const std::vector<std::string>& zones,
                                                 std::string* error);

    /// First matching rule, or the default deny (rule == kDefaultRule).
    /// A zone id outside the compiled zone list matches only rules that do not
    /// name zones in that direction. Any thread; never allocates, locks or
    /// throws.
    PolicyVerdict match(const PolicyQuery& q) const noexcept;

    /// The decision once a session's application is known: the first rule
    /// that matches `q` and either names no application or names `app` with
    /// a pattern that matches `name` (canonical, app_identity.h). `app` none
    /// (not identified: not that protocol, no name, gave up) passes over
    /// every rule that names an application. Any thread; never allocates,
    /// locks or throws; once per session (it walks the matching rules).
    PolicyVerdict matchApp(const PolicyQuery& q, AppProtocol app,
                           std::string_view name) const noexcept;

    /// Whether any rule names an application. Any thread.
    bool hasAppRules() const;

    /// Number of compiled rules. Any thread.
    size_t ruleCount() const;
    /// The compiled rule at `index` (< ruleCount(), else std::out_of_range),
    /// with its name filled in. Any thread.
    const Rule& rule(uint32_t index) const;
    /// Table sizes of the compiled classifier. Any thread.
    PolicyStats stats() const;

    ~Policy();

  private:
    Policy();
    template <typename Accept>
    PolicyVerdict firstMatch(const PolicyQuery& q, Accept accept) const noexcept;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
