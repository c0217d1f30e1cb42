// FragmentCache: remembers one small value per recent IP datagram, keyed by
// (source, destination, identification), so that the datagram's later
// fragments (which carry no ports) can follow what its first fragment found.
// The pipeline keeps one to remember which datagrams' first fragments were
// allowed; a worker handing frames to other workers keeps one to remember
// which worker took each first fragment.
//
// Direct-mapped, fixed size, keyed by fragmentHash(src, dst, id); a collision
// overwrites the older datagram (its remaining fragments are then dropped and
// counted). Fragments that arrive before their first fragment are dropped:
// reassembly is not attempted (see docs/architecture.md). Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/flow_key.h"

namespace tandem {

class FragmentCache {
public:
    static constexpr uint32_t kEntries = 4096;
    static constexpr uint32_t kLifetimeMs = 5000;

    FragmentCache() : entries_(new Entry[kEntries]) {}

    /// Remembers `value` for the datagram (src, dst, id) from `now_ms` on.
    void remember(const IpAddr& src, const IpAddr& dst, uint32_t id, uint32_t value,
                  uint32_t now_ms) {
        Entry& e = entries_[reduceHash(fragmentHash(src, dst, id), kEntries)];
        e.src = src, e.dst = dst, e.id = id, e.value = value;
        e.expires_ms = now_ms + kLifetimeMs, e.used = true;
    }

    /// The value remembered for the datagram recently, if any.
    std::optional<uint32_t> recall(const IpAddr& src, const IpAddr& dst, uint32_t id,
                                   uint32_t now_ms) const {
        const Entry& e = entries_[reduceHash(fragmentHash(src, dst, id), kEntries)];
        if (e.used && e.id == id && e.src == src && e.dst == dst &&
            int32_t(e.expires_ms - now_ms) > 0) {
            return e.value;
        }
        return std::nullopt;
    }

    /// Records that the datagram's first fragment was allowed at `now_ms`.
    void allow(const IpAddr& src, const IpAddr& dst, uint32_t id, uint32_t now_ms) {
        remember(src, dst, id, 1, now_ms);
    }

    /// True when the datagram's first fragment was allowed recently.
    bool allowed(const IpAddr& src, const IpAddr& dst, uint32_t id, uint32_t now_ms) const {
        return recall(src, dst, id, now_ms).has_value();
    }

private:
    struct Entry {
        IpAddr src, dst;
        uint32_t id = 0;
        uint32_t value = 0;
        uint32_t expires_ms = 0;
        bool used = false;
    };
    std::unique_ptr<Entry[]> entries_;
};

}  // namespace tandem
