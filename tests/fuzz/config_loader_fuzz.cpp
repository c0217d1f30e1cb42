// The config loader on any text, in a directory holding a rules file the
// text may name. Properties: it answers with a config or with errors, never
// both; every error names the file and, when tied to a line, a line the text
// has; an accepted config describes itself.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "fuzz_input.h"

using namespace tandem;

namespace {

std::string makeBaseDir() {
    char dir[] = "/tmp/tandem-fuzz-config-XXXXXX";
    if (!mkdtemp(dir)) return ".";
    std::ofstream(std::string(dir) + "/rules.conf")
        << "allow name web from inside to outside proto tcp dport 80,443\n"
           "deny from outside log\n";
    return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string base = makeBaseDir();
    const std::string text(reinterpret_cast<const char*>(data), size);
    const ConfigLoadResult r = loadConfigText(text, "fuzz.conf", base);
    FUZZ_CHECK(r.config.has_value() == r.errors.empty());
    const unsigned lines = unsigned(std::count(text.begin(), text.end(), '\n')) + 1;
    for (const ConfigError& e : r.errors) {
        FUZZ_CHECK(!e.message.empty());
        FUZZ_CHECK(!e.file.empty());
        if (e.file == "fuzz.conf") FUZZ_CHECK(e.line <= lines);
        FUZZ_CHECK(!e.format().empty());
    }
    if (r.config) FUZZ_CHECK(!describeConfig(*r.config).empty());
    return 0;
}
