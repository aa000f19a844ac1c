"""Small descriptive statistics shared by the GC and trace summaries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Distribution:
    """Count, median, 99th percentile and maximum (nearest-rank percentiles)."""

    count: int
    p50: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of_counts(cls, counts: Mapping[float, int]) -> Distribution:
        """The same figures from how many times each value occurred."""
        total = sum(counts.values())
        if not total:
            return cls(0, None, None, None)
        values = sorted(counts)
        cumulative = np.cumsum([counts[value] for value in values])

        def rank(percent: float) -> float:
            wanted = max(1, math.ceil(percent / 100 * total))
            return values[int(np.searchsorted(cumulative, wanted))]

        return cls(total, rank(50), rank(99), values[-1])

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


class PeakSeries:
    """(time, value) points, at most `limit` of them, each the peak of an equal number of the
    changes that were added: when full, neighbours merge and later points cover twice as many.
    Memory stays bounded however many are added."""

    __slots__ = (
        "_last_point", "_last_value", "_limit", "_pending", "_pending_count", "_per_point",
        "points",
    )

    def __init__(self, limit: int) -> None:
        self._limit = max(2, limit)
        self._per_point = 1
        self._pending: tuple[int, int] | None = None
        self._pending_count = 0
        self.points: list[tuple[int, int]] = []
        self._last_value: int | None = None
        self._last_point: tuple[int, int] | None = None

    def add(self, time: int, value: int) -> None:
        if value == self._last_value:
            return
        self._last_value = value
        self._last_point = (time, value)
        if self._pending is None or value > self._pending[1]:
            self._pending = (time, value)
        self._pending_count += 1
        if self._pending_count < self._per_point:
            return
        self.points.append(self._pending)
        self._pending, self._pending_count = None, 0
        if len(self.points) >= 2 * self._limit:
            self.points = _halved(self.points)
            self._per_point *= 2

    def extend(self, times: IntArray, values: IntArray) -> PeakSeries:
        """`add` each pair, in order, with a few array operations per point made rather than
        a call per pair: the result is the same."""
        changed = np.ones(len(values), dtype=bool)
        changed[1:] = values[1:] != values[:-1]
        if len(values) and values[0] == self._last_value:
            changed[0] = False
        times, values = times[changed], values[changed]
        if not len(values):
            return self
        self._last_value = int(values[-1])
        self._last_point = (int(times[-1]), int(values[-1]))
        position = 0
        while position < len(values):
            part = values[position : position + self._per_point - self._pending_count]
            peak = int(part.argmax())
            if self._pending is None or part[peak] > self._pending[1]:
                self._pending = (int(times[position + peak]), int(part[peak]))
            self._pending_count += len(part)
            position += len(part)
            if self._pending_count < self._per_point:
                break
            self.points.append(self._pending)
            self._pending, self._pending_count = None, 0
            if len(self.points) >= 2 * self._limit:
                self.points = _halved(self.points)
                self._per_point *= 2
        return self

    def result(self, origin: int) -> tuple[tuple[int, int], ...]:
        points = self.points + ([self._pending] if self._pending is not None else [])
        while len(points) > self._limit:
            points = _halved(points)
        if points and points[-1] != self._last_point and self._last_point is not None:
            points.append(self._last_point)  # where it ended matters as much as its peaks
        return tuple((time - origin, value) for time, value in points)


def _halved(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    pairs = zip(points[0::2], points[1::2], strict=False)
    merged = [max(pair, key=lambda point: point[1]) for pair in pairs]
    if len(points) % 2:
        merged.append(points[-1])
    return merged
