#include "daemon/policy_reload.h"

#include <chrono>

#include "core/log.h"

namespace tandem {

namespace {

constexpr const char* kLog = "tandemd";
// Workers take a new policy between bursts, within a loop iteration.
constexpr uint32_t kSwapTimeoutMs = 2000;

// What a reload does not apply: the summary of everything but [policy].
std::string outsidePolicy(Config c) {
    c.rules.clear();
    c.policy_reevaluate = true;
    return describeConfig(c);
}

int64_t wallMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

PolicyReloader::PolicyReloader(const Config& running, DataplaneQueries& dataplane, Applied applied)
    : running_(running), dataplane_(dataplane), applied_(std::move(applied)) {
    status_.rules = running.rules.size();
    status_.hash = policyHash(running.rules);
}

PolicyReloadResult PolicyReloader::reload() {
    std::lock_guard lock(mu_);
    PolicyReloadResult r;
    const ConfigLoadResult loaded = loadConfigFile(running_.path);
    for (const ConfigError& e : loaded.errors) r.errors.push_back(e.format());
    std::shared_ptr<const Policy> policy;
    if (loaded.config) {
        // Rules may name only the zones the running ports have.
        std::string error;
        policy = Policy::compile(loaded.config->rules, running_.zones, &error);
        if (!policy) r.errors.push_back(running_.path + ": policy: " + error);
    }
    if (!r.errors.empty()) {
        ++status_.reloads_failed;
        status_.last_error = r.errors.front();
        r.rules = status_.rules;
        r.hash = status_.hash;
        TLOG_WARN(kLog, "%s", describeReload(r).c_str());
        return r;
    }
    const Config& next = *loaded.config;
    r.reevaluate = next.policy_reevaluate;
    r.rules = next.rules.size();
    r.hash = policyHash(next.rules);
    if (!dataplane_.setPolicy(policy, next.policy_reevaluate, kSwapTimeoutMs)) {
        r.notes.push_back("a worker took longer than " + std::to_string(kSwapTimeoutMs) +
                          " ms to switch; it switches after its current work");
    }
    if (applied_) applied_(policy, r.hash);
    if (outsidePolicy(next) != outsidePolicy(running_)) {
        r.notes.push_back(
            "changes outside [policy] are read at start only: restart tandemd "
            "to apply them");
    }
    r.applied = true;
    status_.rules = r.rules;
    status_.hash = r.hash;
    ++status_.reloads;
    status_.last_reload_wall_ms = wallMs();
    status_.last_error.clear();
    TLOG_INFO(kLog, "%s", describeReload(r).c_str());
    return r;
}

PolicyStatus PolicyReloader::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

std::string describeReload(const PolicyReloadResult& r) {
    if (!r.applied) {
        std::string s = "policy not reloaded (" + std::to_string(r.errors.size()) +
                        (r.errors.size() == 1 ? " error" : " errors") +
                        "; the running policy is unchanged):";
        for (const std::string& e : r.errors) s += "\n  " + e;
        return s;
    }
    std::string s = "policy reloaded: " + std::to_string(r.rules) +
                    (r.rules == 1 ? " rule" : " rules") + ", hash " + policyHashText(r.hash) +
                    (r.reevaluate ? "; running sessions are re-evaluated"
                                  : "; running sessions keep going (re-evaluate = false)");
    for (const std::string& n : r.notes) s += "\n  note: " + n;
    return s;
}

}  // namespace tandem
