"""Profile budgets: limits on what a profile may show.

    map.share<=20%                          map tables' share of the allocated bytes
    map.bytes_per_op<=2KiB                  map bytes per operation (--ops: requests, iterations)
    cpu.map.share<=10%                      the share of CPU in the runtime's map functions
    site:server.go:104.bytes_per_op<=256    one site's map bytes per operation
    site:server.go:104.share<=5%            one site's share of the allocated bytes

A site is named by a file path suffix and a line, as `mapguard profile` shows it. A budget whose
profile is missing, or that needs --ops without it, is an error, never a pass.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mapguard.bundle.evidence import CostEvidence
from mapguard.errors import UsageError

_BUDGET = re.compile(
    r"^\s*(?P<metric>map\.share|map\.bytes|map\.bytes_per_op|cpu\.map\.share|"
    r"site:(?P<file>[^:]+):(?P<line>[0-9]+)\.(?P<what>bytes|bytes_per_op|share))"
    r"\s*(?P<op><=|<)\s*(?P<number>[0-9]+(?:\.[0-9]*)?)\s*(?P<unit>%|B|KiB|MiB|GiB)?\s*$")
_UNITS = {None: 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}


@dataclass(frozen=True, slots=True)
class Budget:
    text: str
    metric: str  # map.share | map.bytes | map.bytes_per_op | cpu.map.share | site.bytes ...
    limit: float  # a fraction for shares, bytes otherwise
    inclusive: bool  # <= rather than <
    file: str | None = None
    line: int | None = None

    @property
    def is_share(self) -> bool:
        return self.metric.endswith("share")

    @property
    def per_op(self) -> bool:
        return self.metric.endswith("per_op")

    @classmethod
    def parse(cls, text: str) -> Budget:
        found = _BUDGET.match(text)
        if found is None:
            raise UsageError(f"--profile-budget {text!r}: expected e.g. 'map.share<=20%', "
                             "'cpu.map.share<=10%', 'map.bytes_per_op<=2KiB', "
                             "'site:server.go:104.bytes_per_op<=256'")
        metric = found["metric"]
        if found["file"]:
            metric = f"site.{found['what']}"
        share = metric.endswith("share")
        unit = found["unit"]
        number = float(found["number"])
        if share and unit != "%":
            raise UsageError(f"--profile-budget {text!r}: a share is a percentage (e.g. 20%)")
        if not share and unit == "%":
            raise UsageError(f"--profile-budget {text!r}: bytes take B, KiB, MiB or GiB")
        limit = number / 100 if share else number * _UNITS[unit]
        return cls(text.strip(), metric, limit, found["op"] == "<=", found["file"],
                   int(found["line"]) if found["line"] else None)

    def holds(self, value: float) -> bool:
        return value <= self.limit if self.inclusive else value < self.limit


@dataclass(frozen=True, slots=True)
class Measured:
    budget: Budget
    value: float | None  # None: could not be measured
    problem: str | None = None
    where: tuple[str, int] | None = None  # the site, for a site budget

    @property
    def ok(self) -> bool:
        return self.value is not None and self.budget.holds(self.value)

    def text(self) -> str:
        if self.value is None:
            return f"{self.budget.text}: not measured ({self.problem})"
        shown = (f"{100 * self.value:.2f}%" if self.budget.is_share else f"{self.value:,.0f} B")
        verdict = "within budget" if self.ok else "OVER BUDGET"
        return f"{self.budget.text}: {shown}, {verdict}"


def measure(budget: Budget, allocation: CostEvidence | None, cpu: CostEvidence | None,
            ops: int | None) -> Measured:
    if budget.metric == "cpu.map.share":
        if cpu is None:
            return Measured(budget, None, "no CPU profile given (--profile cpu.pb.gz)")
        return Measured(budget, cpu.map_total / cpu.total if cpu.total else 0.0)
    if allocation is None:
        return Measured(budget, None, "no allocation profile given (--profile allocs.pb.gz)")
    if budget.per_op and not ops:
        return Measured(budget, None, "bytes per op need --ops (operations the profile "
                                      "covers)")
    if budget.metric.startswith("site."):
        assert budget.file is not None and budget.line is not None
        sites = [s for s in allocation.sites if s.site.line == budget.line and _same_file(
            s.site.file, budget.file)]
        value = float(sum(s.value for s in sites))
        where = (budget.file, budget.line)
    else:
        value = float(allocation.map_total)
        where = None
    if budget.is_share:
        value = value / allocation.total if allocation.total else 0.0
    elif budget.per_op:
        assert ops
        value = value / ops
    return Measured(budget, value, where=where)


def _same_file(profiled: str, named: str) -> bool:
    return profiled == named or profiled.endswith("/" + named.lstrip("./"))


def measure_all(budgets: Sequence[Budget], allocation: CostEvidence | None,
                cpu: CostEvidence | None, ops: int | None) -> list[Measured]:
    return [measure(budget, allocation, cpu, ops) for budget in budgets]
