"""What an execution trace says about GC: cycles, stop-the-world pauses, heap and goroutines.

Built from the event stream of `mapguard.formats.trace` in one pass and bounded memory: the
timelines keep at most `points` points each (the peak of each merged interval).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mapguard.formats.trace import GoroutineTransition, MetricEvent, RangeEvent, TraceEvent

GC_MARK_RANGE = "GC concurrent mark phase"
STW_PREFIX = "stop-the-world ("
HEAP_METRIC = "/memory/classes/heap/objects:bytes"  # what the trace viewer calls "Heap"
GOAL_METRIC = "/gc/heap/goal:bytes"
PROCS_METRIC = "/sched/gomaxprocs:threads"
_ALIVE = frozenset({"Runnable", "Running", "Syscall", "Waiting"})


@dataclass(frozen=True, slots=True)
class StwPause:
    reason: str  # e.g. "GC mark termination", "GOMAXPROCS", "start trace"
    start_ns: int  # since the trace's first event
    duration_ns: int
    gc_cycle: int | None  # 1-based index of the GC cycle in this trace it belongs to


@dataclass(frozen=True, slots=True)
class TraceGcCycle:
    index: int  # 1-based, in this trace
    start_ns: int  # since the trace's first event; includes the sweep-termination pause
    duration_ns: int | None  # None when the trace ended before the cycle did
    mark_ns: int | None  # the concurrent mark phase alone
    stw_ns: int  # its stop-the-world pauses added up
    began_before_trace: bool


@dataclass(frozen=True, slots=True)
class TraceSummary:
    duration_ns: int
    events: int
    gc_cycles: tuple[TraceGcCycle, ...]
    stw: tuple[StwPause, ...]
    heap: tuple[tuple[int, int], ...]  # (ns since start, bytes) — heap objects, as the viewer
    heap_goal: tuple[tuple[int, int], ...]
    goroutines: tuple[tuple[int, int], ...]  # (ns since start, goroutines that exist)
    runnable: tuple[tuple[int, int], ...]  # (ns since start, goroutines waiting for a P)
    gomaxprocs: int | None


class _Timeline:
    """(time, value) points, at most `limit` of them, each the peak of an equal number of the
    changes that were added: when full, neighbours merge and later points cover twice as many."""

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


@dataclass(slots=True)
class _OpenCycle:
    index: int
    start: int
    mark_start: int
    mark_end: int | None = None
    end: int | None = None
    stw_ns: int = 0
    before_trace: bool = False


@dataclass(slots=True)
class TraceSummarizer:
    """Feed events in trace order (`add`), then take `result()`."""

    points: int = 200
    events: int = 0
    _first: int | None = None
    _last: int = 0
    _cycles: list[_OpenCycle] = field(default_factory=list)
    _open_cycle: _OpenCycle | None = None
    _stw_open: dict[tuple[str, str], tuple[int, _OpenCycle | None]] = field(default_factory=dict)
    _stw: list[StwPause] = field(default_factory=list)
    _states: dict[int, str] = field(default_factory=dict)
    _alive: int = 0
    _runnable: int = 0
    _gomaxprocs: int | None = None
    _timelines: dict[str, _Timeline] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("heap", "goal", "goroutines", "runnable"):
            self._timelines[name] = _Timeline(self.points)

    def add_all(self, events: Iterable[TraceEvent]) -> TraceSummarizer:
        for event in events:
            self.add(event)
        return self

    def add(self, event: TraceEvent) -> None:
        self.events += 1
        if self._first is None:
            self._first = event.time
        self._last = max(self._last, event.time)
        if isinstance(event, RangeEvent):
            self._range(event)
        elif isinstance(event, MetricEvent):
            self._metric(event)
        else:
            self._goroutine(event)

    def _range(self, event: RangeEvent) -> None:
        if event.name == GC_MARK_RANGE:
            if event.kind == "RangeEnd":
                cycle = self._open_cycle
                if cycle is not None:
                    cycle.mark_end = cycle.end = event.time
                    self._open_cycle = None
                return
            cycle = _OpenCycle(len(self._cycles) + 1, event.time, event.time,
                               before_trace=event.kind == "RangeActive")
            self._cycles.append(cycle)
            self._open_cycle = cycle
            return
        if not event.name.startswith(STW_PREFIX):
            return
        key = (event.name, event.scope)
        if event.kind != "RangeEnd":
            self._stw_open[key] = (event.time, self._open_cycle)
            return
        begun = self._stw_open.pop(key, None)
        if begun is None:
            return  # began before the trace: its length is unknown
        start, cycle_at_start = begun
        reason = event.name[len(STW_PREFIX):].removesuffix(")")
        cycle = self._cycle_of(reason, cycle_at_start)
        if cycle is not None:
            cycle.stw_ns += event.time - start
            cycle.start = min(cycle.start, start)
            cycle.end = max(cycle.end or event.time, event.time)
        origin = self._first or 0
        self._stw.append(StwPause(reason, start - origin, event.time - start,
                                  cycle.index if cycle else None))

    def _cycle_of(self, reason: str, at_start: _OpenCycle | None) -> _OpenCycle | None:
        if not reason.startswith("GC"):
            return None
        # Sweep termination can stop the world just before the mark phase is reported as begun.
        return at_start or self._open_cycle or (self._cycles[-1] if self._cycles else None)

    def _metric(self, event: MetricEvent) -> None:
        if not isinstance(event.value, int):
            return
        if event.name == HEAP_METRIC:
            self._timelines["heap"].add(event.time, event.value)
        elif event.name == GOAL_METRIC:
            self._timelines["goal"].add(event.time, event.value)
        elif event.name == PROCS_METRIC:
            self._gomaxprocs = event.value

    def _goroutine(self, event: GoroutineTransition) -> None:
        old = self._states.get(event.goroutine, event.old)
        self._alive += (event.new in _ALIVE) - (old in _ALIVE)
        self._runnable += (event.new == "Runnable") - (old == "Runnable")
        if event.new == "NotExist":
            self._states.pop(event.goroutine, None)
        else:
            self._states[event.goroutine] = event.new
        self._timelines["goroutines"].add(event.time, self._alive)
        self._timelines["runnable"].add(event.time, self._runnable)

    def result(self) -> TraceSummary:
        origin = self._first or 0
        cycles = tuple(
            TraceGcCycle(
                index=cycle.index,
                start_ns=cycle.start - origin,
                duration_ns=None if cycle.end is None else cycle.end - cycle.start,
                mark_ns=None if cycle.mark_end is None else cycle.mark_end - cycle.mark_start,
                stw_ns=cycle.stw_ns,
                began_before_trace=cycle.before_trace,
            )
            for cycle in self._cycles
        )
        lines = self._timelines
        return TraceSummary(
            duration_ns=self._last - origin,
            events=self.events,
            gc_cycles=cycles,
            stw=tuple(self._stw),
            heap=lines["heap"].result(origin),
            heap_goal=lines["goal"].result(origin),
            goroutines=lines["goroutines"].result(origin),
            runnable=lines["runnable"].result(origin),
            gomaxprocs=self._gomaxprocs,
        )
