// Clocks. The dataplane and the HA agent share one millisecond clock
// (CLOCK_MONOTONIC, read through the vDSO: no system call) so that session
// expiry times move between them unchanged. HA logic takes time through the
// Clock interface so that tests can run it on simulated time.
#pragma once

#include <time.h>

#include <cstdint>

namespace tandem {

/// Monotonic milliseconds, wrapping at 2^32 (~49 days). Any thread.
inline uint32_t monotonicMs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint32_t(uint64_t(ts.tv_sec) * 1000u + uint64_t(ts.tv_nsec) / 1000000u);
}

/// Monotonic microseconds (64-bit, no wrap in practice). Any thread.
inline uint64_t monotonicUs() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000u + uint64_t(ts.tv_nsec) / 1000u;
}

/// Time source for control-plane logic; SimulatedClock in tests.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual uint64_t nowUs() const = 0;
    uint32_t nowMs() const { return uint32_t(nowUs() / 1000); }
};

class MonotonicClock final : public Clock {
  public:
    uint64_t nowUs() const override { return monotonicUs(); }
};

class SimulatedClock final : public Clock {
  public:
    explicit SimulatedClock(uint64_t start_us = 1000000) : now_us_(start_us) {}
    uint64_t nowUs() const override { return now_us_; }
    void advanceUs(uint64_t d) { now_us_ += d; }
    void advanceMs(uint64_t d) { now_us_ += d * 1000; }

  private:
    uint64_t now_us_;
};

}  // namespace tandem
