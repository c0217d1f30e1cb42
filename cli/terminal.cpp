#include "cli/terminal.h"

#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace tandem::cli {

size_t Terminal::rows(int fd) {
    struct winsize ws {};
    if (::ioctl(fd, TIOCGWINSZ, &ws) != 0) return 0;
    return ws.ws_row;
}

int Terminal::readKey(int fd) {
    struct termios saved {};
    const bool tty = ::tcgetattr(fd, &saved) == 0;
    if (tty) {
        struct termios raw = saved;
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO);  // ISIG stays: Ctrl-C still interrupts
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        ::tcsetattr(fd, TCSANOW, &raw);
    }
    unsigned char c = 0;
    const ssize_t n = ::read(fd, &c, 1);
    if (tty) ::tcsetattr(fd, TCSANOW, &saved);
    return n == 1 ? c : -1;
}

}  // namespace tandem::cli
