#include "proto/ha_session_record.h"

#include <cstring>

#include "proto/ha_wire_reader.h"

namespace tandem {
namespace {

constexpr size_t kWindowBytes = 14;
static_assert(kHaWindowBytes == 2 * kWindowBytes);
constexpr uint8_t kMaxNatKind = 2;

void putLe32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v), p[1] = uint8_t(v >> 8), p[2] = uint8_t(v >> 16), p[3] = uint8_t(v >> 24);
}
uint32_t getLe32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

void encodeWindows(const TcpWindow (&w)[2], uint8_t* out) {
    for (int d = 0; d < 2; ++d) {
        uint8_t* p = out + d * kWindowBytes;
        putLe32(p, w[d].end);
        putLe32(p + 4, w[d].max_end);
        putLe32(p + 8, w[d].max_win);
        p[12] = w[d].wscale;
        p[13] = w[d].flags;
    }
}

void decodeWindows(const uint8_t* in, TcpWindow (&w)[2]) {
    for (int d = 0; d < 2; ++d) {
        const uint8_t* p = in + d * kWindowBytes;
        w[d].end = getLe32(p);
        w[d].max_end = getLe32(p + 4);
        w[d].max_win = getLe32(p + 8);
        w[d].wscale = p[12];
        w[d].flags = p[13];
    }
}

// Remaining lifetime as sent: the table clock wraps at 2^32 ms, so the
// difference is taken modulo 2^32 and read as signed.
int64_t remainingMs(const Session& s, uint32_t now_ms) {
    return int64_t(int32_t(s.expires_ms - now_ms));
}

HaDecodeResult recordError(HaDecodeResult r) {
    // Node ids and states keep their own reason; anything else inside a
    // record is reported as a bad record.
    if (r == HaDecodeResult::bad_node_id || r == HaDecodeResult::bad_state) return r;
    return HaDecodeResult::bad_record;
}

// Writes msgpack straight into a buffer, each integer in its shortest form
// (as msgpack-c's packer chooses them, and as the in-place batch reader
// expects them): a record costs one append instead of twenty.
class RecordWriter {
  public:
    explicit RecordWriter(uint8_t* out) : p_(out), start_(out) {}
    size_t size() const { return size_t(p_ - start_); }

    void uint(uint64_t v) {
        if (v < 0x80) {
            *p_++ = uint8_t(v);
        } else if (v <= 0xff) {
            *p_++ = 0xcc, *p_++ = uint8_t(v);
        } else if (v <= 0xffff) {
            *p_++ = 0xcd;
            big(v, 2);
        } else if (v <= 0xffffffffu) {
            *p_++ = 0xce;
            big(v, 4);
        } else {
            *p_++ = 0xcf;
            big(v, 8);
        }
    }
    void sint(int64_t v) {
        if (v >= 0) {
            uint(uint64_t(v));
        } else if (v >= -32) {
            *p_++ = uint8_t(int8_t(v));
        } else if (v >= -128) {
            *p_++ = 0xd0, *p_++ = uint8_t(int8_t(v));
        } else if (v >= -32768) {
            *p_++ = 0xd1;
            big(uint64_t(v), 2);
        } else if (v >= INT32_MIN) {
            *p_++ = 0xd2;
            big(uint64_t(v), 4);
        } else {
            *p_++ = 0xd3;
            big(uint64_t(v), 8);
        }
    }
    void array(uint16_t n) {
        if (n < 16) {
            *p_++ = uint8_t(0x90 | n);
        } else {
            *p_++ = 0xdc;
            big(n, 2);
        }
    }
    void bin(const void* data, uint8_t len) {
        *p_++ = 0xc4, *p_++ = len;
        std::memcpy(p_, data, len);
        p_ += len;
    }

  private:
    void big(uint64_t v, int bytes) {
        for (int i = bytes - 1; i >= 0; --i) *p_++ = uint8_t(v >> (8 * i));
    }
    uint8_t* p_;
    uint8_t* start_;
};

static_assert(sizeof(FlowKey) < 256 && kHaWindowBytes < 256);  // bin8

size_t writeRecord(uint8_t* out, HaRecordOp op, const Session& s, const NatBinding& nat,
                   const AppIdentity& app, int64_t remaining_ms, uint32_t age_s) {
    RecordWriter w(out);
    const FlowKey key = s.key();
    if (op == HaRecordOp::erase) {
        w.array(kHaEraseMinFields + 1);
        w.uint(uint8_t(op));
        w.bin(&key, sizeof(FlowKey));
        w.uint(s.version);
        w.uint(s.owner);
        return w.size();
    }
    w.array(kHaRecordFields);
    w.uint(uint8_t(op));
    w.bin(&key, sizeof(FlowKey));
    w.uint(s.version);
    w.uint(uint8_t(s.state));
    w.uint(s.flags);
    w.uint(s.owner);
    w.uint(s.backup_owner);
    w.uint(s.origin_owner);
    w.uint(s.rule);
    w.sint(remaining_ms);
    uint8_t win[kHaWindowBytes];
    encodeWindows(s.win, win);
    w.bin(win, sizeof win);
    w.uint(s.packets(0));
    w.uint(s.packets(1));
    w.uint(s.bytes(0));
    w.uint(s.bytes(1));
    w.uint(nat.addr);
    w.uint(nat.port);
    w.uint(nat.kind);
    w.uint(age_s);
    w.uint(s.ingress_port);
    const bool pending = app.app.status == AppStatus::pending;
    const bool named = app.app.status == AppStatus::identified;
    w.uint(uint8_t(app.app.status));
    w.uint(uint8_t(app.app.proto));
    w.uint(pending ? app.app.word : 0u);
    w.bin(app.name.text, named ? app.name.len : 0);
    return w.size();
}

}  // namespace

namespace ha_wire {

HaDecodeResult unpackRecord(const msgpack::object& o, HaSessionRecord* out) {
    if (o.type != msgpack::type::ARRAY) return HaDecodeResult::bad_record;
    const msgpack::object* f = o.via.array.ptr;
    const uint32_t n = o.via.array.size;
    if (n < kHaEraseMinFields) return HaDecodeResult::bad_record;

    *out = HaSessionRecord{};
    Session& s = out->session;
    uint64_t op = 0;
    if (ha_wire::readUint(f[0], 2, &op) != HaDecodeResult::ok || op == 0)
        return HaDecodeResult::bad_record;
    out->op = HaRecordOp(op);
    if (out->op == HaRecordOp::upsert && n < kHaUpsertMinFields) return HaDecodeResult::bad_record;

    if (f[1].type != msgpack::type::BIN || f[1].via.bin.size != sizeof(FlowKey))
        return HaDecodeResult::bad_record;
    FlowKey key;
    std::memcpy(&key, f[1].via.bin.ptr, sizeof(FlowKey));
    if (!ha_wire::validKey(key)) return HaDecodeResult::bad_record;
    s.setKey(key);
    if (HaDecodeResult r = readUintAs(f[2], UINT32_MAX, &s.version); r != HaDecodeResult::ok)
        return recordError(r);

    if (out->op == HaRecordOp::erase) {
        // Optional owner (field 3) on erases.
        if (n > 3) {
            if (HaDecodeResult r = readNodeOrNone(f[3], &s.owner); r != HaDecodeResult::ok)
                return recordError(r);
        }
        return HaDecodeResult::ok;
    }

    uint64_t state = 0;
    if (HaDecodeResult r = readUint(f[3], 255, &state); r != HaDecodeResult::ok)
        return recordError(r);
    if (state > uint64_t(SessionState::replied)) return HaDecodeResult::bad_record;
    s.state = SessionState(state);
    HaDecodeResult r = HaDecodeResult::ok;
    if ((r = readUintAs(f[4], UINT8_MAX, &s.flags)) != HaDecodeResult::ok ||
        (r = readNode(f[5], &s.owner)) != HaDecodeResult::ok ||
        (r = readNodeOrNone(f[6], &s.backup_owner)) != HaDecodeResult::ok ||
        (r = readNodeOrNone(f[7], &s.origin_owner)) != HaDecodeResult::ok ||
        (r = readUintAs(f[8], UINT32_MAX, &s.rule)) != HaDecodeResult::ok ||
        (r = readInt(f[9], &out->remaining_ms)) != HaDecodeResult::ok)
        return recordError(r);
    if (f[10].type != msgpack::type::BIN || f[10].via.bin.size != kHaWindowBytes)
        return HaDecodeResult::bad_record;
    decodeWindows(reinterpret_cast<const uint8_t*>(f[10].via.bin.ptr), s.win);
    uint64_t packets[2], bytes[2];
    if ((r = readUint(f[11], UINT64_MAX, &packets[0])) != HaDecodeResult::ok ||
        (r = readUint(f[12], UINT64_MAX, &packets[1])) != HaDecodeResult::ok ||
        (r = readUint(f[13], UINT64_MAX, &bytes[0])) != HaDecodeResult::ok ||
        (r = readUint(f[14], UINT64_MAX, &bytes[1])) != HaDecodeResult::ok ||
        (r = readUintAs(f[15], UINT32_MAX, &out->nat.addr)) != HaDecodeResult::ok ||
        (r = readUintAs(f[16], UINT16_MAX, &out->nat.port)) != HaDecodeResult::ok ||
        (r = readUintAs(f[17], kMaxNatKind, &out->nat.kind)) != HaDecodeResult::ok ||
        (r = readUintAs(f[18], UINT32_MAX, &out->age_s)) != HaDecodeResult::ok)
        return recordError(r);
    s.setCounts(0, packets[0], bytes[0]);
    s.setCounts(1, packets[1], bytes[1]);
    if (n > 19 && (r = readUintAs(f[19], UINT8_MAX, &s.ingress_port)) != HaDecodeResult::ok)
        return recordError(r);
    if (n > 23) {
        uint8_t status = 0, proto = 0;
        if ((r = readUintAs(f[20], kMaxAppStatus, &status)) != HaDecodeResult::ok ||
            (r = readUintAs(f[21], kMaxAppProtocol, &proto)) != HaDecodeResult::ok ||
            (r = readUintAs(f[22], UINT32_MAX, &out->app.app.word)) != HaDecodeResult::ok)
            return recordError(r);
        if (f[23].type != msgpack::type::BIN || f[23].via.bin.size > kMaxAppName)
            return HaDecodeResult::bad_record;
        out->app.app.status = AppStatus(status);
        out->app.app.proto = AppProtocol(proto);
        std::memcpy(out->app.name.text, f[23].via.bin.ptr, f[23].via.bin.size);
        out->app.name.len = uint8_t(f[23].via.bin.size);
    }
    return HaDecodeResult::ok;
}

}  // namespace ha_wire

bool haRecordValid(const HaSessionRecord& r) {
    const Session& s = r.session;
    // Addresses compare as big-endian bytes, as buildFlowKey() compares them.
    const FlowKey k = s.key();
    const int order = std::memcmp(k.lo.b.data(), k.hi.b.data(), k.lo.b.size());
    if (order > 0 || (order == 0 && k.lo_port > k.hi_port)) return false;
    if (r.op == HaRecordOp::erase) return true;
    // A name comes with an identified session only, canonical as the
    // readers give it (it is shown, logged and matched against rules).
    const AppIdentity& a = r.app;
    if (a.app.status == AppStatus::identified) {
        AppName canonical;
        if (a.app.proto == AppProtocol::none || !canonicalAppName(a.name.view(), &canonical) ||
            canonical.view() != a.name.view())
            return false;
    } else if (a.name.len != 0) {
        return false;
    }
    return s.state != SessionState::none && s.win[0].wscale <= kMaxTcpWindowScale &&
           s.win[1].wscale <= kMaxTcpWindowScale;
}

HaSessionRecord makeHaRecord(HaRecordOp op, const Session& s, const NatBinding& nat,
                             uint32_t now_ms) {
    HaSessionRecord r;
    r.op = op;
    r.session = s;
    r.nat = nat;
    r.remaining_ms = remainingMs(s, now_ms);
    r.age_s = now_ms / 1000 - s.created_s;
    return r;
}

Session haRecordToSession(const HaSessionRecord& r, uint32_t now_ms) {
    Session s = r.session;
    const int64_t remaining = r.remaining_ms < 0           ? 0
                              : r.remaining_ms > INT32_MAX ? INT32_MAX
                                                           : r.remaining_ms;
    s.expires_ms = now_ms + uint32_t(remaining);
    s.created_s = now_ms / 1000 - r.age_s;
    return s;
}

void HaRecordBuffer::add(const HaSessionRecord& r) {
    uint8_t buf[kMaxHaRecordBytes];
    bytes_.append(reinterpret_cast<const char*>(buf),
                  writeRecord(buf, r.op, r.session, r.nat, r.app, r.remaining_ms, r.age_s));
    ++count_;
}

void HaRecordBuffer::add(HaRecordOp op, const Session& s, const NatBinding& nat, uint32_t now_ms,
                         const AppIdentity& app) {
    uint8_t buf[kMaxHaRecordBytes];
    bytes_.append(
        reinterpret_cast<const char*>(buf),
        writeRecord(buf, op, s, nat, app, remainingMs(s, now_ms), now_ms / 1000 - s.created_s));
    ++count_;
}

}  // namespace tandem
