// Control protocol: the shell (`tandem`) and scripts talk to `tandemd` over a
// ZeroMQ REQ/REP socket (ipc://, under /run/tandem/ by default).
//
// Every message is one JSON object.
//   request:  {"v": 1, "command": "show counters", "args": {...}}
//   reply:    {"v": 1, "ok": true,  "result": {...}}
//           | {"v": 1, "ok": false, "error": "what went wrong and what was expected"}
// `command` is the canonical command path (words joined by single spaces, no
// abbreviations: the shell expands those). `args` is optional. Unknown fields
// are ignored; a request with a higher major version than the daemon speaks is
// refused with ok=false. Field names are pinned: never rename or reuse one.
// docs/wire-formats.md lists every command and its result fields.
#pragma once

namespace tandem::control {

inline constexpr int kVersion = 1;

// Field names.
inline constexpr const char* kFieldVersion = "v";
inline constexpr const char* kFieldCommand = "command";
inline constexpr const char* kFieldArgs = "args";
inline constexpr const char* kFieldOk = "ok";
inline constexpr const char* kFieldResult = "result";
inline constexpr const char* kFieldError = "error";

/// Largest request the daemon accepts (bytes); larger ones are refused.
inline constexpr unsigned kMaxRequestBytes = 64 * 1024;
/// Deepest nesting of arrays and objects in a request (the request object
/// itself is level 1); deeper ones are refused before they are parsed, since
/// parsing, copying and freeing a JSON value recurse once per level.
inline constexpr unsigned kMaxRequestDepth = 32;

}  // namespace tandem::control
