// HaOutbox: encodes HA messages with this node's envelope and hands them to
// the transport on the channel their type belongs to, counting what it sends.
// Shared by membership (control channel) and replication (sync channel).
//
// Thread-safety: agent thread only.
#pragma once

#include <string>
#include <string_view>

#include "ha/ha_counters.h"
#include "ha/ha_transport.h"
#include "proto/ha_messages.h"

namespace tandem {

class HaOutbox {
  public:
    HaOutbox(HaTransport& transport, uint32_t cluster_id, NodeId self, HaCounters& counters)
        : transport_(transport), cluster_id_(cluster_id), self_(self), counters_(counters) {}

    /// The envelope of a message from this node to `to`.
    HaEnvelope envelopeTo(NodeId to) const {
        HaEnvelope e;
        e.cluster_id = cluster_id_;
        e.from = self_;
        e.to = to;
        return e;
    }

    /// Encodes `body` for `to` and sends it on its type's channel (control
    /// for hello/heartbeat/ownership, sync otherwise). False when the
    /// transport refused it (counted).
    bool send(NodeId to, const HaBody& body) {
        const HaMessageType t = haBodyType(body);
        return sendEncoded(to, haTypeIsControl(t) ? HaChannel::control : HaChannel::sync,
                           encodeHaMessage(envelopeTo(to), body));
    }

    /// Sends bytes that are already an encoded message.
    bool sendEncoded(NodeId to, HaChannel channel, std::string_view bytes) {
        if (!transport_.send(to, channel, bytes)) {
            counters_.inc(HaCounter::send_refused);
            return false;
        }
        counters_.inc(HaCounter::msgs_tx);
        counters_.add(HaCounter::bytes_tx, bytes.size());
        return true;
    }

    NodeId self() const { return self_; }
    uint32_t clusterId() const { return cluster_id_; }

  private:
    HaTransport& transport_;
    uint32_t cluster_id_;
    NodeId self_;
    HaCounters& counters_;
};

}  // namespace tandem
