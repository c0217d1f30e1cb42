// Parsers for the value types of tandem.conf. Each returns nullopt (or
// false) on anything it does not accept; the caller words the error.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/ip_addr.h"
#include "core/text.h"  // parseUnsigned, joinWords: the config's numbers and lists

namespace tandem::config_detail {

std::string_view trimBlanks(std::string_view s);

/// true/false, yes/no, on/off, 1/0 (lower case).
std::optional<bool> parseBool(std::string_view text);

/// "aa:bb:cc:dd:ee:ff" (hex digits of either case).
std::optional<std::array<uint8_t, 6>> parseMac(std::string_view text);

/// "192.0.2.1:4789" or "[2001:db8::1]:4789"; port 1..65535.
std::optional<IpPort> parseIpPort(std::string_view text);

/// The forms parseMac and parseIpPort read, for messages and summaries.
std::string formatMac(const MacAddress& mac);
std::string formatIpPort(const IpPort& at);
/// A MAC, an IP:port, or "" (monostate).
std::string formatPeerLinkAddress(const PeerLinkAddress& a);

/// Checks a ZeroMQ endpoint: tcp://HOST:PORT (HOST an IPv4 address, an IPv6
/// address in brackets, or a host/interface name; '*' only when `bind`) or
/// ipc://PATH. Returns false and sets `why` to what was wrong.
bool checkZmqEndpoint(std::string_view text, bool bind, std::string* why);

/// A name made of letters, digits, '-' and '_', starting with a letter or
/// digit, at most `max_len` characters (ports, zones).
bool isSimpleName(std::string_view text, size_t max_len);

std::vector<std::string> splitWhitespace(std::string_view text);

/// `path` if absolute, else `base_dir`/`path`.
std::string resolvePath(const std::string& base_dir, const std::string& path);

/// The candidate `word` is a prefix of, else the one closest to it by edit
/// distance (case-insensitive, '_' and '-' alike), or empty when none is close.
std::string closestName(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace tandem::config_detail
