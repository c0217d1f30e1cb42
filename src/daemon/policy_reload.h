// Policy reloads: `request policy reload`, SIGHUP and `systemctl reload`
// all come here. The config file is read again and checked as at start
// (the same FILE:LINE errors); only its [policy] section is applied. The new
// rules are compiled against the running zones, handed to every worker
// (DataplaneQueries::setPolicy: a swap between bursts, then each node
// re-evaluates the sessions it owns), and reported to whoever keeps names
// or hashes of them (the traffic log, the HA agent). A file with any error
// changes nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "dataplane/dataplane.h"

namespace tandem {

struct PolicyReloadResult {
    bool applied = false;
    std::vector<std::string> errors;  ///< FILE:LINE: what; nothing was applied
    std::vector<std::string> notes;   ///< applied, and what the operator should know
    size_t rules = 0;                 ///< of the policy in force afterwards
    uint64_t hash = 0;                ///< policyHash() of it
    bool reevaluate = true;           ///< [policy] re-evaluate of the reload
};

/// The policy in force and the reloads so far, for status and metrics.
struct PolicyStatus {
    size_t rules = 0;
    uint64_t hash = 0;
    uint64_t reloads = 0;             ///< applied
    uint64_t reloads_failed = 0;      ///< refused: errors in the file
    int64_t last_reload_wall_ms = 0;  ///< 0: never reloaded
    std::string last_error;           ///< of the last refused reload ("" after an applied one)
};

class PolicyReloader {
  public:
    /// Told of each applied policy (control thread; before reload() returns).
    using Applied = std::function<void(const std::shared_ptr<const Policy>&, uint64_t hash)>;

    /// `running`: the config tandemd started with (its file is the one read
    /// again; its zones are the ones rules may name). All referenced objects
    /// must outlive the reloader.
    PolicyReloader(const Config& running, DataplaneQueries& dataplane, Applied applied);

    /// Reads, checks and applies; one at a time (serialised inside).
    PolicyReloadResult reload();

    PolicyStatus status() const;

  private:
    const Config& running_;
    DataplaneQueries& dataplane_;
    Applied applied_;
    mutable std::mutex mu_;
    PolicyStatus status_;
};

/// Worded for the log and the shell: what a reload did, or why it did not.
std::string describeReload(const PolicyReloadResult& r);

}  // namespace tandem
