// ZmqTransport: the HA channels over ZeroMQ (TCP), optionally authenticated
// and encrypted with CURVE.
//
// Sockets. Each node binds one ROUTER on [ha] listen and receives on it
// only. For every peer it connects two DEALERs to the peer's ha-address: one
// for the control channel (routing id "<self>c") and one for the sync
// channel ("<self>s"). Two DEALERs are two TCP connections with their own
// send queues, so heartbeats never wait behind a bulk sync; the ROUTER
// fair-queues between them on the receiving side. DEALERs are "immediate":
// nothing queues for a peer that is not connected (send returns false).
//
// CURVE. When this node has a secret key, the ROUTER is a CURVE server with
// it and every DEALER a CURVE client with this node's keypair and the peer's
// public key. A ZAP handler (inproc://zeromq.zap.01, a REP socket served
// inside poll()) admits only the public keys of configured peers and names
// the node a key belongs to in the connection's "User-Id", which every
// received message carries as TransportEvent::authenticated. Unknown keys
// are refused and counted. Without keys (lab) the transport is plain TCP and
// `authenticated` stays kNoNode; the agent still drops messages from
// unconfigured node ids and other clusters.
//
// Thread-safety: create() on any thread, then one thread at a time (the HA
// agent's). counters() from any thread.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/counters.h"
#include "ha/ha_transport.h"

namespace tandem {

#define TANDEM_ZMQ_TRANSPORT_COUNTERS(X)                                              \
    X(zap_accepted, "CURVE clients admitted (key of a configured peer)")              \
    X(zap_rejected_unknown_key, "CURVE clients refused: key of no configured peer")   \
    X(zap_rejected_bad_request, "ZAP requests refused: not CURVE or malformed")       \
    X(handshakes_ok, "outgoing connections that completed their handshake")           \
    X(handshakes_failed_auth, "outgoing connections the peer refused (our key)")      \
    X(handshakes_failed, "outgoing connections that failed their handshake")          \
    X(disconnects, "outgoing connections lost")                                       \
    X(rx_messages, "messages received")                                               \
    X(rx_bad_frames, "received messages with an unexpected frame layout")             \
    X(rx_bad_routing_id, "received messages whose connection has no valid node name") \
    X(tx_messages, "messages sent")                                                   \
    X(tx_would_block, "sends refused: peer not connected or its queue full")          \
    X(tx_errors, "sends that failed with an error")

TANDEM_COUNTER_ENUM(ZmqTransportCounter, TANDEM_ZMQ_TRANSPORT_COUNTERS)

struct ZmqTransportConfig {
    struct Peer {
        NodeId id = kNoNode;
        std::string address;     ///< ZeroMQ endpoint, e.g. "tcp://10.0.0.2:7400"
        std::string public_key;  ///< Z85; required when CURVE is on
    };
    NodeId self = kNoNode;
    std::string listen;  ///< bind endpoint, e.g. "tcp://0.0.0.0:7400"
    std::vector<Peer> peers;
    std::string secret_key;  ///< Z85; empty = no CURVE
    std::string public_key;  ///< Z85; derived from secret_key when empty
    int control_hwm = 1000;  ///< messages queued per control connection
    int sync_hwm = 256;      ///< messages queued per sync connection
    int reconnect_ms = 100;  ///< first reconnect delay (doubles up to 1 s)

    /// The transport settings of a loaded config ([ha] listen, secret key,
    /// [peer.N] ha-address and public-key).
    static ZmqTransportConfig fromConfig(const Config& config);
};

class ZmqTransport final : public HaTransport {
  public:
    /// Binds the ROUTER, starts the ZAP handler (with CURVE) and connects the
    /// DEALERs. Returns nullptr and sets *error when an endpoint or key is
    /// invalid, CURVE is unavailable, or the bind fails (address in use).
    static std::unique_ptr<ZmqTransport> create(const ZmqTransportConfig& config,
                                                std::string* error);
    ~ZmqTransport() override;

    bool send(NodeId peer, HaChannel channel, std::string_view bytes) override;
    bool poll(TransportEvent* out) override;
    void wait(uint64_t timeout_us) override;
    bool authenticates() const override { return curve_; }
    std::vector<CounterValue> counters() const override;

    uint64_t counter(ZmqTransportCounter c) const { return counters_.get(c); }

  private:
    struct Impl;
    explicit ZmqTransport(std::unique_ptr<Impl> impl, bool curve);
    void serveZap();
    void drainMonitors();
    bool receive(TransportEvent* out);

    std::unique_ptr<Impl> impl_;
    bool curve_;
    CounterBlock<ZmqTransportCounter, kZmqTransportCounterCount> counters_;
};

}  // namespace tandem
