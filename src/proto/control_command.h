// The commands of the control protocol (proto/control_protocol.h): every
// command tandemd serves and the `tandem` shell sends, defined once.
//
// Each command has an id, its canonical words (the request's "command"), one
// line of help and the fields of "args" it reads. tandemd registers one
// handler per id (src/daemon/control_commands.cpp) and the shell builds its
// command tree and picks its renderer from the same ids (cli/command_table.cpp,
// cli/result_renderer.cpp); both dispatch with a `switch` over CommandId
// compiled with -Werror=switch, so a command added here without a handler or
// a renderer does not build, and the shell's unit tests check that its tree
// spells every command's words and arguments as they are defined here.
//
// Ids are internal (never on the wire); the words are pinned like the
// protocol's field names: never rename or reuse one.
//
// Thread-safety: immutable tables; every function is pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tandem::control {

enum class CommandId : uint8_t {
    show_ha_state,
    show_ha_sync,
    show_cluster_members,
    show_session_all,
    show_session_id,
    show_session_flow,
    show_counters,
    show_interfaces,
    show_application,
    show_nat_pools,
    show_config,
    show_version,
    request_ha_suspend,
    request_ha_functional,
    request_ha_resync,
    request_policy_reload,
    clear_session_all,
    clear_session_id,
    clear_session_filter,
    debug,
};
inline constexpr size_t kCommandCount = size_t(CommandId::debug) + 1;

/// One field of a request's "args".
struct CommandArg {
    std::string_view key;
    bool required = false;
};

struct CommandDef {
    CommandId id;
    std::string_view words;  ///< canonical words, e.g. "show counters": the request's "command"
    std::string_view help;   ///< one line, as the shell's `?` shows it
    std::span<const CommandArg> args;  ///< the fields of "args" it reads
    bool needs_ha = false;             ///< served only by a node with peers (HA on)
};

/// Every command, in CommandId order (commandSet()[i].id == CommandId(i)).
std::span<const CommandDef> commandSet();

/// The definition of `id`.
const CommandDef& commandDef(CommandId id);

/// The canonical words of `id` as a string, for a request's "command".
std::string commandWords(CommandId id);

/// The command whose canonical words are `words`, or nullptr.
const CommandDef* findCommand(std::string_view words);

}  // namespace tandem::control
