// The runner's own proof that a finding fails the run: a target with a
// planted bug (a property that fails on inputs starting with "BUG!") that
// libFuzzer finds within seconds from an empty corpus. Its ctest test is
// expected to fail (WILL_FAIL): if it ever passes, run_fuzz_target.sh no
// longer reports findings.
#include <cstring>

#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FUZZ_CHECK(!(size >= 4 && std::memcmp(data, "BUG!", 4) == 0));
    return 0;
}
