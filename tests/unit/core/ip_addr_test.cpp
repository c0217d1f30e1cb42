#include "core/ip_addr.h"

#include <doctest/doctest.h>

using namespace tandem;

TEST_CASE("IPv4 text round-trips through the v4-mapped form") {
    auto a = parseIpAddr("192.0.2.17");
    REQUIRE(a);
    CHECK(a->isV4Mapped());
    CHECK(a->v4() == 0xc0000211);
    CHECK(formatIpAddr(*a) == "192.0.2.17");
}

TEST_CASE("IPv6 text round-trips in RFC 5952 form") {
    auto a = parseIpAddr("2001:DB8:0:0::1");
    REQUIRE(a);
    CHECK_FALSE(a->isV4Mapped());
    CHECK(formatIpAddr(*a) == "2001:db8::1");
}

TEST_CASE("malformed addresses are rejected") {
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1::2::3", "abc", "1.2.3.4/8"}) {
        CAPTURE(bad);
        CHECK_FALSE(parseIpAddr(bad));
    }
}

TEST_CASE("128-bit conversion round-trips and orders like the bytes") {
    auto a = *parseIpAddr("10.0.0.1");
    auto b = *parseIpAddr("10.0.0.2");
    CHECK(IpAddr::fromU128(a.asU128()) == a);
    CHECK(a.asU128() < b.asU128());
    CHECK(a < b);
}
