// DPDK's EAL for a unit test that drives real (virtual) DPDK devices: one
// per process, memory from the heap in 4 KiB pages (--no-huge), no shared
// config files, no PCI, lcore 0 only. It is cleaned up, and the empty
// runtime folder that --no-shconf leaves is removed, when the process exits.
#pragma once

#include <rte_eal.h>

#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace tandem::test {

/// Starts the EAL as `program` with the virtual device `vdev` (devargs);
/// false when DPDK refuses.
inline bool startTestEal(const std::string& program, const std::string& vdev) {
    std::vector<std::string> args = {program,
                                     "--no-huge",
                                     "--no-pci",
                                     "-m",
                                     "64",
                                     "--no-shconf",
                                     "--file-prefix=" + program,
                                     "--no-telemetry",
                                     "--vdev=" + vdev,
                                     "--log-level=error",
                                     "-l",
                                     "0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(int(argv.size()), argv.data()) < 0) return false;
    static std::string runtime_dir = rte_eal_get_runtime_dir();
    std::atexit([] {
        rte_eal_cleanup();
        rmdir(runtime_dir.c_str());
    });
    return true;
}

}  // namespace tandem::test
