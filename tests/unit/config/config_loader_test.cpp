#include "config/config.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>

#include "config_test_util.h"

namespace tandem {
namespace {

using test::describeErrors;
using test::hasItem;
using test::kMinimal;
using test::kPair;
using test::ScratchDir;

Config loadOk(const std::string& text, const std::string& base_dir = ".") {
    ConfigLoadResult r = loadConfigText(text, "test.conf", base_dir);
    INFO("errors:\n" << describeErrors(r.errors));
    REQUIRE(r.errors.empty());
    REQUIRE(r.config.has_value());
    return *r.config;
}

// The [timeouts] keys in the order docs/config.md lists them.
struct TimeoutKey {
    const char* key;
    uint32_t SessionTimeouts::*field;
};
constexpr TimeoutKey kTimeoutKeys[] = {
    {"tcp-syn-sent", &SessionTimeouts::tcp_syn_sent_s},
    {"tcp-syn-recv", &SessionTimeouts::tcp_syn_recv_s},
    {"tcp-established", &SessionTimeouts::tcp_established_s},
    {"tcp-fin-wait", &SessionTimeouts::tcp_fin_wait_s},
    {"tcp-close-wait", &SessionTimeouts::tcp_close_wait_s},
    {"tcp-last-ack", &SessionTimeouts::tcp_last_ack_s},
    {"tcp-time-wait", &SessionTimeouts::tcp_time_wait_s},
    {"tcp-close", &SessionTimeouts::tcp_close_s},
    {"udp-unreplied", &SessionTimeouts::udp_unreplied_s},
    {"udp-replied", &SessionTimeouts::udp_replied_s},
    {"icmp", &SessionTimeouts::icmp_s},
    {"other", &SessionTimeouts::other_s},
    {"tcp-embryonic-under-pressure", &SessionTimeouts::tcp_embryonic_pressure_s},
    {"pressure-percent", &SessionTimeouts::pressure_percent},
};
constexpr size_t kTimeoutKeyCount = std::size(kTimeoutKeys);

// The defaults docs/config.md documents, in the same order.
constexpr std::array<uint32_t, kTimeoutKeyCount> kDocumentedTimeouts = {
    30, 30, 3600, 120, 60, 30, 120, 10, 30, 120, 30, 600, 5, 50};

void checkTimeouts(const SessionTimeouts& t, const std::array<uint32_t, kTimeoutKeyCount>& want) {
    for (size_t i = 0; i < kTimeoutKeyCount; ++i) {
        INFO("[timeouts] " << kTimeoutKeys[i].key);
        CHECK(t.*kTimeoutKeys[i].field == want[i]);
    }
}

std::vector<std::string> configFilesUnder(const std::filesystem::path& dir) {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.is_regular_file() && entry.path().extension() == ".conf") {
            out.push_back(entry.path().string());
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST_CASE("every config shipped in etc/ loads without errors or warnings") {
    std::filesystem::path etc = std::filesystem::path(TANDEM_SOURCE_DIR) / "etc";
    auto files = configFilesUnder(etc);
    auto examples = configFilesUnder(etc / "examples");
    files.insert(files.end(), examples.begin(), examples.end());
    REQUIRE(files.size() >= 5);
    for (const auto& file : files) {
        CAPTURE(file);
        ConfigLoadResult r = loadConfigFile(file);
        INFO("errors:\n"
             << describeErrors(r.errors) << "warnings:\n"
             << describeErrors(r.warnings));
        CHECK(r.errors.empty());
        CHECK(r.warnings.empty());
        CHECK(r.config.has_value());
        if (r.config) CHECK(!r.config->rules.empty());
    }
}

TEST_CASE("the example pair describes two nodes that point at each other") {
    std::filesystem::path dir = std::filesystem::path(TANDEM_SOURCE_DIR) / "etc/examples";
    auto a = loadConfigFile((dir / "pair-node1.conf").string());
    auto b = loadConfigFile((dir / "pair-node2.conf").string());
    REQUIRE(a.config);
    REQUIRE(b.config);
    REQUIRE(a.config->peers.size() == 1);
    REQUIRE(b.config->peers.size() == 1);
    CHECK(a.config->peers[0].id == b.config->node.id);
    CHECK(b.config->peers[0].id == a.config->node.id);
    CHECK(a.config->peers[0].ha_address == b.config->ha.listen);
    CHECK(b.config->peers[0].ha_address == a.config->ha.listen);
    CHECK(a.config->peers[0].public_key == b.config->ha.public_key);
    CHECK(b.config->peers[0].public_key == a.config->ha.public_key);
    CHECK(a.config->node.cluster_id == b.config->node.cluster_id);
}

TEST_CASE("the cluster example reads its rules from the file beside it") {
    auto r = loadConfigFile(std::string(TANDEM_SOURCE_DIR) + "/etc/examples/cluster-node1.conf");
    REQUIRE(r.config);
    CHECK(r.config->peers.size() == 2);
    CHECK(r.config->rules.size() >= 5);
    CHECK(r.config->rules.front().name == "lan-web");
}

TEST_CASE("defaults are applied to every key that is not set") {
    Config c = loadOk(kMinimal);
    CHECK(c.path == "test.conf");
    CHECK(c.node.id == 1);
    CHECK(c.node.name == "node1");
    CHECK(c.node.cluster_id == 1);
    CHECK(c.dataplane.mode == DataplaneMode::inline_mode);
    CHECK(c.dataplane.eal_args.empty());
    CHECK(c.dataplane.workers == 1);
    CHECK(c.dataplane.session_capacity == (1u << 20));
    CHECK_FALSE(c.dataplane.busy_poll);
    CHECK(c.dataplane.geneve_port == 6081);
    CHECK(c.dataplane.burst_size == 32);
    CHECK(c.dataplane.steering == SteeringSetting::automatic);
    CHECK_FALSE(c.ha.enabled);
    CHECK(c.ha.session_owner == OwnerElection::first_packet);
    CHECK(c.ha.revert);
    CHECK(c.ha.priority == 100);
    CHECK_FALSE(c.ha.preempt);
    CHECK(c.ha.heartbeat_interval_ms == 100);
    CHECK(c.ha.hold_time_ms == 400);
    CHECK(c.ha.peer_link == PeerLinkTransport::raw);
    CHECK(c.peers.empty());
    checkTimeouts(c.session.timeouts, kDocumentedTimeouts);
    CHECK_FALSE(c.session.tcp.pickup);
    CHECK(c.session.tcp.window_check);
    CHECK(c.control.socket == "/run/tandem/tandemd.sock");
    CHECK(c.control.metrics_listen.empty());
    CHECK(c.control.traffic_log.empty());
    CHECK(c.control.log_level == "info");
    REQUIRE(c.rules.size() == 1);
    CHECK(c.rules[0].name == "rule-1");
    CHECK(c.rules[0].action == RuleAction::allow);
}

TEST_CASE("peer-link-detect-ms sets the peer-link heartbeat to a fifth of it") {
    auto pair = [](const std::string& ha_extra) {
        return loadOk(
            "[node]\nid = 1\n[port.d]\ndevice = net_null0\nzone = z\n[port.e]\ndevice = "
            "net_null2\nzone = y\n[port.p]\ndevice = net_null1\n[peer.2]\nha-address = "
            "tcp://10.0.0.2:7400\nlink-address = "
            "02:00:00:00:00:02\n[ha]\nlisten = tcp://*:7400\npeer-link-port = p\ninsecure = "
            "yes\nheartbeat-interval-ms = 20\nhold-time-ms = 100\n" +
            ha_extra + "[policy]\nrule = allow\n");
    };
    Config off = pair("");
    CHECK(off.ha.peer_link_detect_ms == 0);
    CHECK(peerLinkHeartbeatMs(off.ha) == 20);
    Config on = pair("peer-link-detect-ms = 50\n");
    CHECK(on.ha.peer_link_detect_ms == 50);
    CHECK(peerLinkHeartbeatMs(on.ha) == 10);
    on.ha.peer_link_detect_ms = 8;
    CHECK(peerLinkHeartbeatMs(on.ha) == 2);
}

TEST_CASE("every key of every section is read into the config") {
    Config c = loadOk(
        "[node]\nid = 3\nname = fw-c.example\ncluster-id = 65535\n"
        "[dataplane]\nmode = geneve\neal-args = -l 0-3  -n 4\t--no-pci\nworkers = 3\n"
        "session-capacity = 268435456\nbusy-poll = yes\ngeneve-port = 6082\nburst-size = 256\n"
        "packet-buffers = 2000000\nsteering = software\n"
        "[port.data]\ndevice = net_af_packet0,iface=veth0,framecnt=4096\nzone = gwlb\n"
        "[port.peer]\ndevice = net_af_packet1,iface=veth1\n"
        "[peer.16]\nname = far\nha-address = tcp://[2001:db8::16]:7400\n"
        "link-address = 10.1.2.16:4790\n"
        "[ha]\nsession-owner = primary\nrevert = off\npriority = 0\npreempt = on\n"
        "heartbeat-interval-ms = 10\nhold-time-ms = 20\nlisten = tcp://*:7400\n"
        "peer-link = udp\npeer-link-port = peer\npeer-link-listen = 10.1.1.3:4790\n"
        "peer-link-gateway = 10.1.1.1\ninsecure = yes\n"
        "[timeouts]\ntcp-syn-sent = 1\ntcp-syn-recv = 2\ntcp-established = 864000\n"
        "tcp-fin-wait = 4\ntcp-close-wait = 5\ntcp-last-ack = 6\ntcp-time-wait = 7\n"
        "tcp-close = 8\nudp-unreplied = 9\nudp-replied = 10\nicmp = 11\nother = 12\n"
        "tcp-embryonic-under-pressure = 13\npressure-percent = 100\n"
        "[tcp]\npickup = 1\nwindow-check = false\n"
        "[control]\nsocket = /tmp/t.sock\nmetrics-listen = 127.0.0.1:9464\n"
        "traffic-log = /var/log/t.log\nlog-level = debug\n"
        "[policy]\nrule = allow name all\n");
    CHECK(c.node.id == 3);
    CHECK(c.node.name == "fw-c.example");
    CHECK(c.node.cluster_id == 65535);
    CHECK(c.dataplane.mode == DataplaneMode::geneve);
    CHECK(c.dataplane.eal_args == std::vector<std::string>{"-l", "0-3", "-n", "4", "--no-pci"});
    CHECK(c.dataplane.workers == 3);
    CHECK(c.dataplane.session_capacity == 268435456u);
    CHECK(c.dataplane.busy_poll);
    CHECK(c.dataplane.geneve_port == 6082);
    CHECK(c.dataplane.burst_size == 256);
    CHECK(c.dataplane.packet_buffers == 2000000);
    CHECK(c.dataplane.steering == SteeringSetting::software);
    REQUIRE(c.dataplane.ports.size() == 2);
    CHECK(c.dataplane.ports[0].device == "net_af_packet0,iface=veth0,framecnt=4096");
    CHECK_FALSE(c.dataplane.ports[0].peer_link);
    CHECK(c.dataplane.ports[1].peer_link);
    REQUIRE(c.peers.size() == 1);
    CHECK(c.peers[0].id == 16);
    CHECK(c.peers[0].name == "far");
    CHECK(c.peers[0].ha_address == "tcp://[2001:db8::16]:7400");
    // Addresses come parsed, into their types.
    const IpPort* link = std::get_if<IpPort>(&c.peers[0].link_address);
    REQUIRE(link != nullptr);
    CHECK(link->addr == IpAddr::fromV4(0x0a010210));
    CHECK(link->port == 4790);
    CHECK(c.ha.enabled);
    CHECK(c.ha.session_owner == OwnerElection::primary);
    CHECK_FALSE(c.ha.revert);
    CHECK(c.ha.priority == 0);
    CHECK(c.ha.preempt);
    CHECK(c.ha.heartbeat_interval_ms == 10);
    CHECK(c.ha.hold_time_ms == 20);
    CHECK(c.ha.listen == "tcp://*:7400");
    CHECK(c.ha.peer_link == PeerLinkTransport::udp);
    CHECK(c.ha.peer_link_port == "peer");
    REQUIRE(c.ha.peer_link_listen);
    CHECK(c.ha.peer_link_listen->addr == IpAddr::fromV4(0x0a010103));
    CHECK(c.ha.peer_link_listen->port == 4790);
    CHECK(c.ha.peer_link_gateway == IpAddr::fromV4(0x0a010101));
    CHECK(c.ha.insecure);
    checkTimeouts(c.session.timeouts, {1, 2, 864000, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 100});
    CHECK(c.session.tcp.pickup);
    CHECK_FALSE(c.session.tcp.window_check);
    CHECK(c.control.socket == "/tmp/t.sock");
    CHECK(c.control.metrics_listen == "127.0.0.1:9464");
    CHECK(c.control.traffic_log == "/var/log/t.log");
    CHECK(c.control.log_level == "debug");
}

TEST_CASE("steering reads auto, rss and software") {
    for (const char* word : {"auto", "rss", "software"}) {
        CAPTURE(word);
        const Config c = loadOk(std::string(test::kMinimal) +
                                "[dataplane]\nworkers = 2\nsteering = " + word + "\n");
        CHECK(steeringSettingName(c.dataplane.steering) == std::string(word));
    }
}

TEST_CASE("a timeout set alone changes its own state's timeout and no other") {
    Config c = loadOk(std::string(kMinimal) + "[timeouts]\ntcp-close-wait = 77\nicmp = 5\n");
    std::array<uint32_t, kTimeoutKeyCount> want = kDocumentedTimeouts;
    want[4] = 77;  // tcp-close-wait
    want[10] = 5;  // icmp
    checkTimeouts(c.session.timeouts, want);
}

TEST_CASE("zones are numbered in order of first use and the peer-link port has none") {
    Config c = loadOk(kPair);
    REQUIRE(c.zones == std::vector<std::string>{"in", "out"});
    auto& ports = c.dataplane.ports;
    REQUIRE(ports.size() == 3);
    CHECK(ports[0].name == "a");
    CHECK(ports[0].zone_id == 0);
    CHECK(ports[1].zone_id == 1);
    CHECK_FALSE(ports[0].peer_link);
    CHECK(ports[2].peer_link);
    CHECK(ports[2].zone_id == kNoZone);
    CHECK(ports[0].line == 3);
}

TEST_CASE("a configured peer turns HA on and gets a default name") {
    Config c = loadOk(kPair);
    CHECK(c.ha.enabled);
    REQUIRE(c.peers.size() == 1);
    CHECK(c.peers[0].name == "node2");
    CHECK(c.peers[0].line == 13);
    CHECK(c.ha.public_key == "Node1PublicKeyPlaceholder.00000000000000");
    CHECK(c.ha.secret_key == "Node1SecretKeyPlaceholder.00000000000000");
}

TEST_CASE("the hold time defaults to four heartbeat intervals") {
    Config c = loadOk(kPair + "heartbeat-interval-ms = 250\n");
    CHECK(c.ha.hold_time_ms == 1000);
}

TEST_CASE("booleans accept true/false, yes/no, on/off and 1/0") {
    for (std::string yes : {"true", "yes", "on", "1"}) {
        CAPTURE(yes);
        CHECK(loadOk(std::string(kMinimal) + "[tcp]\npickup = " + yes + "\n").session.tcp.pickup);
    }
    for (std::string no : {"false", "no", "off", "0"}) {
        CAPTURE(no);
        CHECK_FALSE(loadOk(std::string(kMinimal) + "[tcp]\nwindow-check = " + no + "\n")
                        .session.tcp.window_check);
    }
}

TEST_CASE("comments, blank lines and CRLF line endings are accepted") {
    Config c = loadOk(
        "# leading comment\r\n"
        "; semicolon comment\r\n"
        "\r\n"
        "[ node ]   # header comment\r\n"
        "  id   =   2   # trailing comment\r\n"
        "[port.a]\r\ndevice = net_null0\r\nzone = in\r\n"
        "[port.b]\r\ndevice = net_null1\r\nzone = out\r\n"
        "[policy]\r\nrule = allow from in to out   # why\r\n");
    CHECK(c.node.id == 2);
    REQUIRE(c.rules.size() == 1);
    CHECK(c.rules[0].to_zones == std::vector<std::string>{"out"});
}

TEST_CASE("a Z85 key may contain '#' because the key runs to the first blank") {
    std::string text = kPair;
    std::string old_key = "Peer2PublicKeyPlaceholder.00000000000000";
    std::string new_key = "Peer2P#blicKeyPlaceholder.00000000000000";
    text.replace(text.find(old_key), old_key.size(), new_key + "   # the peer's key");
    Config c = loadOk(text);
    CHECK(c.peers[0].public_key == new_key);
}

TEST_CASE("rules from [policy] come first, then each rules file in order") {
    ScratchDir dir;
    dir.write("one.rules", "# header\n\nallow name f1 from in\n  deny name f2   # trailing\n");
    dir.write("two.rules", "allow name f3 to out\n");
    Config c = loadOk(std::string(kMinimal) +
                          "rules-file = one.rules\n"
                          "rule = deny name inline2\n"
                          "rules-file = " +
                          dir.path() + "/two.rules\n",
                      dir.path());
    std::vector<std::string> names;
    for (const auto& r : c.rules) names.push_back(r.name);
    CHECK(names == std::vector<std::string>{"rule-1", "inline2", "f1", "f2", "f3"});
}

TEST_CASE("a secret key file may hold the bare key or a CZMQ certificate") {
    ScratchDir dir;
    const std::string pair_without_secret = [] {
        std::string t = kPair;
        size_t at = t.find("secret-key = ");
        t.erase(at, t.find('\n', at) - at + 1);
        return t;
    }();
    SUBCASE("bare key") {
        dir.write("node.key", "Secret#eyWithAHashInside.000000000000000\n");
        Config c = loadOk(pair_without_secret + "secret-key-file = node.key\n", dir.path());
        CHECK(c.ha.secret_key == "Secret#eyWithAHashInside.000000000000000");
        CHECK(c.ha.secret_key_file == dir.path() + "/node.key");
    }
    SUBCASE("CZMQ certificate, public key taken from it") {
        std::string text = pair_without_secret;
        size_t at = text.find("public-key = Node1");
        text.erase(at, text.find('\n', at) - at + 1);
        dir.write("node.key_secret",
                  "#   ****  Generated by zcert  ****\n"
                  "#   ZeroMQ CURVE **Secret** Certificate\n\n"
                  "metadata\n"
                  "curve\n"
                  "    public-key = \"CertPublicKeyPlaceholder.000000000000000\"\n"
                  "    secret-key = \"CertSecretKeyPlaceholder.000000000000000\"\n");
        Config c = loadOk(text + "secret-key-file = node.key_secret\n", dir.path());
        CHECK(c.ha.secret_key == "CertSecretKeyPlaceholder.000000000000000");
        CHECK(c.ha.public_key == "CertPublicKeyPlaceholder.000000000000000");
    }
}

TEST_CASE("a secret key file readable by others loads with a warning") {
    ScratchDir dir;
    std::string text = kPair;
    size_t at = text.find("secret-key = ");
    text.erase(at, text.find('\n', at) - at + 1);
    using std::filesystem::perms;
    dir.write("node.key", "Node1SecretKeyPlaceholder.00000000000000\n",
              perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
    ConfigLoadResult r =
        loadConfigText(text + "secret-key-file = node.key\n", "t.conf", dir.path());
    INFO(describeErrors(r.errors));
    CHECK(r.config.has_value());
    CHECK(hasItem(r.warnings, 21, "is readable by other users (mode 0644)"));
}

TEST_CASE("metrics served on every address load with a warning, a management address without") {
    const unsigned line =
        unsigned(std::count(kMinimal, kMinimal + std::strlen(kMinimal), '\n')) + 2;
    for (const char* wildcard : {"0.0.0.0:9464", "[::]:9464"}) {
        CAPTURE(wildcard);
        ConfigLoadResult r =
            loadConfigText(std::string(kMinimal) + "[control]\nmetrics-listen = " + wildcard + "\n",
                           "t.conf", "/");
        INFO(describeErrors(r.errors));
        CHECK(r.config.has_value());
        CHECK(hasItem(r.warnings, line, "serves every address of this host"));
    }
    for (const char* address : {"127.0.0.1:9464", "[::1]:9464", "10.0.0.1:9464"}) {
        CAPTURE(address);
        ConfigLoadResult r = loadConfigText(
            std::string(kMinimal) + "[control]\nmetrics-listen = " + address + "\n", "t.conf", "/");
        CHECK(r.config.has_value());
        CHECK(r.warnings.empty());
    }
}

TEST_CASE("relative paths resolve against the config file's directory") {
    ScratchDir dir;
    dir.write("r.rules", "allow name from-file\n");
    std::string path = dir.write("t.conf", std::string(kMinimal) +
                                               "rules-file = r.rules\n"
                                               "[control]\nsocket = run/t.sock\n"
                                               "traffic-log = log/traffic.log\n");
    ConfigLoadResult r = loadConfigFile(path);
    INFO(describeErrors(r.errors));
    REQUIRE(r.config);
    CHECK(r.config->path == path);
    CHECK(r.config->rules.back().name == "from-file");
    CHECK(r.config->control.socket == dir.path() + "/run/t.sock");
    CHECK(r.config->control.traffic_log == dir.path() + "/log/traffic.log");
}

TEST_CASE("traffic-log = syslog names syslog, not a file beside the config") {
    ScratchDir dir;
    std::string path =
        dir.write("t.conf", std::string(kMinimal) + "[control]\ntraffic-log = syslog\n");
    ConfigLoadResult r = loadConfigFile(path);
    INFO(describeErrors(r.errors));
    REQUIRE(r.config);
    CHECK(r.config->control.traffic_log == "syslog");
}

TEST_CASE("a port's mtu is read, and the peer link's is checked against the data ports'") {
    auto withMtus = [](const std::string& data, const std::string& link) {
        std::string text = kPair;
        text.replace(text.find("zone = in\n"), 10, "zone = in\nmtu = " + data + "\n");
        if (!link.empty())
            text.replace(text.find("device = net_null2\n"), 19,
                         "device = net_null2\nmtu = " + link + "\n");
        return text;
    };
    SUBCASE("room for the raw encapsulation and the authentication trailer: no warning") {
        auto r = loadConfigText(withMtus("9000", "9058"), "t.conf");
        INFO(describeErrors(r.errors) << describeErrors(r.warnings));
        REQUIRE(r.config.has_value());
        CHECK(r.config->dataplane.ports[0].mtu == 9000);
        CHECK(r.config->dataplane.ports[1].mtu == 0);  // not set: the device's default
        CHECK(r.config->dataplane.ports[2].mtu == 9058);
        CHECK(r.warnings.empty());
    }
    SUBCASE("one byte short: a warning at the peer link's mtu, with the sums") {
        auto r = loadConfigText(withMtus("9000", "9057"), "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(hasItem(r.warnings, 14,
                      "[port.link] mtu = 9057 is too small for the peer link: [port.a] mtu = "
                      "9000 + 58 bytes of raw encapsulation and authentication = 9058; "
                      "forwarded packets longer than 8999 bytes will be dropped"));
    }
    SUBCASE("without authentication the raw encapsulation alone") {
        auto r = loadConfigText(withMtus("9000", "9030") + "peer-link-auth = off\n", "t.conf");
        REQUIRE(r.config.has_value());
        CHECK_FALSE(hasItem(r.warnings, 14, "too small for the peer link"));
        r = loadConfigText(withMtus("9000", "9029") + "peer-link-auth = off\n", "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(hasItem(r.warnings, 14,
                      "9000 + 30 bytes of raw encapsulation = 9030; forwarded packets longer "
                      "than 8999 bytes will be dropped"));
    }
    SUBCASE("peer link left at the default 1500 under jumbo data ports") {
        auto r = loadConfigText(withMtus("9001", ""), "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(hasItem(r.warnings, 12, "[port.link] mtu (default) 1500 is too small"));
    }
    SUBCASE("a jumbo peer link under data ports left at the default: no warning") {
        auto r = loadConfigText(kPair, "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(r.warnings.empty());
        std::string text = kPair;
        text.replace(text.find("device = net_null2\n"), 19, "device = net_null2\nmtu = 1558\n");
        auto r2 = loadConfigText(text, "t.conf");
        REQUIRE(r2.config.has_value());
        CHECK(r2.warnings.empty());
    }
    SUBCASE("a peer link set below what default data ports need") {
        std::string text = kPair;
        text.replace(text.find("device = net_null2\n"), 19, "device = net_null2\nmtu = 1557\n");
        auto r = loadConfigText(text, "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(hasItem(r.warnings, 13,
                      "[port.link] mtu = 1557 is too small for the peer link: [port.a] mtu "
                      "(default) 1500 + 58 bytes of raw encapsulation and authentication = 1558"));
    }
}

TEST_CASE("warnings point at settings that have no effect") {
    SUBCASE("[ha] without peers") {
        auto r = loadConfigText(std::string(kMinimal) + "[ha]\nrevert = false\n", "t.conf");
        CHECK(r.config.has_value());
        CHECK(hasItem(r.warnings, 11, "[ha] has no effect"));
    }
    SUBCASE("geneve mode without health checks, a path with tcp checks") {
        const std::string geneve =
            "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\n"
            "zone = z\n[policy]\nrule = allow\n";
        auto r = loadConfigText(geneve, "t.conf");
        CHECK(r.config.has_value());
        CHECK(hasItem(r.warnings, 4, "the load balancer's health checks get no answer"));
        r = loadConfigText(geneve + "[health-check]\naddress = 10.9.0.2\npath = /x\n", "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(hasItem(r.warnings, 12, "path has no effect with protocol = tcp"));
        r = loadConfigText(geneve +
                               "[health-check]\naddress = 10.9.0.2\nprotocol = http\n"
                               "port = 8080\npath = /healthz\n",
                           "t.conf");
        REQUIRE(r.config.has_value());
        CHECK(r.warnings.empty());
        const HealthCheckSettings& hc = r.config->health_check;
        CHECK(hc.enabled);
        CHECK(hc.protocol == HealthCheckProtocol::http);
        CHECK(hc.address == *parseIpAddr("10.9.0.2"));
        CHECK(hc.port == 8080);
        CHECK(hc.path == "/healthz");
    }
    SUBCASE("geneve-port in inline mode") {
        auto r =
            loadConfigText(std::string(kMinimal) + "[dataplane]\ngeneve-port = 6081\n", "t.conf");
        CHECK(r.config.has_value());
        CHECK(hasItem(r.warnings, 12, "no effect in inline mode"));
    }
    SUBCASE("peers without CURVE keys: an error, unless insecure = true, then a warning") {
        std::string text = std::string(kMinimal) +
                           "[port.link]\ndevice = net_null2\n"
                           "[peer.2]\nha-address = tcp://10.0.0.2:7400\n"
                           "link-address = 02:00:00:00:00:02\n"
                           "[ha]\nlisten = tcp://10.0.0.1:7400\npeer-link-port = link\n";
        auto r = loadConfigText(text, "t.conf");
        CHECK_FALSE(r.config.has_value());
        CHECK(hasItem(r.errors, 16, "peers need CURVE keys"));
        r = loadConfigText(text + "insecure = true\n", "t.conf");
        INFO(describeErrors(r.errors));
        REQUIRE(r.config.has_value());
        CHECK(r.config->ha.insecure);
        // A raw peer link's link-address is read as a MAC, once.
        CHECK(r.config->peers[0].link_address ==
              PeerLinkAddress{MacAddress{0x02, 0, 0, 0, 0, 0x02}});
        CHECK(hasItem(r.warnings, 19, "neither authenticated nor encrypted"));
        const HaSecurity sec = haSecurityOf(r.config->ha);
        CHECK_FALSE(sec.control_link);
        CHECK_FALSE(sec.peer_link);
        // With keys, insecure has no effect and says so.
        r = loadConfigText(kPair + "insecure = true\n", "t.conf");
        REQUIRE(r.config.has_value());
        CHECK_FALSE(r.config->ha.insecure);
        CHECK(haSecurityOf(r.config->ha).control_link);
        CHECK(haSecurityOf(r.config->ha).peer_link);
        const unsigned line = unsigned(std::count(kPair.begin(), kPair.end(), '\n')) + 1;
        CHECK(hasItem(r.warnings, line, "insecure = true has no effect"));
    }
    SUBCASE("the peer link's authentication turned off on a node with CURVE keys") {
        auto r = loadConfigText(kPair + "peer-link-auth = off\n", "t.conf");
        REQUIRE(r.config.has_value());
        CHECK_FALSE(r.config->ha.peer_link_auth);
        const unsigned line = unsigned(std::count(kPair.begin(), kPair.end(), '\n')) + 1;
        CHECK(hasItem(r.warnings, line, "peer-link frames are not authenticated"));
    }
    SUBCASE("an empty policy") {
        std::string text = kMinimal;
        text.erase(text.find("rule = "));
        auto r = loadConfigText(text, "t.conf");
        CHECK(r.config.has_value());
        CHECK(hasItem(r.warnings, 9, "every new session will be denied"));
    }
}

TEST_CASE(
    "peer-link frames are authenticated by default when CURVE keys are set, and cannot "
    "be without them") {
    Config c = loadOk(kPair);
    CHECK(c.ha.peer_link_auth);
    CHECK(describeConfig(c).find("peer link raw on port link (net_null2) (frames "
                                 "authenticated)") != std::string::npos);
    const std::string keyless = std::string(kMinimal) +
                                "[port.link]\ndevice = net_null2\n"
                                "[peer.2]\nha-address = tcp://10.0.0.2:7400\n"
                                "link-address = 02:00:00:00:00:02\n"
                                "[ha]\nlisten = tcp://10.0.0.1:7400\npeer-link-port = link\n"
                                "insecure = true\n";
    auto r = loadConfigText(keyless, "t.conf");
    REQUIRE(r.config.has_value());
    CHECK_FALSE(r.config->ha.peer_link_auth);
    r = loadConfigText(keyless + "peer-link-auth = on\n", "t.conf");
    CHECK_FALSE(r.config.has_value());
    const unsigned line = unsigned(std::count(keyless.begin(), keyless.end(), '\n')) + 1;
    CHECK(hasItem(r.errors, line, "peer-link-auth needs the CURVE keys"));
}

TEST_CASE("the summary names the node, ports, peers and rule count") {
    Config c = loadOk(kPair);
    std::string s = describeConfig(c);
    CHECK(s.find("node 1 (node1) in cluster 1") != std::string::npos);
    CHECK(s.find("inline mode") != std::string::npos);
    CHECK(s.find("a (net_null0, zone in)") != std::string::npos);
    CHECK(s.find("1 peer: 2 (node2, tcp://10.0.0.2:7400)") != std::string::npos);
    CHECK(s.find("peer link raw on port link") != std::string::npos);
    CHECK(s.find("CURVE on") != std::string::npos);
    CHECK(s.find("1 rule over 2 zones") != std::string::npos);
}

TEST_CASE("an error formats as FILE:LINE: MESSAGE, or FILE: MESSAGE without a line") {
    CHECK(ConfigError{"a.conf", 7, "bad"}.format() == "a.conf:7: bad");
    CHECK(ConfigError{"a.conf", 0, "bad"}.format() == "a.conf: bad");
}

TEST_CASE("enum names match the words of the config file") {
    CHECK(std::string(dataplaneModeName(DataplaneMode::inline_mode)) == "inline");
    CHECK(std::string(dataplaneModeName(DataplaneMode::geneve)) == "geneve");
    CHECK(std::string(ownerElectionName(OwnerElection::first_packet)) == "first-packet");
    CHECK(std::string(ownerElectionName(OwnerElection::primary)) == "primary");
    CHECK(std::string(peerLinkTransportName(PeerLinkTransport::raw)) == "raw");
    CHECK(std::string(peerLinkTransportName(PeerLinkTransport::udp)) == "udp");
}

}  // namespace
}  // namespace tandem
