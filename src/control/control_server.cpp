#include "control/control_server.h"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <vector>
#include <zmq.hpp>

#include "core/log.h"
#include "proto/control_protocol.h"

namespace tandem {
namespace {
constexpr const char* kLog = "control";

nlohmann::json errorReply(const std::string& message) {
    return {{control::kFieldVersion, control::kVersion},
            {control::kFieldOk, false},
            {control::kFieldError, message}};
}

// Deepest nesting of arrays and objects in JSON text, counted outside
// strings; stops counting once past `limit`. Malformed text is left to the
// parser: this only bounds how deep it may go.
unsigned jsonDepth(std::string_view text, unsigned limit) {
    unsigned depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) break;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::optional<gid_t> lookupGroup(const std::string& name) {
    if (name.empty()) return std::nullopt;
    std::vector<char> buf(16384);
    group grp{};
    group* found = nullptr;
    if (::getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &found) != 0 || !found) {
        return std::nullopt;
    }
    return found->gr_gid;
}

// Gives `path` to `gid` with `mode`; on failure leaves it with `fallback_mode`
// and says why.
bool shareWithGroup(const std::string& path, gid_t gid, mode_t mode, mode_t fallback_mode,
                    std::string* why) {
    if (::chown(path.c_str(), uid_t(-1), gid) != 0) {
        *why = std::strerror(errno);
        ::chmod(path.c_str(), fallback_mode);
        return false;
    }
    ::chmod(path.c_str(), mode);
    return true;
}
}  // namespace

struct ControlServer::Impl {
    std::map<std::string, Handler> handlers;
    zmq::context_t ctx{1};
    std::thread thread;
    std::atomic<bool> running{false};
    std::string path;
    std::string access_group = kDefaultAccessGroup;
};

ControlServer::ControlServer() : impl_(std::make_unique<Impl>()) {}

ControlServer::~ControlServer() {
    stop();
}

void ControlServer::on(const std::string& command, Handler handler) {
    impl_->handlers[command] = std::move(handler);
}

void ControlServer::setAccessGroup(std::string group) {
    impl_->access_group = std::move(group);
}

std::vector<std::string> ControlServer::commands() const {
    std::vector<std::string> out;
    for (auto& [name, h] : impl_->handlers) out.push_back(name);
    return out;
}

std::string ControlServer::handle(const std::string& request) const {
    if (request.size() > control::kMaxRequestBytes) {
        return errorReply("request of " + std::to_string(request.size()) + " bytes exceeds " +
                          std::to_string(control::kMaxRequestBytes))
            .dump();
    }
    if (jsonDepth(request, control::kMaxRequestDepth) > control::kMaxRequestDepth) {
        return errorReply("request nests arrays or objects deeper than " +
                          std::to_string(control::kMaxRequestDepth) + " levels")
            .dump();
    }
    nlohmann::json req = nlohmann::json::parse(request, nullptr, false);
    if (req.is_discarded() || !req.is_object()) {
        return errorReply("request is not a JSON object").dump();
    }
    auto v = req.find(control::kFieldVersion);
    if (v == req.end() || !v->is_number_integer() || v->get<int>() > control::kVersion) {
        return errorReply("unsupported protocol version; this daemon speaks v" +
                          std::to_string(control::kVersion))
            .dump();
    }
    auto c = req.find(control::kFieldCommand);
    if (c == req.end() || !c->is_string()) return errorReply("request has no \"command\"").dump();
    const std::string command = c->get<std::string>();
    auto h = impl_->handlers.find(command);
    if (h == impl_->handlers.end()) return errorReply("unknown command '" + command + "'").dump();
    nlohmann::json args = nlohmann::json::object();
    if (auto a = req.find(control::kFieldArgs); a != req.end() && a->is_object()) args = *a;
    try {
        nlohmann::json result = h->second(args);
        return nlohmann::json{{control::kFieldVersion, control::kVersion},
                              {control::kFieldOk, true},
                              {control::kFieldResult, std::move(result)}}
            .dump();
    } catch (const ControlError& e) {
        return errorReply(e.what()).dump();
    } catch (const std::exception& e) {
        return errorReply(std::string("internal error: ") + e.what()).dump();
    }
}

bool ControlServer::start(const std::string& socket_path, std::string* error) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir = fs::path(socket_path).parent_path();
    const bool create_dir = !dir.empty() && !fs::exists(dir);
    if (create_dir) {
        fs::create_directories(dir, ec);
        if (ec) {
            *error = "cannot create " + dir.string() + ": " + ec.message();
            return false;
        }
        ::chmod(dir.c_str(), 0750);
    }
    zmq::socket_t sock(impl_->ctx, zmq::socket_type::rep);
    // bind() creates the socket file with the process umask. Under 0177 it is
    // its owner's alone from the first instant; it is shared with the group
    // only below. (The umask is the process's: a file another thread creates
    // meanwhile gets at most 0600 too. start() runs once, during start-up.)
    const mode_t umask_before = ::umask(0177);
    try {
        sock.set(zmq::sockopt::linger, 0);
        sock.set(zmq::sockopt::rcvtimeo, 200);  // lets the thread notice stop()
        ::unlink(socket_path.c_str());          // a stale socket from a crashed run
        sock.bind("ipc://" + socket_path);
    } catch (const zmq::error_t& e) {
        ::umask(umask_before);
        *error = "cannot bind control socket " + socket_path + ": " + e.what();
        return false;
    }
    ::umask(umask_before);
    // Who may talk to tandemd: root, and the access group if it exists.
    const std::optional<gid_t> gid = lookupGroup(impl_->access_group);
    std::string why;
    if (!gid) {
        ::chmod(socket_path.c_str(), 0600);
        const std::string why_not = impl_->access_group.empty()
                                        ? std::string("no access group")
                                        : "no group '" + impl_->access_group + "'";
        TLOG_INFO(kLog, "control socket %s: mode 0600, its owner only (%s)", socket_path.c_str(),
                  why_not.c_str());
    } else if (!shareWithGroup(socket_path, *gid, 0660, 0600, &why)) {
        TLOG_WARN(kLog, "control socket %s: cannot give it to group '%s' (%s): mode 0600",
                  socket_path.c_str(), impl_->access_group.c_str(), why.c_str());
    } else {
        // Only a directory made here is changed: one that existed belongs to
        // whoever set it up (systemd's RuntimeDirectory=, /tmp, ...).
        if (create_dir && !shareWithGroup(dir.string(), *gid, 0750, 0750, &why)) {
            TLOG_WARN(kLog, "cannot give %s to group '%s' (%s)", dir.c_str(),
                      impl_->access_group.c_str(), why.c_str());
        }
        TLOG_INFO(kLog, "control socket %s: mode 0660, group %s", socket_path.c_str(),
                  impl_->access_group.c_str());
    }
    impl_->path = socket_path;
    impl_->running = true;
    impl_->thread = std::thread([this, s = std::move(sock)]() mutable {
        while (impl_->running.load()) {
            zmq::message_t msg;
            zmq::recv_result_t got;
            try {
                got = s.recv(msg);
            } catch (const zmq::error_t& e) {
                if (e.num() == ETERM) break;
                continue;
            }
            if (!got) continue;  // timeout
            std::string reply = handle(msg.to_string());
            try {
                s.send(zmq::buffer(reply), zmq::send_flags::none);
            } catch (const zmq::error_t& e) {
                TLOG_WARN(kLog, "reply not sent: %s", e.what());
            }
        }
        s.close();
    });
    TLOG_INFO(kLog, "serving on ipc://%s", socket_path.c_str());
    return true;
}

void ControlServer::stop() {
    if (!impl_->running.exchange(false)) return;
    if (impl_->thread.joinable()) impl_->thread.join();
    if (!impl_->path.empty()) ::unlink(impl_->path.c_str());
}

}  // namespace tandem
