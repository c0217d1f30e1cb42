// Config: the whole of tandem.conf, validated, as immutable plain structs.
//
// File format: INI (src/config/ini_reader.h), sections and keys are
// documented in docs/config.md and etc/tandem.conf. Loading collects every
// problem with its file and line and fails once; a Config is never returned
// half-valid. `tandemd --check-config FILE` runs exactly this loader.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/ip_addr.h"
#include "core/node_id.h"
#include "core/worker_map.h"
#include "nat/nat_rules.h"
#include "pipeline/health_check.h"
#include "policy/rule.h"
#include "session/session_timeouts.h"

namespace tandem {

enum class DataplaneMode : uint8_t { inline_mode, geneve };
enum class OwnerElection : uint8_t { first_packet, primary };
enum class PeerLinkTransport : uint8_t { raw, udp };

const char* dataplaneModeName(DataplaneMode m);          ///< "inline" | "geneve"
const char* ownerElectionName(OwnerElection o);          ///< "first-packet" | "primary"
const char* peerLinkTransportName(PeerLinkTransport t);  ///< "raw" | "udp"

/// A MAC address, as a raw peer link's link-address gives it.
using MacAddress = std::array<uint8_t, 6>;

/// An IP address and a port: "10.0.1.11:4790", "[2001:db8::1]:4790".
struct IpPort {
    IpAddr addr;
    AddrFamily family = AddrFamily::v4;
    uint16_t port = 0;
    friend bool operator==(const IpPort&, const IpPort&) = default;
};

/// A peer's address on the peer link, parsed once: its MAC (peer-link = raw)
/// or its IPv4 address and UDP port (peer-link = udp); the loader checks that
/// the form matches [ha] peer-link. Empty (monostate) only in a Config that
/// was never loaded.
using PeerLinkAddress = std::variant<std::monostate, MacAddress, IpPort>;

struct NodeConfig {
    NodeId id = kNoNode;      ///< [node] id, 1..16, required
    std::string name;         ///< [node] name, default "node<id>"
    uint32_t cluster_id = 1;  ///< [node] cluster-id, 1..65535
};

/// PortConfig::zone_id of the peer-link port, which belongs to no zone.
inline constexpr uint16_t kNoZone = 0xffff;

/// One port: [port.NAME] device = <DPDK devargs>, zone = <zone name>.
/// A data port carries traffic and has a zone; the port named by
/// [ha] peer-link-port carries forwarded frames and has none.
struct PortConfig {
    std::string name;
    std::string device;          ///< e.g. "net_af_packet0,iface=veth0"
    std::string zone;            ///< empty for the peer-link port
    uint16_t zone_id = kNoZone;  ///< index into Config::zones, kNoZone for the peer link
    bool peer_link = false;      ///< true for the peer-link port
    uint16_t mtu = 0;            ///< IP MTU to set on the device; 0 = the device's default
    unsigned line = 0;           ///< where the section starts
};

/// Largest port MTU: a frame (MTU + Ethernet header + two VLAN tags) of
/// 9216 bytes. Packet buffers are sized from the ports' MTUs
/// (packetDataRoom(), dataplane/dataplane.h); a port whose MTU cannot be
/// read counts as this.
inline constexpr unsigned kMaxPortMtu = 9216 - 14 - 8;

struct DataplaneConfig {
    DataplaneMode mode = DataplaneMode::inline_mode;
    std::vector<std::string> eal_args;     ///< split on whitespace
    unsigned workers = 1;                  ///< worker lcores, 1..64
    uint32_t session_capacity = 1u << 20;  ///< per node, 1024..(1<<28)
    bool busy_poll = false;                ///< true: never sleep when idle
    uint16_t geneve_port = 6081;           ///< UDP port of GENEVE (geneve mode)
    uint16_t burst_size = 32;              ///< packets per RX burst, 1..256
    /// How frames find their flow's worker (core/worker_map.h): auto picks
    /// rss where every port's device can, software elsewhere.
    SteeringSetting steering = SteeringSetting::automatic;
    /// The packet buffer pool, at least; 0: what the ports, queues and
    /// rings need (the dataplane never takes fewer than that).
    uint32_t packet_buffers = 0;
    std::vector<PortConfig> ports;
};

struct PeerConfig {
    NodeId id = kNoNode;           ///< [peer.ID]
    std::string name;              ///< default "node<id>"
    std::string ha_address;        ///< ZeroMQ endpoint, e.g. "tcp://10.0.0.2:7400"
    PeerLinkAddress link_address;  ///< [peer.ID] link-address
    std::string public_key;        ///< CURVE public key, Z85 (40 chars)
    unsigned line = 0;
};

struct HaConfig {
    bool enabled = false;  ///< true when at least one peer is configured
    OwnerElection session_owner = OwnerElection::first_packet;
    bool revert = true;
    uint8_t priority = 100;  ///< lower value wins the primary role, 0..255
    bool preempt = false;
    uint32_t heartbeat_interval_ms = 100;
    uint32_t hold_time_ms = 400;  ///< peer declared dead after this silence; default 4 × interval
    /// Fast death detection on a healthy peer link (0 = off): a peer whose
    /// peer link was heard and that is silent on both paths this long is
    /// dead; the workers send peer-link heartbeats every
    /// peerLinkHeartbeatMs() for it.
    uint32_t peer_link_detect_ms = 0;
    std::string listen;  ///< ZeroMQ bind endpoint for HA traffic
    PeerLinkTransport peer_link = PeerLinkTransport::raw;
    std::string peer_link_port;               ///< name of the [port.*] used as peer link
    std::optional<IpPort> peer_link_listen;   ///< udp: this node's IPv4:port
    std::optional<IpAddr> peer_link_gateway;  ///< udp: IPv4 router towards the peers; none: on-link
    std::string secret_key;                   ///< CURVE secret key of this node, Z85
    std::string secret_key_file;  ///< where secret_key was read from (absolute), if a file
    std::string public_key;       ///< CURVE public key of this node, Z85
    /// Authenticate every peer-link frame with the pair's key (derived from
    /// the CURVE keys, proto/peer_link_auth.h). Default: on when CURVE keys
    /// are configured (they are its key material), else off.
    bool peer_link_auth = false;
    /// Run HA with no CURVE keys: the control link and the peer link
    /// neither authenticated nor encrypted (a lab). Without it, peers need keys.
    bool insecure = false;
};

/// How often a node's worker sends a heartbeat to each peer on the peer
/// link: the heartbeat interval, or a fifth of peer-link-detect-ms when
/// fast detection is on (at least 2 ms), so that a few lost or late frames
/// are not a death.
inline uint32_t peerLinkHeartbeatMs(const HaConfig& ha) {
    if (ha.peer_link_detect_ms == 0) return ha.heartbeat_interval_ms;
    return ha.peer_link_detect_ms / 5 < 2 ? 2 : ha.peer_link_detect_ms / 5;
}

/// What authenticates a node's HA traffic, as its config says: one
/// definition for the log, `show high-availability state` and /metrics.
struct HaSecurity {
    bool control_link = false;  ///< CURVE on the HA control and sync channels
    bool peer_link = false;     ///< peer-link frames authenticated (peer-link-auth)
};
inline HaSecurity haSecurityOf(const HaConfig& ha) {
    return HaSecurity{!ha.secret_key.empty(), ha.peer_link_auth};
}

struct ControlConfig {
    std::string socket = "/run/tandem/tandemd.sock";  ///< ZeroMQ IPC path
    std::string metrics_listen;                       ///< "127.0.0.1:9464"; empty disables
    std::string traffic_log;                          ///< JSON-lines file; empty disables
    std::string log_level = "info";                   ///< error | warn | info | debug
};

struct SessionConfig {
    SessionTimeouts timeouts;
    TcpTrackingConfig tcp;
};

/// [nat] (docs/nat.md): pools first, then the rules that name them.
struct NatConfig {
    std::vector<NatPool> pools;
    std::vector<NatRule> rules;
    /// How long a dead member keeps its port blocks before they are lent to
    /// the members left (docs/nat.md); they return when it is back.
    uint32_t reassign_after_s = 60;
    bool enabled() const { return !rules.empty(); }
};

struct Config {
    std::string path;  ///< the file it came from
    NodeConfig node;
    DataplaneConfig dataplane;
    HaConfig ha;
    std::vector<PeerConfig> peers;
    SessionConfig session;
    ControlConfig control;
    std::vector<std::string> zones;  ///< zone id = index, in order of first use
    std::vector<Rule> rules;         ///< [policy] rule lines, then rules-file lines
    /// [policy] re-evaluate: a policy reload ends the sessions the new
    /// policy denies (else they keep running, new sessions only are affected).
    bool policy_reevaluate = true;
    /// [health-check] (GENEVE mode): enabled when the section is present;
    /// `secret` is left 0 (the daemon picks one at start).
    HealthCheckSettings health_check;
    /// [nat]: pools and translation rules (docs/nat.md); empty: none.
    NatConfig nat;
};

struct ConfigError {
    std::string file;
    unsigned line = 0;    ///< 0 when the problem is not tied to a line
    std::string message;  ///< what was found and what was expected

    /// "FILE:LINE: MESSAGE" (or "FILE: MESSAGE" when line is 0).
    std::string format() const;
};

struct ConfigLoadResult {
    std::optional<Config> config;     ///< set only when errors is empty
    std::vector<ConfigError> errors;  ///< in file order; lineless ones last
    /// Legal but probably unintended settings (a key the chosen mode ignores,
    /// a secret key file readable by others, an empty policy). Never fatal.
    std::vector<ConfigError> warnings;
};

/// Reads and validates a config file. Relative paths inside it (rules-file,
/// secret-key-file, control socket, traffic log) resolve against the file's
/// directory. Never throws. Control plane; thread-safe (no shared state).
ConfigLoadResult loadConfigFile(const std::string& path);

/// Validates config text; `name` stands in for the file name in errors, and
/// relative paths resolve against `base_dir`. Never throws.
ConfigLoadResult loadConfigText(const std::string& text, const std::string& name,
                                const std::string& base_dir = ".");

/// One paragraph for operators: node, cluster, mode, ports and zones, peers,
/// HA settings, rule count. Used by `tandemd --check-config`.
std::string describeConfig(const Config& config);

}  // namespace tandem
