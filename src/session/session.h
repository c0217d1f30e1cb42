// Session: one entry of the session table — a tracked connection.
//
// 128 bytes in two cache lines; what a packet of an established IPv4 flow
// touches sits in the first (see the struct). Every HA field a replicated
// entry needs is here: owner, backup owner, origin owner (for revert) and a
// version that orders updates between nodes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/flow_key.h"
#include "core/node_id.h"

namespace tandem {

/// Connection state. TCP uses the conntrack-like states; UDP, ICMP and other
/// protocols use `open` until a reply is seen, then `replied`.
enum class SessionState : uint8_t {
    none = 0,
    tcp_syn_sent,     ///< SYN seen from the initiator
    tcp_syn_recv,     ///< SYN-ACK seen from the responder
    tcp_established,  ///< handshake completed (or picked up mid-stream)
    tcp_fin_wait,     ///< first FIN seen
    tcp_close_wait,   ///< FIN acknowledged, other side still open
    tcp_last_ack,     ///< both FINs seen, waiting for the last ACK
    tcp_time_wait,    ///< both FINs acknowledged
    tcp_close,        ///< reset seen
    open,             ///< non-TCP, one direction seen
    replied,          ///< non-TCP, both directions seen
};
const char* sessionStateName(SessionState s);  ///< "established", "syn-sent", ...

/// Per-session flag bits.
enum SessionFlag : uint8_t {
    kSessionInitiatorIsLo = 1u << 0,  ///< the key's lo endpoint sent the first packet
    kSessionReplicated = 1u << 1,     ///< entry came from a peer (not created here)
    kSessionPickedUp = 1u << 2,       ///< TCP picked up mid-stream (window unknown)
    kSessionLog = 1u << 3,            ///< the matching rule asked for traffic logs
    kSessionSeenReply = 1u << 4,      ///< a packet in the reply direction was seen
    kSessionAppPending = 1u << 5,     ///< an app rule waits for the first payload (SessionApp)
    kSessionAppDenied = 1u << 6,      ///< an app rule denied it: its packets are dropped
    kSessionNat = 1u << 7,            ///< translated: SessionTable::nat() holds how
};

/// Direction of a packet relative to its session.
enum class Direction : uint8_t { original = 0, reply = 1 };

/// Per-direction TCP window tracking (sender's view), after Rooij's
/// "Real Stateful TCP Packet Filtering in IP Filter". 14 bytes without
/// padding, so that a session's two fit in its first line beside the key
/// (Session); the second's words are not 4-byte aligned, which x86 and ARMv8
/// load and store at full speed. Read a field as a value, never bind a
/// reference to it: std::max, std::min and the like take references, so
/// pass them a copy (uint32_t(w.max_win)); a reference to a misaligned word
/// is undefined behaviour (clang binds one, UBSan reports it).
struct [[gnu::packed]] TcpWindow {
    uint32_t end = 0;      ///< highest seq + len sent by this side
    uint32_t max_end = 0;  ///< highest ack + window the peer allowed this side
    uint32_t max_win = 0;  ///< largest (scaled) window this side advertised
    uint8_t wscale = 0;    ///< window scale this side announced
    uint8_t flags = 0;     ///< TcpWindowFlag bits
};
static_assert(sizeof(TcpWindow) == 14);
/// Largest window-scale shift a TCP endpoint may announce (RFC 7323, 2.3);
/// the tracker shifts window fields by TcpWindow::wscale.
inline constexpr uint8_t kMaxTcpWindowScale = 14;
enum TcpWindowFlag : uint8_t {
    kWinScaleSeen = 1u << 0,    ///< this side sent a window-scale option
    kWinFinSeen = 1u << 1,      ///< this side sent FIN
    kWinInitialised = 1u << 2,  ///< end/max_end hold real values
    kWinFinAcked = 1u << 3,     ///< the peer acknowledged this side's FIN
};

/// Address translation carried by a session (applied by its owner). Kept by
/// the session table beside the entry (SessionTable::nat), not in Session:
/// like the timer links, it is not read by the per-packet path of a flow
/// without translation.
struct NatBinding {
    uint32_t addr = 0;  ///< translated IPv4 address (host order), 0 = none
    uint16_t port = 0;  ///< translated port
    uint8_t kind = 0;   ///< 0 none, 1 source NAT, 2 destination NAT
    uint8_t reserved = 0;
};

/// Session::ingress_port when it is not known (a replica from a node that
/// does not send it).
inline constexpr uint8_t kUnknownPort = 0xff;

/// Session::rule of a session that a policy reload kept although the new
/// policy would deny it (`[policy] re-evaluate = false`): its rule belongs
/// to an earlier policy.
inline constexpr uint32_t kRuleOfEarlierPolicy = 0xfffffffe;
/// What `show session` and the traffic log call that rule.
inline constexpr const char* kEarlierPolicyRuleName = "(earlier policy)";

/// One tracked connection: 128 bytes, two cache lines, aligned to a line.
///
/// Line 1 holds everything a packet of an established IPv4 flow, TCP
/// included, reads or writes: the parts of the key that differ between IPv4
/// flows (context, the two addresses' last four bytes, ports, protocol,
/// family), state, owner, flags, expiry, both TCP windows and the low parts
/// of the counters. A lookup of an IPv4 flow therefore touches the bucket
/// line and this one line only. Line 2 holds the first twelve bytes of each
/// address (constant ::ffff: for IPv4, compared only for IPv6), the rule,
/// the creation time, the HA fields a packet does not read, and the high
/// parts of the counters, written once in 256 packets of a direction (or
/// 4 GiB). The key is kept in pieces, so it is read with key() and written
/// with setKey(); the counters are read with packets() and bytes() and
/// written with count() and setCounts(). Table bookkeeping (timer links,
/// flow hash) and the NAT binding live in the table's side arrays
/// (SessionTable).
struct alignas(64) Session {
    // ---- line 1 -------------------------------------------------------------
    // The key's pieces (read key(), write setKey(), compare with hasKey()).
    uint32_t key_context = 0;  ///< FlowKey::context
    uint32_t key_lo_tail = 0;  ///< FlowKey::lo bytes 12..15 (the IPv4 address)
    uint32_t key_hi_tail = 0;  ///< FlowKey::hi bytes 12..15
    uint16_t key_lo_port = 0;
    uint16_t key_hi_port = 0;
    uint8_t key_proto = 0;
    AddrFamily key_family = AddrFamily::none;
    SessionState state = SessionState::none;
    NodeId owner = kNoNode;          ///< node that processes this session
    uint32_t expires_ms = 0;         ///< table clock (ms, wraps) when idle timeout fires
    TcpWindow win[2];                ///< [Direction]
    uint32_t bytes_lo[2] = {0, 0};   ///< [Direction] bytes(), low 32 bits
    uint8_t packets_lo[2] = {0, 0};  ///< [Direction] packets(), low 8 bits
    uint8_t flags = 0;               ///< SessionFlag bits
    uint8_t ingress_port =
        kUnknownPort;  ///< data port index the first packet entered the cluster by (replicated)
    // ---- line 2 -------------------------------------------------------------
    uint8_t key_lo_head[12] = {};     ///< FlowKey::lo bytes 0..11
    uint8_t key_hi_head[12] = {};     ///< FlowKey::hi bytes 0..11
    uint32_t rule = 0;                ///< index of the policy rule that allowed it
    uint32_t created_s = 0;           ///< table clock seconds at creation
    uint32_t version = 0;             ///< bumped by the owner on every replicated change
    NodeId backup_owner = kNoNode;    ///< node holding the replica for takeover
    NodeId origin_owner = kNoNode;    ///< owner at creation (revert goes back here)
    uint32_t bytes_hi[2] = {0, 0};    ///< [Direction] bytes(), high 32 bits
    uint64_t packets_hi[2] = {0, 0};  ///< [Direction] packets() >> 8

    /// Packets and bytes seen in direction `d` (Direction as an index).
    uint64_t packets(size_t d) const { return packets_hi[d] << 8 | packets_lo[d]; }
    uint64_t bytes(size_t d) const { return uint64_t(bytes_hi[d]) << 32 | bytes_lo[d]; }
    /// Counts one packet of `len` bytes in direction `d`: line 1 alone,
    /// except when a low part wraps.
    void count(size_t d, uint32_t len) {
        if (++packets_lo[d] == 0) [[unlikely]]
            ++packets_hi[d];
        const uint32_t b = bytes_lo[d] + len;
        if (b < len) [[unlikely]]
            ++bytes_hi[d];
        bytes_lo[d] = b;
    }
    /// Sets direction `d`'s counts (a replica, a copy).
    void setCounts(size_t d, uint64_t packets, uint64_t bytes) {
        packets_lo[d] = uint8_t(packets);
        packets_hi[d] = packets >> 8;
        bytes_lo[d] = uint32_t(bytes);
        bytes_hi[d] = uint32_t(bytes >> 32);
    }

    /// The canonical key, assembled from its two lines.
    FlowKey key() const {
        FlowKey k;
        std::memcpy(k.lo.b.data(), key_lo_head, 12);
        std::memcpy(k.lo.b.data() + 12, &key_lo_tail, 4);
        std::memcpy(k.hi.b.data(), key_hi_head, 12);
        std::memcpy(k.hi.b.data() + 12, &key_hi_tail, 4);
        k.lo_port = key_lo_port;
        k.hi_port = key_hi_port;
        k.proto = key_proto;
        k.family = key_family;
        k.context = key_context;
        return k;
    }
    void setKey(const FlowKey& k) {
        std::memcpy(key_lo_head, k.lo.b.data(), 12);
        std::memcpy(&key_lo_tail, k.lo.b.data() + 12, 4);
        std::memcpy(key_hi_head, k.hi.b.data(), 12);
        std::memcpy(&key_hi_tail, k.hi.b.data() + 12, 4);
        key_lo_port = k.lo_port;
        key_hi_port = k.hi_port;
        key_proto = k.proto;
        key_family = k.family;
        key_context = k.context;
    }
    /// key() == k, reading line 1 only when k is an IPv4 key. A key of family
    /// v4 has v4-mapped addresses (the parser and IpAddr build them so, the
    /// replication decoder rejects others), so their first twelve bytes are
    /// equal whenever the families are.
    bool hasKey(const FlowKey& k) const {
        const auto* kb = reinterpret_cast<const uint8_t*>(&k);
        uint64_t a, b, x, y;
        uint16_t c, z;
        std::memcpy(&a, &key_context, 8);  // context, lo tail
        std::memcpy(&b, &key_hi_tail, 8);  // hi tail, lo port, hi port
        std::memcpy(&c, &key_proto, 2);    // proto, family
        uint32_t w;
        std::memcpy(&w, kb + offsetof(FlowKey, context), 4);
        x = w;
        std::memcpy(&w, kb + offsetof(FlowKey, lo) + 12, 4);
        x |= uint64_t(w) << 32;
        std::memcpy(&y, kb + offsetof(FlowKey, hi) + 12, 8);  // hi tail, lo port, hi port
        std::memcpy(&z, kb + offsetof(FlowKey, proto), 2);
        if (((a ^ x) | (b ^ y) | uint64_t(c ^ z)) != 0) return false;
        if (k.family == AddrFamily::v4) [[likely]]
            return true;
        return std::memcmp(key_lo_head, kb + offsetof(FlowKey, lo), 12) == 0 &&
               std::memcmp(key_hi_head, kb + offsetof(FlowKey, hi), 12) == 0;
    }

    /// Direction of a packet whose tuple's source canonicalised to `src_is_lo`.
    Direction directionOf(bool src_is_lo) const {
        bool initiator_lo = flags & kSessionInitiatorIsLo;
        return src_is_lo == initiator_lo ? Direction::original : Direction::reply;
    }

    /// Bytes from the start of the entry that a packet of an established flow
    /// touches (the table prefetches them on a lookup, SessionTable::candidate):
    /// line 1 for IPv4, TCP included; both lines for IPv6 (the address heads).
    static constexpr size_t kHotBytes = 64;
    static constexpr size_t kBothLines = 128;
    static constexpr size_t hotBytes(AddrFamily family) {
        return family == AddrFamily::v4 ? kHotBytes : kBothLines;
    }
};

static_assert(sizeof(Session) == 128 && alignof(Session) == 64,
              "Session layout changed: update docs/benchmarks.md and the table's memory figures");
static_assert(offsetof(Session, key_lo_tail) == offsetof(Session, key_context) + 4 &&
                  offsetof(Session, key_lo_port) == offsetof(Session, key_hi_tail) + 4 &&
                  offsetof(Session, key_hi_port) == offsetof(Session, key_lo_port) + 2 &&
                  offsetof(Session, key_family) == offsetof(Session, key_proto) + 1,
              "hasKey() reads the key's line-1 pieces as words in this order");
static_assert(offsetof(FlowKey, lo_port) == offsetof(FlowKey, hi) + 16 &&
                  offsetof(FlowKey, family) == offsetof(FlowKey, proto) + 1,
              "hasKey() reads FlowKey as words in this order");
static_assert(offsetof(Session, win) + sizeof(Session::win) <= Session::kHotBytes &&
                  offsetof(Session, bytes_lo) + sizeof(Session::bytes_lo) <= Session::kHotBytes &&
                  offsetof(Session, packets_lo) + sizeof(Session::packets_lo) <=
                      Session::kHotBytes &&
                  offsetof(Session, flags) < Session::kHotBytes &&
                  offsetof(Session, expires_ms) + 4 <= Session::kHotBytes,
              "what a packet of an established IPv4 flow touches must stay in line 1");
static_assert(offsetof(Session, key_lo_head) == 64, "line 2 starts with the address heads");

}  // namespace tandem
