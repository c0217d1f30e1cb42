// The small parsers behind the keyword handlers, and the INI reader's line
// bookkeeping.
#include <doctest/doctest.h>

#include "config/curve_keys.h"
#include "config/ini_reader.h"
#include "config/value_parsers.h"

namespace tandem::config_detail {
namespace {

TEST_CASE("booleans are lower-case words or digits") {
    CHECK(parseBool("on") == true);
    CHECK(parseBool("0") == false);
    CHECK_FALSE(parseBool("TRUE"));
    CHECK_FALSE(parseBool("y"));
}

TEST_CASE("MAC addresses are six colon-separated hex pairs") {
    auto mac = parseMac("02:AB:cd:00:ff:10");
    REQUIRE(mac);
    CHECK((*mac)[1] == 0xab);
    CHECK((*mac)[5] == 0x10);
    CHECK_FALSE(parseMac("02-ab-cd-00-ff-10"));
    CHECK_FALSE(parseMac("02:ab:cd:00:ff"));
    CHECK_FALSE(parseMac("02:ab:cd:00:ff:1g"));
}

TEST_CASE("IP:PORT takes IPv4, or IPv6 in brackets, and a port 1..65535") {
    auto v4 = parseIpPort("10.0.0.1:4790");
    REQUIRE(v4);
    CHECK(v4->family == AddrFamily::v4);
    CHECK(v4->port == 4790);
    auto v6 = parseIpPort("[2001:db8::1]:1");
    REQUIRE(v6);
    CHECK(v6->family == AddrFamily::v6);
    CHECK_FALSE(parseIpPort("2001:db8::1:4790"));
    CHECK_FALSE(parseIpPort("10.0.0.1"));
    CHECK_FALSE(parseIpPort("10.0.0.1:0"));
    CHECK_FALSE(parseIpPort("10.0.0.1:65536"));
    CHECK_FALSE(parseIpPort("host:80"));
    CHECK_FALSE(parseIpPort("[10.0.0.1]:80"));
}

TEST_CASE("parsed addresses print in the form they are read") {
    CHECK(formatMac(*parseMac("02:AB:cd:00:ff:10")) == "02:ab:cd:00:ff:10");
    CHECK(formatIpPort(*parseIpPort("10.0.0.1:4790")) == "10.0.0.1:4790");
    CHECK(formatIpPort(*parseIpPort("[2001:db8::1]:1")) == "[2001:db8::1]:1");
    CHECK(formatPeerLinkAddress(PeerLinkAddress{*parseMac("02:00:00:00:00:02")}) ==
          "02:00:00:00:00:02");
    CHECK(formatPeerLinkAddress(PeerLinkAddress{}) == "");
}

TEST_CASE("ZeroMQ endpoints are tcp://HOST:PORT or ipc://PATH") {
    std::string why;
    CHECK(checkZmqEndpoint("tcp://10.0.0.1:7400", false, &why));
    CHECK(checkZmqEndpoint("tcp://[fd00::1]:7400", false, &why));
    CHECK(checkZmqEndpoint("tcp://fw-b.example:7400", false, &why));
    CHECK(checkZmqEndpoint("tcp://*:7400", true, &why));
    CHECK(checkZmqEndpoint("tcp://eth0:7400", true, &why));
    CHECK(checkZmqEndpoint("ipc:///run/tandem/ha.sock", true, &why));
    CHECK_FALSE(checkZmqEndpoint("tcp://*:7400", false, &why));
    CHECK_FALSE(checkZmqEndpoint("tcp://10.0.0.1:*", true, &why));
    CHECK_FALSE(checkZmqEndpoint("udp://10.0.0.1:7400", true, &why));
    CHECK_FALSE(checkZmqEndpoint("ipc://", true, &why));
    CHECK_FALSE(checkZmqEndpoint("tcp://[10.0.0.1]:7400", true, &why));
    CHECK_FALSE(checkZmqEndpoint("tcp://a b:7400", true, &why));
}

TEST_CASE("Z85 keys are 40 characters of the alphabet and decode to 32 bytes") {
    std::string why;
    CHECK(isZ85Key("Node1PublicKeyPlaceholder.00000000000000", &why));
    CHECK(isZ85Key("%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0", &why));  // 2^32 - 1 each
    CHECK_FALSE(isZ85Key("%nSc1%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0%nSc0", &why));
    CHECK(why.find("characters 1..5") != std::string::npos);
    CHECK_FALSE(isZ85Key("Node1PublicKeyPlaceholder.0000000000000", &why));
    CHECK_FALSE(isZ85Key("Node1PublicKeyPlaceholder.0000000000000\"", &why));
}

TEST_CASE("a key value runs to the first blank and may be followed by a comment") {
    CHECK(keyFromRawValue("ab#cd") == "ab#cd");
    CHECK(keyFromRawValue("ab#cd   # note") == "ab#cd");
    CHECK(keyFromRawValue("") == "");
    CHECK_FALSE(keyFromRawValue("ab cd"));
}

TEST_CASE("names, words and paths") {
    CHECK(isSimpleName("inside_1-a", 32));
    CHECK_FALSE(isSimpleName("-inside", 32));
    CHECK_FALSE(isSimpleName("in.side", 32));
    CHECK_FALSE(isSimpleName(std::string(33, 'a'), 32));
    CHECK(splitWhitespace("  -l 0-1\t-n  4 ") == std::vector<std::string>{"-l", "0-1", "-n", "4"});
    CHECK(resolvePath("/etc/tandem", "r.rules") == "/etc/tandem/r.rules");
    CHECK(resolvePath("/etc/tandem/", "r.rules") == "/etc/tandem/r.rules");
    CHECK(resolvePath("/etc/tandem", "/abs") == "/abs");
}

TEST_CASE("a misspelt word is matched to the closest candidate, if any is close") {
    std::vector<std::string> keys = {"listen", "peer-link", "peer-link-port", "hold-time-ms"};
    CHECK(closestName("peer_link_port", keys) == "peer-link-port");
    CHECK(closestName("hold-time", keys) == "hold-time-ms");
    CHECK(closestName("LISTEN", keys) == "listen");
    CHECK(closestName("hold", keys) == "hold-time-ms");
    CHECK(closestName("colour", keys).empty());
}

TEST_CASE("the INI reader keeps each key's line and value column") {
    Diagnostics diag;
    IniDocument doc = readIni("\n[a]\n  k = v  # c\n;x\n[b.c]\nkey=\n", "f", diag);
    CHECK_FALSE(diag.hasErrors());
    REQUIRE(doc.sections.size() == 2);
    CHECK(doc.sections[1].name == "b.c");
    CHECK(doc.sections[1].line == 5);
    REQUIRE(doc.entries.size() == 2);
    CHECK(doc.entries[0].key == "k");
    CHECK(doc.entries[0].value == "v");
    CHECK(doc.entries[0].raw_value == "v  # c");
    CHECK(doc.entries[0].line == 3);
    CHECK(doc.entries[0].value_column == 7);
    CHECK(doc.entries[0].section == 0);
    CHECK(doc.entries[1].value.empty());
    CHECK(doc.entries[1].line == 6);
}

TEST_CASE("the INI reader reports every syntax error and keeps the good lines") {
    Diagnostics diag;
    IniDocument doc = readIni("[a]\nbad\nk = 1\n[b\nj = 2\n[c]\n= 3\nm = 4\n", "f", diag);
    auto errors = diag.errors();
    REQUIRE(errors.size() == 3);
    CHECK(errors[0].line == 2);
    CHECK(errors[1].line == 4);
    CHECK(errors[2].line == 7);
    // j follows a broken header: dropped, its section's error stands for it.
    REQUIRE(doc.entries.size() == 2);
    CHECK(doc.entries[0].key == "k");
    CHECK(doc.entries[1].key == "m");
    CHECK(doc.sections[doc.entries[1].section].name == "c");
}

}  // namespace
}  // namespace tandem::config_detail
