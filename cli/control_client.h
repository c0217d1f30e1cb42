// ControlClient: sends one control-protocol request (proto/control_protocol.h)
// to tandemd and waits, bounded, for its reply.
//
// Each request uses a fresh ZeroMQ REQ socket with send/receive timeouts and
// linger 0: a REQ socket whose reply never came cannot send again, and a dead
// daemon must never make the shell hang or linger on exit.
// Not thread-safe: one client per thread.
#pragma once

#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace tandem::cli {

struct ControlReply {
    enum class Status {
        ok,           ///< ok=true; `result` holds the result
        refused,      ///< ok=false; `error` holds the daemon's message
        unreachable,  ///< no answer within the timeout, or no socket; `error` says so plainly
        bad_reply,    ///< an answer that is not the protocol; `error` says what was wrong
        interrupted,  ///< a signal (Ctrl-C) stopped the wait
    };
    Status status = Status::unreachable;
    nlohmann::json result;
    std::string error;
};

class ControlClient {
  public:
    /// `socket_path` is the file of the daemon's ipc:// endpoint;
    /// `timeout_ms` bounds each request (send and receive).
    ControlClient(std::string socket_path, int timeout_ms);
    ~ControlClient();

    ControlClient(const ControlClient&) = delete;
    ControlClient& operator=(const ControlClient&) = delete;

    /// Sends {"v":1,"command":command,"args":args} and waits for the reply.
    /// `timeout_ms` < 0 uses the client's timeout. Never throws.
    ControlReply request(const std::string& command, const nlohmann::json& args,
                         int timeout_ms = -1) const;

    const std::string& socketPath() const { return socket_path_; }
    int timeoutMs() const { return timeout_ms_; }

    /// "tandemd is not running (no answer on PATH)".
    std::string notRunningMessage() const;

  private:
    struct Impl;
    std::string socket_path_;
    int timeout_ms_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::cli
