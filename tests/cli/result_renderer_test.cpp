#include "cli/result_renderer.h"

#include <doctest/doctest.h>

using namespace tandem::cli;
using nlohmann::json;

namespace {

json sampleSessions() {
    return json::parse(R"({
      "sessions": [
        {"id": 17, "proto": "tcp", "src": "10.0.0.1", "sport": 40000, "dst": "192.0.2.80",
         "dport": 443, "state": "established", "owner": 1, "backup_owner": 2,
         "origin_owner": 1, "packets": [12, 10], "bytes": [1500, 64000],
         "expires_in_ms": 3599000, "rule": "web"},
        {"id": 18, "proto": "udp", "src": "2001:db8::1", "sport": 5353, "dst": "2001:db8::2",
         "dport": 53, "state": "replied", "owner": 2, "packets": [1, 1], "bytes": [80, 120]}
      ],
      "total": 2, "truncated": false})");
}

json sampleHaState() {
    return json::parse(R"({
      "local": {"id": 1, "name": "fw1", "state": "active-primary", "ready": true,
                "priority": 100,
                "last_transition": {"from": "tentative", "to": "active-primary",
                                    "cause": "sessions synchronized", "ago_ms": 125000}},
      "peers": [{"id": 2, "name": "fw2", "state": "active-secondary", "alive": true,
                 "control_link": true, "peer_link": true, "last_heard_ms": 80}],
      "session_owner": "first-packet", "revert": true, "preempt": false,
      "timers": {"heartbeat_interval_ms": 100, "hold_time_ms": 400},
      "view": {"owners": [1, 2], "epoch": 7},
      "security": {"control_link": "curve", "peer_link": "authenticated"},
      "sync": [{"peer": 2, "up": true}], "counters": {"records_tx": 5}})");
}

}  // namespace

TEST_CASE("counters print as aligned name/value lines grouped by section") {
    json r = json::parse(R"({"dataplane": {"forwarded": 1200, "dropped_policy": 3},
                             "io": {"idle_sleeps": 13335}, "parse": {},
                             "sessions": {"active": 2, "capacity": 1048576}})");
    CHECK(renderResult("show counters", json::object(), r) ==
          "dataplane\n"
          "  dropped_policy        3\n"
          "  forwarded          1200\n"
          "parse\n"
          "  (all zero)\n"
          "io\n"
          "  idle_sleeps       13335\n"
          "sessions\n"
          "  active                2\n"
          "  capacity        1048576\n"
          "(zero counters are hidden; 'show counters all' lists every one)\n");
}

TEST_CASE("a counter group keeps only its sections, and says when the daemon has none") {
    json r = json::parse(R"({"dataplane": {"forwarded": 1}, "ha": {"heartbeats_sent": 9}})");
    std::string ha = renderResult("show counters", json{{"group", "ha"}, {"all", true}}, r);
    CHECK(ha == "ha\n  heartbeats_sent  9\n");
    CHECK(renderResult("show counters", json{{"group", "peer-link"}}, r) ==
          "tandemd reported no peer-link counters (it reported: dataplane, ha)\n");
}

TEST_CASE("interfaces print as two tables naming every port, in the order of their field table") {
    json r = json::parse(R"({"interfaces": [
      {"name": "inside", "role": "data", "device": "net_null0,no-rx=1", "port_id": 0,
       "link": "up", "speed_mbps": 10000, "mtu": 9001, "steering": "rss", "rx_packets": 5,
       "tx_packets": 7,
       "rx_bytes": 300, "tx_bytes": 420, "rx_missed": 0, "rx_errors": 0, "tx_errors": 0,
       "rx_no_mbuf": 0},
      {"name": "peer", "role": "peer-link", "device": "net_null1,no-rx=1", "port_id": 1,
       "link": "down", "speed_mbps": 2500, "steering": "software"}]})");
    CHECK(renderResult("show interfaces", json::object(), r) ==
          "NAME    ROLE       DEVICE             PORT-ID  LINK     SPEED   MTU  STEERING\n"
          "inside  data       net_null0,no-rx=1        0  up     10 Gb/s  9001  rss\n"
          "peer    peer-link  net_null1,no-rx=1        1  down  2.5 Gb/s     -  software\n"
          "\n"
          "NAME    RX-PACKETS  TX-PACKETS  RX-BYTES  TX-BYTES  RX-MISSED  RX-NO-MBUF  RX-ERRORS"
          "  TX-ERRORS\n"
          "inside           5           7       300       420          0           0          0"
          "          0\n"
          "peer             -           -         -         -          -           -          -"
          "          -\n");
}

TEST_CASE("applications print as one table, most used first as tandemd sent them") {
    json r = json::parse(R"({"applications": [
      {"protocol": "tls", "name": "www.example.com", "sessions": 1200, "denied": 0},
      {"protocol": "dns", "name": "ads.tracker.example", "sessions": 3, "denied": 3},
      {"protocol": "", "name": "", "sessions": 2, "denied": 0}]})");
    CHECK(renderResult("show application", json::object(), r) ==
          "PROTOCOL  NAME                 SESSIONS  DENIED\n"
          "tls       www.example.com          1200       0\n"
          "dns       ads.tracker.example         3       3\n"
          "-         -                           2       0\n");
    CHECK(renderResult("show application", json::object(), json{{"applications", json::array()}}) ==
          "no session this node owns has had its application read\n");
}

TEST_CASE("sessions print as a table with endpoints, directions and a count") {
    std::string text = renderResult("show session all", json::object(), sampleSessions());
    CHECK(
        text ==
        "ID  PROTO  SOURCE              DESTINATION       STATE        OWNER  PACKETS       BYTES\n"
        "17  tcp    10.0.0.1:40000      192.0.2.80:443    established      1    12/10  1500/64000\n"
        "18  udp    [2001:db8::1]:5353  [2001:db8::2]:53  replied          2      1/1      80/120\n"
        "2 sessions\n");
}

TEST_CASE("a truncated session list says how many there are and how to narrow it") {
    json r = sampleSessions();
    r["total"] = 5000;
    r["truncated"] = true;
    std::string text = renderResult("show session all", json::object(), r);
    CHECK(text.find("showing 2 of 5000 sessions; narrow the list with filters") !=
          std::string::npos);
    json none = {{"sessions", json::array()}, {"total", 0}};
    CHECK(renderResult("show session all", json{{"src", "10.0.0.1"}}, none) ==
          "no sessions match the filters\n");
    CHECK(renderResult("show session all", json::object(), none) == "no sessions\n");
}

TEST_CASE("one session prints in detail") {
    json r = {{"session", sampleSessions()["sessions"][0]}};
    CHECK(renderResult("show session id", json{{"id", 17}}, r) ==
          "session 17\n"
          "  flow:          tcp 10.0.0.1:40000 -> 192.0.2.80:443\n"
          "  state:         established\n"
          "  rule:          web\n"
          "  owner:         1\n"
          "  backup owner:  2\n"
          "  origin owner:  1\n"
          "  packets:       12 out, 10 in\n"
          "  bytes:         1500 out, 64000 in\n"
          "  expires in:    59 min 59 s\n");
    json list = {{"sessions", json::array({sampleSessions()["sessions"][1]})}};
    CHECK(renderResult("show session flow", json::object(), list).rfind("session 18\n", 0) == 0);
    CHECK(renderResult("show session id", json::object(), json{{"sessions", json::array()}}) ==
          "no such session\n");
}

TEST_CASE("a session's application prints on one line after its rule") {
    json one = sampleSessions()["sessions"][0];
    one["app_status"] = "identified";
    one["app"] = "tls";
    one["app_name"] = "www.example.com";
    one["app_denied"] = true;
    std::string text = renderResult("show session id", json::object(), json{{"session", one}});
    CHECK(text.find("  rule:          web\n"
                    "  app:           tls www.example.com (identified), denied\n") !=
          std::string::npos);
    CHECK(text.find("app name") == std::string::npos);  // not again as a field of its own
    json pending = sampleSessions()["sessions"][0];
    pending["app_status"] = "pending";
    text = renderResult("show session id", json::object(), json{{"session", pending}});
    CHECK(text.find("  app:           (pending)\n") != std::string::npos);
}

TEST_CASE("HA state prints as key/value blocks for the node, its peers and the settings") {
    // In the order of src/proto/ha_status_fields.h; sync and counters are
    // left to their own commands.
    CHECK(renderResult("show high-availability state", json::object(), sampleHaState()) ==
          "local node fw1 (id 1)\n"
          "  state:            active-primary\n"
          "  ready:            yes\n"
          "  priority:         100\n"
          "  last transition:  tentative -> active-primary, 2 min 5 s ago (sessions "
          "synchronized)\n"
          "\n"
          "peer fw2 (id 2)\n"
          "  state:         active-secondary\n"
          "  alive:         yes\n"
          "  control link:  yes\n"
          "  peer link:     yes\n"
          "  last heard:    80 ms ago\n"
          "\n"
          "cluster settings\n"
          "  session owner:              first-packet\n"
          "  revert:                     yes\n"
          "  preempt:                    no\n"
          "  timers heartbeat interval:  100 ms\n"
          "  timers hold time:           400 ms\n"
          "  view owners:                1, 2\n"
          "  view epoch:                 7\n"
          "  security control link:      curve\n"
          "  security peer link:         authenticated\n");
}

TEST_CASE("cluster members print as a table") {
    json r = json::parse(R"({"members": [
        {"id": 1, "name": "fw1", "state": "active-primary", "local": true},
        {"id": 2, "name": "fw2", "state": "active-secondary", "alive": false}]})");
    CHECK(renderResult("show cluster members", json::object(), r) ==
          "ID  NAME  STATE             LOCAL  ALIVE\n"
          " 1  fw1   active-primary    yes    -\n"
          " 2  fw2   active-secondary  -      no\n");
}

TEST_CASE("a member's last transition prints as words, not JSON") {
    json r = json::parse(R"({"members": [
        {"id": 1, "name": "fw1", "state": "active", "self": true,
         "last_transition": {"from": "tentative", "to": "active", "cause": "bulk sync done",
                             "ago_ms": 5000}},
        {"id": 2, "name": "fw2", "state": "active"}]})");
    CHECK(renderResult("show cluster members", json::object(), r) ==
          "ID  NAME  STATE   LAST-TRANSITION                                  SELF\n"
          " 1  fw1   active  tentative -> active, 5.0 s ago (bulk sync done)  yes\n"
          " 2  fw2   active  -                                                -\n");
}

TEST_CASE("config, version and actions print plainly") {
    json cfg = {{"file", "/etc/tandem/tandem.conf"},
                {"summary", "node 1 (fw1) in cluster 1; inline mode, 1 worker; no peers (HA off)"}};
    CHECK(renderResult("show config", json::object(), cfg) ==
          "file: /etc/tandem/tandem.conf\n"
          "node 1 (fw1) in cluster 1\n"
          "inline mode, 1 worker\n"
          "no peers (HA off)\n");
    CHECK(renderResult("show version", json::object(), json{{"version", "0.1.0"}}) ==
          "tandemd 0.1.0\n");
    CHECK(renderResult("clear session all", json::object(), json{{"cleared", 12}}) ==
          "12 sessions cleared\n");
    CHECK(renderResult("request high-availability suspend", json::object(), json::object()) ==
          "ok\n");
    CHECK(renderResult("debug", json::object(), json{{"message", "ha: debug"}}) == "ha: debug\n");
    CHECK(renderResult("request high-availability state-synchronization resync", json::object(),
                       json{{"message", "asking every live peer for a full bulk sync"}}) ==
          "asking every live peer for a full bulk sync\n");
}

TEST_CASE("an answer of another shape falls back to the generic layout") {
    json odd = {{"interfaces", "none here"}, {"note", "x"}};
    CHECK(renderResult("show interfaces", json::object(), odd) ==
          "interfaces: none here\nnote: x\n");
    json ha = {{"local", {{"name", "fw1"}}}, {"peers", {{{"name", "fw2"}}, 3}}};
    CHECK(renderResult("show high-availability state", json::object(), ha) ==
          "local:\n  name: fw1\npeers:\n  - name: fw2\n  - 3\n");
}

TEST_CASE("the generic layout indents objects and lists") {
    json r = json::parse(R"({"queues": {"pending": 3, "acked": true},
                             "peers": [{"id": 2, "lag_ms": 4}], "empty": [], "note": null})");
    CHECK(renderGeneric(r) ==
          "empty: (none)\n"
          "note: -\n"
          "peers:\n"
          "  - id: 2\n"
          "    lag_ms: 4\n"
          "queues:\n"
          "  acked: yes\n"
          "  pending: 3\n");
}

TEST_CASE("durations read naturally") {
    CHECK(formatDuration(850) == "850 ms");
    CHECK(formatDuration(12345) == "12.3 s");
    CHECK(formatDuration(303000) == "5 min 3 s");
    CHECK(formatDuration(7500000) == "2 h 5 min");
    CHECK(formatDuration(3 * 86400000ull + 4 * 3600000ull) == "3 d 4 h");
}
