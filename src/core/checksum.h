// Internet checksums (RFC 1071) for the packets tandemd writes itself, and
// the incremental update (RFC 1624) for the ones it changes in place.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/wire_bytes.h"

namespace tandem {

/// The 16-bit ones'-complement sum of `len` big-endian bytes added to `sum`,
/// folded, not inverted. An IPv4 header (or a segment with its pseudo
/// header) is valid when the sum over it is 0xffff.
inline uint16_t onesComplementSum(const uint8_t* p, size_t len, uint32_t sum = 0) {
    size_t i = 0;
    for (; i + 1 < len; i += 2) sum += wire::get16(p + i);
    if (i < len) sum += uint32_t(p[i]) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

/// The checksum field for data whose sum (onesComplementSum, with the
/// field zero) is `sum`.
inline uint16_t checksumOf(uint16_t sum) {
    return uint16_t(~sum);
}

/// Checksum field `check` after one 16-bit word it covers changed from
/// `old_word` to `new_word` (RFC 1624, eqn. 3): the sum over the data stays
/// what it was, so checksums that cover this one's data (a tunnel's outer
/// UDP checksum) stay right too.
inline uint16_t checksumUpdate(uint16_t check, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = uint32_t(uint16_t(~check)) + uint16_t(~old_word) + new_word;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

}  // namespace tandem
