// SyncSender: the window of one peer's reliable stream.
#include "ha/sync_sender.h"

#include <doctest/doctest.h>

namespace tandem {
namespace {

void fill(SyncSender& s, int n, bool bulk = false) {
    for (int i = 0; i < n; ++i) {
        OutMessage m;
        m.bytes = std::string(100, 'x');
        m.bulk = bulk;
        m.tokens.push_back(DeferRef{0, uint32_t(s.nextSeq())});
        s.push(std::move(m));
    }
}

size_t pump(SyncSender& s, uint64_t now, size_t inflight, std::vector<uint64_t>* sent,
            uint64_t* resent) {
    return s.pump(
        now, inflight,
        [&](const OutMessage& m) {
            sent->push_back(m.seq);
            return true;
        },
        resent);
}

TEST_CASE("a new stream numbers messages from one and keeps them until acknowledged") {
    SyncSender s;
    s.reset(42);
    CHECK(s.stream() == 42);
    CHECK(s.nextSeq() == 1);
    fill(s, 5);
    CHECK(s.windowMessages() == 5);
    CHECK(s.windowBytes() == 500);
    std::vector<uint64_t> acked_tokens;
    CHECK(s.ack(3, [&](const OutMessage& m) { acked_tokens.push_back(m.tokens[0].token); }) == 3);
    CHECK(acked_tokens == std::vector<uint64_t>{1, 2, 3});
    CHECK(s.ackedSeq() == 3);
    CHECK(s.windowMessages() == 2);
    CHECK(s.ack(2, [](const OutMessage&) {}) == 0);  // old
    CHECK(s.ack(9, [](const OutMessage&) {}) == 0);  // never sent
}

TEST_CASE("no more than the in-flight limit is on the wire unacknowledged") {
    SyncSender s;
    s.reset(1);
    fill(s, 10);
    std::vector<uint64_t> sent;
    uint64_t resent = 0;
    CHECK(pump(s, 100, 4, &sent, &resent) == 4);
    CHECK(pump(s, 100, 4, &sent, &resent) == 0);
    s.ack(2, [](const OutMessage&) {});
    CHECK(pump(s, 200, 4, &sent, &resent) == 2);
    CHECK(sent == std::vector<uint64_t>{1, 2, 3, 4, 5, 6});
    CHECK(resent == 0);
}

TEST_CASE("a refused send stops the pump and is tried again later") {
    SyncSender s;
    s.reset(1);
    fill(s, 3);
    uint64_t resent = 0;
    int calls = 0;
    CHECK(s.pump(
              0, 10, [&](const OutMessage&) { return ++calls < 2; }, &resent) == 1);
    std::vector<uint64_t> sent;
    CHECK(pump(s, 1, 10, &sent, &resent) == 2);
    CHECK(sent == std::vector<uint64_t>{2, 3});
}

TEST_CASE("a nack resends from the missing message and acknowledges what came before") {
    SyncSender s;
    s.reset(1);
    fill(s, 6);
    std::vector<uint64_t> sent;
    uint64_t resent = 0;
    pump(s, 0, 10, &sent, &resent);
    int acked = 0;
    CHECK(s.nack(4, [&](const OutMessage&) { ++acked; }) == SyncSender::NackOutcome::resend);
    CHECK(acked == 3);
    sent.clear();
    pump(s, 10, 10, &sent, &resent);
    CHECK(sent == std::vector<uint64_t>{4, 5, 6});
    CHECK(resent == 3);
    CHECK(s.nack(9, [](const OutMessage&) {}) == SyncSender::NackOutcome::stale);
    CHECK(s.nack(2, [](const OutMessage&) {}) == SyncSender::NackOutcome::unrepairable);
}

TEST_CASE("the oldest message unacknowledged past the timeout sends the window again") {
    SyncSender s;
    s.reset(1);
    fill(s, 2);
    std::vector<uint64_t> sent;
    uint64_t resent = 0;
    pump(s, 1000, 10, &sent, &resent);
    CHECK_FALSE(s.checkTimeout(50000, 100000));
    CHECK(s.lagUs(50000) == 49000);
    CHECK(s.checkTimeout(101000, 100000));
    sent.clear();
    pump(s, 101000, 10, &sent, &resent);
    CHECK(sent == std::vector<uint64_t>{1, 2});
    CHECK(s.lagUs(101000) == 100000);  // lag counts from the first send
}

TEST_CASE("the ack timeout follows the measured ack delay, within its bounds") {
    SyncSender s;
    CHECK(s.ackTimeoutUs(100000, 1000000) == 100000);  // nothing measured: the floor
    s.noteAckDelay(1000);
    CHECK(s.ackTimeoutUs(100000, 1000000) == 100000);  // fast acks: still the floor
    for (int i = 0; i < 30; ++i) s.noteAckDelay(150000);
    const uint64_t slow = s.ackTimeoutUs(100000, 1000000);
    CHECK(slow > 150000);  // a peer this slow is waited for
    CHECK(slow < 1000000);
    for (int i = 0; i < 30; ++i) s.noteAckDelay(5000000);
    CHECK(s.ackTimeoutUs(100000, 1000000) == 1000000);  // and never longer than the ceiling
    s.reset(2);
    CHECK(s.ackTimeoutUs(100000, 1000000) == 1000000);  // a new stream, the same link
}

TEST_CASE("each ack timeout doubles the next one until an ack delay is measured again") {
    SyncSender s;
    s.reset(1);
    fill(s, 1);
    std::vector<uint64_t> sent;
    uint64_t resent = 0;
    pump(s, 0, 10, &sent, &resent);
    REQUIRE(s.checkTimeout(100000, s.ackTimeoutUs(100000, 1000000)));
    CHECK(s.ackTimeoutUs(100000, 1000000) == 200000);
    pump(s, 100000, 10, &sent, &resent);
    CHECK_FALSE(s.checkTimeout(250000, s.ackTimeoutUs(100000, 1000000)));
    REQUIRE(s.checkTimeout(300000, s.ackTimeoutUs(100000, 1000000)));
    CHECK(s.ackTimeoutUs(100000, 1000000) == 400000);
    s.noteAckDelay(2000);
    CHECK(s.ackTimeoutUs(100000, 1000000) == 100000);
}

TEST_CASE("bulk bytes are counted apart from live bytes and a reset empties the window") {
    SyncSender s;
    s.reset(1);
    fill(s, 2, true);
    fill(s, 1, false);
    CHECK(s.bulkBytes() == 200);
    CHECK(s.windowBytes() == 300);
    s.ack(1, [](const OutMessage&) {});
    CHECK(s.bulkBytes() == 100);
    s.reset(2);
    CHECK(s.windowBytes() == 0);
    CHECK(s.bulkBytes() == 0);
    CHECK(s.nextSeq() == 1);
    CHECK(s.ackedSeq() == 0);
}

}  // namespace
}  // namespace tandem
