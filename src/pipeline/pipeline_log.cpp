// The traffic log side of the pipeline: one fixed-size record per start or
// end of a logged session, pushed on the worker's ring to the logger thread.
#include "pipeline/pipeline.h"

namespace tandem {

void Pipeline::pushTrafficLog(TrafficLogEvent event, TrafficEndReason reason, uint32_t index,
                              uint32_t now_ms) {
    const Session& s = table_.at(index);
    TrafficLogRecord r;
    r.event = event;
    r.reason = reason;
    r.worker = settings_.worker;
    r.now_ms = now_ms;
    r.session_id = uint64_t(settings_.worker) * table_.capacity() + index;
    if (s.ingress_port < settings_.port_count) {
        const PipelinePort& in = settings_.ports[s.ingress_port];
        r.from_zone = in.zone;
        if (in.egress < settings_.port_count) r.to_zone = settings_.ports[in.egress].zone;
    }
    r.session = s;
    r.nat = table_.nat(index);
    r.app = table_.app(index);
    if (r.app.status == AppStatus::identified) {
        r.app_name.assign(table_.appName(index));
    }
    if (!settings_.traffic_log->push(r)) counters_.inc(PipelineCounter::traffic_log_dropped);
}

}  // namespace tandem
