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
#include <string_view>

namespace tandem {

struct CounterInfo {
    std::string_view name;
    std::string_view help;
};

#define TANDEM_COUNTER_ENUM_ENTRY(name, help) name,
#define TANDEM_COUNTER_INFO_ENTRY(name, help) ::tandem::CounterInfo{#name, help},

#define TANDEM_COUNTER_ENUM(Enum, LIST)                                                  \
    enum class Enum : uint16_t { LIST(TANDEM_COUNTER_ENUM_ENTRY) };                      \
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

}  // namespace tandem
