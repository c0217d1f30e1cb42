// The HA message decoders on any bytes. Two decoders read SESSION_BATCH:
// the in-place one (this build's exact layout) and the generic one (every
// valid layout, and the reason for each rejection); decodeHaMessage() tries
// the first and falls back to the second. Properties:
//  - whenever the in-place decoder accepts, the generic one accepts the same
//    bytes and decodes the same message;
//  - a decoded message re-encodes to bytes that decode to the same message;
//  - every record of a decoded batch passes haRecordValid().
#include <string>

#include "fuzz_input.h"
#include "proto/ha_messages.h"
#include "proto/ha_session_record.h"
#include "proto/ha_wire_reader.h"

using namespace tandem;

namespace {

const HaDecodeExpect kExpect{7, 1};

std::string reencoded(const HaMessage& m) {
    return encodeHaMessage(m.envelope, m.body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    HaMessage direct, generic, m;
    const bool in_place = ha_wire::decodeSessionBatchDirect(data, size, kExpect, &direct);
    const HaDecodeResult g = ha_wire::decodeHaMessageGeneric(data, size, kExpect, &generic);
    const HaDecodeResult r = decodeHaMessage(data, size, kExpect, &m);
    FUZZ_CHECK(size_t(r) < kHaDecodeResultCount && size_t(g) < kHaDecodeResultCount);
    if (in_place) {
        FUZZ_CHECK(g == HaDecodeResult::ok);
        FUZZ_CHECK(reencoded(direct) == reencoded(generic));
    }
    FUZZ_CHECK((r == HaDecodeResult::ok) == (in_place || g == HaDecodeResult::ok));
    HaEnvelope env;
    peekHaEnvelope(data, size, &env);
    if (r != HaDecodeResult::ok) return 0;

    if (const auto* batch = std::get_if<HaSessionBatch>(&m.body)) {
        for (const HaSessionRecord& rec : batch->records) FUZZ_CHECK(haRecordValid(rec));
    }
    const std::string again = reencoded(m);
    HaMessage m2;
    FUZZ_CHECK(decodeHaMessage(reinterpret_cast<const uint8_t*>(again.data()), again.size(),
                               kExpect, &m2) == HaDecodeResult::ok);
    FUZZ_CHECK(reencoded(m2) == again);
    return 0;
}
