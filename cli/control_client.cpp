#include "cli/control_client.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <zmq.hpp>

#include "proto/control_protocol.h"

namespace tandem::cli {

struct ControlClient::Impl {
    zmq::context_t ctx{1};
};

ControlClient::ControlClient(std::string socket_path, int timeout_ms)
    : socket_path_(std::move(socket_path)),
      timeout_ms_(timeout_ms),
      impl_(std::make_unique<Impl>()) {}

ControlClient::~ControlClient() = default;

std::string ControlClient::notRunningMessage() const {
    return "tandemd is not running (no answer on " + socket_path_ + ")";
}

ControlReply ControlClient::request(const std::string& command, const nlohmann::json& args,
                                    int timeout_ms) const {
    ControlReply reply;
    if (timeout_ms < 0) timeout_ms = timeout_ms_;

    // ZeroMQ connects to a missing ipc:// path without complaint and retries
    // in the background; asking the file system first answers at once.
    struct stat st {};
    if (::stat(socket_path_.c_str(), &st) != 0) {
        reply.error = errno == EACCES ? "cannot reach " + socket_path_ +
                                            ": permission denied (run as root or as a member "
                                            "of the socket's group)"
                                      : notRunningMessage();
        return reply;
    }
    if (!S_ISSOCK(st.st_mode)) {
        reply.error = socket_path_ + " is not a socket; is --socket right?";
        return reply;
    }
    if (::access(socket_path_.c_str(), R_OK | W_OK) != 0) {
        reply.error = "cannot use " + socket_path_ + ": " + std::strerror(errno) +
                      " (run as root or as a member of the socket's group)";
        return reply;
    }

    const nlohmann::json req = {
        {control::kFieldVersion, control::kVersion},
        {control::kFieldCommand, command},
        {control::kFieldArgs, args.is_object() ? args : nlohmann::json::object()}};
    std::string text;
    try {
        zmq::socket_t sock(impl_->ctx, zmq::socket_type::req);
        sock.set(zmq::sockopt::linger, 0);
        sock.set(zmq::sockopt::sndtimeo, timeout_ms);
        sock.set(zmq::sockopt::rcvtimeo, timeout_ms);
        sock.connect("ipc://" + socket_path_);
        const std::string body = req.dump();
        if (!sock.send(zmq::buffer(body), zmq::send_flags::none)) {
            reply.error = notRunningMessage();
            return reply;
        }
        zmq::message_t msg;
        if (!sock.recv(msg, zmq::recv_flags::none)) {
            reply.error = notRunningMessage();
            return reply;
        }
        text = msg.to_string();
    } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) {
            reply.status = ControlReply::Status::interrupted;
            reply.error = "interrupted";
        } else {
            reply.error = "cannot reach tandemd on " + socket_path_ + ": " + e.what();
        }
        return reply;
    }

    reply.status = ControlReply::Status::bad_reply;
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        reply.error = "tandemd's reply is not a JSON object";
        return reply;
    }
    auto ok = j.find(control::kFieldOk);
    if (ok == j.end() || !ok->is_boolean()) {
        reply.error = "tandemd's reply has no \"ok\" field";
        return reply;
    }
    if (!ok->get<bool>()) {
        reply.status = ControlReply::Status::refused;
        auto err = j.find(control::kFieldError);
        reply.error = err != j.end() && err->is_string() ? err->get<std::string>()
                                                         : "tandemd refused the command";
        return reply;
    }
    reply.status = ControlReply::Status::ok;
    auto result = j.find(control::kFieldResult);
    reply.result = result != j.end() ? *result : nlohmann::json::object();
    return reply;
}

}  // namespace tandem::cli
