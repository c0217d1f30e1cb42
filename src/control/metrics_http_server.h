// MetricsHttpServer: a deliberately small HTTP/1.1 server for one resource,
// `GET /metrics` (Prometheus scrapes), on a plain TCP socket and its own thread.
//
// One request per connection, up to `max_clients` connections at once on
// one poll loop, none of them waited on: a slow client holds only its own
// connection. Its request head must arrive within `request_timeout_ms` and
// fit in `max_request_bytes` (else 408 / 431 and the connection is closed);
// a request body is never read. When all slots are taken, the connection
// that has waited longest for its request head is closed to make room. Answers: 200 for GET or HEAD
// of /metrics (a query string is ignored), 404 for any other path, 405 (with Allow) for any other
// method, 400 for a malformed request line or header, 505 for a version other than HTTP/1.x. Every
// response carries Connection: close.
//
// The page comes from the `render` callback, called on the server thread for
// each 200; it must only read snapshots (it never reaches into a worker), so
// a scrape can never stall the dataplane.
//
// Threads: start()/stop() from one control thread; stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace tandem {

struct HttpRequestHead {
    std::string method;
    std::string target;   ///< as sent, e.g. "/metrics?x=1"
    std::string version;  ///< "HTTP/1.1"
};

enum class HttpHeadStatus : uint8_t {
    complete,     ///< *out holds the request line
    incomplete,   ///< no blank line yet: read more
    bad_request,  ///< request line or a header line is malformed
    too_large,    ///< the head is longer than allowed
};

/// Parses the head of an HTTP/1.x request from the bytes received so far.
/// `max_bytes` bounds the head (request line + headers + blank line). Pure.
HttpHeadStatus parseHttpRequestHead(std::string_view data, size_t max_bytes, HttpRequestHead* out);

struct MetricsHttpStats {
    uint64_t requests = 0;  ///< responses sent, any status
    uint64_t scrapes = 0;   ///< 200 responses
    uint64_t rejected = 0;  ///< 4xx/5xx responses and connections that timed out
};

struct MetricsHttpOptions {
    size_t max_request_bytes = 8192;     ///< request line + headers
    uint32_t request_timeout_ms = 2000;  ///< to receive the head; again to send the answer
    size_t max_clients = 16;             ///< connections served at once
};

class MetricsHttpServer {
  public:
    using Options = MetricsHttpOptions;
    using Render = std::function<std::string()>;

    MetricsHttpServer() = default;
    ~MetricsHttpServer();
    MetricsHttpServer(const MetricsHttpServer&) = delete;
    MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

    /// Listens on `listen` ("127.0.0.1:9464", "[::1]:9464"; port 0 picks a
    /// free one, see port()) and starts the thread. False and *error on failure.
    bool start(const std::string& listen, Render render, std::string* error,
               Options options = Options());
    /// Stops the thread, closing the connections in hand; idempotent.
    void stop();
    /// The bound port (after start()).
    uint16_t port() const { return port_; }
    MetricsHttpStats stats() const;

  private:
    struct Client;
    void run();
    void acceptAll(std::vector<Client>& clients, uint64_t now_us);
    void progress(Client& c, uint64_t now_us);
    void expire(Client& c, uint64_t now_us);
    void decide(Client& c, HttpHeadStatus st, const HttpRequestHead& head, uint64_t now_us);
    void answer(Client& c, int status, const char* reason, const std::string& extra_headers,
                const std::string& body, bool head_only, uint64_t now_us);

    Render render_;
    Options options_;
    int listen_fd_ = -1;
    int wake_[2] = {-1, -1};
    uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<uint64_t> requests_{0}, scrapes_{0}, rejected_{0};
};

}  // namespace tandem
