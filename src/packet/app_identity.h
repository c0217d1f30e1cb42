// Application identity from a flow's first payload bytes: the server name a
// TLS ClientHello asks for (SNI), the Host header of an HTTP/1.x request,
// the name a DNS query asks about. Each reader takes the first bytes the
// client sent on the flow, as far as they have arrived (a TCP stream's
// prefix in order, or one UDP datagram), and says whether they name the
// application, cannot yet (more bytes are needed), or are not that protocol.
//
// Bounded: a reader looks at most kMaxAppPrefix bytes and keeps nothing;
// a prefix that has not named the application by then never will. Names
// come out in a canonical form: ASCII lower case, no trailing dot, at most
// kMaxAppName bytes of letters, digits, '-', '_' and '.'; anything else in
// a name is malformed.
//
// Thread-safety: pure functions, no allocation; callable per packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tandem {

enum class AppProtocol : uint8_t {
    none = 0,
    tls = 1,   ///< TLS ClientHello server_name (SNI)
    http = 2,  ///< HTTP/1.x Host header
    dns = 3,   ///< DNS query name
};
inline constexpr uint8_t kMaxAppProtocol = 3;

/// "tls", "http", "dns"; "" for none.
const char* appProtocolName(AppProtocol p);

/// The longest name (a DNS name's limit).
inline constexpr size_t kMaxAppName = 253;
/// The most of a flow's first bytes a reader looks at: a ClientHello with
/// the largest key shares in use fits, as does an HTTP request head.
inline constexpr size_t kMaxAppPrefix = 4096;

/// A name as the readers give it (canonical form above).
/// `len` comes first and `text` is left unset beyond it, so that copies of
/// records holding a name can stop at its end (session_app.h usedBytes()).
struct AppName {
    uint8_t len = 0;
    char text[kMaxAppName];
    std::string_view view() const { return {text, len}; }
    /// Copies `name` (its first kMaxAppName bytes).
    void assign(std::string_view name) {
        len = uint8_t(name.size() < kMaxAppName ? name.size() : kMaxAppName);
        for (uint8_t i = 0; i < len; ++i) text[i] = name[i];
    }
};

enum class AppParse : uint8_t {
    found,      ///< *out holds the name
    need_more,  ///< a prefix of the protocol's message: give more bytes
    not_this,   ///< not this protocol (or this protocol without a name)
    malformed,  ///< this protocol, but broken or with a name that is not one
};

/// TLS: `data` is the start of the client's byte stream. The ClientHello
/// may span several TLS records (record fragmentation) and any number of
/// TCP segments (the caller gives the stream's prefix). not_this for a
/// stream that does not start with a handshake record, or a ClientHello
/// without server_name (or with a name that is not a host name).
AppParse parseTlsSni(const uint8_t* data, size_t len, AppName* out);

/// HTTP/1.x: `data` is the start of the client's byte stream, a request
/// line ("GET /x HTTP/1.1") and headers. The Host header's value without a
/// port. not_this for a stream that does not start with a request line, or
/// a head without Host.
AppParse parseHttpHost(const uint8_t* data, size_t len, AppName* out);

/// DNS: `data` is one UDP datagram's payload. The first question's name of
/// a standard query. not_this for a response or no question.
AppParse parseDnsQueryName(const uint8_t* data, size_t len, AppName* out);

/// Whether `name` (canonical) matches `pattern`: an exact name, or
/// "*.suffix", which matches any name of one or more labels before
/// ".suffix" (not "suffix" itself). Case-insensitive by construction: both
/// are lower case.
bool appNameMatches(std::string_view pattern, std::string_view name);

/// Puts `raw` into canonical form in *out; false when it is not a name.
bool canonicalAppName(std::string_view raw, AppName* out);

}  // namespace tandem
