#include "control/metrics_http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "control/prometheus_text.h"
#include "core/clock.h"

namespace tandem {
namespace {

constexpr uint64_t kLingerUs = 500 * 1000;
constexpr size_t kLingerBytes = 1 << 20;

bool isTokenChar(char c) {
    // RFC 9110 tchar.
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool validRequestLine(std::string_view line, HttpRequestHead* out) {
    const size_t sp1 = line.find(' ');
    if (sp1 == std::string_view::npos || sp1 == 0) return false;
    const size_t sp2 = line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || sp2 == sp1 + 1) return false;
    const std::string_view method = line.substr(0, sp1);
    const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    for (char c : method) {
        if (!isTokenChar(c)) return false;
    }
    for (char c : target) {
        if (c <= ' ' || c == 0x7f) return false;
    }
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || version[6] != '.' ||
        version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9') {
        return false;
    }
    out->method = std::string(method);
    out->target = std::string(target);
    out->version = std::string(version);
    return true;
}

bool validHeaderLine(std::string_view line) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    for (char c : line.substr(0, colon)) {
        if (!isTokenChar(c)) return false;
    }
    return true;
}

void closeFd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

HttpHeadStatus parseHttpRequestHead(std::string_view data, size_t max_bytes, HttpRequestHead* out) {
    // Lines end in CRLF; a bare LF is accepted as well (RFC 9112 2.2).
    size_t pos = 0;
    bool first = true;
    while (true) {
        const size_t nl = data.find('\n', pos);
        if (nl == std::string_view::npos) {
            return data.size() >= max_bytes ? HttpHeadStatus::too_large
                                            : HttpHeadStatus::incomplete;
        }
        if (nl + 1 > max_bytes) return HttpHeadStatus::too_large;
        std::string_view line = data.substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        pos = nl + 1;
        if (first) {
            if (line.empty()) continue;  // RFC 9112 2.2: ignore leading blank lines
            if (!validRequestLine(line, out)) return HttpHeadStatus::bad_request;
            first = false;
            continue;
        }
        if (line.empty()) return HttpHeadStatus::complete;
        if (!validHeaderLine(line)) return HttpHeadStatus::bad_request;
    }
}

MetricsHttpServer::~MetricsHttpServer() {
    stop();
}

bool MetricsHttpServer::start(const std::string& listen, Render render, std::string* error,
                              Options options) {
    render_ = std::move(render);
    options_ = options;
    std::string host, port;
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos) {
        *error = "metrics-listen '" + listen + "': expected IP:PORT";
        return false;
    }
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    addrinfo* ai = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); rc != 0) {
        *error = "metrics-listen '" + listen + "': " + gai_strerror(rc);
        return false;
    }
    listen_fd_ = ::socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    const int one = 1;
    bool ok = listen_fd_ >= 0 &&
              ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
              ::bind(listen_fd_, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(listen_fd_, 16) == 0;
    freeaddrinfo(ai);
    if (!ok || ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
        *error = "metrics-listen '" + listen + "': " + std::strerror(errno);
        closeFd(listen_fd_);
        return false;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    thread_ = std::thread([this] { run(); });
    return true;
}

void MetricsHttpServer::stop() {
    if (thread_.joinable()) {
        const char c = 1;
        [[maybe_unused]] ssize_t n = ::write(wake_[1], &c, 1);
        thread_.join();
    }
    closeFd(listen_fd_);
    closeFd(wake_[0]);
    closeFd(wake_[1]);
}

MetricsHttpStats MetricsHttpServer::stats() const {
    return {requests_.load(std::memory_order_relaxed), scrapes_.load(std::memory_order_relaxed),
            rejected_.load(std::memory_order_relaxed)};
}

// One connection in hand: its request head arriving, its answer leaving, or
// (after an error answer) its remaining input drained before the close.
struct MetricsHttpServer::Client {
    enum class Phase { head, reply, linger };
    int fd = -1;
    Phase phase = Phase::head;
    uint64_t accepted_us = 0;
    uint64_t deadline_us = 0;  // of the current phase
    std::string in;            // the request head so far
    std::string out;           // the answer
    size_t sent = 0;
    bool linger = false;  // an error answer: drain the input before closing
    size_t drained = 0;
};

void MetricsHttpServer::run() {
    std::vector<Client> clients;
    std::vector<pollfd> fds;
    while (true) {
        uint64_t now = monotonicUs();
        for (Client& c : clients)
            if (now >= c.deadline_us) expire(c, now);
        std::erase_if(clients, [](const Client& c) { return c.fd < 0; });

        fds.assign({{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}});
        uint64_t next_us = UINT64_MAX;
        for (const Client& c : clients) {
            fds.push_back({c.fd, short(c.phase == Client::Phase::reply ? POLLOUT : POLLIN), 0});
            next_us = std::min(next_us, c.deadline_us);
        }
        const int timeout_ms =
            next_us == UINT64_MAX ? -1 : int(std::min<uint64_t>((next_us - now) / 1000 + 1, 60000));
        if (::poll(fds.data(), fds.size(), timeout_ms) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[1].revents) break;
        now = monotonicUs();
        for (size_t i = 0; i < clients.size(); ++i)
            if (fds[2 + i].revents) progress(clients[i], now);
        if (fds[0].revents & POLLIN) acceptAll(clients, now);
        std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    }
    for (Client& c : clients) closeFd(c.fd);
}

void MetricsHttpServer::acceptAll(std::vector<Client>& clients, uint64_t now) {
    while (true) {
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) return;  // none left, the client went away, or no descriptors: later
        if (clients.size() >= options_.max_clients) {
            // Full: the connection that has waited longest for its request
            // head makes room, so that no set of slow clients keeps others out.
            Client* oldest = nullptr;
            for (Client& c : clients)
                if (c.fd >= 0 && c.phase == Client::Phase::head &&
                    (!oldest || c.accepted_us < oldest->accepted_us))
                    oldest = &c;
            if (!oldest) {
                ::close(fd);
                rejected_.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            closeFd(oldest->fd);
            rejected_.fetch_add(1, std::memory_order_relaxed);
            std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
        }
        Client c;
        c.fd = fd;
        c.accepted_us = now;
        c.deadline_us = now + uint64_t(options_.request_timeout_ms) * 1000;
        clients.push_back(std::move(c));
        progress(clients.back(), now);  // the request may be there already
    }
}

void MetricsHttpServer::expire(Client& c, uint64_t now) {
    if (c.phase == Client::Phase::head) {
        answer(c, 408, "Request Timeout", "", "request head not received in time\n", false, now);
        c.deadline_us = now + 100 * 1000;  // a short while to send the 408
        return;
    }
    closeFd(c.fd);  // an answer that did not leave in time, or the drain is over
}

void MetricsHttpServer::progress(Client& c, uint64_t now) {
    char buf[4096];
    switch (c.phase) {
        case Client::Phase::head:
            while (c.phase == Client::Phase::head) {
                const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                if (n > 0) {
                    c.in.append(buf, size_t(n));
                    HttpRequestHead head;
                    const HttpHeadStatus st =
                        parseHttpRequestHead(c.in, options_.max_request_bytes, &head);
                    if (st != HttpHeadStatus::incomplete) decide(c, st, head, now);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
                // Closed (or failed) before a whole head arrived.
                rejected_.fetch_add(1, std::memory_order_relaxed);
                closeFd(c.fd);
                return;
            }
            [[fallthrough]];  // the answer may leave at once
        case Client::Phase::reply:
            while (c.sent < c.out.size()) {
                const ssize_t n =
                    ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
                if (n > 0) {
                    c.sent += size_t(n);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
                closeFd(c.fd);
                return;
            }
            if (!c.linger) {
                closeFd(c.fd);
                return;
            }
            // A refused request may still be arriving: closing with unread
            // input would reset the connection and could destroy the answer
            // on its way. Read and discard a bounded amount for a bounded time.
            ::shutdown(c.fd, SHUT_WR);
            c.phase = Client::Phase::linger;
            c.deadline_us = now + kLingerUs;
            [[fallthrough]];
        case Client::Phase::linger:
            while (c.drained < kLingerBytes) {
                const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
                if (n > 0) {
                    c.drained += size_t(n);
                    continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
                break;
            }
            closeFd(c.fd);
            return;
    }
}

void MetricsHttpServer::answer(Client& c, int status, const char* reason,
                               const std::string& extra_headers, const std::string& body,
                               bool head_only, uint64_t now) {
    std::string& out = c.out;
    out = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
    out += status == 200 ? std::string("Content-Type: ") + PrometheusText::kContentType + "\r\n"
                         : std::string("Content-Type: text/plain; charset=utf-8\r\n");
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    out += extra_headers;
    out += "Connection: close\r\n\r\n";
    if (!head_only) out += body;
    c.sent = 0;
    c.linger = status != 200;
    c.phase = Client::Phase::reply;
    // Replies get their own short deadline, whatever the request used up.
    c.deadline_us = now + uint64_t(options_.request_timeout_ms) * 1000;
    requests_.fetch_add(1, std::memory_order_relaxed);
    (status == 200 ? scrapes_ : rejected_).fetch_add(1, std::memory_order_relaxed);
}

void MetricsHttpServer::decide(Client& c, HttpHeadStatus st, const HttpRequestHead& head,
                               uint64_t now) {
    switch (st) {
        case HttpHeadStatus::too_large:
            answer(c, 431, "Request Header Fields Too Large", "", "request head too large\n", false,
                   now);
            return;
        case HttpHeadStatus::bad_request:
            answer(c, 400, "Bad Request", "", "malformed request\n", false, now);
            return;
        default:
            break;
    }
    if (head.version.compare(0, 7, "HTTP/1.") != 0) {
        answer(c, 505, "HTTP Version Not Supported", "", "HTTP/1.x only\n", false, now);
        return;
    }
    const bool is_head = head.method == "HEAD";
    if (head.method != "GET" && !is_head) {
        answer(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n", "GET or HEAD only\n", false,
               now);
        return;
    }
    const std::string path = head.target.substr(0, head.target.find('?'));
    if (path != "/metrics") {
        answer(c, 404, "Not Found", "", "only /metrics is served here\n", is_head, now);
        return;
    }
    answer(c, 200, "OK", "", render_ ? render_() : std::string(), is_head, now);
}

}  // namespace tandem
