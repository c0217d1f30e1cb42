// HaStatus: a snapshot of the HA agent for the CLI (`show high-availability
// state`, `show cluster members`, `show counters`) and scripts. The agent
// builds it on its own thread; readers get a copy. The daemon serves it as
// JSON (haStatusToJson); the shell renders that JSON (cli/ha_renderer.cpp).
//
// Thread-safety: a plain value; the functions are pure.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/cluster_view.h"
#include "ha/membership.h"
#include "ha/replication.h"

namespace tandem {

struct HaPeerStatus {
    NodeId id = kNoNode;
    std::string name;
    NodeState state = NodeState::initial;
    bool alive = false;
    bool paired = false;
    std::string refused;           ///< pre-flight refusal reason, empty when none
    bool control_link = false;     ///< heard on the HA channels within the hold time
    bool peer_link = false;        ///< heard on the peer link within the hold time
    int64_t last_heard_ms = -1;    ///< ms since anything was heard, -1 = never
    uint8_t priority = 0;
    bool primary = false;
    std::string software_version;
    uint32_t peer_link_mtu = 0;
};

struct HaStatus {
    struct Local {
        NodeId id = kNoNode;
        std::string name;
        NodeState state = NodeState::initial;
        bool primary = false;
        uint8_t priority = 0;
        bool operator_suspended = false;
        bool links_ok = true;
        uint64_t incarnation = 0;
        StateTransition last_transition;
        uint64_t last_transition_ago_ms = 0;
    } local;
    std::vector<HaPeerStatus> peers;
    std::string session_owner;     ///< "first-packet" | "primary"
    bool revert = true;
    bool preempt = false;
    uint32_t heartbeat_interval_ms = 0;
    uint32_t hold_time_ms = 0;
    ClusterView view;              ///< as last published
    std::vector<PeerSyncStatus> sync;
    uint64_t pending_defer_tokens = 0;
    std::vector<std::pair<std::string, uint64_t>> counters;            ///< HaCounter
    std::vector<std::pair<std::string, uint64_t>> decode_counters;     ///< HaDecodeResult (non-ok)
    std::vector<std::pair<std::string, uint64_t>> transport_counters;
};

/// The snapshot as JSON: {local, peers[], session_owner, revert, preempt,
/// timers, view, sync[], pending_defer_tokens, counters{}, decode_counters{},
/// transport_counters{}}. Field names are pinned like the control protocol's.
nlohmann::json haStatusToJson(const HaStatus& status);

}  // namespace tandem
