#include "proto/arp.h"

#include <cstring>

#include "core/wire_bytes.h"

namespace tandem {
namespace {

using namespace wire;

constexpr uint16_t kHwEthernet = 1;
constexpr uint16_t kProtoIpv4 = 0x0800;

}  // namespace

bool decodeArp(const uint8_t* frame, size_t len, ArpMessage* m) {
    if (len < kArpFrameSize || get16(frame + 12) != kEtherTypeArp) return false;
    const uint8_t* a = frame + 14;
    if (get16(a) != kHwEthernet || get16(a + 2) != kProtoIpv4 || a[4] != 6 || a[5] != 4) {
        return false;
    }
    const uint16_t op = get16(a + 6);
    if (op != uint16_t(ArpOp::request) && op != uint16_t(ArpOp::reply)) return false;
    m->op = ArpOp(op);
    std::memcpy(m->sender_mac.data(), a + 8, 6);
    m->sender_ip = get32(a + 14);
    std::memcpy(m->target_mac.data(), a + 18, 6);
    m->target_ip = get32(a + 24);
    return true;
}

void encodeArp(const ArpMessage& m, const std::array<uint8_t, 6>& eth_dst, uint8_t* out) {
    std::memcpy(out, eth_dst.data(), 6);
    std::memcpy(out + 6, m.sender_mac.data(), 6);
    put16(out + 12, kEtherTypeArp);
    uint8_t* a = out + 14;
    put16(a, kHwEthernet);
    put16(a + 2, kProtoIpv4);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, uint16_t(m.op));
    std::memcpy(a + 8, m.sender_mac.data(), 6);
    put32(a + 14, m.sender_ip);
    std::memcpy(a + 18, m.target_mac.data(), 6);
    put32(a + 24, m.target_ip);
}

ArpMessage arpRequest(const std::array<uint8_t, 6>& mac, uint32_t ip, uint32_t target_ip) {
    ArpMessage m;
    m.op = ArpOp::request;
    m.sender_mac = mac;
    m.sender_ip = ip;
    m.target_ip = target_ip;  // target MAC stays zero: unknown
    return m;
}

ArpMessage arpReply(const ArpMessage& request, const std::array<uint8_t, 6>& mac, uint32_t ip) {
    ArpMessage m;
    m.op = ArpOp::reply;
    m.sender_mac = mac;
    m.sender_ip = ip;
    m.target_mac = request.sender_mac;
    m.target_ip = request.sender_ip;
    return m;
}

bool arpTeachesNeighbour(const ArpMessage& m, uint32_t neighbour_ip, uint32_t own_ip,
                         const std::array<uint8_t, 6>& own_mac, bool asked_recently) {
    return asked_recently && m.op == ArpOp::reply && neighbour_ip != 0 &&
           m.sender_ip == neighbour_ip && m.target_ip == own_ip && m.target_mac == own_mac &&
           !(m.sender_mac[0] & 1);
}

}  // namespace tandem
