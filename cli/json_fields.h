// Tolerant reads of the daemon's JSON for the renderers: a missing field, or
// one of another type, gives nullopt — never an exception — so a renderer can
// fall back to the generic layout when the daemon's answer has another shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace tandem::cli {

/// The member `key` of object `j`, or nullptr.
const nlohmann::json* field(const nlohmann::json& j, const char* key);

std::optional<std::string> stringField(const nlohmann::json& j, const char* key);
std::optional<uint64_t> uintField(const nlohmann::json& j, const char* key);
std::optional<bool> boolField(const nlohmann::json& j, const char* key);

/// A scalar as an operator reads it: strings without quotes, numbers in
/// decimal, booleans as yes/no, null as "-"; arrays and objects as compact JSON.
std::string scalarText(const nlohmann::json& j);

/// "last_heard_ms" -> "last heard ms": a field name as a label.
std::string labelOf(const std::string& key);

}  // namespace tandem::cli
