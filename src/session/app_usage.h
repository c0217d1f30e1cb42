// What the sessions a node owns are, by application: how many live
// sessions name each application (and how many of them an app rule denied),
// tallied from a worker's table by a walk in bounded steps between bursts,
// for `show application` and the metrics.
//
// The tally is indexed by name id (AppNameStore) and protocol, so a walk
// costs one increment per owned session and nothing is allocated after
// construction; the names come from the store when the walk ends.
//
// Thread-safety: the owning worker's thread only, like the table.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "core/node_id.h"
#include "session/session_table.h"

namespace tandem {

/// Sessions by application. proto none and an empty name: sessions an app
/// rule read whose first payload named nothing; a protocol with an empty
/// name: identified sessions whose name found no slot (app_names_full).
struct AppUsage {
    AppProtocol proto = AppProtocol::none;
    AppName name;
    uint64_t sessions = 0;  ///< live sessions this node owns that name it
    uint64_t denied = 0;    ///< of them, denied by an app rule (closing)
};

class AppUsageTally {
  public:
    /// The most entries top() returns: a worker's most used applications.
    static constexpr size_t kMaxTop = 64;

    /// Sized for `table`'s name store (4 counters per name id).
    explicit AppUsageTally(const SessionTable& table);

    /// Starts a walk over the sessions node `self` owns; clears the counts.
    void start(NodeId self);
    /// Tallies up to `budget` more entries; true once the walk is done.
    bool step(uint32_t budget);
    /// After the walk: the `cap` (<= kMaxTop) applications with the most
    /// sessions, most first (ties by name id), written to `out`; returns
    /// how many.
    size_t top(AppUsage* out, size_t cap) const;

  private:
    static constexpr uint32_t kProtocols = kMaxAppProtocol + 1;
    uint32_t slot(uint32_t name_id, AppProtocol p) const {
        return name_id * kProtocols + uint32_t(p);
    }

    const SessionTable& table_;
    uint32_t slots_;
    std::unique_ptr<uint32_t[]> sessions_;
    std::unique_ptr<uint32_t[]> denied_;
    NodeId self_ = kNoNode;
    uint32_t cursor_ = 0;
};

}  // namespace tandem
