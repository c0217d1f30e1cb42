#include "core/log.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

namespace tandem {
namespace {

struct LogState {
    std::mutex mu;
    LogLevel default_level = LogLevel::info;
    std::map<std::string, LogLevel, std::less<>> per_subsystem;
};

LogState& state() {
    static LogState s;
    return s;
}

}  // namespace

bool parseLogLevel(std::string_view text, LogLevel* out) {
    static constexpr std::pair<std::string_view, LogLevel> names[] = {{"error", LogLevel::error},
                                                                      {"warn", LogLevel::warn},
                                                                      {"info", LogLevel::info},
                                                                      {"debug", LogLevel::debug}};
    for (auto& [name, level] : names) {
        if (text == name) {
            *out = level;
            return true;
        }
    }
    return false;
}

const char* logLevelName(LogLevel level) {
    switch (level) {
        case LogLevel::error:
            return "error";
        case LogLevel::warn:
            return "warn";
        case LogLevel::info:
            return "info";
        case LogLevel::debug:
            return "debug";
    }
    return "?";
}

void setLogLevel(std::string_view subsystem, LogLevel level) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    if (subsystem == "all") {
        s.default_level = level;
        s.per_subsystem.clear();
    } else {
        s.per_subsystem[std::string(subsystem)] = level;
    }
}

LogLevel logLevel(std::string_view subsystem) {
    auto& s = state();
    std::lock_guard lock(s.mu);
    auto it = s.per_subsystem.find(subsystem);
    return it == s.per_subsystem.end() ? s.default_level : it->second;
}

void logf(LogLevel level, const char* subsystem, const char* fmt, ...) {
    if (static_cast<int>(level) > static_cast<int>(logLevel(subsystem))) return;
    char line[1024];
    int n = std::snprintf(line, sizeof line, "%-5s %s: ", logLevelName(level), subsystem);
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    size_t len = std::min(sizeof line - 2, size_t(n) + size_t(m < 0 ? 0 : m));
    line[len++] = '\n';
    ssize_t ignored = ::write(STDERR_FILENO, line, len);
    (void)ignored;
}

}  // namespace tandem
