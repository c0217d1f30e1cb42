"""One lab run from the machine check to the RESULT line, shared by every
runner (scenarios.py, pair.py, cluster.py, the GENEVE labs, the standalone
scripts).

Exit codes: 0 passed, 1 a check failed or a node failed, 2 the lab could not
run (harness error, interrupted, deadline), 77 skipped (1 instead where
every test must run: skip_policy.py).
"""
from __future__ import annotations

import os
import time
import traceback
from contextlib import contextmanager
from typing import Callable

from lab import (Deadline, LabError, LabInterrupted, LabSkip, NodeFailed, arm_watchdog,
                 install_signal_handlers, require_lab_environment)
from nodes import TandemdNode
from skip_policy import skip_exit
from labkit.checks import Report, Section
from labkit.report import save_artifacts, write_json


def preflight(tools: tuple[str, ...], tandemd: str | None = None,
              need_tandemd: bool = False) -> str | None:
    """Raises LabSkip when this machine cannot run the lab: a tool in
    `tools` missing, no root, or (`need_tandemd`) no executable tandemd at
    `tandemd`, $TANDEMD or the build's default. Returns that binary's path
    when asked for it, else `tandemd` as given."""
    require_lab_environment(tools)
    if not need_tandemd:
        return tandemd
    binary = tandemd or os.environ.get("TANDEMD") or TandemdNode([]).binary
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        raise LabSkip(f"tandemd not found at {binary} (build it, or pass --tandemd)")
    return binary


class LabRun:
    """The state of one run: signal handlers and a watchdog armed at
    construction (`deadline_s` + 20 s unless `watchdog_s`), the run's
    Deadline, and what went wrong. `guard()` turns the lab's exceptions into
    that state; `finish()` prints the RESULT line and returns the exit code.
    Main thread only."""

    def __init__(self, deadline_s: float, watchdog_s: float | None = None) -> None:
        install_signal_handlers()
        arm_watchdog(deadline_s + 20 if watchdog_s is None else watchdog_s)
        self.deadline = Deadline(deadline_s, f"the {deadline_s:.0f} s test deadline")
        self.started = time.monotonic()
        self.error: str | None = None        # the lab could not run
        self.node_failures: list[str] = []   # first lines, "<variant>: " before each
        self.failure_messages: list[str] = []  # the whole messages
        self.skip_code: int | None = None    # set when the lab turned out not to run here

    def node_failed(self, e: NodeFailed, tag: str = "") -> None:
        """A verdict on the nodes: printed and recorded; the caller goes on."""
        msg = str(e)
        print(f"\nNODE FAILED{' (' + tag + ')' if tag else ''}: {msg}")
        self.node_failures.append(f"{tag + ': ' if tag else ''}{msg.splitlines()[0]}")
        self.failure_messages.append(msg)

    @contextmanager
    def guard(self, errors: tuple[type[BaseException], ...] = ()):
        """Runs the block; a skip sets `skip_code` (the caller returns it), a
        node failure is recorded, an interruption or a LabError (or one of
        `errors`) becomes `error`. Disarms the watchdog at the end."""
        try:
            yield
        except LabSkip as e:
            self.skip_code = skip_exit(e)
        except NodeFailed as e:
            self.node_failed(e)
        except LabInterrupted as e:
            self.error = f"interrupted by {e}"
        except (LabError,) + errors as e:
            self.error = f"{type(e).__name__}: {e}"
            if os.environ.get("LAB_DEBUG"):
                traceback.print_exc()
        finally:
            arm_watchdog(0)

    def finish(self, failed: list[str], n_checks: int, what: str = "", *,
               json_path: str | None = None, json_data: dict | None = None,
               sort_keys: bool = False, error_hint: str = "") -> int:
        """Writes `json_data` (with "error" added) to `json_path`, prints the
        error or the failed checks and the RESULT line. `what` names the run
        in the line (e.g. "node tandemd"). Returns the exit code."""
        if self.error:
            print(f"ERROR {self.error}")
            if error_hint:
                print(error_hint)
        if json_path:
            write_json(json_path, {"error": self.error, **(json_data or {})}, sort_keys)
        total = time.monotonic() - self.started
        if self.error:
            print(f"RESULT: ERROR (lab could not run) after {total:.1f} s")
            return 2
        tail = ([what] if what else []) + [f"{total:.1f} s"]
        if failed:
            head = [f"{len(failed)} failed", f"{n_checks} checks run"]
            print(f"RESULT: FAIL (checks failed): {', '.join(head + tail)}")
            for f in failed:
                print(f"  - {f}")
            return 1
        print(f"RESULT: PASS ({', '.join([f'{n_checks} checks'] + tail)})")
        return 0


def variant_tag(over: dict) -> str:
    """A variant's name as printed: its "label", else its overrides."""
    return over.get("label", ", ".join(f"{k} {v}" for k, v in over.items()))


def check_stopped(sec: Section, stopped: dict[str, dict], skip_unknown: bool = True) -> None:
    """Every node in `stopped` (a lab's `stop_nodes()`: name -> its exit)
    exited 0 on SIGTERM; its log's end is printed when it did not.
    `skip_unknown`: a node with no exit code (killed by the test) is passed
    over instead of failing."""
    for k, r in stopped.items():
        code = r.get("exit_code")
        if code is None and skip_unknown:
            continue
        sec.check(f"node{k.upper()} stopped cleanly on SIGTERM (exit {code})", code == 0)
        if code != 0 and r.get("log_tail"):
            print(f"node{k.upper()} log ends:\n{r['log_tail']}")


def stop_nodes(lab, report: Report, tag: str) -> None:
    """The "shutdown" section: every node that still runs must exit 0 on
    SIGTERM."""
    check_stopped(report.section(f"shutdown{' (' + tag + ')' if tag else ''}"), lab.stop_nodes())


def run_variants(run: LabRun, args, report: Report, body, variants, make_lab: Callable,
                 bring_up: Callable) -> None:
    """The multi-node runners' loop (pair.py, cluster.py): for each variant
    (a dict of option overrides; `variants` may be a function of `args`;
    default one, none) builds `make_lab(overrides)`, `bring_up(lab, report,
    deadline, tag)` (services, nodes, HA up), runs `body(lab, args, report,
    deadline, variant=...)`, then checks the nodes are alive and stops them.
    A node failure in the body ends that variant only. The lab's files are
    kept under --artifacts, one folder per variant."""
    vs = variants(args) if callable(variants) else (variants or [{}])
    with run.guard():
        for over in vs:
            tag = variant_tag(over)
            if tag:
                print(f"\n#### variant: {tag}", flush=True)
            with make_lab({k: v for k, v in over.items() if k != "label"}) as lab:
                try:
                    bring_up(lab, report, run.deadline, tag)
                    try:
                        body(lab, args, report, run.deadline, variant=over)
                    except NodeFailed as e:
                        run.node_failed(e, tag)
                    lab.check_node()
                    stop_nodes(lab, report, tag)
                finally:
                    if args.artifacts:
                        save_artifacts(lab.workdir, args.artifacts,
                                       tag.replace(" ", "-").replace(",", ""))


def finish_report(run: LabRun, report: Report, what: str, json_path: str | None,
                  json_data: dict) -> int:
    """The multi-node runners' end: the summary of every section, then
    `run.finish` with the failed checks and node failures."""
    print("\n" + "-" * 72)
    report.print_summary()
    failed = report.failed() + [f"node: {f}" for f in run.node_failures]
    return run.finish(failed, report.n_checks(), what, json_path=json_path,
                      json_data={**json_data, "node_failures": run.node_failures})


def run_standalone(args, run, deadline: float) -> int:
    """The exit code of one standalone lab script: skips when the machine
    cannot run labs (77), arms the watchdog, runs `run(args)` (0 passed, 1 a
    check failed) and turns a lab that could not run into 2."""
    try:
        require_lab_environment()
    except LabSkip as e:
        return skip_exit(e)
    arm_watchdog(deadline)
    try:
        return run(args)
    except LabSkip as e:
        return skip_exit(e)
    except (LabError, LabInterrupted, OSError, KeyError, ValueError) as e:
        if os.environ.get("LAB_DEBUG"):
            traceback.print_exc()
        print(f"RESULT: ERROR (lab could not run): {e}")
        return 2
