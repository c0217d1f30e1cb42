#include "packet/tcp_reset.h"

#include <cstring>

#include "core/checksum.h"

namespace tandem {

namespace {

using wire::get16;
using wire::put16;
using wire::put32;

constexpr size_t kTcpHeader = 20;
constexpr uint8_t kResetFlags = kTcpRst | kTcpAck;

}  // namespace

size_t buildReverseReset(const uint8_t* frame, const PacketInfo& info, uint8_t* out, size_t cap) {
    if (!info.has_l4 || info.proto != kProtoTcp || (info.tcp.flags & kTcpRst) || info.is_fragment ||
        info.tunnel.kind != TunnelKind::none)
        return 0;
    const bool v6 = info.family == AddrFamily::v6;
    const size_t l2 = info.l3_offset;
    const size_t l3 = v6 ? 40 : 20;
    const size_t len = l2 + l3 + kTcpHeader;
    if (l2 < 14 || len > cap) return 0;

    // Ethernet (and VLAN tags): the same header, turned around.
    std::memcpy(out, frame + 6, 6);
    std::memcpy(out + 6, frame, 6);
    std::memcpy(out + 12, frame + 12, l2 - 12);

    uint8_t* ip = out + l2;
    uint8_t* t = ip + l3;
    uint32_t pseudo = 0;
    if (v6) {
        put32(ip, 0x60000000);
        put16(ip + 4, uint16_t(kTcpHeader));
        ip[6] = kProtoTcp;
        ip[7] = 64;
        std::memcpy(ip + 8, info.dst.b.data(), 16);
        std::memcpy(ip + 24, info.src.b.data(), 16);
        pseudo = onesComplementSum(ip + 8, 32, kProtoTcp + kTcpHeader);
    } else {
        ip[0] = 0x45;
        ip[1] = 0;
        put16(ip + 2, uint16_t(l3 + kTcpHeader));
        put16(ip + 4, 0);
        put16(ip + 6, 0x4000);  // DF
        ip[8] = 64;
        ip[9] = kProtoTcp;
        put16(ip + 10, 0);
        std::memcpy(ip + 12, info.dst.b.data() + 12, 4);
        std::memcpy(ip + 16, info.src.b.data() + 12, 4);
        put16(ip + 10, checksumOf(onesComplementSum(ip, 20)));
        pseudo = onesComplementSum(ip + 12, 8, kProtoTcp + kTcpHeader);
    }

    const TcpInfo& seg = info.tcp;
    const uint32_t length =
        seg.payload_len + ((seg.flags & kTcpSyn) ? 1 : 0) + ((seg.flags & kTcpFin) ? 1 : 0);
    put16(t, info.dport);
    put16(t + 2, info.sport);
    put32(t + 4, (seg.flags & kTcpAck) ? seg.ack : 0);
    put32(t + 8, seg.seq + length);
    t[12] = uint8_t((kTcpHeader / 4) << 4);
    t[13] = kResetFlags;
    put16(t + 14, 0);  // window
    put16(t + 16, 0);  // checksum
    put16(t + 18, 0);  // urgent pointer
    put16(t + 16, checksumOf(onesComplementSum(t, kTcpHeader, pseudo)));
    return len;
}

void turnIntoReset(uint8_t* frame, const PacketInfo& info) {
    uint8_t* t = frame + info.l4_offset;
    const uint16_t old_word = get16(t + 12);  // data offset and flags
    t[13] = uint8_t((t[13] & ~(kTcpSyn | kTcpFin | kTcpPsh)) | kTcpRst);
    put16(t + 16, checksumUpdate(get16(t + 16), old_word, get16(t + 12)));
}

}  // namespace tandem
