// The metrics endpoint against real TCP connections on loopback.
#include "control/metrics_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using namespace tandem;

namespace {

int connectTo(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

// Sends `request` (possibly nothing), then reads until the server closes.
std::string exchange(uint16_t port, const std::string& request, int timeout_ms = 5000) {
    const int fd = connectTo(port);
    size_t done = 0;
    while (done < request.size()) {
        const ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may close early (oversized request)
        done += size_t(n);
    }
    std::string reply;
    char buf[4096];
    while (true) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) break;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        reply.append(buf, size_t(n));
    }
    ::close(fd);
    return reply;
}

int statusOf(const std::string& reply) {
    if (reply.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
    return std::stoi(reply.substr(9, 3));
}

std::string bodyOf(const std::string& reply) {
    const size_t p = reply.find("\r\n\r\n");
    return p == std::string::npos ? std::string() : reply.substr(p + 4);
}

struct Served {
    MetricsHttpServer server;
    int renders = 0;
    explicit Served(MetricsHttpServer::Options o = {}) {
        std::string error;
        REQUIRE_MESSAGE(server.start(
                            "127.0.0.1:0",
                            [this] {
                                ++renders;
                                return std::string("tandem_up 1\n");
                            },
                            &error, o),
                        error);
        REQUIRE(server.port() != 0);
    }
};

}  // namespace

TEST_CASE(
    "GET /metrics answers 200 with the rendered page, its length and the exposition content type") {
    Served s;
    const std::string r = exchange(s.server.port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(statusOf(r) == 200);
    CHECK(bodyOf(r) == "tandem_up 1\n");
    CHECK(r.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
    CHECK(r.find("Content-Length: 12\r\n") != std::string::npos);
    CHECK(r.find("Connection: close\r\n") != std::string::npos);
    CHECK(s.renders == 1);
    // A query string is ignored; HEAD gets the headers only.
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics?name[]=x HTTP/1.0\r\n\r\n")) == 200);
    const std::string head = exchange(s.server.port(), "HEAD /metrics HTTP/1.1\r\n\r\n");
    CHECK(statusOf(head) == 200);
    CHECK(bodyOf(head).empty());
    CHECK(s.server.stats().scrapes == 3);
}

TEST_CASE("another path is 404 and another method 405 with Allow, without rendering the page") {
    Served s;
    CHECK(statusOf(exchange(s.server.port(), "GET / HTTP/1.1\r\n\r\n")) == 404);
    CHECK(statusOf(exchange(s.server.port(), "GET /metricsx HTTP/1.1\r\n\r\n")) == 404);
    const std::string r =
        exchange(s.server.port(), "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(statusOf(r) == 405);
    CHECK(r.find("Allow: GET, HEAD\r\n") != std::string::npos);
    CHECK(s.renders == 0);
    CHECK(s.server.stats().rejected == 3);
}

TEST_CASE("malformed requests get 400, other HTTP versions 505, and the server keeps serving") {
    Served s;
    for (const char* bad :
         {"GARBAGE\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.1\r\n\r\n",
          "GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", "GET /metrics FTP/1.0\r\n\r\n",
          "G(T /metrics HTTP/1.1\r\n\r\n"}) {
        CAPTURE(bad);
        CHECK(statusOf(exchange(s.server.port(), bad)) == 400);
    }
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/2.0\r\n\r\n")) == 505);
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/1.1\r\n\r\n")) == 200);
}

TEST_CASE("an oversized request head is refused with 431 before it is read whole") {
    MetricsHttpServer::Options o;
    o.max_request_bytes = 1024;
    Served s(o);
    std::string big = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(100000, 'a') + "\r\n\r\n";
    CHECK(statusOf(exchange(s.server.port(), big)) == 431);
    CHECK(s.renders == 0);
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/1.1\r\n\r\n")) == 200);
}

TEST_CASE(
    "a client that sends half a request is cut off after the timeout and others are served after "
    "it") {
    MetricsHttpServer::Options o;
    o.request_timeout_ms = 200;
    Served s(o);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = exchange(s.server.port(), "GET /metrics HTTP/1.1\r\nHost:", 5000);
    const auto waited = std::chrono::steady_clock::now() - t0;
    CHECK(statusOf(r) == 408);
    CHECK(waited >= std::chrono::milliseconds(150));
    CHECK(waited < std::chrono::milliseconds(3000));
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/1.1\r\n\r\n")) == 200);
}

TEST_CASE("a slow client does not delay a scrape: each connection is served on its own") {
    Served s;  // the default 2 s for a request head
    const int slow = connectTo(s.server.port());
    REQUIRE(::send(slow, "GET /metrics HTTP/1.1\r\nHost:", 29, MSG_NOSIGNAL) == 29);
    const int silent = connectTo(s.server.port());
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/1.1\r\n\r\n")) == 200);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));
    // The slow one can still finish its request.
    const std::string rest = " x\r\n\r\n";
    REQUIRE(::send(slow, rest.data(), rest.size(), MSG_NOSIGNAL) == ssize_t(rest.size()));
    std::string reply;
    char buf[4096];
    for (pollfd p{slow, POLLIN, 0}; ::poll(&p, 1, 3000) > 0;) {
        const ssize_t n = ::recv(slow, buf, sizeof buf, 0);
        if (n <= 0) break;
        reply.append(buf, size_t(n));
    }
    CHECK(statusOf(reply) == 200);
    ::close(slow);
    ::close(silent);
}

TEST_CASE("more idle connections than slots do not keep a scrape out") {
    MetricsHttpServer::Options o;
    o.max_clients = 4;
    Served s(o);
    std::vector<int> idle;
    for (int i = 0; i < 10; ++i) idle.push_back(connectTo(s.server.port()));
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(statusOf(exchange(s.server.port(), "GET /metrics HTTP/1.1\r\n\r\n")) == 200);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(1000));
    for (int fd : idle) ::close(fd);
    CHECK(s.server.stats().scrapes == 1);
}

TEST_CASE("the request head parser finds the request line and needs the blank line") {
    HttpRequestHead h;
    CHECK(parseHttpRequestHead("GET /metrics HTTP/1.1\r\nHost: a\r\n", 8192, &h) ==
          HttpHeadStatus::incomplete);
    CHECK(parseHttpRequestHead("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", 8192, &h) ==
          HttpHeadStatus::complete);
    CHECK(h.method == "GET");
    CHECK(h.target == "/metrics");
    CHECK(h.version == "HTTP/1.1");
    CHECK(parseHttpRequestHead("\r\nGET /m HTTP/1.0\n\n", 8192, &h) == HttpHeadStatus::complete);
    CHECK(h.target == "/m");
    CHECK(parseHttpRequestHead(std::string(100, 'G'), 64, &h) == HttpHeadStatus::too_large);
    CHECK(parseHttpRequestHead("GET /metrics HTTP/1.1\r\n" + std::string(100, 'a'), 64, &h) ==
          HttpHeadStatus::too_large);
}

TEST_CASE("start fails clearly on an address that is not IP:PORT or cannot be bound") {
    MetricsHttpServer a;
    std::string error;
    CHECK_FALSE(a.start(
        "localhost", [] { return std::string(); }, &error));
    CHECK(error.find("IP:PORT") != std::string::npos);
    CHECK_FALSE(a.start(
        "203.0.113.77:9464", [] { return std::string(); }, &error));
    CHECK(error.find("metrics-listen") != std::string::npos);
}
