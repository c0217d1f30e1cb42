// ha/ha_status.cpp: the JSON of `show high-availability state` is built from
// the field tables of src/proto/ha_status_fields.h (their docs are checked in
// tests/unit/proto/status_fields_test.cpp), and `ready` means what the docs
// say.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "ha/ha_status.h"

namespace tandem {
namespace {

HaStatus readyPair() {
    HaStatus s;
    s.local.id = 1;
    s.local.name = "fw1";
    s.local.state = NodeState::active_primary;
    HaPeerStatus& p = s.peers.emplace_back();
    p.id = 2;
    p.name = "fw2";
    p.state = NodeState::active_secondary;
    p.alive = p.paired = p.control_link = p.peer_link = true;
    PeerSyncStatus& q = s.sync.emplace_back();
    q.peer = 2;
    q.up = true;
    q.bulk_out_state = "sent";
    q.bulk_out_delivered = true;
    q.bulk_in_state = "complete";
    return s;
}

// "a.b" of a JSON object, or nullptr.
const nlohmann::json* at(const nlohmann::json& j, std::string_view path) {
    const nlohmann::json* v = &j;
    size_t start = 0;
    while (true) {
        const size_t dot = path.find('.', start);
        const std::string key(path.substr(start, dot - start));
        if (!v->is_object() || !v->contains(key)) return nullptr;
        v = &(*v)[key];
        if (dot == std::string_view::npos) return v;
        start = dot + 1;
    }
}

// The JSON paths of every leaf of `j` ("local.last_transition.ago_ms";
// arrays as "peers[]").
void leaves(const nlohmann::json& j, const std::string& prefix, std::set<std::string>* out) {
    if (j.is_object()) {
        for (auto it = j.begin(); it != j.end(); ++it) {
            leaves(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), out);
        }
    } else if (j.is_array() && !j.empty() && j[0].is_object()) {
        leaves(j[0], prefix + "[]", out);
    } else {
        out->insert(prefix);
    }
}

std::string fieldPath(const status::StatusObject& o, const status::FieldDef& f) {
    if (o.member.empty()) return std::string(f.path);
    return std::string(o.member) + (o.array ? "[]." : ".") + std::string(f.path);
}

}  // namespace

TEST_CASE("the HA state JSON has exactly the fields of the tables, besides the counter maps") {
    const nlohmann::json j = haStatusToJson(readyPair());
    std::set<std::string> got;
    leaves(j, "", &got);
    std::set<std::string> want;
    for (const auto& o : status::kHaStateObjects) {
        for (const auto& f : o.fields) want.insert(fieldPath(o, f));
    }
    for (const char* m : {"counters", "decode_counters", "transport_counters"}) {
        CHECK(j[m].is_object());
        got.erase(m);
    }
    CHECK(got == want);
}

TEST_CASE("each field reads as its table says") {
    HaStatus s = readyPair();
    s.local.last_transition_ago_ms = 1500;
    s.sync[0].lag_us = 4000;
    s.view.owners = nodeBit(1) | nodeBit(2);
    const nlohmann::json j = haStatusToJson(s);
    CHECK(j["local"]["state"] == "active-primary");
    CHECK(j["local"]["last_transition"]["ago_ms"] == 1500);
    CHECK(j["sync"][0]["lag_ms"] == 4);
    CHECK(j["sync"][0]["bulk"]["out_state"] == "sent");
    CHECK(j["view"]["owners"] == nlohmann::json::array({1, 2}));
    CHECK(j["timers"].is_object());
    for (const auto& o : status::kHaStateObjects) {
        const nlohmann::json& obj = o.member.empty() ? j : o.array ? j[o.member][0] : j[o.member];
        for (const auto& f : o.fields) {
            const nlohmann::json* v = at(obj, f.path);
            REQUIRE_MESSAGE(v != nullptr, f.path);
            switch (f.type) {
                case status::FieldType::boolean:
                    CHECK_MESSAGE(v->is_boolean(), f.path);
                    break;
                case status::FieldType::integer:
                    CHECK_MESSAGE(v->is_number_integer(), f.path);
                    break;
                case status::FieldType::number:
                    CHECK_MESSAGE(v->is_number(), f.path);
                    break;
                case status::FieldType::text:
                case status::FieldType::up_down:
                case status::FieldType::node_state:
                    CHECK_MESSAGE(v->is_string(), f.path);
                    break;
                case status::FieldType::node_list:
                    CHECK_MESSAGE(v->is_array(), f.path);
                    break;
            }
        }
    }
}

TEST_CASE("ready: active, links up, every peer paired and alive, bulk sync done both ways") {
    CHECK(haReady(readyPair()));
    CHECK(haStatusToJson(readyPair())["local"]["ready"] == true);

    HaStatus s = readyPair();
    s.local.state = NodeState::tentative;
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.local.links_ok = false;
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.peers[0].paired = false;
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.peers[0].alive = false;
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.sync[0].bulk_out_delivered = false;  // sent, not yet acknowledged
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.sync[0].bulk_in_state = "receiving";
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.sync.clear();
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.peers.clear();
    CHECK_FALSE(haReady(s));
    s = readyPair();
    s.sync[0].bulk_in_state = "idle";  // the peer had nothing to send
    CHECK(haReady(s));
}

}  // namespace tandem
