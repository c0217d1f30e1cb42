// HaTransport: how the HA agent reaches its peers, behind one small
// interface so that the agent's logic runs unchanged over ZeroMQ
// (ZmqTransport) and over an in-memory network in tests (FakeNetwork).
//
// Two channels per peer: `control` (hello, heartbeats, ownership notices) and
// `sync` (session batches, acks, bulk sync). An implementation must keep them
// independent so that heartbeats never wait behind a multi-megabyte bulk
// sync. Within one channel messages arrive in order or not at all; the
// replication layer repairs losses.
//
// Thread-safety: a transport is used by one thread, the HA agent's (the
// thread that constructs it may hand it over before first use). counters()
// may be read from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/counters.h"
#include "core/node_id.h"

namespace tandem {

enum class HaChannel : uint8_t { control = 0, sync = 1 };

/// "control" | "sync".
inline const char* haChannelName(HaChannel c) {
    return c == HaChannel::control ? "control" : "sync";
}

enum class TransportEventKind : uint8_t {
    message = 0,       ///< `bytes` arrived from `peer` on `channel`
    connected = 1,     ///< our connection to `peer` on `channel` is up
    disconnected = 2,  ///< our connection to `peer` on `channel` went down
    auth_failed = 3,   ///< `peer` refused our key (or we refused a client): see counters
};

struct TransportEvent {
    TransportEventKind kind = TransportEventKind::message;
    /// message: the node the sending connection names itself (not proven);
    /// other kinds: the peer the event concerns.
    NodeId peer = kNoNode;
    HaChannel channel = HaChannel::control;
    /// message: the node whose CURVE key the sender proved, kNoNode when the
    /// transport does not authenticate (see HaTransport::authenticates()).
    NodeId authenticated = kNoNode;
    std::string bytes;
};

class HaTransport {
  public:
    virtual ~HaTransport() = default;

    /// Hands `bytes` to the transport for `peer`. Returns false when it
    /// cannot take them now (peer not connected, send queue full): the caller
    /// counts that and retries later or lets the protocol repair it. Never
    /// blocks.
    virtual bool send(NodeId peer, HaChannel channel, std::string_view bytes) = 0;

    /// Takes the next received message or connection event into *out.
    /// Returns false when there is none. Never blocks.
    virtual bool poll(TransportEvent* out) = 0;

    /// Sleeps until something may be ready to poll or `timeout_us` passed.
    /// May return early. The fake transport returns at once.
    virtual void wait(uint64_t timeout_us) = 0;

    /// True when every message carries the proven sender (`authenticated`).
    virtual bool authenticates() const = 0;

    /// The transport's own counters (name, help, value), for the status
    /// snapshot. Any thread.
    virtual std::vector<CounterValue> counters() const = 0;
};

}  // namespace tandem
