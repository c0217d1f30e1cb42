#include "daemon/control_commands.h"

#include <cstdlib>
#include <optional>

#include "cluster/election.h"
#include "cluster/node_state.h"
#include "core/log.h"
#include "core/protocol_name.h"
#include "daemon/policy_reload.h"
#include "dataplane/dataplane.h"
#include "dataplane/dataplane_status.h"
#include "ha/ha_agent.h"
#include "proto/control_command.h"
#include "session/tcp_tracker.h"

namespace tandem {
namespace {

constexpr size_t kMaxSessionsShown = 10000;
constexpr uint32_t kSnapshotTimeoutMs = 5000;

nlohmann::json countersJson(const std::vector<CounterValue>& counters, bool all) {
    nlohmann::json j = nlohmann::json::object();
    for (const auto& c : counters) {
        if (all || c.value != 0) j[c.name] = c.value;
    }
    return j;
}

std::optional<uint8_t> parseProto(const nlohmann::json& v) {
    if (v.is_number_unsigned() && v.get<uint64_t>() <= 255) return uint8_t(v.get<uint64_t>());
    if (!v.is_string()) return std::nullopt;
    return parseProtocol(v.get<std::string>());
}

IpAddr addrArg(const nlohmann::json& args, const char* key) {
    auto a = args[key].is_string() ? parseIpAddr(args[key].get<std::string>()) : std::nullopt;
    if (!a) throw ControlError(std::string("'") + key + "' must be an IP address");
    return *a;
}

uint16_t portArg(const nlohmann::json& args, const char* key) {
    const auto& v = args[key];
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 65535) {
        throw ControlError(std::string("'") + key + "' must be a port number 0..65535");
    }
    return uint16_t(v.get<uint64_t>());
}

NodeId ownerArg(const Config& cfg, const nlohmann::json& v) {
    if (v.is_number_unsigned() && isValidNodeId(unsigned(v.get<uint64_t>()))) {
        return NodeId(v.get<uint64_t>());
    }
    if (v.is_string()) {
        const std::string name = v.get<std::string>();
        if (name == cfg.node.name) return cfg.node.id;
        for (const auto& p : cfg.peers) {
            if (p.name == name) return p.id;
        }
    }
    throw ControlError("'owner' must be a node id 1..16 or a node name");
}

SessionFilter filterFrom(const Config& cfg, const nlohmann::json& args) {
    SessionFilter f;
    if (args.contains("src")) f.src = addrArg(args, "src");
    if (args.contains("dst")) f.dst = addrArg(args, "dst");
    if (args.contains("sport")) f.sport = portArg(args, "sport");
    if (args.contains("dport")) f.dport = portArg(args, "dport");
    if (args.contains("proto")) {
        f.proto = parseProto(args["proto"]);
        if (!f.proto) throw ControlError("'proto' must be tcp, udp, icmp, icmpv6 or 0..255");
    }
    if (args.contains("state")) {
        const std::string want = args["state"].is_string() ? args["state"].get<std::string>() : "";
        for (int s = int(SessionState::tcp_syn_sent); s <= int(SessionState::replied); ++s) {
            if (want == sessionStateName(SessionState(s))) f.state = SessionState(s);
        }
        if (!f.state) throw ControlError("unknown session state '" + want + "'");
    }
    if (args.contains("owner")) f.owner = ownerArg(cfg, args["owner"]);
    return f;
}

// `owners`: the nodes that may own now (the published view), which elect the
// flow's director.
nlohmann::json sessionJson(const SessionSnapshot& snap, const Policy& policy, uint16_t owners) {
    const Session& s = snap.session;
    const SessionEndpoints e = endpointsOf(s);
    const char* proto = protocolName(s.key_proto);
    nlohmann::json j = {{"id", snap.id},
                        {"proto", proto ? nlohmann::json(proto) : nlohmann::json(s.key_proto)},
                        {"src", formatIpAddr(e.src)},
                        {"sport", e.sport},
                        {"dst", formatIpAddr(e.dst)},
                        {"dport", e.dport},
                        {"state", sessionStateName(s.state)},
                        {"owner", s.owner},
                        {"backup_owner", s.backup_owner},
                        {"origin_owner", s.origin_owner},
                        {"director", directorOf(flowHash(s.key()), owners)},
                        {"version", s.version},
                        {"replica", (s.flags & kSessionReplicated) != 0},
                        {"packets", {s.packets(0), s.packets(1)}},
                        {"bytes", {s.bytes(0), s.bytes(1)}},
                        {"expires_in_ms", snap.expires_in_ms}};
    if (s.rule < policy.ruleCount()) {
        j["rule"] = policy.rule(s.rule).name;  // unnamed ones named by Policy::compile
    } else if (s.rule == kRuleOfEarlierPolicy) {
        j["rule"] = kEarlierPolicyRuleName;
    }
    if (snap.app.status != AppStatus::none) {
        // What its first payload named, when a rule that names applications
        // asked (docs/config.md, "Application rules").
        j["app_status"] = appStatusName(snap.app.status);
        if (snap.app.proto != AppProtocol::none) j["app"] = appProtocolName(snap.app.proto);
        if (snap.app_name.len) j["app_name"] = std::string(snap.app_name.view());
        if (s.flags & kSessionAppDenied) j["app_denied"] = true;
    }
    if (snap.nat.kind == 1) {
        // Source translation: how it leaves and its replies come (docs/nat.md).
        j["nat"] = "snat";
        j["nat_src"] = formatIpAddr(IpAddr::fromV4(snap.nat.addr));
        j["nat_sport"] = snap.nat.port;
    } else if (snap.nat.kind == 2) {
        // Destination translation: where its packets go instead.
        j["nat"] = "dnat";
        j["nat_dst"] = formatIpAddr(IpAddr::fromV4(snap.nat.addr));
        j["nat_dport"] = snap.nat.port;
    }
    return j;
}

// What the handlers read. `ha` is null on a standalone node, which is never
// asked a command whose definition says needs_ha.
struct Context {
    const Config& cfg;
    DataplaneQueries& dp;
    HaAgent* ha;
    PolicyReloader& reloader;
};

nlohmann::json showCounters(const Context& c, const nlohmann::json& args) {
    const bool all = args.value("all", false);
    const std::string group = args.value("group", std::string());
    if (!group.empty() && group != "dataplane" && group != "ha" && group != "peer-link") {
        throw ControlError("unknown counter group '" + group +
                           "'; expected dataplane, ha or peer-link");
    }
    nlohmann::json out = nlohmann::json::object();
    DataplaneStatus st = c.dp.status();
    if (group.empty() || group == "dataplane") {
        out["dataplane"] = countersJson(st.pipeline, all);
        out["parse"] = countersJson(st.parse, all);
        out["io"] = countersJson(st.io, all);
        nlohmann::json by_worker = nlohmann::json::object();
        for (size_t w = 0; w < st.sessions_by_worker.size(); ++w) {
            by_worker[std::to_string(w)] = st.sessions_by_worker[w];
        }
        out["sessions"] = {
            {"active", st.sessions}, {"capacity", st.session_capacity}, {"by_worker", by_worker}};
    }
    if (group.empty() || group == "peer-link") out["peer_link"] = countersJson(st.peer_link, all);
    if (c.ha && (group.empty() || group == "ha")) {
        nlohmann::json h = nlohmann::json::object();
        const HaCounters& hc = c.ha->counters();
        for (size_t i = 0; i < kHaCounterCount; ++i) {
            const uint64_t v = hc.v[i].load(std::memory_order_relaxed);
            if (all || v) h[std::string(kHaCounterInfo[i].name)] = v;
        }
        for (size_t i = 0; i < kHaDecodeResultCount; ++i) {
            const uint64_t v = c.ha->decodeCount(HaDecodeResult(i));
            if (all || v) h["decode_" + std::string(kHaDecodeResultInfo[i].name)] = v;
        }
        out["ha"] = h;
    }
    return out;
}

nlohmann::json showInterfaces(const Context& c) {
    nlohmann::json ports = nlohmann::json::array();
    for (const auto& p : c.dp.status().ports) ports.push_back(portStatusJson(p));
    return nlohmann::json{{"interfaces", ports}};
}

nlohmann::json showApplications(const Context& c) {
    std::vector<AppUsage> apps;
    if (!c.dp.applications(kSnapshotTimeoutMs, &apps)) {
        throw ControlError("the dataplane did not answer in time");
    }
    nlohmann::json list = nlohmann::json::array();
    for (const AppUsage& a : apps) list.push_back(appUsageJson(a));
    return nlohmann::json{{"applications", list}};
}

nlohmann::json showNatPools(const Context& c) {
    nlohmann::json list = nlohmann::json::array();
    for (const NatPoolUsage& p : c.dp.status().nat_pools) list.push_back(natPoolJson(p));
    return nlohmann::json{{"pools", list}};
}

nlohmann::json showSessions(const Context& c, const SessionFilter& f, std::optional<uint64_t> id) {
    std::vector<SessionSnapshot> snaps;
    bool truncated = false;
    if (!c.dp.sessions(f, id, kMaxSessionsShown, kSnapshotTimeoutMs, &snaps, &truncated)) {
        throw ControlError("the dataplane did not answer in time");
    }
    // The nodes that may own now elect each flow's director; standalone,
    // this node directs every flow.
    const uint16_t owners = c.ha ? c.ha->status().view.owners : nodeBit(c.cfg.node.id);
    nlohmann::json list = nlohmann::json::array();
    const std::shared_ptr<const Policy> policy = c.dp.policy();
    for (const auto& s : snaps) list.push_back(sessionJson(s, *policy, owners));
    return nlohmann::json{{"sessions", list}, {"total", snaps.size()}, {"truncated", truncated}};
}

uint64_t sessionIdArg(const nlohmann::json& args) {
    if (!args.contains("id") || !args["id"].is_number_unsigned()) {
        throw ControlError("'id' must be a session id");
    }
    return args["id"].get<uint64_t>();
}

nlohmann::json showSessionId(const Context& c, const nlohmann::json& args) {
    auto r = showSessions(c, {}, sessionIdArg(args));
    if (r["sessions"].empty()) throw ControlError("no session with id " + args["id"].dump());
    return r;
}

nlohmann::json showSessionFlow(const Context& c, const nlohmann::json& args) {
    for (const char* k : {"src", "sport", "dst", "dport", "proto"}) {
        if (!args.contains(k)) throw ControlError(std::string("missing '") + k + "'");
    }
    // A flow is either direction of a connection.
    SessionFilter f = filterFrom(c.cfg, args);
    auto r = showSessions(c, f, std::nullopt);
    if (r["sessions"].empty()) {
        SessionFilter rev = f;
        std::swap(rev.src, rev.dst);
        std::swap(rev.sport, rev.dport);
        r = showSessions(c, rev, std::nullopt);
    }
    return r;
}

nlohmann::json clearSessions(const Context& c, const SessionFilter& f, std::optional<uint64_t> id) {
    uint64_t cleared = 0;
    if (!c.dp.clearSessions(f, id, kSnapshotTimeoutMs, &cleared)) {
        throw ControlError("the dataplane did not answer in time");
    }
    TLOG_INFO("control", "operator cleared %llu session(s)", (unsigned long long)cleared);
    return nlohmann::json{{"cleared", cleared}};
}

nlohmann::json setDebug(const nlohmann::json& args) {
    const std::string sub = args.value("subsystem", std::string());
    LogLevel level;
    if (sub.empty()) throw ControlError("missing 'subsystem'");
    if (!parseLogLevel(args.value("level", std::string()), &level)) {
        throw ControlError("'level' must be error, warn, info or debug");
    }
    setLogLevel(sub, level);
    return nlohmann::json{{"subsystem", sub}, {"level", logLevelName(level)}};
}

nlohmann::json showHaState(const Context& c) {
    if (c.ha) {
        nlohmann::json s = c.ha->statusJson();
        const HaSecurity sec = haSecurityOf(c.cfg.ha);
        s["security"] = {{"control_link", sec.control_link ? "curve" : "none"},
                         {"peer_link", sec.peer_link ? "authenticated" : "none"}};
        return s;
    }
    return nlohmann::json{{"local",
                           {{"id", c.cfg.node.id},
                            {"name", c.cfg.node.name},
                            {"state", "standalone"},
                            {"ready", true}}},
                          {"peers", nlohmann::json::array()}};
}

nlohmann::json showHaSync(const Context& c) {
    nlohmann::json s = c.ha->statusJson();
    return nlohmann::json{{"sync", s.value("sync", nlohmann::json::array())},
                          {"counters", s.value("counters", nlohmann::json::object())}};
}

nlohmann::json showClusterMembers(const Context& c) {
    if (!c.ha) {
        return nlohmann::json{{"members",
                               {{{"id", c.cfg.node.id},
                                 {"name", c.cfg.node.name},
                                 {"state", "standalone"},
                                 {"self", true}}}}};
    }
    nlohmann::json s = c.ha->statusJson();
    const DataplaneStatus st = c.dp.status();
    nlohmann::json members = nlohmann::json::array();
    nlohmann::json local = s["local"];
    local["self"] = true;
    // What this node's table holds: its own sessions, and the copies it
    // keeps as backup owner (a cluster) or of everything (a pair).
    const NodeId self = local.value("id", NodeId(0));
    local["owned"] = st.sessions_by_owner[self];
    local["backups"] = st.sessions - st.sessions_by_owner[self];
    if (st.owner_cache_capacity) {
        local["owner_cache_entries"] = st.owner_cache_entries;
        local["owner_cache_hit_pct"] = st.owner_cache_hit_pct;
    }
    members.push_back(local);
    for (auto& p : s["peers"]) {
        // Copies of its sessions this node holds.
        const NodeId id = p.value("id", NodeId(0));
        if (id <= kMaxNodes) p["backed_up_here"] = st.sessions_by_owner[id];
        members.push_back(p);
    }
    return nlohmann::json{{"members", members}};
}

// An operator action of the HA agent: its message, or ok=false with it.
nlohmann::json haAction(const HaCommandResult& r) {
    if (!r.ok) throw ControlError(r.message);
    return nlohmann::json{{"message", r.message}};
}

// The handler of each command. No `default`: with -Werror=switch a command
// added to src/proto/control_command.h without a handler does not build.
// `request policy reload`: the reload's outcome, or its errors as a refusal.
nlohmann::json reloadPolicy(const Context& c) {
    const PolicyReloadResult r = c.reloader.reload();
    if (!r.applied) throw ControlError(describeReload(r));
    return {{"message", describeReload(r)},
            {"rules", r.rules},
            {"hash", policyHashText(r.hash)},
            {"re_evaluate", r.reevaluate},
            {"notes", r.notes}};
}

nlohmann::json handle(control::CommandId id, const Context& c, const nlohmann::json& args) {
    using enum control::CommandId;
    switch (id) {
        case show_ha_state:
            return showHaState(c);
        case show_ha_sync:
            return showHaSync(c);
        case show_cluster_members:
            return showClusterMembers(c);
        case show_session_all:
            return showSessions(c, filterFrom(c.cfg, args), std::nullopt);
        case show_session_id:
            return showSessionId(c, args);
        case show_session_flow:
            return showSessionFlow(c, args);
        case show_counters:
            return showCounters(c, args);
        case show_interfaces:
            return showInterfaces(c);
        case show_application:
            return showApplications(c);
        case show_nat_pools:
            return showNatPools(c);
        case show_config: {
            const PolicyStatus p = c.reloader.status();
            return nlohmann::json{{"file", c.cfg.path},
                                  {"summary", describeConfig(c.cfg)},
                                  {"policy",
                                   {{"rules", p.rules},
                                    {"hash", policyHashText(p.hash)},
                                    {"reloads", p.reloads},
                                    {"reloads_failed", p.reloads_failed},
                                    {"last_reload_ms", p.last_reload_wall_ms},
                                    {"last_error", p.last_error}}}};
        }
        case show_version:
            return nlohmann::json{{"version", TANDEM_VERSION}};
        case request_ha_suspend:
            return haAction(c.ha->suspend());
        case request_ha_functional:
            return haAction(c.ha->functional());
        case request_ha_resync:
            return haAction(c.ha->requestResync());
        case request_policy_reload:
            return reloadPolicy(c);
        case clear_session_all:
            return clearSessions(c, {}, std::nullopt);
        case clear_session_id:
            return clearSessions(c, {}, sessionIdArg(args));
        case clear_session_filter:
            if (args.empty()) throw ControlError("give at least one filter");
            return clearSessions(c, filterFrom(c.cfg, args), std::nullopt);
        case debug:
            return setDebug(args);
    }
    std::abort();  // an id outside the enum: cannot happen
}

}  // namespace

void registerControlCommands(ControlServer& server, const Config& cfg, DataplaneQueries& dp,
                             HaAgent* ha, PolicyReloader& reloader) {
    const Context context{cfg, dp, ha, reloader};
    for (const control::CommandDef& def : control::commandSet()) {
        // A standalone node does not serve the HA agent's commands: they
        // answer "unknown command" there.
        if (def.needs_ha && !ha) continue;
        server.on(std::string(def.words), [context, id = def.id](const nlohmann::json& args) {
            return handle(id, context, args);
        });
    }
}

}  // namespace tandem
