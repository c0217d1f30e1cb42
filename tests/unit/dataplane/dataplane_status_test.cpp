// dataplane/dataplane_status.cpp: each object of `show interfaces` is built
// from the field table of src/proto/port_status_fields.h.
#include <doctest/doctest.h>

#include <algorithm>

#include "dataplane/dataplane.h"
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

TEST_CASE("packet buffers are sized from the largest port MTU") {
    CHECK(packetDataRoom(68) == 2048);
    CHECK(packetDataRoom(1500) == 2048);
    CHECK(packetDataRoom(1962) == 2048);  // 1962 + 86 = 2048 exactly
    CHECK(packetDataRoom(1963) == 2176);
    CHECK(packetDataRoom(9000) == 9088);
    // The largest MTU: a frame of 9216 bytes with its slack.
    CHECK(packetDataRoom(9194) == 9344);
    // A driver that copies a larger frame whatever the MTU (af_packet's ring).
    CHECK(packetDataRoom(1500, 9184) == 9184);
    CHECK(packetDataRoom(9000, 2016) == 9088);
    uint32_t bad = 0;
    for (uint32_t mtu = 68; mtu <= 9194; ++mtu) {
        const uint32_t room = packetDataRoom(mtu);
        // frame, two VLAN tags, trailer and FCS; rounded; no more
        bad += room % 128 != 0 || room < mtu + 14 + 8 + 64 ||
               room > std::max<uint32_t>(2048, mtu + 14 + 8 + 64 + 127);
    }
    CHECK(bad == 0);
}

}  // namespace tandem
