#include "daemon/metrics_page.h"

#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include "ha/ha_counters.h"

using namespace tandem;

namespace {

// Every sample line of `page` by its name-and-labels key; checks that each
// family has exactly one TYPE line that comes before its samples.
std::map<std::string, std::string> samplesOf(const std::string& page) {
    std::map<std::string, std::string> out;
    std::map<std::string, std::string> types;
    std::istringstream in(page);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("# TYPE ", 0) == 0) {
            std::istringstream t(line.substr(7));
            std::string name, type;
            t >> name >> type;
            CHECK_MESSAGE(types.count(name) == 0, "two TYPE lines for " << name);
            CHECK((type == "counter" || type == "gauge"));
            types[name] = type;
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const size_t sp = line.rfind(' ');
        const std::string key = line.substr(0, sp);
        const std::string family = key.substr(0, key.find('{'));
        CHECK_MESSAGE(types.count(family) == 1, "sample before its TYPE: " << line);
        if (types[family] == "counter") CHECK_MESSAGE(family.size() > 6, family);
        if (types[family] == "counter") CHECK(family.compare(family.size() - 6, 6, "_total") == 0);
        CHECK_MESSAGE(out.count(key) == 0, "duplicate sample " << key);
        out[key] = line.substr(sp + 1);
    }
    return out;
}

Config config() {
    Config c;
    c.node.id = 1;
    c.node.name = "fw1";
    PeerConfig p;
    p.id = 2;
    p.name = "fw2";
    c.peers.push_back(p);
    return c;
}

DataplaneStatus dataplane() {
    DataplaneStatus st;
    st.pipeline = {{"rx_packets", "frames received", 100},
                   {"forwarded", "frames sent on", 90},
                   {"dropped_policy", "denied", 7},
                   {"dropped_no_session", "no session", 3},
                   {"sessions_created", "created", 12}};
    st.parse = {{"ok", "parsed", 0}, {"truncated_l2", "short", 2}};
    st.io = {{"tx_packets", "sent", 90}};
    st.peer_link = {{"ok", "accepted", 4}, {"bad_version", "version", 1}};
    st.sessions = 5;
    st.session_capacity = 1024;
    st.sessions_by_owner[1] = 3;
    st.sessions_by_owner[2] = 2;
    PortStatus port;
    port.name = "inside";
    port.rx_packets = 55;
    port.link_up = true;
    st.ports.push_back(port);
    st.workers = 1;
    return st;
}

}  // namespace

TEST_CASE(
    "a standalone node's page has its counters, drop reasons as labels and sessions by owner") {
    const Config cfg = config();
    const DataplaneStatus st = dataplane();
    MetricsSources src;
    src.config = &cfg;
    src.dataplane = &st;
    auto s = samplesOf(renderMetricsPage(src));
    CHECK(s["tandem_node_state{state=\"standalone\"}"] == "1");
    CHECK(s["tandem_ha_ready"] == "1");  // nothing to pair: ready, as its JSON says
    CHECK(s["tandem_dataplane_rx_packets_total"] == "100");
    CHECK(s["tandem_dataplane_forwarded_total"] == "90");
    CHECK(s["tandem_dataplane_sessions_created_total"] == "12");
    CHECK(s["tandem_dataplane_dropped_total{reason=\"policy\"}"] == "7");
    CHECK(s["tandem_dataplane_dropped_total{reason=\"no_session\"}"] == "3");
    CHECK(s["tandem_dataplane_malformed_total{reason=\"truncated_l2\"}"] == "2");
    CHECK(s.count("tandem_dataplane_malformed_total{reason=\"ok\"}") == 0);
    CHECK(s["tandem_worker_tx_packets_total"] == "90");
    CHECK(s["tandem_peer_link_rx_frames_total{result=\"bad_version\"}"] == "1");
    CHECK(s["tandem_sessions{owner=\"1\"}"] == "3");
    CHECK(s["tandem_sessions{owner=\"2\"}"] == "2");
    CHECK(s.count("tandem_sessions{owner=\"3\"}") == 0);  // not a member, no sessions
    CHECK(s["tandem_session_table_entries"] == "5");
    CHECK(s["tandem_port_rx_packets_total{port=\"inside\"}"] == "55");
    CHECK(s["tandem_port_link_up{port=\"inside\"}"] == "1");
    CHECK(s["tandem_info{version=\"" TANDEM_VERSION "\",node=\"fw1\",node_id=\"1\"}"] == "1");
}

TEST_CASE("a pair member's page has its state, each peer's state and the replication figures") {
    const Config cfg = config();
    const DataplaneStatus st = dataplane();
    HaStatus ha;
    ha.local.id = 1;
    ha.local.state = NodeState::active_primary;
    ha.local.primary = true;
    HaPeerStatus peer;
    peer.id = 2;
    peer.name = "fw2";
    peer.state = NodeState::active_secondary;
    peer.alive = peer.control_link = true;
    peer.last_heard_ms = 250;
    ha.peers.push_back(peer);
    PeerSyncStatus sync;
    sync.peer = 2;
    sync.up = true;
    sync.tx_seq = 40;
    sync.acked_seq = 38;
    sync.lag_us = 1500;  // exported with the JSON's lag_ms: whole milliseconds
    sync.resends = 2;
    ha.sync.push_back(sync);
    HaCounters counters;
    counters.add(HaCounter::records_tx, 80);
    counters.add(HaCounter::resends, 2);
    ha.counters = counterValues(counters, kHaCounterInfo);
    ha.decode_counters = {{"bad_version", "", 1}};
    ha.transport_counters = {{"tx_messages", "Messages sent.", 120}};
    TrafficLoggerStats log{9, 0, 1};
    MetricsSources src;
    src.config = &cfg;
    src.dataplane = &st;
    src.ha = &ha;
    src.traffic_log = &log;
    const std::string page = renderMetricsPage(src);
    auto s = samplesOf(page);
    CHECK(s["tandem_node_state{state=\"active-primary\"}"] == "1");
    // Not ready: the bulk sync towards the peer has not been sent.
    CHECK(s["tandem_ha_ready"] == "0");
    CHECK(page.find("# HELP tandem_ha_ready true when this node is active") != std::string::npos);
    CHECK(s["tandem_node_state{state=\"active-secondary\"}"] == "0");
    CHECK(s.count("tandem_node_state{state=\"standalone\"}") == 0);
    CHECK(s["tandem_peer_state{peer=\"2\",name=\"fw2\",state=\"active-secondary\"}"] == "1");
    CHECK(s["tandem_peer_state{peer=\"2\",name=\"fw2\",state=\"initial\"}"] == "0");
    CHECK(s["tandem_peer_alive{peer=\"2\",name=\"fw2\"}"] == "1");
    CHECK(s["tandem_peer_link_up{peer=\"2\",name=\"fw2\"}"] == "0");
    CHECK(s["tandem_peer_last_heard_seconds{peer=\"2\",name=\"fw2\"}"] == "0.25");
    CHECK(s["tandem_ha_sync_tx_sequence{peer=\"2\"}"] == "40");
    CHECK(s["tandem_ha_sync_acked_sequence{peer=\"2\"}"] == "38");
    CHECK(s["tandem_ha_sync_lag_seconds{peer=\"2\"}"] == "0.001");
    CHECK(s["tandem_ha_sync_resends_total{peer=\"2\"}"] == "2");
    CHECK(s["tandem_ha_records_tx_total"] == "80");
    CHECK(s["tandem_ha_decode_rejected_total{reason=\"bad_version\"}"] == "1");
    CHECK(s["tandem_ha_transport_tx_messages_total"] == "120");
    CHECK(s["tandem_traffic_log_records_total"] == "9");
    CHECK(page.find("# HELP tandem_ha_records_tx_total session records sent") != std::string::npos);
    CHECK(page.find("# HELP tandem_ha_transport_tx_messages_total Messages sent.") !=
          std::string::npos);
    // What authenticates the node's HA traffic, from its config.
    CHECK(s["tandem_ha_authenticated{link=\"control\"}"] ==
          (cfg.ha.secret_key.empty() ? "0" : "1"));
    CHECK(s["tandem_ha_authenticated{link=\"peer\"}"] == (cfg.ha.peer_link_auth ? "1" : "0"));
    Config open_cfg = cfg;
    open_cfg.ha.secret_key.clear();
    open_cfg.ha.peer_link_auth = false;
    src.config = &open_cfg;
    auto o = samplesOf(renderMetricsPage(src));
    CHECK(o["tandem_ha_authenticated{link=\"control\"}"] == "0");
    CHECK(o["tandem_ha_authenticated{link=\"peer\"}"] == "0");
    Config keyed = cfg;
    keyed.ha.secret_key = "Node1SecretKeyPlaceholder.00000000000000";
    keyed.ha.peer_link_auth = true;
    src.config = &keyed;
    auto k = samplesOf(renderMetricsPage(src));
    CHECK(k["tandem_ha_authenticated{link=\"control\"}"] == "1");
    CHECK(k["tandem_ha_authenticated{link=\"peer\"}"] == "1");
}

TEST_CASE("the page says the policy in force and how its reloads went") {
    const Config cfg = config();
    PolicyStatus policy;
    policy.rules = 4;
    policy.hash = 0x00ab00cd00ef0012ull;
    policy.reloads = 2;
    policy.reloads_failed = 1;
    MetricsSources src;
    src.config = &cfg;
    src.policy = &policy;
    auto s = samplesOf(renderMetricsPage(src));
    CHECK(s["tandem_policy_info{hash=\"00ab00cd00ef0012\"}"] == "1");
    CHECK(s["tandem_policy_rules"] == "4");
    CHECK(s["tandem_policy_reloads_total{result=\"applied\"}"] == "2");
    CHECK(s["tandem_policy_reloads_total{result=\"refused\"}"] == "1");
}
