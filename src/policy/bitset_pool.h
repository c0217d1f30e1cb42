// BitsetPool: the rule bitsets of one compiled Policy, each distinct bitset
// stored once and named by a dense row id.
//
// Many elementary intervals of different fields accept the same set of rules
// (typically "every rule" or "no rule"), so interning them keeps a compiled
// policy far below its worst-case size. Row 0 is always the empty set.
//
// Built on the control plane by Policy::compile(); read-only afterwards, when
// row() may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace tandem {

class BitsetPool {
  public:
    /// A pool of bitsets of `words` 64-bit words each (bit r % 64 of word
    /// r / 64 is rule r). Creates row 0, the empty set.
    explicit BitsetPool(size_t words);

    /// Returns the row id of the bitset at `bits` (`words()` words), adding it
    /// if it is new. Allocates.
    uint32_t intern(const uint64_t* bits);

    /// The bitset with id `row` (from intern()). Never allocates.
    const uint64_t* row(uint32_t row) const noexcept { return data_.data() + row * words_; }

    size_t words() const { return words_; }
    size_t rowCount() const { return rows_; }
    size_t bytes() const { return data_.size() * sizeof(uint64_t); }

  private:
    size_t words_;
    size_t rows_ = 0;
    std::vector<uint64_t> data_;
    std::unordered_multimap<uint64_t, uint32_t> by_hash_;
};

}  // namespace tandem
