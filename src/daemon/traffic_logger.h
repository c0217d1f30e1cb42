// TrafficLogger: the thread that turns the workers' traffic log records into
// JSON lines (traffic_log_format.h) and writes them to a file or to syslog.
//
// Workers only push fixed-size records on their own SPSC ring (one per
// worker, this thread is every ring's only consumer). The logger drains the
// rings every few milliseconds, formats into a buffer and writes the buffer
// when it passes 64 KiB or is a second old, so a line reaches the file at
// most ~1 s after its event. The file is opened O_APPEND and reopened
// (a) when reopen() is called (tandemd does on SIGHUP) and (b) when the path
// no longer names the open file (moved or removed by logrotate), checked once
// a second; either way logrotate needs no copytruncate.
// With destination "syslog" each line goes to syslog(3) (facility daemon,
// priority info, ident "tandemd-traffic") as it is formatted.
//
// Threads: the constructor, start() and stop() from the daemon's main
// thread; reopen() and stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/traffic_log_format.h"

namespace tandem {

struct TrafficLoggerStats {
    uint64_t records = 0;       ///< records taken off the rings
    uint64_t write_errors = 0;  ///< writes that failed (their lines are lost)
    uint64_t reopens = 0;       ///< times the file was reopened
};

class TrafficLogger {
  public:
    static constexpr const char* kSyslog = "syslog";

    /// `destination`: a file path, or kSyslog. `rings` must outlive the logger.
    /// `flush_ms` bounds how long a formatted line waits in the buffer.
    TrafficLogger(std::string destination, TrafficLogNames names,
                  std::vector<TrafficLogRing*> rings, uint32_t flush_ms = 1000);
    ~TrafficLogger();
    TrafficLogger(const TrafficLogger&) = delete;
    TrafficLogger& operator=(const TrafficLogger&) = delete;

    /// Opens the destination and starts the thread. False (and *error says
    /// why, e.g. the directory does not exist) if the file cannot be opened.
    bool start(std::string* error);
    /// Drains what the rings still hold, writes it, closes; idempotent.
    void stop();
    /// Asks the thread to reopen the file before its next write.
    void reopen() { reopen_.store(true, std::memory_order_relaxed); }
    /// The names records are written with from now on (a policy reload
    /// renames rules). Records still in the rings get the new names.
    void setNames(TrafficLogNames names);
    TrafficLoggerStats stats() const;

  private:
    void run();
    bool drain();            // true when it took records
    void write(bool force);  // the buffer, if full, old or forced
    bool openFile(std::string* error);
    void checkRotation();

    std::string destination_;
    std::mutex names_mu_;  // names_: setNames() against the thread's drain()
    TrafficLogNames names_;
    std::vector<TrafficLogRing*> rings_;
    uint32_t flush_ms_;
    bool syslog_ = false;
    int fd_ = -1;
    std::string buffer_;
    uint64_t buffer_since_us_ = 0;
    uint64_t last_check_us_ = 0;
    std::thread thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> reopen_{false};
    std::atomic<uint64_t> records_{0}, write_errors_{0}, reopens_{0};
};

}  // namespace tandem
