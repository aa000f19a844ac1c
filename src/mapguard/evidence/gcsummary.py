"""What a gctrace says at a glance: pauses, GC CPU share, cycle rate, heap trend."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mapguard.evidence.summarystats import Distribution, Trend
from mapguard.formats.gctrace import Cycles, GcTrace


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


def summarize_gctrace(trace: GcTrace) -> GcSummary:
    cycles = trace.cycles
    at = cycles.column("at_s")
    sweep = cycles.column("stw_sweep_term_ms")
    mark_term = cycles.column("stw_mark_term_ms")
    span = at[-1] - at[0] if at else 0.0
    return GcSummary(
        cycles=len(cycles),
        forced=sum(1 for notes in cycles.column("notes") if "forced" in notes),
        span_s=span,
        cycles_per_s=(len(at) - 1) / span if len(at) > 1 and span > 0 else None,
        gc_cpu_percent=cycles[-1].gc_cpu_percent if cycles else None,
        gc_cpu_window_percent=_window_share(cycles, span),
        pauses_ms=Distribution.of(sweep + mark_term),
        cycle_pause_ms=Distribution.of([a + b for a, b in zip(sweep, mark_term, strict=True)]),
        concurrent_mark_ms=Distribution.of(cycles.column("concurrent_mark_ms")),
        heap_live_mb=Trend.of(at, cycles.column("heap_live_mb")),
        heap_goal_mb=Trend.of(at, cycles.column("heap_goal_mb")),
        procs=cycles[-1].procs if cycles else None,
    )


def _window_share(cycles: Cycles, span_s: float) -> float | None:
    if len(cycles) < 2 or span_s <= 0:
        return None
    busy_ms = 0.0
    for field in ("cpu_sweep_term_ms", "cpu_assist_ms", "cpu_background_ms", "cpu_mark_term_ms"):
        busy_ms += math.fsum(cycles.column(field)[1:])
    procs = cycles[-1].procs
    return 100 * busy_ms / (span_s * 1000 * procs) if procs > 0 else None
