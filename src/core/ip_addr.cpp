#include "core/ip_addr.h"

#include <arpa/inet.h>

namespace tandem {

std::optional<IpAddr> parseIpAddr(std::string_view text) {
    if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
    std::string s(text);
    uint8_t buf[16];
    if (s.find(':') == std::string::npos) {
        if (inet_pton(AF_INET, s.c_str(), buf) != 1) return std::nullopt;
        return IpAddr::fromV4Bytes(buf);
    }
    if (inet_pton(AF_INET6, s.c_str(), buf) != 1) return std::nullopt;
    return IpAddr::fromV6Bytes(buf);
}

std::string formatIpAddr(const IpAddr& a) {
    char out[INET6_ADDRSTRLEN];
    if (a.isV4Mapped()) {
        inet_ntop(AF_INET, &a.b[12], out, sizeof out);
    } else {
        inet_ntop(AF_INET6, a.b.data(), out, sizeof out);
    }
    return out;
}

}  // namespace tandem
