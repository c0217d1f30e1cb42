// Counts heap allocations (operator new) made by the calling thread between
// start and stop, to show that a function never allocates. Linking this file
// replaces the global operator new/delete of the whole test binary.
#pragma once

namespace tandem::testing {

void startCountingAllocations();
/// Stops counting and returns the number of allocations since the start.
long stopCountingAllocations();

}  // namespace tandem::testing
