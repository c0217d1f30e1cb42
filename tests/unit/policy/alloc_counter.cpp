#include "alloc_counter.h"

#include <cstdlib>
#include <new>

// Kept in its own file so that the replaced operators are never inlined into
// standard-library code, where GCC would mistake free() for a mismatch.
namespace {
thread_local bool t_counting = false;
thread_local long t_allocs = 0;
}  // namespace

void* operator new(std::size_t size) {
    if (t_counting) ++t_allocs;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
    return operator new(size);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}

namespace tandem::testing {

void startCountingAllocations() {
    t_allocs = 0;
    t_counting = true;
}

long stopCountingAllocations() {
    t_counting = false;
    return t_allocs;
}

}  // namespace tandem::testing
