// TCP connection tracking: the state machine and the sequence-window check
// applied to every TCP packet of a session by its owner.
//
// States (SessionState::tcp_*) follow a connection through handshake,
// established and teardown; each packet is classified into one event (SYN,
// SYN-ACK, FIN, ACK, RST or an invalid flag mix), and one function per state
// decides the next state. Packets that make no sense for the state are
// answered with a verdict other than `accept`; the caller drops and counts
// them. The optional window check follows Rooij's rules: data must fall
// inside what the receiver advertised, retransmissions no older than the
// receiver's largest window, and acknowledgements no further than what was
// sent.
//
// All functions are pure (no allocation, no I/O) and called by the thread
// that owns the session.
#pragma once

#include <algorithm>
#include <cstdint>

#include "packet/packet_info.h"
#include "session/session.h"
#include "session/session_timeouts.h"

namespace tandem {

#define TANDEM_TCP_VERDICTS(X)                                                   \
    X(accept, "packet fits the connection's state and windows")                  \
    X(invalid_flags, "impossible TCP flag combination (SYN+FIN, no flags, ...)") \
    X(invalid_state, "flags not allowed in the connection's state")              \
    X(out_of_window, "sequence or acknowledgement outside the tracked window")

TANDEM_COUNTER_ENUM(TcpVerdict, TANDEM_TCP_VERDICTS)

/// What kind of segment a packet is, judged by its flags alone.
enum class TcpEvent : uint8_t { syn, syn_ack, fin, ack, rst, invalid };
TcpEvent classifyTcp(uint8_t flags);

/// May a packet with no session start one? A SYN always may; with
/// cfg.pickup any ACK/FIN segment may too (mid-stream pickup).
bool tcpMayCreate(const TcpInfo& tcp, const TcpTrackingConfig& cfg);

/// Initialises a brand-new session from its first packet (sent in the
/// original direction). Sets state to tcp_syn_sent, or to tcp_established
/// with kSessionPickedUp for a picked-up mid-stream segment.
void tcpStart(Session& s, const TcpInfo& tcp);

namespace detail {
/// tcpTrack() without its shortcut for ACKs of established connections: the
/// state machine and window check for every case. Same contract; tests
/// compare the two.
TcpVerdict tcpTrackFull(Session& s, Direction dir, const TcpInfo& tcp,
                        const TcpTrackingConfig& cfg);

// Sequence-space comparisons (RFC 1982 serial arithmetic).
inline bool seqLt(uint32_t a, uint32_t b) {
    return int32_t(a - b) < 0;
}
inline bool seqLe(uint32_t a, uint32_t b) {
    return int32_t(a - b) <= 0;
}
inline bool seqGt(uint32_t a, uint32_t b) {
    return int32_t(a - b) > 0;
}

inline constexpr uint32_t kMinAckWindow = 66000;  ///< tolerance for old ACKs (one 64 KiB window)

// The common case of an established connection: a segment with ACK and
// without SYN, FIN or RST, both sides' windows known, no FIN seen yet. The
// same checks and updates as the full path's window step for that case,
// written straight into the session (nothing to roll back: it is checked
// before anything is written), and the state stays established. Returns
// false when the segment is not such a case; the full path then handles it.
// Inline: it is most of what a TCP packet of an established flow costs,
// and a call would add a sixth of that.
inline bool establishedAck(Session& s, int d, const TcpInfo& t, const TcpTrackingConfig& cfg,
                           TcpVerdict* verdict) {
    if (s.state != SessionState::tcp_established ||
        (t.flags & (kTcpSyn | kTcpFin | kTcpRst | kTcpAck)) != kTcpAck)
        return false;
    TcpWindow& snd = s.win[d];
    TcpWindow& rcv = s.win[1 - d];
    if (!(snd.flags & rcv.flags & kWinInitialised) || ((snd.flags | rcv.flags) & kWinFinSeen))
        return false;
    const uint32_t end = t.seq + t.payload_len;
    const uint32_t win = uint32_t(t.window) << snd.wscale;
    const uint32_t max_ack_win = std::max(uint32_t(snd.max_win), kMinAckWindow);
    const bool ok = seqLe(t.seq, snd.max_end) &&
                    !seqLt(end, snd.end - std::max(uint32_t(rcv.max_win), uint32_t(1))) &&
                    seqLe(t.ack, rcv.end) && !seqLt(t.ack, rcv.end - max_ack_win);
    if (!ok && cfg.window_check && !(s.flags & kSessionPickedUp)) [[unlikely]] {
        *verdict = TcpVerdict::out_of_window;
        return true;
    }
    const uint32_t limit = t.ack + std::max<uint32_t>(win, 1);
    if (seqGt(limit, rcv.max_end)) rcv.max_end = limit;
    if (seqGt(end, snd.end)) snd.end = end;
    snd.max_win = std::max({snd.max_win, win, uint32_t(1)});
    *verdict = TcpVerdict::accept;
    return true;
}
}  // namespace detail

/// Applies one packet travelling in `dir` to the session. On `accept` the
/// state and windows are updated; on any other verdict the session is left
/// unchanged.
inline TcpVerdict tcpTrack(Session& s, Direction dir, const TcpInfo& tcp,
                           const TcpTrackingConfig& cfg) {
    TcpVerdict verdict;
    if (detail::establishedAck(s, static_cast<int>(dir), tcp, cfg, &verdict)) [[likely]]
        return verdict;
    return detail::tcpTrackFull(s, dir, tcp, cfg);
}

/// True when a SYN from the original side may reopen a closed connection on
/// the same 5-tuple (state time_wait or close): the caller restarts it.
bool tcpMayReopen(const Session& s, Direction dir, const TcpInfo& tcp);

/// Idle timeout of a session in its current state, in milliseconds.
uint32_t sessionTimeoutMs(const Session& s, const SessionTimeouts& t);

}  // namespace tandem
