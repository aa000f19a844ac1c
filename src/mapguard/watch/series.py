"""The bounded state the agent keeps per target: counters, a pause histogram, gauges.

No profile is kept. Sites are capped as every exporter of mapguard caps them (`SiteCap`): the
largest keep their names, the rest are summed as `site="other"`.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

from mapguard.sitecap import SiteCap
from mapguard.watch.costs import Costs
from mapguard.watch.goruntime import GoRuntime, PauseHistogram

# Upper bounds (seconds) for pauses when the target only has the go_gc_duration_seconds summary.
SUMMARY_BOUNDS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
                  5e-2, 0.1, 0.25, 0.5, 1.0, math.inf)
MAX_MIRRORED_BUCKETS = 40


@dataclass(frozen=True, slots=True)
class SiteTotal:
    site: str
    op: str
    bytes: int
    objects: int


class SiteCounters:
    def __init__(self, top: int, idle_intervals: int) -> None:
        self.totals: dict[tuple[str, str], list[int]] = {}
        self.cap = SiteCap(top, idle_intervals, self._forget)

    def add(self, delta: Costs) -> None:
        self.cap.next_interval()
        for (site, op), (nbytes, objects) in delta.ranked():
            if nbytes <= 0 and objects <= 0:
                continue
            total = self.totals.setdefault((self.cap.admit(site), op), [0, 0])
            total[0] += nbytes
            total[1] += objects

    def _forget(self, site: str) -> None:
        for key in [key for key in self.totals if key[0] == site]:
            del self.totals[key]

    def snapshot(self) -> tuple[SiteTotal, ...]:
        return tuple(SiteTotal(site, op, total[0], total[1])
                     for (site, op), total in sorted(self.totals.items()))


@dataclass(frozen=True, slots=True)
class PauseSnapshot:
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ends with +Inf
    sum: float


class PauseSeries:
    """`mapguard_gc_pause_seconds` from the target's own data: its pause histogram as it is
    (individual STW pauses, at most MAX_MIRRORED_BUCKETS bounds), else built from the summary
    of per-cycle pause sums, each interval's new cycles counted at their mean pause."""

    def __init__(self) -> None:
        self.mirrored: PauseSnapshot | None = None
        self.counts = [0.0] * len(SUMMARY_BOUNDS)
        self.sum = 0.0
        self.previous: tuple[float, float] | None = None
        self.start_time: float | None = None

    def update(self, runtime: GoRuntime) -> None:
        if runtime.pause_histogram is not None:
            self.mirrored = _mirror(runtime.pause_histogram)
            return
        self.mirrored = None
        if runtime.pause_summary is None:
            return
        previous, self.previous = self.previous, runtime.pause_summary
        started, self.start_time = self.start_time, runtime.start_time
        if previous is None:
            return
        total, cycles = runtime.pause_summary
        restarted = cycles < previous[1] or (started is not None and runtime.start_time
                                             is not None and started != runtime.start_time)
        new_sum, new_cycles = (total, cycles) if restarted else (total - previous[0],
                                                                 cycles - previous[1])
        if new_cycles <= 0:
            return
        mean = max(0.0, new_sum) / new_cycles
        for index in range(bisect.bisect_left(SUMMARY_BOUNDS, mean), len(SUMMARY_BOUNDS)):
            self.counts[index] += new_cycles
        self.sum += max(0.0, new_sum)

    def snapshot(self) -> PauseSnapshot | None:
        if self.mirrored is not None:
            return self.mirrored
        if self.previous is None:
            return None
        return PauseSnapshot(tuple(zip(SUMMARY_BOUNDS, self.counts, strict=True)), self.sum)


def _mirror(histogram: PauseHistogram) -> PauseSnapshot:
    buckets = histogram.buckets
    if len(buckets) > MAX_MIRRORED_BUCKETS:
        # Fewer bounds of a cumulative histogram are still exact, only coarser.
        step = math.ceil((len(buckets) - 1) / (MAX_MIRRORED_BUCKETS - 1))
        buckets = (*buckets[:-1][step - 1::step], buckets[-1])
    if histogram.sum is not None:
        total = histogram.sum
    else:
        # runtime/metrics gives no sum: bound it from above by each bucket's upper bound.
        total, below = 0.0, 0.0
        finite = [b for b in histogram.buckets if not math.isinf(b[0])]
        for bound, count in finite:
            total += (count - below) * bound
            below = count
        if finite:
            total += (histogram.buckets[-1][1] - below) * finite[-1][0]
    return PauseSnapshot(buckets, total)
