"""What the agent reads from a target's Go collector metrics (client_golang's names)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from mapguard.formats.promtext import Sample

GOROUTINES = "go_goroutines"
START_TIME = "process_start_time_seconds"
PAUSE_SUMMARY = "go_gc_duration_seconds"  # per-cycle sums of pauses; quantiles, sum, count
# Individual stop-the-world pauses from runtime/metrics, when the service exports them:
# client_golang >= 1.17 with runtime metrics on, and the older name of the same histogram.
PAUSE_HISTOGRAMS = ("go_sched_pauses_total_gc_seconds", "go_gc_pauses_seconds")
FAMILIES = (GOROUTINES, START_TIME, PAUSE_SUMMARY, *PAUSE_HISTOGRAMS)


@dataclass(frozen=True, slots=True)
class PauseHistogram:
    buckets: tuple[tuple[float, float], ...]  # (upper bound, cumulative count), ends with +Inf
    sum: float | None  # None when the target does not know it (runtime/metrics has no sum)


@dataclass(frozen=True, slots=True)
class GoRuntime:
    goroutines: float | None = None
    start_time: float | None = None
    pause_histogram: PauseHistogram | None = None
    pause_summary: tuple[float, float] | None = None  # (sum of seconds, cycles)


def read_go_runtime(samples: Iterable[Sample]) -> GoRuntime:
    values: dict[str, float] = {}
    buckets: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    for sample in samples:
        if sample.name.endswith("_bucket"):
            bound = _bound(sample.label("le"))
            if bound is not None:
                family = sample.name.removesuffix("_bucket")
                buckets.setdefault(family, {})[bound] = sample.value
        elif sample.name.endswith("_sum"):
            sums[sample.name.removesuffix("_sum")] = sample.value
        elif not sample.labels:
            values[sample.name] = sample.value
    histogram = None
    for family in PAUSE_HISTOGRAMS:
        found = buckets.get(family)
        if found and math.inf in found:
            total = sums.get(family)
            histogram = PauseHistogram(tuple(sorted(found.items())),
                                       None if total is None or math.isnan(total) else total)
            break
    summary = None
    if f"{PAUSE_SUMMARY}_count" in values and PAUSE_SUMMARY in sums:
        summary = (sums[PAUSE_SUMMARY], values[f"{PAUSE_SUMMARY}_count"])
    return GoRuntime(values.get(GOROUTINES), values.get(START_TIME), histogram, summary)


def _bound(text: str | None) -> float | None:
    try:
        bound = float(text) if text is not None else math.nan
    except ValueError:
        return None
    return None if math.isnan(bound) else bound
