#include "daemon/traffic_logger.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cstring>

#include "core/clock.h"
#include "core/log.h"

namespace tandem {
namespace {

constexpr const char* kLog = "traffic-log";
constexpr size_t kWriteAtBytes = 64 * 1024;
constexpr uint32_t kDrainBudget = 4096;  // records per ring per pass
constexpr long kIdleSleepNs = 20 * 1000 * 1000;
constexpr uint64_t kRotationCheckUs = 1000 * 1000;

int64_t wallMs() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

TrafficLogger::TrafficLogger(std::string destination, TrafficLogNames names,
                             std::vector<TrafficLogRing*> rings, uint32_t flush_ms)
    : destination_(std::move(destination)),
      names_(std::move(names)),
      rings_(std::move(rings)),
      flush_ms_(flush_ms),
      syslog_(destination_ == kSyslog) {}

TrafficLogger::~TrafficLogger() {
    stop();
}

bool TrafficLogger::openFile(std::string* error) {
    const int fd = ::open(destination_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        if (error) *error = "traffic log " + destination_ + ": " + std::strerror(errno);
        return false;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return true;
}

bool TrafficLogger::start(std::string* error) {
    if (syslog_) {
        openlog("tandemd-traffic", LOG_NDELAY, LOG_DAEMON);
    } else if (!openFile(error)) {
        return false;
    }
    thread_ = std::thread([this] { run(); });
    return true;
}

void TrafficLogger::stop() {
    if (!thread_.joinable()) return;
    stopping_.store(true);
    thread_.join();
    if (fd_ >= 0) ::close(fd_), fd_ = -1;
    if (syslog_) closelog();
}

TrafficLoggerStats TrafficLogger::stats() const {
    return {records_.load(std::memory_order_relaxed), write_errors_.load(std::memory_order_relaxed),
            reopens_.load(std::memory_order_relaxed)};
}

void TrafficLogger::setNames(TrafficLogNames names) {
    std::lock_guard lock(names_mu_);
    names_ = std::move(names);
}

bool TrafficLogger::drain() {
    // Ring records carry the worker's monotonic ms; wall time is derived
    // from the distance to now, taken once per pass.
    const int64_t wall_now = wallMs();
    const uint32_t mono_now = monotonicMs();
    bool took = false;
    TrafficLogRecord r;
    std::lock_guard lock(names_mu_);
    for (TrafficLogRing* ring : rings_) {
        for (uint32_t n = 0; n < kDrainBudget && ring->pop(&r); ++n) {
            took = true;
            records_.fetch_add(1, std::memory_order_relaxed);
            const int64_t wall = wall_now - int64_t(uint32_t(mono_now - r.now_ms));
            if (buffer_.empty()) buffer_since_us_ = monotonicUs();
            appendTrafficLogLine(r, names_, wall, &buffer_);
            if (syslog_) {
                buffer_.pop_back();  // syslog adds its own line end
                ::syslog(LOG_INFO, "%s", buffer_.c_str());
                buffer_.clear();
            }
        }
    }
    return took;
}

void TrafficLogger::checkRotation() {
    if (syslog_) return;
    const uint64_t now = monotonicUs();
    if (!reopen_.load(std::memory_order_relaxed)) {
        if (now - last_check_us_ < kRotationCheckUs) return;
        last_check_us_ = now;
        struct stat by_path, by_fd;
        const bool same = ::stat(destination_.c_str(), &by_path) == 0 && fd_ >= 0 &&
                          ::fstat(fd_, &by_fd) == 0 && by_path.st_dev == by_fd.st_dev &&
                          by_path.st_ino == by_fd.st_ino;
        if (same) return;
    }
    reopen_.store(false, std::memory_order_relaxed);
    std::string error;
    if (openFile(&error)) {
        reopens_.fetch_add(1, std::memory_order_relaxed);
        TLOG_INFO(kLog, "reopened %s", destination_.c_str());
    } else {
        TLOG_WARN(kLog, "%s", error.c_str());
    }
}

void TrafficLogger::write(bool force) {
    if (buffer_.empty()) return;
    const bool old = monotonicUs() - buffer_since_us_ >= uint64_t(flush_ms_) * 1000;
    if (!force && !old && buffer_.size() < kWriteAtBytes) return;
    checkRotation();
    size_t done = 0;
    while (done < buffer_.size()) {
        const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            write_errors_.fetch_add(1, std::memory_order_relaxed);
            TLOG_WARN(kLog, "%s: %s", destination_.c_str(), std::strerror(errno));
            break;
        }
        done += size_t(n);
    }
    buffer_.clear();
}

void TrafficLogger::run() {
    while (!stopping_.load(std::memory_order_relaxed)) {
        const bool took = drain();
        write(false);
        if (!took) {
            if (!syslog_ && buffer_.empty()) checkRotation();
            timespec ts{0, kIdleSleepNs};
            nanosleep(&ts, nullptr);
        }
    }
    while (drain()) {
    }
    write(true);
}

}  // namespace tandem
