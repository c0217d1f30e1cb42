"""The command-line options the lab runners share, one definition each."""
from __future__ import annotations

import argparse

TANDEMD_HELP = "tandemd binary (default: $TANDEMD, else build/release/src/daemon/tandemd)"


def add_tandemd_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--tandemd", default=None, help=TANDEMD_HELP)


def add_run_args(ap: argparse.ArgumentParser, deadline: float,
                 artifacts: str = "copy the nodes' configs and logs here before cleaning up") -> None:
    """--deadline (the whole test, seconds), --json FILE, --artifacts DIR."""
    ap.add_argument("--deadline", type=float, default=deadline, help="overall limit in seconds")
    ap.add_argument("--json", metavar="FILE", help="write the counted outcomes here")
    ap.add_argument("--artifacts", metavar="DIR", help=artifacts)


def add_ha_args(ap: argparse.ArgumentParser, cli_help: str) -> None:
    """The [ha] settings of a multi-node lab's configs, and the CLI it
    shows state with: --cli, --owner, --peer-link, --revert, --no-curve,
    --heartbeat-ms, --hold-ms, --cluster-id."""
    ap.add_argument("--cli", default=None, help=cli_help)
    ap.add_argument("--owner", choices=("first-packet", "primary"), default="first-packet",
                    help="[ha] session-owner")
    ap.add_argument("--peer-link", choices=("raw", "udp"), default="raw",
                    help="[ha] peer-link transport (tandemd)")
    ap.add_argument("--revert", choices=("true", "false"), default="true", help="[ha] revert")
    ap.add_argument("--no-curve", action="store_true", help="no CURVE keys in the configs")
    ap.add_argument("--heartbeat-ms", type=int, default=20)
    ap.add_argument("--hold-ms", type=int, default=100)
    ap.add_argument("--detect-ms", type=int, default=0,
                    help="[ha] peer-link-detect-ms (0: off)")
    ap.add_argument("--cluster-id", type=int, default=7)


def ha_options(args) -> dict:
    """The PairOptions fields the options of `add_ha_args` set."""
    return dict(node=args.node, tandemd=args.tandemd, cli=args.cli, owner=args.owner,
                peer_link=args.peer_link, revert=args.revert == "true",
                curve=not args.no_curve, heartbeat_ms=args.heartbeat_ms,
                hold_ms=args.hold_ms, detect_ms=args.detect_ms, cluster_id=args.cluster_id)


def add_longlived_args(ap: argparse.ArgumentParser, steady_help: str) -> None:
    """The long-lived traffic of a failover scenario: request/response
    connections, a bulk stream, idle connections, the gap allowed."""
    ap.add_argument("--conns", type=int, default=200, help="long-lived request/response connections")
    ap.add_argument("--interval-ms", type=float, default=10.0, help="request interval per connection")
    ap.add_argument("--bulk-mbit", type=float, default=100.0,
                    help="rate of the bulk download stream in Mbit/s (0: as fast as it goes)")
    ap.add_argument("--steady", type=float, default=1.5, help=steady_help)
    ap.add_argument("--target-ms", type=float, default=300.0,
                    help="largest gap between responses allowed after an event")
    ap.add_argument("--idle", type=int, default=100,
                    help="connections idle across the events (answer once at the start, then "
                         "nothing until the end; 0: none)")
