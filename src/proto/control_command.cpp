#include "proto/control_command.h"

#include <array>

namespace tandem::control {
namespace {

// The filters of `show session all` and `clear session filter`.
constexpr CommandArg kSessionFilters[] = {{"src"},   {"dst"},   {"sport"}, {"dport"},
                                          {"proto"}, {"state"}, {"owner"}};
constexpr CommandArg kSessionId[] = {{"id", true}};
constexpr CommandArg kFlow[] = {
    {"src", true}, {"sport", true}, {"dst", true}, {"dport", true}, {"proto", true}};
constexpr CommandArg kCounters[] = {{"group"}, {"all"}};
constexpr CommandArg kDebug[] = {{"subsystem", true}, {"level", true}};

using enum CommandId;

// clang-format off
constexpr std::array<CommandDef, kCommandCount> kCommands = {{
    {show_ha_state, "show high-availability state",
     "this node's HA state, its peers and the HA settings"},
    {show_ha_sync, "show high-availability state-synchronization",
     "session synchronization with the peers: queues, acks, resyncs", {}, true},
    {show_cluster_members, "show cluster members",
     "every node of the cluster with its state and links"},
    {show_session_all, "show session all", "every session, optionally filtered", kSessionFilters},
    {show_session_id, "show session id", "one session in detail", kSessionId},
    {show_session_flow, "show session flow",
     "the session of one flow: SRC-IP SRC-PORT DST-IP DST-PORT PROTO", kFlow},
    {show_counters, "show counters", "dataplane and HA counters (non-zero ones unless 'all')",
     kCounters},
    {show_interfaces, "show interfaces",
     "the data ports and the peer link: link, speed and traffic counters"},
    {show_application, "show application",
     "the applications of the sessions this node owns (app rules), most used first"},
    {show_nat_pools, "show nat pools",
     "each NAT pool: the port blocks this node hands out and the ports in use"},
    {show_config, "show config", "the running configuration, summarised"},
    {show_version, "show version", "software version of tandemd"},
    {request_ha_suspend, "request high-availability suspend",
     "take this node out of service; its peers take over", {}, true},
    {request_ha_functional, "request high-availability functional",
     "return a suspended node to service", {}, true},
    {request_ha_resync, "request high-availability state-synchronization resync",
     "ask every live peer for a full bulk sync of its sessions", {}, true},
    {request_policy_reload, "request policy reload",
     "read the config file's [policy] again and apply it while traffic flows"},
    {clear_session_all, "clear session all", "every session on this node"},
    {clear_session_id, "clear session id", "one session", kSessionId},
    {clear_session_filter, "clear session filter", "the sessions matching every filter given",
     kSessionFilters},
    {debug, "debug", "set the log level of a subsystem of tandemd", kDebug},
}};
// clang-format on

constexpr bool inIdOrder() {
    for (size_t i = 0; i < kCommands.size(); ++i) {
        if (kCommands[i].id != CommandId(i)) return false;
    }
    return true;
}
static_assert(inIdOrder(), "kCommands must list every CommandId once, in order");

}  // namespace

std::span<const CommandDef> commandSet() {
    return kCommands;
}

const CommandDef& commandDef(CommandId id) {
    return kCommands[size_t(id)];
}

std::string commandWords(CommandId id) {
    return std::string(commandDef(id).words);
}

const CommandDef* findCommand(std::string_view words) {
    for (const CommandDef& c : kCommands) {
        if (c.words == words) return &c;
    }
    return nullptr;
}

}  // namespace tandem::control
