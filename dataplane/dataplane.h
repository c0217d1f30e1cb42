// Dataplane: DPDK ports, queues and worker lcores around the pure Pipeline.
//
// Thin by design: EAL initialisation, one mbuf pool, RX/TX queue per worker
// on every port, and one poll loop per worker lcore that hands bursts of frame
// bytes to its Pipeline and transmits or frees them by verdict. Everything a
// packet decides lives in src/pipeline; this layer only moves buffers.
//
// Threads: open(), launch() and stop() from the daemon's main thread;
// status() from any control thread (it reads counters, never worker-owned
// tables). Each worker owns its SessionTable shard and Pipeline outright.
//
// Several workers: each polls its own RX queue of every port and hands
// every frame whose flow belongs to another worker (Pipeline::workerFor:
// the node's WorkerMap, core/worker_map.h; a datagram's later fragments
// follow its first) to that worker, over an SPSC ring per pair of workers,
// counted as handoff_out / handoff_in (handoff_dropped when a ring is
// full). So both directions of a flow, its ICMP errors and its fragments
// meet one table whatever queue they arrive on; the HA agent routes
// replicas by the same map (workerMap()). With rss steering the devices
// put each TCP and UDP flow on its worker's queue themselves, and a worker
// keeps such frames without asking workerFor (packet/rss_coverage.h).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nat/pool_usage.h"

#include "pipeline/pipeline.h"
#include "proto/peer_link_udp.h"
#include "session/app_usage.h"
#include "session/session_filter.h"

namespace tandem {

struct DataplanePortSpec {
    std::string name;    ///< operator's name ([port.NAME])
    std::string device;  ///< DPDK devargs, e.g. "net_af_packet0,iface=veth0"
    uint16_t zone = 0;
    uint16_t egress = kNoPort;  ///< index of the port allowed traffic leaves by
    uint16_t mtu = 0;           ///< IP MTU to set; 0 = the device's default
};

/// The peer link (HA3): a port to the other nodes, carrying forwarded frames
/// and heartbeats. raw: Ethernet frames with EtherType 0x88B5 to each peer's
/// MAC. udp: the same header in IPv4/UDP to each peer's address; the next
/// hop's MAC (the peer itself, or `gateway_ip` when set) is resolved with ARP.
struct PeerLinkSpec {
    bool enabled = false;
    bool udp = false;  ///< false: raw
    std::string name;
    std::string device;
    uint16_t mtu = 0;  ///< IP MTU to set; 0 = the device's default
    uint16_t cluster_id = 1;
    uint16_t known_peers = 0;  ///< bit n-1 for configured peer n
    std::array<std::array<uint8_t, 6>, kMaxNodes + 1> peer_mac{};  ///< raw: by node id
    UdpEndpoint listen;                                            ///< udp: this node's address
    uint32_t gateway_ip = 0;                             ///< udp: 0 = peers are on the link
    std::array<UdpEndpoint, kMaxNodes + 1> peer_addr{};  ///< udp: by node id
    /// Every frame sent carries an authentication trailer, and a frame
    /// received without a valid one (or a replay) is rejected
    /// (proto/peer_link_auth.h).
    bool auth = false;
    std::array<PeerLinkKey, kMaxNodes + 1> keys{};  ///< auth: the key shared with each peer
    /// peerLinkHeartbeatMs() with peer-link-detect-ms, else 0: worker 0
    /// sends the agent's last heartbeat again when the agent sent none for
    /// this long (a starved agent is not a silent peer link), for at most
    /// `heartbeat_for_ms` after the agent's last (the hold time: an agent
    /// that stopped for good is seen as dead).
    uint32_t heartbeat_ms = 0;
    uint32_t heartbeat_for_ms = 0;
};

/// The data room of one packet buffer (beyond DPDK's headroom) for ports
/// whose largest IP MTU is `largest_mtu`: the frame (MTU + Ethernet header
/// + two VLAN tags), what the peer link appends in place (its
/// authentication trailer) and a driver's kept FCS, rounded up to 128
/// bytes; at least 2048, what DPDK's drivers expect of a buffer, and at
/// least `driver_frame`, a frame a driver copies into one buffer whatever
/// the MTU (af_packet: its ring's frame). A 1500-byte MTU gets 2048 bytes,
/// a 9000-byte one 9088.
constexpr uint32_t packetDataRoom(uint32_t largest_mtu, uint32_t driver_frame = 0) {
    const uint32_t frame = largest_mtu + 14 + 8 + 64;
    const uint32_t rounded = (frame + 127) / 128 * 128;
    const uint32_t room = rounded < 2048 ? 2048 : rounded;
    return room < driver_frame ? driver_frame : room;
}

struct DataplaneSpec {
    std::vector<std::string> eal_args;  ///< from [dataplane] eal-args
    std::vector<DataplanePortSpec> ports;
    unsigned workers = 1;
    SteeringSetting steering = SteeringSetting::automatic;  ///< [dataplane] steering
    bool busy_poll = false;                                 ///< never sleep when idle (production)
    uint16_t burst = 32;
    uint32_t session_capacity = 1u << 20;  ///< whole node; split across workers
    /// The packet buffer pool, at least (0: what ports, queues and rings need).
    uint32_t packet_buffers = 0;
    PipelineSettings pipeline;  ///< ports/port_count are filled from `ports`
    std::shared_ptr<const Policy> policy;
    PeerLinkSpec peer_link;
    /// One channel per worker to the HA agent (empty: standalone node).
    std::vector<WorkerChannel*> channels;
    /// One traffic log ring per worker (empty: no traffic log).
    std::vector<TrafficLogRing*> traffic_logs;
    const ClusterViewCell* view = nullptr;
    /// Clusters of 3+ (pipeline.directors): slots of the node's owner cache
    /// (cluster/owner_cache.h), shared by its workers; 0: none.
    uint32_t owner_cache_slots = 0;
};

/// Per-port figures read from the driver.
struct PortStatus {
    std::string name;
    std::string device;
    uint16_t port_id = 0;
    bool peer_link = false;  ///< the peer-link port, not a data port
    bool link_up = false;
    uint32_t speed_mbps = 0;
    uint16_t mtu = 0;                        ///< the device's IP MTU as it reports it
    Steering steering = Steering::software;  ///< the node's (WorkerMap::steering)
    uint64_t rx_packets = 0, tx_packets = 0, rx_bytes = 0, tx_bytes = 0;
    uint64_t rx_missed = 0, rx_errors = 0, tx_errors = 0, rx_no_mbuf = 0;
};

struct DataplaneStatus {
    std::vector<PortStatus> ports;        ///< data ports, then the peer link if any
    std::vector<CounterValue> pipeline;   ///< PipelineCounter, summed over workers
    std::vector<CounterValue> parse;      ///< ParseResult drop reasons, summed
    std::vector<CounterValue> io;         ///< WorkerCounter, summed
    std::vector<CounterValue> peer_link;  ///< PeerLinkResult, summed
    uint64_t sessions = 0;
    uint64_t session_capacity = 0;
    /// Live sessions (replicas included) by Session::owner, index = node id
    /// (0: none); maintained by the tables, so reading it costs nothing.
    std::array<uint64_t, kMaxNodes + 1> sessions_by_owner{};
    std::vector<uint64_t> sessions_by_worker;  ///< live sessions in each worker's table
    unsigned workers = 0;
    /// Clusters: the owner cache (directors' answers kept by this forwarder).
    uint32_t owner_cache_capacity = 0;  ///< 0: none
    uint32_t owner_cache_entries = 0;   ///< slots holding a fresh answer
    /// Packets with no session that found their owner in the cache, of all
    /// that looked (owner_cache_hits / (hits + misses)), 0..100.
    double owner_cache_hit_pct = 0;
    /// Each [nat] pool and how this node uses it, summed over the workers.
    std::vector<NatPoolUsage> nat_pools;
};

/// One session as the operator sees it.
struct SessionSnapshot {
    uint64_t id = 0;  ///< stable while the session lives: worker * capacity + index
    Session session;
    int64_t expires_in_ms = 0;  ///< negative: due, awaiting the aging pass
    SessionApp app;             ///< its application identity (status none: not asked)
    AppName app_name;           ///< the name read, when identified
    NatBinding nat;             ///< its address translation (kind 0: none)
};

/// What the control commands ask of the dataplane (control_commands.h):
/// status, and the sessions in its tables. Dataplane answers from its
/// workers; anything else that answers the same way (a fuzz target's stand-in)
/// can be handed to the same handlers.
class DataplaneQueries {
  public:
    virtual ~DataplaneQueries() = default;

    virtual DataplaneStatus status() const = 0;

    /// Copies up to `max` sessions matching `filter` (or the one with `id`
    /// when given). Returns false when the tables did not answer within
    /// `timeout_ms`. *truncated says whether more matched than `max`.
    virtual bool sessions(const SessionFilter& filter, std::optional<uint64_t> id, size_t max,
                          uint32_t timeout_ms, std::vector<SessionSnapshot>* out,
                          bool* truncated) const = 0;

    /// Removes the sessions matching `filter` (or the one with `id`); peers
    /// are told about the ones this node owns. Returns false on timeout;
    /// *cleared is how many went.
    virtual bool clearSessions(const SessionFilter& filter, std::optional<uint64_t> id,
                               uint32_t timeout_ms, uint64_t* cleared) = 0;

    /// The sessions this node owns by application (AppUsage), summed over
    /// the workers, most sessions first: each worker's kMaxTop most used
    /// applications (so a name spread thinly over many workers may be
    /// missing). False when the tables did not answer within `timeout_ms`.
    virtual bool applications(uint32_t timeout_ms, std::vector<AppUsage>* out) const = 0;

    /// The policy the workers match against (the last reload's); it names
    /// the rules that Session::rule indexes.
    virtual std::shared_ptr<const Policy> policy() const = 0;

    /// A policy reload: every worker matches frames against `policy` from
    /// its next burst on and then re-evaluates the sessions it owns
    /// (Pipeline::setPolicy; `end_denied` is `[policy] re-evaluate`). No
    /// frame is dropped by the swap. Waits up to `timeout_ms` for every
    /// worker to switch; false if one did not (it switches later). One at a
    /// time.
    virtual bool setPolicy(std::shared_ptr<const Policy> policy, bool end_denied,
                           uint32_t timeout_ms) = 0;
};

class Dataplane final : public DataplaneQueries {
  public:
    /// Initialises the EAL, decides the steering (spec.steering, from what
    /// the ports' devices offer) and opens and starts every port; no worker
    /// runs yet, so nothing is received. On failure returns nullptr and
    /// says why in *error (the port or EAL problem, in words an operator
    /// can act on).
    static std::unique_ptr<Dataplane> open(const DataplaneSpec& spec, std::string* error);

    /// Which worker owns each flow, fixed by open(): the HA agent must route
    /// replicas by it (ReplicationOptions::worker_map).
    const WorkerMap& workerMap() const;

    /// After open(): creates the session tables and launches the workers.
    /// False with *error on failure (then stop()).
    bool launch(std::string* error);

    /// Stops the workers (they finish their current burst), then the ports.
    /// Idempotent.
    void stop();

    DataplaneStatus status() const override;

    /// Whether every data port's link is up (the driver's view, and the
    /// kernel interface's carrier for ports on one); *down lists the ports
    /// that are not. Cheap enough to call every 100 ms; control threads.
    bool dataLinksUp(std::string* down = nullptr) const;

    /// From the workers' tables: workers copy in bounded steps between
    /// bursts; this waits for them up to `timeout_ms`. Control threads only;
    /// one request at a time (serialised inside).
    bool sessions(const SessionFilter& filter, std::optional<uint64_t> id, size_t max,
                  uint32_t timeout_ms, std::vector<SessionSnapshot>* out,
                  bool* truncated) const override;

    bool clearSessions(const SessionFilter& filter, std::optional<uint64_t> id, uint32_t timeout_ms,
                       uint64_t* cleared) override;

    bool applications(uint32_t timeout_ms, std::vector<AppUsage>* out) const override;

    std::shared_ptr<const Policy> policy() const override;

    /// Workers take the new policy between bursts, at the top of their loop.
    bool setPolicy(std::shared_ptr<const Policy> policy, bool end_denied,
                   uint32_t timeout_ms) override;

    ~Dataplane();

    struct Impl;

  private:
    explicit Dataplane(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace tandem
