// The translation rules (docs/nat.md): which sessions are translated, and
// to which pool. A rule matches a session's first packet exactly as a
// policy rule does (the same fields, parsed by the same parser, compiled
// into the same classifier, policy/policy.h); its action is the
// translation.
//
//   snat   [MATCH...] pool NAME   source addresses to the pool NAME
//   dnat   MATCH to ADDR[:PORT]   the destination (one IPv4 address, `dst
//                                 ADDR`) to ADDR, and with PORT (`proto tcp`
//                                 or `udp`, one `dport`) its port to PORT: a
//                                 port forward; without it every port (1:1)
//   no-nat [MATCH...]             left as they are (an exception before
//                                 broader rules)
//
// MATCH is what follows the action in a policy rule (name, from, to, src,
// dst, proto, sport, dport, icmp-type; policy/rule.h), without `app`,
// `reset` or `log`. The first matching rule decides; a session no rule
// matches is not translated.
//
// Pools:
//
//   NAME FIRST[-LAST] [ports LO-HI] [block-size N]
//
// IPv4 addresses FIRST..LAST (one when LAST is left out), ports 1024-65535
// and blocks of 64 ports unless given (nat/port_blocks.h).
//
// Thread-safety: parsing and compile() on the control plane; match() is
// const and callable from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nat/port_blocks.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace tandem {

struct NatPool {
    std::string name;
    NatPoolSpec spec;
};

enum class NatAction : uint8_t { no_nat, snat, dnat };

struct NatRule {
    NatAction action = NatAction::snat;
    std::string pool;  ///< snat: the pool's name
    Rule match;        ///< what it matches (its action and flags unused)
    // dnat: where to (IPv4, host order; port 0: the port is kept), and what
    // its replies are put back to (the match's `dst`, its one `dport` or 0,
    // its proto or 0 for any).
    uint32_t to_addr = 0;
    uint16_t to_port = 0;
    uint32_t public_addr = 0;
    uint16_t public_port = 0;
    uint8_t proto = 0;
};

/// A rule- or pool-text error: the 1-based column where the offending word
/// starts (one past the end when a word is missing) and what was expected.
using NatTextError = RuleError;

/// Parses one pool's text. nullopt and *error (may be null) on the first
/// problem.
std::optional<NatPool> parseNatPool(std::string_view text, NatTextError* error);

/// Parses one rule's text; `pools` are the pools it may name.
std::optional<NatRule> parseNatRule(std::string_view text, const std::vector<NatPool>& pools,
                                    NatTextError* error);

/// What match() decides for a session's first packet.
struct NatDecision {
    NatAction action = NatAction::no_nat;  ///< no rule matched: no_nat
    uint32_t rule = PolicyVerdict::kDefaultRule;
    uint32_t pool = 0;     ///< snat: index into the pools given to compile()
    uint32_t to_addr = 0;  ///< dnat: the new destination
    uint16_t to_port = 0;  ///< dnat: its port, 0 = the packet's
};

/// What a packet from a dnat rule's target is put back to: the address
/// (and port, 0 = the packet's) its client sent to.
struct DnatPublic {
    uint32_t addr = 0;
    uint16_t port = 0;
};

class NatRules {
  public:
    /// Null and *error (one line per problem) when a rule names an unknown
    /// zone; `pools` are the pools the rules were parsed against.
    static std::shared_ptr<const NatRules> compile(const std::vector<NatRule>& rules,
                                                   const std::vector<NatPool>& pools,
                                                   const std::vector<std::string>& zones,
                                                   std::string* error);
    /// The first rule that matches `q`. Never allocates, locks or throws.
    NatDecision match(const PolicyQuery& q) const noexcept;
    size_t ruleCount() const { return decisions_.size(); }
    /// A packet from `addr`:`port` (proto `proto`): when that is a dnat
    /// rule's target, the public address and port its replies leave from
    /// (a port forward's own port first, then a 1:1 address). Never
    /// allocates, locks or throws.
    std::optional<DnatPublic> publicOf(uint8_t proto, uint32_t addr, uint16_t port) const noexcept;
    bool hasDnat() const { return !targets_.empty(); }
    /// Whether `addr` is any dnat rule's target address (whatever the
    /// port). Never allocates, locks or throws.
    bool isTargetAddress(uint32_t addr) const noexcept;

  private:
    struct Target {
        uint32_t addr;
        uint16_t port;  // 0: a 1:1 rule, any port
        uint8_t proto;  // 0: any
        DnatPublic to;
    };
    std::shared_ptr<const Policy> classifier_;
    std::vector<NatDecision> decisions_;  ///< by rule index
    std::vector<Target> targets_;         ///< sorted by address
};

/// What a node translates with: its pools (NatDecision::pool indexes them)
/// and the compiled rules. Built once from the configuration.
struct NatSetup {
    std::vector<NatPool> pools;
    std::shared_ptr<const NatRules> rules;
    /// The configured members, this node and its [peer.ID]s (bit n-1 for
    /// node n): whose port blocks are whose (PortBlockMap).
    uint16_t members = 0;
};

}  // namespace tandem
