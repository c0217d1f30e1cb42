#include "cli/command_table.h"

#include "proto/control_command.h"

namespace tandem::cli {
namespace {

using control::CommandId;

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

// The leaf of a daemon command: its word (the last of its canonical words),
// help and canonical words come from the command's definition
// (src/proto/control_command.h); `action` adds how the shell reads its args.
CommandNode command(control::CommandId id, CommandAction action = {}) {
    const control::CommandDef& def = control::commandDef(id);
    const size_t last = def.words.rfind(' ');
    action.canonical = control::commandWords(id);
    return leaf(std::string(last == std::string_view::npos ? def.words : def.words.substr(last + 1)),
                std::string(def.help), std::move(action));
}

CommandNode show() {
    return {
        .word = "show",
        .help = "display state, sessions and counters",
        .children = {
            {.word = "high-availability",
             .help = "HA state of this node and its peers",
             .children = {
                 command(CommandId::show_ha_state),
                 command(CommandId::show_ha_sync),
             }},
            {.word = "cluster",
             .help = "cluster membership",
             .children = {
                 command(CommandId::show_cluster_members),
             }},
            {.word = "session",
             .help = "sessions in the session table",
             .children = {
                 command(CommandId::show_session_all, {.options = sessionFilters()}),
                 command(CommandId::show_session_id, {.args = {sessionIdArg()}}),
                 command(CommandId::show_session_flow,
                         {.args = {ipArg("SRC-IP", "src", "initiator's address"),
                                   portArg("SRC-PORT", "sport", "initiator's port"),
                                   ipArg("DST-IP", "dst", "responder's address"),
                                   portArg("DST-PORT", "dport", "responder's port"),
                                   protoArg()}}),
             }},
            command(CommandId::show_counters,
                    {.optional_args = {{.placeholder = "GROUP",
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
            command(CommandId::show_interfaces),
            command(CommandId::show_application),
            {.word = "nat",
             .help = "address translation",
             .children = {
                 command(CommandId::show_nat_pools),
             }},
            command(CommandId::show_config),
            command(CommandId::show_version),
        }};
}

CommandNode request() {
    return {.word = "request",
            .help = "operational actions",
            .children = {
                {.word = "high-availability",
                 .help = "HA actions on this node",
                 .children = {
                     command(CommandId::request_ha_suspend),
                     command(CommandId::request_ha_functional),
                     {.word = "state-synchronization",
                      .help = "session synchronization with the peers",
                      .children = {
                          command(CommandId::request_ha_resync),
                      }},
                 }},
                {.word = "policy",
                 .help = "the rules",
                 .children = {
                     command(CommandId::request_policy_reload),
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
                     command(CommandId::clear_session_all),
                     command(CommandId::clear_session_id, {.args = {sessionIdArg()}}),
                     command(CommandId::clear_session_filter,
                             {.options = sessionFilters(), .min_options = 1}),
                 }},
            }};
}

CommandNode debug() {
    return command(CommandId::debug,
                   {.args = {{.placeholder = "SUBSYSTEM",
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
