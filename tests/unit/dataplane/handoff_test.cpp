// A burst and the hand-off between workers, with small integers standing in
// for mbufs: which frames stay, which leave for which worker in what order,
// and how frames taken off a ring are batched for the pipeline.
#include "dataplane/handoff.h"

#include <doctest/doctest.h>

#include <deque>
#include <utility>
#include <vector>

using namespace tandem;

namespace {

using Burst = BurstOf<uintptr_t>;
using Handoff = HandoffOf<uintptr_t>;

// Frame i's single byte names the worker that holds its flow.
struct Frames {
    uint8_t bytes[Burst::kMax] = {};
    void fill(Burst& b, const std::vector<uint8_t>& workers, uint16_t port = 0,
              const std::vector<PeerOrigin>& senders = {}) {
        b.reset(port, !senders.empty());
        for (size_t i = 0; i < workers.size(); ++i) {
            bytes[i] = workers[i];
            b.push(100 + i, &bytes[i], uint16_t(60 + i),
                   senders.empty() ? PeerOrigin{} : senders[i]);
        }
    }
};

std::vector<uintptr_t> framesOf(const Burst& b) {
    return std::vector<uintptr_t>(b.frames, b.frames + b.n);
}

}  // namespace

TEST_CASE("a burst from a data port is one run - from the peer link, one run per sender") {
    Burst b;
    Frames f;
    f.fill(b, {0, 0, 0});
    std::vector<std::pair<uint16_t, uint16_t>> runs;
    b.forEachSenderRun([&](uint16_t first, uint16_t n, const PeerOrigin& s) {
        CHECK(s.node == kNoNode);
        runs.emplace_back(first, n);
    });
    CHECK(runs == std::vector<std::pair<uint16_t, uint16_t>>{{0, 3}});

    const PeerOrigin a{2, ForwardReason::owner_elsewhere, 2};
    const PeerOrigin a_new{2, ForwardReason::new_flow, 2};
    const PeerOrigin c{3, ForwardReason::owner_elsewhere, 2};
    f.fill(b, {0, 0, 0, 0, 0}, 1, {a, a, a_new, c, a});
    runs.clear();
    std::vector<PeerOrigin> senders;
    b.forEachSenderRun([&](uint16_t first, uint16_t n, const PeerOrigin& s) {
        runs.emplace_back(first, n);
        senders.push_back(s);
    });
    // Another reason from the same node is another run: the pipeline takes one of each.
    CHECK(runs == std::vector<std::pair<uint16_t, uint16_t>>{{0, 2}, {2, 1}, {3, 1}, {4, 1}});
    CHECK(senders == std::vector<PeerOrigin>{a, a_new, c, a});
    CHECK(b.origin(3) == c);
}

TEST_CASE("frames of this worker stay in order - the others leave grouped by worker") {
    Burst b;
    Frames f;
    f.fill(b, {0, 2, 1, 0, 2, 2, 1, 0}, 3);
    std::vector<std::pair<uint32_t, uintptr_t>> passed;
    std::vector<uint16_t> asked_lens;
    const uint16_t kept = splitForWorkers(
        b, 0,
        [&](const uint8_t* data, uint16_t len) {
            asked_lens.push_back(len);
            return uint32_t(*data);
        },
        [&](uint32_t to, const Handoff& h) {
            CHECK(h.port == 3);
            CHECK(h.sender.node == kNoNode);
            passed.emplace_back(to, h.frame);
        });
    CHECK(asked_lens == std::vector<uint16_t>{60, 61, 62, 63, 64, 65, 66, 67});  // once each
    CHECK(kept == 3);
    CHECK(framesOf(b) == std::vector<uintptr_t>{100, 103, 107});
    // The bytes and lengths moved with their frames.
    CHECK(b.lens[1] == 63);
    CHECK(b.data[2] == &f.bytes[7]);
    // Worker 2 first (its frame came first), each worker's frames in burst order.
    CHECK(passed == std::vector<std::pair<uint32_t, uintptr_t>>{
                        {2, 101}, {2, 104}, {2, 105}, {1, 102}, {1, 106}});
}

TEST_CASE("a forwarded frame handed to another worker keeps its sender") {
    Burst b;
    Frames f;
    const PeerOrigin a{2, ForwardReason::owner_elsewhere, 4};
    const PeerOrigin c{3, ForwardReason::to_director, 3};
    f.fill(b, {1, 0, 1}, 2, {a, c, c});
    std::vector<Handoff> passed;
    splitForWorkers(
        b, 0, [](const uint8_t* data, uint16_t) { return uint32_t(*data); },
        [&](uint32_t, const Handoff& h) { passed.push_back(h); });
    REQUIRE(passed.size() == 2);
    CHECK(passed[0].frame == 100);
    CHECK(passed[0].sender == a);
    CHECK(passed[0].port == 2);
    CHECK(passed[1].sender == c);
    REQUIRE(b.n == 1);
    CHECK(b.frames[0] == 101);
    CHECK(b.senders[0] == c);
    CHECK(b.from_peer);
}

TEST_CASE("a burst all for this worker is left as it is") {
    Burst b;
    Frames f;
    f.fill(b, {1, 1, 1}, 0);
    int passed = 0;
    CHECK(splitForWorkers(
              b, 1, [](const uint8_t* data, uint16_t) { return uint32_t(*data); },
              [&](uint32_t, const Handoff&) { ++passed; }) == 3);
    CHECK(passed == 0);
    CHECK(framesOf(b) == std::vector<uintptr_t>{100, 101, 102});
}

TEST_CASE("frames taken off a ring are processed in runs of one port, one way in") {
    const PeerOrigin a{2, ForwardReason::owner_elsewhere, 2};
    uint8_t byte = 0;
    std::deque<Handoff> ring = {
        {1, 0, {}}, {2, 0, {}}, {3, 1, {}}, {4, 1, a}, {5, 1, a}, {6, 1, {}}, {7, 1, {}},
    };
    Burst b;
    struct Run {
        uint16_t port;
        bool from_peer;
        std::vector<uintptr_t> frames;
        bool operator==(const Run&) const = default;
    };
    std::vector<Run> runs;
    auto pop = [&](Handoff* h) {
        if (ring.empty()) return false;
        *h = ring.front();
        ring.pop_front();
        return true;
    };
    auto bytes = [&](uintptr_t f) { return FrameBytes{&byte, uint16_t(f)}; };
    auto process = [&](const Burst& run) {
        runs.push_back(Run{run.port, run.from_peer, framesOf(run)});
        for (uint16_t i = 0; i < run.n; ++i) CHECK(run.lens[i] == run.frames[i]);
        if (run.from_peer) CHECK(run.senders[0] == a);
    };
    CHECK(takeHandoffs(b, 6, pop, bytes, process) == 6);  // at most `max`
    CHECK(runs == std::vector<Run>{
                      {0, false, {1, 2}}, {1, false, {3}}, {1, true, {4, 5}}, {1, false, {6}}});
    CHECK(ring.size() == 1);  // left for the next poll
    runs.clear();
    CHECK(takeHandoffs(b, 6, pop, bytes, process) == 1);
    CHECK(runs == std::vector<Run>{{1, false, {7}}});
    runs.clear();
    CHECK(takeHandoffs(b, 6, pop, bytes, process) == 0);
    CHECK(runs.empty());
}
