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

bool natRewriteIcmpError(uint8_t* frame, const PacketInfo& info, NatEnd quoted, uint32_t addr,
                         uint16_t port) {
    if (info.family != AddrFamily::v4 || info.tunnel.kind != TunnelKind::none ||
        info.proto != kProtoIcmp || !info.icmp_is_error)
        return false;
    uint8_t* ip = frame + info.l3_offset;
    uint8_t* icmp = frame + info.l4_offset;
    const uint8_t* end = ip + info.ip_total_len;  // the ICMP message ends with its packet
    uint8_t* qip = icmp + 8;
    if (end - qip < 20 || (qip[0] >> 4) != 4) return false;
    uint8_t* ql4 = qip + (qip[0] & 0x0f) * 4;
    if (end - ql4 < 8) return false;

    // Every word of the ICMP message changes through set16, which keeps the
    // ICMP checksum right; all of them lie at even offsets from its start.
    uint16_t icmp_check = get16(icmp + 2);
    auto set16 = [&](uint8_t* at, uint16_t value) {
        icmp_check = checksumUpdate(icmp_check, get16(at), value);
        put16(at, value);
    };
    uint8_t* qaddr = qip + (quoted == NatEnd::source ? 12 : 16);
    const uint32_t old_addr = get32(qaddr);
    const uint16_t qip_check = update32(get16(qip + 10), old_addr, addr);
    set16(qaddr, uint16_t(addr >> 16));
    set16(qaddr + 2, uint16_t(addr));
    set16(qip + 10, qip_check);

    const uint8_t qproto = qip[9];
    auto quotedChecksum = [&](size_t at, bool pseudo, uint16_t old_port, bool udp) {
        if (end - ql4 < ptrdiff_t(at + 2)) return;  // not quoted
        uint16_t c = get16(ql4 + at);
        if (udp && c == 0) return;  // sent without one
        if (pseudo) c = update32(c, old_addr, addr);
        c = checksumUpdate(c, old_port, port);
        if (udp && c == 0) c = 0xffff;
        set16(ql4 + at, c);
    };
    if (qproto == kProtoTcp || qproto == kProtoUdp) {
        uint8_t* qport = ql4 + (quoted == NatEnd::source ? 0 : 2);
        const uint16_t old_port = get16(qport);
        set16(qport, port);
        quotedChecksum(qproto == kProtoTcp ? 16 : 6, true, old_port, qproto == kProtoUdp);
    } else if (qproto == kProtoIcmp && (ql4[0] == 8 || ql4[0] == 0)) {
        const uint16_t old_id = get16(ql4 + 4);  // an echo's identifier
        set16(ql4 + 4, port);
        quotedChecksum(2, false, old_id, false);
    }
    put16(icmp + 2, icmp_check);

    uint8_t* oaddr = ip + (quoted == NatEnd::source ? 16 : 12);
    if (get32(oaddr) == old_addr) {
        put32(oaddr, addr);
        put16(ip + 10, update32(get16(ip + 10), old_addr, addr));
    }
    return true;
}

}  // namespace tandem
