#include "ha/zmq_transport.h"

#include <zmq.hpp>

#include <chrono>
#include <cstring>
#include <thread>

#include "ha/curve_keypair.h"
#include "proto/ha_messages.h"

namespace tandem {
namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "tandem";
constexpr int kRouterHwm = 100000;
// CURVE carries every frame in a MESSAGE command: the command name
// ("\x07MESSAGE"), an 8-byte nonce, the 16-byte MAC and a flags byte
// around the payload (CurveZMQ, ZeroMQ RFC 26). ZMQ_MAXMSGSIZE applies to
// the frame as it arrives, before decryption.
constexpr int64_t kCurveFrameOverhead = 8 + 8 + 16 + 1;
// A connection that has not completed its ZMTP greeting and (CURVE)
// handshake by then is closed: before it does, nobody is authenticated.
constexpr int kHandshakeTimeoutMs = 2000;

// The longest frame a connection may announce: the largest legal HA
// message (proto/ha_messages.h). A longer one closes the connection as soon
// as its header arrives, so nothing is buffered for it.
int64_t maxFrameBytes(bool curve) {
    return int64_t(kMaxHaMessageBytes) + (curve ? kCurveFrameOverhead : 0);
}

std::string routingId(NodeId self, HaChannel ch) {
    return std::to_string(self) + (ch == HaChannel::control ? "c" : "s");
}

// "<id>c" / "<id>s" → node and channel; false for anything else.
bool parseRoutingId(const void* data, size_t len, NodeId* node, HaChannel* ch) {
    const char* p = static_cast<const char*>(data);
    if (len < 2 || len > 3) return false;
    unsigned id = 0;
    for (size_t i = 0; i + 1 < len; ++i) {
        if (p[i] < '0' || p[i] > '9') return false;
        id = id * 10 + unsigned(p[i] - '0');
    }
    if (!isValidNodeId(id)) return false;
    const char c = p[len - 1];
    if (c != 'c' && c != 's') return false;
    *node = NodeId(id);
    *ch = c == 'c' ? HaChannel::control : HaChannel::sync;
    return true;
}

bool decodeZ85Key(const std::string& text, std::string* out) {
    uint8_t bin[32];
    if (text.size() != 40 || !zmq_z85_decode(bin, text.c_str())) return false;
    out->assign(reinterpret_cast<const char*>(bin), sizeof bin);
    return true;
}

}  // namespace

ZmqTransportConfig ZmqTransportConfig::fromConfig(const Config& config) {
    ZmqTransportConfig c;
    c.self = config.node.id;
    c.listen = config.ha.listen;
    c.secret_key = config.ha.secret_key;
    c.public_key = config.ha.public_key;
    for (const PeerConfig& p : config.peers) c.peers.push_back({p.id, p.ha_address, p.public_key});
    return c;
}

struct ZmqTransport::Impl {
    struct Outgoing {
        NodeId peer = kNoNode;
        HaChannel channel = HaChannel::control;
        zmq::socket_t socket;
        zmq::socket_t monitor;  // PAIR receiving the DEALER's socket events
    };

    zmq::context_t ctx{1};
    zmq::socket_t router{ctx, zmq::socket_type::router};
    std::unique_ptr<zmq::socket_t> zap;         // REP, CURVE only
    std::map<std::string, NodeId> key_to_node;  // binary public key → node
    std::vector<Outgoing> outgoing;             // 2 per peer: control, sync
    std::deque<TransportEvent> pending;         // connection events not yet polled
    std::vector<zmq_pollitem_t> items;          // router, zap?, monitors

    Outgoing* find(NodeId peer, HaChannel ch) {
        for (Outgoing& o : outgoing)
            if (o.peer == peer && o.channel == ch) return &o;
        return nullptr;
    }
};

ZmqTransport::ZmqTransport(std::unique_ptr<Impl> impl, bool curve)
    : impl_(std::move(impl)), curve_(curve) {}

ZmqTransport::~ZmqTransport() = default;

std::unique_ptr<ZmqTransport> ZmqTransport::create(const ZmqTransportConfig& config,
                                                   std::string* error) {
    const bool curve = !config.secret_key.empty();
    std::string public_key = config.public_key;
    if (curve) {
        if (!curveAvailable()) {
            *error = "CURVE keys are configured but this libzmq has no CURVE support";
            return nullptr;
        }
        if (public_key.empty()) {
            auto derived = curvePublicKeyOf(config.secret_key);
            if (!derived) {
                *error = "[ha] secret key is not a valid Z85 CURVE key";
                return nullptr;
            }
            public_key = *derived;
        }
    }
    auto impl = std::make_unique<Impl>();
    try {
        if (curve) {
            for (const auto& p : config.peers) {
                std::string bin;
                if (!decodeZ85Key(p.public_key, &bin)) {
                    *error = "[peer." + std::to_string(p.id) +
                             "] needs a valid public-key when [ha] has a secret key";
                    return nullptr;
                }
                impl->key_to_node[bin] = p.id;
            }
            // The handler must exist before the ROUTER accepts a connection.
            impl->zap = std::make_unique<zmq::socket_t>(impl->ctx, zmq::socket_type::rep);
            impl->zap->set(zmq::sockopt::linger, 0);
            impl->zap->bind(kZapEndpoint);
            impl->router.set(zmq::sockopt::curve_server, true);
            impl->router.set(zmq::sockopt::curve_secretkey, config.secret_key);
            impl->router.set(zmq::sockopt::zap_domain, kZapDomain);
        }
        impl->router.set(zmq::sockopt::linger, 0);
        impl->router.set(zmq::sockopt::router_handover, true);
        impl->router.set(zmq::sockopt::rcvhwm, kRouterHwm);
        impl->router.set(zmq::sockopt::maxmsgsize, maxFrameBytes(curve));
        impl->router.set(zmq::sockopt::handshake_ivl, kHandshakeTimeoutMs);
        impl->router.bind(config.listen);

        for (const auto& p : config.peers) {
            for (HaChannel ch : {HaChannel::control, HaChannel::sync}) {
                Impl::Outgoing o;
                o.peer = p.id;
                o.channel = ch;
                o.socket = zmq::socket_t(impl->ctx, zmq::socket_type::dealer);
                o.socket.set(zmq::sockopt::linger, 0);
                o.socket.set(zmq::sockopt::immediate, true);
                o.socket.set(zmq::sockopt::routing_id, routingId(config.self, ch));
                o.socket.set(zmq::sockopt::sndhwm,
                             ch == HaChannel::control ? config.control_hwm : config.sync_hwm);
                o.socket.set(zmq::sockopt::reconnect_ivl, config.reconnect_ms);
                o.socket.set(zmq::sockopt::reconnect_ivl_max, 1000);
                o.socket.set(zmq::sockopt::maxmsgsize, maxFrameBytes(curve));
                o.socket.set(zmq::sockopt::handshake_ivl, kHandshakeTimeoutMs);
                if (curve) {
                    o.socket.set(zmq::sockopt::curve_serverkey, p.public_key);
                    o.socket.set(zmq::sockopt::curve_publickey, public_key);
                    o.socket.set(zmq::sockopt::curve_secretkey, config.secret_key);
                }
                const std::string mon =
                    "inproc://tandem-monitor-" + std::to_string(p.id) + "-" + haChannelName(ch);
                if (zmq_socket_monitor(o.socket.handle(), mon.c_str(),
                                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |
                                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                           ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
                    throw zmq::error_t();
                o.monitor = zmq::socket_t(impl->ctx, zmq::socket_type::pair);
                o.monitor.set(zmq::sockopt::linger, 0);
                o.monitor.connect(mon);
                o.socket.connect(p.address);
                impl->outgoing.push_back(std::move(o));
            }
        }
    } catch (const zmq::error_t& e) {
        *error = std::string("HA transport: ") + e.what() + " (listen " + config.listen + ")";
        return nullptr;
    }
    impl->items.push_back({impl->router.handle(), 0, ZMQ_POLLIN, 0});
    if (impl->zap) impl->items.push_back({impl->zap->handle(), 0, ZMQ_POLLIN, 0});
    for (auto& o : impl->outgoing) impl->items.push_back({o.monitor.handle(), 0, ZMQ_POLLIN, 0});
    return std::unique_ptr<ZmqTransport>(new ZmqTransport(std::move(impl), curve));
}

bool ZmqTransport::send(NodeId peer, HaChannel channel, std::string_view bytes) {
    Impl::Outgoing* o = impl_->find(peer, channel);
    if (!o) {
        counters_.inc(ZmqTransportCounter::tx_errors);
        return false;
    }
    try {
        if (!o->socket.send(zmq::const_buffer(bytes.data(), bytes.size()),
                            zmq::send_flags::dontwait)) {
            counters_.inc(ZmqTransportCounter::tx_would_block);
            return false;
        }
    } catch (const zmq::error_t&) {
        counters_.inc(ZmqTransportCounter::tx_errors);
        return false;
    }
    counters_.inc(ZmqTransportCounter::tx_messages);
    return true;
}

void ZmqTransport::serveZap() {
    if (!impl_->zap) return;
    for (;;) {
        std::vector<zmq::message_t> req;
        try {
            zmq::message_t part;
            if (!impl_->zap->recv(part, zmq::recv_flags::dontwait)) return;
            req.push_back(std::move(part));
            while (req.back().more()) {
                zmq::message_t next;
                if (!impl_->zap->recv(next)) break;
                req.push_back(std::move(next));
            }
        } catch (const zmq::error_t&) {
            return;
        }
        // ZAP request (RFC 27): version, request id, domain, address,
        // identity, mechanism, credentials...
        std::string status = "400", text = "unknown key", user;
        const bool well_formed = req.size() >= 7 && req[0].to_string_view() == "1.0" &&
                                 req[5].to_string_view() == "CURVE" && req[6].size() == 32;
        if (!well_formed) {
            text = "CURVE required";
            counters_.inc(ZmqTransportCounter::zap_rejected_bad_request);
        } else {
            auto it = impl_->key_to_node.find(req[6].to_string());
            if (it == impl_->key_to_node.end()) {
                counters_.inc(ZmqTransportCounter::zap_rejected_unknown_key);
            } else {
                status = "200", text = "OK", user = std::to_string(it->second);
                counters_.inc(ZmqTransportCounter::zap_accepted);
            }
        }
        const std::string request_id = req.size() > 1 ? req[1].to_string() : std::string();
        try {
            auto& z = *impl_->zap;
            z.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
            z.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
            z.send(zmq::buffer(status), zmq::send_flags::sndmore);
            z.send(zmq::buffer(text), zmq::send_flags::sndmore);
            z.send(zmq::buffer(user), zmq::send_flags::sndmore);
            z.send(zmq::const_buffer(nullptr, 0), zmq::send_flags::none);
        } catch (const zmq::error_t&) {
            return;
        }
    }
}

void ZmqTransport::drainMonitors() {
    for (Impl::Outgoing& o : impl_->outgoing) {
        for (;;) {
            zmq::message_t head, addr;
            try {
                if (!o.monitor.recv(head, zmq::recv_flags::dontwait)) break;
                if (head.more()) (void)o.monitor.recv(addr);
            } catch (const zmq::error_t&) {
                break;
            }
            if (head.size() < 6) continue;
            uint16_t event = 0;
            std::memcpy(&event, head.data(), 2);
            TransportEvent ev;
            ev.peer = o.peer;
            ev.channel = o.channel;
            switch (event) {
                case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                    counters_.inc(ZmqTransportCounter::handshakes_ok);
                    ev.kind = TransportEventKind::connected;
                    break;
                case ZMQ_EVENT_DISCONNECTED:
                    counters_.inc(ZmqTransportCounter::disconnects);
                    ev.kind = TransportEventKind::disconnected;
                    break;
                case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                    counters_.inc(ZmqTransportCounter::handshakes_failed_auth);
                    ev.kind = TransportEventKind::auth_failed;
                    break;
                default:
                    counters_.inc(ZmqTransportCounter::handshakes_failed);
                    ev.kind = TransportEventKind::disconnected;
                    break;
            }
            impl_->pending.push_back(std::move(ev));
        }
    }
}

bool ZmqTransport::receive(TransportEvent* out) {
    for (;;) {
        zmq::message_t id, payload;
        try {
            if (!impl_->router.recv(id, zmq::recv_flags::dontwait)) return false;
            if (!id.more()) {
                counters_.inc(ZmqTransportCounter::rx_bad_frames);
                continue;
            }
            (void)impl_->router.recv(payload);
            bool extra = false;
            while (payload.more()) {  // more frames than a message has: drop them all
                zmq::message_t rest;
                (void)impl_->router.recv(rest);
                extra = true;
                if (!rest.more()) break;
            }
            if (extra) {
                counters_.inc(ZmqTransportCounter::rx_bad_frames);
                continue;
            }
        } catch (const zmq::error_t&) {
            return false;
        }
        NodeId claimed = kNoNode;
        HaChannel ch = HaChannel::control;
        if (!parseRoutingId(id.data(), id.size(), &claimed, &ch)) {
            counters_.inc(ZmqTransportCounter::rx_bad_routing_id);
            continue;
        }
        out->kind = TransportEventKind::message;
        out->peer = claimed;
        out->channel = ch;
        out->authenticated = kNoNode;
        if (curve_) {
            const char* user = zmq_msg_gets(payload.handle(), "User-Id");
            unsigned v = 0;
            for (const char* p = user; p && *p >= '0' && *p <= '9' && v <= kMaxNodes; ++p)
                v = v * 10 + unsigned(*p - '0');
            if (isValidNodeId(v)) out->authenticated = NodeId(v);
        }
        out->bytes.assign(static_cast<const char*>(payload.data()), payload.size());
        counters_.inc(ZmqTransportCounter::rx_messages);
        return true;
    }
}

bool ZmqTransport::poll(TransportEvent* out) {
    serveZap();
    drainMonitors();
    if (!impl_->pending.empty()) {
        *out = std::move(impl_->pending.front());
        impl_->pending.pop_front();
        return true;
    }
    return receive(out);
}

void ZmqTransport::wait(uint64_t timeout_us) {
    if (!impl_->pending.empty()) return;
    try {
        if (timeout_us >= 1000) {
            zmq::poll(impl_->items.data(), impl_->items.size(),
                      std::chrono::milliseconds(timeout_us / 1000));
            return;
        }
        if (zmq::poll(impl_->items.data(), impl_->items.size(), std::chrono::milliseconds(0)) > 0)
            return;
    } catch (const zmq::error_t&) {
    }
    std::this_thread::sleep_for(std::chrono::microseconds(timeout_us));
}

std::vector<CounterValue> ZmqTransport::counters() const {
    return counterValues(counters_, kZmqTransportCounterInfo);
}

}  // namespace tandem
