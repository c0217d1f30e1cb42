// SessionTimeouts: idle time after which a session in a given state expires.
// Defaults follow Linux conntrack's spirit, shortened where a firewall pair
// benefits (established TCP one hour rather than five days).
#pragma once

#include <cstdint>

namespace tandem {

struct SessionTimeouts {
    uint32_t tcp_syn_sent_s = 30;
    uint32_t tcp_syn_recv_s = 30;
    uint32_t tcp_established_s = 3600;
    uint32_t tcp_fin_wait_s = 120;
    uint32_t tcp_close_wait_s = 60;
    uint32_t tcp_last_ack_s = 30;
    uint32_t tcp_time_wait_s = 120;
    uint32_t tcp_close_s = 10;
    uint32_t udp_unreplied_s = 30;  ///< one direction seen so far
    uint32_t udp_replied_s = 120;   ///< both directions seen
    uint32_t icmp_s = 30;
    uint32_t other_s = 600;  ///< any other IP protocol
    /// Under pressure (the table at least `pressure_percent` full), an
    /// embryonic TCP session (SYN seen, handshake not complete: syn-sent or
    /// syn-recv) gets at most this idle time, when it is created and each
    /// time a packet refreshes it. A SYN flood from spoofed sources then
    /// holds the table's room for seconds, not for the full syn-sent time;
    /// established sessions are never shortened nor evicted.
    uint32_t tcp_embryonic_pressure_s = 5;
    uint32_t pressure_percent = 50;  ///< 1..100; 100: only once the table is full
};

/// TCP tracking switches.
struct TcpTrackingConfig {
    /// Accept a mid-stream TCP packet with no session as a new established
    /// session (Linux "be liberal" pickup). Off by default: a mid-flow packet
    /// without state is dropped and counted. HA takeover does not need it
    /// because sessions are replicated.
    bool pickup = false;
    /// Check that sequence/ack numbers fall inside the tracked windows.
    bool window_check = true;
};

}  // namespace tandem
