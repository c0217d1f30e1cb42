#include "session/session_app.h"

#include <algorithm>
#include <bit>

namespace tandem {

const char* appStatusName(AppStatus s) {
    switch (s) {
        case AppStatus::none:
            return "";
        case AppStatus::pending:
            return "pending";
        case AppStatus::identified:
            return "identified";
        case AppStatus::unidentified:
            return "unidentified";
    }
    return "";
}

AppNameStore::AppNameStore(uint32_t slots)
    : capacity_(std::max<uint32_t>(slots, 1)),
      bucket_mask_(std::bit_ceil(capacity_) - 1),
      slots_(new Slot[capacity_]),
      buckets_(new uint32_t[bucket_mask_ + 1]()),
      free_(new uint32_t[capacity_]),
      free_top_(capacity_) {
    for (uint32_t i = 0; i < capacity_; ++i) free_[i] = capacity_ - i;  // ids 1.. first
}

uint32_t AppNameStore::bucketOf(std::string_view name) const {
    uint32_t h = 2166136261u;  // FNV-1a: names are short, and this runs once per session
    for (char c : name) h = (h ^ uint8_t(c)) * 16777619u;
    return h & bucket_mask_;
}

uint32_t AppNameStore::add(std::string_view name) {
    if (name.empty() || name.size() > kMaxAppName) return 0;
    uint32_t& head = buckets_[bucketOf(name)];
    for (uint32_t id = head; id != 0; id = slots_[id - 1].next) {
        Slot& s = slots_[id - 1];
        if (s.name.view() == name) {
            ++s.refs;
            return id;
        }
    }
    if (free_top_ == 0) return 0;
    const uint32_t id = free_[--free_top_];
    Slot& s = slots_[id - 1];
    s.name.assign(name);
    s.refs = 1;
    s.next = head;
    head = id;
    return id;
}

void AppNameStore::release(uint32_t id) {
    if (id == 0 || id > capacity_) return;
    Slot& s = slots_[id - 1];
    if (s.refs == 0 || --s.refs > 0) return;
    uint32_t* link = &buckets_[bucketOf(s.name.view())];
    while (*link != 0 && *link != id) link = &slots_[*link - 1].next;
    if (*link == id) *link = s.next;
    s.name.len = 0;
    s.next = 0;
    free_[free_top_++] = id;
}

AppStreamBuffers::AppStreamBuffers(uint32_t buffers)
    : capacity_(buffers),
      slots_(new Slot[buffers]),
      free_(new uint32_t[buffers]),
      free_top_(buffers) {
    for (uint32_t i = 0; i < buffers; ++i) free_[i] = buffers - i;
}

uint32_t AppStreamBuffers::acquire() {
    if (free_top_ == 0) return 0;
    const uint32_t id = free_[--free_top_];
    std::memset(slot(id).have, 0, sizeof(Slot::have));
    return id;
}

void AppStreamBuffers::release(uint32_t id) {
    if (id == 0 || id > capacity_) return;
    free_[free_top_++] = id;
}

void AppStreamBuffers::write(uint32_t id, uint32_t offset, const uint8_t* data, uint32_t len) {
    if (offset >= kMaxAppPrefix) return;
    len = std::min<uint32_t>(len, kMaxAppPrefix - offset);
    Slot& s = slot(id);
    for (uint32_t i = 0; i < len; ++i) {
        const uint32_t at = offset + i;
        uint64_t& word = s.have[at / 64];
        const uint64_t bit = uint64_t{1} << (at % 64);
        if (word & bit) continue;  // the first copy of a byte stays
        s.bytes[at] = data[i];
        word |= bit;
    }
}

uint32_t AppStreamBuffers::contiguous(uint32_t id) const {
    const Slot& s = slot(id);
    uint32_t n = 0;
    for (uint64_t word : s.have) {
        if (word == ~uint64_t{0}) {
            n += 64;
            continue;
        }
        return n + uint32_t(std::countr_one(word));
    }
    return n;
}

}  // namespace tandem
