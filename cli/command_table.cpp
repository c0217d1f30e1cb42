#include "cli/command_table.h"

namespace tandem::cli {
namespace {

ArgSpec ipArg(std::string placeholder, std::string key, std::string help) {
    return {.placeholder = std::move(placeholder),
            .key = std::move(key),
            .kind = ArgKind::ip,
            .help = std::move(help)};
}

ArgSpec portArg(std::string placeholder, std::string key, std::string help) {
    return {.placeholder = std::move(placeholder),
            .key = std::move(key),
            .kind = ArgKind::port,
            .help = std::move(help)};
}

ArgSpec protoArg() {
    return {.placeholder = "PROTO", .key = "proto", .kind = ArgKind::proto, .help = "IP protocol"};
}

ArgSpec sessionIdArg() {
    return {.placeholder = "ID",
            .key = "id",
            .kind = ArgKind::integer,
            .help = "session id (see 'show session all')",
            .min = 1,
            .source = ValueSource::session_ids};
}

OptionSpec filter(std::string keyword, std::string help, ArgSpec value) {
    return {.keyword = std::move(keyword), .help = std::move(help), .value = std::move(value)};
}

// The filters shared by `show session all` and `clear session filter`; each
// becomes one field of args, e.g. {"src": "10.0.0.1", "dport": 443}.
std::vector<OptionSpec> sessionFilters() {
    return {
        filter("src", "initiator's address", ipArg("SRC-IP", "src", "initiator's address")),
        filter("dst", "responder's address", ipArg("DST-IP", "dst", "responder's address")),
        filter("sport", "initiator's port", portArg("SRC-PORT", "sport", "initiator's port")),
        filter("dport", "responder's port", portArg("DST-PORT", "dport", "responder's port")),
        filter("proto", "IP protocol", protoArg()),
        filter("state", "session state",
               {.placeholder = "STATE",
                .key = "state",
                .kind = ArgKind::choice,
                .help = "session state",
                .choices = sessionStateNames()}),
        filter("owner", "node owning the session",
               {.placeholder = "NODE",
                .key = "owner",
                .kind = ArgKind::node,
                .help = "node id or name",
                .source = ValueSource::node_names}),
    };
}

// The tree reads best laid out by hand.
// clang-format off

CommandNode leaf(std::string word, std::string help, CommandAction action) {
    return {.word = std::move(word), .help = std::move(help), .action = std::move(action)};
}

CommandNode show() {
    return {
        .word = "show",
        .help = "display state, sessions and counters",
        .children = {
            {.word = "high-availability",
             .help = "HA state of this node and its peers",
             .children = {
                 leaf("state", "this node's HA state, its peers and the HA settings",
                      {.canonical = "show high-availability state"}),
                 leaf("state-synchronization",
                      "session synchronization with the peers: queues, acks, resyncs",
                      {.canonical = "show high-availability state-synchronization"}),
             }},
            {.word = "cluster",
             .help = "cluster membership",
             .children = {
                 leaf("members", "every node of the cluster with its state and links",
                      {.canonical = "show cluster members"}),
             }},
            {.word = "session",
             .help = "sessions in the session table",
             .children = {
                 leaf("all", "every session, optionally filtered",
                      {.canonical = "show session all", .options = sessionFilters()}),
                 leaf("id", "one session in detail",
                      {.canonical = "show session id", .args = {sessionIdArg()}}),
                 leaf("flow", "the session of one flow: SRC-IP SRC-PORT DST-IP DST-PORT PROTO",
                      {.canonical = "show session flow",
                       .args = {ipArg("SRC-IP", "src", "initiator's address"),
                                portArg("SRC-PORT", "sport", "initiator's port"),
                                ipArg("DST-IP", "dst", "responder's address"),
                                portArg("DST-PORT", "dport", "responder's port"),
                                protoArg()}}),
             }},
            leaf("counters", "dataplane and HA counters (non-zero ones unless 'all')",
                 {.canonical = "show counters",
                  .optional_args = {{.placeholder = "GROUP",
                                     .key = "group",
                                     .kind = ArgKind::choice,
                                     .help = "counter group",
                                     .choices = {"dataplane", "ha", "peer-link"},
                                     .choice_help = {
                                         "pipeline verdicts, parse drops, port I/O, sessions",
                                         "heartbeats, elections, session synchronization",
                                         "frames forwarded to and from peers"}}},
                  .options = {{.keyword = "all",
                               .help = "include the counters that are zero",
                               .flag_key = "all"}}}),
            leaf("interfaces", "the data ports and the peer link: link, speed and traffic counters",
                 {.canonical = "show interfaces"}),
            leaf("config", "the running configuration, summarised", {.canonical = "show config"}),
            leaf("version", "software version of tandemd", {.canonical = "show version"}),
        }};
}

CommandNode request() {
    return {.word = "request",
            .help = "operational actions",
            .children = {
                {.word = "high-availability",
                 .help = "HA actions on this node",
                 .children = {
                     leaf("suspend", "take this node out of service; its peers take over",
                          {.canonical = "request high-availability suspend"}),
                     leaf("functional", "return a suspended node to service",
                          {.canonical = "request high-availability functional"}),
                 }},
            }};
}

CommandNode clear() {
    return {.word = "clear",
            .help = "remove state",
            .children = {
                {.word = "session",
                 .help = "remove sessions from the session table",
                 .children = {
                     leaf("all", "every session on this node",
                          {.canonical = "clear session all"}),
                     leaf("id", "one session",
                          {.canonical = "clear session id", .args = {sessionIdArg()}}),
                     leaf("filter", "the sessions matching every filter given",
                          {.canonical = "clear session filter", .options = sessionFilters(),
                           .min_options = 1}),
                 }},
            }};
}

CommandNode debug() {
    return leaf("debug", "set the log level of a subsystem of tandemd",
                {.canonical = "debug",
                 .args = {{.placeholder = "SUBSYSTEM",
                           .key = "subsystem",
                           .kind = ArgKind::word,
                           .help = "subsystem whose log level changes ('all' for every one)",
                           .suggestions = {"all", "control", "dataplane", "ha", "tandemd"}},
                          {.placeholder = "LEVEL",
                           .key = "level",
                           .kind = ArgKind::choice,
                           .help = "log level",
                           .choices = {"error", "warn", "info", "debug"},
                           .choice_help = {"errors only", "errors and warnings",
                                           "normal operation (default)",
                                           "everything, for troubleshooting"}}}});
}

CommandNode buildTable() {
    return {.word = "",
            .help = "",
            .children = {
                show(),
                request(),
                clear(),
                debug(),
                leaf("help", "how to use this shell", {.builtin = Builtin::help}),
                leaf("exit", "leave the shell", {.builtin = Builtin::exit}),
                leaf("quit", "leave the shell", {.builtin = Builtin::exit}),
            }};
}

// clang-format on

}  // namespace

const std::vector<std::string>& sessionStateNames() {
    static const std::vector<std::string> names = {
        "syn-sent", "syn-recv",  "established", "fin-wait", "close-wait",
        "last-ack", "time-wait", "close",       "open",     "replied"};
    return names;
}

const CommandNode& commandTable() {
    static const CommandNode root = buildTable();
    return root;
}

}  // namespace tandem::cli
