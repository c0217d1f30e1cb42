// Terminal: the little the shell needs from the tty besides readline —
// its height (for the pager) and single key presses without echo.
#pragma once

#include <cstddef>

namespace tandem::cli {

class Terminal {
  public:
    /// Rows of the terminal on `fd`, or 0 if it is not a terminal or will not say.
    static size_t rows(int fd);

    /// Reads one key from the terminal on `fd` without waiting for enter and
    /// without echo. Returns the byte, or -1 on end of input or a signal.
    static int readKey(int fd);
};

}  // namespace tandem::cli
