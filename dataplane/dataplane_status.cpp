#include "dataplane/dataplane_status.h"

#include <cstdlib>

#include "proto/status_json.h"

namespace tandem {

nlohmann::json portStatusValue(status::PortField f, const PortStatus& p) {
    using enum status::PortField;
    switch (f) {
        case name:
            return p.name;
        case role:
            return p.peer_link ? "peer-link" : "data";
        case device:
            return p.device;
        case port_id:
            return p.port_id;
        case link:
            return p.link_up ? "up" : "down";
        case speed_mbps:
            return p.speed_mbps;
        case mtu:
            return p.mtu;
        case steering:
            return steeringName(p.steering);
        case rx_packets:
            return p.rx_packets;
        case tx_packets:
            return p.tx_packets;
        case rx_bytes:
            return p.rx_bytes;
        case tx_bytes:
            return p.tx_bytes;
        case rx_missed:
            return p.rx_missed;
        case rx_no_mbuf:
            return p.rx_no_mbuf;
        case rx_errors:
            return p.rx_errors;
        case tx_errors:
            return p.tx_errors;
    }
    std::abort();  // a value outside the enum: cannot happen
}

nlohmann::json portStatusJson(const PortStatus& p) {
    return status::objectJson<status::PortField>(status::kPortFields, p, portStatusValue);
}

nlohmann::json appUsageValue(status::AppField f, const AppUsage& a) {
    using enum status::AppField;
    switch (f) {
        case protocol:
            return appProtocolName(a.proto);
        case name:
            return std::string(a.name.view());
        case sessions:
            return a.sessions;
        case denied:
            return a.denied;
    }
    std::abort();  // a value outside the enum: cannot happen
}

nlohmann::json appUsageJson(const AppUsage& a) {
    return status::objectJson<status::AppField>(status::kAppFields, a, appUsageValue);
}

}  // namespace tandem
