#include "ha/sync_sender.h"

namespace tandem {

void SyncSender::reset(uint64_t stream_id) {
    stream_ = stream_id;
    next_seq_ = 1;
    acked_ = 0;
    window_.clear();
    window_bytes_ = 0;
    bulk_bytes_ = 0;
    next_unsent_ = 0;
}

void SyncSender::push(OutMessage m) {
    m.seq = next_seq_++;
    window_bytes_ += m.bytes.size();
    if (m.bulk) bulk_bytes_ += m.bytes.size();
    window_.push_back(std::move(m));
}

void SyncSender::goBack() {
    for (OutMessage& m : window_) m.on_wire = false;
    next_unsent_ = 0;
}

bool SyncSender::checkTimeout(uint64_t now_us, uint64_t timeout_us) {
    if (window_.empty() || !window_.front().on_wire) return false;
    if (now_us - window_.front().last_sent_us < timeout_us) return false;
    goBack();
    if (backoff_ < 10) ++backoff_;
    return true;
}

uint64_t SyncSender::lagUs(uint64_t now_us) const {
    if (window_.empty() || !window_.front().sends) return 0;
    return now_us - window_.front().first_sent_us;
}

void SyncSender::noteAckDelay(uint64_t delay_us) {
    backoff_ = 0;
    if (srtt_us_ == 0) {
        srtt_us_ = delay_us ? delay_us : 1;
        rttvar_us_ = delay_us / 2;
        return;
    }
    const uint64_t err = delay_us > srtt_us_ ? delay_us - srtt_us_ : srtt_us_ - delay_us;
    rttvar_us_ = (3 * rttvar_us_ + err) / 4;
    srtt_us_ = (7 * srtt_us_ + delay_us) / 8;
    if (srtt_us_ == 0) srtt_us_ = 1;
}

uint64_t SyncSender::ackTimeoutUs(uint64_t floor_us, uint64_t ceiling_us) const {
    uint64_t t = srtt_us_ + 4 * rttvar_us_;
    if (t < floor_us) t = floor_us;
    t <<= backoff_;
    return t > ceiling_us ? ceiling_us : t;
}

}  // namespace tandem
