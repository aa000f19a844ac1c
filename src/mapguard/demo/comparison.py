"""Before against after: one metric, its samples, and a verdict that never over-claims.

Each side's samples (batches, pauses, seconds of a latency run) are compared with a two-sided
Mann-Whitney U test; a difference with p >= 0.05 is reported as "~", as benchstat does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mapguard.bench.statistics import SamplesEqual, mann_whitney

ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class Comparison:
    """One metric before and after; `p_value` None when no test applies (an exact figure, or
    a single number per version)."""

    metric: str
    unit: str
    before: float | None
    after: float | None
    p_value: float | None
    samples: tuple[int, int]  # how many values each side's test used
    exact: bool = False  # deterministic (compiler output): any difference is real
    sample_kind: str = "batches"  # what one sample is

    @property
    def significant(self) -> bool:
        if self.before is None or self.after is None or self.before == self.after:
            return False
        return self.exact or (self.p_value is not None and self.p_value < ALPHA)

    @property
    def tested(self) -> bool:
        return self.exact or self.p_value is not None

    @property
    def verdict(self) -> str:
        """lower / higher when the difference is real, ~ when it is within noise."""
        if self.before is None or self.after is None:
            return "not measured"
        if self.before == self.after and self.tested:
            return "same"
        if not self.tested:
            return "not tested"
        if not self.significant:
            return "~"
        return "lower" if self.after < self.before else "higher"

    @property
    def change(self) -> float | None:
        """Relative change from before to after, or None when before is zero or missing."""
        if self.before is None or self.after is None or not self.before:
            return None
        return (self.after - self.before) / self.before


def mann_whitney_p(before: Sequence[float], after: Sequence[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value, as `mapguard bench` computes it (exact, ties
    included, for small samples). None with fewer than two values on a side."""
    if len(before) < 2 or len(after) < 2:
        return None
    try:
        return mann_whitney(before, after).p
    except SamplesEqual:
        return 1.0
