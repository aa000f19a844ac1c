"""`--fail-on` rules: which verdicts fail a build.

A rule names a unit, a direction and a threshold:

    sec/op>+5%      fail when time per op grew by more than 5 %
    allocs/op>0     fail when allocations per op grew at all (absolute: 0 -> 1 is growth)
    B/s<-10%        fail when throughput fell by more than 10 %
    ns/op>200       absolute thresholds are in the unit as written (200 ns, not 200 s)

Only verdicts that are changes count (significant after Holm–Bonferroni and beyond the noise
floor): a rule never fires on "~" or "within noise".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mapguard.bench.verdicts import RowVerdict
from mapguard.errors import UsageError
from mapguard.formats.benchfmt import tidy_unit

_RULE = re.compile(
    r"^\s*(?P<unit>[^<>]+?)\s*(?P<op>[<>])\s*(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"\s*(?P<percent>%)?\s*$"
)


@dataclass(frozen=True, slots=True)
class FailRule:
    text: str
    unit: str  # tidied, as tables name it
    increase: bool  # ">" fails on growth, "<" on decline
    threshold: float  # a fraction for relative rules, else in the tidied unit
    relative: bool

    @classmethod
    def parse(cls, text: str) -> FailRule:
        match = _RULE.match(text)
        if match is None:
            raise UsageError(
                f"--fail-on {text!r}: expected UNIT>THRESHOLD or UNIT<THRESHOLD, e.g. "
                f"'sec/op>+5%', 'allocs/op>0', 'B/s<-10%'"
            )
        unit, factor = tidy_unit(match.group("unit"))
        number = float(match.group("number"))
        relative = match.group("percent") is not None
        threshold = number / 100 if relative else number * factor
        return cls(text.strip(), unit, match.group("op") == ">", threshold, relative)

    def violated_by(self, row: RowVerdict) -> bool:
        if row.unit != self.unit or not row.verdict.is_change:
            return False
        if self.relative:
            change = row.relative
            if change is None:  # from exactly 0: any growth is beyond any percentage
                return (row.new > row.old) == self.increase
        else:
            change = row.absolute
        return change > self.threshold if self.increase else change < self.threshold


@dataclass(frozen=True, slots=True)
class Violation:
    rule: FailRule
    row: RowVerdict


def violations(rules: Sequence[FailRule], rows: Sequence[RowVerdict]) -> list[Violation]:
    return [Violation(rule, row) for row in rows for rule in rules if rule.violated_by(row)]


def unmatched_rules(rules: Sequence[FailRule], rows: Sequence[RowVerdict]) -> list[FailRule]:
    """Rules whose unit no compared row has: most likely a typo, worth a warning."""
    units = {row.unit for row in rows}
    return [rule for rule in rules if rule.unit not in units]
