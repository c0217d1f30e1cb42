// Control requests through the daemon's own request handling: the control
// server's parser and limits, the command table, and every command handler
// (src/daemon/control_commands.cpp, the code tandemd runs), answered from a
// real HA agent (not started: no thread, no sockets) and a dataplane
// stand-in whose pipeline and session table are real and hold a few flows.
// Properties: every request gets one JSON reply with "ok"; a refused one
// says why.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <fstream>
#include <memory>
#include <optional>

#include "cluster/cluster_view.h"
#include "config/config.h"
#include "control/control_server.h"
#include "core/clock.h"
#include "daemon/control_commands.h"
#include "daemon/policy_reload.h"
#include "dataplane/dataplane.h"
#include "fixtures/frame_builder.h"
#include "fuzz_input.h"
#include "ha/ha_agent.h"
#include "ha/ha_transport.h"
#include "policy/policy.h"

using namespace tandem;

namespace {

const char* kConfig = R"([node]
id = 1
name = fw-a
cluster-id = 10
[dataplane]
session-capacity = 1024
[port.inside]
device = net_null0
zone = inside
[port.outside]
device = net_null1
zone = outside
[port.ha3]
device = net_null2
[peer.2]
name = fw-b
ha-address = tcp://10.255.0.2:7400
link-address = 02:00:0a:ff:00:02
[ha]
insecure = true
listen = tcp://10.255.0.1:7400
peer-link-port = ha3
[policy]
rule = allow name web-out from inside to outside proto tcp dport 80,443
rule = allow name dns-out from inside to outside proto udp dport 53
rule = deny name default log
)";

// An HA transport that reaches nobody: the agent is asked, never stepped.
class Nowhere final : public HaTransport {
  public:
    bool send(NodeId, HaChannel, std::string_view) override { return false; }
    bool poll(TransportEvent*) override { return false; }
    void wait(uint64_t) override {}
    bool authenticates() const override { return false; }
    std::vector<CounterValue> counters() const override { return {}; }
};

// The dataplane's answers from one real pipeline and its session table.
class OneWorker final : public DataplaneQueries {
  public:
    OneWorker(const Config& cfg, std::shared_ptr<const Policy> policy) : table_(1024, 0) {
        PipelineSettings s;
        s.node = cfg.node.id;
        s.port_count = 2;
        s.ports[0] = {0, 1};
        s.ports[1] = {1, 0};
        pipe_ = std::make_unique<Pipeline>(s, table_, std::move(policy));
        for (uint16_t i = 0; i < 8; ++i) {
            auto syn = test::FrameBuilder::tcp("10.0.1.10", uint16_t(40000 + i), "192.0.2.80",
                                               i % 2 ? 443 : 80, kTcpSyn)
                           .build();
            pipe_->process(syn.data(), uint16_t(syn.size()), 0, 1000);
        }
        auto dns = test::FrameBuilder::udp("10.0.1.10", 5353, "192.0.2.53", 53).build();
        pipe_->process(dns.data(), uint16_t(dns.size()), 0, 1000);
    }

    DataplaneStatus status() const override {
        DataplaneStatus st;
        st.workers = 1;
        for (const char* name : {"inside", "outside"}) {
            PortStatus p;
            p.name = name;
            p.device = "net_null";
            p.link_up = true;
            st.ports.push_back(p);
        }
        for (size_t c = 0; c < kPipelineCounterCount; ++c) {
            st.pipeline.push_back({std::string(kPipelineCounterInfo[c].name),
                                   std::string(kPipelineCounterInfo[c].help),
                                   pipe_->counters().get(PipelineCounter(c))});
        }
        st.sessions = table_.size();
        st.session_capacity = table_.capacity();
        st.sessions_by_worker = {table_.size()};
        return st;
    }

    bool sessions(const SessionFilter& filter, std::optional<uint64_t> id, size_t max, uint32_t,
                  std::vector<SessionSnapshot>* out, bool* truncated) const override {
        *truncated = false;
        for (uint32_t i = 0; i < table_.capacity(); ++i) {
            if (!table_.inUse(i) || (id && *id != i)) continue;
            if (!id && !sessionMatches(table_.at(i), filter)) continue;
            if (out->size() == max) return *truncated = true;
            out->push_back({i, table_.at(i), int64_t(table_.at(i).expires_ms) - 1000});
        }
        return true;
    }

    bool applications(uint32_t, std::vector<AppUsage>* out) const override {
        AppUsageTally tally(table_);
        tally.start(pipe_->settings().node);
        while (!tally.step(4096)) {
        }
        out->assign(AppUsageTally::kMaxTop, AppUsage());
        out->resize(tally.top(out->data(), out->size()));
        return true;
    }

    // Clearing would change what later inputs see; answer as if done.
    bool clearSessions(const SessionFilter&, std::optional<uint64_t>, uint32_t,
                       uint64_t* cleared) override {
        *cleared = 0;
        return true;
    }

    std::shared_ptr<const Policy> policy() const override { return pipe_->policyPtr(); }

    bool setPolicy(std::shared_ptr<const Policy> policy, bool end_denied, uint32_t) override {
        pipe_->setPolicy(std::move(policy), end_denied);
        while (pipe_->runJobs(1000, 1024)) {
        }
        return true;
    }

  private:
    SessionTable table_;
    std::unique_ptr<Pipeline> pipe_;
};

struct Daemon {
    Config cfg;
    MonotonicClock clock;
    Nowhere transport;
    WorkerChannel channel{64, 64};
    ClusterViewCell view;
    std::unique_ptr<HaAgent> ha;
    std::unique_ptr<OneWorker> dp;
    ControlServer server;

    std::unique_ptr<PolicyReloader> reloader;

    Daemon() {
        // A file, so that `request policy reload` reads it again.
        char dir[] = "/tmp/tandem-fuzz-control-XXXXXX";
        if (!mkdtemp(dir)) fuzz::fail("no temporary directory");
        const std::string path = std::string(dir) + "/tandem.conf";
        std::ofstream(path) << kConfig;
        ConfigLoadResult r = loadConfigFile(path);
        if (!r.config) fuzz::fail("the fuzz target's own config does not load");
        cfg = std::move(*r.config);
        ha = std::make_unique<HaAgent>(cfg, clock, transport, std::vector<WorkerChannel*>{&channel},
                                       view);
        std::string error;
        auto policy = Policy::compile(cfg.rules, cfg.zones, &error);
        if (!policy) fuzz::fail("the fuzz target's own rules do not compile");
        dp = std::make_unique<OneWorker>(cfg, std::move(policy));
        reloader = std::make_unique<PolicyReloader>(cfg, *dp, nullptr);
        registerControlCommands(server, cfg, *dp, ha.get(), *reloader);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static Daemon* daemon = new Daemon();  // lives for the whole run
    const std::string request(reinterpret_cast<const char*>(data), size);
    const std::string reply = daemon->server.handle(request);
    const nlohmann::json j = nlohmann::json::parse(reply, nullptr, false);
    FUZZ_CHECK(!j.is_discarded() && j.is_object());
    FUZZ_CHECK(j.contains("ok") && j["ok"].is_boolean());
    if (!j["ok"].get<bool>()) {
        FUZZ_CHECK(j.contains("error") && j["error"].is_string());
        FUZZ_CHECK(!j["error"].get<std::string>().empty());
    }
    return 0;
}
