// HaSessionRecord: one replicated session as it travels inside SESSION_BATCH.
//
// On the wire a record is a msgpack array with positional fields, pinned:
//   0 op (1 upsert, 2 erase)     1 key (bin, the 44-byte FlowKey; an IPv4
//                                  key's addresses v4-mapped)
//   2 version                    3 state (SessionState)
//   4 flags (u8)                 5 owner
//   6 backup owner (0 = none)    7 origin owner (0 = none)
//   8 rule                       9 remaining ms to expiry (may be negative)
//  10 TCP windows (bin, 2 × 14 bytes: end, max_end, max_win as
//     little-endian u32, then wscale, flags)
//  11 packets original          12 packets reply
//  13 bytes original            14 bytes reply
//  15 NAT address (u32)         16 NAT port        17 NAT kind (0..2)
//  18 age in seconds
//  19 ingress port: the data port index the session's first packet entered
//     the cluster by (255 = not known; port indices are the same on every
//     node, as the peer link's header assumes). Senders before it wrote 19
//     fields: their records read as "not known".
//  20 application status (AppStatus: 0 none, 1 pending, 2 identified,
//     3 unidentified)            21 application protocol (AppProtocol 0..3)
//  22 pending: the sequence number of the client's first payload byte (the
//     new owner reads the first payload from there); else 0
//  23 application name (bin, 0..253 bytes, canonical; empty unless
//     identified). Senders before these wrote 20 fields: no application.
// An erase carries fields 0..2 and may add 3 = owner; an upsert carries at
// least 0..18. Fields
// after the last known one are ignored (a newer sender may append more).
// Times travel as "remaining ms" / "age s" so that nodes need no common clock.
//
// Thread-safety: pure functions; HaRecordBuffer is a plain value (one thread
// at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "session/session.h"
#include "session/session_app.h"

namespace tandem {

enum class HaRecordOp : uint8_t { upsert = 1, erase = 2 };

/// Fields per record this build writes; readers accept more.
inline constexpr unsigned kHaRecordFields = 24;
/// Fewest fields an upsert / an erase must have.
inline constexpr unsigned kHaUpsertMinFields = 19;
inline constexpr unsigned kHaEraseMinFields = 3;
/// Bytes of the encoded TCP window pair (field 10).
inline constexpr size_t kHaWindowBytes = 28;
/// Longest record the encoder can write: every field in the widest msgpack
/// form of its type (the writer picks the shortest form for each value).
inline constexpr size_t kMaxHaRecordBytes =
    3                        // array16 head of kHaRecordFields
    + (2 + sizeof(FlowKey))  // 1 key, bin8
    + (2 + kHaWindowBytes)   // 10 windows, bin8
    + 5 * 9                  // 9 remaining ms (int64), 11..14 counters (uint64)
    + 4 * 5                  // 2 version, 8 rule, 15 NAT address, 18 age (uint32)
    + 1 * 3                  // 16 NAT port (uint16)
    + 9 * 2                  // 0 op, 3 state, 4 flags, 5..7 owners, 17 NAT kind,
                             // 19 ingress port, 21 app protocol (uint8)
    // 20, 22, 23: a seq only when pending, a name only when identified, so
    // the widest is an identified record: status 2, seq 0, the longest name.
    + 1 + 1 + (2 + kMaxAppName);
static_assert(kHaRecordFields == 2 + 5 + 4 + 1 + 9 + 3, "kMaxHaRecordBytes counts every field");

struct HaSessionRecord {
    HaRecordOp op = HaRecordOp::upsert;
    /// key, version, state, flags, owners, rule, windows, counters, ingress port.
    /// expires_ms and created_s are not carried (see below).
    Session session;
    NatBinding nat;
    AppIdentity app;           ///< application identity (status none: not asked)
    int64_t remaining_ms = 0;  ///< expiry relative to the sender's clock when sent
    uint32_t age_s = 0;        ///< seconds since creation when sent
};

/// Whether a decoded record names a session a correct owner could have
/// sent: the key's endpoints in the order makeFlowKey() puts them (lo's
/// address below hi's, or equal and lo's port not above hi's), and for an
/// upsert a state other than `none` (a table entry in no state is skipped by
/// listings, clear, bulk sync and transfer) and window scales of at most
/// kMaxTcpWindowScale (the tracker shifts by them). Both HA decoders call
/// this on every record they decode, drop the records it refuses and count
/// them (HaSessionBatch::rejected); the rest of the batch still applies.
bool haRecordValid(const HaSessionRecord& r);

/// A record of table session `s` with NAT binding `nat` at table clock `now_ms`.
HaSessionRecord makeHaRecord(HaRecordOp op, const Session& s, const NatBinding& nat,
                             uint32_t now_ms);
inline HaSessionRecord makeHaRecord(HaRecordOp op, const Session& s, uint32_t now_ms) {
    return makeHaRecord(op, s, NatBinding{}, now_ms);
}

/// The session a received record stands for on this node's table clock
/// `now_ms`: expiry = now + remaining (a negative remaining counts as 0),
/// creation = now - age. (Its NAT binding is r.nat.)
Session haRecordToSession(const HaSessionRecord& r, uint32_t now_ms);

/// Records encoded once into msgpack, for one SESSION_BATCH sent to any
/// number of peers.
class HaRecordBuffer {
  public:
    /// Appends one encoded record.
    void add(const HaSessionRecord& r);
    /// Appends the record of table session `s` (makeHaRecord + add, no copy).
    void add(HaRecordOp op, const Session& s, const NatBinding& nat, uint32_t now_ms,
             const AppIdentity& app = {});
    uint32_t count() const { return count_; }
    const std::string& bytes() const { return bytes_; }
    bool empty() const { return count_ == 0; }
    void clear() {
        bytes_.clear();
        count_ = 0;
    }

  private:
    std::string bytes_;
    uint32_t count_ = 0;
};

}  // namespace tandem
