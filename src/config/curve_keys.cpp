#include "config/curve_keys.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/value_parsers.h"

namespace tandem::config_detail {
namespace {

constexpr std::string_view kZ85Alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

// `name = "value"` or `name = value` inside a CZMQ certificate.
std::optional<std::string> certField(std::string_view line, std::string_view name) {
    if (!line.starts_with(name)) return std::nullopt;
    std::string_view rest = trimBlanks(line.substr(name.size()));
    if (rest.empty() || rest.front() != '=') return std::nullopt;
    rest = trimBlanks(rest.substr(1));
    if (rest.size() >= 2 && rest.front() == '"' && rest.back() == '"')
        rest = rest.substr(1, rest.size() - 2);
    return std::string(rest);
}

}  // namespace

bool isZ85Key(std::string_view text, std::string* why, KeyText echo) {
    if (text.size() != kZ85KeyLength) {
        *why =
            "expected a 40-character Z85 key, found " + std::to_string(text.size()) + " characters";
        return false;
    }
    for (size_t group = 0; group < kZ85KeyLength; group += 5) {
        uint64_t value = 0;
        for (size_t i = group; i < group + 5; ++i) {
            size_t digit = kZ85Alphabet.find(text[i]);
            if (digit == std::string_view::npos) {
                *why = "character " + std::to_string(i + 1) +
                       (echo == KeyText::may_echo ? " ('" + std::string(1, text[i]) + "')" : "") +
                       " is not in the Z85 alphabet";
                return false;
            }
            value = value * 85 + digit;
        }
        if (value > UINT32_MAX) {
            *why = "characters " + std::to_string(group + 1) + ".." + std::to_string(group + 5) +
                   " do not decode (not a Z85 key)";
            return false;
        }
    }
    return true;
}

std::optional<std::string> keyFromRawValue(std::string_view raw_value) {
    size_t end = raw_value.find_first_of(" \t");
    std::string_view key = raw_value.substr(0, end);
    if (end != std::string_view::npos) {
        std::string_view rest = trimBlanks(raw_value.substr(end));
        if (!rest.empty() && rest.front() != '#') return std::nullopt;
    }
    return std::string(key);
}

std::optional<CurveKeyFile> readCurveKeyFile(const std::string& path, std::string* error) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        *error = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        *error = path + " is not a regular file";
        return std::nullopt;
    }
    std::ifstream in(path);
    if (!in) {
        *error = "cannot read " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    CurveKeyFile out;
    out.mode = unsigned(st.st_mode & 07777);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string content = buffer.str();
    std::string_view whole = trimBlanks(content);
    // A bare key is taken whole: it may contain '#', which in a certificate
    // starts a comment line.
    if (whole.size() == kZ85KeyLength && whole.find_first_of(" \t\r\n") == std::string_view::npos) {
        out.secret_key = std::string(whole);
    } else {
        std::istringstream lines(content);
        std::string line;
        while (std::getline(lines, line)) {
            std::string_view l = trimBlanks(line);
            if (l.empty() || l.front() == '#') continue;
            if (auto v = certField(l, "secret-key")) {
                out.secret_key = *v;
            } else if (auto p = certField(l, "public-key")) {
                out.public_key = *p;
            }
        }
    }
    if (out.secret_key.empty()) {
        *error = path +
                 " holds no secret key: expected the 40-character Z85 secret key, "
                 "or a CZMQ certificate with a secret-key line";
        return std::nullopt;
    }
    std::string why;
    if (!isZ85Key(out.secret_key, &why, KeyText::secret)) {
        *error = "secret key in " + path + ": " + why;
        return std::nullopt;
    }
    if (!out.public_key.empty() && !isZ85Key(out.public_key, &why)) {
        *error = "public key in " + path + ": " + why;
        return std::nullopt;
    }
    return out;
}

std::optional<std::array<uint8_t, 32>> decodeZ85Key(std::string_view text) {
    std::string why;
    if (!isZ85Key(text, &why)) return std::nullopt;
    std::array<uint8_t, 32> out{};
    for (size_t group = 0; group < kZ85KeyLength / 5; ++group) {
        uint32_t value = 0;
        for (size_t i = 0; i < 5; ++i)
            value = value * 85 + uint32_t(kZ85Alphabet.find(text[group * 5 + i]));
        for (size_t b = 0; b < 4; ++b) out[group * 4 + b] = uint8_t(value >> (24 - 8 * b));
    }
    return out;
}

}  // namespace tandem::config_detail
