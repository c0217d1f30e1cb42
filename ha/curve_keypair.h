// CURVE keys for the HA channels (ZeroMQ RFC 26/CurveZMQ), as Z85 text
// (40 characters each), the form tandem.conf holds.
//
// Thread-safety: any thread.
#pragma once

#include <optional>
#include <string>

namespace tandem {

struct CurveKeypair {
    std::string public_key;  ///< Z85, 40 characters: goes into the peers' [peer.N] public-key
    std::string secret_key;  ///< Z85, 40 characters: stays on this node ([ha] secret-key-file)
};

/// A fresh keypair (`tandemd --generate-keys`). nullopt when this libzmq was
/// built without CURVE support.
std::optional<CurveKeypair> generateCurveKeypair();

/// The public key that belongs to `secret_key` (checks a configured pair).
/// nullopt when the text is not a Z85 key or CURVE is unavailable.
std::optional<std::string> curvePublicKeyOf(const std::string& secret_key);

/// True when this libzmq supports CURVE.
bool curveAvailable();

}  // namespace tandem
