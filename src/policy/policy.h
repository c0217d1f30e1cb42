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
#include <vector>

#include "core/ip_addr.h"
#include "policy/rule.h"

namespace tandem {

/// What the classifier sees of a new flow's first packet.
struct PolicyQuery {
    uint16_t from_zone = 0;   ///< zone id of the ingress port
    uint16_t to_zone = 0;     ///< zone id of the egress port
    AddrFamily family = AddrFamily::v4;
    IpAddr src;
    IpAddr dst;
    uint8_t proto = 0;
    uint16_t sport = 0;       ///< TCP/UDP only
    uint16_t dport = 0;       ///< TCP/UDP only
    int16_t icmp_type = -1;   ///< ICMP/ICMPv6 only, -1 otherwise
};

struct PolicyVerdict {
    RuleAction action = RuleAction::deny;
    bool log = false;
    /// Index of the matching rule in the compiled list, or kDefaultRule.
    uint32_t rule = kDefaultRule;
    static constexpr uint32_t kDefaultRule = UINT32_MAX;
};

class Policy {
public:
    /// Compiles `rules` in order. `zones` names the zones by id (zone id is the
    /// index). Returns nullptr and fills `error` when a rule names an unknown
    /// zone.
    static std::shared_ptr<const Policy> compile(const std::vector<Rule>& rules,
                                                 const std::vector<std::string>& zones,
                                                 std::string* error);

    /// First matching rule, or the default deny.
    PolicyVerdict match(const PolicyQuery& q) const;

    size_t ruleCount() const;
    const Rule& rule(uint32_t index) const;

    ~Policy();

private:
    Policy();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
