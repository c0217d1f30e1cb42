// Policy reloads on the pipeline's side: the swap and the re-evaluation of
// the sessions this node owns (a table job, in bounded steps between bursts).
#include "pipeline/pipeline.h"
#include "session/session_filter.h"

namespace tandem {

namespace {

constexpr uint8_t kIcmpEchoRequest = 8, kIcmpV6EchoRequest = 128;

}  // namespace

// Sessions of ICMP are echo exchanges (errors belong to the flows they are
// about), so their first packet was an echo request.
bool Pipeline::sessionPolicyQuery(const Session& s, PolicyQuery* q) const {
    if (s.ingress_port >= settings_.port_count) return false;
    const PipelinePort& in = settings_.ports[s.ingress_port];
    const uint16_t to_zone =
        in.egress < settings_.port_count ? settings_.ports[in.egress].zone : in.zone;
    const SessionEndpoints e = endpointsOf(s);
    const uint8_t icmp_type = s.key_proto == kProtoIcmpV6 ? kIcmpV6EchoRequest : kIcmpEchoRequest;
    *q = flowPolicyQuery(in.zone, to_zone, s.key_family, e.src, e.dst, s.key_proto, e.sport,
                         e.dport, icmp_type);
    return true;
}

void Pipeline::setPolicy(std::shared_ptr<const Policy> policy, bool end_denied) {
    policy_ = std::move(policy);
    Job* slot = nullptr;
    for (Job& j : jobs_) {
        if (j.active && j.kind == AgentCommandKind::reevaluate_policy) {
            slot = &j;  // an earlier reload's walk: start it again for this one
            break;
        }
        if (!j.active && !slot) slot = &j;
    }
    if (!slot) {
        counters_.inc(PipelineCounter::jobs_refused);  // cannot happen: see kMaxJobs
        return;
    }
    *slot = Job();
    slot->kind = AgentCommandKind::reevaluate_policy;
    slot->active = true;
    slot->end_denied = end_denied;
}

// One entry of a re-evaluation. Returns false (nothing changed) when the
// ring to the agent has no room for what the change must replicate.
bool Pipeline::stepReevaluate(uint32_t index, bool end_denied, uint32_t now_ms) {
    Session& s = table_.at(index);
    if (s.owner != view_.self) return true;  // its owner re-evaluates it
    PolicyQuery q;
    if (!sessionPolicyQuery(s, &q)) {
        counters_.inc(PipelineCounter::sessions_not_reevaluated);
        return true;
    }
    PolicyVerdict pv = verdictNow(index, q);
    if (table_.app(index).status == AppStatus::pending && pv.app) {
        pv.action = RuleAction::allow;  // still decided by its first payload
    } else if (s.flags & kSessionAppPending) {
        // The rules that waited for its first payload are gone: decided now.
        s.flags &= uint8_t(~kSessionAppPending);
        table_.setApp(index, AppProtocol::none, AppStatus::none, {});
    }
    const bool room = !settings_.events || settings_.events->freeSlots() >= 1;
    if (pv.action == RuleAction::allow) {
        const uint8_t flags =
            pv.log ? uint8_t(s.flags | kSessionLog) : uint8_t(s.flags & ~kSessionLog);
        if (pv.rule == s.rule && flags == s.flags) return true;
        if (!room) return false;
        s.rule = pv.rule;
        s.flags = flags;
        ++s.version;
        counters_.inc(PipelineCounter::sessions_rule_changed);
        emit(WorkerEventKind::upsert, index, now_ms);
        return true;
    }
    if (!end_denied) {
        if (s.rule == kRuleOfEarlierPolicy) return true;
        if (!room) return false;
        s.rule = kRuleOfEarlierPolicy;
        ++s.version;
        counters_.inc(PipelineCounter::sessions_rule_retired);
        emit(WorkerEventKind::upsert, index, now_ms);
        return true;
    }
    if (!room) return false;
    counters_.inc(PipelineCounter::sessions_ended_by_policy);
    emit(WorkerEventKind::erase, index, now_ms);
    logEnd(index, TrafficEndReason::policy, now_ms);
    table_.erase(index);
    return true;
}

}  // namespace tandem
