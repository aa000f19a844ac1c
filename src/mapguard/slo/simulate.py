"""What the generated rules do, minute by minute, for traffic whose error ratio we choose.

This models Prometheus 2.x evaluation at a one-minute interval on samples one minute apart
(`rate()` over a closed range [t-w, t], its extrapolation over the first minutes of data,
the SLO period built from recorded 5m rates or ratios, `for` durations). The promtool tests
are built from it: it picks *when* to assert so that every assertion sits minutes away from a
transition, and promtool then checks the real rules against those expectations. Floats are
enough here: assertions never sit near a threshold crossing.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from mapguard.slo.durations import Duration
from mapguard.slo.model import SLO, BurnWindow, RawSLI
from mapguard.slo.rules import from_recorded_rates

S = TypeVar("S")
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}
SHORTEST = 5  # minutes of the recorded rates the SLO period is built from


@dataclass(frozen=True, slots=True)
class Phase:
    minutes: int
    error_ratio: Fraction


class Timeline:
    """Cumulative error and total events at each minute 0..length for a sequence of phases."""

    def __init__(self, phases: Sequence[Phase], per_minute: Fraction) -> None:
        self.phases = tuple(phases)
        self.errors = [0.0]
        self.totals = [0.0]
        rate = float(per_minute)
        for phase in phases:
            errors = float(phase.error_ratio) * rate
            for _ in range(phase.minutes):
                self.errors.append(self.errors[-1] + errors)
                self.totals.append(self.totals[-1] + rate)

    @property
    def length(self) -> int:
        return len(self.totals) - 1


def _extrapolation(u: int) -> float:
    """rate(x[5m]) at minute u < 5 sees u minutes of data and extrapolates (Prometheus 2.x)."""
    if u >= SHORTEST:
        return 1.0
    gap = SHORTEST - u
    return (u + (gap if gap < 1.1 else 0.5)) / u


class SLISimulation:
    """The recorded error ratio of every window of an SLO over a timeline."""

    def __init__(self, slo: SLO, timeline: Timeline) -> None:
        self.slo = slo
        self.timeline = timeline
        self.budget = float(slo.error_budget)
        errors, totals = timeline.errors, timeline.totals
        # Prefix sums of the recorded 5m event rates (scaled by a common 1/300) and ratios.
        self._error5 = [0.0]
        self._total5 = [0.0]
        self._ratio5 = [0.0]
        for u in range(1, timeline.length + 1):
            start = max(0, u - SHORTEST)
            factor = _extrapolation(u)
            error, total = errors[u] - errors[start], totals[u] - totals[start]
            self._error5.append(self._error5[-1] + factor * error)
            self._total5.append(self._total5[-1] + factor * total)
            self._ratio5.append(self._ratio5[-1] + (error / total if total else 0.0))

    def ratio(self, window: Duration, t: int) -> float | None:
        minutes = window.minutes
        if t < 1:
            return None
        if from_recorded_rates(self.slo, window):
            first = max(1, t - minutes)
            if isinstance(self.slo.sli, RawSLI):
                return (self._ratio5[t] - self._ratio5[first - 1]) / (t - first + 1)
            total = self._total5[t] - self._total5[first - 1]
            error = self._error5[t] - self._error5[first - 1]
        else:
            start = max(0, t - minutes)
            total = self.timeline.totals[t] - self.timeline.totals[start]
            error = self.timeline.errors[t] - self.timeline.errors[start]
        return error / total if total else None

    def firing(self, windows: Sequence[BurnWindow]) -> list[tuple[BurnWindow, ...]]:
        """The windows whose alert fires at each minute (`for` included)."""
        minutes = range(self.timeline.length + 1)
        durations = {d for window in windows for d in (window.long, window.short)}
        ratios = {d: [self.ratio(d, t) for t in minutes] for d in durations}
        held = []
        for window in windows:
            threshold = float(window.factor) * self.budget
            beyond = _COMPARISONS[window.op]
            conditions = [
                long is not None and short is not None
                and beyond(long, threshold) and beyond(short, threshold)
                for long, short in zip(ratios[window.long], ratios[window.short], strict=True)
            ]
            held.append(for_held(conditions, window.for_.minutes if window.for_ else 0))
        return [tuple(w for w, states in zip(windows, held, strict=True) if states[t])
                for t in minutes]


def for_held(conditions: Sequence[bool], for_minutes: int) -> list[bool]:
    """Alert state per minute for a condition per minute and a `for` duration."""
    held, states = 0, []
    for condition in conditions:
        held = held + 1 if condition else 0
        states.append(held > for_minutes)
    return states


def stable(states: Sequence[object], t: int, radius: int = 2) -> bool:
    """The state at t is the same for `radius` minutes either side (robust to off-by-one)."""
    if t - radius < 0 or t + radius >= len(states):
        return False
    return all(states[u] == states[t] for u in range(t - radius, t + radius + 1))


def first_stable(
    states: Sequence[S], start: int, wanted: Callable[[S], bool], radius: int = 2
) -> int | None:
    for t in range(start, len(states)):
        if wanted(states[t]) and stable(states, t, radius):
            return t
    return None


def least_squares_slope(values: Sequence[float]) -> float:
    """deriv(): slope per minute of the least-squares line through equally spaced values."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    numerator = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    denominator = sum((i - mean_x) ** 2 for i in range(n))
    return numerator / denominator
