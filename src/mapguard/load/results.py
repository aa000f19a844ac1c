"""Per-step figures of a load run: HDR histograms, achieved rate, errors, and whether the
generator itself kept up.

Latency runs from each request's *intended* send time, so waiting for a free connection or a
late timer counts (no coordinated omission). Two ways the generator itself can get in the way:

- it sent fewer requests than planned while connections were still free: the step is
  `generator_bound`, its latencies would describe the generator, and they are withheld;
- its timers woke late (a busy machine): the requests still went out, but their latencies
  include that delay. When the lag's p99 is a large part of the latency p99 the step is
  `generator_late` and says by how much.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mapguard.load.intervals import Buckets, EngineRun, Interval
from mapguard.load.plan import LoadPlan, Step

if TYPE_CHECKING:
    from hdrh.histogram import HdrHistogram

PERCENTILES = (50.0, 90.0, 99.0, 99.9)
HELD_TOLERANCE = 0.01  # the rate is held when at most 1 % of the planned requests went unsent
LAG_FLOOR_MS = 5.0  # timer lag below this is never worth a warning
LAG_SHARE = 0.25  # ... above it, when it is this share of the latency p99 or more
HIGHEST_US = 1 << 36


def new_histogram() -> HdrHistogram:
    from hdrh.histogram import HdrHistogram

    return HdrHistogram(1, HIGHEST_US, 3)


def histogram_of(buckets: Iterable[Buckets]) -> HdrHistogram:
    histogram = new_histogram()
    for pairs in buckets:
        for value, count in pairs:
            histogram.record_value(max(value, 1), count)
    return histogram


@dataclass(frozen=True, slots=True)
class Latency:
    """Milliseconds; `count` answered requests."""

    count: int
    percentiles_ms: Mapping[float, float]
    max_ms: float

    def at(self, percentile: float) -> float:
        return self.percentiles_ms[percentile]


def summarize(histogram: HdrHistogram) -> Latency | None:
    count = histogram.get_total_count()
    if not count:
        return None
    # One pass for all percentiles (the library's mean would be another, slow one: not shown).
    values = histogram.get_percentile_to_value_dict(list(PERCENTILES))
    return Latency(count=count, percentiles_ms={p: values[p] / 1000 for p in PERCENTILES},
                   max_ms=histogram.get_max_value() / 1000)


def count_at_most(buckets: Iterable[Buckets], threshold_us: float) -> int:
    """Requests whose latency is at most `threshold_us` (to the histogram's 0.1 %)."""
    return sum(count for pairs in buckets for value, count in pairs if value <= threshold_us)


@dataclass(frozen=True, slots=True)
class StepResult:
    number: int  # 1-based, warm-up not counted
    step: Step
    intervals: tuple[Interval, ...]
    latency: Latency | None  # None when nothing was answered, or the generator was the limit
    lag_p99_ms: float | None
    max_connections: int
    complete: bool  # every interval of the step was measured (not cut short)

    @property
    def service(self) -> Latency | None:
        """From the actual send time: the figure a closed-loop tool would report."""
        return summarize(histogram_of(i.service_us for i in self.intervals))

    @property
    def start_ns(self) -> int:
        return self.intervals[0].start_ns

    @property
    def end_ns(self) -> int:
        return self.intervals[-1].end_ns

    @property
    def seconds(self) -> float:
        return sum(interval.seconds for interval in self.intervals)

    @property
    def scheduled(self) -> int:
        return sum(i.scheduled for i in self.intervals)

    @property
    def sent(self) -> int:
        return sum(i.sent for i in self.intervals)

    @property
    def answered(self) -> int:
        return sum(i.answered for i in self.intervals)

    @property
    def queued(self) -> int:
        return sum(i.queued for i in self.intervals)

    @property
    def max_in_flight(self) -> int:
        return max((i.max_in_flight for i in self.intervals), default=0)

    @property
    def errors(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for interval in self.intervals:
            found.update(interval.errors)
        return found

    @property
    def failed(self) -> int:
        """Requests without a successful answer: transport errors, not sent, status >= 400."""
        return sum(self.errors.values())

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    @property
    def behind(self) -> float:
        """Share of the planned requests not sent within the step (0 when on time)."""
        return max(0.0, 1 - self.sent / self.scheduled) if self.scheduled else 0.0

    @property
    def held(self) -> bool:
        return self.behind <= HELD_TOLERANCE

    @property
    def connections_saturated(self) -> bool:
        return self.max_in_flight >= self.max_connections

    @property
    def generator_bound(self) -> bool:
        """The generator could not send at the rate although connections were free: the
        service was not loaded as planned (its latencies are withheld)."""
        return not self.held and not self.connections_saturated

    @property
    def generator_late(self) -> bool:
        """The generator's timers were late by a large part of the latency p99."""
        lag, latency = self.lag_p99_ms, self.latency
        return (lag is not None and latency is not None and lag >= LAG_FLOOR_MS
                and lag >= LAG_SHARE * latency.at(99.0))

    @property
    def rate_verdict(self) -> str:
        if self.held:
            return "held"
        cause = ("all connections were busy: the service did not keep up"
                 if self.connections_saturated else "the generator could not send fast enough")
        return f"fell behind by {100 * self.behind:.1f}% ({cause})"


@dataclass(frozen=True, slots=True)
class LoadResult:
    plan: LoadPlan
    steps: tuple[StepResult, ...]
    gomaxprocs: int | None  # of the engine
    interrupted: bool

    @property
    def generator_bound(self) -> bool:
        return any(step.generator_bound for step in self.steps)


def step_results(plan: LoadPlan, run: EngineRun) -> LoadResult:
    by_step: dict[int, list[Interval]] = {}
    for interval in run.intervals:
        by_step.setdefault(interval.step, []).append(interval)
    results = []
    number = 0
    for index, step in enumerate(plan.steps):
        if step.warmup:
            continue
        number += 1
        intervals = [i for i in by_step.get(index, []) if i.scheduled or i.sent]
        if intervals:
            expected = math.ceil(step.seconds / plan.interval_s - 1e-9)
            complete = len(intervals) >= expected and not run.interrupted
            results.append(make_step(number, step, intervals, plan.max_connections, complete))
    return LoadResult(plan, tuple(results), run.start.gomaxprocs if run.start else None,
                      run.interrupted)


def make_step(number: int, step: Step, intervals: Sequence[Interval], max_connections: int,
              complete: bool) -> StepResult:
    lag = summarize(histogram_of(i.lag_us for i in intervals))
    step_result = StepResult(number, step, tuple(intervals), None,
                             None if lag is None else lag.at(99.0), max_connections, complete)
    if step_result.generator_bound:
        return step_result
    latency = summarize(histogram_of(i.latency_us for i in intervals))
    return dataclasses.replace(step_result, latency=latency)


def window_step(number: int, intervals: Sequence[Interval], start_ns: int, end_ns: int,
                max_connections: int) -> StepResult | None:
    """The measured intervals that lie wholly inside [start_ns, end_ns) as one step (what a
    chaos step saw of a load run); intervals across a boundary belong to neither side."""
    inside = [i for i in intervals
              if not i.warmup and i.start_ns >= start_ns and i.end_ns <= end_ns]
    if not inside:
        return None
    seconds = sum(i.seconds for i in inside)
    rate = sum(i.scheduled for i in inside) / seconds
    return make_step(number, Step(rate, seconds), inside, max_connections, complete=True)
