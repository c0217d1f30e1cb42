#include "proto/ha_messages.h"

#include <new>

#include "proto/ha_wire_reader.h"

namespace tandem {

using ha_wire::FieldTable;
using ha_wire::Packer;

namespace {

// Envelope keys.
enum : unsigned {
    kEnvVersion = 0,
    kEnvType = 1,
    kEnvCluster = 2,
    kEnvFrom = 3,
    kEnvTo = 4,
    kEnvBody = 5
};

// Container limits applied while parsing: nothing we send is bigger, so
// anything bigger is refused before it is built in memory.
const msgpack::unpack_limit kLimits(/*array=*/2 * kMaxHaRecordsPerBatch, /*map=*/64,
                                    /*str=*/kMaxHaNameBytes, /*bin=*/256, /*ext=*/0,
                                    /*depth=*/6);

bool referenceBuffer(msgpack::type::object_type, std::size_t, void*) {
    return true;
}

// ---- encoding ---------------------------------------------------------------

void packKey(Packer& pk, unsigned key) {
    pk.pack_uint8(uint8_t(key));
}

struct BodyPacker {
    Packer& pk;

    void operator()(const HaHello& m) {
        pk.pack_map(20);
        packKey(pk, 0), pk.pack_uint8(m.node);
        packKey(pk, 1), pk.pack(m.name);
        packKey(pk, 2), pk.pack(m.software_version);
        packKey(pk, 3), pk.pack_uint64(m.config_fingerprint);
        packKey(pk, 4), pk.pack_uint32(m.peer_link_mtu);
        packKey(pk, 5), pk.pack_uint8(m.priority);
        packKey(pk, 6), pk.pack_uint64(m.incarnation);
        packKey(pk, 7), pk.pack_uint8(m.session_owner);
        packKey(pk, 8), pk.pack(m.revert);
        packKey(pk, 9), pk.pack(m.preempt);
        packKey(pk, 10), pk.pack_uint32(m.heartbeat_interval_ms);
        packKey(pk, 11), pk.pack_uint32(m.hold_time_ms);
        packKey(pk, 12), pk.pack_uint16(m.members_mask);
        packKey(pk, 13), pk.pack_uint64(m.zones_hash);
        packKey(pk, 14), pk.pack_uint32(m.rules_count);
        packKey(pk, 15), pk.pack_uint64(m.rules_hash);
        packKey(pk, 16), pk.pack_uint8(m.dataplane_mode);
        packKey(pk, 17), pk.pack_uint8(m.peer_link_transport);
        packKey(pk, 18), pk.pack_uint32(m.peer_link_detect_ms);
        packKey(pk, 19), pk.pack(m.nat_steering);
    }
    void operator()(const HaHeartbeat& m) {
        pk.pack_map(12);
        packKey(pk, 0), pk.pack_uint8(uint8_t(m.state));
        packKey(pk, 1), pk.pack_uint8(m.priority);
        packKey(pk, 2), pk.pack_uint64(m.seq);
        packKey(pk, 3), pk.pack_uint64(m.sent_us);
        packKey(pk, 4), pk.pack_uint64(m.incarnation);
        packKey(pk, 5), pk.pack(m.primary);
        packKey(pk, 6), pk.pack_array(uint32_t(m.members.size()));
        for (const HaMemberView& v : m.members) {
            pk.pack_map(4);
            packKey(pk, 0), pk.pack_uint8(v.id);
            packKey(pk, 1), pk.pack_uint8(uint8_t(v.state));
            packKey(pk, 2), pk.pack(v.alive);
            packKey(pk, 3), pk.pack_uint64(v.incarnation);
        }
        packKey(pk, 7), pk.pack_uint64(m.bulk_received);
        packKey(pk, 8), pk.pack_uint64(m.bulk_expected);
        packKey(pk, 9), pk.pack(m.links_ok);
        packKey(pk, 10), pk.pack_uint64(m.rules_hash);
        packKey(pk, 11), pk.pack_uint32(m.rules_count);
    }
    void operator()(const HaSessionBatch& m) {
        HaRecordBuffer records;
        for (const HaSessionRecord& r : m.records) records.add(r);
        packBatch(m, records);
    }
    void packBatch(const HaSessionBatch& m, const HaRecordBuffer& records) {
        pk.pack_map(5);
        packKey(pk, 0), pk.pack_uint64(m.stream);
        packKey(pk, 1), pk.pack_uint64(m.seq);
        packKey(pk, 2), pk.pack(m.bulk);
        packKey(pk, 3), pk.pack_uint32(m.bulk_id);
        packKey(pk, 4), pk.pack_array(records.count());
        // The records are already msgpack: append their bytes as they are.
        pk.pack_str_body(records.bytes().data(), uint32_t(records.bytes().size()));
    }
    void operator()(const HaAck& m) {
        pk.pack_map(2);
        packKey(pk, 0), pk.pack_uint64(m.stream);
        packKey(pk, 1), pk.pack_uint64(m.seq);
    }
    void operator()(const HaNack& m) {
        pk.pack_map(2);
        packKey(pk, 0), pk.pack_uint64(m.stream);
        packKey(pk, 1), pk.pack_uint64(m.from_seq);
    }
    void operator()(const HaResyncRequest& m) {
        pk.pack_map(1);
        packKey(pk, 0), pk.pack_uint8(uint8_t(m.reason));
    }
    void operator()(const HaBulkBegin& m) {
        pk.pack_map(4);
        packKey(pk, 0), pk.pack_uint64(m.stream);
        packKey(pk, 1), pk.pack_uint64(m.seq);
        packKey(pk, 2), pk.pack_uint32(m.bulk_id);
        packKey(pk, 3), pk.pack_uint64(m.expected);
    }
    void operator()(const HaBulkEnd& m) {
        pk.pack_map(4);
        packKey(pk, 0), pk.pack_uint64(m.stream);
        packKey(pk, 1), pk.pack_uint64(m.seq);
        packKey(pk, 2), pk.pack_uint32(m.bulk_id);
        packKey(pk, 3), pk.pack_uint64(m.count);
    }
    void operator()(const HaOwnership& m) {
        pk.pack_map(3);
        packKey(pk, 0), pk.pack_uint8(uint8_t(m.kind));
        packKey(pk, 1), pk.pack_uint8(m.subject);
        packKey(pk, 2), pk.pack_uint8(m.target);
    }
};

void packEnvelopeHead(Packer& pk, const HaEnvelope& e, HaMessageType type) {
    pk.pack_map(6);
    packKey(pk, kEnvVersion), pk.pack_uint32(e.version);
    packKey(pk, kEnvType), pk.pack_uint8(uint8_t(type));
    packKey(pk, kEnvCluster), pk.pack_uint32(e.cluster_id);
    packKey(pk, kEnvFrom), pk.pack_uint8(e.from);
    packKey(pk, kEnvTo), pk.pack_uint8(e.to);
    packKey(pk, kEnvBody);
}

// ---- decoding -------------------------------------------------------------

const msgpack::object* need(const FieldTable& t, unsigned key, HaDecodeResult* r) {
    const msgpack::object* o = t.get(key);
    if (!o) *r = HaDecodeResult::missing_field;
    return o;
}

#define TANDEM_HA_FIELD(table, key, reader)                            \
    do {                                                               \
        HaDecodeResult tandem_missing_ = HaDecodeResult::ok;           \
        const msgpack::object* o = need(table, key, &tandem_missing_); \
        if (!o) return tandem_missing_;                                \
        TANDEM_HA_TRY(reader);                                         \
    } while (0)

#define TANDEM_HA_OPTIONAL(table, key, reader)                                  \
    do {                                                                        \
        if (const msgpack::object* o = (table).get(key)) TANDEM_HA_TRY(reader); \
    } while (0)

using namespace ha_wire;

HaDecodeResult decodeHello(const FieldTable& t, HaHello* m) {
    TANDEM_HA_FIELD(t, 0, readNode(*o, &m->node));
    TANDEM_HA_FIELD(t, 1, readPrintable(*o, kMaxHaNameBytes, &m->name));
    TANDEM_HA_FIELD(t, 2, readPrintable(*o, kMaxHaNameBytes, &m->software_version));
    TANDEM_HA_FIELD(t, 3, readUint(*o, UINT64_MAX, &m->config_fingerprint));
    TANDEM_HA_FIELD(t, 4, readUintAs(*o, UINT32_MAX, &m->peer_link_mtu));
    TANDEM_HA_FIELD(t, 5, readUintAs(*o, 255, &m->priority));
    TANDEM_HA_FIELD(t, 6, readUint(*o, UINT64_MAX, &m->incarnation));
    TANDEM_HA_FIELD(t, 7, readUintAs(*o, 255, &m->session_owner));
    TANDEM_HA_FIELD(t, 8, readBool(*o, &m->revert));
    TANDEM_HA_FIELD(t, 9, readBool(*o, &m->preempt));
    TANDEM_HA_FIELD(t, 10, readUintAs(*o, UINT32_MAX, &m->heartbeat_interval_ms));
    TANDEM_HA_FIELD(t, 11, readUintAs(*o, UINT32_MAX, &m->hold_time_ms));
    TANDEM_HA_FIELD(t, 12, readUintAs(*o, UINT16_MAX, &m->members_mask));
    TANDEM_HA_OPTIONAL(t, 13, readUint(*o, UINT64_MAX, &m->zones_hash));
    TANDEM_HA_OPTIONAL(t, 14, readUintAs(*o, UINT32_MAX, &m->rules_count));
    TANDEM_HA_OPTIONAL(t, 15, readUint(*o, UINT64_MAX, &m->rules_hash));
    TANDEM_HA_OPTIONAL(t, 16, readUintAs(*o, 255, &m->dataplane_mode));
    TANDEM_HA_OPTIONAL(t, 17, readUintAs(*o, 255, &m->peer_link_transport));
    TANDEM_HA_OPTIONAL(t, 18, readUintAs(*o, UINT32_MAX, &m->peer_link_detect_ms));
    TANDEM_HA_OPTIONAL(t, 19, readPrintable(*o, kMaxHaNameBytes, &m->nat_steering));
    if (m->incarnation == 0) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

HaDecodeResult decodeMember(const msgpack::object& o, HaMemberView* v) {
    FieldTable t;
    TANDEM_HA_TRY(t.load(o));
    TANDEM_HA_FIELD(t, 0, readNode(*o, &v->id));
    TANDEM_HA_FIELD(t, 1, readNodeState(*o, &v->state));
    TANDEM_HA_FIELD(t, 2, readBool(*o, &v->alive));
    TANDEM_HA_OPTIONAL(t, 3, readUint(*o, UINT64_MAX, &v->incarnation));
    return HaDecodeResult::ok;
}

HaDecodeResult decodeHeartbeat(const FieldTable& t, HaHeartbeat* m) {
    TANDEM_HA_FIELD(t, 0, readNodeState(*o, &m->state));
    TANDEM_HA_FIELD(t, 1, readUintAs(*o, 255, &m->priority));
    TANDEM_HA_FIELD(t, 2, readUint(*o, UINT64_MAX, &m->seq));
    TANDEM_HA_FIELD(t, 3, readUint(*o, UINT64_MAX, &m->sent_us));
    TANDEM_HA_FIELD(t, 4, readUint(*o, UINT64_MAX, &m->incarnation));
    TANDEM_HA_FIELD(t, 5, readBool(*o, &m->primary));
    if (const msgpack::object* o = t.get(6)) {
        if (o->type != msgpack::type::ARRAY) return HaDecodeResult::wrong_field_type;
        if (o->via.array.size > kMaxNodes) return HaDecodeResult::bad_value;
        m->members.resize(o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; ++i)
            TANDEM_HA_TRY(decodeMember(o->via.array.ptr[i], &m->members[i]));
    }
    TANDEM_HA_OPTIONAL(t, 7, readUint(*o, UINT64_MAX, &m->bulk_received));
    TANDEM_HA_OPTIONAL(t, 8, readUint(*o, UINT64_MAX, &m->bulk_expected));
    TANDEM_HA_OPTIONAL(t, 9, readBool(*o, &m->links_ok));
    TANDEM_HA_OPTIONAL(t, 10, readUint(*o, UINT64_MAX, &m->rules_hash));
    TANDEM_HA_OPTIONAL(t, 11, readUintAs(*o, UINT32_MAX, &m->rules_count));
    if (m->incarnation == 0) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

HaDecodeResult decodeBatch(const FieldTable& t, HaSessionBatch* m) {
    TANDEM_HA_FIELD(t, 0, readUint(*o, UINT64_MAX, &m->stream));
    TANDEM_HA_FIELD(t, 1, readUint(*o, UINT64_MAX, &m->seq));
    TANDEM_HA_FIELD(t, 2, readBool(*o, &m->bulk));
    TANDEM_HA_FIELD(t, 3, readUintAs(*o, UINT32_MAX, &m->bulk_id));
    const msgpack::object* rec = t.get(4);
    if (!rec) return HaDecodeResult::missing_field;
    if (rec->type != msgpack::type::ARRAY) return HaDecodeResult::wrong_field_type;
    if (rec->via.array.size > kMaxHaRecordsPerBatch) return HaDecodeResult::too_many_records;
    if (m->seq == 0) return HaDecodeResult::bad_value;
    m->records.resize(rec->via.array.size);
    size_t kept = 0;
    for (uint32_t i = 0; i < rec->via.array.size; ++i) {
        TANDEM_HA_TRY(unpackRecord(rec->via.array.ptr[i], &m->records[kept]));
        if (haRecordValid(m->records[kept]))
            ++kept;
        else
            ++m->rejected;
    }
    m->records.resize(kept);
    return HaDecodeResult::ok;
}

HaDecodeResult decodeAck(const FieldTable& t, HaAck* m) {
    TANDEM_HA_FIELD(t, 0, readUint(*o, UINT64_MAX, &m->stream));
    TANDEM_HA_FIELD(t, 1, readUint(*o, UINT64_MAX, &m->seq));
    return HaDecodeResult::ok;
}

HaDecodeResult decodeNack(const FieldTable& t, HaNack* m) {
    TANDEM_HA_FIELD(t, 0, readUint(*o, UINT64_MAX, &m->stream));
    TANDEM_HA_FIELD(t, 1, readUint(*o, UINT64_MAX, &m->from_seq));
    if (m->from_seq == 0) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

HaDecodeResult decodeResync(const FieldTable& t, HaResyncRequest* m) {
    TANDEM_HA_OPTIONAL(t, 0, readUintAs(*o, kMaxHaResyncReason, &m->reason));
    return HaDecodeResult::ok;
}

HaDecodeResult decodeBulkBegin(const FieldTable& t, HaBulkBegin* m) {
    TANDEM_HA_FIELD(t, 0, readUint(*o, UINT64_MAX, &m->stream));
    TANDEM_HA_FIELD(t, 1, readUint(*o, UINT64_MAX, &m->seq));
    TANDEM_HA_FIELD(t, 2, readUintAs(*o, UINT32_MAX, &m->bulk_id));
    TANDEM_HA_OPTIONAL(t, 3, readUint(*o, UINT64_MAX, &m->expected));
    if (m->seq == 0) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

HaDecodeResult decodeBulkEnd(const FieldTable& t, HaBulkEnd* m) {
    TANDEM_HA_FIELD(t, 0, readUint(*o, UINT64_MAX, &m->stream));
    TANDEM_HA_FIELD(t, 1, readUint(*o, UINT64_MAX, &m->seq));
    TANDEM_HA_FIELD(t, 2, readUintAs(*o, UINT32_MAX, &m->bulk_id));
    TANDEM_HA_FIELD(t, 3, readUint(*o, UINT64_MAX, &m->count));
    if (m->seq == 0) return HaDecodeResult::bad_value;
    return HaDecodeResult::ok;
}

HaDecodeResult decodeOwnership(const FieldTable& t, HaOwnership* m) {
    uint64_t kind = 0;
    TANDEM_HA_FIELD(t, 0, readUint(*o, kMaxHaOwnershipKind, &kind));
    if (kind == 0) return HaDecodeResult::bad_value;
    m->kind = HaOwnershipKind(kind);
    TANDEM_HA_FIELD(t, 1, readNode(*o, &m->subject));
    TANDEM_HA_OPTIONAL(t, 2, readNodeOrNone(*o, &m->target));
    return HaDecodeResult::ok;
}

template <typename T>
HaDecodeResult decodeInto(const FieldTable& t, HaBody* body,
                          HaDecodeResult (*fn)(const FieldTable&, T*)) {
    T m{};
    TANDEM_HA_TRY(fn(t, &m));
    *body = std::move(m);
    return HaDecodeResult::ok;
}

HaDecodeResult decodeBody(HaMessageType type, const msgpack::object& o, HaBody* body) {
    FieldTable t;
    TANDEM_HA_TRY(t.load(o));
    switch (type) {
        case HaMessageType::hello:
            return decodeInto(t, body, decodeHello);
        case HaMessageType::heartbeat:
            return decodeInto(t, body, decodeHeartbeat);
        case HaMessageType::session_batch:
            return decodeInto(t, body, decodeBatch);
        case HaMessageType::ack:
            return decodeInto(t, body, decodeAck);
        case HaMessageType::nack:
            return decodeInto(t, body, decodeNack);
        case HaMessageType::resync_request:
            return decodeInto(t, body, decodeResync);
        case HaMessageType::bulk_begin:
            return decodeInto(t, body, decodeBulkBegin);
        case HaMessageType::bulk_end:
            return decodeInto(t, body, decodeBulkEnd);
        case HaMessageType::ownership:
            return decodeInto(t, body, decodeOwnership);
    }
    return HaDecodeResult::unknown_type;
}

// Parses the bytes into one msgpack object, mapping the parser's exceptions
// onto named reasons; nothing is thrown past this function.
HaDecodeResult parse(const uint8_t* data, size_t len, msgpack::object_handle* oh) {
    if (len > kMaxHaMessageBytes) return HaDecodeResult::oversized;
    if (len == 0) return HaDecodeResult::truncated;
    try {
        size_t off = 0;
        *oh = msgpack::unpack(reinterpret_cast<const char*>(data), len, off, referenceBuffer,
                              nullptr, kLimits);
        if (off != len) return HaDecodeResult::malformed;
    } catch (const msgpack::insufficient_bytes&) {
        return HaDecodeResult::truncated;
    } catch (const msgpack::size_overflow&) {
        return HaDecodeResult::oversized;
    } catch (const std::bad_alloc&) {
        return HaDecodeResult::oversized;
    } catch (const std::exception&) {
        return HaDecodeResult::malformed;
    }
    return HaDecodeResult::ok;
}

HaDecodeResult decodeEnvelope(const FieldTable& t, HaEnvelope* e) {
    TANDEM_HA_FIELD(t, kEnvVersion, readUintAs(*o, UINT32_MAX, &e->version));
    if (e->version != kHaProtocolVersion) return HaDecodeResult::wrong_version;
    uint64_t type = 0;
    TANDEM_HA_FIELD(t, kEnvType, readUint(*o, UINT64_MAX, &type));
    if (type == 0 || type > kMaxHaMessageType) return HaDecodeResult::unknown_type;
    e->type = HaMessageType(type);
    TANDEM_HA_FIELD(t, kEnvCluster, readUintAs(*o, UINT32_MAX, &e->cluster_id));
    TANDEM_HA_FIELD(t, kEnvFrom, readNode(*o, &e->from));
    TANDEM_HA_FIELD(t, kEnvTo, readNode(*o, &e->to));
    return HaDecodeResult::ok;
}

}  // namespace

const char* haMessageTypeName(HaMessageType t) {
    switch (t) {
        case HaMessageType::hello:
            return "hello";
        case HaMessageType::heartbeat:
            return "heartbeat";
        case HaMessageType::session_batch:
            return "session-batch";
        case HaMessageType::ack:
            return "ack";
        case HaMessageType::nack:
            return "nack";
        case HaMessageType::resync_request:
            return "resync-request";
        case HaMessageType::bulk_begin:
            return "bulk-begin";
        case HaMessageType::bulk_end:
            return "bulk-end";
        case HaMessageType::ownership:
            return "ownership";
    }
    return "?";
}

const char* haDecodeResultName(HaDecodeResult r) {
    const size_t i = size_t(r);
    return i < kHaDecodeResultCount ? kHaDecodeResultInfo[i].name.data() : "?";
}

HaMessageType haBodyType(const HaBody& body) {
    static constexpr HaMessageType kTypes[] = {
        HaMessageType::hello,      HaMessageType::heartbeat, HaMessageType::session_batch,
        HaMessageType::ack,        HaMessageType::nack,      HaMessageType::resync_request,
        HaMessageType::bulk_begin, HaMessageType::bulk_end,  HaMessageType::ownership};
    static_assert(std::variant_size_v<HaBody> == std::size(kTypes));
    return kTypes[body.index()];
}

std::string encodeHaMessage(const HaEnvelope& envelope, const HaBody& body) {
    std::string out;
    StringSink sink{&out};
    Packer pk(sink);
    packEnvelopeHead(pk, envelope, haBodyType(body));
    std::visit(BodyPacker{pk}, body);
    return out;
}

std::string encodeHaSessionBatch(const HaEnvelope& envelope, const HaSessionBatch& batch,
                                 const HaRecordBuffer& records) {
    std::string out;
    out.reserve(records.bytes().size() + 64);
    StringSink sink{&out};
    Packer pk(sink);
    packEnvelopeHead(pk, envelope, HaMessageType::session_batch);
    BodyPacker{pk}.packBatch(batch, records);
    return out;
}

bool peekHaEnvelope(const uint8_t* data, size_t len, HaEnvelope* out) {
    msgpack::object_handle oh;
    if (parse(data, len, &oh) != HaDecodeResult::ok) return false;
    FieldTable t;
    if (t.load(oh.get()) != HaDecodeResult::ok) return false;
    const msgpack::object* v = t.get(kEnvVersion);
    if (!v || readUintAs(*v, UINT32_MAX, &out->version) != HaDecodeResult::ok) return false;
    if (const msgpack::object* o = t.get(kEnvCluster)) readUintAs(*o, UINT32_MAX, &out->cluster_id);
    if (const msgpack::object* o = t.get(kEnvFrom)) readUintAs(*o, 255, &out->from);
    if (const msgpack::object* o = t.get(kEnvTo)) readUintAs(*o, 255, &out->to);
    return true;
}

HaDecodeResult decodeHaMessage(const uint8_t* data, size_t len, const HaDecodeExpect& expect,
                               HaMessage* out) {
    // Session batches are nearly all the traffic: read them in place when
    // they have the layout this build writes, else decode generically.
    if (ha_wire::decodeSessionBatchDirect(data, len, expect, out)) return HaDecodeResult::ok;
    return ha_wire::decodeHaMessageGeneric(data, len, expect, out);
}

HaDecodeResult ha_wire::decodeHaMessageGeneric(const uint8_t* data, size_t len,
                                               const HaDecodeExpect& expect, HaMessage* out) {
    msgpack::object_handle oh;
    TANDEM_HA_TRY(parse(data, len, &oh));
    FieldTable t;
    if (oh.get().type != msgpack::type::MAP) return HaDecodeResult::not_envelope;
    TANDEM_HA_TRY(t.load(oh.get()));
    TANDEM_HA_TRY(decodeEnvelope(t, &out->envelope));
    if (out->envelope.cluster_id != expect.cluster_id) return HaDecodeResult::wrong_cluster;
    if (out->envelope.to != expect.self || out->envelope.from == expect.self)
        return HaDecodeResult::not_for_us;
    const msgpack::object* body = t.get(kEnvBody);
    if (!body) return HaDecodeResult::missing_field;
    if (body->type != msgpack::type::MAP) return HaDecodeResult::wrong_field_type;
    try {
        return decodeBody(out->envelope.type, *body, &out->body);
    } catch (const std::bad_alloc&) {
        return HaDecodeResult::oversized;
    }
}

}  // namespace tandem
