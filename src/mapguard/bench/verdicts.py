"""From comparisons to verdicts a pipeline can act on.

benchstat marks a row significant when its own p-value is at most alpha: with twenty rows, one
is expected to differ by chance. mapguard adjusts the p-values of all the comparisons of one
run together (Holm–Bonferroni, which keeps the chance of any false alarm at alpha), and it asks
for more than significance: the change must also be larger than the noise floor measured on
this machine for that benchmark (`mapguard bench calibrate`). A change that passes both is a
regression or an improvement by the unit's direction ("changed" for units of unknown
direction); a significant change within the floor is "within noise"; anything else is "~".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from mapguard.bench.projection import key_text
from mapguard.bench.statistics import ALPHA, holm
from mapguard.bench.tables import Cell, Table


class Verdict(StrEnum):
    REGRESSION = "regression"
    IMPROVEMENT = "improvement"
    CHANGED = "changed"  # significant and beyond the floor, for a unit of unknown direction
    WITHIN_NOISE = "within noise"
    SAME = "~"

    @property
    def is_change(self) -> bool:
        return self in (Verdict.REGRESSION, Verdict.IMPROVEMENT, Verdict.CHANGED)


@dataclass(frozen=True, slots=True)
class RowVerdict:
    config: str  # the table's configuration, "" when all tables share one
    benchmark: str  # the row's label
    unit: str
    baseline: str  # column labels
    column: str
    old: float  # centers (medians, or the exact values)
    new: float
    p: float
    p_holm: float
    n_old: int
    n_new: int
    floor: float | None  # relative noise floor used, None when none was known
    verdict: Verdict
    exact: bool = False  # a unit declared exact: compared without a test

    @property
    def relative(self) -> float | None:
        """new/old - 1; None when old is 0 (and new is not)."""
        if self.old == self.new:
            return 0.0
        return None if self.old == 0 else self.new / self.old - 1

    @property
    def absolute(self) -> float:
        return self.new - self.old


# (benchmark label, unit) -> relative noise floor
NoiseFloors = Mapping[tuple[str, str], float]


def decide(tables: Sequence[Table], floors: NoiseFloors | None = None,
           alpha: float = ALPHA) -> list[RowVerdict]:
    """A verdict for every compared cell of every table, Holm-adjusted across all of them."""
    found = []
    # The configuration tells rows apart only when the tables differ in it.
    several = len({table.config for table in tables}) > 1
    for table in tables:
        config = ", ".join(f"{name}: {value}" for name, value in table.config) if several else ""
        for row in table.rows:
            for column in table.columns[1:]:
                cell = table.cells.get((row, column))
                if cell is None or cell.comparison is None or cell.baseline is None:
                    continue
                found.append((table, config, row, column, cell))
    # Exact units are not tested (any difference is real): they are not part of the family.
    tested = [index for index, (table, *_rest) in enumerate(found) if not table.exact]
    adjusted = dict(zip(tested, holm([_p(found[index][4]) for index in tested]), strict=True))
    verdicts = []
    for index, (table, config, row, column, cell) in enumerate(found):
        assert cell.comparison is not None and cell.baseline is not None
        p_holm = adjusted.get(index, 0.0)
        benchmark = key_text(row)
        floor = (floors or {}).get((benchmark, table.unit))
        old, new = cell.baseline.center, cell.summary.center
        threshold = alpha if not table.exact else 0.0
        verdict = _verdict(old, new, p_holm, threshold, floor, table.better)
        verdicts.append(RowVerdict(
            config, benchmark, table.unit, key_text(table.columns[0]), key_text(column),
            old, new, cell.comparison.p, p_holm, cell.comparison.n1, cell.comparison.n2,
            floor, verdict, table.exact,
        ))
    return verdicts


def _p(cell: Cell) -> float:
    assert cell.comparison is not None
    return cell.comparison.p


def _verdict(old: float, new: float, p_holm: float, alpha: float, floor: float | None,
             better: int) -> Verdict:
    if p_holm > alpha or old == new:
        return Verdict.SAME
    relative = None if old == 0 else abs(new / old - 1)
    if floor is not None and relative is not None and relative <= floor:
        return Verdict.WITHIN_NOISE
    if better == 0:
        return Verdict.CHANGED
    worse = (new > old) if better < 0 else (new < old)
    return Verdict.REGRESSION if worse else Verdict.IMPROVEMENT
