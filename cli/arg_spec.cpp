#include "cli/arg_spec.h"

#include "cli/word_match.h"
#include "core/ip_addr.h"
#include "core/node_id.h"
#include "core/protocol_name.h"
#include "core/text.h"

namespace tandem::cli {
namespace {

const std::vector<std::string>& protoNames() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> v;
        for (uint8_t p : kNamedProtocols) v.emplace_back(protocolName(p));
        return v;
    }();
    return names;
}

ArgCheck accept(nlohmann::json value, std::string text) {
    ArgCheck c;
    c.value = std::move(value);
    c.text = std::move(text);
    return c;
}

ArgCheck checkChoice(const std::vector<std::string>& choices, const std::string& typed) {
    WordMatch m = matchWord(typed, choices);
    if (m.kind == WordMatch::Kind::unique) return accept(m.word, m.word);
    ArgCheck c;
    if (m.kind == WordMatch::Kind::ambiguous) c.ambiguous = m.candidates;
    return c;
}

}  // namespace

ArgCheck checkArg(const ArgSpec& spec, const std::string& typed) {
    switch (spec.kind) {
        case ArgKind::integer: {
            auto v = parseUnsigned(typed);
            if (!v || *v < spec.min || *v > spec.max) return {};
            return accept(*v, std::to_string(*v));
        }
        case ArgKind::port: {
            auto v = parseUnsigned(typed);
            if (!v || *v > 65535) return {};
            return accept(*v, std::to_string(*v));
        }
        case ArgKind::ip: {
            auto a = parseIpAddr(typed);
            if (!a) return {};
            std::string text = formatIpAddr(*a);
            return accept(text, text);
        }
        case ArgKind::proto: {
            if (auto v = parseUnsigned(typed)) {
                if (*v > 255) return {};
                std::string name = protocolText(uint8_t(*v));
                return accept(name, name);
            }
            return checkChoice(protoNames(), typed);
        }
        case ArgKind::choice:
            return checkChoice(spec.choices, typed);
        case ArgKind::node: {
            if (auto v = parseUnsigned(typed)) {
                if (*v < 1 || *v > 16) return {};
                return accept(*v, std::to_string(*v));
            }
            if (!isValidNodeName(typed)) return {};
            return accept(typed, typed);
        }
        case ArgKind::word:
            if (typed.empty()) return {};
            return accept(typed, typed);
    }
    return {};
}

std::string expectedText(const ArgSpec& spec) {
    switch (spec.kind) {
        case ArgKind::integer:
            if (spec.max == std::numeric_limits<uint64_t>::max()) {
                return "a whole number of at least " + std::to_string(spec.min);
            }
            return "a whole number " + std::to_string(spec.min) + ".." + std::to_string(spec.max);
        case ArgKind::ip:
            return "an IPv4 or IPv6 address";
        case ArgKind::port:
            return "a port number 0..65535";
        case ArgKind::proto:
            return "a protocol: " + joinWords(protoNames()) + " or a number 0..255";
        case ArgKind::choice:
            return "one of: " + joinWords(spec.choices);
        case ArgKind::node:
            return "a node id 1..16 or a node name";
        case ArgKind::word:
            return "a word";
    }
    return "a value";
}

std::vector<std::string> staticCandidates(const ArgSpec& spec) {
    switch (spec.kind) {
        case ArgKind::choice:
            return spec.choices;
        case ArgKind::proto:
            return protoNames();
        default:
            return spec.suggestions;
    }
}

}  // namespace tandem::cli
