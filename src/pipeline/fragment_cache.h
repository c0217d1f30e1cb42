// FragmentCache: remembers, per datagram, whether its first fragment was
// allowed, so that the datagram's later fragments (which carry no ports)
// follow the same verdict.
//
// Direct-mapped, fixed size, keyed by fragmentHash(src, dst, id); a collision
// overwrites the older datagram (its remaining fragments are then dropped and
// counted). Fragments that arrive before their first fragment are dropped:
// reassembly is not attempted (see docs/architecture.md). One per worker.
#pragma once

#include <cstdint>
#include <memory>

#include "core/flow_key.h"

namespace tandem {

class FragmentCache {
public:
    static constexpr uint32_t kEntries = 4096;
    static constexpr uint32_t kLifetimeMs = 5000;

    FragmentCache() : entries_(new Entry[kEntries]) {}

    /// Records that the datagram (src, dst, id) was allowed at `now_ms`.
    void allow(const IpAddr& src, const IpAddr& dst, uint32_t id, uint32_t now_ms) {
        Entry& e = entries_[reduceHash(fragmentHash(src, dst, id), kEntries)];
        e.src = src, e.dst = dst, e.id = id, e.expires_ms = now_ms + kLifetimeMs, e.used = true;
    }

    /// True when the datagram's first fragment was allowed recently.
    bool allowed(const IpAddr& src, const IpAddr& dst, uint32_t id, uint32_t now_ms) const {
        const Entry& e = entries_[reduceHash(fragmentHash(src, dst, id), kEntries)];
        return e.used && e.id == id && e.src == src && e.dst == dst &&
               int32_t(e.expires_ms - now_ms) > 0;
    }

private:
    struct Entry {
        IpAddr src, dst;
        uint32_t id = 0;
        uint32_t expires_ms = 0;
        bool used = false;
    };
    std::unique_ptr<Entry[]> entries_;
};

}  // namespace tandem
