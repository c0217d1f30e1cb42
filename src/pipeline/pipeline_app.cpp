// Application identity on the pipeline's side: a session whose first
// matching rule names an application (`app tls sni ...`) passes while its
// first payload is read, and is decided again once that payload names the
// application or cannot (Policy::matchApp). The decision, the rule and the
// name are the session's from then on.
//
// Bounds: the client's first kMaxAppPrefix stream bytes, over at most
// kMaxAppSegments of its payload segments. The first segment is read where
// it lies; only a ClientHello that it does not complete is copied, into one
// of the table's stream buffers, placed by sequence number (out of order
// and repeated segments are fine), until it is complete.
#include "pipeline/pipeline.h"
#include "session/tcp_tracker.h"

namespace tandem {

namespace {

// TCP: TLS first (one byte tells), then HTTP; a prefix either may still
// become waits for more.
AppParse readTcpApp(const uint8_t* data, size_t len, AppName* name, AppProtocol* which) {
    const AppParse tls = parseTlsSni(data, len, name);
    if (tls == AppParse::found) {
        *which = AppProtocol::tls;
        return tls;
    }
    const AppParse http = parseHttpHost(data, len, name);
    if (http == AppParse::found) {
        *which = AppProtocol::http;
        return http;
    }
    if (tls == AppParse::need_more || http == AppParse::need_more) return AppParse::need_more;
    if (tls == AppParse::malformed || http == AppParse::malformed) return AppParse::malformed;
    return AppParse::not_this;
}

// The last `payload_len` bytes of the IP datagram: its L4 payload.
const uint8_t* l4Payload(const uint8_t* frame, const PacketInfo& info, uint16_t payload_len) {
    return frame + info.l3_offset + info.ip_total_len - payload_len;
}

// A UDP datagram's payload length: the IP datagram less its IP and UDP headers.
uint16_t udpPayloadLength(const PacketInfo& info) {
    constexpr uint16_t kUdpHeader = 8;
    return uint16_t(info.ip_total_len - (info.l4_offset - info.l3_offset) - kUdpHeader);
}

}  // namespace

PolicyVerdict Pipeline::firstPacketApp(const Slot& s, const PolicyQuery& q,
                                       const PolicyVerdict& first, AppRead* read) {
    const PacketInfo& info = s.info;
    read->which = AppProtocol::none;
    if (info.proto == kProtoTcp && classifyTcp(info.tcp.flags) == TcpEvent::syn) {
        // Its first payload comes later: the session opens, and the rule
        // that names the application decides nothing until then.
        read->status = AppStatus::pending;
        PolicyVerdict v = first;
        v.action = RuleAction::allow;
        return v;
    }
    read->status = AppStatus::unidentified;
    if (info.proto == kProtoUdp) {
        // A datagram is whole: a DNS query names itself now or never.
        const uint16_t len = udpPayloadLength(info);
        const AppParse r = parseDnsQueryName(l4Payload(s.frame, info, len), len, &read->name);
        if (r == AppParse::found) {
            read->which = AppProtocol::dns;
            read->status = AppStatus::identified;
        }
        countAppOutcome(r == AppParse::need_more ? AppParse::malformed : r, read->which);
    }
    // TCP picked up mid-stream, or another protocol: its start is not here.
    return policy_->matchApp(q, read->which, read->name.view());
}

void Pipeline::countAppOutcome(AppParse r, AppProtocol which) {
    switch (r) {
        case AppParse::found:
            counters_.inc(which == AppProtocol::tls    ? PipelineCounter::app_identified_tls
                          : which == AppProtocol::http ? PipelineCounter::app_identified_http
                                                       : PipelineCounter::app_identified_dns);
            return;
        case AppParse::malformed:
            counters_.inc(PipelineCounter::app_malformed);
            [[fallthrough]];
        case AppParse::not_this:
            counters_.inc(PipelineCounter::app_unidentified);
            return;
        case AppParse::need_more:
            counters_.inc(PipelineCounter::app_gave_up);
            counters_.inc(PipelineCounter::app_unidentified);
            return;
    }
}

void Pipeline::startApp(uint32_t index, const Slot& s, const AppRead& read) {
    Session& sess = table_.at(index);
    if (read.status == AppStatus::pending) {
        sess.flags |= kSessionAppPending;
        SessionApp& app = table_.app(index);
        app.status = AppStatus::pending;
        app.word = s.info.tcp.seq + 1;  // the base sequence number: the SYN takes one
        return;
    }
    if (!table_.setApp(index, read.which, read.status, read.name.view()))
        counters_.inc(PipelineCounter::app_names_full);
}

Pipeline::AppOutcome Pipeline::readApp(const Slot& s, uint32_t index, uint32_t now_ms) {
    SessionApp& app = table_.app(index);
    const TcpInfo& tcp = s.info.tcp;
    const uint8_t* payload = l4Payload(s.frame, s.info, tcp.payload_len);
    const uint32_t offset = tcp.seq - app.baseSeq();
    AppName name;
    AppProtocol which = AppProtocol::none;
    AppParse r = AppParse::need_more;
    uint32_t have = 0;
    ++app.packets;
    if (offset >= kMaxAppPrefix) {
        // Beyond what is read (or before the stream: a stray): nothing new.
    } else if (app.stream == 0 && offset == 0) {
        r = readTcpApp(payload, tcp.payload_len, &name, &which);
        have = tcp.payload_len;
    }
    if (r == AppParse::need_more && offset < kMaxAppPrefix) {
        AppStreamBuffers& streams = table_.appStreams();
        if (app.stream == 0) app.stream = streams.acquire();
        if (app.stream == 0) {
            counters_.inc(PipelineCounter::app_streams_full);
            app.packets = kMaxAppSegments;  // read no further: decide without a name
        } else {
            streams.write(app.stream, offset, payload, tcp.payload_len);
            have = streams.contiguous(app.stream);
            if (have > 0) r = readTcpApp(streams.data(app.stream), have, &name, &which);
        }
    }
    if (r == AppParse::need_more && app.packets < kMaxAppSegments && have < kMaxAppPrefix)
        return AppOutcome::pass;  // pass it on and read the next one
    countAppOutcome(r, which);
    return decideApp(index, which,
                     r == AppParse::found ? AppStatus::identified : AppStatus::unidentified, name,
                     now_ms);
}

Pipeline::AppOutcome Pipeline::decideApp(uint32_t index, AppProtocol which, AppStatus status,
                                         const AppName& name, uint32_t now_ms) {
    Session& sess = table_.at(index);
    if (!table_.setApp(index, which, status, name.view()))
        counters_.inc(PipelineCounter::app_names_full);
    sess.flags &= uint8_t(~kSessionAppPending);
    PolicyQuery q;
    const PolicyVerdict pv = sessionPolicyQuery(sess, &q)
                                 ? policy_->matchApp(q, which, name.view())
                                 : PolicyVerdict{};  // no zones known: the default deny
    sess.rule = pv.rule;
    sess.flags = pv.log ? uint8_t(sess.flags | kSessionLog) : uint8_t(sess.flags & ~kSessionLog);
    ++sess.version;
    if (pv.action == RuleAction::allow) {
        emit(WorkerEventKind::upsert, index, now_ms);
        return AppOutcome::pass;
    }
    // Denied: this packet and every later one of the connection are
    // dropped; the record stays (as closed, for the short closed timeout
    // from the last packet) so that they are not taken for a new session.
    counters_.inc(PipelineCounter::sessions_denied_by_app);
    sess.flags |= kSessionAppDenied;
    sess.state = SessionState::tcp_close;
    const uint32_t expires = now_ms + idleTimeoutMs(sess);
    table_.expireEarlier(index, expires);
    emit(WorkerEventKind::upsert, index, now_ms);
    return pv.reset ? AppOutcome::reset : AppOutcome::deny;
}

Verdict Pipeline::resetBothEnds(const Slot& s, uint32_t index, uint16_t in_port) {
    // The reset back to the client is built from the segment as it came
    // (the client's own addresses); the one on to the server leaves as the
    // session's packets do, translated.
    const uint8_t back = resetToSender(s);
    turnIntoReset(s.frame, s.info);
    if (table_.at(index).flags & kSessionNat) natOriginal(s, index);
    counters_.inc(PipelineCounter::tcp_resets_to_receiver);
    Verdict v = forwardFrom(in_port);
    v.reset = back;
    return v;
}

uint8_t Pipeline::resetToSender(const Slot& s) {
    const uint32_t slot = generated_next_;
    GeneratedFrame& g = generated_[slot];
    g.len = uint16_t(buildReverseReset(s.frame, s.info, g.bytes.data(), g.bytes.size()));
    if (g.len == 0) return 0;  // not one to answer (a tunnel: the load balancer's)
    generated_next_ = (slot + 1) % generated_.size();
    counters_.inc(PipelineCounter::tcp_resets_to_sender);
    return uint8_t(slot + 1);
}

Verdict Pipeline::dropAppDenied(uint32_t index, uint32_t now_ms) {
    Session& sess = table_.at(index);
    sess.expires_ms = now_ms + idleTimeoutMs(sess);
    return drop(counters_, PipelineCounter::dropped_app_denied);
}

PolicyVerdict Pipeline::verdictNow(uint32_t index, const PolicyQuery& q) const {
    const SessionApp& app = table_.app(index);
    if (app.status == AppStatus::pending) return policy_->match(q);  // still to be read
    // Known, or never read (before any app rule, picked up): rules that name
    // an application match only a name that was read.
    return policy_->matchApp(q, app.proto, table_.appName(index));
}

}  // namespace tandem
