// Peer-link authentication: every frame between two nodes (forwarded and
// egress frames, heartbeats, owner hints) carries a trailer after its
// payload that a node without the pair's key cannot make, and that is
// accepted once:
//
//   payload | salt (4 bytes) | seq (8 bytes, big-endian) | tag (16 bytes)
//
// tag = AES-256-GCM's tag with nothing encrypted (GMAC: libsodium's
// crypto_aead_aes256gcm, with the AES-NI and PCLMULQDQ instructions it
// requires), keyed with the pair's key, over the peer-link header, the
// payload, salt and seq (everything from the header's first byte to the
// tag); nonce = salt | seq. The header says a trailer follows (flags bit 0,
// kPeerLinkFlagAuthenticated); its length is not part of payload_len.
//
// The pair's key comes from the CURVE keys the HA control link already
// uses (no new secret to distribute): X25519 of this node's secret key and
// the peer's public key, hashed (BLAKE2b) with the cluster id and both node
// ids. Both nodes compute the same key; every pair has its own.
//
// salt: drawn at random when a node starts; seq: each node numbers the
// frames it sends from one counter that starts at its wall clock in
// nanoseconds when it starts, so a restarted node continues above what it
// sent before. A nonce is never used twice with a key: the two nodes of a
// pair, and two runs of one node, differ in salt (but for a chance of
// 2^-32) and in seq. A receiver keeps, per sender, the highest seq it
// accepted and which of the 1024 below it it has seen (ReplayWindow): a
// frame seen before, or older than that, is rejected. (A node whose wall
// clock starts behind its previous run's is refused until its seq passes
// what it sent before: keep the clock synchronised before tandemd starts.)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/node_id.h"

namespace tandem {

inline constexpr uint8_t kPeerLinkFlagAuthenticated = 0x01;
inline constexpr size_t kPeerLinkSaltSize = 4;
inline constexpr size_t kPeerLinkSeqSize = 8;
inline constexpr size_t kPeerLinkTagSize = 16;
inline constexpr size_t kPeerLinkAuthTrailerSize =
    kPeerLinkSaltSize + kPeerLinkSeqSize + kPeerLinkTagSize;
inline constexpr size_t kCurveKeySize = 32;

using PeerLinkKey = std::array<uint8_t, 32>;

/// A pair's key made ready for use (the expanded AES key schedule).
class alignas(16) PeerLinkCipher {
  public:
    /// False when this CPU cannot run AES-256-GCM (no AES-NI / PCLMULQDQ).
    bool init(const PeerLinkKey& key);
    const unsigned char* state() const { return state_; }

  private:
    unsigned char state_[512];
};

/// True when this CPU can authenticate the peer link (AES-NI, PCLMULQDQ).
bool peerLinkAuthAvailable();

/// The key nodes `self` and `peer` of cluster `cluster_id` share, from
/// self's CURVE secret key and the peer's CURVE public key (raw 32 bytes
/// each). The same on both nodes. False when the keys give no shared secret
/// (a public key of low order: not a real peer's).
bool derivePeerLinkKey(const uint8_t* self_secret, const uint8_t* peer_public, uint16_t cluster_id,
                       NodeId self, NodeId peer, PeerLinkKey* out);

/// Writes salt, seq and the tag after the payload: `header` is the
/// peer-link header's first byte, the payload follows it, and
/// kPeerLinkAuthTrailerSize writable bytes follow the payload. The header
/// must already carry kPeerLinkFlagAuthenticated.
void sealPeerLinkFrame(const PeerLinkCipher& cipher, uint8_t* header, size_t payload_len,
                       uint32_t salt, uint64_t seq);

/// Checks the tag of a frame sealed by sealPeerLinkFrame (in constant time)
/// and returns its seq in *seq. The trailer must be readable.
bool verifyPeerLinkFrame(const PeerLinkCipher& cipher, const uint8_t* header, size_t payload_len,
                         uint64_t* seq);

/// Which sequence numbers of one sender have been accepted: the highest,
/// and the 1024 below it. Single-threaded (one per worker and sender).
class ReplayWindow {
  public:
    static constexpr uint64_t kSize = 1024;

    /// True (and remembered) when `seq` was not accepted before and is not
    /// older than the window; false for a replay or a frame too old.
    bool accept(uint64_t seq);

  private:
    uint64_t top_ = 0;                         // highest accepted; 0: nothing yet
    std::array<uint64_t, kSize / 64> seen_{};  // bit (s % kSize) for s in (top_-kSize, top_]
};

}  // namespace tandem
