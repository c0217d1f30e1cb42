// Text renderers: the daemon's JSON result -> what the shell prints.
//
// The shell computes nothing itself; it only lays out what tandemd answered.
// Each renderer expects the result shape README.md documents for its command
// and returns nullopt when the answer has another shape, in which case
// renderResult() falls back to renderGeneric(), so a daemon that grows or
// changes fields never makes the shell print less than it got.
// All functions are pure and thread-safe; every returned text ends in '\n'.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tandem::cli {

/// Renders the result of `canonical` (requested with `args`) for a terminal.
std::string renderResult(const std::string& canonical, const nlohmann::json& args,
                         const nlohmann::json& result);

/// Any JSON as indented "key: value" lines; lists as "- item" lines.
std::string renderGeneric(const nlohmann::json& result);

/// show counters: "name  value" lines grouped by section (dataplane, parse,
/// io, sessions, then any other); args "group" keeps that group's sections,
/// args "all" says whether zero counters were asked for.
std::optional<std::string> renderCounters(const nlohmann::json& result, const nlohmann::json& args);
/// show interfaces: a table of ports, then one of their traffic counters.
std::optional<std::string> renderInterfaces(const nlohmann::json& result);
/// `show application`: one row per application, the fields of
/// src/proto/app_status_fields.h as columns.
std::optional<std::string> renderApplications(const nlohmann::json& result);
/// `show nat pools`: one row per pool, the fields of
/// src/proto/nat_status_fields.h in its order.
std::optional<std::string> renderNatPools(const nlohmann::json& result);
/// show config: the file, then the summary one clause per line.
std::optional<std::string> renderConfig(const nlohmann::json& result);
/// show version.
std::optional<std::string> renderVersion(const nlohmann::json& result);
/// show session all: a table of sessions and a count line (args: the filters
/// given, to say "no sessions match the filters").
std::optional<std::string> renderSessions(const nlohmann::json& result, const nlohmann::json& args);
/// show session id / flow: the session found ({"session": {...}}, or a list of
/// one) as a key/value block; several as a table.
std::optional<std::string> renderSessionLookup(const nlohmann::json& result);
/// One session in detail.
std::optional<std::string> renderSessionDetail(const nlohmann::json& session);
/// show high-availability state: key/value blocks for the local node, each
/// peer and the cluster settings.
std::optional<std::string> renderHaState(const nlohmann::json& result);
/// show cluster members: a table of nodes.
std::optional<std::string> renderClusterMembers(const nlohmann::json& result);
/// request / clear / debug: the daemon's message, "N sessions cleared" or "ok".
std::optional<std::string> renderActionResult(const nlohmann::json& result);

/// 850 -> "850 ms", 12345 -> "12.3 s", 303000 -> "5 min 3 s", then h/min, d/h.
std::string formatDuration(uint64_t ms);

}  // namespace tandem::cli
