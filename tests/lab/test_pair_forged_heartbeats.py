#!/usr/bin/python3
"""Pair scenario: a dead node's heartbeats replayed do not keep it alive.

With the pair up, 50 of nodeB's real peer-link heartbeats to nodeA are
captured (in nodeA's namespace, as they arrive). Then, from nodeB's
namespace, they are sent to nodeA again and again, one every 10 ms (more
often than nodeB itself sends), while nodeB is SIGKILLed: an attacker on
the peer-link segment, or a recording, pretending that nodeB still runs.

Checks: nodeA declares nodeB dead within the hold time + 400 ms (polled), as
if nothing were replayed, and nodeB stays dead while the replay goes on (3
s); nodeA counts every replayed frame as `replayed`
(peer-link authentication's replay window); nodeA is active afterwards.
Without authentication the replayed heartbeats keep nodeB alive and its
flows black-holed.

    /usr/bin/python3 tests/lab/test_pair_forged_heartbeats.py --node tandemd [--peer-link udp]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import LabError  # noqa: E402
from pair import PEER_LINK_PORT, pair_main, peer_link_ip, show_ha  # noqa: E402
from labkit.ha import declared_dead_at, ha_local_state, peer_alive  # noqa: E402
from labkit.report import delta  # noqa: E402


def configure(ap):
    ap.add_argument("--heartbeats", type=int, default=50,
                    help="real heartbeats captured, then replayed in turn")
    ap.add_argument("--replay-seconds", type=float, default=3.0)


def body(lab, args, report, deadline, variant=None):
    if lab.opts.node != "tandemd" or not lab.opts.curve:
        raise LabError("this scenario needs tandemd with CURVE keys (an authenticated peer link)")
    a, b = lab.slot("a"), lab.slot("b")
    sec = report.section(f"{b.label}'s real heartbeats replayed to {a.label} while {b.label} "
                         f"is killed (peer link {lab.opts.peer_link})")
    udp = (["--udp-src", peer_link_ip(lab.opts, b.letter), "--udp-port", str(PEER_LINK_PORT)]
           if lab.opts.peer_link == "udp" else [])
    got = lab.tool(a.letter, ["peer-frame", "--iface", a.peer_if, "--from-node", str(b.node_id),
                              "--type", "2", "--count", str(args.heartbeats), "--seconds", "10"]
                   + udp, timeout=deadline.cap(20))
    frames = got["frames"]
    sec.check(f"{len(frames)} of {b.label}'s heartbeats to {a.label} captured "
              f"(wanted {args.heartbeats})", len(frames) == args.heartbeats)
    path = os.path.join(lab.workdir, "heartbeats.hex")
    with open(path, "w") as f:
        f.write("\n".join(frames) + "\n")
    c0 = lab.counters(a)
    lab.start_service("replay", b.letter, ["peer-replay", "--iface", b.peer_if, "--frames-file",
                                           path, "--interval", "0.01", "--seconds",
                                           str(args.replay_seconds)])
    t_kill = lab.kill_node(b, move_paths=True)
    # Watch nodeA for as long as the replay runs: dead once, and dead after.
    detect, revived = None, 0
    while time.monotonic() - t_kill < args.replay_seconds - 0.2:
        st = lab.ha_state(a)
        alive = peer_alive(st, b.node_id)
        if alive is False and detect is None:
            detect = declared_dead_at(st, b.node_id, time.monotonic()) - t_kill
        elif alive is True and detect is not None:
            revived += 1
        time.sleep(0.01)
    final = lab.stop_service("replay", timeout=10.0)
    sent = final.get("sent", 0)
    d = delta(lab.counters(a), c0)
    replayed = d.get("peer_link.replayed", 0) if "peer_link.replayed" in (c0 or {}) else None
    bound = lab.opts.hold_ms + 400
    sec.line(f"replayed {sent} heartbeats in {final.get('elapsed_s')} s; {a.label} reported "
             f"{b.label} dead "
             + (f"{detect * 1000:.0f} ms after the kill" if detect is not None else
                f"NOT within {args.replay_seconds - 0.5:g} s")
             + f" (hold time {lab.opts.hold_ms} ms); {a.label} counted replayed "
               f"+{replayed}, heartbeats received +{d.get('io.heartbeats_received', 0)}")
    sec.check(f"{a.label} declared {b.label} dead within the hold time + 400 ms (polled) = "
              f"{bound} ms while its heartbeats were replayed",
              detect is not None and 0 <= detect * 1000 <= bound)
    sec.check(f"{b.label} stayed dead for {a.label} while the replay went on (seen alive again "
              f"{revived} times)", detect is not None and revived == 0)
    sec.check(f"{a.label} refused the replayed heartbeats as replays (replayed "
              f"+{replayed} >= 95 % of {sent} sent)",
              replayed is not None and sent > 0 and replayed >= 0.95 * sent)
    st = lab.ha_state(a)
    sec.check(f"{a.label} is active after {b.label}'s death ({ha_local_state(st)})",
              ha_local_state(st) is not None and ha_local_state(st).startswith("active"))
    show_ha(lab, sec, "at the end")


if __name__ == "__main__":
    sys.exit(pair_main("Pair: a dead node's replayed heartbeats do not keep it alive", body,
                       configure=configure))
