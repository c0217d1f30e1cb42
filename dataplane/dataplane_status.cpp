#include "dataplane/dataplane_status.h"

#include <cstdlib>

#include "core/ip_addr.h"
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

namespace {

std::string addressText(uint32_t v4) {
    return formatIpAddr(IpAddr::fromV4(v4));
}

}  // namespace

nlohmann::json natPoolValue(status::NatPoolField f, const NatPoolUsage& p) {
    using enum status::NatPoolField;
    switch (f) {
        case name:
            return p.name;
        case addresses:
            return addressText(p.spec.first_addr) + "-" + addressText(p.spec.last_addr);
        case ports:
            return std::to_string(p.spec.port_lo) + "-" + std::to_string(p.spec.port_hi);
        case block_size:
            return p.spec.block_size;
        case blocks:
            return p.blocks;
        case blocks_here:
            return p.blocks_here;
        case ports_here:
            return p.ports_here;
        case ports_in_use:
            return p.ports_in_use;
        case exhausted:
            return p.exhausted;
    }
    std::abort();  // a value outside the enum: cannot happen
}

nlohmann::json natPoolJson(const NatPoolUsage& p) {
    return status::objectJson<status::NatPoolField>(status::kNatPoolFields, p, natPoolValue);
}

}  // namespace tandem
