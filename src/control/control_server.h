// ControlServer: serves the control protocol (proto/control_protocol.h) on a
// ZeroMQ REP socket from its own thread.
//
// The daemon registers one handler per canonical command; a handler receives
// the request's args and returns the result object, or throws
// ControlError to answer ok=false. Handlers run on the server thread and must
// only read snapshots (status() calls), never worker-owned state.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace tandem {

/// Thrown by a handler to answer {"ok": false, "error": what()}.
class ControlError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// The system group created by the packages for operators of the shell.
inline constexpr const char* kDefaultAccessGroup = "tandem";

class ControlServer {
  public:
    using Handler = std::function<nlohmann::json(const nlohmann::json& args)>;

    ControlServer();
    ~ControlServer();

    /// Registers `command` (canonical words, e.g. "show counters"). Call
    /// before start().
    void on(const std::string& command, Handler handler);

    /// The group whose members may use the control socket (default
    /// kDefaultAccessGroup, "tandem"; empty: root only). Call before start().
    void setAccessGroup(std::string group);

    /// Binds ipc://`socket_path` and starts serving. The socket gets mode
    /// 0660 and the access group when that group exists (then a directory
    /// start() creates for it gets mode 0750 and that group too); otherwise
    /// mode 0600, its owner only. The socket file is created with mode 0600
    /// (under umask 0177, the process umask restored after) and only then
    /// given to the group, so nobody else can connect at any instant.
    /// Returns false and sets *error on failure; a group that cannot be
    /// applied is a warning, leaving the socket 0600.
    bool start(const std::string& socket_path, std::string* error);

    /// Stops serving and removes the socket file. Idempotent.
    void stop();

    /// Handles one raw request text and returns the raw reply text (what the
    /// server thread does per message; exposed for tests).
    std::string handle(const std::string& request) const;

    /// The registered commands, sorted.
    std::vector<std::string> commands() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
