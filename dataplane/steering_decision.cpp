#include "dataplane/steering_decision.h"

#include <algorithm>

namespace tandem {
namespace {

std::string portName(const PortRssCapability& p) {
    return "port '" + p.name + "' (" + p.device + ")";
}

void add(std::string* out, const std::string& what) {
    if (!out->empty()) *out += "; ";
    *out += what;
}

}  // namespace

std::string rssShortcomings(const PortRssCapability& p, unsigned workers) {
    std::string out;
    if (p.hash_key_size != kRssKeyBytes) {
        add(&out, "no settable " + std::to_string(kRssKeyBytes) +
                      "-byte RSS key (the device takes " + std::to_string(p.hash_key_size) + ")");
    }
    if (!p.toeplitz) add(&out, "no Toeplitz hash");
    if ((p.flows & kRssFlowsNeeded) != kRssFlowsNeeded) {
        static constexpr struct {
            uint8_t bit;
            const char* name;
        } kFlows[] = {{kRssIpv4Tcp, "ipv4-tcp"},
                      {kRssIpv4Udp, "ipv4-udp"},
                      {kRssIpv6Tcp, "ipv6-tcp"},
                      {kRssIpv6Udp, "ipv6-udp"}};
        std::string missing;
        for (const auto& f : kFlows) {
            if (!(p.flows & f.bit)) missing += std::string(missing.empty() ? "" : ", ") + f.name;
        }
        add(&out, "no RSS over " + missing);
    }
    if (p.reta_size == 0) {
        add(&out, "no redirection table");
    } else if (p.reta_size < workers) {
        add(&out, "a redirection table of " + std::to_string(p.reta_size) +
                      " entries, fewer than " + std::to_string(workers) + " workers");
    }
    return out;
}

SteeringDecision decideSteering(SteeringSetting setting, unsigned workers, bool geneve,
                                const std::vector<PortRssCapability>& ports) {
    const bool asked = setting == SteeringSetting::rss;
    auto software = [&](const std::string& why) {
        return SteeringDecision{WorkerMap::software(workers), why};
    };
    auto cannot = [&](const std::string& why) {
        if (asked) return SteeringDecision{std::nullopt, "[dataplane] steering = rss: " + why};
        return software(why);
    };
    if (workers <= 1) return software("one worker: nothing to steer");
    if (setting == SteeringSetting::software) return software("[dataplane] steering = software");
    if (geneve) {
        return cannot("geneve mode: devices hash a tunnel's outer header, not the flows inside it");
    }
    if (ports.empty()) return cannot("no ports");
    for (const PortRssCapability& p : ports) {
        const std::string lacks = rssShortcomings(p, workers);
        if (!lacks.empty()) return cannot(portName(p) + " cannot: " + lacks);
    }
    const auto smallest = std::min_element(
        ports.begin(), ports.end(), [](const PortRssCapability& a, const PortRssCapability& b) {
            return a.reta_size < b.reta_size;
        });
    for (const PortRssCapability& p : ports) {
        if (p.reta_size % smallest->reta_size != 0) {
            return cannot(portName(p) + " has a redirection table of " +
                          std::to_string(p.reta_size) + " entries, not a multiple of " +
                          portName(*smallest) + "'s " + std::to_string(smallest->reta_size));
        }
    }
    return SteeringDecision{
        WorkerMap::rss(workers, smallest->reta_size),
        std::string(asked ? "[dataplane] steering = rss" : "every port can") +
            ": devices hash with the symmetric key over a redirection table of " +
            std::to_string(smallest->reta_size) + " entries"};
}

}  // namespace tandem
