// CURVE key text as tandem.conf holds it: Z85 (ZeroMQ RFC 32), 40 characters
// for a 32-byte key. Checked here without linking ZeroMQ; whether a public
// key belongs to a secret key is checked by the HA agent, which has the curve
// arithmetic.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::config_detail {

inline constexpr size_t kZ85KeyLength = 40;

/// Whether a key's text may appear in a message: a public key's may, a
/// secret key's never (not one character of it).
enum class KeyText : uint8_t { may_echo, secret };

/// True when `text` is a 40-character Z85 string that decodes (every group of
/// five characters stays below 2^32). Otherwise `why` says what is wrong,
/// quoting the offending character only when `echo` is may_echo.
bool isZ85Key(std::string_view text, std::string* why, KeyText echo = KeyText::may_echo);

/// A key value as written after `key =` on a config line. Z85 includes '#',
/// so the key runs to the first blank; what follows must be empty or a
/// comment. Returns nullopt when something else follows.
std::optional<std::string> keyFromRawValue(std::string_view raw_value);

struct CurveKeyFile {
    std::string secret_key;
    std::string public_key;  ///< empty unless the file carries it
    unsigned mode = 0;       ///< permission bits of the file
};

/// Reads a secret key file: either the bare 40-character Z85 secret key, or a
/// CZMQ certificate (`secret-key = "..."` and `public-key = "..."` lines, as
/// written by zcert_save_secret). Keys found are checked with isZ85Key.
/// Returns nullopt and sets `error` when the file is unreadable or holds no
/// valid secret key.
std::optional<CurveKeyFile> readCurveKeyFile(const std::string& path, std::string* error);

/// The 32 bytes a Z85 key text (isZ85Key) stands for; nullopt when it is
/// not one.
std::optional<std::array<uint8_t, 32>> decodeZ85Key(std::string_view text);

}  // namespace tandem::config_detail
