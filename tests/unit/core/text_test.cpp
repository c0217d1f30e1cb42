// core/text.h and the node-name rule of core/node_id.h.
#include <doctest/doctest.h>

#include <string>

#include "core/node_id.h"
#include "core/text.h"

namespace tandem {

TEST_CASE("numbers are plain decimal within their range") {
    CHECK(parseUnsigned("0", 0, 5) == 0u);
    CHECK(parseUnsigned("5", 0, 5) == 5u);
    CHECK(parseUnsigned("18446744073709551615") == UINT64_MAX);
    CHECK_FALSE(parseUnsigned("6", 0, 5));
    CHECK_FALSE(parseUnsigned("", 0, 5));
    CHECK_FALSE(parseUnsigned("-1", 0, 5));
    CHECK_FALSE(parseUnsigned("+1", 0, 5));
    CHECK_FALSE(parseUnsigned(" 1", 0, 5));
    CHECK_FALSE(parseUnsigned("1e3", 0, 5000));
    CHECK_FALSE(parseUnsigned("0x10", 0, 100));
    CHECK_FALSE(parseUnsigned("99999999999999999999", 0, UINT64_MAX));
}

TEST_CASE("words join with a comma unless told otherwise") {
    CHECK(joinWords({}) == "");
    CHECK(joinWords({"tcp"}) == "tcp");
    CHECK(joinWords({"tcp", "udp", "icmp"}) == "tcp, udp, icmp");
    CHECK(joinWords({"a", "b"}, " | ") == "a | b");
}

TEST_CASE("node names are host-name like, up to 63 characters") {
    CHECK(isValidNodeName("fw-a.example.net"));
    CHECK(isValidNodeName("node_1"));
    CHECK(isValidNodeName(std::string(kMaxNodeNameLength, 'a')));
    CHECK_FALSE(isValidNodeName(std::string(kMaxNodeNameLength + 1, 'a')));
    CHECK_FALSE(isValidNodeName(""));
    CHECK_FALSE(isValidNodeName("-fw"));
    CHECK_FALSE(isValidNodeName(".fw"));
    CHECK_FALSE(isValidNodeName("fw a"));
    CHECK_FALSE(isValidNodeName("fw/a"));
}

}  // namespace tandem
