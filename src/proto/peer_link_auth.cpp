#include "proto/peer_link_auth.h"

#include <sodium.h>

#include <cstring>

#include "core/wire_bytes.h"
#include "proto/peer_link.h"

namespace tandem {

static_assert(crypto_aead_aes256gcm_ABYTES == kPeerLinkTagSize);
static_assert(crypto_aead_aes256gcm_KEYBYTES == sizeof(PeerLinkKey));
static_assert(crypto_aead_aes256gcm_NPUBBYTES == kPeerLinkSaltSize + kPeerLinkSeqSize);
static_assert(sizeof(crypto_aead_aes256gcm_state) == sizeof(PeerLinkCipher));
static_assert(crypto_scalarmult_BYTES == kCurveKeySize);

namespace {

const crypto_aead_aes256gcm_state* stateOf(const PeerLinkCipher& c) {
    return reinterpret_cast<const crypto_aead_aes256gcm_state*>(c.state());
}

}  // namespace

bool peerLinkAuthAvailable() {
    return sodium_init() >= 0 && crypto_aead_aes256gcm_is_available();
}

bool PeerLinkCipher::init(const PeerLinkKey& key) {
    if (!peerLinkAuthAvailable()) return false;
    crypto_aead_aes256gcm_beforenm(reinterpret_cast<crypto_aead_aes256gcm_state*>(state_),
                                   key.data());
    return true;
}

bool derivePeerLinkKey(const uint8_t* self_secret, const uint8_t* peer_public, uint16_t cluster_id,
                       NodeId self, NodeId peer, PeerLinkKey* out) {
    if (sodium_init() < 0) return false;
    uint8_t shared[crypto_scalarmult_BYTES];
    if (crypto_scalarmult(shared, self_secret, peer_public) != 0) return false;
    // Label, cluster and the two ids in ascending order: both ends hash the
    // same bytes.
    static constexpr char kLabel[] = "tandem peer link v1";
    uint8_t info[sizeof kLabel + 4];
    std::memcpy(info, kLabel, sizeof kLabel);
    wire::put16(info + sizeof kLabel, cluster_id);
    info[sizeof kLabel + 2] = self < peer ? self : peer;
    info[sizeof kLabel + 3] = self < peer ? peer : self;
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, out->size());
    crypto_generichash_update(&st, shared, sizeof shared);
    crypto_generichash_update(&st, info, sizeof info);
    crypto_generichash_final(&st, out->data(), out->size());
    sodium_memzero(shared, sizeof shared);
    return true;
}

void sealPeerLinkFrame(const PeerLinkCipher& cipher, uint8_t* header, size_t payload_len,
                       uint32_t salt, uint64_t seq) {
    uint8_t* trailer = header + kPeerLinkHeaderSize + payload_len;
    wire::put32(trailer, salt);
    wire::put32(trailer + 4, uint32_t(seq >> 32));
    wire::put32(trailer + 8, uint32_t(seq));
    unsigned long long tag_len = 0;
    unsigned char nothing[1] = {0};  // no ciphertext: the whole frame is authenticated data (GMAC)
    crypto_aead_aes256gcm_encrypt_detached_afternm(
        nothing, trailer + kPeerLinkSaltSize + kPeerLinkSeqSize, &tag_len, nothing, 0, header,
        kPeerLinkHeaderSize + payload_len + kPeerLinkSaltSize + kPeerLinkSeqSize, nullptr, trailer,
        stateOf(cipher));
}

bool verifyPeerLinkFrame(const PeerLinkCipher& cipher, const uint8_t* header, size_t payload_len,
                         uint64_t* seq) {
    const uint8_t* trailer = header + kPeerLinkHeaderSize + payload_len;
    unsigned char nothing[1] = {0};  // no ciphertext, no plaintext
    if (crypto_aead_aes256gcm_decrypt_detached_afternm(
            nothing, nullptr, nothing, 0, trailer + kPeerLinkSaltSize + kPeerLinkSeqSize, header,
            kPeerLinkHeaderSize + payload_len + kPeerLinkSaltSize + kPeerLinkSeqSize, trailer,
            stateOf(cipher)) != 0) {
        return false;
    }
    *seq = uint64_t(wire::get32(trailer + 4)) << 32 | wire::get32(trailer + 8);
    return true;
}

bool ReplayWindow::accept(uint64_t seq) {
    if (seq == 0) return false;
    auto bit = [&](uint64_t s) -> uint64_t& { return seen_[(s % kSize) / 64]; };
    const uint64_t mask_of = 1;
    if (seq > top_) {
        const uint64_t ahead = seq - top_;
        if (top_ == 0 || ahead >= kSize) {
            seen_.fill(0);
        } else {
            for (uint64_t s = top_ + 1; s < seq; ++s) bit(s) &= ~(mask_of << (s % 64));
        }
        top_ = seq;
        bit(seq) |= mask_of << (seq % 64);
        return true;
    }
    if (top_ - seq >= kSize) return false;
    uint64_t& word = bit(seq);
    const uint64_t m = mask_of << (seq % 64);
    if (word & m) return false;
    word |= m;
    return true;
}

}  // namespace tandem
