#include "ha/curve_keypair.h"

#include <zmq.h>

namespace tandem {

bool curveAvailable() {
    return zmq_has("curve") != 0;
}

std::optional<CurveKeypair> generateCurveKeypair() {
    char pub[41] = {}, sec[41] = {};
    if (!curveAvailable() || zmq_curve_keypair(pub, sec) != 0) return std::nullopt;
    return CurveKeypair{pub, sec};
}

std::optional<std::string> curvePublicKeyOf(const std::string& secret_key) {
    if (secret_key.size() != 40 || !curveAvailable()) return std::nullopt;
    char pub[41] = {};
    if (zmq_curve_public(pub, secret_key.c_str()) != 0) return std::nullopt;
    return std::string(pub);
}

}  // namespace tandem
