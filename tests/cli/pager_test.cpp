#include "cli/pager.h"

#include <doctest/doctest.h>

#include <deque>
#include <sstream>

using namespace tandem::cli;

namespace {

std::string lines(int n) {
    std::string out;
    for (int i = 1; i <= n; ++i) out += "line " + std::to_string(i) + "\n";
    return out;
}

Pager::KeyReader keys(std::deque<int> pressed, int* asked) {
    return [pressed, asked]() mutable {
        ++*asked;
        if (pressed.empty()) return -1;
        int k = pressed.front();
        pressed.pop_front();
        return k;
    };
}

}  // namespace

TEST_CASE("output that fits is printed without a prompt") {
    std::ostringstream out;
    int asked = 0;
    CHECK(Pager(out, 5, keys({}, &asked)).show(lines(5)));
    CHECK(out.str() == lines(5));
    CHECK(asked == 0);
}

TEST_CASE("space shows the next page, enter one more line") {
    std::ostringstream out;
    int asked = 0;
    CHECK(Pager(out, 3, keys({' ', '\n', ' '}, &asked)).show(lines(8)));
    CHECK(asked == 3);
    const std::string more = "--More--\r        \r";
    CHECK(out.str() == "line 1\nline 2\nline 3\n" + more + "line 4\nline 5\nline 6\n" + more +
                           "line 7\n" + more + "line 8\n");
}

TEST_CASE("q stops the output") {
    std::ostringstream out;
    int asked = 0;
    CHECK_FALSE(Pager(out, 2, keys({'q'}, &asked)).show(lines(10)));
    CHECK(out.str() == "line 1\nline 2\n--More--\r        \r");
}
