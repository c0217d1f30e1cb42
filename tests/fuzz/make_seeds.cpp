// Writes the seed corpora of the binary fuzz targets from this build's own
// encoders and frame builders, so that every target starts from valid input
// of each kind it reads (text targets' seeds are checked in as written).
// Usage: make_fuzz_seeds CORPUS_DIR   (scripts/fuzz --seeds)
#include <sodium.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cluster/cluster_view.h"
#include "fixtures/frame_builder.h"
#include "fixtures/sessions.h"
#include "proto/arp.h"
#include "proto/control_command.h"
#include "proto/ha_messages.h"
#include "proto/ha_session_record.h"
#include "proto/peer_link.h"
#include "proto/peer_link_auth.h"
#include "proto/peer_link_udp.h"

using namespace tandem;
using tandem::test::FrameBuilder;
using Bytes = std::vector<uint8_t>;

namespace {

std::filesystem::path g_root;

void write(const std::string& target, const std::string& name, const Bytes& b) {
    const auto dir = g_root / target;
    std::filesystem::create_directories(dir);
    std::ofstream(dir / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}
void write(const std::string& target, const std::string& name, const std::string& s) {
    write(target, name, Bytes(s.begin(), s.end()));
}

// FuzzInput::chunk(): a 16-bit little-endian length, then the bytes.
void putChunk(Bytes& out, const Bytes& b) {
    out.push_back(uint8_t(b.size()));
    out.push_back(uint8_t(b.size() >> 8));
    out.insert(out.end(), b.begin(), b.end());
}

Bytes cat(uint8_t first, const Bytes& b) {
    Bytes out{first};
    out.insert(out.end(), b.begin(), b.end());
    return out;
}

std::vector<std::pair<std::string, Bytes>> frames() {
    return {
        {"tcp_syn", FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpSyn).build()},
        {"tcp_synack",
         FrameBuilder::tcp("192.0.2.80", 80, "10.0.1.10", 40000, kTcpSyn | kTcpAck).build()},
        {"tcp_data", FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpAck | kTcpPsh)
                         .payload(100)
                         .build()},
        {"tcp_wscale",
         FrameBuilder::tcp("10.0.1.10", 40001, "192.0.2.80", 443, kTcpSyn).wscale(7).build()},
        {"udp_dns", FrameBuilder::udp("10.0.1.10", 5353, "192.0.2.53", 53).payload(30).build()},
        {"icmp_echo", FrameBuilder::echo("10.0.1.10", "192.0.2.1", 7, 1).build()},
        {"tcp_vlan",
         FrameBuilder::tcp("10.0.1.10", 40002, "192.0.2.80", 80, kTcpSyn).vlan(100).build()},
        {"tcp_v6", FrameBuilder::tcp("2001:db8::10", 40003, "2001:db8:1::80", 80, kTcpSyn).build()},
        {"udp_frag_first", FrameBuilder::udp("10.0.1.10", 5000, "192.0.2.53", 53)
                               .payload(1400)
                               .ipId(9)
                               .fragment(0, true)
                               .build()},
        {"udp_frag_next", FrameBuilder::udp("10.0.1.10", 5000, "192.0.2.53", 53)
                              .payload(600)
                              .ipId(9)
                              .fragment(1408, false)
                              .build()},
    };
}

void packetParserSeeds() {
    for (const auto& [name, f] : frames()) {
        write("packet_parser_fuzz", name, cat(0, f));
        write("packet_parser_fuzz", name + "_ip", cat(8, Bytes(f.begin() + 14, f.end())));
    }
    // GENEVE (UDP 6081) carrying a SYN, with the three GWLB options.
    Bytes inner = FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpSyn).build();
    Bytes geneve = {0x09, 0x00, 0x08, 0x00, 0, 0, 1, 0};  // 9 words of options, IPv4
    const uint8_t opts[] = {0x01, 0x08, 1, 2, 1, 2, 3, 4, 5,    6,    7, 8, 0x01, 0x08, 2,    2,
                            8,    7,    6, 5, 4, 3, 2, 1, 0x01, 0x08, 3, 1, 0xca, 0xfe, 0xf0, 0x0d};
    geneve.insert(geneve.end(), std::begin(opts), std::end(opts));
    geneve.insert(geneve.end(), inner.begin() + 14, inner.end());
    Bytes outer =
        FrameBuilder::udp("10.9.0.1", 60000, "10.9.0.2", 6081).payload(geneve.size()).build();
    std::copy(geneve.begin(), geneve.end(), outer.end() - long(geneve.size()));
    write("packet_parser_fuzz", "geneve_gwlb", cat(3, outer));
}

Bytes rawFrame(PeerLinkType type, const Bytes& payload, NodeId from, bool seal, uint64_t seq,
               const PeerLinkCipher* cipher) {
    PeerLinkHeader h;
    h.type = type;
    h.cluster_id = 7;
    h.from = from;
    h.to = 1;
    h.payload_len = uint16_t(payload.size());
    h.origin = from;
    h.flags = seal ? kPeerLinkFlagAuthenticated : 0;
    Bytes f(kPeerLinkOverhead + payload.size() + (seal ? kPeerLinkAuthTrailerSize : 0));
    f[12] = uint8_t(kPeerLinkEtherType >> 8);
    f[13] = uint8_t(kPeerLinkEtherType);
    encodePeerLinkHeader(h, f.data() + 14);
    std::copy(payload.begin(), payload.end(), f.begin() + kPeerLinkOverhead);
    if (seal) sealPeerLinkFrame(*cipher, f.data() + 14, payload.size(), 0x11223344, seq);
    return f;
}

Bytes udpFrame(const Bytes& raw) {
    PeerLinkUdpRoute route;
    route.src = {0x0a000002, 5405};
    route.dst = {0x0a000001, 5405};
    PeerLinkHeader h;
    uint16_t known = nodeBit(2);
    decodePeerLinkHeader(raw.data() + 14, raw.size() - 14, 7, 1, known, &h);
    Bytes f(kPeerLinkUdpOverhead + (raw.size() - kPeerLinkOverhead));
    encodePeerLinkUdpFrame(route, h, f.data());
    std::copy(raw.begin() + kPeerLinkOverhead, raw.end(), f.begin() + kPeerLinkUdpOverhead);
    return f;
}

void peerLinkSeeds() {
    if (sodium_init() < 0 || !peerLinkAuthAvailable()) return;
    PeerLinkKey key;
    key.fill(2);  // peer_link_fuzz.cpp's key for node 2
    PeerLinkCipher cipher;
    cipher.init(key);
    const Bytes data = FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpSyn).build();
    Bytes hb(kPeerLinkHeartbeatSize);
    encodePeerLinkHeartbeat({42, 4}, hb.data());
    Bytes hint(kPeerLinkOwnerHintSize);
    encodePeerLinkOwnerHint({0x1234567890abcdefull, 3}, hint.data());
    for (const bool seal : {false, true}) {
        for (const bool udp : {false, true}) {
            Bytes input{uint8_t((udp ? 1 : 0) | (seal ? 2 : 0) | 4)};
            uint64_t seq = 1000;
            for (const auto& [type, payload] :
                 {std::pair{PeerLinkType::forwarded_frame, data},
                  std::pair{PeerLinkType::heartbeat, hb}, std::pair{PeerLinkType::owner_hint, hint},
                  std::pair{PeerLinkType::forwarded_frame, data}}) {
                const Bytes raw = rawFrame(type, payload, 2, seal, seq++, &cipher);
                putChunk(input, udp ? udpFrame(raw) : raw);
            }
            if (udp) {
                const ArpMessage req = arpRequest({2, 0, 0, 0, 0, 1}, 0x0a000001, 0x0a000002);
                Bytes arp(kArpFrameSize);
                encodeArp(arpReply(req, {2, 0, 0, 0, 0, 2}, 0x0a000002), {2, 0, 0, 0, 0, 1},
                          arp.data());
                putChunk(input, arp);
            }
            write("peer_link_fuzz", std::string(udp ? "udp" : "raw") + (seal ? "_sealed" : ""),
                  input);
        }
    }
}

void haSeeds() {
    HaEnvelope env;
    env.cluster_id = 7;
    env.from = 2;
    env.to = 1;
    HaHello hello;
    hello.node = 2;
    hello.name = "fw-b";
    hello.software_version = "0.1.0";
    hello.members_mask = 0x7;
    HaHeartbeat hb;
    hb.state = NodeState::active;
    hb.seq = 9;
    hb.members = {{1, NodeState::active, true, 5}, {3, NodeState::tentative, true, 0}};
    HaSessionBatch batch;
    batch.stream = 77;
    batch.seq = 1;
    for (uint32_t i = 0; i < 4; ++i) {
        Session s = test::makeSession(i, 2, 1, 0);
        s.win[0].wscale = 7;  // a window field that is not zero
        batch.records.push_back(
            makeHaRecord(i == 3 ? HaRecordOp::erase : HaRecordOp::upsert, s, 1000));
    }
    HaSessionBatch bulk = batch;
    bulk.bulk = true;
    bulk.bulk_id = 4;
    const std::vector<std::pair<std::string, HaBody>> bodies = {
        {"hello", hello},
        {"heartbeat", hb},
        {"batch", batch},
        {"bulk_batch", bulk},
        {"ack", HaAck{77, 1}},
        {"nack", HaNack{77, 1}},
        {"resync", HaResyncRequest{HaResyncReason::gap}},
        {"bulk_begin", HaBulkBegin{77, 2, 4, 3}},
        {"bulk_end", HaBulkEnd{77, 3, 4, 3}},
        {"ownership", HaOwnership{HaOwnershipKind::giving_back, 2, 1}},
    };
    for (const auto& [name, body] : bodies)
        write("ha_messages_fuzz", name, encodeHaMessage(env, body));
}

void pipelineSeeds() {
    const auto fs = frames();
    auto frameOp = [](Bytes& in, uint8_t op, const Bytes& f) {
        in.push_back(op);
        in.push_back(op == 3 ? 0 : 1);  // port: inside (1) from a data port
        if (op == 3) {
            in.push_back(0);  // sender 2
            in.push_back(0);  // reason
        }
        putChunk(in, f);
    };
    // A TCP handshake and data through this node, aged.
    Bytes flow{0};
    const Bytes syn = FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpSyn).build();
    frameOp(flow, 0, syn);
    frameOp(flow, 0,
            FrameBuilder::tcp("192.0.2.80", 80, "10.0.1.10", 40000, kTcpSyn | kTcpAck).build());
    frameOp(flow, 0, FrameBuilder::tcp("10.0.1.10", 40000, "192.0.2.80", 80, kTcpAck).build());
    flow.insert(flow.end(), {7, 0x10, 0x27, 6, 0xff, 0xff});  // time passes, then aging
    write("pipeline_fuzz", "tcp_flow", flow);
    // Every frame kind from a port and from a peer, then a view change.
    Bytes mixed{1};
    for (const auto& [name, f] : fs) frameOp(mixed, 0, f);
    for (const auto& [name, f] : fs) frameOp(mixed, 3, f);
    mixed.insert(mixed.end(), {5, 0x0b, 0x00, 0x0f, 0x00, 4, 0});
    write("pipeline_fuzz", "mixed_frames", mixed);
    // A replica from node 2, then its owner leaves, then the agent's scans.
    Bytes replica{1};
    replica.push_back(4);  // command
    replica.push_back(0);  // upsert
    putChunk(replica, syn);
    // established, owner 2, backup 1 (this node), origin 2, version 3
    replica.insert(replica.end(), {3, 1, 0, 1, 3, 0x10, 0x27, 0});
    for (int w = 0; w < 2; ++w)
        replica.insert(replica.end(), {0, 0, 0, 1, 0, 0, 0, 2, 0, 0x10, 7, 0});
    replica.push_back(0);                               // upsert, not erase
    replica.insert(replica.end(), {4, 3, 0});           // member_left: node 2
    replica.insert(replica.end(), {4, 4, 4, 5, 0, 1});  // rebalance; bulk scan
    replica.insert(replica.end(), {6, 0xff, 0xff});
    frameOp(replica, 0, FrameBuilder::tcp("192.0.2.80", 80, "10.0.1.10", 40000, kTcpAck).build());
    write("pipeline_fuzz", "replica_then_takeover", replica);
}

void controlSeeds() {
    for (const control::CommandDef& def : control::commandSet()) {
        std::string args;
        for (const control::CommandArg& a : def.args) {
            const std::string key(a.key);
            const std::string value = key == "id"                             ? "3"
                                      : key == "src"                          ? "\"10.0.1.10\""
                                      : key == "dst"                          ? "\"192.0.2.80\""
                                      : key == "proto"                        ? "\"tcp\""
                                      : key.find("port") != std::string::npos ? "80"
                                                                              : "\"all\"";
            args += (args.empty() ? "" : ",") + ("\"" + key + "\":" + value);
        }
        std::string name(def.words);
        for (char& c : name) c = c == ' ' ? '_' : c;
        write("control_request_fuzz", name,
              "{\"v\":1,\"command\":\"" + std::string(def.words) + "\",\"args\":{" + args + "}}");
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_fuzz_seeds CORPUS_DIR\n");
        return 2;
    }
    g_root = argv[1];
    packetParserSeeds();
    peerLinkSeeds();
    haSeeds();
    pipelineSeeds();
    controlSeeds();
    return 0;
}
