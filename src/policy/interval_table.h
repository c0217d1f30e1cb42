// IntervalTable: one field of the bit-vector classifier. The field's key space
// (ports, IPv4 or IPv6 addresses) is cut into sorted elementary intervals;
// every point of an interval is accepted by the same set of rules, held as a
// BitsetPool row.
//
// build() runs on the control plane; find() is const, never allocates, locks
// or throws, and may be called from any thread.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "policy/bitset_pool.h"

namespace tandem {

/// Rule `rule` accepts every key in [lo, hi] (inclusive).
template <typename K>
struct KeyRange {
    K lo;
    K hi;
    uint32_t rule;
};

template <typename K>
class IntervalTable {
  public:
    /// Builds the table for `rule_count` rules from their accepted ranges (a
    /// rule may give several, overlapping or not). Keys no range covers map to
    /// the empty set. Adjacent intervals with the same rule set are merged.
    /// Cost: O(R log R + R * words) for R ranges.
    static IntervalTable build(const std::vector<KeyRange<K>>& ranges, size_t rule_count,
                               BitsetPool* pool);

    /// The BitsetPool row of the rules that accept `key`: a binary search.
    uint32_t find(K key) const noexcept {
        // starts_[0] == 0 <= key, so the last start <= key always exists.
        const K* base = starts_.data();
        size_t n = starts_.size();
        while (n > 1) {
            size_t half = n / 2;
            base = base[half] <= key ? base + half : base;
            n -= half;
        }
        return rows_[size_t(base - starts_.data())];
    }

    /// Number of elementary intervals.
    size_t size() const { return starts_.size(); }
    size_t bytes() const { return starts_.size() * (sizeof(K) + sizeof(uint32_t)); }

  private:
    std::vector<K> starts_;       // sorted, starts_[0] == 0
    std::vector<uint32_t> rows_;  // rows_[i]: rules accepting [starts_[i], starts_[i+1])
};

template <typename K>
IntervalTable<K> IntervalTable<K>::build(const std::vector<KeyRange<K>>& ranges, size_t rule_count,
                                         BitsetPool* pool) {
    // Sweep the key space once: each range opens at lo and closes after hi.
    // A per-rule depth counter keeps overlapping ranges of one rule correct.
    struct Event {
        K point;
        uint32_t rule;
        bool open;
    };
    const K kMax = static_cast<K>(~K{0});
    std::vector<Event> events;
    events.reserve(ranges.size() * 2);
    for (const KeyRange<K>& r : ranges) {
        if (r.lo > r.hi) continue;
        events.push_back({r.lo, r.rule, true});
        if (r.hi != kMax) events.push_back({static_cast<K>(r.hi + 1), r.rule, false});
    }
    std::sort(events.begin(), events.end(),
              [](const Event& a, const Event& b) { return a.point < b.point; });

    std::vector<uint32_t> depth(rule_count, 0);
    std::vector<uint64_t> bits(pool->words(), 0);
    IntervalTable table;
    table.starts_.push_back(K{0});
    table.rows_.push_back(0);  // the empty set
    size_t i = 0;
    while (i < events.size()) {
        const K point = events[i].point;
        for (; i < events.size() && events[i].point == point; ++i) {
            const Event& e = events[i];
            uint64_t bit = uint64_t{1} << (e.rule % 64);
            if (e.open) {
                if (depth[e.rule]++ == 0) bits[e.rule / 64] |= bit;
            } else {
                if (--depth[e.rule] == 0) bits[e.rule / 64] &= ~bit;
            }
        }
        uint32_t row = pool->intern(bits.data());
        if (point == K{0}) {
            table.rows_[0] = row;
        } else if (row != table.rows_.back()) {
            table.starts_.push_back(point);
            table.rows_.push_back(row);
        }
    }
    table.starts_.shrink_to_fit();
    table.rows_.shrink_to_fit();
    return table;
}

}  // namespace tandem
