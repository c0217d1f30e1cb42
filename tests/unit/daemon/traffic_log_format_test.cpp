#include "daemon/traffic_log_format.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

using namespace tandem;

namespace {

TrafficLogRecord record(TrafficLogEvent ev) {
    TrafficLogRecord r;
    r.event = ev;
    r.session_id = 42;
    r.from_zone = 1;
    r.to_zone = 0;
    r.now_ms = 65000;
    FlowTuple t;
    t.src = *parseIpAddr("10.0.1.10");
    t.dst = *parseIpAddr("192.0.2.80");
    t.sport = 40000;
    t.dport = 80;
    t.proto = kProtoTcp;
    t.family = AddrFamily::v4;
    bool src_is_lo = false;
    r.session.setKey(makeFlowKey(t, &src_is_lo));
    r.session.flags = src_is_lo ? kSessionInitiatorIsLo : 0;
    r.session.state = SessionState::tcp_time_wait;
    r.session.rule = 1;
    r.session.created_s = 60;
    r.session.setCounts(0, 5, 300);
    r.session.setCounts(1, 4, 9000);
    return r;
}

const TrafficLogNames kNames("fw\"1", 1, {"ssh", "web"}, {"outside", "inside"});

nlohmann::json lineOf(const TrafficLogRecord& r, int64_t wall_ms = 1714564800123) {
    std::string out;
    appendTrafficLogLine(r, kNames, wall_ms, &out);
    REQUIRE(!out.empty());
    CHECK(out.back() == '\n');
    CHECK(out.find('\n') == out.size() - 1);  // exactly one line
    return nlohmann::json::parse(out);
}

}  // namespace

TEST_CASE("a start line names the connection as it was opened, its zones and its rule") {
    const auto j = lineOf(record(TrafficLogEvent::start));
    CHECK(j["event"] == "start");
    CHECK(j["time"] == "2024-05-01T12:00:00.123Z");
    CHECK(j["node"] == "fw\"1");
    CHECK(j["node_id"] == 1);
    CHECK(j["session_id"] == 42);
    CHECK(j["proto"] == "tcp");
    CHECK(j["src"] == "10.0.1.10");
    CHECK(j["sport"] == 40000);
    CHECK(j["dst"] == "192.0.2.80");
    CHECK(j["dport"] == 80);
    CHECK(j["from_zone"] == "inside");
    CHECK(j["to_zone"] == "outside");
    CHECK(j["rule"] == "web");
    CHECK(j["state"] == "time-wait");
    CHECK_FALSE(j.contains("reason"));
    CHECK_FALSE(j.contains("packets_orig"));
}

TEST_CASE("an end line adds the reason, the duration and both directions' counters") {
    TrafficLogRecord r = record(TrafficLogEvent::end);
    r.reason = TrafficEndReason::tcp_fin;
    const auto j = lineOf(r);
    CHECK(j["event"] == "end");
    CHECK(j["reason"] == "tcp-fin");
    CHECK(j["duration_s"] == 5);
    CHECK(j["packets_orig"] == 5);
    CHECK(j["packets_reply"] == 4);
    CHECK(j["bytes_orig"] == 300);
    CHECK(j["bytes_reply"] == 9000);
}

TEST_CASE("unknown zones and rules are null, other protocols are numbers") {
    TrafficLogRecord r = record(TrafficLogEvent::start);
    r.from_zone = r.to_zone = kUnknownZone;
    r.session.rule = 99;
    r.session.key_proto = 47;
    const auto j = lineOf(r);
    CHECK(j["from_zone"].is_null());
    CHECK(j["to_zone"].is_null());
    CHECK(j["rule"].is_null());
    CHECK(j["proto"] == 47);
}

TEST_CASE("JSON strings escape quotes, backslashes and control characters") {
    CHECK(jsonQuote("a\"b\\c\n\x01") == "\"a\\\"b\\\\c\\n\\u0001\"");
    CHECK(formatUtcTime(0) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("a session an app rule asked about carries its application, and whether it was cut") {
    TrafficLogRecord r = record(TrafficLogEvent::end);
    CHECK_FALSE(lineOf(r).contains("app_status"));  // no app rule asked
    r.app.status = AppStatus::identified;
    r.app.proto = AppProtocol::tls;
    const std::string name = "www.example.com";
    std::copy(name.begin(), name.end(), r.app_name.text);
    r.app_name.len = uint8_t(name.size());
    r.session.flags |= kSessionAppDenied;
    auto j = lineOf(r);
    CHECK(j["app_status"] == "identified");
    CHECK(j["app"] == "tls");
    CHECK(j["app_name"] == "www.example.com");
    CHECK(j["app_denied"] == true);
    TrafficLogRecord p = record(TrafficLogEvent::start);
    p.app.status = AppStatus::pending;
    j = lineOf(p);
    CHECK(j["app_status"] == "pending");
    CHECK_FALSE(j.contains("app"));
    CHECK_FALSE(j.contains("app_name"));
    CHECK_FALSE(j.contains("app_denied"));
}

TEST_CASE("a translated session carries the address and port it leaves with") {
    TrafficLogRecord r = record(TrafficLogEvent::start);
    CHECK_FALSE(lineOf(r).contains("nat"));
    r.nat = NatBinding{0xc633640a, 20017, 1, 0};
    const auto j = lineOf(r);
    CHECK(j["nat"] == "snat");
    CHECK(j["nat_src"] == "198.51.100.10");
    CHECK(j["nat_sport"] == 20017);
}

TEST_CASE("a destination-translated session carries the address and port it is sent to") {
    TrafficLogRecord r = record(TrafficLogEvent::start);
    r.nat = NatBinding{0x0a000514, 8443, 2, 0};
    const auto j = lineOf(r);
    CHECK(j["nat"] == "dnat");
    CHECK(j["nat_dst"] == "10.0.5.20");
    CHECK(j["nat_dport"] == 8443);
    CHECK_FALSE(j.contains("nat_src"));
}
