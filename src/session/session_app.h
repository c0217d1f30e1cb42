// Application identity kept beside a session (as the NAT binding is): what
// its first payload named, whether that is still being read, and the small
// stores behind it. SessionTable owns one of each and frees a session's
// name and stream buffer when the session goes, whatever removes it.
//
// Memory is fixed at construction: 12 bytes per table entry, a pool of
// distinct names of the sessions whose application is known, and a few stream
// buffers for ClientHellos that span several TCP segments. A full pool is a
// counted outcome (the session is decided as not identified), never an
// allocation.
//
// Thread-safety: the owning worker's thread only, like the table.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "packet/app_identity.h"

namespace tandem {

enum class AppStatus : uint8_t {
    none = 0,          ///< no rule looked at the application when it was decided
    pending = 1,       ///< an app rule waits for the first payload
    identified = 2,    ///< the first payload named the application (proto, name)
    unidentified = 3,  ///< read, and no name came of it (another protocol, gave up)
};
inline constexpr uint8_t kMaxAppStatus = 3;
/// "", "pending", "identified", "unidentified".
const char* appStatusName(AppStatus s);

struct SessionApp {
    AppProtocol proto = AppProtocol::none;
    AppStatus status = AppStatus::none;
    uint8_t packets = 0;  ///< client payload segments read while pending
    uint8_t reserved = 0;
    uint16_t stream = 0;  ///< pending: AppStreamBuffers id, 0 = none
    /// pending: the sequence number of the client's first payload byte;
    /// identified: the AppNameStore id of its name (0 = none).
    uint32_t word = 0;

    uint32_t baseSeq() const { return word; }
    uint32_t nameId() const { return status == AppStatus::pending ? 0 : word; }
};
static_assert(sizeof(SessionApp) == 12);

/// A session's application identity as it travels off its table (events to
/// the HA agent, replicas, records on the wire): the stream buffer stays
/// behind (app.stream is 0).
struct AppIdentity {
    SessionApp app;
    AppName name;  ///< when app.status is identified
};

/// The bytes of `id` that carry something: all but the unused tail of its
/// name. Records that end with an AppIdentity are copied this far through
/// the worker rings (core/spsc_ring.h ringBytes).
inline size_t usedBytes(const AppIdentity& id) {
    return offsetof(AppIdentity, name) + offsetof(AppName, text) + id.name.len;
}

/// Names of identified sessions, each kept once however many sessions name
/// it (most name the same few services): add() on identification takes a
/// reference, release() gives it back, and the last one frees the slot.
class AppNameStore {
  public:
    explicit AppNameStore(uint32_t slots);
    /// A reference to `name` (canonical, <= kMaxAppName): its id (>= 1), or
    /// 0 when it is new and every slot is taken.
    uint32_t add(std::string_view name);
    /// The name of a live id ("" for 0).
    std::string_view get(uint32_t id) const {
        return id == 0 ? std::string_view() : slots_[id - 1].name.view();
    }
    void release(uint32_t id);
    uint32_t capacity() const { return capacity_; }
    /// Distinct names held.
    uint32_t inUse() const { return capacity_ - free_top_; }
    static constexpr size_t kBytesPerSlot = sizeof(AppName) + 3 * sizeof(uint32_t) + 4;

  private:
    struct Slot {
        AppName name;
        uint32_t refs = 0;
        uint32_t next = 0;  ///< the next id in this slot's bucket, 0 = end
    };
    uint32_t bucketOf(std::string_view name) const;
    uint32_t capacity_;
    uint32_t bucket_mask_;
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<uint32_t[]> buckets_;  ///< first id per bucket, 0 = empty
    std::unique_ptr<uint32_t[]> free_;
    uint32_t free_top_;
};

/// The client's first kMaxAppPrefix stream bytes of sessions whose first
/// segment did not name the application, placed by stream offset: segments
/// may come out of order or twice (the first copy of a byte is kept).
class AppStreamBuffers {
  public:
    explicit AppStreamBuffers(uint32_t buffers);
    /// A cleared buffer's id (>= 1), or 0 when all are in use.
    uint32_t acquire();
    void release(uint32_t id);
    /// Copies what of [offset, offset + len) falls inside the buffer.
    void write(uint32_t id, uint32_t offset, const uint8_t* data, uint32_t len);
    /// The bytes from offset 0 up to the first gap.
    const uint8_t* data(uint32_t id) const { return slot(id).bytes; }
    uint32_t contiguous(uint32_t id) const;
    uint32_t capacity() const { return capacity_; }
    uint32_t inUse() const { return capacity_ - free_top_; }

  private:
    struct Slot {
        uint8_t bytes[kMaxAppPrefix];
        uint64_t have[kMaxAppPrefix / 64];
    };
    Slot& slot(uint32_t id) { return slots_[id - 1]; }
    const Slot& slot(uint32_t id) const { return slots_[id - 1]; }
    uint32_t capacity_;
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<uint32_t[]> free_;
    uint32_t free_top_;
};

}  // namespace tandem
