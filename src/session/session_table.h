// SessionTable: fixed-capacity hash table of Sessions with idle-timeout aging.
//
// Layout. Entries live in one array of 128-byte, line-aligned Sessions
// allocated at construction (capacity set by config; nothing is allocated
// afterwards), with three side arrays indexed alike: the aging wheel's links,
// the flow hash and the NAT binding — what the per-packet path of a flow
// without translation never reads. An index of 64-byte buckets, 10 slots each
// (16-bit signature + 32-bit entry index), is probed linearly bucket by
// bucket; each bucket counts the entries that overflowed past it, so a lookup
// stops at the first bucket with no overflow and deletions need no
// tombstones. The bucket count keeps the load at or below 50 %.
// A lookup of an IPv4 flow, TCP or not, touches one bucket line and the
// entry's first line (Session::kHotBytes); IPv6 adds the entry's second line
// (see Session::hotBytes). The signatures of a bucket are compared with two
// SSE2 compares. The lookup can be run in steps (prefetchBucket, candidate,
// confirm) so that a caller's own work on other packets covers the cache
// misses; findBurst() runs the steps over a whole burst.
// Pipeline::processBurst interleaves them with parsing and deciding (see
// pipeline.cpp).
//
// Aging. A timing wheel (kWheelSlots slots of kSlotMs) links every entry by
// index (the links are in a side array). Refreshing a session only writes
// Session::expires_ms (no list operation on the per-packet path); when the
// wheel reaches an entry that is not yet due it is moved to its new slot
// then. expire() does a bounded amount of work per call, so aging never
// stalls packet processing.
//
// Concurrency. One SessionTable is owned by one thread (a dataplane worker
// owns the shard of flows hashed to it). Only that thread calls any method;
// there are no locks, and the only atomic is size() (single writer).
// Replicated entries from peers, operator requests (clear, show) and
// snapshots reach the owning worker as messages on its lock-free ring and
// are applied between bursts (see dataplane/).
//
// Time is the caller's millisecond clock (uint32, wrapping every ~49 days);
// comparisons are wrap-safe for timeouts shorter than ~24 days.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "core/flow_key.h"
#include "session/session.h"
#include "session/session_app.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tandem {

class SessionTable {
  public:
    static constexpr uint32_t kNoEntry = UINT32_MAX;
    static constexpr uint32_t kSlotMs = 64;
    static constexpr uint32_t kWheelSlots = 4096;  ///< horizon ~262 s; longer timers re-slot

    /// Allocates entries and buckets for `capacity` sessions (>= 1).
    /// `now_ms` starts the aging clock. Throws std::bad_alloc if memory is short.
    SessionTable(uint32_t capacity, uint32_t now_ms);
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;

    uint32_t capacity() const { return capacity_; }
    /// Live sessions. The one value any thread may read (relaxed, may lag).
    uint32_t size() const { return size_.load(std::memory_order_relaxed); }
    /// Live sessions whose owner is `owner` (0..kMaxNodes; kNoNode counts
    /// entries without one). Any thread may read it (relaxed, may lag). Kept
    /// exact by insert(), erase() and setOwner(), so a scrape reads 17 words
    /// instead of walking the table.
    uint32_t ownerCount(NodeId owner) const {
        return owner <= kMaxNodes ? by_owner_[owner].load(std::memory_order_relaxed) : 0;
    }
    /// Changes the owner of the live entry at `index`. Every change of
    /// Session::owner after insertion goes through here (it keeps
    /// ownerCount() exact).
    void setOwner(uint32_t index, NodeId owner) {
        Session& s = entries_[index];
        countOwner(s.owner, -1);
        s.owner = owner;
        countOwner(owner, +1);
    }
    /// Bytes allocated for entries, side arrays, buckets, free list and wheel.
    size_t memoryBytes() const;

    /// Index of the session with `key` (whose flowHash is `hash`), or kNoEntry.
    uint32_t find(const FlowKey& key, uint64_t hash) const;

    /// Looks up `n` keys at once, prefetching buckets then entries so the
    /// cache misses of the burst overlap. out[i] = index or kNoEntry. Each
    /// found entry's first Session::kHotBytes are in cache (or on their way)
    /// on return. Buckets the caller prefetched are not fetched twice.
    void findBurst(const FlowKey* const* keys, const uint64_t* hashes, uint32_t n,
                   uint32_t* out) const;

    /// A lookup in three steps, for callers that do other work between them
    /// so that the cache misses overlap it (findBurst() runs the same steps
    /// for a whole burst in one call):
    ///   1. prefetchBucket(hash): the home bucket starts loading;
    ///   2. c = candidate(hash, bytes): reads the bucket; the first `bytes` of
    ///      the entry whose signature matches start loading
    ///      (Session::hotBytes of the packet), or kNoEntry;
    ///   3. index = confirm(key, hash, c): compares the key, or probes in full.
    /// Each step is correct on its own and the table may change between them:
    /// confirm() checks that the candidate is live and holds `key`.
    uint32_t candidate(uint64_t hash, size_t bytes = Session::kHotBytes) const {
        const Bucket& bk = buckets_[homeBucket(hash)];
        for (uint32_t hits = sigMatches(bk, signatureOf(hash)); hits != 0; hits &= hits - 1) {
            const uint32_t idx = bk.idx[__builtin_ctz(hits)];
            if (idx != kNoEntry) {
                prefetchEntry(&entries_[idx], bytes);
                return idx;
            }
        }
        if (bk.overflow != 0) __builtin_prefetch(&buckets_[nextBucket(homeBucket(hash))], 0, 3);
        return kNoEntry;
    }
    uint32_t confirm(const FlowKey& key, uint64_t hash, uint32_t candidate) const {
        if (candidate != kNoEntry && entries_[candidate].state != SessionState::none &&
            entries_[candidate].hasKey(key)) [[likely]]
            return candidate;
        return findSlow(key, hash);
    }

    /// Starts loading the first `bytes` of entry `index` (one the caller found
    /// by other means, e.g. a translated reply's index), as candidate() does
    /// for the entry a bucket names. A hint only: `index` < capacity().
    void prefetchIndex(uint32_t index, size_t bytes = Session::kHotBytes) const {
        prefetchEntry(&entries_[index], bytes);
    }

    /// Starts loading the home bucket of `hash` into cache, for callers that
    /// know their keys ahead: a burst being parsed (prefetch each bucket as
    /// soon as its hash is known, then findBurst()), a burst of new flows, a
    /// bulk sync. A hint only; never faults.
    void prefetchBucket(uint64_t hash) const {
        __builtin_prefetch(&buckets_[homeBucket(hash)], 0, 3);
    }

    enum class InsertResult : uint8_t { inserted, exists, full };

    /// Inserts a new session for `key` expiring at `expires_ms`. On `inserted`
    /// *index is the new entry (all fields default except key and expires_ms,
    /// no NAT binding); on `exists` *index is the existing one; on `full` the
    /// table is unchanged.
    InsertResult insert(const FlowKey& key, uint64_t hash, uint32_t expires_ms, uint32_t* index);

    /// Same, but the new entry is a copy of `init` (key and expires_ms taken
    /// from it) with no NAT binding; the table fills in only its own
    /// bookkeeping (hash, timer links). For creating a session fully formed,
    /// or installing a replica (then set nat(index) if it has one).
    InsertResult insert(const Session& init, uint64_t hash, uint32_t* index);

    /// Removes the entry at `index` (must be in use).
    void erase(uint32_t index);

    /// Moves the live entry's expiry earlier, to `expires_ms` (its wheel slot
    /// with it: the wheel would otherwise reach it only at its old time). A
    /// later expiry needs no call: write Session::expires_ms.
    void expireEarlier(uint32_t index, uint32_t expires_ms);

    Session& at(uint32_t index) { return entries_[index]; }
    const Session& at(uint32_t index) const { return entries_[index]; }
    /// flowHash() of the key of the live entry at `index`.
    uint64_t hashOf(uint32_t index) const { return hashes_[index]; }
    /// The NAT binding of the live entry at `index` (kind 0 when none).
    NatBinding& nat(uint32_t index) { return nat_[index]; }
    const NatBinding& nat(uint32_t index) const { return nat_[index]; }
    /// Starts loading entry `index`'s NAT binding (a hint; never faults).
    void prefetchNat(uint32_t index) const { __builtin_prefetch(&nat_[index], 0, 3); }
    /// Called by erase() for an entry with a NAT binding, before the entry
    /// goes (its owner gives the translated port back): fn(ctx, index,
    /// binding). One hook per table; null: none.
    using NatReleaseFn = void (*)(void* ctx, uint32_t index, const NatBinding& binding);
    void setNatRelease(NatReleaseFn fn, void* ctx) {
        nat_release_ = fn;
        nat_release_ctx_ = ctx;
    }
    /// The application identity of the live entry at `index` (status none
    /// when no rule asked for it). Its name and stream buffer live in the
    /// stores below and are freed with the entry.
    SessionApp& app(uint32_t index) { return app_[index]; }
    const SessionApp& app(uint32_t index) const { return app_[index]; }
    /// The application name of the live entry at `index` ("" when none).
    std::string_view appName(uint32_t index) const { return app_names_.get(app_[index].nameId()); }
    /// Gives the entry at `index` the application `proto` named `name` in
    /// `status` (not pending), replacing what it had and freeing its stream
    /// buffer; false when the name store is full (the entry then has proto
    /// and no name).
    bool setApp(uint32_t index, AppProtocol proto, AppStatus status, std::string_view name);
    /// The identity of the entry at `index` as it travels (AppIdentity).
    AppIdentity appIdentity(uint32_t index) const;
    /// Installs `id` on the entry at `index` (a replica, a handover):
    /// pending with its base sequence number, or the protocol and name;
    /// false when the name store is full.
    bool setAppIdentity(uint32_t index, const AppIdentity& id);
    AppStreamBuffers& appStreams() { return app_streams_; }
    const AppNameStore& appNames() const { return app_names_; }
    /// True when `index` holds a live session.
    bool inUse(uint32_t index) const {
        return index < capacity_ && entries_[index].state != SessionState::none;
    }

    /// Expires sessions whose expires_ms is at or before `now_ms`, calling
    /// on_expire(index, Session&) for each before it is erased. If on_expire
    /// returns bool, `false` keeps the entry (the callback must then have moved
    /// expires_ms into the future, e.g. a replica whose owner is still alive).
    /// Processes at most `budget` wheel entries (expired, kept or re-slotted);
    /// returns the number erased. Call it regularly (every loop iteration).
    template <typename Fn>
    uint32_t expire(uint32_t now_ms, uint32_t budget, Fn&& on_expire);

    /// Visits live entries with index in [from, capacity) until `max_visits`
    /// entries were examined; returns the index to continue from (capacity()
    /// when done). For snapshots taken in bounded steps.
    template <typename Fn>
    uint32_t scan(uint32_t from, uint32_t max_visits, Fn&& fn) const;

  private:
    struct alignas(64) Bucket {
        static constexpr int kSlots = 10;
        uint16_t sig[kSlots];  ///< signatureOf(hash) of each slot's entry, 0 when empty
        uint32_t idx[kSlots];  ///< entry index, kNoEntry when empty
        uint32_t overflow;     ///< entries whose probe passed this bucket
    };
    static_assert(sizeof(Bucket) == 64 && offsetof(Bucket, idx) == 20);

    // 16 bits of the hash that neither the bucket (the low half's top bits,
    // reduceHash) nor a software-steered worker (the high half's top bits,
    // WorkerMap) is
    // chosen by, so they still tell apart the entries of one bucket. A
    // signature matches a wrong entry about once in 6,500 lookups; confirm()
    // compares the key anyway.
    static uint16_t signatureOf(uint64_t hash) { return uint16_t(hash >> 32); }

    uint32_t homeBucket(uint64_t hash) const { return reduceHash(hash, nbuckets_); }
    uint32_t nextBucket(uint32_t b) const { return b + 1 == nbuckets_ ? 0 : b + 1; }
    uint32_t findSlow(const FlowKey& key, uint64_t hash) const;
    // insert() in two halves around writing the entry: place() finds the
    // slot, takes a free index and records hash and (empty) NAT binding;
    // finishInsert() links the written entry into the wheel and counts it.
    InsertResult place(const FlowKey& key, uint64_t hash, uint32_t* index);
    void finishInsert(uint32_t index);

    // Bit s set when slot s of the bucket holds signature `sig` (the slot
    // itself is not checked: an empty slot has signature 0, so callers confirm
    // idx != kNoEntry).
    static uint32_t sigMatches(const Bucket& bk, uint16_t sig) {
#if defined(__SSE2__)
        // sig[0..7] as one aligned load, sig[8..9] as a 4-byte load; the two
        // 16-bit compares are packed to one byte per slot for one mask.
        const __m128i want = _mm_set1_epi16(int16_t(sig));
        const __m128i a = _mm_load_si128(reinterpret_cast<const __m128i*>(&bk.sig[0]));
        int32_t tail;
        std::memcpy(&tail, &bk.sig[8], 4);
        const __m128i b = _mm_cvtsi32_si128(tail);
        const __m128i eq = _mm_packs_epi16(_mm_cmpeq_epi16(a, want), _mm_cmpeq_epi16(b, want));
        return uint32_t(_mm_movemask_epi8(eq)) & ((1u << Bucket::kSlots) - 1);
#else
        uint32_t m = 0;
        for (int s = 0; s < Bucket::kSlots; ++s) m |= uint32_t(bk.sig[s] == sig) << s;
        return m;
#endif
    }

    // Starts loading the lines of an entry's first `bytes` (64 or 128; an
    // entry is two aligned lines). Without this the second line (the IPv6
    // address heads) is a serial miss after the key compare.
    static void prefetchEntry(const Session* e, size_t bytes) {
        const char* p = reinterpret_cast<const char*>(e);
        __builtin_prefetch(p, 1, 3);
        if (bytes > 64) __builtin_prefetch(p + 64, 1, 3);
    }

    void wheelLink(uint32_t index);
    void wheelUnlink(uint32_t index);
    uint32_t slotFor(uint32_t expires_ms) const;
    void countOwner(NodeId owner, int delta) {
        auto& c = by_owner_[owner <= kMaxNodes ? owner : kNoNode];
        c.store(c.load(std::memory_order_relaxed) + uint32_t(delta), std::memory_order_relaxed);
    }

    /// Aging-wheel links of one entry (kNoEntry ends a list).
    struct TimerLink {
        uint32_t next;
        uint32_t prev;
        uint32_t slot;  ///< wheel slot, or kNotLinked
    };

    uint32_t capacity_;
    uint32_t nbuckets_;
    std::atomic<uint32_t> size_{0};  ///< written by the owner only (relaxed store)
    std::atomic<uint32_t> by_owner_[kMaxNodes + 1] = {};  ///< live entries per Session::owner
    /// Frees memory from std::aligned_alloc (the arrays below hold trivially
    /// destructible types, so nothing else is owed them).
    struct FreeDeleter {
        void operator()(void* p) const { std::free(p); }
    };
    template <typename T>
    using AlignedArray = std::unique_ptr<T[], FreeDeleter>;

    AlignedArray<Session> entries_;
    AlignedArray<TimerLink> links_;
    AlignedArray<uint64_t> hashes_;  ///< flowHash of each live entry's key (erase finds its bucket)
    AlignedArray<NatBinding> nat_;
    NatReleaseFn nat_release_ = nullptr;
    void* nat_release_ctx_ = nullptr;
    AlignedArray<SessionApp> app_;
    AppNameStore app_names_;
    AppStreamBuffers app_streams_;
    AlignedArray<Bucket> buckets_;
    std::unique_ptr<uint32_t[]> free_;  ///< stack of free entry indices
    uint32_t free_top_;
    std::unique_ptr<uint32_t[]> wheel_;  ///< head entry index per slot
    uint32_t cursor_ms_;                 ///< start time of the next slot to process
};

// ---- template implementations ----------------------------------------------

template <typename Fn>
uint32_t SessionTable::expire(uint32_t now_ms, uint32_t budget, Fn&& on_expire) {
    uint32_t expired = 0;
    // A slot is processed only once it lies wholly in the past, so every entry
    // still in it is due unless its expiry was pushed out since it was slotted.
    while (budget > 0 && int32_t(now_ms - (cursor_ms_ + kSlotMs)) >= 0) {
        uint32_t slot = (cursor_ms_ / kSlotMs) % kWheelSlots;
        while (budget > 0 && wheel_[slot] != kNoEntry) {
            uint32_t i = wheel_[slot];
            --budget;
            wheelUnlink(i);
            Session& s = entries_[i];
            bool due = int32_t(s.expires_ms - now_ms) <= 0;
            if (due) {
                if constexpr (std::is_same_v<std::invoke_result_t<Fn, uint32_t, Session&>, bool>) {
                    due = on_expire(i, s);
                } else {
                    on_expire(i, s);
                }
            }
            if (due) {
                erase(i);
                ++expired;
            } else {
                wheelLink(i);
            }
        }
        if (wheel_[slot] != kNoEntry) break;  // budget ran out inside the slot
        cursor_ms_ += kSlotMs;
    }
    return expired;
}

template <typename Fn>
uint32_t SessionTable::scan(uint32_t from, uint32_t max_visits, Fn&& fn) const {
    uint32_t i = from;
    for (; i < capacity_ && max_visits > 0; ++i, --max_visits) {
        if (entries_[i].state != SessionState::none) fn(i, entries_[i]);
    }
    return i;
}

}  // namespace tandem
