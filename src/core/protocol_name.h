// The operator's names of the IP protocols Tandem tracks by name: one
// mapping for the rules, the control commands, the traffic log and the shell.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/flow_key.h"
#include "core/text.h"

namespace tandem {

/// The protocols with a name, in the order the shell offers them.
inline constexpr uint8_t kNamedProtocols[] = {kProtoTcp, kProtoUdp, kProtoIcmp, kProtoIcmpV6};

/// "tcp", "udp", "icmp", "icmpv6"; nullptr for any other protocol number
/// (callers show the number). Any thread.
inline const char* protocolName(uint8_t proto) {
    switch (proto) {
        case kProtoTcp:
            return "tcp";
        case kProtoUdp:
            return "udp";
        case kProtoIcmp:
            return "icmp";
        case kProtoIcmpV6:
            return "icmpv6";
    }
    return nullptr;
}

/// The name of `proto`, else its number in decimal ("47"). Any thread.
inline std::string protocolText(uint8_t proto) {
    const char* name = protocolName(proto);
    return name ? std::string(name) : std::to_string(proto);
}

/// A protocol as an operator writes it: a name of protocolName() or a
/// number 0..255; nullopt for anything else. Any thread.
inline std::optional<uint8_t> parseProtocol(std::string_view text) {
    for (uint8_t p : kNamedProtocols) {
        if (text == protocolName(p)) return p;
    }
    if (auto n = parseUnsigned(text, 0, 255)) return uint8_t(*n);
    return std::nullopt;
}

}  // namespace tandem
