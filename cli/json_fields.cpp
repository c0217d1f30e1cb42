#include "cli/json_fields.h"

namespace tandem::cli {

const nlohmann::json* field(const nlohmann::json& j, const char* key) {
    if (!j.is_object()) return nullptr;
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
}

std::optional<std::string> stringField(const nlohmann::json& j, const char* key) {
    const nlohmann::json* f = field(j, key);
    if (f == nullptr || !f->is_string()) return std::nullopt;
    return f->get<std::string>();
}

std::optional<uint64_t> uintField(const nlohmann::json& j, const char* key) {
    const nlohmann::json* f = field(j, key);
    if (f == nullptr) return std::nullopt;
    if (f->is_number_unsigned()) return f->get<uint64_t>();
    if (f->is_number_integer() && f->get<int64_t>() >= 0) return uint64_t(f->get<int64_t>());
    if (f->is_number_float() && f->get<double>() >= 0) return uint64_t(f->get<double>());
    return std::nullopt;
}

std::optional<bool> boolField(const nlohmann::json& j, const char* key) {
    const nlohmann::json* f = field(j, key);
    if (f == nullptr || !f->is_boolean()) return std::nullopt;
    return f->get<bool>();
}

std::string scalarText(const nlohmann::json& j) {
    if (j.is_string()) return j.get<std::string>();
    if (j.is_boolean()) return j.get<bool>() ? "yes" : "no";
    if (j.is_null()) return "-";
    return j.dump();
}

std::string labelOf(const std::string& key) {
    std::string out = key;
    for (char& c : out) {
        if (c == '_') c = ' ';
    }
    return out;
}

}  // namespace tandem::cli
