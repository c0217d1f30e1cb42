#include "pipeline/health_check.h"

#include <cstring>
#include <string_view>

#include "core/checksum.h"

namespace tandem {
namespace {

using wire::put16;
using wire::put32;

uint64_t mix(uint64_t x) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 29;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 32);
}

// An HTTP/1.x request line: METHOD SP TARGET SP HTTP/1.x, the method in
// capitals, the target a path.
bool looksLikeHttp(std::string_view req) {
    const size_t sp = req.find(' ');
    if (sp == 0 || sp == std::string_view::npos || sp > 16) return false;
    for (size_t i = 0; i < sp; ++i)
        if (req[i] < 'A' || req[i] > 'Z') return false;
    const std::string_view line = req.substr(0, req.find("\r\n"));
    return line.size() > sp + 1 && line[sp + 1] == '/' &&
           line.find(" HTTP/1.") != std::string_view::npos;
}

// The whole responses, fixed: nothing is built per request.
constexpr std::string_view kHttp200 =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    "Connection: close\r\n\r\nOK\n";
constexpr std::string_view kHttp503 =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n"
    "Connection: close\r\n\r\nunhealthy\n";
constexpr std::string_view kHttp404 =
    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
constexpr std::string_view kHttp405 =
    "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

}  // namespace

uint32_t healthCheckIsn(const PacketInfo& info, uint64_t secret) {
    uint64_t x = secret;
    for (int i = 12; i < 16; ++i) x = x << 8 | info.src.b[size_t(i)];
    x = mix(x ^ (uint64_t(info.sport) << 16 | info.dport));
    return uint32_t(x) | 1;  // never 0
}

size_t healthCheckReply(uint8_t* frame, size_t len, size_t cap, const PacketInfo& info,
                        bool healthy, const HealthCheckSettings& s, HealthCheckCounters& counters) {
    const TcpInfo& tcp = info.tcp;
    const uint8_t f = tcp.flags;
    const uint32_t isn = healthCheckIsn(info, s.secret);
    const bool http = s.protocol == HealthCheckProtocol::http;
    uint8_t flags = 0;
    uint32_t seq = 0, ack = 0;
    std::string_view body;  // http response
    if (f & kTcpRst) {
        counters.inc(HealthCheckCounter::health_check_ignored);
        return 0;
    }
    if ((f & kTcpSyn) && !(f & kTcpAck)) {
        ack = tcp.seq + 1;
        if (http || healthy) {
            flags = kTcpSyn | kTcpAck;
            seq = isn;
            if (!http) counters.inc(HealthCheckCounter::health_checks_healthy);
        } else {
            flags = kTcpRst | kTcpAck;
            counters.inc(HealthCheckCounter::health_checks_unhealthy);
        }
    } else if (!(f & kTcpAck) || (f & kTcpSyn)) {
        counters.inc(HealthCheckCounter::health_check_garbage);
        return 0;
    } else if (tcp.payload_len > 0) {
        // A request: only on a connection this responder accepted.
        const uint8_t* data = frame + info.l4_offset + ((frame[info.l4_offset + 12] >> 4) * 4);
        const std::string_view req(reinterpret_cast<const char*>(data), tcp.payload_len);
        if (!http || tcp.ack != isn + 1 || data + tcp.payload_len > frame + len ||
            !looksLikeHttp(req)) {
            counters.inc(HealthCheckCounter::health_check_garbage);
            return 0;
        }
        const bool get = req.starts_with("GET "), head = req.starts_with("HEAD ");
        int code;
        if (!get && !head) {
            code = 405;
        } else {
            std::string_view target = req.substr(get ? 4 : 5);
            target = target.substr(0, target.find_first_of(" ?\r\n"));
            code = target != s.path ? 404 : healthy ? 200 : 503;
        }
        counters.inc(code == 200   ? HealthCheckCounter::health_checks_healthy
                     : code == 503 ? HealthCheckCounter::health_checks_unhealthy
                                   : HealthCheckCounter::health_checks_other);
        body = code == 200 ? kHttp200 : code == 503 ? kHttp503 : code == 404 ? kHttp404 : kHttp405;
        if (head) body = body.substr(0, body.find("\r\n\r\n") + 4);
        flags = kTcpAck | kTcpPsh | kTcpFin;
        seq = isn + 1;
        ack = tcp.seq + tcp.payload_len + ((f & kTcpFin) ? 1 : 0);
    } else if (const uint32_t acked = tcp.ack - isn;
               acked < 1 || acked > (http ? 2 + uint32_t(kHttp503.size()) : 1)) {
        // A segment of a check this responder accepted acknowledges its SYN
        // (and in http at most its response and FIN); this one is no check's.
        counters.inc(HealthCheckCounter::health_check_garbage);
        return 0;
    } else if (f & kTcpFin) {
        // The checker closes: acknowledge, and in tcp close our side too.
        flags = http ? kTcpAck : (kTcpAck | kTcpFin);
        seq = tcp.ack;
        ack = tcp.seq + 1;
        counters.inc(HealthCheckCounter::health_check_closes);
    } else {
        counters.inc(
            HealthCheckCounter::health_check_ignored);  // the handshake's ACK, ACKs of our data
        return 0;
    }

    const size_t l3 = info.l3_offset;
    const size_t reply_len = l3 + 20 + 20 + body.size();
    if (reply_len > cap || l3 + 20 > len) {
        counters.inc(HealthCheckCounter::health_check_garbage);
        return 0;
    }
    // Ethernet: back to where it came from.
    uint8_t mac[6];
    std::memcpy(mac, frame, 6);
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, mac, 6);
    uint8_t src[4], dst[4];
    std::memcpy(src, frame + l3 + 16, 4);  // our address: the segment's destination
    std::memcpy(dst, frame + l3 + 12, 4);
    const uint16_t sport = info.dport, dport = info.sport;
    uint8_t* ip = frame + l3;
    uint8_t* t = ip + 20;
    if (!body.empty()) std::memcpy(t + 20, body.data(), body.size());
    ip[0] = 0x45;
    ip[1] = 0;
    put16(ip + 2, uint16_t(40 + body.size()));
    put16(ip + 4, 0);
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = kProtoTcp;
    put16(ip + 10, 0);
    std::memcpy(ip + 12, src, 4);
    std::memcpy(ip + 16, dst, 4);
    put16(ip + 10, checksumOf(onesComplementSum(ip, 20)));
    put16(t, sport);
    put16(t + 2, dport);
    put32(t + 4, seq);
    put32(t + 8, ack);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, 65535);
    put16(t + 16, 0);
    put16(t + 18, 0);
    uint8_t pseudo[12];
    std::memcpy(pseudo, src, 4);
    std::memcpy(pseudo + 4, dst, 4);
    pseudo[8] = 0;
    pseudo[9] = kProtoTcp;
    put16(pseudo + 10, uint16_t(20 + body.size()));
    put16(t + 16,
          checksumOf(onesComplementSum(t, 20 + body.size(), onesComplementSum(pseudo, 12))));
    return reply_len;
}

}  // namespace tandem
