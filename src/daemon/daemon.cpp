#include "daemon/daemon.h"

#include <signal.h>
#include <random>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

#include "config/curve_keys.h"
#include "control/control_server.h"
#include "control/metrics_http_server.h"
#include "core/log.h"
#include "daemon/control_commands.h"
#include "daemon/metrics_page.h"
#include "daemon/policy_reload.h"
#include "daemon/traffic_logger.h"
#include "dataplane/dataplane.h"
#include "ha/ha_agent.h"
#include "ha/zmq_transport.h"

namespace tandem {
namespace {

constexpr const char* kLog = "tandemd";
constexpr long kLinkPollMs = 100;                   // data-link checks while waiting for a signal
constexpr size_t kTrafficLogRing = 16384;           // records per worker (~3 MiB)
constexpr uint32_t kMetricsTablesTimeoutMs = 2000;  // a scrape waits this long for the tables

// An IPv4 address and port of the config as the peer link's UDP endpoint;
// false for IPv6 (the loader refuses it for a udp peer link).
bool v4Endpoint(const IpPort& at, UdpEndpoint* out) {
    if (!at.addr.isV4Mapped()) return false;
    *out = UdpEndpoint{at.addr.v4(), at.port};
    return true;
}

// The peer link: its port, and each peer's address on it (a MAC for raw,
// IPv4:port for udp, plus the optional gateway).
bool buildPeerLinkSpec(const Config& cfg, const PortConfig& port, PeerLinkSpec* pl,
                       std::string* error) {
    pl->enabled = true;
    pl->udp = cfg.ha.peer_link == PeerLinkTransport::udp;
    pl->name = port.name;
    pl->device = port.device;
    pl->mtu = port.mtu;
    pl->cluster_id = uint16_t(cfg.node.cluster_id);
    if (cfg.ha.peer_link_detect_ms != 0) {
        pl->heartbeat_ms = peerLinkHeartbeatMs(cfg.ha);
        pl->heartbeat_for_ms = cfg.ha.hold_time_ms;
    }
    // The loader has parsed and checked every address; these checks only
    // guard against a Config built some other way.
    if (pl->udp) {
        if (!cfg.ha.peer_link_listen || !v4Endpoint(*cfg.ha.peer_link_listen, &pl->listen)) {
            *error = "[ha] peer-link-listen is not IPv4:PORT (udp peer link)";
            return false;
        }
        if (cfg.ha.peer_link_gateway) {
            if (!cfg.ha.peer_link_gateway->isV4Mapped()) {
                *error = "[ha] peer-link-gateway is not an IPv4 address";
                return false;
            }
            pl->gateway_ip = cfg.ha.peer_link_gateway->v4();
        }
    }
    for (const auto& peer : cfg.peers) {
        const IpPort* at = std::get_if<IpPort>(&peer.link_address);
        const MacAddress* mac = std::get_if<MacAddress>(&peer.link_address);
        if (pl->udp ? !at || !v4Endpoint(*at, &pl->peer_addr[peer.id]) : !mac) {
            *error = "peer " + std::to_string(peer.id) + ": link-address is not " +
                     (pl->udp ? "IPv4:PORT (udp peer link)" : "a MAC address (raw peer link)");
            return false;
        }
        if (mac) pl->peer_mac[peer.id] = *mac;
        pl->known_peers |= nodeBit(peer.id);
    }
    pl->auth = cfg.ha.peer_link_auth;
    if (pl->auth) {
        // Each pair's key from this node's secret and the peer's public key.
        const auto secret = config_detail::decodeZ85Key(cfg.ha.secret_key);
        for (const auto& peer : cfg.peers) {
            const auto pub = config_detail::decodeZ85Key(peer.public_key);
            if (!secret || !pub ||
                !derivePeerLinkKey(secret->data(), pub->data(), pl->cluster_id, NodeId(cfg.node.id),
                                   NodeId(peer.id), &pl->keys[peer.id])) {
                *error = "[peer." + std::to_string(peer.id) +
                         "] public-key gives no peer-link key with this node's secret key "
                         "(not a CURVE public key; peer-link-auth needs the real keys)";
                return false;
            }
        }
    }
    return true;
}

// Which port allowed traffic leaves by: inline pairs the two data ports;
// geneve sends frames back out of the port they came in on.
bool buildDataplaneSpec(const Config& cfg, std::shared_ptr<const Policy> policy,
                        DataplaneSpec* spec, std::string* error) {
    spec->eal_args = cfg.dataplane.eal_args;
    spec->workers = cfg.dataplane.workers;
    spec->steering = cfg.dataplane.steering;
    spec->busy_poll = cfg.dataplane.busy_poll;
    spec->burst = cfg.dataplane.burst_size;
    spec->packet_buffers = cfg.dataplane.packet_buffers;
    spec->session_capacity = cfg.dataplane.session_capacity;
    spec->policy = std::move(policy);
    PipelineSettings& ps = spec->pipeline;
    ps.node = cfg.node.id;
    ps.geneve = cfg.dataplane.mode == DataplaneMode::geneve;
    ps.directors = cfg.peers.size() >= 2;
    // Two nodes learn of a death at most the hold time apart (one from a
    // closed connection, the other from silence), of a return a heartbeat
    // apart; then each owner scans its whole table and sends what moved,
    // which takes a loaded node a few hundred milliseconds: at least
    // 500 ms, at most 1.5 s (packets wait in the workers for at most 2 s,
    // OwnerWaitOf).
    ps.director_settle_ms =
        std::clamp(cfg.ha.hold_time_ms + cfg.ha.heartbeat_interval_ms, 500u, 1500u);
    ps.health_check = cfg.health_check;
    if (ps.health_check.enabled) {
        // Keys the health checks' initial sequence numbers (SYN-cookie style).
        std::random_device rd;
        ps.health_check.secret = uint64_t(rd()) << 32 | rd();
    }
    // One 8-byte word per slot: 512 KiB for 64 k flows remembered.
    if (ps.directors) spec->owner_cache_slots = 65536;
    if (ps.geneve) {
        ps.parse.geneve_port = cfg.dataplane.geneve_port;
        ps.parse.require_gwlb_options = true;
    }
    ps.timeouts = cfg.session.timeouts;
    ps.tcp = cfg.session.tcp;

    std::vector<uint16_t> data_ports;
    for (const auto& p : cfg.dataplane.ports) {
        if (p.peer_link) {
            if (!buildPeerLinkSpec(cfg, p, &spec->peer_link, error)) return false;
            continue;
        }
        DataplanePortSpec dp;
        dp.name = p.name;
        dp.device = p.device;
        dp.mtu = p.mtu;
        dp.zone = p.zone_id;
        data_ports.push_back(uint16_t(spec->ports.size()));
        spec->ports.push_back(dp);
    }
    if (ps.geneve) {
        if (data_ports.size() != 1) {
            *error = "geneve mode needs exactly one data port";
            return false;
        }
        spec->ports[0].egress = 0;
    } else {
        if (data_ports.size() != 2) {
            *error = "inline mode needs exactly two data ports";
            return false;
        }
        spec->ports[0].egress = 1;
        spec->ports[1].egress = 0;
    }
    return true;
}

// The traffic log's names of the node, the zones and `policy`'s rules.
TrafficLogNames trafficLogNames(const Config& cfg, const Policy& policy) {
    std::vector<std::string> rules;
    for (size_t i = 0; i < policy.ruleCount(); ++i) rules.push_back(policy.rule(uint32_t(i)).name);
    return TrafficLogNames(cfg.node.name, cfg.node.id, rules, cfg.zones);
}

}  // namespace

int runDaemon(const Config& cfg) {
    LogLevel level;
    if (parseLogLevel(cfg.control.log_level, &level)) setLogLevel("all", level);

    // Signals are taken synchronously by the main thread; every thread DPDK,
    // ZeroMQ and the HA agent start inherits this mask.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);  // reloads the policy, reopens the traffic log
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    if (cfg.ha.enabled) {
        const HaSecurity sec = haSecurityOf(cfg.ha);
        if (!sec.control_link) {
            TLOG_WARN(kLog,
                      "INSECURE: HA traffic and peer-link frames are neither authenticated "
                      "nor encrypted ([ha] insecure = true): anyone who reaches them can "
                      "speak as any node");
        } else if (!sec.peer_link) {
            TLOG_WARN(kLog, "peer-link frames are not authenticated ([ha] peer-link-auth = off)");
        }
    }
    std::string error;
    auto policy = Policy::compile(cfg.rules, cfg.zones, &error);
    if (!policy) {
        TLOG_ERROR(kLog, "%s: policy: %s", cfg.path.c_str(), error.c_str());
        return 1;
    }
    DataplaneSpec spec;
    if (!buildDataplaneSpec(cfg, policy, &spec, &error)) {
        TLOG_ERROR(kLog, "%s: %s", cfg.path.c_str(), error.c_str());
        return 1;
    }
    // Address translation: outlives the dataplane that reads it.
    NatSetup nat;
    if (cfg.nat.enabled()) {
        nat.pools = cfg.nat.pools;
        nat.members = nodeBit(cfg.node.id);
        for (const PeerConfig& peer : cfg.peers) nat.members |= nodeBit(peer.id);
        nat.rules = NatRules::compile(cfg.nat.rules, cfg.nat.pools, cfg.zones, &error);
        if (!nat.rules) {
            TLOG_ERROR(kLog, "%s: nat: %s", cfg.path.c_str(), error.c_str());
            return 1;
        }
        spec.pipeline.nat = &nat;
    }

    // The HA agent and the workers meet only through these rings and the view.
    MonotonicClock clock;
    ClusterViewCell view;
    std::vector<std::unique_ptr<WorkerChannel>> channels;
    std::unique_ptr<ZmqTransport> transport;
    std::unique_ptr<HaAgent> ha;
    if (cfg.ha.enabled) {
        for (unsigned i = 0; i < cfg.dataplane.workers; ++i) {
            channels.push_back(std::make_unique<WorkerChannel>());
            spec.channels.push_back(channels.back().get());
        }
        spec.view = &view;
        transport = ZmqTransport::create(ZmqTransportConfig::fromConfig(cfg), &error);
        if (!transport) {
            TLOG_ERROR(kLog, "HA transport: %s", error.c_str());
            return 1;
        }
    }

    // Traffic log: one ring per worker, drained by the logger thread.
    std::vector<std::unique_ptr<TrafficLogRing>> log_rings;
    std::unique_ptr<TrafficLogger> traffic_logger;
    if (!cfg.control.traffic_log.empty()) {
        for (unsigned i = 0; i < cfg.dataplane.workers; ++i) {
            log_rings.push_back(std::make_unique<TrafficLogRing>(kTrafficLogRing));
            spec.traffic_logs.push_back(log_rings.back().get());
        }
        traffic_logger = std::make_unique<TrafficLogger>(
            cfg.control.traffic_log, trafficLogNames(cfg, *policy), spec.traffic_logs);
        if (!traffic_logger->start(&error)) {
            TLOG_ERROR(kLog, "%s", error.c_str());
            if (ha) ha->stop();
            return 1;
        }
    }

    // The ports first: their devices decide which worker owns each flow,
    // and the HA agent routes replicas by that map from its first one on.
    auto dataplane = Dataplane::open(spec, &error);
    if (!dataplane) {
        TLOG_ERROR(kLog, "cannot start the dataplane: %s", error.c_str());
        return 1;
    }
    if (cfg.ha.enabled) {
        HaAgentOptions options;
        options.replication.worker_map = dataplane->workerMap();
        options.replication.nat = spec.pipeline.nat;
        ha = std::make_unique<HaAgent>(cfg, clock, *transport, spec.channels, view, options);
        ha->start();
    }
    if (!dataplane->launch(&error)) {
        TLOG_ERROR(kLog, "cannot start the dataplane: %s", error.c_str());
        if (ha) ha->stop();
        dataplane->stop();
        return 1;
    }
    // Reloads (command and SIGHUP) rename rules in the traffic log and tell
    // the peers the new policy's hash.
    PolicyReloader reloader(cfg, *dataplane,
                            [&](const std::shared_ptr<const Policy>& p, uint64_t hash) {
                                if (traffic_logger)
                                    traffic_logger->setNames(trafficLogNames(cfg, *p));
                                if (ha) ha->setPolicy(hash, uint32_t(p->ruleCount()));
                            });
    ControlServer control;
    registerControlCommands(control, cfg, *dataplane, ha.get(), reloader);
    if (!control.start(cfg.control.socket, &error)) {
        TLOG_ERROR(kLog, "%s", error.c_str());
        if (ha) ha->stop();
        dataplane->stop();
        return 1;
    }
    MetricsHttpServer metrics;
    if (!cfg.control.metrics_listen.empty()) {
        auto render = [&cfg, &dataplane, &ha, &traffic_logger, &metrics, &reloader] {
            const DataplaneStatus dp = dataplane->status();
            std::optional<HaStatus> ha_status;
            if (ha) ha_status = ha->status();
            std::optional<TrafficLoggerStats> log_stats;
            if (traffic_logger) log_stats = traffic_logger->stats();
            const MetricsHttpStats http = metrics.stats();
            const PolicyStatus policy = reloader.status();
            std::vector<AppUsage> apps;
            const bool apps_ok = dataplane->applications(kMetricsTablesTimeoutMs, &apps);
            MetricsSources src;
            src.config = &cfg;
            src.dataplane = &dp;
            src.ha = ha_status ? &*ha_status : nullptr;
            src.traffic_log = log_stats ? &*log_stats : nullptr;
            src.http = &http;
            src.policy = &policy;
            src.applications = apps_ok ? &apps : nullptr;
            return renderMetricsPage(src);
        };
        if (!metrics.start(cfg.control.metrics_listen, render, &error)) {
            TLOG_ERROR(kLog, "%s", error.c_str());
            control.stop();
            if (ha) ha->stop();
            dataplane->stop();
            return 1;
        }
        TLOG_INFO(kLog, "metrics on http://%s/metrics", cfg.control.metrics_listen.c_str());
    }
    TLOG_INFO(kLog, "ready: node %u (%s), %zu rules, %zu peers, control socket %s", cfg.node.id,
              cfg.node.name.c_str(), cfg.rules.size(), cfg.peers.size(),
              cfg.control.socket.c_str());

    // Until a signal: watch the data links. A node whose data link is down
    // cannot carry its sessions: HA makes it non-functional (it hands them
    // over) until every link is up again.
    bool links_up = true;
    int sig = 0;
    for (;;) {
        const timespec tick{0, kLinkPollMs * 1000000L};
        sig = sigtimedwait(&sigs, nullptr, &tick);
        if (sig == SIGHUP) {
            if (traffic_logger) {
                traffic_logger->reopen();
                TLOG_INFO(kLog, "SIGHUP: reopening the traffic log");
            }
            TLOG_INFO(kLog, "SIGHUP: reloading the policy from %s", cfg.path.c_str());
            reloader.reload();  // logs what it did, or why not
            continue;
        }
        if (sig > 0) break;
        std::string down;
        const bool up = dataplane->dataLinksUp(&down);
        if (up == links_up) continue;
        links_up = up;
        const std::string why = up ? "every data link is up" : "data link down: " + down;
        if (up) {
            TLOG_INFO(kLog, "%s", why.c_str());
        } else {
            TLOG_WARN(kLog, "%s", why.c_str());
        }
        if (ha) ha->setLinkState(up, why);
    }
    TLOG_INFO(kLog, "%s received, stopping", strsignal(sig));
    metrics.stop();
    control.stop();
    if (ha) ha->stop();
    dataplane->stop();
    if (traffic_logger) traffic_logger->stop();
    TLOG_INFO(kLog, "stopped cleanly");
    return 0;
}

}  // namespace tandem
