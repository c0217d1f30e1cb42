// Rule: one entry of the ordered firewall policy, as the operator wrote it.
//
// Text form (one rule per `rule =` line in tandem.conf, or per line of a
// rules file), fields in any order after the action:
//
//   allow|deny [name NAME] [from ZONE[,ZONE..]] [to ZONE[,..]]
//        [src CIDR[,CIDR..]] [dst CIDR[,..]] [proto tcp|udp|icmp|icmpv6|any|NUMBER]
//        [sport PORT|LO-HI[,..]] [dport PORT|LO-HI[,..]] [icmp-type N[,N..]] [log]
//
// e.g. `allow name web from inside to outside proto tcp dport 80,443 log`.
// Omitted fields match anything. Ports require proto tcp or udp; icmp-type
// requires proto icmp or icmpv6. A CIDR may be IPv4 or IPv6; a rule whose
// addresses are all of one family matches only that family.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip_addr.h"

namespace tandem {

enum class RuleAction : uint8_t { deny = 0, allow = 1 };

struct Cidr {
    IpAddr addr;          ///< network address (host bits zero)
    uint8_t prefix = 0;   ///< 0..128, counted on the 16-byte (v4-mapped) form
    AddrFamily family = AddrFamily::v4;
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
};

struct Rule {
    std::string name;                   ///< defaults to "rule-<position>"
    RuleAction action = RuleAction::deny;
    bool log = false;
    std::vector<std::string> from_zones;///< empty = any
    std::vector<std::string> to_zones;  ///< empty = any
    std::vector<Cidr> src;              ///< empty = any
    std::vector<Cidr> dst;              ///< empty = any
    std::optional<uint8_t> proto;       ///< nullopt = any
    std::vector<PortRange> sport;       ///< empty = any
    std::vector<PortRange> dport;       ///< empty = any
    std::vector<uint8_t> icmp_types;    ///< empty = any
};

/// A rule-text error: what was expected, and the 1-based column where the
/// offending word starts.
struct RuleError {
    unsigned column = 0;
    std::string message;
};

/// Parses one rule's text. Returns the rule, or the first error found.
/// Thread-safe; allocates (control plane only).
std::optional<Rule> parseRule(std::string_view text, RuleError* error);

/// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (host route).
std::optional<Cidr> parseCidr(std::string_view text);

/// Formats a rule back into its canonical text form (round-trips parseRule).
std::string formatRule(const Rule& rule);

}  // namespace tandem
