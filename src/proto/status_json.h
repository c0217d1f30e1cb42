// The JSON of a status object from its field table (proto/status_fields.h):
// every field of the table, each read by the object's getter.
//
// Header only; its user links nlohmann_json. Thread-safety: pure.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "proto/status_fields.h"

namespace tandem::status {

/// Sets the member `path` of `j` ("a.b" is j["a"]["b"]).
inline void setPath(nlohmann::json& j, std::string_view path, nlohmann::json value) {
    nlohmann::json* at = &j;
    for (size_t dot; (dot = path.find('.')) != std::string_view::npos;
         path.remove_prefix(dot + 1)) {
        at = &(*at)[std::string(path.substr(0, dot))];
    }
    (*at)[std::string(path)] = std::move(value);
}

/// {path: get(Field(i), source)} for every field i of `fields`; `Field` is
/// the table's enum.
template <class Field, class T, class Get>
nlohmann::json objectJson(std::span<const FieldDef> fields, const T& source, Get get) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < fields.size(); ++i) setPath(j, fields[i].path, get(Field(i), source));
    return j;
}

}  // namespace tandem::status
