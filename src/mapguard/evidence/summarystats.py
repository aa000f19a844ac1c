"""Small descriptive statistics shared by the GC and trace summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Distribution:
    """Count, median, 99th percentile and maximum (nearest-rank percentiles)."""

    count: int
    p50: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        if not values:
            return cls(0, None, None, None)
        ordered = sorted(values)
        return cls(len(ordered), nearest_rank(ordered, 50), nearest_rank(ordered, 99), ordered[-1])


def nearest_rank(ordered: Sequence[float], percent: float) -> float:
    """The smallest value with at least `percent` % of the values at or below it."""
    rank = max(1, math.ceil(percent / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Trend:
    """A quantity over time: where it started and ended, its range, and its least-squares slope."""

    first: float
    last: float
    min: float
    max: float
    slope_per_s: float | None  # None with fewer than two distinct times

    @classmethod
    def of(cls, times: Sequence[float], values: Sequence[float]) -> Trend | None:
        if not values:
            return None
        return cls(values[0], values[-1], min(values), max(values), slope(times, values))


def slope(times: Sequence[float], values: Sequence[float]) -> float | None:
    """Least-squares slope of values over times (units of value per unit of time)."""
    if len(times) < 2:
        return None
    t = np.asarray(times, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    t_centered = t - t.mean()
    spread = float(np.dot(t_centered, t_centered))
    if spread == 0:
        return None
    return float(np.dot(t_centered, v - v.mean())) / spread
