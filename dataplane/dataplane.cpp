#include "dataplane/dataplane.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "dataplane/dataplane_impl.h"
#include "dataplane/packet_pool.h"
#include "dataplane/port_rss.h"

namespace tandem {
namespace {

// A port on DPDK's af_packet driver (a kernel interface's socket): its
// MTU, queue count and ring sizes follow that driver's rules.
bool isAfPacket(const std::string& device) {
    return device.rfind("net_af_packet", 0) == 0;
}

constexpr const char* kLog = "dataplane";
constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr unsigned kMbufCache = 256;
constexpr unsigned kMaxWorkers = 64;
constexpr size_t kHandoffRingSize = 1024;  // frames in flight from one worker to another

// The device name DPDK gives a --vdev port is the devargs up to the first comma.
std::string deviceName(const std::string& devargs) {
    return devargs.substr(0, devargs.find(','));
}

// A PCI device (e.g. "0000:00:06.0" or "00:06.0", optionally with ",args")
// is allow-listed with -a; anything else is a virtual device (--vdev).
bool isPciAddress(const std::string& name) {
    unsigned d, b, s, f;
    char tail;
    return std::sscanf(name.c_str(), "%x:%x:%x.%x%c", &d, &b, &s, &f, &tail) == 4 ||
           std::sscanf(name.c_str(), "%x:%x.%x%c", &b, &s, &f, &tail) == 3;
}

std::string deviceArg(const std::string& devargs) {
    return (isPciAddress(deviceName(devargs)) ? "-a" : "--vdev=") + devargs;
}

// The value of `key=` in a device's arguments ("" when absent).
std::string deviceArgValue(const std::string& devargs, const std::string& key) {
    for (size_t at = devargs.find(','); at != std::string::npos; at = devargs.find(',', at + 1)) {
        if (devargs.compare(at + 1, key.size() + 1, key + "=") == 0) {
            const size_t start = at + 1 + key.size() + 1;
            return devargs.substr(start, devargs.find(',', start) - start);
        }
    }
    return "";
}

// An ioctl on the kernel interface `iface` (SIOCGIFFLAGS, SIOCGIFMTU, ...).
// Returns the ioctl's result, -1 when the name is unusable.
int interfaceIoctl(const std::string& iface, unsigned long request, ifreq* ifr) {
    if (iface.empty() || iface.size() >= IFNAMSIZ) return -1;
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    std::memcpy(ifr->ifr_name, iface.data(), iface.size());
    const int rc = ioctl(fd, request, ifr);
    close(fd);
    return rc;
}

// af_packet in DPDK 22.11 reports a 1518-byte frame limit whatever its ring
// frame size, so ethdev refuses any larger MTU; the frames it can carry are
// set by the kernel interface's MTU and the ring's frame size (`framesz`,
// 2048 by default, holding a TPACKET2 header and the frame). tandemd checks
// the frame size and sets the interface's MTU itself.
bool setAfPacketMtu(const std::string& devargs, uint16_t mtu, std::string* why) {
    const std::string iface = deviceArgValue(devargs, "iface");
    const std::string framesz = deviceArgValue(devargs, "framesz");
    const unsigned frame =
        framesz.empty() ? 2048 : unsigned(std::strtoul(framesz.c_str(), nullptr, 0));
    const unsigned need = mtu + 14 + 8 + 64;  // Ethernet, two VLAN tags, TPACKET2 header
    if (frame < need) {
        *why = "its ring frames (framesz=" + std::to_string(frame) +
               ") cannot hold a frame of mtu " + std::to_string(mtu) +
               "; give it framesz=" + std::to_string((need + 1023) / 1024 * 1024) +
               " or more (and blocksz at least as large)";
        return false;
    }
    ifreq ifr{};
    ifr.ifr_mtu = mtu;
    if (interfaceIoctl(iface, SIOCSIFMTU, &ifr) != 0) {
        *why = "cannot set the MTU of interface '" + iface + "': " + std::strerror(errno);
        return false;
    }
    return true;
}

// The MTU of the kernel interface under a port, or 0 when it has none.
uint16_t kernelMtu(const std::string& devargs) {
    ifreq ifr{};
    if (interfaceIoctl(deviceArgValue(devargs, "iface"), SIOCGIFMTU, &ifr) != 0) return 0;
    return uint16_t(ifr.ifr_mtu);
}

}  // namespace

bool Dataplane::Impl::initEal(std::string* error) {
    std::vector<std::string> args = {"tandemd"};
    args.insert(args.end(), spec.eal_args.begin(), spec.eal_args.end());
    for (const auto& p : spec.ports) args.push_back(deviceArg(p.device));
    if (spec.peer_link.enabled) args.push_back(deviceArg(spec.peer_link.device));
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string joined;
    for (auto& a : args) joined += " " + a;
    TLOG_INFO(kLog, "EAL arguments:%s", joined.c_str());
    if (rte_eal_init(int(argv.size() - 1), argv.data()) < 0) {
        *error = std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
                 " (check [dataplane] eal-args)";
        return false;
    }
    eal_ready = true;
    return true;
}

bool Dataplane::Impl::openPort(const std::string& name, const std::string& device, uint16_t mtu,
                               unsigned nq, uint16_t* id, std::string* error) {
    const std::string dev = deviceName(device);
    if (rte_eth_dev_get_port_by_name(dev.c_str(), id) != 0) {
        *error = "port '" + name + "': device '" + device +
                 "' did not come up (is the interface present in this namespace?)";
        return false;
    }
    rte_eth_dev_info info;
    if (rte_eth_dev_info_get(*id, &info) != 0) {
        *error = "port '" + name + "': cannot read device info";
        return false;
    }
    if (info.max_rx_queues < nq || info.max_tx_queues < nq) {
        *error = "port '" + name + "': device supports " + std::to_string(info.max_rx_queues) +
                 " queues, " + std::to_string(nq) + " workers need one each";
        if (isAfPacket(dev)) *error += " (add qpairs=" + std::to_string(nq) + " to its device)";
        return false;
    }
    rte_eth_conf conf;
    std::memset(&conf, 0, sizeof conf);
    // Several queues: the device spreads flows over them (RSS). With
    // software steering where a flow lands does not matter for correctness
    // (a worker hands each frame to the worker holding its flow); with rss
    // steering the device is given the symmetric key here and its
    // redirection table once it runs (programRss).
    uint8_t rss_key[kRssKeyBytes];
    configureRss(worker_map, info, nq, rss_key, &conf);
    if (mtu != 0 && !isAfPacket(dev) && (mtu < info.min_mtu || mtu > info.max_mtu)) {
        *error = "port '" + name + "' (" + device + "): mtu " + std::to_string(mtu) +
                 " is outside what the device supports (" + std::to_string(info.min_mtu) + ".." +
                 std::to_string(info.max_mtu) + ")";
        return false;
    }
    const bool af_packet = isAfPacket(dev);
    if (af_packet) {
        // The driver walks its ring in steps of framesz while the kernel
        // fills each block from its start: a block that does not hold a
        // whole number of frames loses every frame after the first.
        const unsigned long framesz =
            std::strtoul(deviceArgValue(device, "framesz").c_str(), nullptr, 0);
        const unsigned long blocksz =
            std::strtoul(deviceArgValue(device, "blocksz").c_str(), nullptr, 0);
        const unsigned long f = framesz ? framesz : 2048, b = blocksz ? blocksz : 4096;
        if (b % f != 0) {
            *error = "port '" + name + "' (" + device + "): blocksz " + std::to_string(b) +
                     " is not a multiple of framesz " + std::to_string(f) +
                     " (af_packet would lose frames); e.g. framesz=9216,blocksz=36864";
            return false;
        }
    }
    int rc = rte_eth_dev_configure(*id, uint16_t(nq), uint16_t(nq), &conf);
    if (rc == 0 && mtu != 0) {
        std::string why;
        if (af_packet ? !setAfPacketMtu(device, mtu, &why)
                      : (rc = rte_eth_dev_set_mtu(*id, mtu)) != 0) {
            *error = "port '" + name + "' (" + device + "): cannot set mtu " + std::to_string(mtu) +
                     ": " + (af_packet ? why : rte_strerror(-rc));
            return false;
        }
    }
    for (unsigned q = 0; rc == 0 && q < nq; ++q) {
        rc = rte_eth_rx_queue_setup(*id, uint16_t(q), kRxDesc, rte_eth_dev_socket_id(*id), nullptr,
                                    pool);
        if (rc == 0) {
            rc = rte_eth_tx_queue_setup(*id, uint16_t(q), kTxDesc, rte_eth_dev_socket_id(*id),
                                        nullptr);
        }
    }
    if (rc == 0) rc = rte_eth_dev_start(*id);
    if (rc != 0) {
        *error = "port '" + name + "' (" + device + "): cannot start: " + rte_strerror(-rc);
        return false;
    }
    if (worker_map.steering() == Steering::rss) {
        std::string why;
        if (!programRss(*id, worker_map, &why)) {
            if (spec.steering == SteeringSetting::rss) {
                *error = "[dataplane] steering = rss: port '" + name + "' (" + device + "): " + why;
                return false;
            }
            // auto: the ports already set up keep their key and table,
            // which software steering does not rely on.
            TLOG_WARN(kLog, "steering: software (port %s: %s)", name.c_str(), why.c_str());
            worker_map = WorkerMap::software(nq);
        }
    }
    // A transparent firewall forwards frames addressed to any MAC.
    rte_eth_promiscuous_enable(*id);
    if (device.find("iface=") != std::string::npos) {
        // A port on a kernel interface (af_packet) opens its socket before
        // binding it to the interface: frames of every interface in the
        // namespace caught in between sit in its ring (seen in the lab: the
        // HA link's TCP on the peer-link port). Nothing has been received on
        // purpose yet, so the rings start empty.
        unsigned flushed = 0;
        rte_mbuf* junk[32];
        for (unsigned q = 0; q < nq; ++q) {
            for (uint16_t n; (n = rte_eth_rx_burst(*id, uint16_t(q), junk, 32)) != 0;) {
                rte_pktmbuf_free_bulk(junk, n);
                flushed += n;
            }
        }
        if (flushed) {
            TLOG_INFO(kLog,
                      "port %s: %u frames caught before the port was bound to its "
                      "interface, discarded",
                      name.c_str(), flushed);
        }
    }
    rte_eth_link link;
    std::memset(&link, 0, sizeof link);
    rte_eth_link_get_nowait(*id, &link);
    uint16_t actual_mtu = kernelMtu(device);
    if (actual_mtu == 0) rte_eth_dev_get_mtu(*id, &actual_mtu);
    TLOG_INFO(kLog, "port %s (%s) started as DPDK port %u, link %s, mtu %u", name.c_str(),
              device.c_str(), *id, link.link_status ? "up" : "down", unsigned(actual_mtu));
    return true;
}

// What the af_packet driver copies into one buffer: its ring's frame
// (framesz, 2048 by default) less the part of the ring header it does not
// copy (32 bytes); 0 for other drivers.
uint32_t afPacketFrame(const std::string& device) {
    if (!isAfPacket(deviceName(device))) return 0;
    const unsigned long framesz =
        std::strtoul(deviceArgValue(device, "framesz").c_str(), nullptr, 0);
    return uint32_t(framesz ? framesz : 2048) - 32;
}

// The IP MTU a port will have once started: the one set, else the kernel
// interface's (af_packet), else the device's; 0 = unknown.
uint16_t expectedMtu(const std::string& device, uint16_t configured) {
    if (configured != 0) return configured;
    if (isAfPacket(deviceName(device))) return kernelMtu(device);
    uint16_t id = 0, mtu = 0;
    if (rte_eth_dev_get_port_by_name(deviceName(device).c_str(), &id) != 0 ||
        rte_eth_dev_get_mtu(id, &mtu) != 0)
        return 0;
    return mtu;
}

bool Dataplane::Impl::openPorts(std::string* error) {
    const unsigned nq = spec.workers;
    const unsigned nports = unsigned(spec.ports.size()) + (spec.peer_link.enabled ? 1 : 0);
    // What the ports' rings, the workers' caches, parking and hand-off
    // rings can hold at once; more when [dataplane] packet-buffers says so
    // (a driver that keeps frames of its own, as net_pcap's infinite_rx).
    const unsigned needed = std::max<unsigned>(
        8191, nports * nq * (kRxDesc + kTxDesc) + nq * (kMbufCache * 2 + ParkingLot::kSlots) +
                  (nq > 1 ? nq * nq * unsigned(kHandoffRingSize) : 0) + 1024);
    const unsigned mbufs = std::max<unsigned>(needed, spec.packet_buffers);
    // Buffers as large as the largest frame a port can receive (the MTU is
    // set at start and not changed behind tandemd's back; with af_packet a
    // kernel MTU raised later drops the larger frames): a 1500-byte node's
    // buffers are a quarter of the size of jumbo ones.
    uint32_t largest_mtu = 0, driver_frame = 0;
    auto account = [&](const std::string& device, uint16_t mtu) {
        const uint16_t m = expectedMtu(device, mtu);
        largest_mtu = std::max<uint32_t>(largest_mtu, m ? m : kMaxPortMtu);
        driver_frame = std::max(driver_frame, afPacketFrame(device));
    };
    for (const auto& p : spec.ports) account(p.device, p.mtu);
    if (spec.peer_link.enabled) account(spec.peer_link.device, spec.peer_link.mtu);
    const uint32_t room = packetDataRoom(largest_mtu, driver_frame);
    // Packed buffers where no device writes into them (packet_pool.h).
    auto copies = [](const std::string& device) {
        uint16_t id;
        rte_eth_dev_info info;
        return rte_eth_dev_get_port_by_name(deviceName(device).c_str(), &id) == 0 &&
               rte_eth_dev_info_get(id, &info) == 0 && driverCopiesFrames(info.driver_name);
    };
    const bool all_copy =
        std::all_of(spec.ports.begin(), spec.ports.end(),
                    [&](const DataplanePortSpec& p) { return copies(p.device); }) &&
        (!spec.peer_link.enabled || copies(spec.peer_link.device));
    const PacketPoolLayout layout = packetPoolLayout(rte_eal_has_hugepages() != 0, all_copy);
    pool = createPacketPool("tandem_mbufs", mbufs, kMbufCache,
                            uint16_t(RTE_PKTMBUF_HEADROOM + room), int(rte_socket_id()), layout);
    if (!pool) {
        *error = std::string("cannot create the packet buffer pool (") + std::to_string(mbufs) +
                 " buffers of " + std::to_string(room) + " bytes): " + rte_strerror(rte_errno) +
                 "; raise -m in [dataplane] eal-args";
        return false;
    }
    TLOG_INFO(kLog, "packet buffers: %u of %u bytes, %s (the largest port MTU is %u)", mbufs, room,
              packetPoolLayoutName(layout), largest_mtu);
    if (!chooseSteering(error)) return false;
    for (const auto& p : spec.ports) {
        uint16_t id;
        if (!openPort(p.name, p.device, p.mtu, nq, &id, error)) return false;
        port_ids.push_back(id);
        rte_ether_addr mac{};
        rte_eth_macaddr_get(id, &mac);
        port_macs.push_back(mac);
    }
    if (spec.peer_link.enabled) {
        if (!openPort(spec.peer_link.name, spec.peer_link.device, spec.peer_link.mtu, nq,
                      &peer_port_id, error)) {
            return false;
        }
        rte_eth_macaddr_get(peer_port_id, &peer_port_mac);
    }
    ports_started = true;
    if (worker_map.steering() == Steering::rss)
        TLOG_INFO(kLog, "steering: rss (%s)", steering_why.c_str());
    return true;
}

bool Dataplane::Impl::chooseSteering(std::string* error) {
    // What every port's device offers, the peer link's too: its frames are
    // steered in software whatever the steering (their flow is inside the
    // peer-link encapsulation), but a node's ports are set up alike.
    std::vector<PortRssCapability> caps;
    auto probe = [&](const std::string& name, const std::string& device) {
        uint16_t id;
        rte_eth_dev_info info;
        if (rte_eth_dev_get_port_by_name(deviceName(device).c_str(), &id) != 0 ||
            rte_eth_dev_info_get(id, &info) != 0) {
            std::memset(&info, 0, sizeof info);  // openPort() says what is wrong
        }
        caps.push_back(rssCapabilityOf(name, device, info));
    };
    for (const auto& p : spec.ports) probe(p.name, p.device);
    if (spec.peer_link.enabled) probe(spec.peer_link.name, spec.peer_link.device);
    const SteeringDecision d =
        decideSteering(spec.steering, spec.workers, spec.pipeline.geneve, caps);
    if (!d.map) {
        *error = d.message;
        return false;
    }
    worker_map = *d.map;
    steering_why = d.message;
    if (worker_map.steering() == Steering::software)
        TLOG_INFO(kLog, "steering: software (%s)", d.message.c_str());
    return true;
}

bool Dataplane::Impl::launchWorkers(std::string* error) {
    std::vector<unsigned> lcores;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);
    if (lcores.size() < spec.workers) {
        *error = std::to_string(spec.workers) + " workers need " + std::to_string(spec.workers) +
                 " worker lcores besides the main one; eal-args give " +
                 std::to_string(lcores.size()) + " (add cores with -l, e.g. -l 0-" +
                 std::to_string(spec.workers) + ")";
        return false;
    }
    const uint32_t per_worker = std::max<uint32_t>(1024, spec.session_capacity / spec.workers);
    PipelineSettings settings = spec.pipeline;
    settings.port_count = uint16_t(spec.ports.size());
    for (size_t i = 0; i < spec.ports.size(); ++i) {
        settings.ports[i] = {spec.ports[i].zone, spec.ports[i].egress};
    }
    settings.view = spec.view;
    if (spec.owner_cache_slots) {
        owner_cache = std::make_unique<OwnerCache>(spec.owner_cache_slots);
        settings.owner_cache = owner_cache.get();
    }
    const uint32_t now = monotonicMs();
    if (spec.workers > 1) {
        for (unsigned i = 0; i < spec.workers * spec.workers; ++i) {
            handoff.push_back(std::make_unique<HandoffRing>(kHandoffRingSize));
        }
    }
    for (unsigned i = 0; i < spec.workers; ++i) {
        auto w = std::make_unique<Worker>();
        w->index = i;
        w->lcore = lcores[i];
        w->queue = uint16_t(i);
        w->channel = i < spec.channels.size() ? spec.channels[i] : nullptr;
        settings.worker = uint16_t(i);
        settings.workers = uint16_t(spec.workers);
        settings.events = w->channel ? &w->channel->to_agent : nullptr;
        settings.traffic_log = i < spec.traffic_logs.size() ? spec.traffic_logs[i] : nullptr;
        w->table = std::make_unique<SessionTable>(per_worker, now);
        w->pipeline = std::make_unique<Pipeline>(settings, *w->table, spec.policy);
        w->app_tally = std::make_unique<AppUsageTally>(*w->table);
        workers.push_back(std::move(w));
    }
    for (auto& w : workers) {
        auto entry = [](void* arg) -> int {
            auto* pair = static_cast<std::pair<Impl*, Worker*>*>(arg);
            pair->first->loop(*pair->second);
            delete pair;
            return 0;
        };
        auto* arg = new std::pair<Impl*, Worker*>(this, w.get());
        if (rte_eal_remote_launch(entry, arg, w->lcore) != 0) {
            delete arg;
            *error = "cannot launch worker on lcore " + std::to_string(w->lcore);
            return false;
        }
        TLOG_INFO(kLog, "worker %u running on lcore %u (%u sessions)", w->index, w->lcore,
                  w->table->capacity());
    }
    return true;
}

Dataplane::Dataplane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Dataplane::~Dataplane() {
    stop();
}

namespace {

uint32_t randomSalt() {
    std::random_device rd;
    return uint32_t(rd());
}

}  // namespace

std::unique_ptr<Dataplane> Dataplane::open(const DataplaneSpec& spec, std::string* error) {
    if (spec.ports.empty() || spec.ports.size() > kMaxPorts) {
        *error = "the dataplane needs 1.." + std::to_string(kMaxPorts) + " data ports";
        return nullptr;
    }
    if (spec.workers < 1 || spec.workers > kMaxWorkers) {
        *error = "the dataplane runs 1.." + std::to_string(kMaxWorkers) + " workers";
        return nullptr;
    }
    auto impl = std::make_unique<Impl>();
    impl->spec = spec;
    impl->policy = spec.policy;
    if (spec.peer_link.udp) {
        PeerLinkUdpLocal& u = impl->peer_udp;
        u.self = spec.peer_link.listen;
        u.cluster_id = spec.peer_link.cluster_id;
        u.node = spec.pipeline.node;
        u.known_peers = spec.peer_link.known_peers;
        for (unsigned n = 1; n <= kMaxNodes; ++n) {
            u.peer_ip[n] = spec.peer_link.peer_addr[n].ip;
            u.peer_port[n] = spec.peer_link.peer_addr[n].port;
        }
        impl->neighbours.next_request_ms.fill(monotonicMs());  // first requests at once
    }
    if (spec.peer_link.auth) {
        impl->peer_link_ciphers = std::make_unique<PeerLinkCipher[]>(kMaxNodes + 1);
        for (unsigned n = 1; n <= kMaxNodes; ++n) {
            if (!(spec.peer_link.known_peers & nodeBit(NodeId(n)))) continue;
            if (!impl->peer_link_ciphers[n].init(spec.peer_link.keys[n])) {
                *error = "peer-link-auth needs a CPU with AES-NI and PCLMULQDQ (AES-256-GCM)";
                return nullptr;
            }
        }
        impl->peer_link_salt = randomSalt();
    }
    PeerLinkReceiveRules& rx = impl->peer_rx;
    rx.udp = spec.peer_link.udp;
    rx.cluster_id = spec.peer_link.cluster_id;
    rx.self = spec.pipeline.node;
    rx.known_peers = spec.peer_link.known_peers;
    rx.udp_local = &impl->peer_udp;
    rx.ciphers = impl->peer_link_ciphers.get();
    // Above every sequence number this node used before it (re)started.
    impl->peer_link_seq.store(uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count()));
    std::unique_ptr<Dataplane> dp(new Dataplane(std::move(impl)));
    Impl& d = *dp->impl_;
    if (!d.initEal(error) || !d.openPorts(error)) {
        dp->stop();
        return nullptr;
    }
    return dp;
}

const WorkerMap& Dataplane::workerMap() const {
    return impl_->worker_map;
}

bool Dataplane::launch(std::string* error) {
    return impl_->launchWorkers(error);
}

void Dataplane::stop() {
    if (!impl_ || impl_->stopped) return;
    Impl& d = *impl_;
    d.stopped = true;
    d.stopping.store(true);
    if (d.eal_ready) rte_eal_mp_wait_lcore();
    for (auto& w : d.workers) {
        w->parking.drain([](const ParkingLot::Parked& p) { rte_pktmbuf_free(p.frame); });
        w->fragment_hold.drain([](const FragmentHold::Held& h) { rte_pktmbuf_free(h.frame); });
        w->owner_wait.drain([](const OwnerWait::Held& h) { rte_pktmbuf_free(h.frame); });
    }
    for (auto& ring : d.handoff) {
        Handoff h;
        while (ring->pop(&h)) rte_pktmbuf_free(h.frame);
    }
    if (d.ports_started) {
        for (uint16_t id : d.port_ids) {
            rte_eth_dev_stop(id);
            rte_eth_dev_close(id);
        }
        if (d.spec.peer_link.enabled) {
            rte_eth_dev_stop(d.peer_port_id);
            rte_eth_dev_close(d.peer_port_id);
        }
    }
    if (d.eal_ready) rte_eal_cleanup();
    TLOG_INFO(kLog, "stopped");
}

bool Dataplane::Impl::askWorker(Worker& w, uint64_t deadline_us) const {
    SessionMailbox& mb = w.mailbox;
    mb.n = 0;
    mb.matched = 0;
    mb.cursor = 0;
    mb.state.store(SessionMailbox::kRequested, std::memory_order_release);
    bool done = true;
    while (mb.state.load(std::memory_order_acquire) != SessionMailbox::kDone) {
        if (done && monotonicUs() > deadline_us) done = false;
        // Past the deadline the worker may still be writing into the
        // requester's buffer: wait for it to finish before the buffer can go
        // (it always finishes).
        timespec ts{0, done ? 200000 : 1000000};
        nanosleep(&ts, nullptr);
    }
    mb.state.store(SessionMailbox::kIdle, std::memory_order_relaxed);
    return done;
}

bool Dataplane::Impl::request(bool clear, const SessionFilter& filter, std::optional<uint64_t> id,
                              size_t max, uint32_t timeout_ms, std::vector<SessionSnapshot>* out,
                              uint64_t* matched) const {
    std::lock_guard lock(mailbox_mu);
    if (out) out->assign(max, SessionSnapshot());
    size_t used = 0;
    *matched = 0;
    const uint64_t deadline = monotonicUs() + uint64_t(timeout_ms) * 1000;
    for (auto& wp : workers) {
        Worker& w = *wp;
        const uint32_t cap = w.table->capacity();
        if (id && (*id / cap != w.index)) continue;
        SessionMailbox& mb = w.mailbox;
        mb.kind = clear ? SessionMailbox::Kind::clear : SessionMailbox::Kind::show;
        mb.filter = filter;
        mb.index = id ? std::optional<uint32_t>(uint32_t(*id % cap)) : std::nullopt;
        mb.out = out ? out->data() + used : nullptr;
        mb.cap = out ? max - used : 0;
        if (!askWorker(w, deadline)) return false;
        used += mb.n;
        *matched += mb.matched;
    }
    if (out) out->resize(used);
    return true;
}

bool Dataplane::applications(uint32_t timeout_ms, std::vector<AppUsage>* out) const {
    std::lock_guard lock(impl_->mailbox_mu);
    out->clear();
    std::vector<AppUsage> part(AppUsageTally::kMaxTop);
    const uint64_t deadline = monotonicUs() + uint64_t(timeout_ms) * 1000;
    for (auto& wp : impl_->workers) {
        SessionMailbox& mb = wp->mailbox;
        mb.kind = SessionMailbox::Kind::applications;
        mb.apps = part.data();
        mb.cap = part.size();
        if (!impl_->askWorker(*wp, deadline)) return false;
        for (size_t i = 0; i < mb.n; ++i) {
            const AppUsage& u = part[i];
            auto same = [&](const AppUsage& o) {
                return o.proto == u.proto && o.name.view() == u.name.view();
            };
            auto it = std::find_if(out->begin(), out->end(), same);
            if (it == out->end()) {
                out->push_back(u);
            } else {
                it->sessions += u.sessions;
                it->denied += u.denied;
            }
        }
    }
    std::stable_sort(out->begin(), out->end(),
                     [](const AppUsage& a, const AppUsage& b) { return a.sessions > b.sessions; });
    return true;
}

bool Dataplane::sessions(const SessionFilter& filter, std::optional<uint64_t> id, size_t max,
                         uint32_t timeout_ms, std::vector<SessionSnapshot>* out,
                         bool* truncated) const {
    uint64_t matched = 0;
    const bool ok = impl_->request(false, filter, id, max, timeout_ms, out, &matched);
    *truncated = matched > out->size();
    return ok;
}

bool Dataplane::clearSessions(const SessionFilter& filter, std::optional<uint64_t> id,
                              uint32_t timeout_ms, uint64_t* cleared) {
    return impl_->request(true, filter, id, 0, timeout_ms, nullptr, cleared);
}

std::shared_ptr<const Policy> Dataplane::policy() const {
    std::lock_guard lock(impl_->policy_mu);
    return impl_->policy;
}

bool Dataplane::setPolicy(std::shared_ptr<const Policy> policy, bool end_denied,
                          uint32_t timeout_ms) {
    Impl& d = *impl_;
    std::lock_guard lock(d.policy_mu);
    const uint64_t deadline = monotonicUs() + uint64_t(timeout_ms) * 1000;
    auto waitDone = [&](PolicyMailbox& mb) {
        while (mb.state.load(std::memory_order_acquire) == PolicyMailbox::kRequested) {
            if (monotonicUs() > deadline) return false;
            timespec ts{0, 200000};
            nanosleep(&ts, nullptr);
        }
        return true;
    };
    // An earlier reload a worker has not taken yet (it timed out) goes first.
    for (auto& w : d.workers) {
        if (!waitDone(w->policy_box)) return false;
    }
    for (auto& w : d.workers) {
        PolicyMailbox& mb = w->policy_box;
        mb.policy = policy;
        mb.end_denied = end_denied;
        mb.state.store(PolicyMailbox::kRequested, std::memory_order_release);
    }
    // From here on the new policy is the one reported, whether or not every
    // worker switched in time (those that did not, switch on their next loop).
    // The old one is freed here, after the workers let it go, not by them.
    const std::shared_ptr<const Policy> old = std::move(d.policy);
    d.policy = policy;
    bool all = true;
    for (auto& w : d.workers) all &= waitDone(w->policy_box);
    if (!all) return false;
    for (auto& w : d.workers) {
        w->policy_box.policy.reset();
        w->policy_box.state.store(PolicyMailbox::kIdle, std::memory_order_relaxed);
    }
    return true;
}

namespace {

// Ports that sit on a kernel interface (net_af_packet, net_af_xdp: the
// `iface=` argument) report the link as always up; the interface's carrier
// is the truth. Returns -1 when the device names no kernel interface.
int kernelCarrier(const std::string& device) {
    const std::string name = deviceArgValue(device, "iface");
    if (name.empty() || name.size() >= IFNAMSIZ) return -1;
    ifreq ifr{};
    if (interfaceIoctl(name, SIOCGIFFLAGS, &ifr) != 0) return 0;  // the interface is gone
    return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING) ? 1 : 0;
}

PortStatus portStatus(const std::string& name, const std::string& device, uint16_t id) {
    PortStatus ps;
    ps.name = name;
    ps.device = device;
    ps.port_id = id;
    rte_eth_link link;
    std::memset(&link, 0, sizeof link);
    if (rte_eth_link_get_nowait(id, &link) == 0) {
        ps.link_up = link.link_status == RTE_ETH_LINK_UP;
        ps.speed_mbps = link.link_speed;
    }
    if (ps.link_up && kernelCarrier(device) == 0) ps.link_up = false;
    // A port on a kernel interface carries what the interface's MTU allows.
    uint16_t mtu = kernelMtu(device);
    if (mtu != 0 || rte_eth_dev_get_mtu(id, &mtu) == 0) ps.mtu = mtu;
    rte_eth_stats s;
    if (rte_eth_stats_get(id, &s) == 0) {
        ps.rx_packets = s.ipackets, ps.tx_packets = s.opackets;
        ps.rx_bytes = s.ibytes, ps.tx_bytes = s.obytes;
        ps.rx_missed = s.imissed, ps.rx_errors = s.ierrors, ps.tx_errors = s.oerrors;
        ps.rx_no_mbuf = s.rx_nombuf;
    }
    return ps;
}

template <typename Get>
std::vector<CounterValue> sumCounters(const CounterInfo* info, size_t n, Get get) {
    std::vector<CounterValue> out;
    for (size_t c = 0; c < n; ++c) {
        out.push_back({std::string(info[c].name), std::string(info[c].help), get(c)});
    }
    return out;
}

}  // namespace

bool Dataplane::dataLinksUp(std::string* down) const {
    const Impl& d = *impl_;
    bool up = true;
    for (size_t i = 0; i < d.port_ids.size(); ++i) {
        rte_eth_link link;
        std::memset(&link, 0, sizeof link);
        const bool port_up = rte_eth_link_get_nowait(d.port_ids[i], &link) == 0 &&
                             link.link_status == RTE_ETH_LINK_UP &&
                             kernelCarrier(d.spec.ports[i].device) != 0;
        if (!port_up) {
            if (down) *down += (up ? "" : ", ") + d.spec.ports[i].name;
            up = false;
        }
    }
    return up;
}

DataplaneStatus Dataplane::status() const {
    const Impl& d = *impl_;
    DataplaneStatus st;
    st.workers = unsigned(d.workers.size());
    for (size_t i = 0; i < d.port_ids.size(); ++i) {
        st.ports.push_back(portStatus(d.spec.ports[i].name, d.spec.ports[i].device, d.port_ids[i]));
        st.ports.back().steering = d.worker_map.steering();
    }
    if (d.spec.peer_link.enabled) {
        // Forwarded frames carry their flow inside the peer-link
        // encapsulation, which no device hashes: always steered in software.
        st.ports.push_back(
            portStatus(d.spec.peer_link.name, d.spec.peer_link.device, d.peer_port_id));
        st.ports.back().peer_link = true;
    }
    auto sum = [&](auto member, size_t c) {
        uint64_t v = 0;
        for (auto& w : d.workers) v += member(*w).v[c].load(std::memory_order_relaxed);
        return v;
    };
    st.pipeline = sumCounters(kPipelineCounterInfo, kPipelineCounterCount, [&](size_t c) {
        return sum(
            [](const Worker& w) -> const PipelineCounters& { return w.pipeline->counters(); }, c);
    });
    st.parse = sumCounters(kParseResultInfo, kParseResultCount, [&](size_t c) {
        return sum(
            [](const Worker& w) -> const ParseCounters& { return w.pipeline->parseCounters(); }, c);
    });
    st.io = sumCounters(kWorkerCounterInfo, kWorkerCounterCount, [&](size_t c) {
        return sum([](const Worker& w) -> const WorkerCounters& { return w.counters; }, c);
    });
    st.peer_link = sumCounters(kPeerLinkResultInfo, kPeerLinkResultCount, [&](size_t c) {
        return sum([](const Worker& w) -> const PeerLinkCounters& { return w.peer_link_counters; },
                   c);
    });
    if (d.spec.pipeline.health_check.enabled) {
        auto hc = sumCounters(kHealthCheckCounterInfo, kHealthCheckCounterCount, [&](size_t c) {
            return sum(
                [](const Worker& w) -> const HealthCheckCounters& {
                    return w.health_check_counters;
                },
                c);
        });
        st.io.insert(st.io.end(), hc.begin(), hc.end());
    }
    if (d.spec.peer_link.udp) {
        auto arp = sumCounters(kPeerLinkArpCounterInfo, kPeerLinkArpCounterCount, [&](size_t c) {
            return sum(
                [](const Worker& w) -> const PeerLinkArpCounters& {
                    return w.peer_link_arp_counters;
                },
                c);
        });
        st.peer_link.insert(st.peer_link.end(), arp.begin(), arp.end());
    }
    if (d.owner_cache) {
        st.owner_cache_capacity = d.owner_cache->capacity();
        st.owner_cache_entries = d.owner_cache->occupied(monotonicMs());
        uint64_t hits = 0, misses = 0;
        for (auto& w : d.workers) {
            hits += w->pipeline->counters().get(PipelineCounter::owner_cache_hits);
            misses += w->pipeline->counters().get(PipelineCounter::owner_cache_misses);
        }
        st.owner_cache_hit_pct = hits + misses ? 100.0 * double(hits) / double(hits + misses) : 0;
    }
    if (!d.workers.empty()) {
        const Pipeline& first = *d.workers.front()->pipeline;
        for (size_t i = 0; i < first.natPoolCount(); ++i) {
            NatPoolUsage u = first.natPoolUsage(i);
            for (size_t k = 1; k < d.workers.size(); ++k) {
                const NatPoolUsage o = d.workers[k]->pipeline->natPoolUsage(i);
                u.blocks_here += o.blocks_here;
                u.ports_here += o.ports_here;
                u.ports_in_use += o.ports_in_use;
                u.exhausted += o.exhausted;
            }
            st.nat_pools.push_back(u);
        }
    }
    for (auto& w : d.workers) {
        st.session_capacity += w->table->capacity();
        st.sessions += w->table->size();
        st.sessions_by_worker.push_back(w->table->size());
        for (NodeId n = 0; n <= kMaxNodes; ++n) st.sessions_by_owner[n] += w->table->ownerCount(n);
    }
    return st;
}

}  // namespace tandem
