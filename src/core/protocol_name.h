// The operator's names of the IP protocols Tandem tracks by name.
#pragma once

#include <cstdint>

#include "core/flow_key.h"

namespace tandem {

/// "tcp", "udp", "icmp", "icmpv6"; nullptr for any other protocol number
/// (callers show the number). Any thread.
inline const char* protocolName(uint8_t proto) {
    switch (proto) {
        case kProtoTcp: return "tcp";
        case kProtoUdp: return "udp";
        case kProtoIcmp: return "icmp";
        case kProtoIcmpV6: return "icmpv6";
    }
    return nullptr;
}

}  // namespace tandem
