// A port's RSS as rss steering needs it (core/worker_map.h,
// dataplane/steering_decision.h): what the device offers, the settings it
// is configured with, and, once it runs, its redirection table programmed
// and everything read back. DPDK calls only; start-up (main thread) only.
#pragma once

#include <rte_ethdev.h>

#include <string>

#include "core/worker_map.h"
#include "dataplane/steering_decision.h"

namespace tandem {

/// What port `id`'s device offers for RSS, from its driver's `info`.
PortRssCapability rssCapabilityOf(const std::string& name, const std::string& device,
                                  const rte_eth_dev_info& info);

/// Fills `conf` (before rte_eth_dev_configure) for a port with `queues`
/// queues: rss steering: the symmetric key (in `key`, which must outlive
/// the configure call) and RSS over what the device can hash of IPv4, IPv6,
/// TCP and UDP; software steering: RSS with the device's own key where it
/// has any, to spread the load.
void configureRss(const WorkerMap& map, const rte_eth_dev_info& info, unsigned queues,
                  uint8_t (&key)[kRssKeyBytes], rte_eth_conf* conf);

/// rss steering, on a started port: sets the symmetric key again, programs
/// the redirection table (entry i -> map.queueOfEntry(i), over the device's
/// whole table) and reads both back. False, with what went wrong in *why,
/// when the device refused either or reports anything else.
bool programRss(uint16_t id, const WorkerMap& map, std::string* why);

}  // namespace tandem
