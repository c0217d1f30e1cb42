// Reads a fuzz input as a sequence of choices and byte strings: the targets
// that drive a stateful component (the pipeline, the peer-link receiver) cut
// one input into many operations with it. Every read is bounded by what is
// left; an exhausted input reads as zeros and empty strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tandem::fuzz {

class FuzzInput {
  public:
    FuzzInput(const uint8_t* data, size_t size) : p_(data), left_(size) {}

    bool empty() const { return left_ == 0; }
    size_t left() const { return left_; }

    /// A little-endian integer of sizeof(T) bytes (fewer when the input ends).
    template <typename T>
    T take() {
        T v{};
        const size_t n = left_ < sizeof(T) ? left_ : sizeof(T);
        std::memcpy(&v, p_, n);
        p_ += n;
        left_ -= n;
        return v;
    }

    /// One of `n` choices (n > 0).
    unsigned choose(unsigned n) { return take<uint8_t>() % n; }

    /// The next `n` bytes, or what is left of them.
    std::string_view bytes(size_t n) {
        if (n > left_) n = left_;
        std::string_view s(reinterpret_cast<const char*>(p_), n);
        p_ += n;
        left_ -= n;
        return s;
    }

    /// A string prefixed by its 16-bit length (at most `max` bytes).
    std::string_view chunk(size_t max) { return bytes(take<uint16_t>() % (max + 1)); }

    /// Everything that is left.
    std::string_view rest() { return bytes(left_); }

  private:
    const uint8_t* p_;
    size_t left_;
};

/// Stops the run as a finding: a property of the code under test failed.
/// libFuzzer reports the abort with the input that caused it.
[[noreturn]] void fail(const char* what);

}  // namespace tandem::fuzz

/// Checks a property; a failure is a finding, in every build type.
#define FUZZ_CHECK(cond)                                        \
    do {                                                        \
        if (!(cond)) ::tandem::fuzz::fail(__FILE__ ": " #cond); \
    } while (0)
