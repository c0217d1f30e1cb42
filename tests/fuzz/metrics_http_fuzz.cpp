// The metrics server's request-head reader on any bytes, with a small and a
// large limit: a complete head's request line is made of what was sent, and
// it does not change when more bytes follow.
#include "control/metrics_http_server.h"
#include "fuzz_input.h"

using namespace tandem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::FuzzInput in(data, size);
    const size_t limit = in.take<uint8_t>() & 1 ? 64 : 8192;
    const std::string_view head = in.rest();
    HttpRequestHead out;
    const HttpHeadStatus st = parseHttpRequestHead(head, limit, &out);
    if (st == HttpHeadStatus::complete) {
        FUZZ_CHECK(out.method.size() + out.target.size() + out.version.size() <= head.size());
        FUZZ_CHECK(head.find(out.method) != std::string_view::npos);
        FUZZ_CHECK(head.find(out.target) != std::string_view::npos);
    }
    // A client may send the head in any number of writes: when a prefix of
    // it is already complete, it is the same request.
    if (st == HttpHeadStatus::complete && head.size() > 1) {
        HttpRequestHead first;
        if (parseHttpRequestHead(head.substr(0, head.size() / 2), limit, &first) ==
            HttpHeadStatus::complete) {
            FUZZ_CHECK(first.method == out.method && first.target == out.target &&
                       first.version == out.version);
        }
    }
    return 0;
}
