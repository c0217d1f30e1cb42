#include "packet/app_identity.h"

#include <algorithm>
#include <cstring>

namespace tandem {

namespace {

constexpr uint8_t kTlsHandshake = 22;
constexpr uint8_t kTlsClientHello = 1;
constexpr uint16_t kTlsServerName = 0;
constexpr uint8_t kTlsHostName = 0;
constexpr size_t kTlsRecordHeader = 5;
constexpr size_t kTlsMaxRecord = 16384 + 2048;  // TLSCiphertext's limit
constexpr size_t kDnsHeader = 12;

uint16_t be16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c;
}

// A bounds-checked reader of a ClientHello body: every read says whether
// the bytes were there.
class Reader {
  public:
    Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    bool skip(size_t k) {
        if (k > n_ - at_) return false;
        at_ += k;
        return true;
    }
    bool u8(uint8_t* v) {
        if (at_ + 1 > n_) return false;
        *v = p_[at_++];
        return true;
    }
    bool u16(uint16_t* v) {
        if (at_ + 2 > n_) return false;
        *v = be16(p_ + at_);
        at_ += 2;
        return true;
    }
    bool bytes(size_t k, const uint8_t** v) {
        if (k > n_ - at_) return false;
        *v = p_ + at_;
        at_ += k;
        return true;
    }
    size_t left() const { return n_ - at_; }
    const uint8_t* current() const { return p_ + at_; }

  private:
    const uint8_t* p_;
    size_t n_;
    size_t at_ = 0;
};

// Reads the server_name of a ClientHello body (after the 4-byte handshake
// header) of which `have` bytes are here. `complete`: all of it is here.
// Extensions come last and in order: a prefix that holds the server_name
// extension is enough.
AppParse clientHelloSni(const uint8_t* body, size_t have, bool complete, AppName* out) {
    const AppParse short_read = complete ? AppParse::malformed : AppParse::need_more;
    Reader r(body, have);
    uint8_t n8;
    uint16_t n16;
    if (!r.skip(2 + 32)) return short_read;               // version, random
    if (!r.u8(&n8) || !r.skip(n8)) return short_read;     // session id
    if (!r.u16(&n16) || !r.skip(n16)) return short_read;  // cipher suites
    if (!r.u8(&n8) || !r.skip(n8)) return short_read;     // compression methods
    uint16_t ext_total;
    if (!r.u16(&ext_total)) return complete ? AppParse::not_this : AppParse::need_more;
    // Walk the extensions that are here, in order, the same way whether or
    // not more bytes follow: a name found in a prefix stays found.
    const size_t here = r.left();
    const bool all = here >= ext_total;
    Reader x(r.current(), all ? ext_total : here);
    while (true) {
        uint16_t type, len;
        const uint8_t* data;
        if (!x.u16(&type) || !x.u16(&len) || !x.bytes(len, &data)) {
            if (all) return AppParse::not_this;  // the list ended without server_name
            return short_read;
        }
        if (type != kTlsServerName) continue;  // GREASE and unknown ones too
        Reader sn(data, len);
        uint16_t list_len;
        if (!sn.u16(&list_len) || list_len + 2u != len) return AppParse::malformed;
        while (true) {
            uint8_t name_type;
            uint16_t name_len;
            const uint8_t* name;
            if (!sn.u8(&name_type)) return AppParse::not_this;  // no host name in the list
            if (!sn.u16(&name_len) || !sn.bytes(name_len, &name)) return AppParse::malformed;
            if (name_type != kTlsHostName) continue;
            return canonicalAppName({reinterpret_cast<const char*>(name), name_len}, out)
                       ? AppParse::found
                       : AppParse::malformed;
        }
    }
}

bool startsWithMethod(const uint8_t* data, size_t len, bool* partial) {
    static constexpr std::string_view kMethods[] = {
        "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
    *partial = false;
    const std::string_view have(reinterpret_cast<const char*>(data), len);
    for (std::string_view m : kMethods) {
        if (have.size() >= m.size()) {
            if (have.substr(0, m.size()) == m) return true;
        } else if (m.substr(0, have.size()) == have) {
            *partial = true;
        }
    }
    return false;
}

bool iequalsPrefix(std::string_view line, std::string_view lower_word) {
    if (line.size() < lower_word.size()) return false;
    for (size_t i = 0; i < lower_word.size(); ++i) {
        if (lower(line[i]) != lower_word[i]) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

const char* appProtocolName(AppProtocol p) {
    switch (p) {
        case AppProtocol::none:
            return "";
        case AppProtocol::tls:
            return "tls";
        case AppProtocol::http:
            return "http";
        case AppProtocol::dns:
            return "dns";
    }
    return "";
}

bool canonicalAppName(std::string_view raw, AppName* out) {
    if (!raw.empty() && raw.back() == '.') raw.remove_suffix(1);
    if (raw.empty() || raw.size() > kMaxAppName) return false;
    char prev = '.';
    for (size_t i = 0; i < raw.size(); ++i) {
        const char c = lower(raw[i]);
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok || (c == '.' && prev == '.')) return false;  // no empty label
        out->text[i] = c;
        prev = c;
    }
    if (prev == '.') return false;  // an empty last label ("a.." less one dot)
    out->len = uint8_t(raw.size());
    return true;
}

bool appNameMatches(std::string_view pattern, std::string_view name) {
    if (pattern.size() > 2 && pattern[0] == '*' && pattern[1] == '.') {
        const std::string_view suffix = pattern.substr(1);  // ".example.com"
        return name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
    }
    return pattern == name;
}

AppParse parseTlsSni(const uint8_t* data, size_t len, AppName* out) {
    if (len == 0) return AppParse::need_more;
    if (data[0] != kTlsHandshake) return AppParse::not_this;
    if (len > kMaxAppPrefix) len = kMaxAppPrefix;
    // The usual case, read where it lies: one record that holds the whole
    // ClientHello (or the part of it that is here, when nothing follows).
    if (len > kTlsRecordHeader + 4 && data[1] == 3 && data[kTlsRecordHeader] == kTlsClientHello) {
        const size_t rlen = be16(data + 3);
        const uint8_t* hs = data + kTlsRecordHeader;
        const size_t body_len = size_t(hs[1]) << 16 | size_t(hs[2]) << 8 | hs[3];
        const size_t here = len - kTlsRecordHeader;
        if (rlen >= 4 + body_len && rlen <= kTlsMaxRecord) {
            const bool complete = here >= 4 + body_len;
            const AppParse r =
                clientHelloSni(hs + 4, complete ? body_len : here - 4, complete, out);
            if (r != AppParse::need_more || len < kMaxAppPrefix) return r;
            return AppParse::malformed;  // more bytes cannot help
        }
    }
    // Several records: their handshake bytes gathered in one buffer.
    uint8_t hs[kMaxAppPrefix];
    size_t hs_len = 0;
    size_t pos = 0;
    // A record after the first that is not a handshake record ends what
    // can be read: the ClientHello's bytes before it still decide, and only
    // if they need more is the stream malformed.
    bool broken = false;
    while (pos < len) {
        if (len - pos < kTlsRecordHeader) break;
        const uint8_t* rec = data + pos;
        const size_t rlen = be16(rec + 3);
        if (rec[0] != kTlsHandshake || rec[1] != 3 || rlen == 0 || rlen > kTlsMaxRecord) {
            if (pos == 0)
                return rec[0] == kTlsHandshake && rec[1] == 3 ? AppParse::malformed
                                                              : AppParse::not_this;
            broken = true;
            break;
        }
        const size_t avail = std::min(rlen, len - pos - kTlsRecordHeader);
        std::memcpy(hs + hs_len, rec + kTlsRecordHeader, avail);
        hs_len += avail;
        // Decided by the first handshake byte, whatever follows it.
        if (hs_len > 0 && hs[0] != kTlsClientHello) return AppParse::not_this;
        if (avail < rlen) break;
        pos += kTlsRecordHeader + rlen;
        if (hs_len >= 4 && hs_len >= 4 + (size_t(hs[1]) << 16 | size_t(hs[2]) << 8 | hs[3]))
            break;  // the ClientHello is complete
    }
    const bool no_more = broken || len == kMaxAppPrefix;  // more bytes cannot help
    if (hs_len < 4) return no_more ? AppParse::malformed : AppParse::need_more;
    const size_t body_len = size_t(hs[1]) << 16 | size_t(hs[2]) << 8 | hs[3];
    const bool complete = hs_len >= 4 + body_len;
    const size_t have = complete ? body_len : hs_len - 4;
    const AppParse r = clientHelloSni(hs + 4, have, complete, out);
    if (r == AppParse::need_more && no_more) return AppParse::malformed;
    return r;
}

AppParse parseHttpHost(const uint8_t* data, size_t len, AppName* out) {
    bool partial = false;
    if (!startsWithMethod(data, len, &partial)) {
        return partial || len == 0 ? AppParse::need_more : AppParse::not_this;
    }
    if (len > kMaxAppPrefix) len = kMaxAppPrefix;
    std::string_view head(reinterpret_cast<const char*>(data), len);
    size_t eol = head.find('\n');
    if (eol == std::string_view::npos) {
        return len == kMaxAppPrefix ? AppParse::malformed : AppParse::need_more;
    }
    const std::string_view request_line = head.substr(0, eol);
    if (request_line.find(" HTTP/1.") == std::string_view::npos) return AppParse::not_this;
    size_t at = eol + 1;
    while (true) {
        eol = head.find('\n', at);
        if (eol == std::string_view::npos) {
            return len == kMaxAppPrefix ? AppParse::malformed : AppParse::need_more;
        }
        const std::string_view line = head.substr(at, eol - at);
        if (trim(line).empty()) return AppParse::not_this;  // the head ended without Host
        if (iequalsPrefix(line, "host:")) {
            std::string_view value = trim(line.substr(5));
            // Without the port; an IPv6 literal ("[::1]:8080") is not a name.
            const size_t colon = value.rfind(':');
            if (colon != std::string_view::npos && value.find(']') == std::string_view::npos) {
                value = value.substr(0, colon);
            }
            return canonicalAppName(value, out) ? AppParse::found : AppParse::malformed;
        }
        at = eol + 1;
    }
}

AppParse parseDnsQueryName(const uint8_t* data, size_t len, AppName* out) {
    if (len < kDnsHeader) return AppParse::not_this;  // a datagram comes whole
    const uint16_t flags = be16(data + 2);
    const bool response = flags & 0x8000;
    const unsigned opcode = (flags >> 11) & 0xf;
    if (response || opcode != 0 || be16(data + 4) == 0) return AppParse::not_this;
    char name[kMaxAppName + 2];
    size_t n = 0;
    size_t pos = kDnsHeader;
    while (true) {
        if (pos >= len) return AppParse::malformed;
        const uint8_t label = data[pos++];
        if (label == 0) break;
        if (label > 63) return AppParse::malformed;  // a pointer or reserved: not in a question
        if (label > len - pos || n + label + 1 > kMaxAppName + 1) return AppParse::malformed;
        if (n) name[n++] = '.';
        std::memcpy(name + n, data + pos, label);
        n += label;
        pos += label;
    }
    if (n == 0) return AppParse::not_this;  // the root
    return canonicalAppName({name, n}, out) ? AppParse::found : AppParse::malformed;
}

}  // namespace tandem
