"""What a gctrace says at a glance: pauses, GC CPU share, cycle rate, heap trend.

`GcAggregate` keeps running aggregates, so a log of any length, or a live run of days, is
summarised in bounded memory: distributions are counts of distinct values (gctrace prints
times with two or three significant digits, so they stay few), trends are running sums,
sparklines keep the peaks of a bounded number of intervals, and of the cycles themselves only
the first and last few are kept for the table.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mapguard.evidence.summarystats import Distribution, PeakSeries, Trend
from mapguard.formats.gctrace import Cycles, GcCycle, GcTrace, MalformedLine

KEPT_MALFORMED = 100
SPARK_POINTS = 120
_CPU_FIELDS = ("cpu_sweep_term_ms", "cpu_assist_ms", "cpu_background_ms", "cpu_mark_term_ms")


@dataclass(frozen=True, slots=True)
class GcSummary:
    cycles: int
    forced: int
    span_s: float  # from the first to the last cycle's start
    cycles_per_s: float | None  # None with fewer than two cycles
    # The runtime's own figure on the last line: GC's share of CPU since the program started.
    gc_cpu_percent: int | None
    # GC's share over the logged window alone (what a log excerpt shows): the CPU of the cycles
    # after the first, less idle marking as the runtime counts it, over the window times P.
    gc_cpu_window_percent: float | None
    pauses_ms: Distribution  # each stop-the-world pause on its own: two per cycle
    cycle_pause_ms: Distribution  # both pauses of a cycle added up
    concurrent_mark_ms: Distribution
    heap_live_mb: Trend | None  # slope in MB/s
    heap_goal_mb: Trend | None
    procs: int | None


class _RunningTrend:
    """First, last, extremes and the least-squares slope of (time, value) pairs added in blocks
    (Chan et al.'s pairwise update of means and co-moments)."""

    __slots__ = ("co", "count", "first", "high", "last", "low", "mean_t", "mean_v", "spread")

    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = self.low = self.high = 0.0
        self.mean_t = self.mean_v = self.co = self.spread = 0.0

    def add(self, times: Sequence[float], values: Sequence[float]) -> None:
        if not len(values):
            return
        t = np.asarray(times, dtype=np.float64)
        v = np.asarray(values, dtype=np.float64)
        if not self.count:
            self.first, self.low, self.high = float(v[0]), float(v.min()), float(v.max())
        self.last = float(v[-1])
        self.low, self.high = min(self.low, float(v.min())), max(self.high, float(v.max()))
        n_b = len(v)
        mean_t, mean_v = float(t.mean()), float(v.mean())
        co = float(np.dot(t - mean_t, v - mean_v))
        spread = float(np.dot(t - mean_t, t - mean_t))
        n = self.count + n_b
        dt, dv = mean_t - self.mean_t, mean_v - self.mean_v
        self.co += co + dt * dv * self.count * n_b / n
        self.spread += spread + dt * dt * self.count * n_b / n
        self.mean_t += dt * n_b / n
        self.mean_v += dv * n_b / n
        self.count = n

    def result(self) -> Trend | None:
        if not self.count:
            return None
        slope = self.co / self.spread if self.count > 1 and self.spread > 0 else None
        return Trend(self.first, self.last, self.low, self.high, slope)


class GcAggregate:
    """Feed parsed blocks (`add`) or single cycles (`add_cycle`); take `summary()`."""

    def __init__(self, rows: int = 40) -> None:
        self.cycles = 0
        self.forced = 0
        self.other_lines = 0
        self.malformed: list[MalformedLine] = []
        self.malformed_count = 0
        self._first_at: float | None = None
        self._last_at = 0.0
        self._last: GcCycle | None = None
        self._window_cpu_ms = 0.0  # GC CPU of every cycle after the first
        self._pauses: Counter[float] = Counter()
        self._cycle_pauses: Counter[float] = Counter()
        self._marks: Counter[float] = Counter()
        self._live = _RunningTrend()
        self._goal = _RunningTrend()
        self.live_series = PeakSeries(SPARK_POINTS)
        self.goal_series = PeakSeries(SPARK_POINTS)
        # The cycles shown: all when `rows` is 0, else the first and last rows // 2.
        half = max(1, rows // 2) if rows else 0
        self._head: list[GcCycle] = []
        self._head_size = half
        self._tail: deque[GcCycle] | list[GcCycle] = deque(maxlen=half) if rows else []

    def add(self, trace: GcTrace) -> None:
        """A parsed block of a log, in line order."""
        self.other_lines += trace.other_lines
        self._malformed(trace.malformed)
        cycles = trace.cycles
        if not len(cycles):
            return
        at = cycles.column("at_s")
        sweep = cycles.column("stw_sweep_term_ms")
        mark_term = cycles.column("stw_mark_term_ms")
        skip = 0 if self.cycles else 1  # the window's CPU counts the cycles after the first
        for field in _CPU_FIELDS:
            self._window_cpu_ms += math.fsum(cycles.column(field)[skip:])
        self._pauses.update(sweep)
        self._pauses.update(mark_term)
        self._cycle_pauses.update(a + b for a, b in zip(sweep, mark_term, strict=True))
        self._marks.update(cycles.column("concurrent_mark_ms"))
        live, goal = cycles.column("heap_live_mb"), cycles.column("heap_goal_mb")
        self._live.add(at, live)
        self._goal.add(at, goal)
        numbers = np.arange(self.cycles, self.cycles + len(cycles), dtype=np.int64)
        self.live_series.extend(numbers, np.asarray(live, dtype=np.int64))
        self.goal_series.extend(numbers, np.asarray(goal, dtype=np.int64))
        self.forced += sum(1 for notes in cycles.column("notes") if "forced" in notes)
        if self._first_at is None:
            self._first_at = at[0]
        self._last_at = at[-1]
        self.cycles += len(cycles)
        self._last = cycles[-1]
        room = self._head_size - len(self._head) if self._head_size else len(cycles)
        self._head.extend(cycles[:room])
        if isinstance(self._tail, deque) and self._tail.maxlen is not None:
            room = max(room, len(cycles) - self._tail.maxlen)  # only what the tail keeps
        self._tail.extend(cycles[room:])

    def add_cycle(self, cycle: GcCycle) -> None:
        """One cycle of a live run."""
        self.add(GcTrace(_one(cycle), (), 0))

    def add_other(self, malformed: MalformedLine | None) -> None:
        """A line of a live run that is not a cycle: malformed, or other output (None)."""
        if malformed is None:
            self.other_lines += 1
        else:
            self._malformed((malformed,))

    def _malformed(self, lines: Iterable[MalformedLine]) -> None:
        for line in lines:
            self.malformed_count += 1
            if len(self.malformed) < KEPT_MALFORMED:
                self.malformed.append(line)

    @property
    def shown(self) -> tuple[list[GcCycle], int]:
        """The cycles kept for display, in order, and how many between them are left out."""
        kept = [*self._head, *self._tail]
        return kept, self.cycles - len(kept)

    def summary(self) -> GcSummary:
        last = self._last
        span = self._last_at - self._first_at if self._first_at is not None else 0.0
        window = None
        if self.cycles > 1 and span > 0 and last is not None and last.procs > 0:
            window = 100 * self._window_cpu_ms / (span * 1000 * last.procs)
        return GcSummary(
            cycles=self.cycles,
            forced=self.forced,
            span_s=span,
            cycles_per_s=(self.cycles - 1) / span if self.cycles > 1 and span > 0 else None,
            gc_cpu_percent=last.gc_cpu_percent if last else None,
            gc_cpu_window_percent=window,
            pauses_ms=Distribution.of_counts(self._pauses),
            cycle_pause_ms=Distribution.of_counts(self._cycle_pauses),
            concurrent_mark_ms=Distribution.of_counts(self._marks),
            heap_live_mb=self._live.result(),
            heap_goal_mb=self._goal.result(),
            procs=last.procs if last else None,
        )


def _one(cycle: GcCycle) -> Cycles:
    return Cycles.from_rows([tuple(cycle)])


def summarize_gctrace(trace: GcTrace) -> GcSummary:
    aggregate = GcAggregate()
    aggregate.add(trace)
    return aggregate.summary()
