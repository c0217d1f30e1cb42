// SyncSender: the sending half of one peer's reliable sync stream.
//
// Every sequenced message (session batch, bulk begin/end) gets the next
// sequence number of the stream and stays in the window until the peer
// acknowledges it cumulatively. At most `inflight` messages are on the wire
// unacknowledged; the rest wait in the window unsent, so a bulk sync paces
// itself on the peer's acks. Repair is go-back-N: a NACK or an ack timeout
// sends everything from the missing message again. A NACK for a message the
// window no longer holds is unrepairable: the caller restarts the stream and
// bulk-syncs the peer.
//
// The ack timeout adapts to how long acks take (as TCP's retransmission
// timer, RFC 6298: smoothed delay + 4 × its variation, from messages sent
// once only, doubled after each timeout until an ack is measured again): a
// loaded peer that needs 150 ms to work through a full window is slow, not
// lossy, and sending it the window again only loads it more.
//
// Thread-safety: agent thread only.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace tandem {

/// A deferred first packet waiting for this message's acknowledgement.
struct DeferRef {
    uint16_t worker = 0;
    uint32_t token = 0;
};

struct OutMessage {
    uint64_t seq = 0;
    std::string bytes;  ///< the whole encoded message
    uint32_t records = 0;
    bool bulk = false;
    std::vector<DeferRef> tokens;
    uint64_t first_sent_us = 0;
    uint64_t last_sent_us = 0;
    uint32_t sends = 0;    ///< times handed to the transport
    bool on_wire = false;  ///< sent since the last go-back
};

class SyncSender {
  public:
    enum class NackOutcome { resend, stale, unrepairable };

    /// Starts a new stream `stream_id` at seq 1; the window is emptied.
    void reset(uint64_t stream_id);

    uint64_t stream() const { return stream_; }
    uint64_t nextSeq() const { return next_seq_; }
    uint64_t ackedSeq() const { return acked_; }
    size_t windowMessages() const { return window_.size(); }
    size_t windowBytes() const { return window_bytes_; }
    /// Bytes of the window that belong to bulk syncs (the rest is live traffic).
    size_t bulkBytes() const { return bulk_bytes_; }

    /// Appends a message encoded with seq == nextSeq().
    void push(OutMessage m);

    /// Sends waiting messages in order while fewer than `inflight` are on
    /// the wire; `send` returns false when the transport refused (stop).
    /// Returns how many were sent (resends counted in *resent).
    template <typename Send>
    size_t pump(uint64_t now_us, size_t inflight, Send&& send, uint64_t* resent);

    /// Cumulative ack: pops every message <= seq, calling on_acked(msg) for
    /// each. Returns how many were popped (0 for an old or future ack).
    template <typename OnAcked>
    size_t ack(uint64_t seq, OnAcked&& on_acked);

    /// The peer misses `from_seq` onwards.
    template <typename OnAcked>
    NackOutcome nack(uint64_t from_seq, OnAcked&& on_acked);

    /// Go-back-N when the oldest message on the wire waited longer than
    /// `timeout_us`: everything unacked is sent again. Returns true if so.
    bool checkTimeout(uint64_t now_us, uint64_t timeout_us);

    /// Age of the oldest unacknowledged message that was sent (0 if none).
    uint64_t lagUs(uint64_t now_us) const;

    /// One measured ack delay (send to ack of a message sent only once).
    void noteAckDelay(uint64_t delay_us);
    /// The ack timeout to use: smoothed delay + 4 × variation (floor_us
    /// before any delay was measured), at least floor_us, doubled for each
    /// timeout since the last measured ack, at most ceiling_us.
    uint64_t ackTimeoutUs(uint64_t floor_us, uint64_t ceiling_us) const;

    /// Messages of the window, oldest first (for tests and status).
    const std::deque<OutMessage>& window() const { return window_; }

  private:
    void goBack();

    uint64_t stream_ = 0;
    uint64_t next_seq_ = 1;
    uint64_t acked_ = 0;
    std::deque<OutMessage> window_;  // seq acked_+1 .. next_seq_-1
    size_t window_bytes_ = 0;
    size_t bulk_bytes_ = 0;
    size_t next_unsent_ = 0;  // index into window_ of the first message not on the wire
    uint64_t srtt_us_ = 0;    // smoothed ack delay; 0 = none measured yet
    uint64_t rttvar_us_ = 0;  // its mean deviation
    unsigned backoff_ = 0;    // timeouts since the last measured ack
};

// ---- templates ------------------------------------------------------------------

template <typename Send>
size_t SyncSender::pump(uint64_t now_us, size_t inflight, Send&& send, uint64_t* resent) {
    size_t sent = 0;
    while (next_unsent_ < window_.size() && next_unsent_ < inflight) {
        OutMessage& m = window_[next_unsent_];
        if (!send(m)) break;
        if (m.sends++)
            ++*resent;
        else
            m.first_sent_us = now_us;
        m.last_sent_us = now_us;
        m.on_wire = true;
        ++next_unsent_;
        ++sent;
    }
    return sent;
}

template <typename OnAcked>
size_t SyncSender::ack(uint64_t seq, OnAcked&& on_acked) {
    if (seq <= acked_ || seq >= next_seq_) return 0;
    size_t n = 0;
    while (!window_.empty() && window_.front().seq <= seq) {
        on_acked(window_.front());
        window_bytes_ -= window_.front().bytes.size();
        if (window_.front().bulk) bulk_bytes_ -= window_.front().bytes.size();
        window_.pop_front();
        next_unsent_ = next_unsent_ ? next_unsent_ - 1 : 0;
        ++n;
    }
    acked_ = seq;
    return n;
}

template <typename OnAcked>
SyncSender::NackOutcome SyncSender::nack(uint64_t from_seq, OnAcked&& on_acked) {
    if (from_seq >= next_seq_) return NackOutcome::stale;
    if (from_seq <= acked_) return NackOutcome::unrepairable;
    ack(from_seq - 1, on_acked);
    goBack();
    return NackOutcome::resend;
}

}  // namespace tandem
