"""Targets and flows: the load balancer's state, without any socket.

Target states (as AWS reports them):

  initial    registered, health checks have not decided yet
  healthy    registered, takes new flows
  unhealthy  registered, failed `unhealthy_threshold` checks in a row
  draining   deregistered, the deregistration delay is running
  unused     deregistered and drained (or never registered)

New flows go to healthy targets only; when no registered target is healthy
the balancer fails open (every registered target takes new flows) unless
told to drop. A flow's target is chosen by rendezvous hashing of its
stickiness key over the candidates, so adding a target moves only the flows
it wins and both directions of a flow (the key is symmetric) meet the same
target.

Target failover (`rebalance` | `no_rebalance`, AWS's
target_failover.on_unhealthy / on_deregistration, which AWS requires to be
equal): with `rebalance`, the flows of a target that turns unhealthy are
rehashed over the candidates at once, and those of a deregistered target
when its deregistration delay ends; a moved flow keeps its GENEVE options
(cookie included). With `no_rebalance` existing flows stay with their target
whatever its state, until they go idle.
"""
from __future__ import annotations

import hashlib
import random
import socket
import time

from .packet import KEY_FUNCTIONS, geneve_header, key_text

FAILOVER = ("no_rebalance", "rebalance")
ALL_UNHEALTHY = ("fail-open", "drop")
TCP = 6


class Target:
    __slots__ = ("ip", "addr", "salt", "registered", "health", "drain_until", "ok_run",
                 "fail_run", "last_check", "flows", "generation",
                 "packets_to_target", "bytes_to_target", "packets_from_target",
                 "bytes_from_target", "flows_assigned", "flows_rebalanced_in",
                 "flows_rebalanced_out", "flows_expired", "option_mismatches",
                 "malformed_returns", "stray_returns", "send_errors", "checks_passed",
                 "checks_failed", "state_changes")

    COUNTERS = ("packets_to_target", "bytes_to_target", "packets_from_target",
                "bytes_from_target", "flows_assigned", "flows_rebalanced_in",
                "flows_rebalanced_out", "flows_expired", "option_mismatches",
                "malformed_returns", "stray_returns", "send_errors", "checks_passed",
                "checks_failed", "state_changes")

    def __init__(self, ip: str, port: int) -> None:
        self.ip = ip
        self.addr = (ip, port)
        self.salt = socket.inet_aton(ip)
        self.registered = False
        self.health = "initial"
        self.drain_until: float | None = None
        self.ok_run = self.fail_run = 0
        self.last_check = ""
        self.flows: set = set()
        self.generation = 0
        for c in self.COUNTERS:
            setattr(self, c, 0)

    @property
    def state(self) -> str:
        if self.registered:
            return self.health
        return "draining" if self.drain_until is not None else "unused"

    @property
    def drops(self) -> int:
        """Datagrams from this target that were not delivered."""
        return self.option_mismatches + self.malformed_returns

    def as_dict(self, now: float) -> dict:
        d = {"state": self.state, "health": self.health if self.registered else None,
             "active_flows": len(self.flows), "drops": self.drops,
             "last_check": self.last_check}
        if self.drain_until is not None and not self.registered:
            d["drain_left_s"] = round(max(0.0, self.drain_until - now), 3)
        for c in self.COUNTERS:
            d[c] = getattr(self, c)
        return d


class Flow:
    __slots__ = ("key", "target", "header", "cookie", "tcp", "created", "last", "packets")

    def __init__(self, key: bytes, target: Target, header: bytes, cookie: bytes, tcp: bool,
                 now: float) -> None:
        self.key = key
        self.target = target
        self.header = header
        self.cookie = cookie
        self.tcp = tcp
        self.created = now
        self.last = now
        self.packets = 0


class Balancer:
    def __init__(self, *, stickiness: str = "5-tuple", failover: str = "no_rebalance",
                 deregistration_delay: float = 300.0, health_checks: bool = True,
                 healthy_threshold: int = 5, unhealthy_threshold: int = 2,
                 all_unhealthy: str = "fail-open", tcp_idle_timeout: float = 350.0,
                 idle_timeout: float = 120.0, endpoint_id: bytes = bytes(8),
                 attachment_id: bytes = bytes(8), vni: int = 0, port: int = 6081,
                 seed: int | None = None, log=None) -> None:
        if stickiness not in KEY_FUNCTIONS:
            raise ValueError(f"stickiness must be one of {', '.join(KEY_FUNCTIONS)}")
        if failover not in FAILOVER:
            raise ValueError(f"target failover must be one of {', '.join(FAILOVER)}")
        self.stickiness = stickiness
        self.key_fn = KEY_FUNCTIONS[stickiness]
        self.failover = failover
        self.deregistration_delay = deregistration_delay
        self.health_checks = health_checks
        self.healthy_threshold = healthy_threshold
        self.unhealthy_threshold = unhealthy_threshold
        self.all_unhealthy = all_unhealthy
        self.tcp_idle_timeout = tcp_idle_timeout
        self.idle_timeout = idle_timeout
        self.endpoint_id = endpoint_id
        self.attachment_id = attachment_id
        self.vni = vni
        self.port = port
        self.rng = random.Random(seed)
        self.log = log or (lambda event, **kw: None)
        self.targets: dict[str, Target] = {}
        self.flows: dict[bytes, Flow] = {}
        self.by_cookie: dict[bytes, Flow] = {}
        self.flows_created = 0
        self.flows_expired = 0
        self.flows_rebalanced = 0
        self.flows_forgotten = 0
        self.no_target = 0
        self._candidates: list[Target] | None = None

    # --- targets --------------------------------------------------------------------------

    def target(self, ip: str) -> Target:
        t = self.targets.get(ip)
        if t is None:
            socket.inet_aton(ip)  # ValueError-like OSError for a bad address
            t = self.targets[ip] = Target(ip, self.port)
        return t

    def register(self, ip: str, now: float) -> Target:
        t = self.target(ip)
        if t.registered:
            return t
        before = t.state
        t.registered = True
        t.drain_until = None
        t.generation += 1
        t.ok_run = t.fail_run = 0
        t.health = "initial" if self.health_checks else "healthy"
        self._changed(t, before, "registered")
        return t

    def deregister(self, ip: str, now: float) -> Target:
        t = self.targets.get(ip)
        if t is None or not t.registered:
            raise KeyError(f"{ip} is not registered")
        before = t.state
        t.registered = False
        t.generation += 1
        t.drain_until = now + self.deregistration_delay
        self._changed(t, before, "deregistered")
        if self.deregistration_delay <= 0:
            self._drained(t, now)
        return t

    def health_result(self, ip: str, generation: int, ok: bool, detail: str, now: float) -> None:
        """One health check's outcome (ignored if the target was deregistered
        or registered again since the check started)."""
        t = self.targets.get(ip)
        if t is None or not t.registered or t.generation != generation:
            return
        t.last_check = detail
        if ok:
            t.checks_passed += 1
            t.ok_run += 1
            t.fail_run = 0
            if t.health != "healthy" and t.ok_run >= self.healthy_threshold:
                before = t.state
                t.health = "healthy"
                self._changed(t, before, f"{t.ok_run} checks passed in a row")
        else:
            t.checks_failed += 1
            t.fail_run += 1
            t.ok_run = 0
            if t.health != "unhealthy" and t.fail_run >= self.unhealthy_threshold:
                before = t.state
                t.health = "unhealthy"
                self._changed(t, before, f"{t.fail_run} checks failed in a row: {detail}")
                if self.failover == "rebalance":
                    self._rebalance(t, now)

    def tick(self, now: float) -> None:
        """Ends deregistration delays that are over."""
        for t in self.targets.values():
            if not t.registered and t.drain_until is not None and now >= t.drain_until:
                self._drained(t, now)

    def _drained(self, t: Target, now: float) -> None:
        before = t.state
        t.drain_until = None
        self._changed(t, before, "deregistration delay over")
        if self.failover == "rebalance":
            self._rebalance(t, now)

    def _changed(self, t: Target, before: str, why: str) -> None:
        self._candidates = None
        t.state_changes += 1
        self.log("target", target=t.ip, state=t.state, was=before, why=why)

    def candidates(self) -> list[Target]:
        """Targets a new flow may go to."""
        if self._candidates is None:
            healthy = [t for t in self.targets.values() if t.registered and t.health == "healthy"]
            if not healthy and self.all_unhealthy == "fail-open":
                healthy = [t for t in self.targets.values() if t.registered]
            self._candidates = healthy
        return self._candidates

    @staticmethod
    def pick(key: bytes, candidates: list[Target]) -> Target:
        """Rendezvous hashing: the candidate with the highest hash of (key, target)."""
        best, best_score = None, b""
        for t in candidates:
            score = hashlib.blake2b(key, digest_size=8, salt=t.salt).digest()
            if best is None or score > best_score:
                best, best_score = t, score
        return best

    def _rebalance(self, t: Target, now: float) -> None:
        cands = [c for c in self.candidates() if c is not t]
        if not cands:
            self.log("rebalance", target=t.ip, moved=0, why="no other target")
            return
        moved = 0
        for flow in list(t.flows):
            new = self.pick(flow.key, cands)
            t.flows.discard(flow)
            new.flows.add(flow)
            flow.target = new
            t.flows_rebalanced_out += 1
            new.flows_rebalanced_in += 1
            moved += 1
        self.flows_rebalanced += moved
        self.log("rebalance", target=t.ip, moved=moved)

    # --- flows ----------------------------------------------------------------------------

    def new_flow(self, key: bytes, proto: int, now: float) -> Flow | None:
        cands = self.candidates()
        if not cands:
            self.no_target += 1
            return None
        t = self.pick(key, cands)
        cookie = self.rng.getrandbits(32).to_bytes(4, "big")
        while cookie in self.by_cookie:
            cookie = self.rng.getrandbits(32).to_bytes(4, "big")
        header = geneve_header(self.vni, self.endpoint_id, self.attachment_id, cookie)
        flow = Flow(key, t, header, cookie, proto == TCP, now)
        self.flows[key] = flow
        self.by_cookie[cookie] = flow
        t.flows.add(flow)
        t.flows_assigned += 1
        self.flows_created += 1
        return flow

    def expire(self, now: float) -> int:
        """Forgets flows idle longer than their timeout (TCP 350 s, others
        120 s, as AWS)."""
        tcp_cut, other_cut = now - self.tcp_idle_timeout, now - self.idle_timeout
        old = [f for f in self.flows.values() if f.last < (tcp_cut if f.tcp else other_cut)]
        for f in old:
            self._forget(f)
            f.target.flows_expired += 1
        self.flows_expired += len(old)
        return len(old)

    def forget_all(self) -> int:
        n = len(self.flows)
        for f in list(self.flows.values()):
            self._forget(f)
        self.flows_forgotten += n
        return n

    def _forget(self, f: Flow) -> None:
        del self.flows[f.key]
        del self.by_cookie[f.cookie]
        f.target.flows.discard(f)

    def flow_list(self, limit: int | None = None, target: str | None = None) -> list[dict]:
        out = []
        for f in self.flows.values():
            if target is not None and f.target.ip != target:
                continue
            out.append({"key": key_text(f.key), "target": f.target.ip, "cookie": f.cookie.hex(),
                        "packets": f.packets, "age_s": round(time.monotonic() - f.created, 3)})
            if limit is not None and len(out) >= limit:
                break
        return out

    def config(self) -> dict:
        return {"stickiness": self.stickiness, "target_failover": self.failover,
                "deregistration_delay_s": self.deregistration_delay,
                "health_checks": self.health_checks,
                "healthy_threshold": self.healthy_threshold,
                "unhealthy_threshold": self.unhealthy_threshold,
                "all_unhealthy": self.all_unhealthy,
                "tcp_idle_timeout_s": self.tcp_idle_timeout,
                "idle_timeout_s": self.idle_timeout,
                "endpoint_id": self.endpoint_id.hex(), "attachment_id": self.attachment_id.hex(),
                "vni": self.vni, "port": self.port}
