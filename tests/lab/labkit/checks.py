"""Check: one verdict of a lab run, shared by every runner (scenarios.py,
pair.py, cluster.py, the GENEVE labs); Checklist: the checks of a standalone
script; Section and Report: a runner's checks grouped by step.

A check whose value the node could not give (a counter it does not report, an
HA state or session table it cannot show) has `ok` None: n/a. n/a is a
failure unless the check was declared optional for the node kind under test;
then it is skipped, and the runner prints how many it skipped.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Check:
    text: str
    ok: bool | None            # None: the node did not show what the check reads
    optional: bool = False     # n/a allowed: declared optional for this run's node kind

    @property
    def failed(self) -> bool:
        return self.ok is False or (self.ok is None and not self.optional)

    @property
    def skipped(self) -> bool:
        return self.ok is None and self.optional

    @property
    def mark(self) -> str:
        if self.ok is None:
            return "n/a " if self.optional else "FAIL"
        return "PASS" if self.ok else "FAIL"

    @property
    def shown(self) -> str:
        """The text as printed: an n/a that fails says so."""
        return self.text + (" (n/a: the node did not show it)"
                            if self.ok is None and not self.optional else "")

    def as_json(self) -> dict:
        return {"text": self.text, "ok": self.ok, "optional": self.optional}


class Checklist:
    """The checks of a standalone lab script, printed as they are made:
    `check(text, ok)` prints PASS/FAIL at once; `result()` prints the RESULT
    line and returns the exit code (0 passed, 1 a check failed)."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.n = 0

    def check(self, text: str, ok: bool) -> bool:
        self.n += 1
        print(f"  {'PASS' if ok else 'FAIL'}  {text}", flush=True)
        if not ok:
            self.failed.append(text)
        return ok

    def result(self) -> int:
        print(f"RESULT: {'PASS' if not self.failed else 'FAIL (checks failed)'} "
              f"({self.n - len(self.failed)}/{self.n} checks)")
        return 0 if not self.failed else 1


@dataclass
class Section:
    """One step of a runner's report: its lines and checks, printed as they
    are made (indented under the section's title)."""
    title: str
    node_kind: str = "tandemd"
    lines: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    data: dict = field(default_factory=dict)

    def line(self, text: str) -> None:
        self.lines.append(text)
        print(f"   {text}", flush=True)

    def check(self, text: str, ok: bool | None, optional_for: tuple[str, ...] = ()) -> bool | None:
        """Records a check. `ok` None fails, unless this run's node kind is
        one of `optional_for` (the kinds that cannot show what it reads)."""
        c = Check(text, ok, optional=self.node_kind in optional_for)
        self.checks.append(c)
        print(f"   {c.mark}  {c.shown}", flush=True)
        return ok


class Report:
    """A runner's sections, in order; what failed, how many checks ran and
    how many optional ones this node kind skipped."""

    def __init__(self, node_kind: str = "tandemd") -> None:
        self.node_kind = node_kind
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        s = Section(title, self.node_kind)
        self.sections.append(s)
        print(f"\n== {title}", flush=True)
        return s

    def failed(self) -> list[str]:
        return [f"{s.title}: {c.shown}" for s in self.sections for c in s.checks if c.failed]

    def n_checks(self) -> int:
        return sum(len(s.checks) for s in self.sections)

    def n_skipped(self) -> int:
        return sum(1 for s in self.sections for c in s.checks if c.skipped)

    def print_summary(self) -> None:
        """One line per section, then the optional checks this node kind skipped."""
        for s in self.sections:
            bad = sum(1 for c in s.checks if c.failed)
            print(f"{'FAIL' if bad else 'PASS'}  {s.title}: "
                  f"{sum(1 for c in s.checks if c.ok)} passed, {bad} failed"
                  + (f", {sum(1 for c in s.checks if c.skipped)} optional skipped"
                     if any(c.skipped for c in s.checks) else ""))
        print(f"optional checks skipped (node kind {self.node_kind}): {self.n_skipped()}")

    def sections_json(self) -> list[dict]:
        return [{"title": s.title, "lines": s.lines, "data": s.data,
                 "checks": [c.as_json() for c in s.checks]}
                for s in self.sections]


def check_node_stopped(check, stopped: dict, what: str = "tandemd") -> bool:
    """The check that a node stopped by the lab (`lab.stop_node()`'s result)
    exited 0; `check` is a Checklist's or a Section's."""
    return check(f"{what} stopped cleanly (exit {stopped.get('exit_code')})",
                 stopped.get("exit_code") == 0)
