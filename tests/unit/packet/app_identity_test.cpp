// Application identity readers: SNI from real ClientHellos and every way a
// stream can carry them (split segments, record fragmentation, GREASE,
// truncation, corruption), HTTP Host, DNS query names, name matching.
#include "packet/app_identity.h"

#include "fixtures/tls_hello.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace tandem;
using tandem::test::clientHello;
using tandem::test::put16;
using tandem::test::records;

namespace {

using Bytes = std::vector<uint8_t>;

// A ClientHello as Python's ssl module (OpenSSL 3) sends it for
// server_hostname="www.example.com": one 512-byte record, TLS 1.3 with
// key shares, padded.
const char* kOpenSslHello =
    "1603010200010001fc030309706245f7942585d59361350dc0ca06d64c18431bb347c3138ed42f06579bcf20ff2ade"
    "71"
    "a2681670c217e1a6a9f3239519396d4dd16537e7ebf8ec0b4caf7c06003e130213031301c02cc030009fcca9cca8cc"
    "aa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010001"
    "75"
    "00000014001200000f7777772e6578616d706c652e636f6d000b000403000102000a00160014001d0017001e001900"
    "18"
    "01000101010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b080408"
    "05"
    "0806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d"
    "00"
    "20c05cc1768ff0a9b183029ab74a3b353183e5ad45d337072b94335fa59e232533001500c000000000000000000000"
    "00"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00"
    "00000000000000000000000000000000000000000000000000000000000000000000000000";

Bytes fromHex(const std::string& h) {
    Bytes b;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        b.push_back(uint8_t(std::stoi(h.substr(i, 2), nullptr, 16)));
    return b;
}

std::string sni(const Bytes& stream, AppParse* r = nullptr) {
    AppName n;
    const AppParse got = parseTlsSni(stream.data(), stream.size(), &n);
    if (r) *r = got;
    return got == AppParse::found ? std::string(n.view()) : "";
}

}  // namespace

TEST_CASE("the SNI of a real ClientHello, whole and in every prefix") {
    const Bytes hello = fromHex(kOpenSslHello);
    REQUIRE(hello.size() == 517);
    CHECK(sni(hello) == "www.example.com");
    // Every prefix is "need more" until the server_name extension is in;
    // from there on the name is found (the rest is not needed).
    bool found_before_end = false;
    for (size_t n = 0; n < hello.size(); ++n) {
        AppParse r;
        const std::string got = sni(Bytes(hello.begin(), hello.begin() + long(n)), &r);
        CAPTURE(n);
        CHECK((r == AppParse::need_more || (r == AppParse::found && got == "www.example.com")));
        found_before_end |= r == AppParse::found;
    }
    CHECK(found_before_end);
}

TEST_CASE("a ClientHello fragmented over TLS records and split over segments gives its name") {
    const Bytes hs = clientHello({{0, "Api.Example.COM."}});
    for (size_t chunk : {size_t(1), size_t(7), size_t(60), size_t(500)}) {
        const Bytes stream = records(hs, chunk);
        CAPTURE(chunk);
        CHECK(sni(stream) == "api.example.com");
        // Cut into 2 or 3 segments anywhere: each prefix wants more until done.
        for (size_t cut = 1; cut < stream.size(); cut += 13) {
            AppParse r;
            sni(Bytes(stream.begin(), stream.begin() + long(cut)), &r);
            CHECK((r == AppParse::need_more || r == AppParse::found));
        }
    }
}

TEST_CASE("GREASE, other name types and a missing server_name") {
    CHECK(sni(records(clientHello({{0, "a.example"}}, true), 600)) == "a.example");
    CHECK(sni(records(clientHello({{7, "ignored"}, {0, "b.example"}}), 600)) == "b.example");
    AppParse r;
    CHECK(sni(records(clientHello({}), 600), &r).empty());
    CHECK(r == AppParse::not_this);
    CHECK(sni(records(clientHello({{7, "only.other.type"}}), 600), &r).empty());
    CHECK(r == AppParse::not_this);
    // A name that is not a host name: an IP literal is fine, a space is not.
    CHECK(sni(records(clientHello({{0, "10.1.2.3"}}), 600)) == "10.1.2.3");
    CHECK(sni(records(clientHello({{0, "bad name"}}), 600), &r).empty());
    CHECK(r == AppParse::malformed);
}

TEST_CASE("streams that are not TLS, or not a ClientHello") {
    AppParse r;
    sni(Bytes{'G', 'E', 'T', ' '}, &r);
    CHECK(r == AppParse::not_this);
    Bytes server_hello = records(clientHello({{0, "x.example"}}), 600);
    server_hello[5] = 2;  // handshake type ServerHello
    sni(server_hello, &r);
    CHECK(r == AppParse::not_this);
    Bytes alert = {21, 3, 3, 0, 2, 2, 40};
    sni(alert, &r);
    CHECK(r == AppParse::not_this);
}

TEST_CASE("every corruption of a ClientHello ends in a verdict, within the stream's bounds") {
    const Bytes base = records(clientHello({{0, "www.example.com"}}), 100);
    std::mt19937 rng(11);
    int found = 0, other = 0;
    for (int round = 0; round < 20000; ++round) {
        Bytes b = base;
        const int flips = 1 + int(rng() % 3);
        for (int k = 0; k < flips; ++k) b[rng() % b.size()] = uint8_t(rng());
        b.resize(rng() % (b.size() + 1));
        AppName n;
        const AppParse res = parseTlsSni(b.data(), b.size(), &n);
        if (res == AppParse::found) {
            ++found;
            REQUIRE(n.len > 0);
            AppName again;
            REQUIRE(canonicalAppName(n.view(), &again));  // what comes out is canonical
            REQUIRE(again.view() == n.view());
        } else {
            ++other;
        }
    }
    CHECK(found > 0);
    CHECK(other > 0);
}

TEST_CASE("a ClientHello longer than the bound is given up on") {
    // 4,000 bytes of cipher suites push the extensions past kMaxAppPrefix.
    const Bytes hs = clientHello({{0, "late.example"}});
    // hs: 4-byte header, then version, random, session id (1 + 32), suites
    // (2 + 6), compression (1 + 1), extensions' length and extensions.
    const size_t ext_at = 4 + 2 + 32 + 1 + 32 + 2 + 6 + 1 + 1;
    Bytes body = {3, 3};
    body.insert(body.end(), 32, 1);
    body.push_back(0);  // no session id
    put16(body, 4000);
    body.insert(body.end(), 4000, 0x13);
    body.insert(body.end(), {1, 0});
    body.insert(body.end(), hs.begin() + long(ext_at), hs.end());
    Bytes long_hs(4 + body.size());
    long_hs[0] = 1;
    long_hs[1] = uint8_t(body.size() >> 16);
    long_hs[2] = uint8_t(body.size() >> 8);
    long_hs[3] = uint8_t(body.size());
    std::copy(body.begin(), body.end(), long_hs.begin() + 4);
    AppParse r;
    CHECK(sni(records(long_hs, 1000), &r).empty());
    CHECK(r == AppParse::malformed);
    // The same name with short suites is found.
    CHECK(sni(records(hs, 1000)) == "late.example");
}

TEST_CASE("HTTP/1.x Host, in pieces, with a port, and heads without one") {
    auto host = [](const std::string& s, AppParse* r = nullptr) {
        AppName n;
        const AppParse got =
            parseHttpHost(reinterpret_cast<const uint8_t*>(s.data()), s.size(), &n);
        if (r) *r = got;
        return got == AppParse::found ? std::string(n.view()) : "";
    };
    const std::string req =
        "GET /index.html HTTP/1.1\r\nUser-Agent: x\r\nhOST:  WWW.Example.com:8080 \r\n\r\n";
    CHECK(host(req) == "www.example.com");
    for (size_t n = 0; n < req.size(); ++n) {
        AppParse r;
        const std::string got = host(req.substr(0, n), &r);
        CAPTURE(n);
        CHECK((r == AppParse::need_more || (r == AppParse::found && got == "www.example.com")));
    }
    CHECK(host("POST /x HTTP/1.0\nHost: api.example\n\n") == "api.example");
    AppParse r;
    host("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", &r);
    CHECK(r == AppParse::not_this);  // no Host
    host("SSH-2.0-OpenSSH_9.2\r\n", &r);
    CHECK(r == AppParse::not_this);
    host("GET / SPDY/3\r\n", &r);
    CHECK(r == AppParse::not_this);
    host("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", &r);
    CHECK(r == AppParse::malformed);  // an IPv6 literal is not a name
    host("GE", &r);
    CHECK(r == AppParse::need_more);
}

TEST_CASE("DNS: the first question of a query") {
    Bytes q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    for (const char* label : {"WWW", "example", "com"}) {
        q.push_back(uint8_t(std::strlen(label)));
        q.insert(q.end(), label, label + std::strlen(label));
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});
    AppName n;
    REQUIRE(parseDnsQueryName(q.data(), q.size(), &n) == AppParse::found);
    CHECK(n.view() == "www.example.com");
    Bytes response = q;
    response[2] |= 0x80;
    CHECK(parseDnsQueryName(response.data(), response.size(), &n) == AppParse::not_this);
    Bytes pointer = q;
    pointer[12] = 0xc0;
    CHECK(parseDnsQueryName(pointer.data(), pointer.size(), &n) == AppParse::malformed);
    for (size_t len = 0; len < q.size() - 5; ++len) {
        CAPTURE(len);
        CHECK(parseDnsQueryName(q.data(), len, &n) != AppParse::found);
    }
}

TEST_CASE("names match exactly or by a wildcard's suffix") {
    CHECK(appNameMatches("www.example.com", "www.example.com"));
    CHECK_FALSE(appNameMatches("www.example.com", "example.com"));
    CHECK(appNameMatches("*.example.com", "www.example.com"));
    CHECK(appNameMatches("*.example.com", "a.b.example.com"));
    CHECK_FALSE(appNameMatches("*.example.com", "example.com"));
    CHECK_FALSE(appNameMatches("*.example.com", "badexample.com"));
    AppName n;
    CHECK(canonicalAppName("Mixed.Case.", &n));
    CHECK(n.view() == "mixed.case");
    CHECK_FALSE(canonicalAppName("a..b", &n));
    CHECK_FALSE(canonicalAppName("a..", &n));  // one trailing dot goes, an empty label stays
    CHECK_FALSE(canonicalAppName(".", &n));
    CHECK_FALSE(canonicalAppName(std::string(254, 'a'), &n));
}
