// dataplane/dataplane_status.cpp: each object of `show interfaces` is built
// from the field table of src/proto/port_status_fields.h.
#include <doctest/doctest.h>

#include "dataplane/dataplane_status.h"

namespace tandem {

TEST_CASE("a port's JSON has every field of the table, as the table types it") {
    PortStatus p;
    p.name = "link";
    p.device = "net_null0";
    p.port_id = 2;
    p.peer_link = true;
    p.link_up = true;
    p.mtu = 9000;
    p.rx_packets = 5;
    p.rx_no_mbuf = 1;
    const nlohmann::json j = portStatusJson(p);
    CHECK(j.size() == std::size(status::kPortFields));
    for (const status::FieldDef& f : status::kPortFields) {
        REQUIRE_MESSAGE(j.contains(std::string(f.path)), f.path);
        const nlohmann::json& v = j[std::string(f.path)];
        switch (f.type) {
            case status::FieldType::integer:
                CHECK_MESSAGE(v.is_number_unsigned(), f.path);
                break;
            case status::FieldType::text:
            case status::FieldType::up_down:
                CHECK_MESSAGE(v.is_string(), f.path);
                break;
            default:
                FAIL("a port field of an unexpected type: ", f.path);
        }
    }
    CHECK(j["role"] == "peer-link");
    CHECK(j["link"] == "up");
    CHECK(j["mtu"] == 9000);
    CHECK(j["rx_no_mbuf"] == 1);
    p.peer_link = p.link_up = false;
    CHECK(portStatusJson(p)["role"] == "data");
    CHECK(portStatusJson(p)["link"] == "down");
}

}  // namespace tandem
