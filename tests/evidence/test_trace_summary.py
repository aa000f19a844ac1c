"""The trace summarizer on event streams built by hand: cycles, pauses, timelines."""

from __future__ import annotations

from mapguard.evidence.tracesummary import (
    GC_MARK_RANGE,
    GOAL_METRIC,
    HEAP_METRIC,
    TraceSummarizer,
)
from mapguard.formats.trace import GoroutineTransition, MetricEvent, RangeEvent, TraceEvent

SWEEP = "stop-the-world (GC sweep termination)"
MARK_TERM = "stop-the-world (GC mark termination)"


def _cycle(start: int) -> list[TraceEvent]:
    """A GC cycle as go1.27 reports it: mark begins, sweep-termination STW, mark termination
    STW begins, mark ends inside it, STW ends."""
    return [
        RangeEvent(start, "RangeBegin", GC_MARK_RANGE, "None", 0),
        RangeEvent(start + 100, "RangeBegin", SWEEP, "Goroutine(9)", 0),
        RangeEvent(start + 150, "RangeEnd", SWEEP, "Goroutine(9)", 0),
        RangeEvent(start + 1000, "RangeBegin", MARK_TERM, "Goroutine(11)", 0),
        RangeEvent(start + 1100, "RangeEnd", GC_MARK_RANGE, "None", 0),
        RangeEvent(start + 1300, "RangeEnd", MARK_TERM, "Goroutine(11)", 0),
    ]


def test_cycles_and_their_pauses() -> None:
    events: list[TraceEvent] = [
        RangeEvent(10_000, "RangeBegin", "stop-the-world (start trace)", "Goroutine(1)", 0),
        RangeEvent(10_020, "RangeEnd", "stop-the-world (start trace)", "Goroutine(1)", 0),
        *_cycle(20_000),
        *_cycle(50_000),
        RangeEvent(90_000, "RangeBegin", GC_MARK_RANGE, "None", 0),  # still running at the end
    ]
    summary = TraceSummarizer().add_all(events).result()
    assert summary.duration_ns == 80_000
    first, second, third = summary.gc_cycles
    assert (first.start_ns, first.duration_ns, first.mark_ns, first.stw_ns) == (
        10_000, 1300, 1100, 50 + 300)
    assert second.start_ns == 40_000
    assert (third.duration_ns, third.mark_ns) == (None, None)
    assert [(p.reason, p.duration_ns, p.gc_cycle) for p in summary.stw] == [
        ("start trace", 20, None),
        ("GC sweep termination", 50, 1), ("GC mark termination", 300, 1),
        ("GC sweep termination", 50, 2), ("GC mark termination", 300, 2),
    ]


def test_cycle_in_progress_when_the_trace_started() -> None:
    events: list[TraceEvent] = [
        RangeEvent(5, "RangeActive", GC_MARK_RANGE, "None", 0),
        RangeEvent(50, "RangeBegin", MARK_TERM, "Goroutine(3)", 0),
        RangeEvent(60, "RangeEnd", GC_MARK_RANGE, "None", 0),
        RangeEvent(80, "RangeEnd", MARK_TERM, "Goroutine(3)", 0),
    ]
    (cycle,) = TraceSummarizer().add_all(events).result().gc_cycles
    assert cycle.began_before_trace and cycle.stw_ns == 30 and cycle.duration_ns == 75


def test_goroutine_counts() -> None:
    events: list[TraceEvent] = [
        GoroutineTransition(0, 1, "Undetermined", "Running", "", 0),
        GoroutineTransition(1, 2, "NotExist", "Runnable", "", 0),
        GoroutineTransition(2, 3, "NotExist", "Runnable", "", 0),
        GoroutineTransition(3, 2, "Runnable", "Running", "", 0),
        GoroutineTransition(4, 2, "Running", "NotExist", "", 0),
    ]
    summary = TraceSummarizer().add_all(events).result()
    assert summary.goroutines == ((0, 1), (1, 2), (2, 3), (4, 2))
    assert summary.runnable == ((0, 0), (1, 1), (2, 2), (3, 1))


def test_timelines_keep_peaks_within_the_point_budget() -> None:
    values = [(t * 10, (t * 7919) % 1000) for t in range(5000)]
    events: list[TraceEvent] = [MetricEvent(t, HEAP_METRIC, v, 0) for t, v in values]
    events.append(MetricEvent(50_000, GOAL_METRIC, 4 << 20, 0))
    summary = TraceSummarizer(points=40).add_all(events).result()
    assert len(summary.heap) <= 41
    assert max(v for _, v in summary.heap) == max(v for _, v in values)
    assert summary.heap[-1] == values[-1]  # where it ended is always kept
    assert [t for t, _ in summary.heap] == sorted(t for t, _ in summary.heap)
    assert summary.heap_goal == ((50_000, 4 << 20),)
