// Rule: one entry of the ordered firewall policy, as the operator wrote it.
//
// Text form (one rule per `rule =` line in tandem.conf, or per line of a
// rules file), fields in any order after the action:
//
//   allow|deny [name NAME] [from ZONE[,ZONE..]] [to ZONE[,..]]
//        [src CIDR[,CIDR..]] [dst CIDR[,..]] [proto tcp|udp|icmp|icmpv6|any|NUMBER]
//        [sport PORT|LO-HI[,..]] [dport PORT|LO-HI[,..]] [icmp-type N[,N..]]
//        [app tls sni NAME[,..] | app http host NAME[,..] | app dns name NAME[,..]]
//        [reset] [log]
//
// e.g. `allow name web from inside to outside proto tcp dport 80,443 log`.
//
// `app` matches the application a session's first payload names (see
// packet/app_identity.h): the TLS ClientHello's server name, the HTTP/1.x
// Host header, the DNS query name. A NAME is a host name (matched without
// regard to case, a trailing dot ignored) or `*.SUFFIX`, which matches any
// name ending in `.SUFFIX` (one or more labels before it, not SUFFIX
// itself). `app tls` and `app http` imply `proto tcp`, `app dns` implies
// `proto udp`; another proto is an error. Such a rule is decided once the
// application is known (Policy::matchApp).
//
// `reset` (deny rules, TCP): a connection the rule denies is reset rather
// than left to time out. Its sender gets a RST for the segment that was
// denied; when an `app` rule denies a connection that is already open, its
// other end gets one too (pipeline: Verdict::reset).
// Words are separated by whitespace; list items by commas, with no spaces
// inside a list. Each keyword may appear at most once. Keywords are lower case
// and reserved: they cannot be used as a rule or zone name, and neither can
// `any` name a zone.
//
// Omitted fields match anything; so does the word `any` given as the whole
// value of from, to, src, dst, proto, sport, dport or icmp-type. Ports are
// 0..65535 and a range needs LO <= HI. Ports require proto tcp or udp;
// icmp-type (0..255) requires proto icmp or icmpv6. A CIDR's host bits must be
// zero; a bare address is a host route (/32 or /128).
//
// Address families: a CIDR is IPv4 or IPv6 by how it is written (an address
// containing ':' is IPv6, even ::ffff:a.b.c.d). An IPv4 CIDR matches only IPv4
// packets and an IPv6 CIDR only IPv6 packets, so a rule whose addresses are
// all of one family matches only that family, and a rule with no addresses
// matches both. A rule where no packet could match (src only IPv4 and dst only
// IPv6, or the reverse) is rejected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip_addr.h"
#include "packet/app_identity.h"

namespace tandem {

enum class RuleAction : uint8_t { deny = 0, allow = 1 };

/// An address block. `prefix` always counts bits of the 16-byte form, so
/// IPv4 blocks carry 96 extra bits for the ::ffff:0:0/96 mapping:
///
///   text            addr                 prefix  family
///   10.0.0.0/8      ::ffff:10.0.0.0      104     v4      (96 + 8)
///   192.0.2.1       ::ffff:192.0.2.1     128     v4      (host route, /32)
///   0.0.0.0/0       ::ffff:0.0.0.0       96      v4      (every IPv4 address)
///   2001:db8::/32   2001:db8::           32      v6
///
/// formatCidr() and formatRule() print the IPv4 form (/8) back.
struct Cidr {
    IpAddr addr;         ///< network address (host bits zero)
    uint8_t prefix = 0;  ///< 0..128, counted on the 16-byte (v4-mapped) form; v4 is 96..128
    AddrFamily family = AddrFamily::v4;

    bool operator==(const Cidr&) const = default;
};

/// An inclusive port range; a single port has lo == hi.
struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;

    bool operator==(const PortRange&) const = default;
};

/// The application a rule matches: none, or a protocol and the names (each
/// canonical, or "*." and a canonical suffix).
struct AppMatch {
    AppProtocol proto = AppProtocol::none;
    std::vector<std::string> names;

    bool operator==(const AppMatch&) const = default;
};

struct Rule {
    /// Empty when the text has no `name`; Policy::compile() then names the
    /// rule "rule-<position>", position counted from 1.
    std::string name;
    RuleAction action = RuleAction::deny;
    bool log = false;
    bool reset = false;                   ///< deny: TCP connections it denies are reset
    std::vector<std::string> from_zones;  ///< empty = any
    std::vector<std::string> to_zones;    ///< empty = any
    std::vector<Cidr> src;                ///< empty = any
    std::vector<Cidr> dst;                ///< empty = any
    std::optional<uint8_t> proto;         ///< nullopt = any
    std::vector<PortRange> sport;         ///< empty = any
    std::vector<PortRange> dport;         ///< empty = any
    std::vector<uint8_t> icmp_types;      ///< empty = any
    AppMatch app;                         ///< proto none = any application

    bool operator==(const Rule&) const = default;
};

/// A rule-text error: what was expected, and the 1-based column (in bytes of
/// the text given to parseRule) where the offending word starts. Inside a
/// comma-separated list the column is that of the offending item; when a value
/// is missing it is one past the end of the text.
struct RuleError {
    unsigned column = 0;
    std::string message;
};

/// Parses one rule's text (see the grammar above).
/// Returns the rule, or nullopt and the first error found in `*error` (which
/// may be null). Thread-safe; allocates (control plane only).
std::optional<Rule> parseRule(std::string_view text, RuleError* error);

/// Parses "10.0.0.0/8", "2001:db8::/32" or a bare address (host route).
/// Returns nullopt for a syntax error, a prefix length out of range for the
/// family, or host bits set. Thread-safe.
std::optional<Cidr> parseCidr(std::string_view text);

/// Formats a CIDR as the operator writes it: "10.0.0.0/8", "2001:db8::/32",
/// and host routes as a bare address. Thread-safe.
std::string formatCidr(const Cidr& cidr);

/// Formats a rule back into its canonical text form: keywords in the order of
/// the grammar above, protocols by name when they have one. For any rule that
/// parseRule() returned, parseRule(formatRule(rule)) == rule. Thread-safe.
std::string formatRule(const Rule& rule);

/// The policy's identity as nodes compare it: a hash of the rules' canonical
/// text (formatRule), in order. Equal rule lists give equal hashes however
/// they were written. Thread-safe.
uint64_t policyHash(const std::vector<Rule>& rules);

/// A policy hash as status output, the shell and the log show it: 16
/// lowercase hex digits.
std::string policyHashText(uint64_t hash);

}  // namespace tandem
