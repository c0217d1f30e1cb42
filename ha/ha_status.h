// HaStatus: a snapshot of the HA agent for the CLI (`show high-availability
// state`, `show cluster members`, `show counters`) and scripts. The agent
// builds it on its own thread; readers get a copy. Its fields are defined
// once, in src/proto/ha_status_fields.h: the getters here read them, and
// the JSON (haStatusToJson), the shell's blocks (cli/ha_renderer.cpp) and
// the HA metrics (src/daemon/metrics_page.cpp) are built from that table.
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
#include "proto/ha_status_fields.h"

namespace tandem {

struct HaPeerStatus {
    NodeId id = kNoNode;
    std::string name;
    NodeState state = NodeState::initial;
    bool alive = false;
    bool paired = false;
    std::string refused;         ///< pre-flight refusal reason, empty when none
    bool control_link = false;   ///< heard on the HA channels within the hold time
    bool peer_link = false;      ///< heard on the peer link within the hold time
    int64_t last_heard_ms = -1;  ///< ms since anything was heard, -1 = never
    int64_t down_ms = -1;        ///< ms since it was declared dead, -1 = alive or never declared
    uint8_t priority = 0;
    bool primary = false;
    std::string software_version;
    uint32_t peer_link_mtu = 0;
    uint64_t policy_hash = 0;    ///< its policy (policyHash()); 0 = not known yet
    bool policy_matches = true;  ///< its policy is this node's (or not known yet)
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
        uint64_t policy_hash = 0;  ///< policyHash() of the policy in force
        StateTransition last_transition;
        uint64_t last_transition_ago_ms = 0;
    } local;
    std::vector<HaPeerStatus> peers;
    std::string session_owner;  ///< "first-packet" | "primary"
    bool revert = true;
    bool preempt = false;
    uint32_t heartbeat_interval_ms = 0;
    uint32_t hold_time_ms = 0;
    uint32_t peer_link_detect_ms = 0;
    ClusterView view;  ///< as last published
    std::vector<PeerSyncStatus> sync;
    uint64_t pending_defer_tokens = 0;
    std::vector<CounterValue> counters;         ///< HaCounter
    std::vector<CounterValue> decode_counters;  ///< HaDecodeResult (non-ok)
    std::vector<CounterValue> transport_counters;
};

/// Ready: this node is active, its links are up, and every peer is paired,
/// alive and done with the bulk sync both ways (the bulk towards it
/// acknowledged, none from it still arriving). A node with HA and no peer in its status is not
/// ready. The `ready` field of `show high-availability state` and the
/// tandem_ha_ready metric are this function.
bool haReady(const HaStatus& status);

/// The value of one field of ha_status_fields.h, as it reads in the JSON.
nlohmann::json haLocalValue(status::HaLocalField field, const HaStatus& status);
nlohmann::json haPeerValue(status::HaPeerField field, const HaPeerStatus& peer);
nlohmann::json haSyncValue(status::HaSyncField field, const PeerSyncStatus& sync);
nlohmann::json haClusterValue(status::HaClusterField field, const HaStatus& status);

/// The snapshot as JSON: every field of ha_status_fields.h ({local, peers[],
/// sync[], the cluster fields}) and counters{}, decode_counters{},
/// transport_counters{} (one member per counter of their tables).
nlohmann::json haStatusToJson(const HaStatus& status);

}  // namespace tandem
