#include "config/value_parsers.h"

#include <algorithm>
#include <cctype>

namespace tandem::config_detail {
namespace {

bool isAlnum(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

int hexDigit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool isHostChar(char c) {
    return isAlnum(c) || c == '.' || c == '-' || c == '_';
}

char fold(char c) {
    c = char(std::tolower(static_cast<unsigned char>(c)));
    return c == '_' ? '-' : c;
}

size_t editDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            size_t cost = fold(a[i - 1]) == fold(b[j - 1]) ? 0 : 1;
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
            diag = up;
        }
    }
    return row[b.size()];
}

}  // namespace

std::string_view trimBlanks(std::string_view s) {
    size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    size_t e = s.find_last_not_of(" \t\r\n");
    return s.substr(b, e - b + 1);
}

std::optional<bool> parseBool(std::string_view text) {
    static constexpr std::string_view kTrue[] = {"true", "yes", "on", "1"};
    static constexpr std::string_view kFalse[] = {"false", "no", "off", "0"};
    for (auto t : kTrue)
        if (text == t) return true;
    for (auto f : kFalse)
        if (text == f) return false;
    return std::nullopt;
}

std::optional<std::array<uint8_t, 6>> parseMac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    std::array<uint8_t, 6> mac{};
    for (size_t i = 0; i < 6; ++i) {
        int hi = hexDigit(text[i * 3]);
        int lo = hexDigit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
        mac[i] = uint8_t(hi << 4 | lo);
    }
    return mac;
}

std::optional<IpPort> parseIpPort(std::string_view text) {
    std::string_view host, port;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
        if (host.find(':') == std::string_view::npos) return std::nullopt;
    } else {
        size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) return std::nullopt;
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) return std::nullopt;  // bare IPv6
    }
    auto addr = parseIpAddr(host);
    auto p = parseUnsigned(port, 1, 65535);
    if (!addr || !p) return std::nullopt;
    IpPort out;
    out.addr = *addr;
    out.family = addr->isV4Mapped() ? AddrFamily::v4 : AddrFamily::v6;
    out.port = uint16_t(*p);
    return out;
}

std::string formatMac(const MacAddress& mac) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i > 0) out += ':';
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 15];
    }
    return out;
}

std::string formatIpPort(const IpPort& at) {
    const std::string host = formatIpAddr(at.addr);
    return (at.family == AddrFamily::v6 ? "[" + host + "]" : host) + ":" + std::to_string(at.port);
}

std::string formatPeerLinkAddress(const PeerLinkAddress& a) {
    if (const MacAddress* mac = std::get_if<MacAddress>(&a)) return formatMac(*mac);
    if (const IpPort* at = std::get_if<IpPort>(&a)) return formatIpPort(*at);
    return "";
}

bool checkZmqEndpoint(std::string_view text, bool bind, std::string* why) {
    if (text.starts_with("ipc://")) {
        if (text.size() == 6) {
            *why = "ipc:// needs a path";
            return false;
        }
        return true;
    }
    if (!text.starts_with("tcp://")) {
        *why = "expected tcp://HOST:PORT or ipc://PATH";
        return false;
    }
    std::string_view rest = text.substr(6);
    std::string_view host, port;
    if (!rest.empty() && rest.front() == '[') {
        size_t close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
            *why = "expected tcp://[IPV6]:PORT";
            return false;
        }
        host = rest.substr(1, close - 1);
        port = rest.substr(close + 2);
        if (!parseIpAddr(host) || host.find(':') == std::string_view::npos) {
            *why = "'" + std::string(host) + "' is not an IPv6 address";
            return false;
        }
    } else {
        size_t colon = rest.rfind(':');
        if (colon == std::string_view::npos) {
            *why = "expected tcp://HOST:PORT (the port is missing)";
            return false;
        }
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
        if (host.find(':') != std::string_view::npos) {
            *why = "an IPv6 address needs brackets: tcp://[ADDR]:PORT";
            return false;
        }
        if (host == "*") {
            if (!bind) {
                *why = "'*' (any address) only makes sense for listening; give the peer's address";
                return false;
            }
        } else if (host.empty() || host.size() > 253 ||
                   !std::all_of(host.begin(), host.end(), isHostChar)) {
            *why = "expected tcp://HOST:PORT with HOST an address or a host name";
            return false;
        }
    }
    if (!parseUnsigned(port, 1, 65535)) {
        *why = "port '" + std::string(port) + "' is not 1..65535";
        return false;
    }
    return true;
}

bool isSimpleName(std::string_view text, size_t max_len) {
    if (text.empty() || text.size() > max_len || !isAlnum(text.front())) return false;
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return isAlnum(c) || c == '-' || c == '_'; });
}

std::vector<std::string> splitWhitespace(std::string_view text) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
        size_t start = i;
        while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
        if (i > start) out.emplace_back(text.substr(start, i - start));
    }
    return out;
}

std::string resolvePath(const std::string& base_dir, const std::string& path) {
    if (path.empty() || path.front() == '/' || base_dir.empty()) return path;
    if (base_dir.back() == '/') return base_dir + path;
    return base_dir + "/" + path;
}

std::string closestName(std::string_view word, const std::vector<std::string>& candidates) {
    // A clipped key ("heartbeat" for "heartbeat-interval-ms") is far by edit
    // distance but obvious to a reader.
    if (word.size() >= 4) {
        for (const auto& c : candidates) {
            if (c.size() > word.size() &&
                editDistance(word, std::string_view(c).substr(0, word.size())) == 0) {
                return c;
            }
        }
    }
    std::string best;
    size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
    for (const auto& c : candidates) {
        // The lengths alone put c at least this far: skip the full count
        // (so a long garbage word costs no more than its length).
        const size_t lower =
            word.size() > c.size() ? word.size() - c.size() : c.size() - word.size();
        if (lower >= best_distance) continue;
        size_t d = editDistance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

}  // namespace tandem::config_detail
