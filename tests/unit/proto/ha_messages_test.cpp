// HA messages: every type round-trips, and every kind of bad input is
// rejected with its named reason (never a crash, never a half-decoded message).
#include "proto/ha_messages.h"

#include <doctest/doctest.h>
#include <msgpack.hpp>

#include <cstring>
#include <random>
#include <set>
#include <string>

#include "proto/ha_wire_reader.h"

namespace tandem {
namespace {

constexpr uint32_t kCluster = 7;
const HaDecodeExpect kExpect{kCluster, 2};

HaEnvelope envelope() {
    HaEnvelope e;
    e.cluster_id = kCluster;
    e.from = 1;
    e.to = 2;
    return e;
}

Session sampleSession(uint32_t i, uint32_t now_ms) {
    Session s;
    FlowTuple t;
    t.src = IpAddr::fromV4(0x0a000001 + i);
    t.dst = IpAddr::fromV4(0xc0a80001);
    t.sport = uint16_t(1024 + i);
    t.dport = 443;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    t.context = 3;
    s.setKey(makeFlowKey(t));
    s.state = SessionState::tcp_established;
    s.owner = 1;
    s.backup_owner = 2;
    s.origin_owner = 1;
    s.flags = kSessionInitiatorIsLo | kSessionLog;
    s.version = 40 + i;
    s.rule = 12;
    s.expires_ms = now_ms + 300000;
    s.created_s = now_ms / 1000 - 30;
    s.setCounts(0, 10, 1500);
    s.setCounts(1, 9, 90000);
    s.win[0] = TcpWindow{1000, 2000, 65535, 7, kWinScaleSeen | kWinInitialised};
    s.win[1] = TcpWindow{5000, 6000, 29200, 9, kWinInitialised};
    return s;
}

NatBinding sampleNat() {
    return NatBinding{0x0b000001, 40000, 1, 0};
}

template <typename T>
T roundTrip(const T& body) {
    const std::string bytes = encodeHaMessage(envelope(), body);
    HaMessage m;
    REQUIRE(decodeHaMessage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kExpect,
                            &m) == HaDecodeResult::ok);
    CHECK(m.envelope.from == 1);
    CHECK(m.envelope.to == 2);
    CHECK(m.envelope.cluster_id == kCluster);
    REQUIRE(std::holds_alternative<T>(m.body));
    return std::get<T>(m.body);
}

HaDecodeResult decode(const std::string& bytes, HaMessage* m = nullptr) {
    HaMessage scratch;
    return decodeHaMessage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), kExpect,
                           m ? m : &scratch);
}

// Hand-built messages for the malformed cases.
using Buffer = msgpack::sbuffer;
using Pk = msgpack::packer<Buffer>;

struct EnvelopeFields {
    uint64_t version = kHaProtocolVersion;
    uint64_t type = uint64_t(HaMessageType::ack);
    uint64_t cluster = kCluster;
    uint64_t from = 1;
    uint64_t to = 2;
};

template <typename BodyFn>
std::string handBuilt(const EnvelopeFields& f, BodyFn body) {
    Buffer b;
    Pk pk(b);
    pk.pack_map(6);
    pk.pack(0), pk.pack(f.version);
    pk.pack(1), pk.pack(f.type);
    pk.pack(2), pk.pack(f.cluster);
    pk.pack(3), pk.pack(f.from);
    pk.pack(4), pk.pack(f.to);
    pk.pack(5);
    body(pk);
    return std::string(b.data(), b.size());
}

void ackBody(Pk& pk) {
    pk.pack_map(2);
    pk.pack(0), pk.pack(1);
    pk.pack(1), pk.pack(5);
}

// A SESSION_BATCH with one hand-written record array.
template <typename RecordFn>
std::string batchWithRecord(RecordFn record) {
    EnvelopeFields f;
    f.type = uint64_t(HaMessageType::session_batch);
    return handBuilt(f, [&](Pk& pk) {
        pk.pack_map(5);
        pk.pack(0), pk.pack(1);
        pk.pack(1), pk.pack(1);
        pk.pack(2), pk.pack(false);
        pk.pack(3), pk.pack(0);
        pk.pack(4), pk.pack_array(1);
        record(pk);
    });
}

void packKeyBin(Pk& pk) {
    const FlowKey k = sampleSession(0, 0).key();
    pk.pack_bin(sizeof(FlowKey));
    pk.pack_bin_body(reinterpret_cast<const char*>(&k), sizeof(FlowKey));
}

// A valid 19-field upsert record, with `fields` total (extra ones are
// trailing integers) and field `bad` replaced by `bad_value`; its key is
// `key` if given.
void packUpsert(Pk& pk, unsigned fields, int bad = -1, int64_t bad_value = 0,
                const FlowKey* key = nullptr) {
    pk.pack_array(fields);
    for (unsigned i = 0; i < fields; ++i) {
        if (int(i) == bad) {
            pk.pack(bad_value);
            continue;
        }
        switch (i) {
            case 0:
                pk.pack(1);
                break;
            case 1:
                if (key) {
                    pk.pack_bin(sizeof(FlowKey));
                    pk.pack_bin_body(reinterpret_cast<const char*>(key), sizeof(FlowKey));
                } else {
                    packKeyBin(pk);
                }
                break;
            case 3:
                pk.pack(uint8_t(SessionState::tcp_established));
                break;
            case 5:
                pk.pack(1);
                break;
            case 10: {
                char w[kHaWindowBytes] = {};
                pk.pack_bin(sizeof w);
                pk.pack_bin_body(w, sizeof w);
                break;
            }
            case 23:
                pk.pack_bin(0);  // no application name
                break;
            default:
                pk.pack(0);
        }
    }
}

TEST_CASE("a hello round-trips with every pre-flight field") {
    HaHello h;
    h.node = 1;
    h.name = "fw-a";
    h.software_version = "0.1.0";
    h.config_fingerprint = 0x1234567890abcdefULL;
    h.peer_link_mtu = 9001;
    h.priority = 50;
    h.incarnation = 99;
    h.session_owner = 1;
    h.revert = false;
    h.preempt = true;
    h.heartbeat_interval_ms = 25;
    h.hold_time_ms = 100;
    h.members_mask = 0b11;
    h.zones_hash = 5;
    h.rules_count = 12;
    h.rules_hash = 77;
    h.dataplane_mode = 1;
    h.peer_link_transport = 1;
    h.peer_link_detect_ms = 60;
    h.nat_steering = "2 workers, software steering";
    const HaHello d = roundTrip(h);
    CHECK(d.node == 1);
    CHECK(d.name == "fw-a");
    CHECK(d.software_version == "0.1.0");
    CHECK(d.config_fingerprint == h.config_fingerprint);
    CHECK(d.peer_link_mtu == 9001);
    CHECK(d.priority == 50);
    CHECK(d.incarnation == 99);
    CHECK(d.session_owner == 1);
    CHECK(d.revert == false);
    CHECK(d.preempt == true);
    CHECK(d.heartbeat_interval_ms == 25);
    CHECK(d.hold_time_ms == 100);
    CHECK(d.members_mask == 0b11);
    CHECK(d.zones_hash == 5);
    CHECK(d.rules_count == 12);
    CHECK(d.rules_hash == 77);
    CHECK(d.dataplane_mode == 1);
    CHECK(d.peer_link_transport == 1);
    CHECK(d.peer_link_detect_ms == 60);
    CHECK(d.nat_steering == "2 workers, software steering");
}

TEST_CASE("a hello whose name or version is not printable ASCII is refused") {
    // Names reach logs, the JSON status and the shell: a byte that is not
    // UTF-8 made `show high-availability state` fail with an internal error.
    HaHello h;
    h.node = 1;
    h.name = "fw-a";
    h.software_version = "0.1.0";
    h.incarnation = 1;
    for (const char* bad : {"fw\xff", "fw\x1b[2J", "fw\n", "n\xc3\xb6"}) {
        HaHello n = h;
        n.name = bad;
        CHECK(decode(encodeHaMessage(envelope(), n)) == HaDecodeResult::bad_value);
        HaHello v = h;
        v.software_version = bad;
        CHECK(decode(encodeHaMessage(envelope(), v)) == HaDecodeResult::bad_value);
    }
    h.name = std::string(kMaxHaNameBytes, '~');
    h.software_version = "0.1.0-rc1+g1234 (debug)";
    CHECK(roundTrip(h).name == h.name);
}

TEST_CASE("a heartbeat round-trips with the sender's view of the members") {
    HaHeartbeat hb;
    hb.state = NodeState::active_secondary;
    hb.priority = 7;
    hb.seq = 123456789012ULL;
    hb.sent_us = 42;
    hb.incarnation = 5;
    hb.primary = false;
    hb.members = {{1, NodeState::active_primary, true, 17}, {3, NodeState::tentative, false, 0}};
    hb.bulk_received = 100;
    hb.bulk_expected = 250;
    hb.links_ok = false;
    const HaHeartbeat d = roundTrip(hb);
    CHECK(d.state == NodeState::active_secondary);
    CHECK(d.priority == 7);
    CHECK(d.seq == hb.seq);
    CHECK(d.sent_us == 42);
    CHECK(d.incarnation == 5);
    CHECK_FALSE(d.primary);
    REQUIRE(d.members.size() == 2);
    CHECK(d.members[0].id == 1);
    CHECK(d.members[0].state == NodeState::active_primary);
    CHECK(d.members[0].alive);
    CHECK(d.members[0].incarnation == 17);
    CHECK(d.members[1].id == 3);
    CHECK_FALSE(d.members[1].alive);
    CHECK(d.bulk_received == 100);
    CHECK(d.bulk_expected == 250);
    CHECK_FALSE(d.links_ok);
}

TEST_CASE("a session batch round-trips every replicated field of a session") {
    const uint32_t now = 5'000'000;
    HaSessionBatch b;
    b.stream = 0xabcdef;
    b.seq = 17;
    b.bulk = true;
    b.bulk_id = 3;
    const Session s = sampleSession(1, now);
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, s, sampleNat(), now));
    b.records.push_back(makeHaRecord(HaRecordOp::erase, sampleSession(2, now), now));
    const HaSessionBatch d = roundTrip(b);
    CHECK(d.stream == 0xabcdef);
    CHECK(d.seq == 17);
    CHECK(d.bulk);
    CHECK(d.bulk_id == 3);
    REQUIRE(d.records.size() == 2);
    CHECK(d.records[0].op == HaRecordOp::upsert);
    CHECK(d.records[1].op == HaRecordOp::erase);
    CHECK(d.records[1].session.key() == sampleSession(2, now).key());
    CHECK(d.records[1].session.version == 42);

    // Converted onto a receiver whose clock reads 1 000 000 ms less.
    const uint32_t there = now - 1'000'000;
    const Session r = haRecordToSession(d.records[0], there);
    CHECK(r.key() == s.key());
    CHECK(r.version == s.version);
    CHECK(r.state == s.state);
    CHECK(r.flags == s.flags);
    CHECK(r.owner == 1);
    CHECK(r.backup_owner == 2);
    CHECK(r.origin_owner == 1);
    CHECK(r.rule == 12);
    CHECK(r.expires_ms == there + 300000);
    CHECK(r.created_s == there / 1000 - 30);
    CHECK(r.packets(0) == 10);
    CHECK(r.packets(1) == 9);
    CHECK(r.bytes(0) == 1500);
    CHECK(r.bytes(1) == 90000);
    CHECK(std::memcmp(&r.win, &s.win, sizeof r.win) == 0);
    CHECK(d.records[0].nat.addr == 0x0b000001);
    CHECK(d.records[0].nat.port == 40000);
    CHECK(d.records[0].nat.kind == 1);
}

TEST_CASE("a session already past its expiry arrives with zero time left") {
    const uint32_t now = 1000;
    Session s = sampleSession(0, now);
    s.expires_ms = now - 50;  // expired 50 ms ago
    HaSessionRecord rec = makeHaRecord(HaRecordOp::upsert, s, now);
    CHECK(rec.remaining_ms == -50);
    CHECK(haRecordToSession(rec, 70000).expires_ms == 70000);
}

TEST_CASE("records encoded once into a buffer give the same batch as a record list") {
    const uint32_t now = 77777;
    HaSessionBatch b;
    b.stream = 1;
    b.seq = 2;
    HaRecordBuffer buf;
    for (uint32_t i = 0; i < 300; ++i) {
        b.records.push_back(
            makeHaRecord(HaRecordOp::upsert, sampleSession(i, now), sampleNat(), now));
        buf.add(HaRecordOp::upsert, sampleSession(i, now), sampleNat(), now);
    }
    CHECK(buf.count() == 300);
    const std::string a = encodeHaMessage(envelope(), b);
    const std::string c = encodeHaSessionBatch(envelope(), b, buf);
    CHECK(a == c);
    HaMessage m;
    REQUIRE(decode(c, &m) == HaDecodeResult::ok);
    CHECK(std::get<HaSessionBatch>(m.body).records.size() == 300);
}

TEST_CASE("ack, nack, resync, bulk begin, bulk end and ownership round-trip") {
    HaAck a{9, 1000};
    CHECK(roundTrip(a).seq == 1000);
    CHECK(roundTrip(a).stream == 9);
    HaNack n{9, 44};
    CHECK(roundTrip(n).from_seq == 44);
    HaResyncRequest r{HaResyncReason::gap};
    CHECK(roundTrip(r).reason == HaResyncReason::gap);
    HaBulkBegin bb{9, 3, 12, 100000};
    const HaBulkBegin bbd = roundTrip(bb);
    CHECK(bbd.bulk_id == 12);
    CHECK(bbd.expected == 100000);
    CHECK(bbd.seq == 3);
    HaBulkEnd be{9, 400, 12, 99999};
    const HaBulkEnd bed = roundTrip(be);
    CHECK(bed.count == 99999);
    CHECK(bed.seq == 400);
    HaOwnership o{HaOwnershipKind::giving_back, 1, 2};
    const HaOwnership od = roundTrip(o);
    CHECK(od.kind == HaOwnershipKind::giving_back);
    CHECK(od.subject == 1);
    CHECK(od.target == 2);
}

TEST_CASE("every truncation of a valid message is rejected, never decoded") {
    const uint32_t now = 1234;
    HaSessionBatch b;
    b.seq = 1;
    for (uint32_t i = 0; i < 4; ++i)
        b.records.push_back(makeHaRecord(HaRecordOp::upsert, sampleSession(i, now), now));
    const std::string full = encodeHaMessage(envelope(), b);
    for (size_t len = 0; len < full.size(); ++len) {
        const HaDecodeResult r = decode(full.substr(0, len));
        CHECK_MESSAGE(r == HaDecodeResult::truncated, "length ", len);
    }
}

TEST_CASE("bytes after the message, garbage and a non-map top level are rejected") {
    const std::string ok = encodeHaMessage(envelope(), HaAck{1, 1});
    CHECK(decode(ok + std::string(1, '\0')) == HaDecodeResult::malformed);
    CHECK(decode(std::string("\xc1\xc1\xc1", 3)) == HaDecodeResult::malformed);
    Buffer buf;
    Pk pk(buf);
    pk.pack_array(2), pk.pack(1), pk.pack(2);
    CHECK(decode(std::string(buf.data(), buf.size())) == HaDecodeResult::not_envelope);
}

TEST_CASE("a message over the size limit is refused before parsing") {
    std::string big(kMaxHaMessageBytes + 1, '\0');
    CHECK(decode(big) == HaDecodeResult::oversized);
    // A string longer than any field allows is refused by the parser's limits.
    EnvelopeFields f;
    f.type = uint64_t(HaMessageType::hello);
    const std::string long_name = handBuilt(f, [](Pk& pk) {
        pk.pack_map(1);
        pk.pack(1), pk.pack(std::string(1000, 'x'));
    });
    CHECK(decode(long_name) == HaDecodeResult::oversized);
}

TEST_CASE("the size limit is the largest legal message, and that message decodes") {
    // Every field at the widest its type allows: the encoder's own bound.
    HaSessionRecord widest;
    widest.op = HaRecordOp(200);
    Session& w = widest.session;
    w.version = UINT32_MAX, w.rule = UINT32_MAX;
    w.state = SessionState(255), w.flags = 255;
    w.owner = w.backup_owner = w.origin_owner = 255;
    w.setCounts(0, UINT64_MAX, UINT64_MAX);
    w.setCounts(1, UINT64_MAX, UINT64_MAX);
    widest.remaining_ms = INT64_MIN;
    widest.nat = NatBinding{UINT32_MAX, UINT16_MAX, 255, 0};
    widest.age_s = UINT32_MAX;
    widest.app.app.status = AppStatus::identified;  // the one status that carries a name
    widest.app.app.proto = AppProtocol(255);
    widest.app.name.len = uint8_t(kMaxAppName);
    std::fill_n(widest.app.name.text, kMaxAppName, 'a');
    HaRecordBuffer one;
    one.add(widest);
    CHECK(one.bytes().size() == kMaxHaRecordBytes);

    // The longest legal batch: as wide as the field ranges allow.
    HaSessionBatch b;
    b.stream = b.seq = UINT64_MAX;
    b.bulk = true;
    b.bulk_id = UINT32_MAX;
    HaSessionRecord r = makeHaRecord(HaRecordOp::upsert, sampleSession(0, 0), 0);
    r.session.version = r.session.rule = UINT32_MAX;
    r.session.flags = 255;
    r.session.setCounts(0, UINT64_MAX, UINT64_MAX);
    r.session.setCounts(1, UINT64_MAX, UINT64_MAX);
    r.remaining_ms = INT64_MIN;
    r.nat = NatBinding{UINT32_MAX, UINT16_MAX, 2, 0};
    r.age_s = UINT32_MAX;
    r.app.app.status = AppStatus::identified;
    r.app.app.proto = AppProtocol::tls;
    r.app.name.len = uint8_t(kMaxAppName);
    std::fill_n(r.app.name.text, kMaxAppName, 'a');
    b.records.assign(kMaxHaRecordsPerBatch, r);
    HaEnvelope e = envelope();
    e.cluster_id = UINT32_MAX;
    const std::string bytes = encodeHaMessage(e, b);
    CHECK(bytes.size() <= kMaxHaMessageBytes);
    // Only the narrower legal values are left between them: op, state,
    // owners, NAT kind and app protocol in each record, the envelope's
    // version, type and nodes.
    CHECK(bytes.size() == kMaxHaMessageBytes - kMaxHaRecordsPerBatch * 7 - (4 + 3));
    HaMessage m;
    REQUIRE(decodeHaMessage(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                            HaDecodeExpect{UINT32_MAX, 2}, &m) == HaDecodeResult::ok);
    CHECK(std::get<HaSessionBatch>(m.body).records.size() == kMaxHaRecordsPerBatch);

    // Every other message is far smaller.
    HaHello h;
    h.node = 1;
    h.name = h.software_version = std::string(kMaxHaNameBytes, 'x');
    h.incarnation = 1;
    CHECK(encodeHaMessage(e, h).size() < kMaxHaMessageBytes / 100);
    HaHeartbeat hb;
    hb.incarnation = hb.seq = hb.sent_us = UINT64_MAX;
    for (NodeId id = 1; id <= kMaxNodes; ++id)
        hb.members.push_back(HaMemberView{id, NodeState::active_primary, true, UINT64_MAX});
    CHECK(encodeHaMessage(e, hb).size() < kMaxHaMessageBytes / 100);
}

TEST_CASE("a batch with more records than allowed is refused") {
    EnvelopeFields f;
    f.type = uint64_t(HaMessageType::session_batch);
    const std::string m = handBuilt(f, [](Pk& pk) {
        pk.pack_map(5);
        pk.pack(0), pk.pack(1);
        pk.pack(1), pk.pack(1);
        pk.pack(2), pk.pack(false);
        pk.pack(3), pk.pack(0);
        pk.pack(4), pk.pack_array(kMaxHaRecordsPerBatch + 1);
        for (size_t i = 0; i < kMaxHaRecordsPerBatch + 1; ++i) pk.pack_nil();
    });
    CHECK(decode(m) == HaDecodeResult::too_many_records);
}

// The record as msgpack-c's packer writes it, field by field (the reference
// for the record writer's bytes).
std::string referenceRecord(const HaSessionRecord& r) {
    Buffer b;
    Pk pk(b);
    const Session& s = r.session;
    const FlowKey key = s.key();
    if (r.op == HaRecordOp::erase) {
        pk.pack_array(4);
        pk.pack_uint8(uint8_t(r.op));
        pk.pack_bin(sizeof(FlowKey));
        pk.pack_bin_body(reinterpret_cast<const char*>(&key), sizeof(FlowKey));
        pk.pack_uint32(s.version);
        pk.pack_uint8(s.owner);
        return std::string(b.data(), b.size());
    }
    pk.pack_array(kHaRecordFields);
    pk.pack_uint8(uint8_t(r.op));
    pk.pack_bin(sizeof(FlowKey));
    pk.pack_bin_body(reinterpret_cast<const char*>(&key), sizeof(FlowKey));
    pk.pack_uint32(s.version);
    pk.pack_uint8(uint8_t(s.state));
    pk.pack_uint8(s.flags);
    pk.pack_uint8(s.owner);
    pk.pack_uint8(s.backup_owner);
    pk.pack_uint8(s.origin_owner);
    pk.pack_uint32(s.rule);
    pk.pack_int64(r.remaining_ms);
    pk.pack_bin(kHaWindowBytes);
    char win[kHaWindowBytes];
    for (int d = 0; d < 2; ++d) {
        const TcpWindow& w = s.win[d];
        const uint32_t v[3] = {w.end, w.max_end, w.max_win};
        for (int k = 0; k < 3; ++k)
            for (int i = 0; i < 4; ++i) win[d * 14 + k * 4 + i] = char(v[k] >> (8 * i));
        win[d * 14 + 12] = char(w.wscale);
        win[d * 14 + 13] = char(w.flags);
    }
    pk.pack_bin_body(win, sizeof win);
    pk.pack_uint64(s.packets(0));
    pk.pack_uint64(s.packets(1));
    pk.pack_uint64(s.bytes(0));
    pk.pack_uint64(s.bytes(1));
    pk.pack_uint32(r.nat.addr);
    pk.pack_uint16(r.nat.port);
    pk.pack_uint8(r.nat.kind);
    pk.pack_uint32(r.age_s);
    pk.pack_uint8(s.ingress_port);
    pk.pack_uint8(uint8_t(r.app.app.status));
    pk.pack_uint8(uint8_t(r.app.app.proto));
    pk.pack_uint32(r.app.app.status == AppStatus::pending ? r.app.app.word : 0);
    const uint8_t name_len = r.app.app.status == AppStatus::identified ? r.app.name.len : 0;
    pk.pack_bin(name_len);
    pk.pack_bin_body(r.app.name.text, name_len);
    return std::string(b.data(), b.size());
}

TEST_CASE("records are written byte for byte as msgpack-c packs them, at every integer width") {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 5000; ++i) {
        HaSessionRecord r = makeHaRecord(i % 9 == 0 ? HaRecordOp::erase : HaRecordOp::upsert,
                                         sampleSession(uint32_t(i), 1000), 1000);
        const unsigned bits = unsigned(rng() % 64);  // every width, both signs
        const uint64_t wide = rng() >> bits;
        Session& s = r.session;
        s.version = uint32_t(wide);
        s.flags = uint8_t(rng() >> (rng() % 64));
        s.rule = uint32_t(rng() >> (rng() % 64));
        r.remaining_ms = int64_t(rng()) >> (rng() % 64);
        const uint64_t packets1 = rng() >> (rng() % 64);
        const uint64_t bytes0 = rng() >> (rng() % 64);
        s.setCounts(0, wide, bytes0);
        s.setCounts(1, packets1, rng());
        r.nat.addr = uint32_t(rng() >> (rng() % 64));
        r.nat.port = uint16_t(rng());
        s.win[0].max_win = uint32_t(rng());
        r.age_s = uint32_t(rng() >> (rng() % 64));
        r.app.app.status = AppStatus(rng() % (kMaxAppStatus + 1));
        r.app.app.proto = AppProtocol(rng() % (kMaxAppProtocol + 1));
        r.app.app.word = uint32_t(rng() >> (rng() % 64));
        r.app.name.len = uint8_t(rng() % (kMaxAppName + 1));
        std::fill_n(r.app.name.text, r.app.name.len, 'n');
        HaRecordBuffer buf;
        buf.add(r);
        REQUIRE(buf.bytes() == referenceRecord(r));
    }
}

TEST_CASE("a wrong version, an unknown type and another cluster are refused by name") {
    EnvelopeFields f;
    f.version = 2;
    CHECK(decode(handBuilt(f, ackBody)) == HaDecodeResult::wrong_version);
    HaEnvelope peeked;
    const std::string v2 = handBuilt(f, ackBody);
    REQUIRE(peekHaEnvelope(reinterpret_cast<const uint8_t*>(v2.data()), v2.size(), &peeked));
    CHECK(peeked.version == 2);
    for (uint64_t t : {uint64_t(0), uint64_t(10), uint64_t(200), uint64_t(1) << 40}) {
        EnvelopeFields g;
        g.type = t;
        CHECK(decode(handBuilt(g, ackBody)) == HaDecodeResult::unknown_type);
    }
    EnvelopeFields c;
    c.cluster = kCluster + 1;
    CHECK(decode(handBuilt(c, ackBody)) == HaDecodeResult::wrong_cluster);
}

TEST_CASE("node ids outside 1..16 and messages not meant for us are refused") {
    for (uint64_t bad : {uint64_t(0), uint64_t(17), uint64_t(255), uint64_t(1) << 33}) {
        EnvelopeFields f;
        f.from = bad;
        CHECK(decode(handBuilt(f, ackBody)) == HaDecodeResult::bad_node_id);
        EnvelopeFields g;
        g.to = bad;
        CHECK(decode(handBuilt(g, ackBody)) == HaDecodeResult::bad_node_id);
    }
    EnvelopeFields other;
    other.to = 3;
    CHECK(decode(handBuilt(other, ackBody)) == HaDecodeResult::not_for_us);
    EnvelopeFields self;
    self.from = 2;
    CHECK(decode(handBuilt(self, ackBody)) == HaDecodeResult::not_for_us);
}

TEST_CASE("missing fields and fields of the wrong type are refused") {
    CHECK(decode(handBuilt({}, [](Pk& pk) {
              pk.pack_map(1);
              pk.pack(0), pk.pack(1);
          })) == HaDecodeResult::missing_field);
    CHECK(decode(handBuilt({}, [](Pk& pk) {
              pk.pack_map(2);
              pk.pack(0), pk.pack("one");
              pk.pack(1), pk.pack(5);
          })) == HaDecodeResult::wrong_field_type);
    CHECK(decode(handBuilt({}, [](Pk& pk) {
              pk.pack_map(2);
              pk.pack(0), pk.pack(-1);
              pk.pack(1), pk.pack(5);
          })) == HaDecodeResult::wrong_field_type);
    CHECK(decode(handBuilt({}, [](Pk& pk) { pk.pack_array(0); })) ==
          HaDecodeResult::wrong_field_type);
    // The envelope without a body.
    Buffer b;
    Pk pk(b);
    pk.pack_map(5);
    pk.pack(0), pk.pack(kHaProtocolVersion);
    pk.pack(1), pk.pack(uint8_t(HaMessageType::ack));
    pk.pack(2), pk.pack(kCluster);
    pk.pack(3), pk.pack(1);
    pk.pack(4), pk.pack(2);
    CHECK(decode(std::string(b.data(), b.size())) == HaDecodeResult::missing_field);
}

TEST_CASE("a duplicated key makes a map malformed") {
    CHECK(decode(handBuilt({}, [](Pk& pk) {
              pk.pack_map(3);
              pk.pack(0), pk.pack(1);
              pk.pack(1), pk.pack(5);
              pk.pack(1), pk.pack(6);
          })) == HaDecodeResult::malformed);
}

TEST_CASE("a heartbeat with a state that does not exist is refused") {
    HaHeartbeat hb;
    hb.incarnation = 1;
    std::string bytes = encodeHaMessage(envelope(), hb);
    EnvelopeFields f;
    f.type = uint64_t(HaMessageType::heartbeat);
    const std::string bad = handBuilt(f, [](Pk& pk) {
        pk.pack_map(6);
        pk.pack(0), pk.pack(kMaxNodeStateValue + 1);
        pk.pack(1), pk.pack(1);
        pk.pack(2), pk.pack(1);
        pk.pack(3), pk.pack(1);
        pk.pack(4), pk.pack(1);
        pk.pack(5), pk.pack(false);
    });
    CHECK(decode(bad) == HaDecodeResult::bad_state);
    const std::string bad_member = handBuilt(f, [](Pk& pk) {
        pk.pack_map(7);
        pk.pack(0), pk.pack(1);
        pk.pack(1), pk.pack(1);
        pk.pack(2), pk.pack(1);
        pk.pack(3), pk.pack(1);
        pk.pack(4), pk.pack(1);
        pk.pack(5), pk.pack(false);
        pk.pack(6), pk.pack_array(1);
        pk.pack_map(3);
        pk.pack(0), pk.pack(40);
        pk.pack(1), pk.pack(1);
        pk.pack(2), pk.pack(true);
    });
    CHECK(decode(bad_member) == HaDecodeResult::bad_node_id);
}

TEST_CASE("unknown keys and extra record fields from a newer sender are ignored") {
    EnvelopeFields f;
    const std::string extra_keys = handBuilt(f, [](Pk& pk) {
        pk.pack_map(4);
        pk.pack(0), pk.pack(1);
        pk.pack(1), pk.pack(5);
        pk.pack(9), pk.pack("new field");
        pk.pack("name"), pk.pack(1);
    });
    HaMessage m;
    REQUIRE(decode(extra_keys, &m) == HaDecodeResult::ok);
    CHECK(std::get<HaAck>(m.body).seq == 5);
    REQUIRE(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields + 3); }), &m) ==
            HaDecodeResult::ok);
    CHECK(std::get<HaSessionBatch>(m.body).records.size() == 1);
}

TEST_CASE("records with bad keys, owners, states or too few fields are refused") {
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaUpsertMinFields - 1); })) ==
          HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 5, 0); })) ==
          HaDecodeResult::bad_node_id);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 6, 17); })) ==
          HaDecodeResult::bad_node_id);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 3, 200); })) ==
          HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 0, 3); })) ==
          HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 17, 9); })) ==
          HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields, 1, 5); })) ==
          HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) {
              pk.pack_array(3);
              pk.pack(2);
              pk.pack_bin(10);
              pk.pack_bin_body("0123456789", 10);
              pk.pack(1);
          })) == HaDecodeResult::bad_record);
    CHECK(decode(batchWithRecord([](Pk& pk) { pk.pack("not a record"); })) ==
          HaDecodeResult::bad_record);
}

TEST_CASE("random corruption of a valid batch never crashes the decoder") {
    const uint32_t now = 99;
    HaSessionBatch b;
    b.seq = 1;
    for (uint32_t i = 0; i < 8; ++i)
        b.records.push_back(makeHaRecord(HaRecordOp::upsert, sampleSession(i, now), now));
    const std::string good = encodeHaMessage(envelope(), b);
    std::mt19937 rng(12345);
    std::set<HaDecodeResult> seen;
    for (int round = 0; round < 20000; ++round) {
        std::string bad = good;
        const int flips = 1 + int(rng() % 4);
        for (int k = 0; k < flips; ++k) bad[rng() % bad.size()] = char(rng());
        HaMessage m;
        const HaDecodeResult r = decode(bad, &m);
        REQUIRE(size_t(r) < kHaDecodeResultCount);
        seen.insert(r);
    }
    CHECK(seen.size() > 3);
}

// What a decoded message says, as bytes: two decodings agree when these do.
std::string reencoded(const HaMessage& m) {
    return encodeHaMessage(m.envelope, m.body);
}

bool readInPlace(const std::string& bytes, HaMessage* m) {
    return ha_wire::decodeSessionBatchDirect(reinterpret_cast<const uint8_t*>(bytes.data()),
                                             bytes.size(), kExpect, m);
}

HaDecodeResult decodeGeneric(const std::string& bytes, HaMessage* m) {
    return ha_wire::decodeHaMessageGeneric(reinterpret_cast<const uint8_t*>(bytes.data()),
                                           bytes.size(), kExpect, m);
}

// Both decoders of a session batch, each required to take it.
void decodeBoth(const std::string& bytes, HaMessage* direct, HaMessage* generic) {
    REQUIRE(readInPlace(bytes, direct));
    REQUIRE(decodeGeneric(bytes, generic) == HaDecodeResult::ok);
}

HaSessionBatch mixedBatch(uint32_t n, uint32_t now) {
    HaSessionBatch b;
    b.stream = 0x1234567890ull;
    b.seq = 99;
    b.bulk = true;
    b.bulk_id = 70000;
    for (uint32_t i = 0; i < n; ++i) {
        Session s = sampleSession(i, now);
        s.setCounts(1, uint64_t(1) << (i % 64), s.bytes(1));  // every integer width
        if (i % 5 == 1) s.expires_ms = now - i;               // negative remaining time
        if (i % 7 == 2) {
            uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8}, z[16] = {0x20, 0x01, 0x0d, 0xb8, 1};
            z[15] = uint8_t(i);
            s.setKey(makeFlowKey(FlowTuple{IpAddr::fromV6Bytes(a), IpAddr::fromV6Bytes(z), 1, 2,
                                           kProtoUdp, AddrFamily::v6, 0}));
        }
        b.records.push_back(
            makeHaRecord(i % 3 == 2 ? HaRecordOp::erase : HaRecordOp::upsert, s, now));
    }
    return b;
}

TEST_CASE(
    "a batch as this build writes it is read in place, the same as the generic decoder reads it") {
    const std::string bytes = encodeHaMessage(envelope(), mixedBatch(300, 123456));
    HaMessage direct, generic;
    REQUIRE(readInPlace(bytes, &direct));
    REQUIRE(decodeGeneric(bytes, &generic) == HaDecodeResult::ok);
    CHECK(reencoded(direct) == reencoded(generic));
    CHECK(reencoded(direct) == bytes);
    CHECK(std::get<HaSessionBatch>(direct.body).records.size() == 300);
}

TEST_CASE("an IPv4 key whose addresses are not v4-mapped is refused by both readers") {
    // The session table compares an IPv4 key's last four address bytes only
    // (Session::hasKey), so a replica must not bring any other IPv4 key.
    FlowKey k = sampleSession(0, 0).key();
    k.hi.b[3] = 0x42;
    const std::string bad =
        batchWithRecord([&](Pk& pk) { packUpsert(pk, kHaRecordFields, -1, 0, &k); });
    HaMessage m;
    CHECK_FALSE(readInPlace(bad, &m));
    CHECK(decodeGeneric(bad, &m) == HaDecodeResult::bad_record);
    CHECK(decode(bad, &m) == HaDecodeResult::bad_record);
    // The same record with the key as the parser builds it is accepted.
    const FlowKey good = sampleSession(0, 0).key();
    CHECK(decode(batchWithRecord([&](Pk& pk) { packUpsert(pk, kHaRecordFields, -1, 0, &good); }),
                 &m) == HaDecodeResult::ok);
}

TEST_CASE("records out of range are dropped by both readers, counted, and the rest kept") {
    const uint32_t now = 5000;
    HaSessionBatch b;
    b.seq = 1;
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, sampleSession(0, now), now));
    for (uint8_t wscale : {uint8_t(15), uint8_t(255)}) {
        Session s = sampleSession(1, now);
        s.win[wscale & 1].wscale = wscale;
        b.records.push_back(makeHaRecord(HaRecordOp::upsert, s, now));
    }
    Session none = sampleSession(2, now);
    none.state = SessionState::none;
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, none, now));
    Session swapped = sampleSession(3, now);
    FlowKey k = swapped.key();
    std::swap(k.lo, k.hi);
    std::swap(k.lo_port, k.hi_port);
    swapped.setKey(k);
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, swapped, now));
    b.records.push_back(makeHaRecord(HaRecordOp::erase, swapped, now));
    // An erase carries no state, and the largest legal scale passes.
    Session edge = sampleSession(4, now);
    edge.win[0].wscale = edge.win[1].wscale = kMaxTcpWindowScale;
    b.records.push_back(makeHaRecord(HaRecordOp::upsert, edge, now));
    b.records.push_back(makeHaRecord(HaRecordOp::erase, none, now));
    const std::string bytes = encodeHaMessage(envelope(), b);

    HaMessage direct, generic;
    REQUIRE(readInPlace(bytes, &direct));
    REQUIRE(decodeGeneric(bytes, &generic) == HaDecodeResult::ok);
    for (const HaMessage* m : {&direct, &generic}) {
        const HaSessionBatch& got = std::get<HaSessionBatch>(m->body);
        CHECK(got.rejected == 5);
        REQUIRE(got.records.size() == 3);
        CHECK(got.records[0].session.hasKey(sampleSession(0, now).key()));
        CHECK(got.records[1].session.hasKey(edge.key()));
        CHECK(got.records[2].op == HaRecordOp::erase);
        CHECK(got.records[2].session.hasKey(none.key()));
        for (const HaSessionRecord& r : got.records) CHECK(haRecordValid(r));
    }
    CHECK(reencoded(direct) == reencoded(generic));
    // The generic decoder drops them in any layout it reads.
    HaMessage m;
    REQUIRE(decode(batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields + 1, 3, 0); }),
                   &m) == HaDecodeResult::ok);
    CHECK(std::get<HaSessionBatch>(m.body).records.empty());
    CHECK(std::get<HaSessionBatch>(m.body).rejected == 1);
}

TEST_CASE("a key whose endpoints are equal addresses is in order when its ports are") {
    HaSessionRecord r = makeHaRecord(HaRecordOp::upsert, sampleSession(0, 0), 0);
    FlowKey k = r.session.key();
    k.hi = k.lo;
    k.lo_port = 80, k.hi_port = 80;
    r.session.setKey(k);
    CHECK(haRecordValid(r));
    k.lo_port = 81;
    r.session.setKey(k);
    CHECK_FALSE(haRecordValid(r));
}

TEST_CASE("other valid layouts of a batch are left to the generic decoder") {
    HaMessage m;
    // A newer sender's extra record fields: valid, not this build's layout.
    const std::string extra = batchWithRecord([](Pk& pk) { packUpsert(pk, kHaRecordFields + 3); });
    CHECK_FALSE(readInPlace(extra, &m));
    CHECK(decode(extra, &m) == HaDecodeResult::ok);
    // Envelope keys in another order.
    Buffer b;
    Pk pk(b);
    pk.pack_map(6);
    pk.pack(1), pk.pack(uint8_t(HaMessageType::session_batch));
    pk.pack(0), pk.pack(kHaProtocolVersion);
    pk.pack(2), pk.pack(kCluster);
    pk.pack(3), pk.pack(1);
    pk.pack(4), pk.pack(2);
    pk.pack(5), pk.pack_map(5);
    pk.pack(0), pk.pack(1);
    pk.pack(1), pk.pack(1);
    pk.pack(2), pk.pack(false);
    pk.pack(3), pk.pack(0);
    pk.pack(4), pk.pack_array(1);
    packUpsert(pk, kHaRecordFields);
    const std::string reordered(b.data(), b.size());
    CHECK_FALSE(readInPlace(reordered, &m));
    CHECK(decode(reordered, &m) == HaDecodeResult::ok);
    // Other message types.
    CHECK_FALSE(readInPlace(encodeHaMessage(envelope(), HaAck{1, 2}), &m));
}

TEST_CASE(
    "the in-place reader accepts nothing the generic decoder refuses, and reads it the same") {
    const std::string good = encodeHaMessage(envelope(), mixedBatch(12, 5000));
    std::mt19937 rng(777);
    size_t direct_ok = 0, direct_refused = 0;
    for (int round = 0; round < 40000; ++round) {
        std::string bad = good;
        if (round % 10 == 0) {
            bad.resize(rng() % good.size());
        } else {
            const int flips = 1 + int(rng() % 3);
            for (int k = 0; k < flips; ++k) {
                const size_t at = rng() % bad.size();
                // Small changes find more accepted variants than random bytes.
                bad[at] = char(rng() % 2 ? rng() : uint8_t(bad[at]) + (rng() % 3) - 1);
            }
        }
        HaMessage direct, generic;
        const bool in_place = readInPlace(bad, &direct);
        const HaDecodeResult r = decodeGeneric(bad, &generic);
        CHECK(decode(bad) == r);
        if (in_place) {
            ++direct_ok;
            REQUIRE(r == HaDecodeResult::ok);
            REQUIRE(reencoded(direct) == reencoded(generic));
        } else {
            ++direct_refused;
        }
    }
    CHECK(direct_ok > 1000);  // mutations inside values that stay valid
    CHECK(direct_refused > 1000);
}

TEST_CASE("decode result names are unique and printable") {
    std::set<std::string_view> names;
    for (const CounterInfo& c : kHaDecodeResultInfo) names.insert(c.name);
    CHECK(names.size() == kHaDecodeResultCount);
    CHECK(std::string(haDecodeResultName(HaDecodeResult::bad_node_id)) == "bad_node_id");
    CHECK(std::string(haMessageTypeName(HaMessageType::session_batch)) == "session-batch");
    CHECK(haTypeIsControl(HaMessageType::heartbeat));
    CHECK_FALSE(haTypeIsControl(HaMessageType::session_batch));
}

}  // namespace
}  // namespace tandem

namespace tandem {

TEST_CASE(
    "a record carries its ingress port - a record of an older sender (19 fields) reads as not "
    "known") {
    HaSessionBatch batch;
    batch.stream = 5;
    batch.seq = 1;
    Session s = sampleSession(0, 1000);
    s.ingress_port = 1;
    batch.records.push_back(makeHaRecord(HaRecordOp::upsert, s, 1000));
    const std::string bytes = encodeHaMessage(envelope(), batch);
    HaMessage direct, generic;
    decodeBoth(bytes, &direct, &generic);
    for (const HaMessage* m : {&direct, &generic}) {
        const auto& b = std::get<HaSessionBatch>(m->body);
        REQUIRE(b.records.size() == 1);
        CHECK(b.records[0].session.ingress_port == 1);
    }

    // The same message with the record cut to its first 19 fields.
    msgpack::object_handle oh = msgpack::unpack(bytes.data(), bytes.size());
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> pk(buf);
    const msgpack::object& env = oh.get();
    REQUIRE(env.type == msgpack::type::MAP);
    pk.pack_map(env.via.map.size);
    for (uint32_t i = 0; i < env.via.map.size; ++i) {
        const msgpack::object_kv& kv = env.via.map.ptr[i];
        pk.pack(kv.key);
        if (kv.val.type != msgpack::type::MAP) {
            pk.pack(kv.val);
            continue;
        }
        pk.pack_map(kv.val.via.map.size);  // the body: its records array is key 4
        for (uint32_t j = 0; j < kv.val.via.map.size; ++j) {
            const msgpack::object_kv& bkv = kv.val.via.map.ptr[j];
            pk.pack(bkv.key);
            if (bkv.val.type != msgpack::type::ARRAY) {
                pk.pack(bkv.val);
                continue;
            }
            pk.pack_array(bkv.val.via.array.size);
            for (uint32_t r = 0; r < bkv.val.via.array.size; ++r) {
                const msgpack::object& rec = bkv.val.via.array.ptr[r];
                REQUIRE(rec.via.array.size == kHaRecordFields);
                pk.pack_array(19);
                for (uint32_t f = 0; f < 19; ++f) pk.pack(rec.via.array.ptr[f]);
            }
        }
    }
    HaMessage older;
    REQUIRE(decodeHaMessage(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), kExpect,
                            &older) == HaDecodeResult::ok);
    const auto& b = std::get<HaSessionBatch>(older.body);
    REQUIRE(b.records.size() == 1);
    CHECK(b.records[0].session.ingress_port == kUnknownPort);
    CHECK(b.records[0].session.rule == s.rule);
}

TEST_CASE(
    "a record carries its application identity through both readers - a bad name is refused") {
    HaSessionBatch batch;
    batch.stream = 5;
    batch.seq = 1;
    HaSessionRecord named = makeHaRecord(HaRecordOp::upsert, sampleSession(0, 1000), 1000);
    named.app.app.status = AppStatus::identified;
    named.app.app.proto = AppProtocol::tls;
    const std::string name = "www.example.com";
    std::copy(name.begin(), name.end(), named.app.name.text);
    named.app.name.len = uint8_t(name.size());
    HaSessionRecord pending = makeHaRecord(HaRecordOp::upsert, sampleSession(1, 1000), 1000);
    pending.app.app.status = AppStatus::pending;
    pending.app.app.word = 0xfedcba98;  // the client's first payload byte
    HaSessionRecord upper = named;      // not canonical: refused
    upper.session = sampleSession(2, 1000);
    upper.app.name.text[0] = 'W';
    batch.records = {named, pending, upper};
    const std::string bytes = encodeHaMessage(envelope(), batch);
    HaMessage direct, generic;
    decodeBoth(bytes, &direct, &generic);
    for (const HaMessage* m : {&direct, &generic}) {
        const auto& b = std::get<HaSessionBatch>(m->body);
        REQUIRE(b.records.size() == 2);
        CHECK(b.rejected == 1);
        CHECK(b.records[0].app.app.status == AppStatus::identified);
        CHECK(b.records[0].app.app.proto == AppProtocol::tls);
        CHECK(b.records[0].app.name.view() == "www.example.com");
        CHECK(b.records[1].app.app.status == AppStatus::pending);
        CHECK(b.records[1].app.app.word == 0xfedcba98);
        CHECK(b.records[1].app.name.len == 0);
    }
}

}  // namespace tandem
