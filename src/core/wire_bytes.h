// Big-endian loads and stores for packed wire formats (peer link, ARP,
// generated packets). Callers check lengths first; these never do.
#pragma once

#include <cstdint>

namespace tandem::wire {

inline void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8), p[1] = uint8_t(v);
}
inline void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16)), put16(p + 2, uint16_t(v));
}
inline uint16_t get16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
inline uint32_t get32(const uint8_t* p) {
    return uint32_t(get16(p)) << 16 | get16(p + 2);
}

}  // namespace tandem::wire
