// SessionFilter: which sessions an operator means (show session / clear
// session). Every field is optional; a session matches when all given fields
// do. "src" and "dst" are the initiator's and responder's addresses (the
// connection as it was opened), ports likewise.
#pragma once

#include <optional>

#include "session/session.h"

namespace tandem {

struct SessionFilter {
    std::optional<IpAddr> src;
    std::optional<IpAddr> dst;
    std::optional<uint16_t> sport;
    std::optional<uint16_t> dport;
    std::optional<uint8_t> proto;
    std::optional<SessionState> state;
    std::optional<NodeId> owner;
};

/// The session's endpoints in the direction it was opened.
struct SessionEndpoints {
    IpAddr src, dst;
    uint16_t sport = 0, dport = 0;
};

inline SessionEndpoints endpointsOf(const Session& s) {
    const FlowKey k = s.key();
    if (s.flags & kSessionInitiatorIsLo) return {k.lo, k.hi, k.lo_port, k.hi_port};
    return {k.hi, k.lo, k.hi_port, k.lo_port};
}

inline bool sessionMatches(const Session& s, const SessionFilter& f) {
    const SessionEndpoints e = endpointsOf(s);
    return (!f.src || *f.src == e.src) && (!f.dst || *f.dst == e.dst) &&
           (!f.sport || *f.sport == e.sport) && (!f.dport || *f.dport == e.dport) &&
           (!f.proto || *f.proto == s.key_proto) && (!f.state || *f.state == s.state) &&
           (!f.owner || *f.owner == s.owner);
}

}  // namespace tandem
