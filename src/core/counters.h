// Named counters declared once, as tables.
//
// Every outcome of the per-packet path is a counter with a stable name and a
// one-line description. A module declares its counters with an X-macro list:
//
//   #define MY_COUNTERS(X) X(rx, "packets received") X(bad_len, "length field too small")
//   TANDEM_COUNTER_ENUM(MyCounter, MY_COUNTERS)
//
// which yields `enum class MyCounter`, a `kMyCounterInfo[]` name table and
// `kMyCounterCount`. CounterBlock<E> is a per-thread array of those counters:
// one writer (the thread that owns it), any number of readers that load the
// values relaxed (a reader may see a count one packet old, never a torn one
// on 64-bit targets).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tandem {

struct CounterInfo {
    std::string_view name;
    std::string_view help;
};

/// One counter's value with its name and help, as status snapshots carry it
/// to JSON and /metrics.
struct CounterValue {
    std::string name;
    std::string help;
    uint64_t value = 0;
};

#define TANDEM_COUNTER_ENUM_ENTRY(name, help) name,
#define TANDEM_COUNTER_INFO_ENTRY(name, help) ::tandem::CounterInfo{#name, help},

#define TANDEM_COUNTER_ENUM(Enum, LIST)                                                         \
    enum class Enum : uint16_t { LIST(TANDEM_COUNTER_ENUM_ENTRY) };                             \
    inline constexpr ::tandem::CounterInfo k##Enum##Info[] = {LIST(TANDEM_COUNTER_INFO_ENTRY)}; \
    inline constexpr size_t k##Enum##Count = sizeof(k##Enum##Info) / sizeof(k##Enum##Info[0]);

/// A block of counters indexed by enum E (declared with TANDEM_COUNTER_ENUM).
/// add()/inc() are for the single owning thread; get() may be called from
/// any thread.
template <typename E, size_t N>
struct CounterBlock {
    std::atomic<uint64_t> v[N] = {};

    void inc(E e) { add(e, 1); }
    void add(E e, uint64_t n) {
        auto& c = v[static_cast<size_t>(e)];
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get(E e) const { return v[static_cast<size_t>(e)].load(std::memory_order_relaxed); }
    static constexpr size_t size() { return N; }
};

/// The counters of `block` from index `first` on, with the names and help
/// of `info` (its k<Enum>Info table). Any thread.
template <typename E, size_t N>
std::vector<CounterValue> counterValues(const CounterBlock<E, N>& block,
                                        const CounterInfo (&info)[N], size_t first = 0) {
    std::vector<CounterValue> out;
    out.reserve(N - first);
    for (size_t i = first; i < N; ++i) {
        out.push_back({std::string(info[i].name), std::string(info[i].help),
                       block.v[i].load(std::memory_order_relaxed)});
    }
    return out;
}

}  // namespace tandem
