// Session: one entry of the session table — a tracked connection.
//
// 160 bytes, laid out so that what a lookup and an established-flow packet
// touch (key, state, owner, expiry, counters of the first line) sits in the
// first 64-byte line. Every HA field a replicated entry needs is here from the
// start: owner, backup owner, origin owner (for revert) and a version that
// orders updates between nodes.
#pragma once

#include <cstddef>
#include <cstdint>

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
enum SessionFlag : uint16_t {
    kSessionInitiatorIsLo = 1u << 0,  ///< the key's lo endpoint sent the first packet
    kSessionReplicated = 1u << 1,     ///< entry came from a peer (not created here)
    kSessionPickedUp = 1u << 2,       ///< TCP picked up mid-stream (window unknown)
    kSessionLog = 1u << 3,            ///< the matching rule asked for traffic logs
    kSessionSeenReply = 1u << 4,      ///< a packet in the reply direction was seen
};

/// Direction of a packet relative to its session.
enum class Direction : uint8_t { original = 0, reply = 1 };

/// Per-direction TCP window tracking (sender's view), after Rooij's
/// "Real Stateful TCP Packet Filtering in IP Filter".
struct TcpWindow {
    uint32_t end = 0;      ///< highest seq + len sent by this side
    uint32_t max_end = 0;  ///< highest ack + window the peer allowed this side
    uint32_t max_win = 0;  ///< largest (scaled) window this side advertised
    uint8_t wscale = 0;    ///< window scale this side announced
    uint8_t flags = 0;     ///< TcpWindowFlag bits
    uint16_t reserved = 0;
};
enum TcpWindowFlag : uint8_t {
    kWinScaleSeen = 1u << 0,  ///< this side sent a window-scale option
    kWinFinSeen = 1u << 1,    ///< this side sent FIN
    kWinInitialised = 1u << 2,///< end/max_end hold real values
    kWinFinAcked = 1u << 3,   ///< the peer acknowledged this side's FIN
};

/// Source-NAT translation carried by a session (applied by its owner).
struct NatBinding {
    uint32_t addr = 0;   ///< translated IPv4 address (host order), 0 = none
    uint16_t port = 0;   ///< translated port
    uint8_t kind = 0;    ///< 0 none, 1 source NAT, 2 destination NAT
    uint8_t reserved = 0;
};

/// Session::ingress_port of a session this node did not create (replicas
/// and sessions received from peers: the port is not replicated).
inline constexpr uint8_t kUnknownPort = 0xff;

struct Session {
    /// The leading bytes a packet of an established flow reads and writes:
    /// key, state, owner, flags, expiry, version and the packet and byte
    /// counters; the table prefetches these lines on a lookup
    /// (SessionTable::candidate). TCP also needs the windows behind them, up to
    /// kTcpHotBytes. Fields after that are for creation, HA and aging only.
    static constexpr size_t kHotBytes = 96;
    static constexpr size_t kTcpHotBytes = 128;

    // ---- line 1: lookup and per-packet state --------------------------------
    FlowKey key;                   ///< 44 B, canonical
    uint32_t hash_hi = 0;          ///< upper 32 bits of flowHash(key)
    uint32_t expires_ms = 0;       ///< table clock (ms, wraps) when idle timeout fires
    SessionState state = SessionState::none;
    NodeId owner = kNoNode;        ///< node that processes this session
    NodeId backup_owner = kNoNode; ///< node holding the replica for takeover
    NodeId origin_owner = kNoNode; ///< owner at creation (revert goes back here)
    uint16_t flags = 0;            ///< SessionFlag bits
    uint8_t ingress_port = kUnknownPort; ///< data port of the first packet (this node only)
    uint8_t reserved = 0;
    uint32_t version = 0;          ///< bumped by the owner on every replicated change
    // ---- line 2+: counters, TCP windows, bookkeeping ------------------------
    uint64_t packets[2] = {0, 0};  ///< [Direction]
    uint64_t bytes[2] = {0, 0};    ///< [Direction]
    TcpWindow win[2];              ///< [Direction]
    uint32_t rule = 0;             ///< index of the policy rule that allowed it
    NatBinding nat;
    uint32_t created_s = 0;        ///< table clock seconds at creation
    uint32_t timer_next = 0;       ///< aging wheel links (indices), owned by the table
    uint32_t timer_prev = 0;
    uint32_t timer_slot = 0;
    uint32_t hash_lo = 0;          ///< lower 32 bits of flowHash(key) (home bucket)

    /// Direction of a packet whose tuple's source canonicalised to `src_is_lo`.
    Direction directionOf(bool src_is_lo) const {
        bool initiator_lo = flags & kSessionInitiatorIsLo;
        return src_is_lo == initiator_lo ? Direction::original : Direction::reply;
    }
};
static_assert(sizeof(Session) == 160, "Session layout changed: update docs/benchmarks.md");
static_assert(offsetof(Session, bytes) + sizeof(Session::bytes) <= Session::kHotBytes &&
                  offsetof(Session, win) + sizeof(Session::win) <= Session::kTcpHotBytes,
              "per-packet fields must stay within Session::kHotBytes / kTcpHotBytes");

}  // namespace tandem
