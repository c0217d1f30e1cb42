// Leveled logging for the control plane (never called per packet).
//
// Lines go to stderr as "LEVEL subsystem: message"; under systemd the journal
// adds the timestamp. Levels can be set per subsystem at run time (the shell's
// `debug` command). Thread-safe: each line is written with one write(2).
#pragma once

#include <cstdarg>
#include <string_view>

namespace tandem {

enum class LogLevel : int { error = 0, warn = 1, info = 2, debug = 3 };

/// Parses "error" | "warn" | "info" | "debug"; returns false if unknown.
bool parseLogLevel(std::string_view text, LogLevel* out);
const char* logLevelName(LogLevel level);

/// Sets the level for one subsystem, or for all when `subsystem` is "all".
void setLogLevel(std::string_view subsystem, LogLevel level);
LogLevel logLevel(std::string_view subsystem);

/// Writes one line if `level` is enabled for `subsystem`. printf-style.
void logf(LogLevel level, const char* subsystem, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace tandem

#define TLOG_ERROR(sub, ...) ::tandem::logf(::tandem::LogLevel::error, sub, __VA_ARGS__)
#define TLOG_WARN(sub, ...) ::tandem::logf(::tandem::LogLevel::warn, sub, __VA_ARGS__)
#define TLOG_INFO(sub, ...) ::tandem::logf(::tandem::LogLevel::info, sub, __VA_ARGS__)
#define TLOG_DEBUG(sub, ...) ::tandem::logf(::tandem::LogLevel::debug, sub, __VA_ARGS__)
