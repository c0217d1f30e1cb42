// Checked readers for msgpack objects, shared by the HA message and record
// decoders (internal to src/proto: not part of the wire API).
//
// Each reader checks the msgpack type and the value's range and returns a
// named HaDecodeResult, so a decoder states every field's contract in one line.
#pragma once

#include <msgpack.hpp>

#include <cstdint>
#include <string>

#include "proto/ha_messages.h"

namespace tandem::ha_wire {

/// msgpack-c packer sink that appends to a std::string.
struct StringSink {
    std::string* out;
    void write(const char* p, size_t n) { out->append(p, n); }
};
using Packer = msgpack::packer<StringSink>;

inline HaDecodeResult readUint(const msgpack::object& o, uint64_t max, uint64_t* out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return HaDecodeResult::wrong_field_type;
    if (o.via.u64 > max) return HaDecodeResult::bad_value;
    *out = o.via.u64;
    return HaDecodeResult::ok;
}

template <typename T>
inline HaDecodeResult readUintAs(const msgpack::object& o, uint64_t max, T* out) {
    uint64_t v = 0;
    HaDecodeResult r = readUint(o, max, &v);
    if (r == HaDecodeResult::ok) *out = T(v);
    return r;
}

inline HaDecodeResult readInt(const msgpack::object& o, int64_t* out) {
    if (o.type == msgpack::type::NEGATIVE_INTEGER) {
        *out = o.via.i64;
        return HaDecodeResult::ok;
    }
    if (o.type != msgpack::type::POSITIVE_INTEGER) return HaDecodeResult::wrong_field_type;
    if (o.via.u64 > uint64_t(INT64_MAX)) return HaDecodeResult::bad_value;
    *out = int64_t(o.via.u64);
    return HaDecodeResult::ok;
}

inline HaDecodeResult readBool(const msgpack::object& o, bool* out) {
    if (o.type != msgpack::type::BOOLEAN) return HaDecodeResult::wrong_field_type;
    *out = o.via.boolean;
    return HaDecodeResult::ok;
}

inline HaDecodeResult readStr(const msgpack::object& o, size_t max, std::string* out) {
    if (o.type != msgpack::type::STR) return HaDecodeResult::wrong_field_type;
    if (o.via.str.size > max) return HaDecodeResult::bad_value;
    out->assign(o.via.str.ptr, o.via.str.size);
    return HaDecodeResult::ok;
}

/// A string of printable ASCII (0x20..0x7e) of at most `max` bytes: names
/// and versions a peer announces end up in logs, JSON status and the shell,
/// which must not receive control characters or bytes that are not UTF-8.
inline HaDecodeResult readPrintable(const msgpack::object& o, size_t max, std::string* out) {
    if (HaDecodeResult r = readStr(o, max, out); r != HaDecodeResult::ok) return r;
    for (char c : *out)
        if (c < 0x20 || c > 0x7e) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

/// A node id that must name a node (1..16).
inline HaDecodeResult readNode(const msgpack::object& o, NodeId* out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return HaDecodeResult::wrong_field_type;
    if (!isValidNodeId(unsigned(o.via.u64 > 255 ? 255 : o.via.u64)))
        return HaDecodeResult::bad_node_id;
    *out = NodeId(o.via.u64);
    return HaDecodeResult::ok;
}

/// A node id that may be 0 (none).
inline HaDecodeResult readNodeOrNone(const msgpack::object& o, NodeId* out) {
    if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 == 0) {
        *out = kNoNode;
        return HaDecodeResult::ok;
    }
    return readNode(o, out);
}

inline HaDecodeResult readNodeState(const msgpack::object& o, NodeState* out) {
    if (o.type != msgpack::type::POSITIVE_INTEGER) return HaDecodeResult::wrong_field_type;
    if (o.via.u64 > kMaxNodeStateValue) return HaDecodeResult::bad_state;
    *out = NodeState(o.via.u64);
    return HaDecodeResult::ok;
}

/// The fields of a map with small unsigned integer keys. Keys at or above
/// kMaxKeys (and of other types) are ignored: they belong to newer senders.
struct FieldTable {
    static constexpr unsigned kMaxKeys = 32;
    const msgpack::object* field[kMaxKeys] = {};

    /// Fills the table from map `o`; a duplicate key is malformed.
    HaDecodeResult load(const msgpack::object& o) {
        if (o.type != msgpack::type::MAP) return HaDecodeResult::wrong_field_type;
        for (uint32_t i = 0; i < o.via.map.size; ++i) {
            const msgpack::object_kv& kv = o.via.map.ptr[i];
            if (kv.key.type != msgpack::type::POSITIVE_INTEGER || kv.key.via.u64 >= kMaxKeys)
                continue;
            const msgpack::object*& slot = field[kv.key.via.u64];
            if (slot) return HaDecodeResult::malformed;
            slot = &kv.val;
        }
        return HaDecodeResult::ok;
    }
    const msgpack::object* get(unsigned key) const { return field[key]; }
};

/// Decodes one record array (ha_session_record.cpp).
HaDecodeResult unpackRecord(const msgpack::object& o, HaSessionRecord* out);

/// decodeHaMessage() through msgpack's object tree: every valid layout, and
/// the named reason for every rejection (ha_messages.cpp).
HaDecodeResult decodeHaMessageGeneric(const uint8_t* data, size_t len, const HaDecodeExpect& expect,
                                      HaMessage* out);

/// The fast path of decodeHaMessage() for SESSION_BATCH in the exact layout
/// this build writes, read in place (ha_batch_decoder.cpp). True: *out holds
/// what decodeHaMessageGeneric() would decode. False: not such a message, or
/// not valid; *out untouched; the caller runs the generic decoder.
bool decodeSessionBatchDirect(const uint8_t* data, size_t len, const HaDecodeExpect& expect,
                              HaMessage* out);

/// A replicated session key is acceptable: a known family, the reserved bytes
/// zero, and for IPv4 both addresses v4-mapped (the session table compares
/// an IPv4 key's last four address bytes only, see Session::hasKey).
inline bool validKey(const FlowKey& k) {
    if (k.reserved != 0) return false;
    if (k.family == AddrFamily::v4) return k.lo.isV4Mapped() && k.hi.isV4Mapped();
    return k.family == AddrFamily::v6;
}

}  // namespace tandem::ha_wire

#define TANDEM_HA_TRY(expr)                                                    \
    do {                                                                       \
        ::tandem::HaDecodeResult tandem_ha_r_ = (expr);                        \
        if (tandem_ha_r_ != ::tandem::HaDecodeResult::ok) return tandem_ha_r_; \
    } while (0)
