// WorkerMap: which of a node's workers owns a flow. The one definition that
// the dataplane's steering (Pipeline::workerFor and the devices' receive
// queues), the pipeline and the HA agent's replica routing all use, so that
// a session, its packets and its replicas meet in one worker's table.
//
// Two kinds of steering ([dataplane] steering, docs/config.md):
//   - software: the high half of the flow hash (flowHash, core/flow_key.h)
//     scaled onto the workers. Devices spread flows over the queues as they
//     like; every received frame is parsed once more to find its worker and,
//     when that is another one, handed over a ring (dataplane/handoff.h).
//   - rss: the devices' own choice. Every port is programmed with the
//     symmetric Toeplitz key (core/toeplitz.h) and a redirection table of
//     `reta_size` entries, entry i -> queue (i % reta_size) % workers, and
//     queue q is worker q; the map computes the same function in software
//     over what devices hash: both addresses and both ports for TCP and UDP,
//     both addresses for any other protocol. A worker then keeps the frames
//     its queue received where the device's hash provably covers their flow
//     (packet/rss_coverage.h); the rest still goes through workerFor.
//
// The symmetric key repeats every 16 bits, so its hash is a function of
// the XOR of the hashed input's 16-bit words: flows spread as far as those
// XORs differ (client ports do), and flows whose changes cancel there
// share a worker. That is the price of the symmetry.
//
// The flow's context (zone, VNI) plays no part in rss mode: devices do not
// see it. A FlowKey keeps its endpoints in canonical order, which the
// symmetric key makes irrelevant: both directions hash alike.
//
// Thread-safety: an immutable value; copy it freely.
#pragma once

#include <cstdint>

#include "core/flow_key.h"
#include "core/toeplitz.h"

namespace tandem {

/// How frames find the worker that owns their flow.
enum class Steering : uint8_t { software, rss };

/// "software" | "rss": the config value, the status field and the log's word.
inline const char* steeringName(Steering s) {
    return s == Steering::rss ? "rss" : "software";
}

/// [dataplane] steering: what the operator asks for. automatic: rss where
/// every port's device can (dataplane/steering_decision.h), else software.
enum class SteeringSetting : uint8_t { automatic, rss, software };

/// "auto" | "rss" | "software": the config's words.
inline const char* steeringSettingName(SteeringSetting s) {
    return s == SteeringSetting::automatic ? "auto"
           : s == SteeringSetting::rss     ? "rss"
                                           : "software";
}

class WorkerMap {
  public:
    /// One worker: every flow is worker 0's.
    WorkerMap() = default;

    /// Software steering over `workers` (>= 1) workers.
    static WorkerMap software(uint32_t workers) {
        return WorkerMap(Steering::software, workers, 1);
    }

    /// The devices' steering over `workers` (>= 1) workers, with redirection
    /// tables whose size is a multiple of `reta_size` (>= 1), programmed as
    /// queueOfEntry() says.
    static WorkerMap rss(uint32_t workers, uint32_t reta_size) {
        return WorkerMap(Steering::rss, workers, reta_size);
    }

    Steering steering() const { return steering_; }
    uint32_t workers() const { return workers_; }
    uint32_t retaSize() const { return reta_size_; }

    /// The worker that owns the flow `key`; `flow_hash` must be
    /// flowHash(key) (the caller has it: the pipeline computes it anyway).
    uint32_t workerOf(const FlowKey& key, uint64_t flow_hash) const {
        if (steering_ == Steering::rss) return workerOfDeviceHash(deviceHash(key));
        return uint32_t(((flow_hash >> 32) * workers_) >> 32);
    }
    uint32_t workerOf(const FlowKey& key) const {
        return steering_ == Steering::rss ? workerOfDeviceHash(deviceHash(key))
                                          : workerOf(key, flowHash(key));
    }

    /// rss: the queue (= worker) a device sends a frame whose RSS hash is
    /// `hash` to, through a table programmed by queueOfEntry().
    uint32_t workerOfDeviceHash(uint32_t hash) const { return (hash % reta_size_) % workers_; }

    /// rss: the queue entry `entry` of a device's redirection table must
    /// name. A table of any multiple of retaSize() entries then sends hash h
    /// to workerOfDeviceHash(h), as (h mod size) mod retaSize() == h mod
    /// retaSize().
    uint32_t queueOfEntry(uint32_t entry) const { return (entry % reta_size_) % workers_; }

    /// The RSS hash a device computes with kSymmetricRssKey for a packet of
    /// the flow `key`, in either direction: Toeplitz over the source and
    /// destination addresses (4 bytes each for IPv4, 16 for IPv6), then for
    /// TCP and UDP the source and destination ports. 0 for a key of no
    /// address family.
    static uint32_t deviceHash(const FlowKey& key) {
        // The symmetric key's table (core/toeplitz.h) needs only each
        // byte's offset parity: the addresses and the ports are an even
        // number of bytes each, so they are hashed where they lie.
        const uint8_t* lo = key.lo.b.data();
        const uint8_t* hi = key.hi.b.data();
        size_t first = 0, addr_bytes = 16;
        if (key.family == AddrFamily::v4)
            first = 12, addr_bytes = 4;
        else if (key.family != AddrFamily::v6)
            return 0;
        uint32_t h = 0;
        for (size_t i = 0; i < addr_bytes; ++i) {
            h ^=
                kSymmetricRssTable[i & 1][lo[first + i]] ^ kSymmetricRssTable[i & 1][hi[first + i]];
        }
        if (key.proto == kProtoTcp || key.proto == kProtoUdp) {
            h ^=
                kSymmetricRssTable[0][key.lo_port >> 8] ^ kSymmetricRssTable[1][key.lo_port & 0xff];
            h ^=
                kSymmetricRssTable[0][key.hi_port >> 8] ^ kSymmetricRssTable[1][key.hi_port & 0xff];
        }
        return h;
    }

    friend bool operator==(const WorkerMap&, const WorkerMap&) = default;

  private:
    WorkerMap(Steering s, uint32_t workers, uint32_t reta_size)
        : steering_(s), workers_(workers ? workers : 1), reta_size_(reta_size ? reta_size : 1) {}

    Steering steering_ = Steering::software;
    uint32_t workers_ = 1;
    uint32_t reta_size_ = 1;
};

}  // namespace tandem
