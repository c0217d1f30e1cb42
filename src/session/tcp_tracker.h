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

/// Applies one packet travelling in `dir` to the session. On `accept` the
/// state and windows are updated; on any other verdict the session is left
/// unchanged.
TcpVerdict tcpTrack(Session& s, Direction dir, const TcpInfo& tcp, const TcpTrackingConfig& cfg);

namespace detail {
/// tcpTrack() without its shortcut for ACKs of established connections: the
/// state machine and window check for every case. Same contract; tests
/// compare the two.
TcpVerdict tcpTrackFull(Session& s, Direction dir, const TcpInfo& tcp,
                        const TcpTrackingConfig& cfg);
}  // namespace detail

/// True when a SYN from the original side may reopen a closed connection on
/// the same 5-tuple (state time_wait or close): the caller restarts it.
bool tcpMayReopen(const Session& s, Direction dir, const TcpInfo& tcp);

/// Idle timeout of a session in its current state, in milliseconds.
uint32_t sessionTimeoutMs(const Session& s, const SessionTimeouts& t);

}  // namespace tandem
