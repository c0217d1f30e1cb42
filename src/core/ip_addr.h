// IpAddr: an IPv4 or IPv6 address held in 16 bytes, network byte order.
// IPv4 addresses are stored v4-mapped (::ffff:a.b.c.d) so that one code path
// compares, hashes and classifies both families.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace tandem {

enum class AddrFamily : uint8_t { none = 0, v4 = 4, v6 = 6 };

struct IpAddr {
    std::array<uint8_t, 16> b{};

    /// Builds a v4-mapped address from 4 bytes in network order.
    static IpAddr fromV4Bytes(const uint8_t* p) {
        IpAddr a;
        a.b[10] = 0xff;
        a.b[11] = 0xff;
        std::memcpy(&a.b[12], p, 4);
        return a;
    }
    /// Builds an IPv4 address from a host-order integer (10.0.0.1 == 0x0a000001).
    static IpAddr fromV4(uint32_t host_order) {
        uint8_t p[4] = {uint8_t(host_order >> 24), uint8_t(host_order >> 16),
                        uint8_t(host_order >> 8), uint8_t(host_order)};
        return fromV4Bytes(p);
    }
    static IpAddr fromV6Bytes(const uint8_t* p) {
        IpAddr a;
        std::memcpy(a.b.data(), p, 16);
        return a;
    }
    bool isV4Mapped() const {
        static constexpr uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        return std::memcmp(b.data(), prefix, 12) == 0;
    }
    /// The IPv4 address in host order; only meaningful when isV4Mapped().
    uint32_t v4() const {
        return uint32_t(b[12]) << 24 | uint32_t(b[13]) << 16 | uint32_t(b[14]) << 8 | b[15];
    }
    /// The address as a 128-bit unsigned integer (most significant byte first).
    unsigned __int128 asU128() const {
        unsigned __int128 v = 0;
        for (uint8_t x : b) v = (v << 8) | x;
        return v;
    }
    static IpAddr fromU128(unsigned __int128 v) {
        IpAddr a;
        for (int i = 15; i >= 0; --i) {
            a.b[i] = uint8_t(v);
            v >>= 8;
        }
        return a;
    }

    friend bool operator==(const IpAddr& x, const IpAddr& y) { return x.b == y.b; }
    friend bool operator!=(const IpAddr& x, const IpAddr& y) { return x.b != y.b; }
    friend bool operator<(const IpAddr& x, const IpAddr& y) { return x.b < y.b; }
};

/// Parses "192.0.2.1" or "2001:db8::1". Returns nullopt on any syntax error.
std::optional<IpAddr> parseIpAddr(std::string_view text);

/// Formats as dotted quad for v4-mapped addresses, RFC 5952 text otherwise.
std::string formatIpAddr(const IpAddr& a);

}  // namespace tandem
