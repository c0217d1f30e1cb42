#include "session/session_table.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

#include <sys/mman.h>

namespace tandem {
namespace {

constexpr uint32_t kNotLinked = UINT32_MAX;

// Load factor bound: buckets * 10 slots >= capacity / 0.5. Lower load means
// fewer entries displaced from their home bucket, each of which costs a
// lookup a second bucket and a serial miss on its entry: ~0.4 % of entries
// with 10 slots at 50 % load (7 slots: 1.2 % at 50 %, 2.8 % at 60 %).
uint32_t bucketCountFor(uint32_t capacity) {
    uint64_t slots = uint64_t(capacity) * 2;
    uint64_t buckets = (slots + 9) / 10;
    return uint32_t(buckets < 2 ? 2 : buckets);
}

// Large arrays are 2 MiB aligned and offered to transparent huge pages: a
// random lookup over millions of entries is otherwise dominated by TLB misses.
template <typename T>
T* allocateAligned(size_t count) {
    static_assert(std::is_trivially_destructible_v<T>, "freed without running destructors");
    constexpr size_t kHuge = 2u << 20;
    size_t bytes = count * sizeof(T);
    const size_t align = bytes >= kHuge ? kHuge : 64;
    bytes = (bytes + align - 1) / align * align;
    void* p = std::aligned_alloc(align, bytes);
    if (!p) throw std::bad_alloc();
    if (align == kHuge) ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory; failure is harmless
    return static_cast<T*>(p);
}

// Application names: distinct names live at once, up to 1 per 64 sessions
// (most sessions name the same few services). Stream buffers: for the
// ClientHellos in flight over several segments at one time, a few hundred
// at most per worker.
uint32_t appNameSlotsFor(uint32_t capacity) {
    return std::max<uint32_t>(256, capacity / 64);
}
uint32_t appStreamBuffersFor(uint32_t capacity) {
    return 16 + capacity / 4096;
}

}  // namespace

SessionTable::SessionTable(uint32_t capacity, uint32_t now_ms)
    : capacity_(capacity < 1 ? 1 : capacity),
      nbuckets_(bucketCountFor(capacity_)),
      entries_(allocateAligned<Session>(capacity_)),
      links_(allocateAligned<TimerLink>(capacity_)),
      hashes_(allocateAligned<uint64_t>(capacity_)),
      nat_(allocateAligned<NatBinding>(capacity_)),
      app_(allocateAligned<SessionApp>(capacity_)),
      app_names_(appNameSlotsFor(capacity_)),
      app_streams_(appStreamBuffersFor(capacity_)),
      buckets_(allocateAligned<Bucket>(nbuckets_)),
      free_(new uint32_t[capacity_]),
      free_top_(capacity_),
      wheel_(new uint32_t[kWheelSlots]),
      cursor_ms_(now_ms / kSlotMs * kSlotMs) {
    for (uint32_t i = 0; i < capacity_; ++i) {
        new (&entries_[i]) Session();
        links_[i] = TimerLink{kNoEntry, kNoEntry, kNotLinked};
        hashes_[i] = 0;
        nat_[i] = NatBinding{};
        app_[i] = SessionApp{};
    }
    for (uint32_t b = 0; b < nbuckets_; ++b) {
        Bucket& bk = buckets_[b];
        std::memset(&bk, 0, sizeof bk);
        for (uint32_t& x : bk.idx) x = kNoEntry;
    }
    // Hand out low indices first: a lightly used table stays compact in cache.
    for (uint32_t i = 0; i < capacity_; ++i) free_[i] = capacity_ - 1 - i;
    for (uint32_t s = 0; s < kWheelSlots; ++s) wheel_[s] = kNoEntry;
}

size_t SessionTable::memoryBytes() const {
    return size_t(capacity_) * (sizeof(Session) + sizeof(TimerLink) + sizeof(uint64_t) +
                                sizeof(NatBinding) + sizeof(SessionApp)) +
           size_t(nbuckets_) * sizeof(Bucket) + size_t(capacity_) * sizeof(uint32_t) +
           kWheelSlots * sizeof(uint32_t) +
           size_t(app_names_.capacity()) * AppNameStore::kBytesPerSlot +
           size_t(app_streams_.capacity()) * (kMaxAppPrefix + kMaxAppPrefix / 8 + sizeof(uint32_t));
}

uint32_t SessionTable::find(const FlowKey& key, uint64_t hash) const {
    return findSlow(key, hash);
}

uint32_t SessionTable::findSlow(const FlowKey& key, uint64_t hash) const {
    const uint16_t sig = signatureOf(hash);
    uint32_t b = homeBucket(hash);
    for (uint32_t probes = 0; probes < nbuckets_; ++probes) {
        const Bucket& bk = buckets_[b];
        for (uint32_t hits = sigMatches(bk, sig); hits != 0; hits &= hits - 1) {
            const uint32_t idx = bk.idx[__builtin_ctz(hits)];
            if (idx != kNoEntry && entries_[idx].hasKey(key)) return idx;
        }
        if (bk.overflow == 0) break;
        b = nextBucket(b);
    }
    return kNoEntry;
}

void SessionTable::findBurst(const FlowKey* const* keys, const uint64_t* hashes, uint32_t n,
                             uint32_t* out) const {
    // The three steps of candidate() / confirm(), each over the whole burst so
    // that the misses of one step overlap. out[] holds the candidates between
    // steps 2 and 3.
    for (uint32_t i = 0; i < n; ++i) prefetchBucket(hashes[i]);
    for (uint32_t i = 0; i < n; ++i) out[i] = candidate(hashes[i]);
    for (uint32_t i = 0; i < n; ++i) out[i] = confirm(*keys[i], hashes[i], out[i]);
}

SessionTable::InsertResult SessionTable::insert(const FlowKey& key, uint64_t hash,
                                                uint32_t expires_ms, uint32_t* index) {
    const InsertResult r = place(key, hash, index);
    if (r != InsertResult::inserted) return r;
    // A default Session copied from a constant: building one on the stack
    // costs a `rep stos` that took a third of the insert.
    static const Session kBlank;
    Session& s = entries_[*index];
    s = kBlank;
    s.setKey(key);
    s.expires_ms = expires_ms;
    s.state = SessionState::open;  // caller sets the real state; never `none` while in use
    finishInsert(*index);
    return r;
}

SessionTable::InsertResult SessionTable::insert(const Session& init, uint64_t hash,
                                                uint32_t* index) {
    const InsertResult r = place(init.key(), hash, index);
    if (r != InsertResult::inserted) return r;
    Session& s = entries_[*index];
    s = init;
    if (s.state == SessionState::none) s.state = SessionState::open;  // `none` marks free entries
    finishInsert(*index);
    return r;
}

SessionTable::InsertResult SessionTable::place(const FlowKey& key, uint64_t hash, uint32_t* index) {
    uint32_t existing = findSlow(key, hash);
    if (existing != kNoEntry) {
        *index = existing;
        return InsertResult::exists;
    }
    if (free_top_ == 0) return InsertResult::full;

    // Place in the first free slot from the home bucket on; every full bucket
    // passed over records the overflow so lookups keep probing past it.
    uint32_t b = homeBucket(hash);
    int slot = -1;
    for (uint32_t probes = 0; probes < nbuckets_; ++probes) {
        Bucket& bk = buckets_[b];
        for (int s = 0; s < Bucket::kSlots; ++s) {
            if (bk.idx[s] == kNoEntry) {
                slot = s;
                break;
            }
        }
        if (slot >= 0) break;
        b = nextBucket(b);
    }
    if (slot < 0) return InsertResult::full;  // cannot happen at <= 50 % load
    for (uint32_t p = homeBucket(hash); p != b; p = nextBucket(p)) ++buckets_[p].overflow;

    const uint32_t i = free_[--free_top_];
    hashes_[i] = hash;
    nat_[i] = NatBinding{};
    app_[i] = SessionApp{};
    buckets_[b].sig[slot] = signatureOf(hash);
    buckets_[b].idx[slot] = i;
    *index = i;
    return InsertResult::inserted;
}

void SessionTable::finishInsert(uint32_t index) {
    wheelLink(index);
    size_.store(size_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    countOwner(entries_[index].owner, +1);
}

bool SessionTable::setApp(uint32_t index, AppProtocol proto, AppStatus status,
                          std::string_view name) {
    SessionApp& app = app_[index];
    const uint32_t old = app.nameId();
    if (app.status == AppStatus::pending) app_streams_.release(app.stream);
    const uint32_t id = name.empty() ? 0 : app_names_.add(name);
    app_names_.release(old);  // after add(): the same name keeps its slot
    app = SessionApp{};
    app.proto = proto;
    app.status = status;
    app.word = id;
    return name.empty() || id != 0;
}

AppIdentity SessionTable::appIdentity(uint32_t index) const {
    AppIdentity id;
    id.app = app_[index];
    id.app.stream = 0;
    id.name.assign(appName(index));
    return id;
}

bool SessionTable::setAppIdentity(uint32_t index, const AppIdentity& id) {
    if (id.app.status != AppStatus::pending)
        return setApp(index, id.app.proto, id.app.status, id.name.view());
    setApp(index, AppProtocol::none, AppStatus::none, {});
    SessionApp& app = app_[index];
    app.status = AppStatus::pending;
    app.word = id.app.word;  // the base sequence number
    return true;
}

void SessionTable::erase(uint32_t index) {
    Session& s = entries_[index];
    const uint64_t hash = hashes_[index];
    uint32_t b = homeBucket(hash);
    for (uint32_t probes = 0; probes < nbuckets_; ++probes) {
        Bucket& bk = buckets_[b];
        int found = -1;
        for (int k = 0; k < Bucket::kSlots; ++k) {
            if (bk.idx[k] == index) {
                found = k;
                break;
            }
        }
        if (found >= 0) {
            bk.idx[found] = kNoEntry;
            bk.sig[found] = 0;
            break;
        }
        --bk.overflow;  // this entry's probe had passed this bucket
        b = nextBucket(b);
    }
    if (links_[index].slot != kNotLinked) wheelUnlink(index);
    if (nat_[index].kind != 0) {
        if (nat_release_) nat_release_(nat_release_ctx_, index, nat_[index]);
        nat_[index] = NatBinding{};
    }
    SessionApp& app = app_[index];
    app_names_.release(app.nameId());
    if (app.status == AppStatus::pending) app_streams_.release(app.stream);
    app = SessionApp{};
    s.state = SessionState::none;
    countOwner(s.owner, -1);
    free_[free_top_++] = index;
    size_.store(size_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

uint32_t SessionTable::slotFor(uint32_t expires_ms) const {
    int32_t ahead = int32_t(expires_ms - cursor_ms_);
    uint32_t offset = ahead <= 0 ? 0 : uint32_t(ahead) / kSlotMs;
    if (offset >= kWheelSlots) offset = kWheelSlots - 1;
    return (cursor_ms_ / kSlotMs + offset) % kWheelSlots;
}

void SessionTable::expireEarlier(uint32_t index, uint32_t expires_ms) {
    if (!inUse(index) || int32_t(expires_ms - entries_[index].expires_ms) >= 0) return;
    entries_[index].expires_ms = expires_ms;
    if (links_[index].slot != kNotLinked) wheelUnlink(index);
    wheelLink(index);
}

void SessionTable::wheelLink(uint32_t index) {
    TimerLink& l = links_[index];
    const uint32_t slot = slotFor(entries_[index].expires_ms);
    l.slot = slot;
    l.prev = kNoEntry;
    l.next = wheel_[slot];
    if (l.next != kNoEntry) links_[l.next].prev = index;
    wheel_[slot] = index;
}

void SessionTable::wheelUnlink(uint32_t index) {
    TimerLink& l = links_[index];
    if (l.prev != kNoEntry) {
        links_[l.prev].next = l.next;
    } else {
        wheel_[l.slot] = l.next;
    }
    if (l.next != kNoEntry) links_[l.next].prev = l.prev;
    l.slot = kNotLinked;
    l.prev = l.next = kNoEntry;
}

}  // namespace tandem
