"""The firewall's own outage at an event, for the pair and cluster
scenarios that kill, restart or move nodes.

The TCP gaps rr-long measures include the endpoints' retransmission timer
(200 ms at least in Linux) on top of what the firewall lost. The probe
(`udp-probe` in pair_traffic.py) has no such timer: its UDP flows each send
a datagram every interval to an echo service and never send one again, so a
flow's largest silence after an event mark is how long the firewall could
not carry it, plus at most one interval (less any time the probe itself did
not run: on a loaded machine its process can be stalled too, and echoes
that came meanwhile are only timed when it runs again). A node's death is noticed after
the detection time (the hold time, or [ha] peer-link-detect-ms when set);
what follows it (a view published, paths moved) must fit in 50 ms more.

Detection itself is read by polling `show high-availability state` between
other samples: on a loaded machine each round takes tens of milliseconds,
hence its own margin over the detection time.
"""
from __future__ import annotations

# over the detection time: what the firewall may add to it before the flows
# pass again (the probe's bound adds one probe interval to this)
OUTAGE_MARGIN_MS = 50
# over the detection time: a node's declaration of a death, as it dates it
# (declared_dead_at), may come late by its status snapshot's age and its answer's
DETECTION_MARGIN_MS = 400


def add_probe_args(ap) -> None:
    ap.add_argument("--probe-flows", type=int, default=32,
                    help="UDP flows echoed every --probe-interval-ms across the events: the "
                         "firewall's own outage (0: none)")
    ap.add_argument("--probe-interval-ms", type=float, default=10.0)


def detection_bound_ms(death_ms: float) -> float:
    """The longest a node may take to report its peer dead, as polled."""
    return death_ms + DETECTION_MARGIN_MS


def outage_bound_ms(death_ms: float, interval_ms: float) -> float:
    """The longest a probe flow may be silent after an event."""
    return death_ms + OUTAGE_MARGIN_MS + interval_ms


def start_probe(lab, args, sec, dst: str, port: int, window: float) -> dict | None:
    """Starts the probe in the client namespace towards the echo service
    dst:port (none with --probe-flows 0); it reads the lab's event marks
    when it stops, each over `window` seconds unless the mark says."""
    if not args.probe_flows:
        return None
    ready = lab.start_service("probe", "client", [
        "udp-probe", "--dst", dst, "--port", str(port), "--flows", str(args.probe_flows),
        "--interval", str(args.probe_interval_ms / 1000.0), "--marks", lab.marks_path,
        "--window", str(window)], timeout=30.0)
    sec.line(f"probe: {ready['flows']} UDP flows echoed, one datagram each every "
             f"{args.probe_interval_ms:g} ms (none sent again when lost)")
    return ready


def ended(worst: dict) -> str:
    """When a worst flow's silence ended, after its event's mark."""
    end = worst.get("end_ms")
    return "the end" if end is None else f"+{end:g} ms"


def check_probe(lab, args, sec, marks: tuple[str, ...]) -> dict | None:
    """Stops the probe; for each event mark, the largest silence of its
    flows must be within the hold time + OUTAGE_MARGIN_MS + one interval,
    and every flow must answer again."""
    if not args.probe_flows:
        return None
    p = lab.stop_service("probe", timeout=15.0)
    if p.get("event") != "stopped":
        sec.check("probe: the UDP probe reported its outcome", False)
        return None
    bound = outage_bound_ms(lab.opts.death_ms, args.probe_interval_ms)
    by_name = {m["name"]: m for m in p["marks"]}
    sec.line(f"probe: {p['sent']} datagrams sent, {p['echoed']} echoed over "
             f"{p['elapsed_s']:g} s ({p['flows']} flows)")
    for name in marks:
        m = by_name.get(name)
        if m is None:
            sec.check(f"probe: event '{name}' was marked", False)
            continue
        g = m["gap_ms"]
        worst = ", ".join(f"sport {w['sport']} {w['gap_ms']} ms to {ended(w)}"
                          for w in m["worst"][:3])
        own = m.get("own_stalls") or {}
        own_text = (f"; the probe itself did not run {own['count']} times, at most "
                    f"{own['max_ms']} ms, left out" if own.get("count") else "")
        sec.check(f"probe: '{name}': the firewall's outage (largest silence of a UDP flow) "
                  f"{g['max']} ms (p99 {g['p99']} ms; worst {worst}{own_text}) <= detection "
                  f"time + {OUTAGE_MARGIN_MS} ms + one interval = {bound:g} ms; flows silent to "
                  f"the end {m['silent_to_the_end']}",
                  g["max"] is not None and g["max"] <= bound and m["silent_to_the_end"] == 0)
    return p
