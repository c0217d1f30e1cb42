// What authenticating the peer link costs per frame: sealing a frame (the
// sender: salt, seq and AES-256-GCM tag) and checking one (the receiver: tag, replay window),
// for frame sizes from a bare TCP segment to a jumbo frame; in the same run,
// for reference, encoding and decoding the peer-link header alone (what every
// forwarded frame costs without authentication).
//
//   build/release/tests/bench/peer_link_bench [iterations]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "proto/peer_link.h"
#include "proto/peer_link_auth.h"

using namespace tandem;

namespace {

using Clock = std::chrono::steady_clock;

template <class F>
double nsPer(uint64_t n, F&& f) {
    const auto t0 = Clock::now();
    for (uint64_t i = 0; i < n; ++i) f(i);
    return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / double(n);
}

volatile uint64_t sink;

}  // namespace

int main(int argc, char** argv) {
    const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000000;
    if (sodium_init() < 0) return 1;
    uint8_t pub_a[32], sec_a[32], pub_b[32], sec_b[32];
    crypto_box_keypair(pub_a, sec_a);
    crypto_box_keypair(pub_b, sec_b);
    PeerLinkKey k;
    PeerLinkCipher key;
    if (!derivePeerLinkKey(sec_a, pub_b, 1, 1, 2, &k) || !key.init(k)) {
        std::fprintf(stderr, "no AES-256-GCM on this CPU\n");
        return 1;
    }
    std::printf("peer-link authentication, %llu frames per figure (ns per frame)\n",
                static_cast<unsigned long long>(n));
    std::printf("%8s %12s %12s %14s %12s\n", "frame B", "header only", "seal", "verify+window",
                "seal+verify");
    for (size_t len : {size_t(64), size_t(128), size_t(512), size_t(1514), size_t(9000)}) {
        PeerLinkHeader h;
        h.cluster_id = 1;
        h.from = 2;
        h.to = 1;
        h.payload_len = uint16_t(len);
        h.flags = kPeerLinkFlagAuthenticated;
        std::vector<uint8_t> f(kPeerLinkHeaderSize + len + kPeerLinkAuthTrailerSize, 0x5a);
        // Reference: the header every forwarded frame carries, written and checked.
        const double header = nsPer(n, [&](uint64_t i) {
            h.session_hint = uint32_t(i);
            encodePeerLinkHeader(h, f.data());
            PeerLinkHeader out;
            sink = uint64_t(decodePeerLinkHeader(f.data(), f.size(), 1, 1, 0b10, &out)) +
                   out.session_hint;
        });
        const double seal =
            nsPer(n, [&](uint64_t i) { sealPeerLinkFrame(key, f.data(), len, 7, i + 1); });
        // Frames sealed in turn, each checked once (the window moves on).
        std::vector<std::vector<uint8_t>> sealed(64, f);
        for (size_t k = 0; k < sealed.size(); ++k)
            sealPeerLinkFrame(key, sealed[k].data(), len, 7, k + 1);
        ReplayWindow window;
        uint64_t accepted = 0;
        const double verify = nsPer(n, [&](uint64_t i) {
            uint64_t seq;
            auto& g = sealed[i % sealed.size()];
            if (verifyPeerLinkFrame(key, g.data(), len, &seq)) accepted += window.accept(seq + i);
        });
        sink = accepted;
        std::printf("%8zu %12.1f %12.1f %14.1f %12.1f\n", len, header, seal, verify, seal + verify);
    }
    return 0;
}
