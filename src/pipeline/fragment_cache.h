// FragmentCache: remembers one small value per recent IP datagram, keyed by
// (source, destination, protocol, identification), so that the datagram's
// later fragments (which carry no ports) can follow what its first fragment
// found. The pipeline keeps one for the verdict each first fragment got
// (FragmentVerdict below); a worker handing frames to other workers keeps
// one for the worker that took each first fragment.
//
// Direct-mapped, fixed size, keyed by fragmentHash(); a collision overwrites
// the older datagram (its remaining fragments then find nothing and are held
// or dropped, and counted). Single-threaded.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "core/flow_key.h"
#include "core/node_id.h"
#include "packet/packet_info.h"

namespace tandem {

/// What names one IP datagram for reassembly.
struct DatagramId {
    IpAddr src, dst;
    uint32_t id = 0;
    uint8_t proto = 0;
    uint64_t hash() const { return fragmentHash(src, dst, proto, id); }
};

inline DatagramId datagramOf(const PacketInfo& info) {
    return DatagramId{info.src, info.dst, info.frag_id, info.proto};
}

/// The verdict a datagram's first fragment got, which its later fragments
/// follow, packed in a FragmentCache value.
struct FragmentVerdict {
    enum Kind : uint8_t {
        forward = 1,   ///< out of this node's port
        to_peer = 2,   ///< to `peer` (its director or owner)
        returned = 3,  ///< handed back to `peer`, the node that sent it (director_unknown)
        drop = 4,
    };
    /// The address the first fragment's translation changed (forward,
    /// to_peer), which the later ones change alike: none, its source, or
    /// its destination, to `nat_addr` (IPv4, host order).
    enum NatChange : uint8_t { nat_none = 0, nat_source = 1, nat_destination = 2 };
    Kind kind = drop;
    NodeId peer = kNoNode;  ///< to_peer, returned: where the first fragment went
    NatChange nat = nat_none;
    uint32_t nat_addr = 0;
    uint64_t pack() const {
        return uint64_t(nat_addr) << 32 | uint64_t(nat) << 16 | uint64_t(kind) << 8 | peer;
    }
    static FragmentVerdict unpack(uint64_t v) {
        return {Kind((v >> 8) & 0xff), NodeId(v & 0xff), NatChange((v >> 16) & 0xff),
                uint32_t(v >> 32)};
    }
};

class FragmentCache {
  public:
    static constexpr uint32_t kEntries = 4096;
    static constexpr uint32_t kLifetimeMs = 5000;

    FragmentCache() : entries_(new Entry[kEntries]) {}

    /// Remembers `value` for datagram `d` from `now_ms` on.
    void remember(const DatagramId& d, uint64_t value, uint32_t now_ms) {
        Entry& e = entries_[reduceHash(d.hash(), kEntries)];
        e.d = d, e.value = value;
        e.expires_ms = now_ms + kLifetimeMs, e.used = true;
        e.seen = e.end = 0;
    }
    /// Counts `len` bytes at `offset` of datagram `d` as passed (`last`:
    /// the fragment without more-fragments, which gives the datagram's
    /// length). Once every byte passed the datagram is forgotten: a later
    /// datagram with the same name (senders reuse identifications, e.g.
    /// Linux per connected socket) is not taken for it.
    void account(const DatagramId& d, uint32_t offset, uint32_t len, bool last) {
        Entry& e = entries_[reduceHash(d.hash(), kEntries)];
        if (!e.used || !same(e.d, d)) return;
        e.seen += len;
        if (last) e.end = offset + len;
        if (e.end != 0 && e.seen >= e.end) e.used = false;
    }

    /// The value remembered for datagram `d` recently, if any.
    std::optional<uint64_t> recall(const DatagramId& d, uint32_t now_ms) const {
        const Entry& e = entries_[reduceHash(d.hash(), kEntries)];
        if (e.used && same(e.d, d) && int32_t(e.expires_ms - now_ms) > 0) {
            return e.value;
        }
        return std::nullopt;
    }

  private:
    struct Entry {
        DatagramId d;
        uint64_t value = 0;
        uint32_t expires_ms = 0;
        uint32_t seen = 0;  ///< bytes passed (account)
        uint32_t end = 0;   ///< the datagram's length once its last fragment passed; 0: not yet
        bool used = false;
    };
    static bool same(const DatagramId& a, const DatagramId& b) {
        return a.id == b.id && a.proto == b.proto && a.src == b.src && a.dst == b.dst;
    }
    std::unique_ptr<Entry[]> entries_;
};

}  // namespace tandem
