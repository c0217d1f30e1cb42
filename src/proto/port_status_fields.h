// The fields of `show interfaces` (one object per port), defined once; see
// proto/status_fields.h for what is built from the table. The getters are in
// dataplane/dataplane_status.cpp, the metrics in src/daemon/metrics_page.cpp
// (label `port` = the port's name), the docs check in
// tests/unit/dataplane/dataplane_status_test.cpp.
//
// Field names are pinned like the control protocol's: never rename or reuse
// one.
//
// Thread-safety: immutable tables.
#pragma once

#include "proto/status_fields.h"

namespace tandem::status {

// X(id, path, type, help, metric, metric kind, scale): see status_fields.h.

/// "interfaces[]": each port, data ports first, then the peer link. The
/// shell shows the counters in one table and the other fields in another,
/// each in this order.
#define TANDEM_PORT_FIELDS(X)                                                                      \
    X(name, "name", text, "The port's name, [port.NAME].", "", none, 1)                            \
    X(role, "role", text, "data, or peer-link for [ha] peer-link-port.", "", none, 1)              \
    X(device, "device", text, "The port's DPDK device, as [port.NAME] device gives it.", "", none, \
      1)                                                                                           \
    X(port_id, "port_id", integer, "The DPDK port id.", "", none, 1)                               \
    X(link, "link", up_down, "Whether the port's link is up.", "tandem_port_link_up", gauge, 1)    \
    X(speed_mbps, "speed_mbps", integer, "The link speed in Mbit/s (0 when unknown).", "", none,   \
      1)                                                                                           \
    X(mtu, "mtu", integer, "The device's IP MTU, as it reports it.", "", none, 1)                  \
    X(steering, "steering", text,                                                                  \
      "How frames received here reach their flow's worker: rss (the device's queue, its key and "  \
      "table programmed by this node) or software (parsed and handed over).",                      \
      "", none, 1)                                                                                 \
    X(rx_packets, "rx_packets", integer, "Frames the port received (driver count).",               \
      "tandem_port_rx_packets_total", counter, 1)                                                  \
    X(tx_packets, "tx_packets", integer, "Frames the port sent (driver count).",                   \
      "tandem_port_tx_packets_total", counter, 1)                                                  \
    X(rx_bytes, "rx_bytes", integer, "Bytes the port received.", "tandem_port_rx_bytes_total",     \
      counter, 1)                                                                                  \
    X(tx_bytes, "tx_bytes", integer, "Bytes the port sent.", "tandem_port_tx_bytes_total",         \
      counter, 1)                                                                                  \
    X(rx_missed, "rx_missed", integer, "Frames the port dropped: receive queue full.",             \
      "tandem_port_rx_missed_total", counter, 1)                                                   \
    X(rx_no_mbuf, "rx_no_mbuf", integer, "Frames lost: no packet buffer free.",                    \
      "tandem_port_rx_no_mbuf_total", counter, 1)                                                  \
    X(rx_errors, "rx_errors", integer, "Receive errors.", "tandem_port_rx_errors_total", counter,  \
      1)                                                                                           \
    X(tx_errors, "tx_errors", integer, "Transmit errors.", "tandem_port_tx_errors_total", counter, \
      1)

enum class PortField : uint8_t { TANDEM_PORT_FIELDS(TANDEM_STATUS_FIELD_ENUM) };
inline constexpr FieldDef kPortFields[] = {TANDEM_PORT_FIELDS(TANDEM_STATUS_FIELD_DEF)};

/// Where the table sits in the answer of `show interfaces`.
inline constexpr StatusObject kInterfacesObjects[] = {{"interfaces", true, kPortFields}};

}  // namespace tandem::status
