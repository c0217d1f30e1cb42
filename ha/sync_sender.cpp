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
    return true;
}

uint64_t SyncSender::lagUs(uint64_t now_us) const {
    if (window_.empty() || !window_.front().sends) return 0;
    return now_us - window_.front().first_sent_us;
}

}  // namespace tandem
