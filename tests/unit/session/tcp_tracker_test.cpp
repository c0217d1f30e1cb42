#include "session/tcp_tracker.h"

#include <doctest/doctest.h>

using namespace tandem;

namespace {

constexpr Direction O = Direction::original;
constexpr Direction R = Direction::reply;

TcpInfo seg(uint8_t flags, uint32_t seq, uint32_t ack, uint16_t len = 0, uint16_t window = 65535,
            uint8_t wscale = 0xff) {
    TcpInfo t;
    t.flags = flags;
    t.seq = seq;
    t.ack = ack;
    t.payload_len = len;
    t.window = window;
    t.wscale = wscale;
    return t;
}

// A connection between a client (ISN 1000) and a server (ISN 5000), tracked
// through the handshake.
struct Conn {
    Session s;
    TcpTrackingConfig cfg;
    uint32_t c = 1001;  // client's next sequence number
    uint32_t v = 5001;  // server's next sequence number

    Conn(bool window_check = true, uint8_t wscale = 0xff) {
        cfg.window_check = window_check;
        tcpStart(s, seg(kTcpSyn, 1000, 0, 0, 65535, wscale));
        REQUIRE(s.state == SessionState::tcp_syn_sent);
        REQUIRE(track(R, seg(kTcpSyn | kTcpAck, 5000, 1001, 0, 65535, wscale)) ==
                TcpVerdict::accept);
        REQUIRE(s.state == SessionState::tcp_syn_recv);
        REQUIRE(track(O, seg(kTcpAck, 1001, 5001)) == TcpVerdict::accept);
        REQUIRE(s.state == SessionState::tcp_established);
    }
    TcpVerdict track(Direction d, const TcpInfo& t) { return tcpTrack(s, d, t, cfg); }
    TcpVerdict clientSends(uint16_t len, uint8_t extra = 0) {
        TcpVerdict r = track(O, seg(kTcpAck | kTcpPsh | extra, c, v, len));
        if (r == TcpVerdict::accept) c += len + ((extra & kTcpFin) ? 1 : 0);
        return r;
    }
    TcpVerdict serverSends(uint16_t len, uint8_t extra = 0) {
        TcpVerdict r = track(R, seg(kTcpAck | kTcpPsh | extra, v, c, len));
        if (r == TcpVerdict::accept) v += len + ((extra & kTcpFin) ? 1 : 0);
        return r;
    }
};

}  // namespace

TEST_CASE("a three-way handshake reaches established") {
    Conn conn;
    CHECK(conn.s.state == SessionState::tcp_established);
    CHECK((conn.s.flags & kSessionPickedUp) == 0);
}

TEST_CASE("data in both directions keeps the connection established") {
    Conn conn;
    for (int i = 0; i < 100; ++i) {
        CHECK(conn.clientSends(1400) == TcpVerdict::accept);
        CHECK(conn.serverSends(1400) == TcpVerdict::accept);
    }
    CHECK(conn.s.state == SessionState::tcp_established);
}

TEST_CASE("an orderly close walks fin-wait, close-wait, last-ack, time-wait") {
    Conn conn;
    CHECK(conn.clientSends(0, kTcpFin) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_fin_wait);
    CHECK(conn.serverSends(0) == TcpVerdict::accept);  // acks the FIN
    CHECK(conn.s.state == SessionState::tcp_close_wait);
    CHECK(conn.serverSends(10) == TcpVerdict::accept);  // half-closed: server still sends
    CHECK(conn.serverSends(0, kTcpFin) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_last_ack);
    CHECK(conn.clientSends(0) == TcpVerdict::accept);  // final ACK
    CHECK(conn.s.state == SessionState::tcp_time_wait);
}

TEST_CASE("simultaneous FINs still end in time-wait") {
    Conn conn;
    CHECK(conn.track(O, seg(kTcpFin | kTcpAck, conn.c, conn.v)) == TcpVerdict::accept);
    CHECK(conn.track(R, seg(kTcpFin | kTcpAck, conn.v, conn.c)) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_last_ack);
    CHECK(conn.track(O, seg(kTcpAck, conn.c + 1, conn.v + 1)) == TcpVerdict::accept);
    CHECK(conn.track(R, seg(kTcpAck, conn.v + 1, conn.c + 1)) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_time_wait);
}

TEST_CASE("a reset closes the connection") {
    Conn conn;
    CHECK(conn.track(R, seg(kTcpRst, conn.v, 0)) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_close);
}

TEST_CASE("a refused connection (RST-ACK to the SYN) closes it") {
    Session s;
    tcpStart(s, seg(kTcpSyn, 1000, 0));
    CHECK(tcpTrack(s, R, seg(kTcpRst | kTcpAck, 0, 1001), {}) == TcpVerdict::accept);
    CHECK(s.state == SessionState::tcp_close);
}

TEST_CASE("impossible flag combinations are invalid_flags") {
    Conn conn;
    CHECK(conn.track(O, seg(kTcpSyn | kTcpFin, conn.c, conn.v)) == TcpVerdict::invalid_flags);
    CHECK(conn.track(O, seg(kTcpSyn | kTcpRst, conn.c, conn.v)) == TcpVerdict::invalid_flags);
    CHECK(conn.track(O, seg(0, conn.c, conn.v)) == TcpVerdict::invalid_flags);
    CHECK(conn.track(O, seg(kTcpPsh | kTcpUrg, conn.c, conn.v)) == TcpVerdict::invalid_flags);
    CHECK(conn.s.state == SessionState::tcp_established);
}

TEST_CASE("flags out of place for the state are invalid_state and change nothing") {
    Session s;
    tcpStart(s, seg(kTcpSyn, 1000, 0));
    CHECK(tcpTrack(s, O, seg(kTcpAck, 1001, 1), {}) == TcpVerdict::invalid_state);
    CHECK(tcpTrack(s, O, seg(kTcpSyn | kTcpAck, 1000, 1), {}) == TcpVerdict::invalid_state);
    CHECK(tcpTrack(s, R, seg(kTcpAck, 1, 1001), {}) == TcpVerdict::invalid_state);
    CHECK(s.state == SessionState::tcp_syn_sent);
    Conn conn;
    CHECK(conn.track(O, seg(kTcpSyn, 1000, 0)) == TcpVerdict::invalid_state);
}

TEST_CASE("a retransmitted SYN-ACK after the handshake still passes") {
    Conn conn;
    CHECK(conn.track(R, seg(kTcpSyn | kTcpAck, 5000, 1001)) == TcpVerdict::accept);
    CHECK(conn.s.state == SessionState::tcp_established);
}

TEST_CASE("a retransmitted SYN in syn-sent passes") {
    Session s;
    tcpStart(s, seg(kTcpSyn, 1000, 0));
    CHECK(tcpTrack(s, O, seg(kTcpSyn, 1000, 0), {}) == TcpVerdict::accept);
    CHECK(s.state == SessionState::tcp_syn_sent);
}

TEST_CASE("a SYN-ACK that does not acknowledge the SYN is out of window") {
    Session s;
    tcpStart(s, seg(kTcpSyn, 1000, 0));
    CHECK(tcpTrack(s, R, seg(kTcpSyn | kTcpAck, 5000, 7777), {}) == TcpVerdict::out_of_window);
    CHECK(s.state == SessionState::tcp_syn_sent);
}

TEST_CASE("data beyond the receiver's window is out of window when checking") {
    Conn conn;
    // The server advertised 65535 bytes; a segment starting past that is not plausible.
    CHECK(conn.track(O, seg(kTcpAck, conn.c + 200000, conn.v, 100)) == TcpVerdict::out_of_window);
    CHECK(conn.track(O, seg(kTcpAck, conn.c - 200000, conn.v, 100)) == TcpVerdict::out_of_window);
    CHECK(conn.track(O, seg(kTcpAck, conn.c, conn.v + 100000)) ==
          TcpVerdict::out_of_window);  // acks unsent data
    Conn lax(false);
    CHECK(lax.track(O, seg(kTcpAck, lax.c + 200000, lax.v, 100)) == TcpVerdict::accept);
}

TEST_CASE("retransmissions and keep-alives inside the window pass") {
    Conn conn;
    REQUIRE(conn.clientSends(1000) == TcpVerdict::accept);
    CHECK(conn.track(O, seg(kTcpAck, conn.c - 1000, conn.v, 1000)) ==
          TcpVerdict::accept);                                                        // retransmit
    CHECK(conn.track(O, seg(kTcpAck, conn.c - 1, conn.v, 0)) == TcpVerdict::accept);  // keep-alive
}

TEST_CASE("window scaling lets a sender fill a window larger than 64 KiB") {
    Conn conn(true, 7);  // both sides announce scale 7: 65535 << 7 = ~8 MiB
    // The SYN-ACK's window is never scaled; the first scaled window arrives
    // with the server's next segment.
    REQUIRE(conn.serverSends(0) == TcpVerdict::accept);
    uint32_t start = conn.c;
    for (int i = 0; i < 1000; ++i) {  // 1.4 MB in flight, unacknowledged
        REQUIRE(conn.track(O, seg(kTcpAck, conn.c, conn.v, 1400)) == TcpVerdict::accept);
        conn.c += 1400;
    }
    CHECK(conn.c - start == 1400000);
    Conn unscaled(true);  // no scaling: the same burst overruns the 64 KiB window
    REQUIRE(unscaled.serverSends(0) == TcpVerdict::accept);
    TcpVerdict last = TcpVerdict::accept;
    for (int i = 0; i < 1000 && last == TcpVerdict::accept; ++i) {
        last = unscaled.track(O, seg(kTcpAck, unscaled.c, unscaled.v, 1400));
        unscaled.c += 1400;
    }
    CHECK(last == TcpVerdict::out_of_window);
}

TEST_CASE("scaling applies only when both SYNs carry the option") {
    Session s;
    tcpStart(s, seg(kTcpSyn, 1000, 0, 0, 65535, 7));
    REQUIRE(tcpTrack(s, R, seg(kTcpSyn | kTcpAck, 5000, 1001, 0, 65535), {}) == TcpVerdict::accept);
    CHECK(s.win[0].wscale == 0);
    CHECK(s.win[1].wscale == 0);
}

TEST_CASE("a mid-stream segment may start a session only with pickup enabled") {
    TcpTrackingConfig strict, pickup;
    pickup.pickup = true;
    CHECK(tcpMayCreate(seg(kTcpSyn, 1, 0), strict));
    CHECK_FALSE(tcpMayCreate(seg(kTcpAck, 1, 1), strict));
    CHECK_FALSE(tcpMayCreate(seg(kTcpSyn | kTcpAck, 1, 1), strict));
    CHECK_FALSE(tcpMayCreate(seg(kTcpRst, 1, 1), pickup));
    CHECK(tcpMayCreate(seg(kTcpAck, 1, 1), pickup));
    Session s;
    tcpStart(s, seg(kTcpAck, 777, 888, 100));
    CHECK(s.state == SessionState::tcp_established);
    CHECK((s.flags & kSessionPickedUp) != 0);
    // A picked-up session never had its windows learned: it is not window-checked.
    CHECK(tcpTrack(s, R, seg(kTcpAck, 123456, 877), {}) == TcpVerdict::accept);
    CHECK(tcpTrack(s, O, seg(kTcpAck, 999999, 123456, 10), {}) == TcpVerdict::accept);
}

TEST_CASE("a new SYN may reopen a connection in time-wait or close") {
    Conn conn;
    CHECK_FALSE(tcpMayReopen(conn.s, O, seg(kTcpSyn, 9999, 0)));
    REQUIRE(conn.clientSends(0, kTcpFin) == TcpVerdict::accept);
    REQUIRE(conn.serverSends(0, kTcpFin) == TcpVerdict::accept);
    CHECK_FALSE(tcpMayReopen(conn.s, O, seg(kTcpSyn, 9999, 0)));  // last-ack: not yet
    REQUIRE(conn.clientSends(0) == TcpVerdict::accept);
    REQUIRE(conn.s.state == SessionState::tcp_time_wait);
    CHECK(tcpMayReopen(conn.s, O, seg(kTcpSyn, 9999, 0)));
    CHECK_FALSE(tcpMayReopen(conn.s, R, seg(kTcpSyn, 9999, 0)));
    CHECK_FALSE(tcpMayReopen(conn.s, O, seg(kTcpSyn | kTcpAck, 9999, 0)));
    Conn reset;
    reset.track(R, seg(kTcpRst, reset.v, 0));
    REQUIRE(reset.s.state == SessionState::tcp_close);
    CHECK(tcpMayReopen(reset.s, O, seg(kTcpSyn, 9999, 0)));
    CHECK_FALSE(tcpMayReopen(reset.s, R, seg(kTcpSyn, 9999, 0)));
}

TEST_CASE("each state has its own timeout") {
    // A distinct value per key, so that reading any key for another state
    // gives a wrong answer.
    SessionTimeouts t;
    t.tcp_syn_sent_s = 101;
    t.tcp_syn_recv_s = 102;
    t.tcp_established_s = 103;
    t.tcp_fin_wait_s = 104;
    t.tcp_close_wait_s = 105;
    t.tcp_last_ack_s = 106;
    t.tcp_time_wait_s = 107;
    t.tcp_close_s = 108;
    t.udp_unreplied_s = 109;
    t.udp_replied_s = 110;
    t.icmp_s = 111;
    t.other_s = 112;
    struct Row {
        uint8_t proto;
        SessionState state;
        uint32_t seconds;
    };
    const Row rows[] = {
        {kProtoTcp, SessionState::tcp_syn_sent, 101},
        {kProtoTcp, SessionState::tcp_syn_recv, 102},
        {kProtoTcp, SessionState::tcp_established, 103},
        {kProtoTcp, SessionState::tcp_fin_wait, 104},
        {kProtoTcp, SessionState::tcp_close_wait, 105},
        {kProtoTcp, SessionState::tcp_last_ack, 106},
        {kProtoTcp, SessionState::tcp_time_wait, 107},
        {kProtoTcp, SessionState::tcp_close, 108},
        {kProtoUdp, SessionState::open, 109},
        {kProtoUdp, SessionState::replied, 110},
        {kProtoIcmp, SessionState::open, 111},
        {kProtoIcmp, SessionState::replied, 111},
        {kProtoIcmpV6, SessionState::open, 111},
        {kProtoIcmpV6, SessionState::replied, 111},
        {47, SessionState::open, 112},  // GRE
        {47, SessionState::replied, 112},
    };
    for (const Row& r : rows) {
        CAPTURE(int(r.proto));
        CAPTURE(sessionStateName(r.state));
        Session s;
        s.key_proto = r.proto;
        s.state = r.state;
        CHECK(sessionTimeoutMs(s, t) == r.seconds * 1000);
    }
}

TEST_CASE("the shortcut for established ACKs decides and updates exactly as the full tracker") {
    // Random segments, near and far from the tracked windows, against both
    // paths from the same session; the session then follows one of them.
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    auto next = [&rng](uint32_t n) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        return uint32_t(rng % n);
    };
    const uint8_t flag_choices[] = {kTcpAck,
                                    kTcpAck | kTcpPsh,
                                    kTcpAck | kTcpUrg | kTcpEce,
                                    kTcpAck | kTcpFin,
                                    kTcpAck | kTcpRst,
                                    kTcpSyn | kTcpAck,
                                    0};
    const int32_t offsets[] = {0, 1, 100, 1460, 65535, 70000, -1, -100, -65535, -70000, 1 << 30};
    int shortcut_accepted = 0, shortcut_rejected = 0, accepted = 0, rejected = 0;
    for (int conn_no = 0; conn_no < 40; ++conn_no) {
        Conn conn(next(4) != 0, next(2) ? uint8_t(next(15)) : uint8_t(0xff));
        if (next(5) == 0) conn.s.flags |= kSessionPickedUp;
        for (int i = 0; i < 300; ++i) {
            const Direction d = next(2) ? O : R;
            const uint32_t base_seq = d == O ? conn.c : conn.v, base_ack = d == O ? conn.v : conn.c;
            TcpInfo t = seg(next(8) ? flag_choices[next(3)] : flag_choices[next(7)],
                            base_seq + uint32_t(offsets[next(11)] * (next(3) == 0)),
                            base_ack + uint32_t(offsets[next(11)] * (next(3) == 0)),
                            uint16_t(next(3) ? next(1500) : 0), uint16_t(next(65536)));
            Session fast = conn.s, full = conn.s;
            const TcpVerdict vf = tcpTrack(fast, d, t, conn.cfg);
            const TcpVerdict vs = detail::tcpTrackFull(full, d, t, conn.cfg);
            REQUIRE(vf == vs);
            REQUIRE(fast.state == full.state);
            REQUIRE(fast.flags == full.flags);
            for (int w = 0; w < 2; ++w) {
                REQUIRE(uint32_t(fast.win[w].end) == uint32_t(full.win[w].end));
                REQUIRE(uint32_t(fast.win[w].max_end) == uint32_t(full.win[w].max_end));
                REQUIRE(uint32_t(fast.win[w].max_win) == uint32_t(full.win[w].max_win));
                REQUIRE(fast.win[w].wscale == full.win[w].wscale);
                REQUIRE(fast.win[w].flags == full.win[w].flags);
            }
            if (conn.s.state == SessionState::tcp_established && (t.flags & 0x17) == kTcpAck)
                (vf == TcpVerdict::accept ? shortcut_accepted : shortcut_rejected)++;
            (vf == TcpVerdict::accept ? accepted : rejected)++;
            conn.s = fast;
            if (vf == TcpVerdict::accept && (t.flags & kTcpRst) == 0) {
                const uint32_t end = t.seq + t.payload_len + ((t.flags & kTcpFin) ? 1 : 0);
                uint32_t& mine = d == O ? conn.c : conn.v;
                if (int32_t(end - mine) > 0) mine = end;
            }
            if (conn.s.state != SessionState::tcp_established && next(4) == 0) break;
        }
    }
    // The comparison covered both outcomes of the shortcut, not just one.
    CHECK(shortcut_accepted > 500);
    CHECK(shortcut_rejected > 100);
    CHECK(accepted > shortcut_accepted);
    CHECK(rejected > shortcut_rejected);
}
