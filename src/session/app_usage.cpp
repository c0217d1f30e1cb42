#include "session/app_usage.h"

#include <algorithm>
#include <cstring>

namespace tandem {

AppUsageTally::AppUsageTally(const SessionTable& table)
    : table_(table),
      slots_((table.appNames().capacity() + 1) * kProtocols),
      sessions_(new uint32_t[slots_]()),
      denied_(new uint32_t[slots_]()) {}

void AppUsageTally::start(NodeId self) {
    self_ = self;
    cursor_ = 0;
    std::memset(sessions_.get(), 0, slots_ * sizeof(uint32_t));
    std::memset(denied_.get(), 0, slots_ * sizeof(uint32_t));
}

bool AppUsageTally::step(uint32_t budget) {
    const uint32_t end = std::min<uint32_t>(table_.capacity(), cursor_ + budget);
    for (uint32_t i = cursor_; i < end; ++i) {
        if (!table_.inUse(i)) continue;
        const Session& s = table_.at(i);
        const SessionApp& app = table_.app(i);
        if (s.owner != self_) continue;
        if (app.status != AppStatus::identified && app.status != AppStatus::unidentified) continue;
        const uint32_t k = slot(app.nameId(), app.proto);
        ++sessions_[k];
        if (s.flags & kSessionAppDenied) ++denied_[k];
    }
    cursor_ = end;
    return end == table_.capacity();
}

size_t AppUsageTally::top(AppUsage* out, size_t cap) const {
    cap = std::min(cap, kMaxTop);
    if (cap == 0) return 0;
    // A min-heap of the best `cap` slots so far: its top is the one to beat.
    std::array<uint32_t, kMaxTop> heap;
    size_t n = 0;
    auto better = [&](uint32_t a, uint32_t b) {
        return sessions_[a] != sessions_[b] ? sessions_[a] > sessions_[b] : a < b;
    };
    for (uint32_t k = 0; k < slots_; ++k) {
        if (sessions_[k] == 0) continue;
        if (n < cap) {
            heap[n++] = k;
            std::push_heap(heap.begin(), heap.begin() + long(n), better);
        } else if (better(k, heap[0])) {
            std::pop_heap(heap.begin(), heap.begin() + long(n), better);
            heap[n - 1] = k;
            std::push_heap(heap.begin(), heap.begin() + long(n), better);
        }
    }
    std::sort_heap(heap.begin(), heap.begin() + long(n), better);
    for (size_t i = 0; i < n; ++i) {
        const uint32_t k = heap[i];
        AppUsage& u = out[i];
        u.proto = AppProtocol(k % kProtocols);
        u.name.assign(table_.appNames().get(k / kProtocols));
        u.sessions = sessions_[k];
        u.denied = denied_[k];
    }
    return n;
}

}  // namespace tandem
