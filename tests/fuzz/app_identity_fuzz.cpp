// The application identity readers (TLS SNI, HTTP Host, DNS query name) on
// any bytes. Properties: a name found is canonical; for the stream readers
// (TLS, HTTP) a name found in a prefix of the stream is the name the whole
// stream gives (more bytes never change an answer once found), and a prefix
// never says "not this protocol" of a stream that turns out to be it.
#include <string>

#include "fuzz_input.h"
#include "packet/app_identity.h"

using namespace tandem;

namespace {

using Reader = AppParse (*)(const uint8_t*, size_t, AppName*);

void checkFound(AppParse r, const AppName& n) {
    if (r != AppParse::found) return;
    AppName again;
    FUZZ_CHECK(n.len > 0 && canonicalAppName(n.view(), &again) && again.view() == n.view());
}

void checkStream(Reader read, const uint8_t* data, size_t size, size_t cut) {
    AppName whole, part;
    const AppParse rw = read(data, size, &whole);
    checkFound(rw, whole);
    const AppParse rp = read(data, cut, &part);
    checkFound(rp, part);
    if (rp == AppParse::found) {
        FUZZ_CHECK(rw == AppParse::found && whole.view() == part.view());
    }
    if (rp == AppParse::not_this) FUZZ_CHECK(rw == AppParse::not_this);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    const size_t cut_at = in.take<uint16_t>();
    const std::string_view rest = in.rest();
    const auto* p = reinterpret_cast<const uint8_t*>(rest.data());
    const size_t cut = rest.empty() ? 0 : cut_at % (rest.size() + 1);
    checkStream(parseTlsSni, p, rest.size(), cut);
    checkStream(parseHttpHost, p, rest.size(), cut);
    AppName n;
    checkFound(parseDnsQueryName(p, rest.size(), &n), n);
    return 0;
}
