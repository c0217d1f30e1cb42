#include "policy/policy.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>
#include <unordered_map>

#include "core/text.h"
#include "policy/bitset_pool.h"
#include "policy/interval_table.h"

namespace tandem {
namespace {

using U128 = unsigned __int128;

// icmp-type slot for packets that are not ICMP: no rule that lists ICMP types
// accepts it, every rule that does not list them does.
constexpr size_t kNotIcmp = 256;
constexpr size_t kIcmpSlots = 257;
constexpr size_t kProtoSlots = 256;

// The fields a query is classified on; each gives one bitset row.
enum Dim : size_t { kFromZone, kToZone, kSrc, kDst, kProto, kSport, kDport, kIcmpType, kDims };

U128 mask128(unsigned prefix) {
    return prefix == 0 ? U128{0} : ~U128{0} << (128 - prefix);
}

// IpAddr::asU128() and v4() go byte by byte; on the per-packet path two
// 64-bit loads are cheaper.
U128 loadU128(const IpAddr& a) {
    uint64_t hi, lo;
    std::memcpy(&hi, a.b.data(), 8);
    std::memcpy(&lo, a.b.data() + 8, 8);
    if constexpr (std::endian::native == std::endian::little) {
        hi = __builtin_bswap64(hi);
        lo = __builtin_bswap64(lo);
    }
    return U128{hi} << 64 | lo;
}

uint32_t loadV4(const IpAddr& a) {
    uint32_t v;
    std::memcpy(&v, a.b.data() + 12, 4);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
    return v;
}

uint32_t mask32(unsigned prefix) {
    return prefix == 0 ? 0u : ~uint32_t{0} << (32 - prefix);
}

// A per-value table for small key spaces: rows[value] = BitsetPool row.
class DirectTableBuilder {
  public:
    DirectTableBuilder(size_t slots, size_t words) : words_(words), bits_(slots * words, 0) {}

    void accept(size_t slot, uint32_t rule) {
        bits_[slot * words_ + rule / 64] |= uint64_t{1} << (rule % 64);
    }
    void acceptAll(uint32_t rule) {
        for (size_t slot = 0; slot < slots(); ++slot) accept(slot, rule);
    }
    size_t slots() const { return words_ == 0 ? 0 : bits_.size() / words_; }

    std::vector<uint32_t> finish(BitsetPool* pool) const {
        std::vector<uint32_t> rows(slots(), 0);
        for (size_t slot = 0; slot < rows.size(); ++slot) {
            rows[slot] = pool->intern(&bits_[slot * words_]);
        }
        return rows;
    }

  private:
    size_t words_;
    std::vector<uint64_t> bits_;
};

}  // namespace

struct Policy::Impl {
    explicit Impl(size_t words) : pool(words) {}

    std::vector<Rule> rules;
    std::vector<PolicyVerdict> verdicts;  // verdicts[r]: what rule r returns
    BitsetPool pool;
    // Zone tables have one slot per zone id plus a last slot for ids outside
    // the zone list, accepted only by rules that name no zone.
    std::vector<uint32_t> from_zone;
    std::vector<uint32_t> to_zone;
    std::vector<uint32_t> proto;      // kProtoSlots
    std::vector<uint32_t> icmp_type;  // kIcmpSlots
    // One address table per family: an IPv4 CIDR only ever lands in the v4
    // tables, which is how a rule's addresses restrict its family.
    IntervalTable<uint32_t> src4, dst4;
    IntervalTable<U128> src6, dst6;
    IntervalTable<uint16_t> sport, dport;
};

Policy::Policy() = default;
Policy::~Policy() = default;

std::shared_ptr<const Policy> Policy::compile(const std::vector<Rule>& rules,
                                              const std::vector<std::string>& zones,
                                              std::string* error) {
    const size_t n = rules.size();
    const size_t words = (n + 63) / 64;

    std::unordered_map<std::string, std::vector<size_t>> zone_ids;
    for (size_t id = 0; id < zones.size(); ++id) zone_ids[zones[id]].push_back(id);

    std::string problems;
    auto checkZones = [&](size_t index, const Rule& rule, const std::vector<std::string>& names,
                          const char* keyword) {
        for (const std::string& z : names) {
            if (zone_ids.count(z)) continue;
            if (!problems.empty()) problems += '\n';
            problems += "rule " + std::to_string(index + 1) + " (" + rule.name +
                        "): unknown zone '" + z + "' in '" + keyword + "'; known zones: " +
                        (zones.empty() ? std::string("(none)") : joinWords(zones));
        }
    };

    std::unique_ptr<Impl> impl(new Impl(words));
    impl->rules = rules;
    for (size_t r = 0; r < n; ++r) {
        Rule& rule = impl->rules[r];
        if (rule.name.empty()) rule.name = "rule-" + std::to_string(r + 1);
        checkZones(r, rule, rule.from_zones, "from");
        checkZones(r, rule, rule.to_zones, "to");
    }
    if (!problems.empty()) {
        if (error) *error = std::move(problems);
        return nullptr;
    }

    DirectTableBuilder from(zones.size() + 1, words);
    DirectTableBuilder to(zones.size() + 1, words);
    DirectTableBuilder proto(kProtoSlots, words);
    DirectTableBuilder icmp(kIcmpSlots, words);
    std::vector<KeyRange<uint32_t>> src4, dst4;
    std::vector<KeyRange<U128>> src6, dst6;
    std::vector<KeyRange<uint16_t>> sport, dport;

    auto addZones = [&](DirectTableBuilder* table, const std::vector<std::string>& names,
                        uint32_t r) {
        if (names.empty()) return table->acceptAll(r);
        for (const std::string& z : names) {
            for (size_t id : zone_ids[z]) table->accept(id, r);
        }
    };
    auto addCidrs = [](std::vector<KeyRange<uint32_t>>* v4, std::vector<KeyRange<U128>>* v6,
                       const std::vector<Cidr>& cidrs, uint32_t r) {
        if (cidrs.empty()) {
            v4->push_back({0, ~uint32_t{0}, r});
            v6->push_back({0, ~U128{0}, r});
            return;
        }
        for (const Cidr& c : cidrs) {
            if (c.family == AddrFamily::v4) {
                // The prefix counts the 96 mapping bits; the v4 table keys on
                // the last 32 bits only.
                unsigned len = std::clamp<unsigned>(c.prefix, 96, 128) - 96;
                uint32_t lo = c.addr.v4() & mask32(len);
                v4->push_back({lo, lo | ~mask32(len), r});
            } else {
                unsigned len = std::min<unsigned>(c.prefix, 128);
                U128 lo = c.addr.asU128() & mask128(len);
                v6->push_back({lo, lo | ~mask128(len), r});
            }
        }
    };
    auto addPorts = [](std::vector<KeyRange<uint16_t>>* table, const std::vector<PortRange>& ports,
                       uint32_t r) {
        if (ports.empty()) table->push_back({0, 65535, r});
        for (const PortRange& p : ports) table->push_back({p.lo, p.hi, r});
    };

    impl->verdicts.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const Rule& rule = impl->rules[i];
        const uint32_t r = uint32_t(i);
        impl->verdicts[i] = PolicyVerdict{rule.action, rule.log, r,
                                          rule.app.proto != AppProtocol::none, rule.reset};
        addZones(&from, rule.from_zones, r);
        addZones(&to, rule.to_zones, r);
        addCidrs(&src4, &src6, rule.src, r);
        addCidrs(&dst4, &dst6, rule.dst, r);
        if (rule.proto) {
            proto.accept(*rule.proto, r);
        } else {
            proto.acceptAll(r);
        }
        addPorts(&sport, rule.sport, r);
        addPorts(&dport, rule.dport, r);
        if (rule.icmp_types.empty()) {
            icmp.acceptAll(r);
        } else {
            for (uint8_t t : rule.icmp_types) icmp.accept(t, r);
        }
    }

    BitsetPool* pool = &impl->pool;
    impl->from_zone = from.finish(pool);
    impl->to_zone = to.finish(pool);
    impl->proto = proto.finish(pool);
    impl->icmp_type = icmp.finish(pool);
    impl->src4 = IntervalTable<uint32_t>::build(src4, n, pool);
    impl->dst4 = IntervalTable<uint32_t>::build(dst4, n, pool);
    impl->src6 = IntervalTable<U128>::build(src6, n, pool);
    impl->dst6 = IntervalTable<U128>::build(dst6, n, pool);
    impl->sport = IntervalTable<uint16_t>::build(sport, n, pool);
    impl->dport = IntervalTable<uint16_t>::build(dport, n, pool);

    std::shared_ptr<Policy> policy(new Policy());
    policy->impl_ = std::move(impl);
    return policy;
}

template <typename Accept>
PolicyVerdict Policy::firstMatch(const PolicyQuery& q, Accept accept) const noexcept {
    const Impl& m = *impl_;
    const size_t words = m.pool.words();
    if (words == 0) return PolicyVerdict{};

    uint32_t rows[kDims];
    const size_t zone_other = m.from_zone.size() - 1;
    rows[kFromZone] = m.from_zone[std::min<size_t>(q.from_zone, zone_other)];
    rows[kToZone] = m.to_zone[std::min<size_t>(q.to_zone, zone_other)];
    if (q.family == AddrFamily::v4) {
        rows[kSrc] = m.src4.find(loadV4(q.src));
        rows[kDst] = m.dst4.find(loadV4(q.dst));
    } else if (q.family == AddrFamily::v6) {
        rows[kSrc] = m.src6.find(loadU128(q.src));
        rows[kDst] = m.dst6.find(loadU128(q.dst));
    } else {
        return PolicyVerdict{};
    }
    rows[kProto] = m.proto[q.proto];
    rows[kSport] = m.sport.find(q.sport);
    rows[kDport] = m.dport.find(q.dport);
    rows[kIcmpType] =
        m.icmp_type[q.icmp_type >= 0 && q.icmp_type < 256 ? size_t(q.icmp_type) : kNotIcmp];

    // Row 0 is the empty set: one field that no rule accepts decides.
    const uint64_t* bits[kDims];
    for (size_t d = 0; d < kDims; ++d) {
        if (rows[d] == 0) return PolicyVerdict{};
        bits[d] = m.pool.row(rows[d]);
    }
    for (size_t w = 0; w < words; ++w) {
        uint64_t acc = bits[0][w];
        for (size_t d = 1; d < kDims; ++d) acc &= bits[d][w];
        for (; acc != 0; acc &= acc - 1) {
            const size_t i = w * 64 + size_t(std::countr_zero(acc));
            if (accept(i)) return m.verdicts[i];
        }
    }
    return PolicyVerdict{};
}

PolicyVerdict Policy::match(const PolicyQuery& q) const noexcept {
    return firstMatch(q, [](size_t) { return true; });
}

PolicyVerdict Policy::matchApp(const PolicyQuery& q, AppProtocol app,
                               std::string_view name) const noexcept {
    const Impl& m = *impl_;
    return firstMatch(q, [&](size_t i) {
        const AppMatch& want = m.rules[i].app;
        if (want.proto == AppProtocol::none) return true;
        if (want.proto != app) return false;
        return std::any_of(want.names.begin(), want.names.end(),
                           [&](const std::string& p) { return appNameMatches(p, name); });
    });
}

bool Policy::hasAppRules() const {
    return std::any_of(impl_->rules.begin(), impl_->rules.end(),
                       [](const Rule& r) { return r.app.proto != AppProtocol::none; });
}

size_t Policy::ruleCount() const {
    return impl_->rules.size();
}

const Rule& Policy::rule(uint32_t index) const {
    return impl_->rules.at(index);
}

PolicyStats Policy::stats() const {
    const Impl& m = *impl_;
    PolicyStats s;
    s.rules = m.rules.size();
    s.bitset_words = m.pool.words();
    s.distinct_bitsets = m.pool.rowCount();
    s.intervals = m.src4.size() + m.dst4.size() + m.src6.size() + m.dst6.size() + m.sport.size() +
                  m.dport.size();
    size_t direct = m.from_zone.size() + m.to_zone.size() + m.proto.size() + m.icmp_type.size();
    s.bytes = m.pool.bytes() + direct * sizeof(uint32_t) + m.src4.bytes() + m.dst4.bytes() +
              m.src6.bytes() + m.dst6.bytes() + m.sport.bytes() + m.dport.bytes() +
              m.verdicts.size() * sizeof(PolicyVerdict);
    return s;
}

}  // namespace tandem
