#include "policy/bitset_pool.h"

#include <cstring>

namespace tandem {
namespace {

uint64_t hashWords(const uint64_t* bits, size_t words) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ words;
    for (size_t i = 0; i < words; ++i) {
        h ^= bits[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
    }
    return h ^ (h >> 33);
}

}  // namespace

BitsetPool::BitsetPool(size_t words) : words_(words) {
    std::vector<uint64_t> empty(words, 0);
    intern(empty.data());
}

uint32_t BitsetPool::intern(const uint64_t* bits) {
    uint64_t h = hashWords(bits, words_);
    auto [first, last] = by_hash_.equal_range(h);
    for (auto it = first; it != last; ++it) {
        if (words_ == 0 || std::memcmp(row(it->second), bits, words_ * sizeof(uint64_t)) == 0) {
            return it->second;
        }
    }
    uint32_t id = uint32_t(rows_++);
    data_.insert(data_.end(), bits, bits + words_);
    by_hash_.emplace(h, id);
    return id;
}

}  // namespace tandem
