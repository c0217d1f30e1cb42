#include <cstdio>
#include <cstdlib>

#include "fuzz_input.h"

namespace tandem::fuzz {

void fail(const char* what) {
    std::fprintf(stderr, "fuzz property failed: %s\n", what);
    std::abort();
}

}  // namespace tandem::fuzz
