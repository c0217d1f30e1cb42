// HA messages: everything two HA agents say to each other over the control
// and sync channels (HA1/HA2 style, docs/wire-formats.md), msgpack-encoded.
//
// Every message is one msgpack map, the envelope, with pinned integer keys:
//   {0: protocol version, 1: message type, 2: cluster id, 3: from node,
//    4: to node, 5: body}
// and every body is a map with pinned integer keys per type (listed at each
// struct below). Keys and type numbers are never renumbered or reused;
// decoders ignore keys they do not know, so a newer peer may add fields.
// Session records inside SESSION_BATCH are positional arrays (see
// proto/ha_session_record.h); extra trailing fields are ignored likewise.
//
// Decoding never trusts its input: a size cap is checked before parsing,
// msgpack container sizes are capped during parsing, every field's type and
// range is checked, and node ids and states are validated. The result is a
// named HaDecodeResult that callers count (TANDEM_COUNTER_ENUM table below);
// a rejected message leaves nothing behind. A session record that decodes
// but that haRecordValid() refuses is dropped alone (HaSessionBatch::rejected). This header is the
// reference for the format; ha/README.md explains how the agent uses it.
//
// Thread-safety: all functions are pure (no shared state); any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cluster/node_state.h"
#include "core/counters.h"
#include "core/node_id.h"
#include "proto/ha_session_record.h"

namespace tandem {

/// The HA protocol version this build speaks (envelope key 0). A message
/// with any other version is rejected (wrong_version) and counted.
inline constexpr uint32_t kHaProtocolVersion = 1;

/// Largest number of records in one SESSION_BATCH.
inline constexpr size_t kMaxHaRecordsPerBatch = 2048;
/// Longest envelope before its body: a fixmap head, six fixint keys, the
/// version and cluster id as uint32 and the type, from and to as uint8.
inline constexpr size_t kMaxHaEnvelopeHeadBytes = 1 + 6 + 5 + 5 + 3 * 2;
/// Longest SESSION_BATCH body before its records: a fixmap head, five
/// fixint keys, stream and seq as uint64, the bulk flag, the bulk id as
/// uint32 and the records' array16 head.
inline constexpr size_t kMaxHaBatchHeadBytes = 1 + 5 + 2 * 9 + 1 + 5 + 3;
/// Largest legal encoded message: a SESSION_BATCH of kMaxHaRecordsPerBatch
/// records of the longest form (every other body is far smaller; the unit
/// tests check the largest HELLO and HEARTBEAT). Decoders refuse anything
/// longer before parsing, and the transport refuses to receive a longer
/// frame at all (ZMQ_MAXMSGSIZE, ha/zmq_transport.cpp).
inline constexpr size_t kMaxHaMessageBytes =
    kMaxHaEnvelopeHeadBytes + kMaxHaBatchHeadBytes + kMaxHaRecordsPerBatch * kMaxHaRecordBytes;
/// Longest node name / software version string in HELLO.
inline constexpr size_t kMaxHaNameBytes = 64;

/// Message types (envelope key 1). Pinned; never reused.
enum class HaMessageType : uint8_t {
    hello = 1,           ///< pre-flight: identity, version, config fingerprint
    heartbeat = 2,       ///< liveness, state, the sender's view of the members
    session_batch = 3,   ///< replicated session records (sequenced, sync channel)
    ack = 4,             ///< cumulative acknowledgement of a sync stream
    nack = 5,            ///< "resend from seq": a gap was seen
    resync_request = 6,  ///< "send me everything": a bulk sync is wanted
    bulk_begin = 7,      ///< a bulk sync starts (sequenced)
    bulk_end = 8,        ///< a bulk sync is complete (sequenced)
    ownership = 9,       ///< a notice: a node gives back / takes back sessions
};
inline constexpr uint8_t kMaxHaMessageType = 9;

/// "hello", "heartbeat", ...; "?" for a value that is not a type.
const char* haMessageTypeName(HaMessageType t);

/// Which HA channel a message type travels on: heartbeats and hellos never
/// queue behind sync traffic.
inline constexpr bool haTypeIsControl(HaMessageType t) {
    return t == HaMessageType::hello || t == HaMessageType::heartbeat ||
           t == HaMessageType::ownership;
}

#define TANDEM_HA_DECODE_RESULTS(X)                                                  \
    X(ok, "HA message accepted")                                                     \
    X(oversized, "message or one of its containers larger than the protocol allows") \
    X(truncated, "message ends before its msgpack value does")                       \
    X(malformed, "not valid msgpack, or bytes after the message")                    \
    X(not_envelope, "top level is not an envelope map")                              \
    X(missing_field, "a required field is absent")                                   \
    X(wrong_field_type, "a field has the wrong msgpack type")                        \
    X(wrong_version, "protocol version not spoken here")                             \
    X(unknown_type, "message type not known")                                        \
    X(wrong_cluster, "message from another cluster id")                              \
    X(bad_node_id, "a node id outside 1..16")                                        \
    X(not_for_us, "message addressed to another node (or from ourselves)")           \
    X(bad_state, "a node state value that does not exist")                           \
    X(bad_value, "a field value out of its range")                                   \
    X(too_many_records, "a session batch with more records than allowed")            \
    X(bad_record, "a session record that does not decode")

TANDEM_COUNTER_ENUM(HaDecodeResult, TANDEM_HA_DECODE_RESULTS)

/// "ok", "truncated", ... (the counter name).
const char* haDecodeResultName(HaDecodeResult r);

/// Envelope fields. `type` is set by the encoder from the body.
struct HaEnvelope {
    uint32_t version = kHaProtocolVersion;
    HaMessageType type = HaMessageType::heartbeat;
    uint32_t cluster_id = 0;
    NodeId from = kNoNode;
    NodeId to = kNoNode;
};

/// HELLO body: {0 node, 1 name, 2 software version, 3 config fingerprint,
/// 4 peer-link MTU, 5 priority, 6 incarnation, 7 session-owner, 8 revert,
/// 9 preempt, 10 heartbeat ms, 11 hold ms, 12 configured members mask,
/// 13 zones hash, 14 rules count, 15 rules hash, 16 dataplane mode,
/// 17 peer-link transport, 18 peer-link detect ms}. Peers compare these before pairing.
struct HaHello {
    NodeId node = kNoNode;
    std::string name;              ///< printable ASCII, as every other string here
    std::string software_version;  ///< TANDEM_VERSION, "0.1.0"
    uint64_t config_fingerprint = 0;
    uint32_t peer_link_mtu = 0;  ///< 0 = unknown
    uint8_t priority = 100;
    uint64_t incarnation = 0;   ///< changes on every agent start
    uint8_t session_owner = 0;  ///< OwnerElection
    bool revert = true;
    bool preempt = false;
    uint32_t heartbeat_interval_ms = 0;
    uint32_t hold_time_ms = 0;
    uint16_t members_mask = 0;  ///< nodeBit() of every configured node
    uint64_t zones_hash = 0;
    uint32_t rules_count = 0;
    uint64_t rules_hash = 0;
    uint8_t dataplane_mode = 0;        ///< DataplaneMode
    uint8_t peer_link_transport = 0;   ///< PeerLinkTransport
    uint32_t peer_link_detect_ms = 0;  ///< [ha] peer-link-detect-ms (0 = off)
    /// With [nat]: the workers and steering (natSteeringText), which must
    /// be equal on every node; empty without.
    std::string nat_steering;
};

/// One member as the heartbeat's sender sees it: {0 id, 1 state, 2 alive,
/// 3 incarnation it paired with} (a map, like a body).
struct HaMemberView {
    NodeId id = kNoNode;
    NodeState state = NodeState::initial;
    bool alive = false;
    uint64_t incarnation = 0;  ///< 0 = not paired with that node
};

/// HEARTBEAT body: {0 state, 1 priority, 2 seq, 3 sent µs (sender clock),
/// 4 incarnation, 5 claims primary, 6 members[], 7 bulk received,
/// 8 bulk expected, 9 data links ok, 10 policy hash, 11 rule count}.
struct HaHeartbeat {
    NodeState state = NodeState::initial;
    uint8_t priority = 100;
    uint64_t seq = 0;
    uint64_t sent_us = 0;
    uint64_t incarnation = 0;
    bool primary = false;               ///< the sender holds the primary role
    std::vector<HaMemberView> members;  ///< at most kMaxNodes
    uint64_t bulk_received = 0;         ///< records received by the sender's current bulk sync
    uint64_t bulk_expected = 0;         ///< 0 = unknown
    bool links_ok = true;
    /// The sender's policy now (policyHash() and rule count): changes with a
    /// reload, so peers see it between HELLOs. 0 from senders before it.
    uint64_t rules_hash = 0;
    uint32_t rules_count = 0;
};

/// SESSION_BATCH body: {0 stream, 1 seq, 2 bulk, 3 bulk id, 4 records[]}.
struct HaSessionBatch {
    uint64_t stream = 0;  ///< sender's stream id (changes when the stream restarts)
    uint64_t seq = 0;     ///< position in the stream, from 1
    bool bulk = false;
    uint32_t bulk_id = 0;
    std::vector<HaSessionRecord> records;
    /// Not on the wire: records the decoder dropped because haRecordValid()
    /// refused them (they are not in `records`).
    uint32_t rejected = 0;
};

/// ACK body: {0 stream, 1 seq}: every message up to `seq` arrived and was applied.
struct HaAck {
    uint64_t stream = 0;
    uint64_t seq = 0;
};

/// NACK body: {0 stream, 1 from seq}: resend from `from_seq` on.
struct HaNack {
    uint64_t stream = 0;
    uint64_t from_seq = 0;
};

enum class HaResyncReason : uint8_t { requested = 0, restarted = 1, gap = 2, operator_request = 3 };
inline constexpr uint8_t kMaxHaResyncReason = 3;

/// RESYNC_REQUEST body: {0 reason}.
struct HaResyncRequest {
    HaResyncReason reason = HaResyncReason::requested;
};

/// BULK_BEGIN body: {0 stream, 1 seq, 2 bulk id, 3 expected records (0 = unknown)}.
struct HaBulkBegin {
    uint64_t stream = 0;
    uint64_t seq = 0;
    uint32_t bulk_id = 0;
    uint64_t expected = 0;
};

/// BULK_END body: {0 stream, 1 seq, 2 bulk id, 3 records sent}.
struct HaBulkEnd {
    uint64_t stream = 0;
    uint64_t seq = 0;
    uint32_t bulk_id = 0;
    uint64_t count = 0;
};

enum class HaOwnershipKind : uint8_t {
    giving_back = 1,     ///< `subject` (the sender) gives sessions back to `target` (revert)
    taking_back = 2,     ///< `subject` takes its sessions back
    suspending = 3,      ///< `subject` is suspended: its sessions go to their backups
    functional = 4,      ///< `subject` is functional again
    non_functional = 5,  ///< `subject` lost a monitored link: its sessions go to their backups
};
inline constexpr uint8_t kMaxHaOwnershipKind = 5;

/// OWNERSHIP body: {0 kind, 1 subject node, 2 target node (0 = each backup owner)}.
struct HaOwnership {
    HaOwnershipKind kind = HaOwnershipKind::giving_back;
    NodeId subject = kNoNode;
    NodeId target = kNoNode;
};

using HaBody = std::variant<HaHello, HaHeartbeat, HaSessionBatch, HaAck, HaNack, HaResyncRequest,
                            HaBulkBegin, HaBulkEnd, HaOwnership>;

/// The message type a body is sent as.
HaMessageType haBodyType(const HaBody& body);

struct HaMessage {
    HaEnvelope envelope;
    HaBody body;
};

/// What the receiver expects of every envelope.
struct HaDecodeExpect {
    uint32_t cluster_id = 0;
    NodeId self = kNoNode;  ///< `to` must be this node, `from` must not be
};

/// Encodes a message; envelope.type is taken from the body. Never fails
/// (the caller builds bodies within limits; records beyond
/// kMaxHaRecordsPerBatch are the caller's bug and are still encoded).
std::string encodeHaMessage(const HaEnvelope& envelope, const HaBody& body);

/// Encodes a SESSION_BATCH whose records were encoded once into `records`
/// (so one batch is encoded once and sent to many peers). `batch.records`
/// is ignored.
std::string encodeHaSessionBatch(const HaEnvelope& envelope, const HaSessionBatch& batch,
                                 const HaRecordBuffer& records);

/// Decodes and validates one message. On anything but `ok`, *out is
/// unspecified and must not be used. Never throws.
HaDecodeResult decodeHaMessage(const uint8_t* data, size_t len, const HaDecodeExpect& expect,
                               HaMessage* out);

/// Reads only the envelope of a message (for diagnostics of a rejected one:
/// which version a peer speaks). Returns false when not even that decodes.
bool peekHaEnvelope(const uint8_t* data, size_t len, HaEnvelope* out);

}  // namespace tandem
