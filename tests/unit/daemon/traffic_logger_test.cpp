// The logger thread against real files: lines appear within the flush
// interval, a moved file is followed by a new one, stop() drains the rings.
#include "daemon/traffic_logger.h"

#include <stdlib.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.h"

using namespace tandem;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/tandem_traffic_log_XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { fs::remove_all(path); }
};

size_t countLines(const fs::path& p, const std::string& needle = "") {
    std::ifstream in(p);
    size_t n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
}

// Waits (bounded) until `p` holds `want` lines containing `needle`.
bool waitForLines(const fs::path& p, size_t want, const std::string& needle = "", int ms = 5000) {
    for (int waited = 0; waited < ms; waited += 10) {
        if (countLines(p, needle) >= want) return countLines(p, needle) == want;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

TrafficLogRecord rec(uint64_t id, TrafficLogEvent ev = TrafficLogEvent::start) {
    TrafficLogRecord r;
    r.event = ev;
    r.session_id = id;
    r.now_ms = monotonicMs();
    r.session.key_family = AddrFamily::v4;
    r.session.key_proto = kProtoUdp;
    return r;
}

TrafficLogNames names() {
    return TrafficLogNames("fw1", 1, {"r"}, {"z"});
}

// A started logger on one ring, writing to traffic.log in a fresh directory.
struct Running {
    TempDir dir;
    fs::path file = dir.path / "traffic.log";
    TrafficLogRing ring{64};
    TrafficLogger logger{file.string(), names(), {&ring}, 50};
    Running() {
        std::string error;
        REQUIRE_MESSAGE(logger.start(&error), error);
    }
};

}  // namespace

TEST_CASE("records from every ring become lines in the file within the flush interval") {
    TempDir dir;
    const fs::path file = dir.path / "traffic.log";
    TrafficLogRing a(64), b(64);
    TrafficLogger logger(file.string(), names(), {&a, &b}, 100);
    std::string error;
    REQUIRE_MESSAGE(logger.start(&error), error);
    for (uint64_t i = 0; i < 10; ++i) REQUIRE((i % 2 ? a : b).push(rec(i)));
    CHECK(waitForLines(file, 10, "\"event\":\"start\""));
    CHECK(logger.stats().records == 10);
    REQUIRE(a.push(rec(99, TrafficLogEvent::end)));
    logger.stop();  // drains and writes what is left
    CHECK(countLines(file, "\"session_id\":99") == 1);
    CHECK(countLines(file) == 11);
}

TEST_CASE("a file moved away (logrotate) is followed by a new file at the configured path") {
    Running r;
    auto& [dir, file, ring, logger] = r;
    REQUIRE(ring.push(rec(1)));
    REQUIRE(waitForLines(file, 1));
    fs::rename(file, dir.path / "traffic.log.1");
    // The logger notices within about a second, even with nothing to write.
    for (int i = 0; i < 300 && !fs::exists(file); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(fs::exists(file));
    REQUIRE(ring.push(rec(2)));
    CHECK(waitForLines(file, 1, "\"session_id\":2"));
    CHECK(countLines(dir.path / "traffic.log.1") == 1);
    CHECK(logger.stats().reopens == 1);
}

TEST_CASE("reopen() (SIGHUP) opens the path again before the next write") {
    Running r;
    auto& [dir, file, ring, logger] = r;
    logger.reopen();
    REQUIRE(ring.push(rec(1)));
    CHECK(waitForLines(file, 1));
    CHECK(logger.stats().reopens == 1);
}

TEST_CASE("a log file that cannot be opened fails start() with the reason") {
    TrafficLogRing ring(4);
    TrafficLogger logger("/nonexistent-dir/traffic.log", names(), {&ring});
    std::string error;
    CHECK_FALSE(logger.start(&error));
    CHECK(error.find("/nonexistent-dir/traffic.log") != std::string::npos);
    CHECK(error.find("No such file") != std::string::npos);
}
