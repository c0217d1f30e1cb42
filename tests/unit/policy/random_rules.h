// Deterministic generators of valid rules and of queries that often hit them,
// shared by the rule round-trip test and the classifier property test.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/ip_addr.h"
#include "policy/policy.h"
#include "policy/rule.h"

namespace tandem::testing {

inline const std::vector<std::string>& testZones() {
    static const std::vector<std::string> zones{"inside", "outside", "dmz", "mgmt"};
    return zones;
}

class RuleGen {
  public:
    explicit RuleGen(uint64_t seed) : rng_(seed) {}

    std::mt19937_64& rng() { return rng_; }

    uint32_t below(uint32_t n) { return uint32_t(rng_() % n); }
    bool chance(unsigned percent) { return below(100) < percent; }

    // Addresses come from a few small pools so that rules overlap and random
    // queries land inside them.
    IpAddr v4Addr() {
        static const uint32_t bases[] = {0x0a000000, 0x0a010000, 0xc0a80000, 0xac100000,
                                         0xcb007100};
        uint32_t base = bases[below(5)];
        return IpAddr::fromV4(base | (uint32_t(rng_()) & (chance(50) ? 0xff : 0xffff)));
    }
    IpAddr v6Addr() {
        static const uint8_t bases[][4] = {
            {0x20, 0x01, 0x0d, 0xb8}, {0x20, 0x01, 0x0d, 0xb9}, {0xfd, 0x00, 0x00, 0x00}};
        uint8_t b[16] = {};
        const uint8_t* base = bases[below(3)];
        for (int i = 0; i < 4; ++i) b[i] = base[i];
        b[5] = uint8_t(below(3));
        b[15] = uint8_t(below(4));
        if (chance(30)) b[7] = uint8_t(rng_());
        return IpAddr::fromV6Bytes(b);
    }

    Cidr cidr(AddrFamily family) {
        Cidr c;
        c.family = family;
        unsigned __int128 bits;
        if (family == AddrFamily::v4) {
            static const unsigned lens[] = {0, 8, 16, 24, 32, 32, 12, 28};
            unsigned len = chance(20) ? below(33) : lens[below(8)];
            c.prefix = uint8_t(96 + len);
            bits = v4Addr().asU128();
        } else {
            static const unsigned lens[] = {0, 32, 40, 48, 64, 128, 120, 126};
            unsigned len = chance(20) ? below(129) : lens[below(8)];
            c.prefix = uint8_t(len);
            bits = v6Addr().asU128();
        }
        unsigned __int128 mask = c.prefix == 0 ? 0 : ~(unsigned __int128)0 << (128 - c.prefix);
        c.addr = IpAddr::fromU128(bits & mask);
        return c;
    }

    // A block of 2^8 addresses or fewer (v4), 2^80 or fewer (v6).
    Cidr narrowCidr(AddrFamily family) {
        for (;;) {
            Cidr c = cidr(family);
            unsigned len = family == AddrFamily::v4 ? c.prefix - 96u : c.prefix;
            if (len >= (family == AddrFamily::v4 ? 24u : 48u)) return c;
        }
    }

    PortRange portRange() {
        static const uint16_t common[] = {22, 53, 80, 443, 8080, 0, 65535, 1024};
        uint16_t lo = chance(60) ? common[below(8)] : uint16_t(below(65536));
        if (chance(50)) return {lo, lo};
        uint16_t hi = uint16_t(std::min<uint32_t>(65535, lo + below(chance(50) ? 100 : 40000)));
        return {lo, hi};
    }

    uint8_t icmpType() {
        static const uint8_t common[] = {0, 3, 8, 11, 128, 129, 135, 136};
        return chance(80) ? common[below(8)] : uint8_t(below(256));
    }

    std::vector<std::string> zones() {
        std::vector<std::string> out;
        if (chance(40)) return out;
        unsigned n = 1 + below(2);
        for (unsigned i = 0; i < n; ++i) out.push_back(testZones()[below(4)]);
        return out;
    }

    std::vector<Cidr> cidrList(AddrFamily family, bool mixed) {
        std::vector<Cidr> out;
        unsigned n = 1 + below(3);
        for (unsigned i = 0; i < n; ++i) out.push_back(cidr(family));
        if (mixed) {
            AddrFamily other = family == AddrFamily::v4 ? AddrFamily::v6 : AddrFamily::v4;
            out.insert(out.begin() + below(uint32_t(out.size() + 1)), cidr(other));
        }
        return out;
    }

    // A rule parseRule() would accept.
    Rule rule() {
        Rule r;
        r.action = chance(50) ? RuleAction::allow : RuleAction::deny;
        r.log = chance(30);
        if (chance(50)) r.name = "r" + std::to_string(below(100000));
        r.from_zones = zones();
        r.to_zones = zones();
        unsigned fam = below(10);  // 0-4: v4 only, 5-6: v6 only, 7: mixed, 8-9: none
        AddrFamily f = fam < 5 ? AddrFamily::v4 : AddrFamily::v6;
        if (fam < 8) {
            bool mixed = fam == 7;
            if (chance(70)) r.src = cidrList(f, mixed);
            if (chance(70)) r.dst = cidrList(f, mixed);
        }
        if (chance(80)) {
            static const uint8_t protos[] = {6, 6, 17, 17, 1, 58, 47, 132};
            r.proto = chance(90) ? protos[below(8)] : uint8_t(below(256));
        }
        if (r.proto == 6 || r.proto == 17) {
            if (chance(30)) {
                for (unsigned i = 0, n = 1 + below(2); i < n; ++i) r.sport.push_back(portRange());
            }
            if (chance(70)) {
                for (unsigned i = 0, n = 1 + below(3); i < n; ++i) r.dport.push_back(portRange());
            }
        }
        if ((r.proto == 1 || r.proto == 58) && chance(60)) {
            for (unsigned i = 0, n = 1 + below(3); i < n; ++i) r.icmp_types.push_back(icmpType());
        }
        if (r.action == RuleAction::deny && (!r.proto || r.proto == 6)) r.reset = chance(30);
        return r;
    }

    // A rule shaped like a real policy entry: narrow in most fields, so that
    // queries aimed at it get past the rules before it. One in ten is a
    // broad rule() instead.
    Rule classifierRule() {
        if (chance(10)) {
            Rule r = rule();
            // Broad, but not a catch-all: the default deny must stay reachable.
            if (!r.proto || r.from_zones.empty()) r.from_zones = {testZones()[below(4)]};
            return r;
        }
        Rule r;
        r.action = chance(50) ? RuleAction::allow : RuleAction::deny;
        r.log = chance(30);
        if (chance(90)) r.from_zones = {testZones()[below(4)]};
        if (chance(90)) r.to_zones = {testZones()[below(4)]};
        unsigned fam = below(20);  // 0-13: v4, 14-18: v6, 19: mixed
        AddrFamily f = fam < 14 ? AddrFamily::v4 : AddrFamily::v6;
        auto narrow = [&](bool mixed) {
            std::vector<Cidr> out{narrowCidr(f)};
            if (chance(30)) out.push_back(narrowCidr(f));
            if (mixed)
                out.push_back(narrowCidr(f == AddrFamily::v4 ? AddrFamily::v6 : AddrFamily::v4));
            return out;
        };
        if (chance(80)) r.src = narrow(fam == 19);
        if (chance(90)) r.dst = narrow(fam == 19);
        unsigned p = below(20);
        r.proto = p < 10 ? 6 : p < 16 ? 17 : p < 18 ? (f == AddrFamily::v4 ? 1 : 58) : 47;
        if (r.proto == 6 || r.proto == 17) {
            if (chance(90)) {
                for (unsigned i = 0, n = 1 + below(2); i < n; ++i) {
                    uint16_t lo = portRange().lo;
                    r.dport.push_back({lo, uint16_t(std::min(65535u, lo + below(3) * below(20)))});
                }
            }
            if (chance(10)) r.sport.push_back({1024, 65535});
        }
        if ((r.proto == 1 || r.proto == 58) && chance(80)) r.icmp_types.push_back(icmpType());
        return r;
    }

    // A query that often falls inside `hint` (when given), else anywhere in
    // the pools the rules were drawn from.
    PolicyQuery query(const Rule* hint) {
        PolicyQuery q;
        auto zoneFor = [&](const std::vector<std::string>& names) -> uint16_t {
            if (hint && !names.empty() && chance(90)) {
                const std::string& name = names[below(uint32_t(names.size()))];
                for (size_t i = 0; i < testZones().size(); ++i) {
                    if (testZones()[i] == name) return uint16_t(i);
                }
            }
            if (chance(3)) return uint16_t(4 + below(65536 - 4));  // not a compiled zone
            return uint16_t(below(4));
        };
        q.from_zone = zoneFor(hint ? hint->from_zones : std::vector<std::string>{});
        q.to_zone = zoneFor(hint ? hint->to_zones : std::vector<std::string>{});

        q.family = chance(65) ? AddrFamily::v4 : AddrFamily::v6;
        auto addrFor = [&](const std::vector<Cidr>& list) {
            if (hint && !list.empty() && chance(85)) {
                const Cidr& c = list[below(uint32_t(list.size()))];
                q.family = c.family;
                unsigned __int128 host = (unsigned __int128)rng_() << 64 | rng_();
                unsigned __int128 mask =
                    c.prefix == 0 ? 0 : ~(unsigned __int128)0 << (128 - c.prefix);
                unsigned __int128 bits = c.addr.asU128() | (host & ~mask);
                return IpAddr::fromU128(bits);
            }
            return q.family == AddrFamily::v4 ? v4Addr() : v6Addr();
        };
        q.src = addrFor(hint ? hint->src : std::vector<Cidr>{});
        IpAddr dst = addrFor(hint ? hint->dst : std::vector<Cidr>{});
        // The family may have been switched by the dst pick; keep both addresses
        // of the query's family.
        if (q.family == AddrFamily::v4 && !q.src.isV4Mapped()) q.src = v4Addr();
        if (q.family == AddrFamily::v4 && !dst.isV4Mapped()) dst = v4Addr();
        if (q.family == AddrFamily::v6 && q.src.isV4Mapped()) q.src = v6Addr();
        if (q.family == AddrFamily::v6 && dst.isV4Mapped()) dst = v6Addr();
        q.dst = dst;

        static const uint8_t protos[] = {6, 17, 1, 58, 47, 0, 132};
        q.proto = hint && hint->proto && chance(90) ? *hint->proto : protos[below(7)];
        auto portFor = [&](const std::vector<PortRange>& list) -> uint16_t {
            if (hint && !list.empty() && chance(85)) {
                const PortRange& p = list[below(uint32_t(list.size()))];
                return uint16_t(p.lo + below(uint32_t(p.hi - p.lo) + 1));
            }
            return portRange().lo;
        };
        if (q.proto == 6 || q.proto == 17) {
            q.sport = portFor(hint ? hint->sport : std::vector<PortRange>{});
            q.dport = portFor(hint ? hint->dport : std::vector<PortRange>{});
        }
        if ((q.proto == 1 || q.proto == 58) && chance(95)) {
            if (hint && !hint->icmp_types.empty() && chance(85)) {
                q.icmp_type = hint->icmp_types[below(uint32_t(hint->icmp_types.size()))];
            } else {
                q.icmp_type = icmpType();
            }
        }
        return q;
    }

  private:
    std::mt19937_64 rng_;
};

}  // namespace tandem::testing
