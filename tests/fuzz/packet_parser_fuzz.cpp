// The packet parser on any bytes, with each tunnel option: it must never read
// outside the frame, and what it reports for a frame it accepts must lie
// inside the frame.
#include "core/flow_key.h"
#include "fuzz_input.h"
#include "packet/packet_parser.h"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    const uint8_t mode = in.take<uint8_t>();
    ParseOptions opts;
    if (mode & 1) opts.geneve_port = 6081;
    if (mode & 2) opts.require_gwlb_options = true;
    if (mode & 4) opts.vxlan_port = 4789;
    const std::string_view frame = in.rest();
    const auto* p = reinterpret_cast<const uint8_t*>(frame.data());

    PacketInfo info;
    const ParseResult r = (mode & 8) ? parseIpPacket(p, frame.size(), opts, info)
                                     : parseFrame(p, frame.size(), opts, info);
    FUZZ_CHECK(size_t(r) < kParseResultCount);
    if (r != ParseResult::ok) return 0;

    // Offsets are from the start of the buffer (inside a tunnel: of the
    // inner packet's headers).
    FUZZ_CHECK(info.family == AddrFamily::v4 || info.family == AddrFamily::v6);
    FUZZ_CHECK(size_t(info.l3_offset) + info.l3_len <= frame.size());
    FUZZ_CHECK(size_t(info.l3_offset) + info.ip_total_len <= frame.size());
    if (info.has_l4) FUZZ_CHECK(info.l4_offset >= info.l3_offset + info.l3_len);
    if (info.has_l4) FUZZ_CHECK(info.l4_offset <= frame.size());
    if (info.tunnel.kind != TunnelKind::none) {
        FUZZ_CHECK(info.tunnel.inner_offset <= frame.size());
        FUZZ_CHECK(info.l3_offset >= info.tunnel.inner_offset);
    }
    // The key of what it accepted is the same from both directions.
    const FlowKey k = makeFlowKey(info.tuple(0));
    FlowTuple reverse = info.tuple(0);
    std::swap(reverse.src, reverse.dst);
    std::swap(reverse.sport, reverse.dport);
    FUZZ_CHECK(makeFlowKey(reverse) == k);
    FUZZ_CHECK(flowHash(makeFlowKey(reverse)) == flowHash(k));
    return 0;
}
