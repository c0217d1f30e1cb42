// Every kind of config error: the line it is reported at and what it says.
#include <doctest/doctest.h>

#include "config/config.h"
#include "config/curve_keys.h"
#include "config_test_util.h"

namespace tandem {
namespace {

using test::describeErrors;
using test::hasItem;
using test::kMinimal;
using test::kPair;
using test::ScratchDir;

// kMinimal has 10 lines, kPair 21: appended text starts at line 11 / 22.
std::string minimalWith(const std::string& extra) {
    return kMinimal + extra;
}
std::string pairWith(const std::string& extra) {
    return kPair + extra;
}

// `text` with the first `from` replaced; a missing `from` marks the text so
// that the case fails visibly.
std::string replaced(std::string text, const std::string& from, const std::string& to) {
    size_t at = text.find(from);
    if (at == std::string::npos) return "replaced() did not find: " + from;
    return text.replace(at, from.size(), to);
}

struct ErrorCase {
    const char* what;
    std::string text;
    const char* expected;  // "LINE: part of the message"
};

std::vector<ErrorCase> errorCases() {
    return {
        // Syntax
        {"a line that is neither key, section nor comment", minimalWith("just words\n"),
         "11: expected 'key = value', '[section]' or a comment; found 'just words'"},
        {"a section header without ']'", minimalWith("[ha\n"), "11: missing ']'"},
        {"an empty section name", minimalWith("[ ]\n"), "11: expected a section name"},
        {"a key without a name", minimalWith("[ha]\n= 5\n"), "12: expected a key name before '='"},
        {"a key before any section", "id = 1\n" + std::string(kMinimal),
         "1: key 'id' is outside any section"},
        // Sections
        {"an unknown section", minimalWith("[hq]\n"),
         "11: unknown section [hq] (did you mean [ha]?); expected one of: node, dataplane, "
         "port.NAME, peer.ID, ha, timeouts, tcp, control, policy, nat, health-check"},
        {"a port section without a name", minimalWith("[port]\n"), "11: expected [port.NAME]"},
        {"a plain section with a suffix", minimalWith("[ha.1]\n"),
         "11: section [ha] takes no suffix"},
        {"a port name with odd characters", minimalWith("[port.a+b]\n"),
         "11: invalid section name 'port.a+b'"},
        {"a duplicate section", minimalWith("[policy]\n"),
         "11: duplicate section [policy] (first at line 9)"},
        {"a peer id out of range", minimalWith("[peer.17]\n"), "11: expected a peer node id 1..16"},
        {"the same peer twice", pairWith("[peer.02]\nha-address = tcp://10.0.0.3:1\n"),
         "22: peer 2 is already defined at line 13"},
        {"the missing [node] section", replaced(kMinimal, "[node]\nid = 1\n", "\n\n"),
         "0: missing section [node]"},
        // Keys
        {"an unknown key, with the list of known ones", minimalWith("[tcp]\nfoo = 1\n"),
         "12: unknown key 'foo' in [tcp]; expected one of: pickup, window-check"},
        {"a misspelt key, with a suggestion", minimalWith("[ha]\nheartbeat_interval = 50\n"),
         "12: unknown key 'heartbeat_interval' in [ha] (did you mean 'heartbeat-interval-ms'?)"},
        {"a duplicate key, naming both lines",
         minimalWith("[control]\nlog-level = info\nlog-level = warn\n"),
         "13: duplicate key 'log-level' in [control]: already set at line 12"},
        {"a missing required key", replaced(kMinimal, "id = 1\n", "name = x\n"),
         "1: [node] id is required"},
        {"a port without a device", minimalWith("[port.c]\nzone = dmz\n"),
         "11: [port.c] device is required"},
        // Values
        {"a node id of 0", replaced(kMinimal, "id = 1", "id = 0"),
         "2: [node] id = 0: expected a node id 1..16"},
        {"a node id that is not a number", replaced(kMinimal, "id = 1", "id = one"),
         "2: [node] id = one: expected a node id 1..16"},
        {"an empty value", replaced(kMinimal, "id = 1", "id ="), "2: [node] id is empty"},
        {"a node name with a blank", replaced(kMinimal, "id = 1\n", "id = 1\nname = fw a\n"),
         "3: [node] name = fw a: expected a name of letters, digits"},
        {"a cluster id too large", replaced(kMinimal, "id = 1\n", "id = 1\ncluster-id = 65536\n"),
         "3: [node] cluster-id = 65536: expected a cluster id 1..65535"},
        {"an unknown mode", minimalWith("[dataplane]\nmode = tap\n"),
         "12: [dataplane] mode = tap: expected inline or geneve"},
        {"too many workers", minimalWith("[dataplane]\nworkers = 65\n"),
         "12: [dataplane] workers = 65: expected a worker count 1..64"},
        {"a port mtu below the IP minimum",
         replaced(kMinimal, "zone = in\n", "zone = in\nmtu = 67\n"),
         "6: [port.a] mtu = 67: expected an IP MTU in bytes 68..9194"},
        {"a port mtu beyond a packet buffer",
         replaced(kMinimal, "zone = out\n", "zone = out\nmtu = 9195\n"),
         "9: [port.b] mtu = 9195: expected an IP MTU in bytes 68..9194"},
        {"a session table too small", minimalWith("[dataplane]\nsession-capacity = 1000\n"),
         "12: expected a session count 1024..268435456"},
        {"a bad boolean", minimalWith("[dataplane]\nbusy-poll = maybe\n"),
         "12: [dataplane] busy-poll = maybe: expected true or false"},
        {"a burst size of 0", minimalWith("[dataplane]\nburst-size = 0\n"),
         "12: expected a burst size 1..256"},
        {"too many packet buffers", minimalWith("[dataplane]\npacket-buffers = 67108865\n"),
         "12: expected a packet buffer count 0..67108864"},
        {"an unknown steering", minimalWith("[dataplane]\nsteering = hardware\n"),
         "12: [dataplane] steering = hardware: expected auto, rss or software"},
        {"rss steering in geneve mode",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\nsteering = rss\n[port.d]\ndevice = "
         "net_null0\nzone = z\n[policy]\nrule = allow\n",
         "5: [dataplane] steering = rss cannot be used in geneve mode: devices hash a tunnel's "
         "outer header, not the flows inside it (use auto or software)"},
        {"a device with blanks", replaced(kMinimal, "net_null0", "net null0"),
         "4: [port.a] device = net null0: expected DPDK device arguments without blanks"},
        {"a zone name with odd characters", replaced(kMinimal, "zone = in", "zone = in side"),
         "5: [port.a] zone = in side: expected a zone name"},
        {"a timeout of 0", minimalWith("[timeouts]\nicmp = 0\n"),
         "12: [timeouts] icmp = 0: expected seconds 1..864000"},
        {"a timeout over ten days", minimalWith("[timeouts]\ntcp-established = 864001\n"),
         "12: expected seconds 1..864000"},
        {"an unknown log level", minimalWith("[control]\nlog-level = verbose\n"),
         "12: [control] log-level = verbose: expected error, warn, info or debug"},
        {"a metrics address without a port", minimalWith("[control]\nmetrics-listen = 127.0.0.1\n"),
         "12: expected IP:PORT"},
        {"a control socket path too long for a Unix socket",
         minimalWith("[control]\nsocket = /" + std::string(120, 's') + "\n"),
         "12: is longer than a Unix socket path may be"},
        {"a priority over 255", pairWith("priority = 256\n"), "22: expected a priority 0..255"},
        {"an unknown session owner mode", pairWith("session-owner = last-packet\n"),
         "22: expected first-packet or primary"},
        {"a heartbeat under 10 ms", pairWith("heartbeat-interval-ms = 5\n"),
         "22: expected milliseconds 10..10000"},
        {"an HA listen address that is not ZeroMQ",
         replaced(kPair, "tcp://10.0.0.1:7400", "10.0.0.1:7400"),
         "18: expected tcp://HOST:PORT or ipc://PATH"},
        {"an HA listen address without a port",
         replaced(kPair, "tcp://10.0.0.1:7400", "tcp://10.0.0.1"), "18: the port is missing"},
        {"a peer address with a wildcard", replaced(kPair, "tcp://10.0.0.2:7400", "tcp://*:7400"),
         "14: only makes sense for listening"},
        {"an IPv6 HA address without brackets",
         replaced(kPair, "tcp://10.0.0.2:7400", "tcp://2001:db8::2:7400"),
         "14: an IPv6 address needs brackets"},
        {"a link address that is neither MAC nor IP:PORT",
         replaced(kPair, "02:00:00:00:00:02", "02:00:00:00:00"), "15: expected a MAC address"},
        {"a public key of the wrong length",
         replaced(kPair, "Peer2PublicKeyPlaceholder.00000000000000", "short"),
         "16: [peer.2] public-key = short: expected a 40-character Z85 key, found 5 characters"},
        {"a public key with a character outside Z85",
         replaced(kPair, "Peer2PublicKeyPlaceholder.00000000000000",
                  "Peer2PublicKeyPlaceholder.0000000000000~"),
         "16: character 40 ('~') is not in the Z85 alphabet"},
        {"a public key that does not decode",
         replaced(kPair, "Peer2PublicKeyPlaceholder.00000000000000",
                  "#####PublicKeyPlaceholder.00000000000000"),
         "16: characters 1..5 do not decode"},
        {"a secret key error that does not echo the secret",
         replaced(kPair, "Node1SecretKeyPlaceholder.00000000000000", "Node1SecretKeyPlaceholder"),
         "20: [ha] secret-key: expected a 40-character Z85 key, found 25 characters"},
        {"a secret key with a character outside Z85, not echoed",
         replaced(kPair, "Node1SecretKeyPlaceholder.00000000000000",
                  "Node1SecretKeyPlaceholder.0000000000000~"),
         "20: [ha] secret-key: character 40 is not in the Z85 alphabet"},
        {"text after a key that is not a comment",
         replaced(kPair, "Node1PublicKeyPlaceholder.00000000000000",
                  "Node1PublicKeyPlaceholder.00000000000000 extra"),
         "21: a comment after it needs a blank before '#'"},
        {"a wildcard peer-link address",
         pairWith("peer-link = udp\npeer-link-listen = 0.0.0.0:4790\n"),
         "23: expected this node's own address, not a wildcard"},
        {"a secret key file that does not exist", pairWith("secret-key-file = /nonexistent/key\n"),
         "22: cannot read /nonexistent/key: No such file or directory"},
        // Ports and zones
        {"three data ports in inline mode",
         minimalWith("[port.c]\ndevice = net_null2\nzone = dmz\n"),
         "11: inline mode needs exactly two data ports ([port.NAME] sections other than the "
         "peer-link port); found 3: a, b, c"},
        {"one data port in inline mode",
         replaced(kMinimal, "[port.b]\ndevice = net_null1\nzone = out\n", ""),
         "0: inline mode needs exactly two data ports"},
        {"two data ports in geneve mode", minimalWith("[dataplane]\nmode = geneve\n"),
         "6: geneve mode needs exactly one data port"},
        {"a data port without a zone", replaced(kMinimal, "zone = out\n", ""),
         "6: [port.b] zone is required for a data port"},
        {"two ports on one device", replaced(kMinimal, "net_null1", "net_null0"),
         "7: [port.b] device = net_null0: already used by [port.a] (line 4)"},
        {"a peer-link port that does not exist",
         replaced(kPair, "peer-link-port = link", "peer-link-port = lnk"),
         "19: [ha] peer-link-port = lnk: there is no [port.lnk] section; ports: a, b, link"},
        {"a zone on the peer-link port",
         replaced(kPair, "device = net_null2\n", "device = net_null2\nzone = ha\n"),
         "13: [port.link] is the peer-link port ([ha] peer-link-port) and carries no traffic"},
        // Peers and HA
        {"a peer with this node's id", replaced(kPair, "[peer.2]", "[peer.1]"),
         "13: [peer.1]: 1 is this node's own id ([node] id at line 2)"},
        {"a peer id written with a leading zero, found by its id",
         replaced(replaced(kPair, "[peer.2]", "[peer.02]"), "02:00:00:00:00:02", "10.0.0.2:1"),
         "15: [peer.2] link-address = 10.0.0.2:1: expected a MAC address"},
        {"a peer without an HA address", replaced(kPair, "ha-address = tcp://10.0.0.2:7400\n", ""),
         "13: [peer.2] ha-address is required"},
        {"a peer with this node's name", replaced(kPair, "[peer.2]\n", "[peer.2]\nname = node1\n"),
         "14: [peer.2] name node1 is this node's name too"},
        {"two peers with one HA address",
         pairWith("[peer.3]\nha-address = tcp://10.0.0.2:7400\nlink-address = 02:00:00:00:00:03\n"
                  "public-key = Peer3PublicKeyPlaceholder.00000000000000\n"),
         "23: [peer.3] ha-address = tcp://10.0.0.2:7400 is also [peer.2]'s"},
        {"a peer whose address is this node's listen address",
         replaced(kPair, "tcp://10.0.0.2:7400", "tcp://10.0.0.1:7400"),
         "14: is this node's own [ha] listen address"},
        {"peers without an HA listen address",
         replaced(kPair, "listen = tcp://10.0.0.1:7400\n", ""),
         "17: [ha] listen is required with peers"},
        {"peers without a peer-link port", replaced(kPair, "peer-link-port = link\n", ""),
         "17: [ha] peer-link-port is required with peers: the [port.NAME] of the peer link "
         "(peer-link = raw)"},
        {"a udp peer link without a local address",
         replaced(
             replaced(kPair, "peer-link-port = link\n", "peer-link-port = link\npeer-link = udp\n"),
             "02:00:00:00:00:02", "10.1.0.2:4790"),
         "17: [ha] peer-link-listen is required with peers and peer-link = udp"},
        {"a udp peer link without a peer-link port",
         replaced(replaced(kPair, "peer-link-port = link\n",
                           "peer-link = udp\npeer-link-listen = 10.1.0.1:4790\n"),
                  "02:00:00:00:00:02", "10.1.0.2:4790"),
         "17: [ha] peer-link-port is required with peers: the [port.NAME] of the peer link "
         "(peer-link = udp)"},
        {"a raw peer link with a udp address", pairWith("peer-link-listen = 10.1.0.1:4790\n"),
         "22: [ha] peer-link-listen is only used with peer-link = udp"},
        {"a raw peer link with a gateway", pairWith("peer-link-gateway = 10.1.0.254\n"),
         "22: [ha] peer-link-gateway is only used with peer-link = udp"},
        {"a gateway that is not an IPv4 address",
         pairWith("peer-link = udp\npeer-link-listen = 10.1.0.1:4790\npeer-link-gateway = "
                  "2001:db8::1\n"),
         "24: [ha] peer-link-gateway = 2001:db8::1: expected the IPv4 address of the router"},
        {"a broadcast gateway",
         pairWith("peer-link = udp\npeer-link-listen = 10.1.0.1:4790\npeer-link-gateway = "
                  "255.255.255.255\n"),
         "24: expected the IPv4 address of the router towards the peers"},
        {"a udp peer link on IPv6",
         replaced(
             replaced(
                 kPair, "peer-link-port = link\n",
                 "peer-link-port = link\npeer-link = udp\npeer-link-listen = [2001:db8::1]:4790\n"),
             "02:00:00:00:00:02", "[2001:db8::2]:4790"),
         "21: [ha] peer-link-listen = [2001:db8::1]:4790: the udp peer link carries IPv4 only"},
        {"a MAC address as link address of a udp peer link",
         replaced(kPair, "peer-link-port = link\n",
                  "peer-link = udp\npeer-link-listen = 10.1.0.1:4790\n"),
         "15: [peer.2] link-address = 02:00:00:00:00:02: expected IP:PORT"},
        {"a multicast MAC as link address",
         replaced(kPair, "02:00:00:00:00:02", "01:00:5e:00:00:02"),
         "15: expected the peer's unicast MAC address"},
        {"peer-link address families that differ",
         replaced(replaced(kPair, "peer-link-port = link\n",
                           "peer-link = udp\npeer-link-listen = 10.1.0.1:4790\n"),
                  "02:00:00:00:00:02", "[2001:db8::2]:4790"),
         "15: [peer.2] link-address = [2001:db8::2]:4790: the udp peer link carries IPv4 only"},
        {"the peer-link port equal to the GENEVE port",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = z\n"
         "[peer.2]\nha-address = tcp://10.0.0.2:7400\nlink-address = 10.1.0.2:6081\n"
         "[ha]\nlisten = tcp://10.0.0.1:7400\npeer-link = udp\npeer-link-listen = 10.1.0.1:6081\n"
         "[policy]\nrule = allow\n",
         "14: [ha] peer-link-listen uses port 6081, the GENEVE port"},
        // [health-check] (lines 10.. after the geneve config's 9)
        {"a health check in inline mode", minimalWith("[health-check]\naddress = 10.9.0.2\n"),
         "12: [health-check] answers a load balancer's checks in [dataplane] mode = geneve"},
        {"a health check without its address",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = "
         "z\n[policy]\nrule = allow\n[health-check]\nport = 80\n",
         "10: [health-check] address is required"},
        {"a health-check address that is not IPv4",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = "
         "z\n[policy]\nrule = allow\n[health-check]\naddress = 2001:db8::1\n",
         "11: [health-check] address = 2001:db8::1: expected the data port's own IPv4 address"},
        {"an unknown health-check protocol",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = "
         "z\n[policy]\nrule = allow\n[health-check]\naddress = 10.9.0.2\nprotocol = icmp\n",
         "12: [health-check] protocol = icmp: expected tcp or http"},
        {"a health-check path that is no path",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = "
         "z\n[policy]\nrule = allow\n[health-check]\naddress = 10.9.0.2\npath = healthz\n",
         "12: [health-check] path = healthz: expected a URL path"},
        {"a health-check port out of range",
         "[node]\nid = 1\n[dataplane]\nmode = geneve\n[port.d]\ndevice = net_null0\nzone = "
         "z\n[policy]\nrule = allow\n[health-check]\naddress = 10.9.0.2\nport = 70000\n",
         "12: [health-check] port = 70000: expected a TCP port"},
        {"a hold time under two heartbeats",
         pairWith("heartbeat-interval-ms = 100\nhold-time-ms = 150\n"),
         "23: [ha] hold-time-ms = 150: must be at least twice heartbeat-interval-ms (200)"},
        {"a peer-link detect time under two heartbeats",
         pairWith("heartbeat-interval-ms = 20\nhold-time-ms = 100\npeer-link-detect-ms = 30\n"),
         "24: [ha] peer-link-detect-ms = 30: must be at least twice heartbeat-interval-ms (40), "
         "or a cut peer link declares a live peer dead between two control-link heartbeats"},
        {"a peer-link detect time as long as the hold time",
         pairWith("heartbeat-interval-ms = 20\nhold-time-ms = 100\npeer-link-detect-ms = 100\n"),
         "24: [ha] peer-link-detect-ms = 100: must be shorter than hold-time-ms (100), or it "
         "detects nothing sooner; 0 turns it off"},
        {"both a secret key and a secret key file", pairWith("secret-key-file = /etc/hostname\n"),
         "22: [ha] secret-key and secret-key-file both set"},
        // CURVE all-or-none
        {"a peer key without this node's secret key",
         replaced(kPair, "secret-key = Node1SecretKeyPlaceholder.00000000000000\n", ""),
         "17: [ha] secret-key-file (or secret-key) is required: CURVE is on because [ha] has a "
         "public-key"},
        {"this node's keys without a peer key",
         replaced(kPair, "public-key = Peer2PublicKeyPlaceholder.00000000000000\n", ""),
         "13: [peer.2] public-key is required: CURVE is on because [ha] has a secret key"},
        {"a secret key without a public key",
         replaced(kPair, "public-key = Node1PublicKeyPlaceholder.00000000000000\n", ""),
         "17: [ha] public-key is required"},
        {"a peer that has this node's public key",
         replaced(kPair, "Peer2PublicKeyPlaceholder.00000000000000",
                  "Node1PublicKeyPlaceholder.00000000000000"),
         "16: [peer.2] public-key is this node's own public key"},
        // Policy
        {"a rule that does not parse, with its column on the line",
         minimalWith("rule = allow frm in\n"), "11: column 14: expected a keyword"},
        {"a rule naming a zone no port has", minimalWith("rule = allow from in,dmz\n"),
         "11: column 22: zone 'dmz' is not the zone of any port; zones: in, out"},
        {"an empty rule", minimalWith("rule =\n"), "11: [policy] rule is empty"},
        {"two rules with one name", minimalWith("rule = allow name x\nrule = deny name x\n"),
         "12: rule name 'x' is already used at line 11"},
        {"a default rule name taken by a named rule", minimalWith("rule = deny name rule-1\n"),
         "11: rule name 'rule-1' is already used at line 10"},
        // NAT
        {"a pool that does not parse, with its column",
         minimalWith("[nat]\npool = public 10.0.0.1 ports 9\n"),
         "12: column 30: expected a port range LO-HI (1..65535) after 'ports', found '9'"},
        {"two pools with one name", minimalWith("[nat]\npool = p 10.0.0.1\npool = p 10.0.0.2\n"),
         "13: column 8: pool name 'p' is already used"},
        {"a nat rule naming no pool there is", minimalWith("[nat]\nrule = snat pool q\n"),
         "12: column 18: expected the name of a pool after 'pool' (none is configured), "
         "found 'q'"},
        {"a nat rule naming a zone no port has",
         minimalWith("[nat]\npool = p 10.0.0.1\nrule = snat from dmz pool p\n"),
         "13: column 18: zone 'dmz' is not the zone of any port; zones: in, out"},
        {"two dnat rules to one target",
         minimalWith("[nat]\nrule = dnat dst 192.0.2.1 to 10.0.0.9\n"
                     "rule = dnat dst 192.0.2.2 to 10.0.0.9\n"),
         "13: column 8: dnat to the same address and port as an earlier dnat rule: their replies "
         "could not be told apart"},
        {"a dnat rule without its one address",
         minimalWith("[nat]\nrule = dnat dst 192.0.2.0/24 to 10.0.0.9\n"),
         "12: column 13: a dnat rule needs 'dst ADDR'"},
        {"a reassign delay of 0",
         minimalWith("[nat]\npool = p 10.0.0.1\nrule = snat pool p\nreassign-after-s = 0\n"),
         "14: [nat] reassign-after-s"},
        {"nat in geneve mode",
         replaced(minimalWith("[nat]\npool = p 10.0.0.1\nrule = snat pool p\n"), "[port.b]",
                  "[dataplane]\nmode = geneve\n[port.b]"),
         "13: [nat] cannot be used in geneve mode"},
        {"a pool with fewer blocks than the nodes of a cluster of three",
         pairWith("[peer.3]\nha-address = tcp://10.0.0.3:7400\nlink-address = 02:00:00:00:00:03\n"
                  "public-key = Peer3PublicKeyPlaceholder.00000000000000\n"
                  "[nat]\npool = p 10.0.0.1 ports 30000-30127\nrule = snat pool p\n"),
         "27: pool 'p' has 2 blocks: each worker of each node (3 x 1) needs one of its own"},
        {"a pool with fewer blocks than workers",
         minimalWith("[dataplane]\nworkers = 2\n[nat]\npool = p 10.0.0.1 ports 30000-30063\n"
                     "rule = snat pool p\n"),
         "14: pool 'p' has 1 block: each worker of each node (1 x 2) needs one of its own"},
        {"a missing rules file", minimalWith("rules-file = /nonexistent/r.rules\n"),
         "11: [policy] rules-file: cannot read /nonexistent/r.rules"},
        {"a rules file that is a directory", minimalWith("rules-file = /\n"),
         "11: is not a regular file"},
        {"the same rules file twice", minimalWith("rules-file = /x.rules\nrules-file = /x.rules\n"),
         "12: [policy] rules-file = /x.rules: already included at line 11"},
    };
}

TEST_CASE("each kind of error is reported at its line with what was expected") {
    for (const ErrorCase& c : errorCases()) {
        std::string what = c.what;
        CAPTURE(what);
        ConfigLoadResult r = loadConfigText(c.text, "t.conf", "/");
        INFO("expected " << c.expected << "\ngot:\n" << describeErrors(r.errors));
        CHECK(hasItem(r.errors, c.expected));
        CHECK_FALSE(r.config.has_value());
    }
}

TEST_CASE("no error about a malformed secret key quotes any of its characters") {
    for (const char* bad :
         {"Node1SecretKeyPlaceholder.0000000000000~", "Node1SecretKeyPlaceholder.000000000000\"0",
          "~ode1SecretKeyPlaceholder.00000000000000", "Node1SecretKeyPlace"}) {
        CAPTURE(bad);
        ConfigLoadResult r = loadConfigText(
            replaced(kPair, "Node1SecretKeyPlaceholder.00000000000000", bad), "t.conf", "/");
        REQUIRE_FALSE(r.errors.empty());
        for (const auto& e : r.errors) {
            CHECK(e.message.find("Node1Secret") == std::string::npos);
            CHECK(e.message.find('~') == std::string::npos);
        }
    }
    std::string why;
    CHECK_FALSE(config_detail::isZ85Key("Secret~KeyPlaceholder.000000000000000000", &why,
                                        config_detail::KeyText::secret));
    CHECK(why == "character 7 is not in the Z85 alphabet");
}

TEST_CASE("all errors are reported at once, in line order") {
    std::string text =
        "[node]\n"                     // 1
        "id = 0\n"                     // 2  bad value
        "[dataplane]\n"                // 3
        "workers = 0\n"                // 4  bad value
        "colour = blue\n"              // 5  unknown key
        "[port.a]\n"                   // 6
        "device = net_null0\n"         // 7
        "zone = in\n"                  // 8
        "[port.b]\n"                   // 9
        "device = net_null1\n"         // 10
        "zone = out\n"                 // 11
        "[tcp]\n"                      // 12
        "pickup = sometimes\n"         // 13 bad value
        "nonsense line\n"              // 14 syntax
        "[policy]\n"                   // 15
        "rule = allow from nowhere\n"  // 16 unknown zone
        "rule = permit\n";             // 17 rule syntax
    ConfigLoadResult r = loadConfigText(text, "t.conf");
    INFO(describeErrors(r.errors));
    CHECK_FALSE(r.config.has_value());
    REQUIRE(r.errors.size() == 7);
    std::vector<unsigned> lines;
    for (const auto& e : r.errors) lines.push_back(e.line);
    CHECK(lines == std::vector<unsigned>{2, 4, 5, 13, 14, 16, 17});
    for (const auto& e : r.errors) CHECK(e.file == "t.conf");
}

TEST_CASE("rules file errors carry the rules file's name and line") {
    ScratchDir dir;
    std::string rules = dir.write("site.rules",
                                  "# site rules\n"
                                  "allow name ok from in\n"
                                  "\n"
                                  "   allow name bad proto tcpp\n"
                                  "deny name z to mars   # trailing comment\n");
    ConfigLoadResult r = loadConfigText(std::string(kMinimal) + "rules-file = site.rules\n",
                                        "main.conf", dir.path());
    INFO(describeErrors(r.errors));
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[0].file == rules);
    CHECK(r.errors[0].line == 4);
    CHECK(r.errors[0].message.find("column 25: ") == 0);
    CHECK(r.errors[1].file == rules);
    CHECK(r.errors[1].line == 5);
    CHECK(r.errors[1].message.find("column 16: zone 'mars'") == 0);
    CHECK(r.errors[0].format().find(rules + ":4: column 25: ") == 0);
}

TEST_CASE("keys of a broken section are not reported again") {
    ConfigLoadResult r = loadConfigText(minimalWith("[hq]\nfoo = 1\nbar = 2\n"), "t.conf");
    INFO(describeErrors(r.errors));
    CHECK(r.errors.size() == 1);
}

TEST_CASE("a rule zone is not blamed when the port that names it is broken") {
    ConfigLoadResult r = loadConfigText(replaced(kMinimal, "zone = out", "zone = o u t"), "t.conf");
    INFO(describeErrors(r.errors));
    CHECK(hasItem(r.errors, 8, "expected a zone name"));
    CHECK_FALSE(hasItem(r.errors, 10, "zone 'out'"));
}

TEST_CASE("a config file that cannot be read is one error without a line") {
    ConfigLoadResult r = loadConfigFile("/nonexistent/tandem.conf");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].format() ==
          "/nonexistent/tandem.conf: cannot read: No such file or directory");
    CHECK(loadConfigFile("/").errors.at(0).message == "is a directory");
}

}  // namespace
}  // namespace tandem
