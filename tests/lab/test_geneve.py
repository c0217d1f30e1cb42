#!/usr/bin/python3
"""The single-node scenarios with tandemd in GENEVE mode: a one-arm
appliance behind the Gateway Load Balancer emulator (geneve_lab.py,
tools/gwlb-emulator).

TCP storm (1000 connections), denied TCP and UDP, a connection opened from
the server side, mid-stream ACK, UDP echo, ICMP echo, ICMP error: the same
outcomes and counter reconciliation as inline, every packet wrapped in
GENEVE with the GWLB options. Then: every frame the emulator sent reached
tandemd as a tunnel frame, every frame tandemd returned came back with the
GENEVE header and options sent for its flow and was delivered, and what
tandemd dropped never came back.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from geneve_lab import GeneveLab, geneve_policy  # noqa: E402
from scenarios import LAB_POLICY, main  # noqa: E402
from labkit.checks import Check  # noqa: E402
from test_inline_all import build, configure  # noqa: E402  (the same scenarios)


def tunnel_checks(lab, node) -> list:
    c = node.counters()
    final = lab.stop_gwlb()
    g = final.get("totals", {})
    t = next(iter(final.get("targets", {}).values()), {})
    rx, fwd, tunnel = c.get("rx_packets", 0), c.get("forwarded", 0), c.get("tunnel_frames", 0)
    print(f"\n== GENEVE\n   emulator: {g}\n   target: {t}\n   node: rx_packets {rx}, "
          f"tunnel_frames {tunnel}, forwarded {fwd}, malformed {c.get('dropped_malformed', 0)}",
          flush=True)
    checks = [
        Check(f"the emulator wrapped frames from the endpoints only "
              f"(encapsulated {g.get('encapsulated')}, other {g.get('not_ipv4')}, "
              f"flows {g.get('flows_created')})",
              g.get("encapsulated", 0) > 0 and g.get("not_ipv4") == 0
              and g.get("malformed_endpoint") == 0),
        Check(f"tandemd received each wrapped frame as a GENEVE frame: rx_packets {rx} == "
              f"tunnel_frames {tunnel} == encapsulated {g.get('encapsulated')}",
              rx == tunnel == g.get("encapsulated")),
        Check(f"every frame tandemd passed came back to the emulator: returned "
              f"{g.get('returned')} == forwarded {fwd}", g.get("returned") == fwd),
        Check(f"with the GENEVE header and GWLB options sent for its flow (option mismatches "
              f"{g.get('option_mismatches')}, malformed {g.get('malformed_returns')}, unknown "
              f"source {g.get('unknown_source')}), and was delivered ({g.get('delivered')})",
              g.get("bad_return") == 0 and g.get("delivered") == g.get("returned")),
    ]
    for ch in checks:
        print(f"   {ch.mark}  {ch.text}", flush=True)
    return checks

if __name__ == "__main__":
    sys.exit(main("Single-node scenarios in GENEVE mode behind the GWLB emulator", build,
                  configure=configure, lab_class=GeneveLab, policy=geneve_policy(LAB_POLICY),
                  mode="geneve", final=tunnel_checks))
