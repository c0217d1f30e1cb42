// SpscRing: a bounded, lock-free, single-producer single-consumer queue of
// trivially copyable records.
//
// The dataplane and the HA agent meet only through rings like this: a worker
// pushes session events for the agent, the agent pushes replicas and commands
// for the worker. Neither side ever blocks: push() fails when the ring is full
// (the caller counts it), pop() fails when it is empty.
//
// Thread-safety: exactly one thread may push and exactly one (other) thread
// may pop. Capacity is a power of two fixed at construction.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace tandem {

template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>, "ring records are copied as bytes");

  public:
    /// `capacity` is rounded up to a power of two (minimum 2).
    explicit SpscRing(size_t capacity) {
        size_t c = 2;
        while (c < capacity) c <<= 1;
        mask_ = c - 1;
        // Storage only: a record is written by push() before pop() reads
        // it (records are trivially copyable), so the slots are not
        // initialised here, and a large ring's pages are touched only as
        // it fills (not all at once when a node starts).
        slots_.reset(
            static_cast<T*>(::operator new[](c * sizeof(T), std::align_val_t(alignof(T)))));
    }

    size_t capacity() const { return mask_ + 1; }

    /// Producer: appends one record; false when full.
    bool push(const T& v) {
        const size_t head = head_.load(std::memory_order_relaxed);
        if (head - tail_cache_ > mask_) {
            tail_cache_ = tail_.load(std::memory_order_acquire);
            if (head - tail_cache_ > mask_) return false;
        }
        copy(&slots_.get()[head & mask_], v);
        head_.store(head + 1, std::memory_order_release);
        return true;
    }

    /// Consumer: removes the oldest record into *out; false when empty.
    bool pop(T* out) {
        const size_t tail = tail_.load(std::memory_order_relaxed);
        if (tail == head_cache_) {
            head_cache_ = head_.load(std::memory_order_acquire);
            if (tail == head_cache_) return false;
        }
        copy(out, slots_.get()[tail & mask_]);
        tail_.store(tail + 1, std::memory_order_release);
        return true;
    }

    /// Records waiting (approximate when called by a third thread).
    size_t size() const {
        return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
    }
    /// Free slots as the producer sees them (exact for the producer).
    size_t freeSlots() const { return capacity() - size(); }

  private:
    // A record type may say how much of a record is in use (a free function
    // ringBytes(const T&), found by argument lookup): only that much is
    // copied in and out. Otherwise all of it.
    static void copy(T* dst, const T& src) {
        if constexpr (requires { ringBytes(src); }) {
            std::memcpy(static_cast<void*>(dst), &src, ringBytes(src));
        } else {
            *dst = src;
        }
    }

    alignas(64) std::atomic<size_t> head_{0};  // written by the producer
    size_t tail_cache_ = 0;                    // producer's view of tail_
    alignas(64) std::atomic<size_t> tail_{0};  // written by the consumer
    size_t head_cache_ = 0;                    // consumer's view of head_
    alignas(64) size_t mask_ = 0;
    struct FreeSlots {
        void operator()(T* p) const { ::operator delete[](p, std::align_val_t(alignof(T))); }
    };
    std::unique_ptr<T, FreeSlots> slots_;
};

}  // namespace tandem
