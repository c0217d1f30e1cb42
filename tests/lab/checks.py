"""Check: one verdict of a lab run, shared by every runner (scenarios.py,
pair.py and the runners built on them).

A check whose value the node could not give (a counter it does not report, an
HA state or session table it cannot show) has `ok` None: n/a. n/a is a
failure unless the check was declared optional for the node kind under test;
then it is skipped, and the runner prints how many it skipped.
"""
from __future__ import annotations

from dataclasses import dataclass


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
