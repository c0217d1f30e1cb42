#include "session/tcp_tracker.h"

#include <algorithm>

namespace tandem {
namespace {

using detail::kMinAckWindow;
using detail::seqGt;
using detail::seqLe;
using detail::seqLt;

inline int other(Direction d) {
    return d == Direction::original ? 1 : 0;
}

// Result of the flag/state stage: the next state, or a rejection.
struct Step {
    TcpVerdict verdict;
    SessionState next;
};
inline Step accept(SessionState next) {
    return {TcpVerdict::accept, next};
}
inline Step reject() {
    return {TcpVerdict::invalid_state, SessionState::none};
}

// Teardown states are a function of which sides sent a FIN and which FINs
// were acknowledged; deriving them keeps FIN and ACK ordering questions in
// one place.
SessionState teardownState(const TcpWindow w[2]) {
    const bool fin0 = w[0].flags & kWinFinSeen, fin1 = w[1].flags & kWinFinSeen;
    const bool acked0 = w[0].flags & kWinFinAcked, acked1 = w[1].flags & kWinFinAcked;
    if (!fin0 && !fin1) return SessionState::tcp_established;
    if (fin0 && fin1)
        return acked0 && acked1 ? SessionState::tcp_time_wait : SessionState::tcp_last_ack;
    return (fin0 ? acked0 : acked1) ? SessionState::tcp_close_wait : SessionState::tcp_fin_wait;
}

Step onSynSent(Direction dir, TcpEvent ev) {
    const bool orig = dir == Direction::original;
    switch (ev) {
        case TcpEvent::syn:
            return accept(SessionState::tcp_syn_sent);  // retransmit / simultaneous open
        case TcpEvent::syn_ack:
            return orig ? reject() : accept(SessionState::tcp_syn_recv);
        case TcpEvent::rst:
            return accept(SessionState::tcp_close);  // e.g. connection refused
        default:
            return reject();
    }
}

Step onSynRecv(Direction dir, TcpEvent ev) {
    const bool orig = dir == Direction::original;
    switch (ev) {
        case TcpEvent::syn:
            return orig ? accept(SessionState::tcp_syn_recv) : reject();
        case TcpEvent::syn_ack:
            return accept(SessionState::tcp_syn_recv);  // retransmit
        case TcpEvent::ack:
            return accept(orig ? SessionState::tcp_established : SessionState::tcp_syn_recv);
        case TcpEvent::fin:
            return orig ? accept(SessionState::tcp_fin_wait) : reject();
        case TcpEvent::rst:
            return accept(SessionState::tcp_close);
        default:
            return reject();
    }
}

// Established and teardown: the next state is derived after the windows are
// updated (see teardownState); here only the admissible events are chosen.
Step onOpen(SessionState cur, Direction dir, TcpEvent ev) {
    switch (ev) {
        case TcpEvent::ack:
        case TcpEvent::fin:
            return accept(cur);
        // A retransmitted SYN-ACK (the final ACK of the handshake was lost)
        // must pass, or the handshake never completes.
        case TcpEvent::syn_ack:
            return dir == Direction::reply ? accept(cur) : reject();
        case TcpEvent::rst:
            return accept(SessionState::tcp_close);
        default:
            return reject();
    }
}

Step onClose(TcpEvent ev) {
    // Stragglers after a reset are let through until the entry expires; a
    // new SYN on the tuple is handled by tcpMayReopen().
    return ev == TcpEvent::invalid ? reject() : accept(SessionState::tcp_close);
}

// First packet seen from one side: record its sequence space.
void initSide(TcpWindow& snd, TcpWindow& rcv, const TcpInfo& t, uint32_t end) {
    const bool syn = t.flags & kTcpSyn;
    snd.end = end;
    snd.max_end = end;
    snd.max_win = std::max<uint32_t>(t.window, 1);
    snd.flags |= kWinInitialised;
    if (syn && t.wscale != 0xff) {
        snd.wscale = std::min(t.wscale, kMaxTcpWindowScale);
        snd.flags |= kWinScaleSeen;
    }
    if (syn && (t.flags & kTcpAck)) {
        // Window scaling is in force only if both SYNs carried the option.
        if (!((snd.flags & kWinScaleSeen) && (rcv.flags & kWinScaleSeen)))
            snd.wscale = rcv.wscale = 0;
    }
    if (rcv.flags & kWinInitialised) {
        // This side's window bounds what the other side may send.
        const uint32_t base = (t.flags & kTcpAck) ? t.ack : rcv.end;
        const uint32_t limit = base + std::max<uint32_t>(t.window, 1);
        if (seqGt(limit, rcv.max_end)) rcv.max_end = limit;
        // And the other side's first window bounds what this side may send.
        snd.max_end = end + std::max(uint32_t(rcv.max_win), uint32_t(1));
    }
}

// Checks a packet against the tracked windows and records it. Returns false
// (and leaves `w` partly updated; callers pass a copy) when `enforce` is set
// and the packet lies outside them.
bool windowStep(TcpWindow w[2], int d, const TcpInfo& t, bool enforce) {
    TcpWindow& snd = w[d];
    TcpWindow& rcv = w[1 - d];
    const bool syn = t.flags & kTcpSyn, fin = t.flags & kTcpFin, ackf = t.flags & kTcpAck;
    const uint32_t end = t.seq + t.payload_len + (syn ? 1 : 0) + (fin ? 1 : 0);

    if (!(snd.flags & kWinInitialised)) {
        if (enforce && ackf && (rcv.flags & kWinInitialised) && t.ack != rcv.end) return false;
        initSide(snd, rcv, t, end);
        return true;
    }
    const uint32_t win = syn ? t.window : uint32_t(t.window) << snd.wscale;
    if (rcv.flags & kWinInitialised) {
        const uint32_t ack = ackf ? t.ack : rcv.end;
        const uint32_t max_ack_win = std::max(uint32_t(snd.max_win), kMinAckWindow);
        const bool ok =
            seqLe(t.seq, snd.max_end) &&  // not beyond what was allowed
            !seqLt(end, snd.end - std::max(uint32_t(rcv.max_win), uint32_t(1))) &&  // not too old
            seqLe(ack, rcv.end) &&               // acks only what was sent
            !seqLt(ack, rcv.end - max_ack_win);  // ack not too old
        if (!ok && enforce) return false;
        if (ackf) {
            const uint32_t limit = ack + std::max<uint32_t>(win, 1);
            if (seqGt(limit, rcv.max_end)) rcv.max_end = limit;
        }
    }
    if (seqGt(end, snd.end)) snd.end = end;
    if (seqGt(snd.end, snd.max_end) && !(rcv.flags & kWinInitialised)) snd.max_end = snd.end;
    snd.max_win = std::max({snd.max_win, win, uint32_t(1)});
    return true;
}

}  // namespace

TcpEvent classifyTcp(uint8_t flags) {
    const uint8_t f = flags & (kTcpSyn | kTcpAck | kTcpFin | kTcpRst);
    if (f & kTcpRst) return (f & kTcpSyn) ? TcpEvent::invalid : TcpEvent::rst;
    if (f & kTcpSyn) {
        if (f & kTcpFin) return TcpEvent::invalid;
        return (f & kTcpAck) ? TcpEvent::syn_ack : TcpEvent::syn;
    }
    if (f & kTcpFin) return TcpEvent::fin;
    if (f & kTcpAck) return TcpEvent::ack;
    return TcpEvent::invalid;  // no SYN, ACK, FIN or RST
}

bool tcpMayCreate(const TcpInfo& tcp, const TcpTrackingConfig& cfg) {
    const TcpEvent ev = classifyTcp(tcp.flags);
    if (ev == TcpEvent::syn) return true;
    return cfg.pickup && (ev == TcpEvent::ack || ev == TcpEvent::fin);
}

void tcpStart(Session& s, const TcpInfo& tcp) {
    s.win[0] = TcpWindow();
    s.win[1] = TcpWindow();
    if (classifyTcp(tcp.flags) == TcpEvent::syn) {
        s.state = SessionState::tcp_syn_sent;
        s.flags &= uint16_t(~kSessionPickedUp);
    } else {
        s.state = SessionState::tcp_established;
        s.flags |= kSessionPickedUp;
    }
    const uint32_t end = tcp.seq + tcp.payload_len + ((tcp.flags & kTcpSyn) ? 1 : 0) +
                         ((tcp.flags & kTcpFin) ? 1 : 0);
    initSide(s.win[0], s.win[1], tcp, end);
    if (tcp.flags & kTcpFin) s.win[0].flags |= kWinFinSeen;
}

TcpVerdict detail::tcpTrackFull(Session& s, Direction dir, const TcpInfo& tcp,
                                const TcpTrackingConfig& cfg) {
    const TcpEvent ev = classifyTcp(tcp.flags);
    if (ev == TcpEvent::invalid) return TcpVerdict::invalid_flags;

    Step step;
    switch (s.state) {
        case SessionState::tcp_syn_sent:
            step = onSynSent(dir, ev);
            break;
        case SessionState::tcp_syn_recv:
            step = onSynRecv(dir, ev);
            break;
        case SessionState::tcp_established:
        case SessionState::tcp_fin_wait:
        case SessionState::tcp_close_wait:
        case SessionState::tcp_last_ack:
        case SessionState::tcp_time_wait:
            step = onOpen(s.state, dir, ev);
            break;
        case SessionState::tcp_close:
            step = onClose(ev);
            break;
        default:
            step = reject();
            break;
    }
    if (step.verdict != TcpVerdict::accept) return step.verdict;

    // Windows are checked on a copy and committed only if the packet passes.
    TcpWindow w[2] = {s.win[0], s.win[1]};
    const bool enforce = cfg.window_check && !(s.flags & kSessionPickedUp);
    const int d = static_cast<int>(dir);
    if (!windowStep(w, d, tcp, enforce)) return TcpVerdict::out_of_window;

    if (ev == TcpEvent::fin) w[d].flags |= kWinFinSeen;
    const int o = other(dir);
    if ((tcp.flags & kTcpAck) && (w[o].flags & kWinFinSeen) && !seqLt(tcp.ack, w[o].end)) {
        w[o].flags |= kWinFinAcked;
    }
    s.win[0] = w[0];
    s.win[1] = w[1];

    SessionState next = step.next;
    if (next == SessionState::tcp_established || next == SessionState::tcp_fin_wait ||
        next == SessionState::tcp_close_wait || next == SessionState::tcp_last_ack ||
        next == SessionState::tcp_time_wait) {
        next = teardownState(s.win);
    }
    s.state = next;
    return TcpVerdict::accept;
}

bool tcpMayReopen(const Session& s, Direction dir, const TcpInfo& tcp) {
    return (s.state == SessionState::tcp_time_wait || s.state == SessionState::tcp_close) &&
           classifyTcp(tcp.flags) == TcpEvent::syn && dir == Direction::original;
}

uint32_t sessionTimeoutMs(const Session& s, const SessionTimeouts& t) {
    uint32_t sec;
    switch (s.state) {
        case SessionState::tcp_syn_sent:
            sec = t.tcp_syn_sent_s;
            break;
        case SessionState::tcp_syn_recv:
            sec = t.tcp_syn_recv_s;
            break;
        case SessionState::tcp_established:
            sec = t.tcp_established_s;
            break;
        case SessionState::tcp_fin_wait:
            sec = t.tcp_fin_wait_s;
            break;
        case SessionState::tcp_close_wait:
            sec = t.tcp_close_wait_s;
            break;
        case SessionState::tcp_last_ack:
            sec = t.tcp_last_ack_s;
            break;
        case SessionState::tcp_time_wait:
            sec = t.tcp_time_wait_s;
            break;
        case SessionState::tcp_close:
            sec = t.tcp_close_s;
            break;
        case SessionState::open:
        case SessionState::replied: {
            const bool replied = s.state == SessionState::replied;
            switch (s.key_proto) {
                case kProtoUdp:
                    sec = replied ? t.udp_replied_s : t.udp_unreplied_s;
                    break;
                case kProtoIcmp:
                case kProtoIcmpV6:
                    sec = t.icmp_s;
                    break;
                default:
                    sec = t.other_s;
                    break;
            }
            break;
        }
        default:
            sec = t.other_s;
            break;
    }
    return sec * 1000u;
}

const char* sessionStateName(SessionState s) {
    switch (s) {
        case SessionState::none:
            return "none";
        case SessionState::tcp_syn_sent:
            return "syn-sent";
        case SessionState::tcp_syn_recv:
            return "syn-recv";
        case SessionState::tcp_established:
            return "established";
        case SessionState::tcp_fin_wait:
            return "fin-wait";
        case SessionState::tcp_close_wait:
            return "close-wait";
        case SessionState::tcp_last_ack:
            return "last-ack";
        case SessionState::tcp_time_wait:
            return "time-wait";
        case SessionState::tcp_close:
            return "close";
        case SessionState::open:
            return "open";
        case SessionState::replied:
            return "replied";
    }
    return "?";
}

}  // namespace tandem
