// The direct decoder of SESSION_BATCH (see ha_wire_reader.h): reads the
// msgpack bytes in place into HaSessionRecords, without building msgpack's
// object tree first. A batch carries up to 2048 records of 20 fields each;
// building ~20 objects per record and then reading them back was most of a
// receiving node's work per replicated session.
//
// It accepts only the layout this build's encoder writes (envelope keys
// 0..5 in order with the body last, body keys 0..4 in order, records of 19
// fields or erases of 3..4, integers in unsigned forms except the one field
// that may be negative), checks every field as unpackRecord() does and
// drops the records haRecordValid() refuses, as decodeBatch() does. Anything else, valid or not,
// makes it give up, and decodeHaMessage() runs the generic decoder, which
// accepts other valid layouts and names the reason for a rejection. So the
// two agree by construction: this one only ever says "ok" to messages the
// generic one decodes the same (the unit tests compare them on mutations).
#include <cstring>

#include "proto/ha_wire_reader.h"

namespace tandem::ha_wire {
namespace {

// A bounds-checked reader of msgpack values. Every read returns false when
// the bytes are short or the value is not of the narrow form expected.
class Cursor {
  public:
    Cursor(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}

    bool atEnd() const { return p_ == end_; }

    // Unsigned integer in positive fixint / uint8..uint64 form.
    [[gnu::always_inline]] bool uint(uint64_t max, uint64_t* out) {
        if (p_ >= end_) return false;
        const uint8_t t = *p_;
        uint64_t v;
        if (t <= 0x7f) {
            v = t;
            ++p_;
        } else if (t >= 0xcc && t <= 0xcf) {
            const size_t len = size_t(1) << (t - 0xcc);
            if (size_t(end_ - p_) < 1 + len) return false;
            v = 0;
            for (size_t i = 1; i <= len; ++i) v = v << 8 | p_[i];
            p_ += 1 + len;
        } else {
            return false;
        }
        if (v > max) return false;
        *out = v;
        return true;
    }

    template <typename T>
    bool uintAs(uint64_t max, T* out) {
        uint64_t v;
        if (!uint(max, &v)) return false;
        *out = T(v);
        return true;
    }

    // Signed integer: any integer form (msgpack-c reads non-negative values
    // of the int forms as positive integers; readInt accepts both).
    bool sint(int64_t* out) {
        if (p_ >= end_) return false;
        const uint8_t t = *p_;
        if (t >= 0xe0) {
            *out = int8_t(t);
            ++p_;
            return true;
        }
        if (t >= 0xd0 && t <= 0xd3) {
            const size_t len = size_t(1) << (t - 0xd0);
            if (size_t(end_ - p_) < 1 + len) return false;
            uint64_t v = 0;
            for (size_t i = 1; i <= len; ++i) v = v << 8 | p_[i];
            p_ += 1 + len;
            const unsigned shift = unsigned(64 - 8 * len);
            *out = int64_t(v << shift) >> shift;  // sign-extend
            return true;
        }
        uint64_t v;
        if (!uint(uint64_t(INT64_MAX), &v)) return false;
        *out = int64_t(v);
        return true;
    }

    bool boolean(bool* out) {
        if (p_ >= end_ || (*p_ != 0xc2 && *p_ != 0xc3)) return false;
        *out = *p_++ == 0xc3;
        return true;
    }

    // A bin of exactly `len` bytes; *out points into the message.
    bool bin(size_t len, const uint8_t** out) {
        size_t n;
        return binUpTo(len, out, &n) && n == len;
    }

    // A bin of at most `max` bytes: its length in *len.
    bool binUpTo(size_t max, const uint8_t** out, size_t* len) {
        if (p_ >= end_) return false;
        size_t n, head;
        switch (*p_) {
            case 0xc4:
                head = 2;
                break;
            case 0xc5:
                head = 3;
                break;
            case 0xc6:
                head = 5;
                break;
            default:
                return false;
        }
        if (size_t(end_ - p_) < head) return false;
        n = 0;
        for (size_t i = 1; i < head; ++i) n = n << 8 | p_[i];
        if (n > max || size_t(end_ - p_) - head < n) return false;
        *out = p_ + head;
        *len = n;
        p_ += head + n;
        return true;
    }

    // Array / map header (fix, 16 and 32 forms).
    bool array(uint32_t* n) { return container(0x90, 0xdc, n); }
    bool map(uint32_t* n) { return container(0x80, 0xde, n); }

    // The next key of a map must be `key` (a fixint).
    bool key(uint8_t key) {
        if (p_ >= end_ || *p_ != key) return false;
        ++p_;
        return true;
    }

  private:
    bool container(uint8_t fix, uint8_t form16, uint32_t* n) {
        if (p_ >= end_) return false;
        const uint8_t t = *p_;
        if ((t & 0xf0) == fix) {
            *n = t & 0x0f;
            ++p_;
            return true;
        }
        if (t != form16 && t != form16 + 1) return false;
        const size_t len = t == form16 ? 2 : 4;
        if (size_t(end_ - p_) < 1 + len) return false;
        uint32_t v = 0;
        for (size_t i = 1; i <= len; ++i) v = v << 8 | p_[i];
        p_ += 1 + len;
        *n = v;
        return true;
    }

    const uint8_t* p_;
    const uint8_t* end_;
};

bool node(Cursor& c, NodeId* out) {
    uint64_t v;
    if (!c.uint(255, &v) || !isValidNodeId(unsigned(v))) return false;
    *out = NodeId(v);
    return true;
}

bool nodeOrNone(Cursor& c, NodeId* out) {
    uint64_t v;
    if (!c.uint(255, &v) || (v != 0 && !isValidNodeId(unsigned(v)))) return false;
    *out = NodeId(v);
    return true;
}

uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// Fields 20..23 (ha_session_record.h).
bool appIdentity(Cursor& c, AppIdentity* out) {
    uint8_t status, proto;
    const uint8_t* name;
    size_t len;
    if (!c.uintAs(kMaxAppStatus, &status) || !c.uintAs(kMaxAppProtocol, &proto) ||
        !c.uintAs(UINT32_MAX, &out->app.word) || !c.binUpTo(kMaxAppName, &name, &len))
        return false;
    out->app.status = AppStatus(status);
    out->app.proto = AppProtocol(proto);
    std::memcpy(out->name.text, name, len);
    out->name.len = uint8_t(len);
    return true;
}

bool record(Cursor& c, HaSessionRecord* out) {
    uint32_t n;
    if (!c.array(&n)) return false;
    uint64_t op;
    if (!c.uint(2, &op) || op == 0) return false;
    out->op = HaRecordOp(op);
    if (out->op == HaRecordOp::erase ? (n < kHaEraseMinFields || n > kHaEraseMinFields + 1)
                                     : n != kHaRecordFields)
        return false;
    Session& s = out->session;
    const uint8_t* key;
    if (!c.bin(sizeof(FlowKey), &key)) return false;
    FlowKey k;
    std::memcpy(&k, key, sizeof(FlowKey));
    if (!ha_wire::validKey(k)) return false;
    s.setKey(k);
    if (!c.uintAs(UINT32_MAX, &s.version)) return false;
    if (out->op == HaRecordOp::erase) return n == kHaEraseMinFields || nodeOrNone(c, &s.owner);

    uint64_t state;
    if (!c.uint(uint64_t(SessionState::replied), &state)) return false;
    s.state = SessionState(state);
    const uint8_t* win;
    if (!c.uintAs(UINT8_MAX, &s.flags) || !node(c, &s.owner) || !nodeOrNone(c, &s.backup_owner) ||
        !nodeOrNone(c, &s.origin_owner) || !c.uintAs(UINT32_MAX, &s.rule) ||
        !c.sint(&out->remaining_ms) || !c.bin(kHaWindowBytes, &win))
        return false;
    for (int d = 0; d < 2; ++d) {
        const uint8_t* p = win + d * (kHaWindowBytes / 2);
        s.win[d].end = le32(p);
        s.win[d].max_end = le32(p + 4);
        s.win[d].max_win = le32(p + 8);
        s.win[d].wscale = p[12];
        s.win[d].flags = p[13];
    }
    uint64_t packets[2], bytes[2];
    if (!c.uint(UINT64_MAX, &packets[0]) || !c.uint(UINT64_MAX, &packets[1]) ||
        !c.uint(UINT64_MAX, &bytes[0]) || !c.uint(UINT64_MAX, &bytes[1]))
        return false;
    s.setCounts(0, packets[0], bytes[0]);
    s.setCounts(1, packets[1], bytes[1]);
    return c.uintAs(UINT32_MAX, &out->nat.addr) && c.uintAs(UINT16_MAX, &out->nat.port) &&
           c.uintAs(2, &out->nat.kind) && c.uintAs(UINT32_MAX, &out->age_s) &&
           c.uintAs(UINT8_MAX, &s.ingress_port) && appIdentity(c, &out->app);
}

}  // namespace

bool decodeSessionBatchDirect(const uint8_t* data, size_t len, const HaDecodeExpect& expect,
                              HaMessage* out) {
    if (len == 0 || len > kMaxHaMessageBytes) return false;
    Cursor c(data, len);
    uint32_t n;
    HaEnvelope e;
    uint64_t type;
    if (!c.map(&n) || n != 6 || !c.key(0) || !c.uintAs(UINT32_MAX, &e.version) ||
        e.version != kHaProtocolVersion || !c.key(1) || !c.uint(kMaxHaMessageType, &type) ||
        type != uint64_t(HaMessageType::session_batch) || !c.key(2) ||
        !c.uintAs(UINT32_MAX, &e.cluster_id) || !c.key(3) || !node(c, &e.from) || !c.key(4) ||
        !node(c, &e.to) || !c.key(5))
        return false;
    e.type = HaMessageType::session_batch;
    if (e.cluster_id != expect.cluster_id || e.to != expect.self || e.from == expect.self)
        return false;

    HaSessionBatch b;
    uint32_t count;
    if (!c.map(&n) || n != 5 || !c.key(0) || !c.uint(UINT64_MAX, &b.stream) || !c.key(1) ||
        !c.uint(UINT64_MAX, &b.seq) || b.seq == 0 || !c.key(2) || !c.boolean(&b.bulk) ||
        !c.key(3) || !c.uintAs(UINT32_MAX, &b.bulk_id) || !c.key(4) || !c.array(&count) ||
        count > kMaxHaRecordsPerBatch)
        return false;
    b.records.resize(count);
    size_t kept = 0;
    for (uint32_t i = 0; i < count; ++i) {
        if (b.rejected) b.records[kept] = HaSessionRecord{};  // reuses a dropped one's slot
        if (!record(c, &b.records[kept])) return false;
        if (haRecordValid(b.records[kept]))
            ++kept;
        else
            ++b.rejected;
    }
    b.records.resize(kept);
    if (!c.atEnd()) return false;
    out->envelope = e;
    out->body = std::move(b);
    return true;
}

}  // namespace tandem::ha_wire
