#include "packet/nat_rewrite.h"

#include "core/checksum.h"

namespace tandem {

namespace {

using wire::get16;
using wire::get32;
using wire::put16;
using wire::put32;

// A checksum field after a 32-bit value it covers changed.
uint16_t update32(uint16_t check, uint32_t old_value, uint32_t new_value) {
    check = checksumUpdate(check, uint16_t(old_value >> 16), uint16_t(new_value >> 16));
    return checksumUpdate(check, uint16_t(old_value), uint16_t(new_value));
}

// Offset of the L4 checksum field, 0 when the packet has none to follow.
uint16_t l4ChecksumOffset(const PacketInfo& info) {
    switch (info.proto) {
        case kProtoTcp:
            return 16;
        case kProtoUdp:
            return 6;
        default:
            return 0;
    }
}

}  // namespace

bool natRewrite(uint8_t* frame, const PacketInfo& info, NatEnd end, uint32_t addr, uint16_t port) {
    if (info.family != AddrFamily::v4 || info.tunnel.kind != TunnelKind::none) return false;
    uint8_t* ip = frame + info.l3_offset;
    uint8_t* addr_at = ip + (end == NatEnd::source ? 12 : 16);
    const uint32_t old_addr = get32(addr_at);
    put32(addr_at, addr);
    put16(ip + 10, update32(get16(ip + 10), old_addr, addr));

    const bool ports = info.has_l4 && !(info.is_fragment && !info.first_fragment);
    if (!ports) return true;  // a later fragment: the address only
    uint8_t* l4 = frame + info.l4_offset;
    const bool icmp_echo = info.proto == kProtoIcmp && !info.icmp_is_error;
    uint8_t* port_at = icmp_echo               ? l4 + 4  // the identifier
                       : end == NatEnd::source ? l4
                                               : l4 + 2;
    const bool has_port = info.proto == kProtoTcp || info.proto == kProtoUdp || icmp_echo;
    const uint16_t old_port = has_port ? get16(port_at) : 0;
    if (has_port) put16(port_at, port);

    if (icmp_echo) {
        // ICMP's checksum covers its message only: the identifier.
        put16(l4 + 2, checksumUpdate(get16(l4 + 2), old_port, port));
        return true;
    }
    const uint16_t at = l4ChecksumOffset(info);
    if (at == 0) return true;
    uint16_t check = get16(l4 + at);
    if (info.proto == kProtoUdp && check == 0) return true;  // sent without one
    check = update32(check, old_addr, addr);
    check = checksumUpdate(check, old_port, port);
    if (info.proto == kProtoUdp && check == 0) check = 0xffff;  // 0 means none
    put16(l4 + at, check);
    return true;
}

}  // namespace tandem
