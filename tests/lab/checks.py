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
