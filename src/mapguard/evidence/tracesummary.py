"""What an execution trace says about GC: cycles, stop-the-world pauses, heap and goroutines.

Built from the event stream of `mapguard.formats.trace` in one pass and bounded memory: the
timelines keep at most `points` points each (the peak of each merged interval).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mapguard.evidence.summarystats import PeakSeries, peak_points
from mapguard.formats.trace import GoroutineTransition, MetricEvent, RangeEvent, TraceEvent
from mapguard.formats.tracewire import Ev, IntArray, WireEvents

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
    _timelines: dict[str, PeakSeries] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("heap", "goal", "goroutines", "runnable"):
            self._timelines[name] = PeakSeries(self.points)

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
            if event.kind == "RangeActive" and self._open_cycle is not None:
                return  # a new generation of the trace restates the cycle under way
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

    def cover(self, first: int, last: int, events: int) -> None:
        """The span and event count of a trace whose events were not all fed one by one."""
        self._first, self._last, self.events = first, last, events

    def result(self, timelines: Mapping[str, tuple[tuple[int, int], ...]] | None = None
               ) -> TraceSummary:
        """The summary; `timelines` (heap, goal, goroutines, runnable; relative times)
        replace the ones built from the events fed."""
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
        lines = {name: line.result(origin) for name, line in self._timelines.items()}
        lines.update(timelines or {})
        return TraceSummary(
            duration_ns=self._last - origin,
            events=self.events,
            gc_cycles=cycles,
            stw=tuple(self._stw),
            heap=lines["heap"],
            heap_goal=lines["goal"],
            goroutines=lines["goroutines"],
            runnable=lines["runnable"],
            gomaxprocs=self._gomaxprocs,
        )


# Goroutine states, as `go tool trace` names them.
_NOT_EXIST, _RUNNABLE, _RUNNING, _SYSCALL, _WAITING = range(5)
_STATUS = np.array([_NOT_EXIST, _RUNNABLE, _RUNNING, _SYSCALL, _WAITING], dtype=np.int8)
_RANGE_KINDS = {Ev.GC_ACTIVE: ("RangeActive", GC_MARK_RANGE),
                Ev.GC_BEGIN: ("RangeBegin", GC_MARK_RANGE),
                Ev.GC_END: ("RangeEnd", GC_MARK_RANGE)}
# Events that change a goroutine's state: which goroutine (the argument, or the one running
# on the event's M) and the state it enters.
_NAMED = {Ev.GO_CREATE: _RUNNABLE, Ev.GO_CREATE_SYSCALL: _SYSCALL,
          Ev.GO_CREATE_BLOCKED: _WAITING, Ev.GO_START: _RUNNING, Ev.GO_UNBLOCK: _RUNNABLE,
          Ev.GO_SWITCH: _RUNNING, Ev.GO_SWITCH_DESTROY: _RUNNING}
_CURRENT = {Ev.GO_STOP: _RUNNABLE, Ev.GO_BLOCK: _WAITING, Ev.GO_DESTROY: _NOT_EXIST,
            Ev.GO_DESTROY_SYSCALL: _NOT_EXIST, Ev.GO_SYSCALL_BEGIN: _SYSCALL,
            Ev.GO_SYSCALL_END: _RUNNING, Ev.GO_SYSCALL_END_BLOCKED: _RUNNABLE,
            Ev.GO_SWITCH: _WAITING, Ev.GO_SWITCH_DESTROY: _NOT_EXIST}
_STATUSES = (Ev.GO_STATUS, Ev.GO_STATUS_STACK)
WIRE_KINDS = frozenset({*_RANGE_KINDS, Ev.STW_BEGIN, Ev.STW_END, Ev.HEAP_ALLOC, Ev.HEAP_GOAL,
                        Ev.PROCS_CHANGE, *_NAMED, *_CURRENT, *_STATUSES})


def summarize_wire(events: WireEvents, *, points: int = 200) -> TraceSummary:
    """The summary of a trace read by `parse_trace_wire(..., WIRE_KINDS)`. Events arrive in
    batch order (each M's in time order); `go tool trace`'s times are unique, so time order
    is one sort of the events that need it."""
    kind, time, args = events.kind, events.time, events.args
    summarizer = TraceSummarizer(points=points)
    summarizer.cover(events.first_time, events.last_time, events.count)
    stopping: dict[int, str] = {}  # thread -> the stop-the-world it is in
    ranges = np.flatnonzero(np.isin(kind, [*_RANGE_KINDS, Ev.STW_BEGIN, Ev.STW_END]))
    for index in ranges[np.argsort(time[ranges], kind="stable")]:
        event_kind, at, on = Ev(int(kind[index])), int(time[index]), int(events.thread[index])
        if event_kind in _RANGE_KINDS:
            range_kind, name = _RANGE_KINDS[event_kind]
            summarizer.add(RangeEvent(at, range_kind, name, "None", 0))
            continue
        # A stop-the-world begins and ends on the thread that stops the world.
        if event_kind == Ev.STW_BEGIN:
            key = (int(events.generation[index]), int(args[index, 0]))
            stopping[on] = name = f"{STW_PREFIX}{events.strings.get(key, '?')})"
            summarizer.add(RangeEvent(at, "RangeBegin", name, f"Thread({on})", 0))
        elif on in stopping:
            summarizer.add(RangeEvent(at, "RangeEnd", stopping.pop(on), f"Thread({on})", 0))
    procs = np.flatnonzero(kind == Ev.PROCS_CHANGE)
    if len(procs):
        latest = procs[np.argmax(time[procs])]
        summarizer.add(MetricEvent(int(time[latest]), PROCS_METRIC, int(args[latest, 0]), 0))
    origin = events.first_time
    timelines = {}
    for name, event_kind in (("heap", Ev.HEAP_ALLOC), ("goal", Ev.HEAP_GOAL)):
        chosen = np.flatnonzero(kind == event_kind)
        chosen = chosen[np.argsort(time[chosen], kind="stable")]
        timelines[name] = peak_points(time[chosen], args[chosen, 0], points, origin)
    changed_at, alive, runnable = _goroutine_counts(events)
    timelines["goroutines"] = peak_points(changed_at, alive, points, origin)
    timelines["runnable"] = peak_points(changed_at, runnable, points, origin)
    return summarizer.result(timelines)


def _table(mapping: Mapping[Ev, int]) -> npt.NDArray[np.int8]:
    table = np.full(256, -1, dtype=np.int8)
    for kind, state in mapping.items():
        table[kind] = state
    return table


_NAMED_STATE, _CURRENT_STATE = _table(_NAMED), _table(_CURRENT)


def _goroutine_counts(events: WireEvents) -> tuple[IntArray, IntArray, IntArray]:
    """Goroutines that exist and that wait for a P, after each state change, in time order.
    Events like GoStop name no goroutine: it is the one running on the event's M, the last
    one a GoStart, GoSwitch or running GoStatus put there (each M's events are in order)."""
    kind, thread, args = events.kind, events.thread, events.args
    is_status = np.isin(kind, _STATUSES)
    status = np.where(is_status, args[:, 2], 0).astype(np.int8)
    binds = np.isin(kind, [Ev.GO_START, Ev.GO_SWITCH, Ev.GO_SWITCH_DESTROY]) | (is_status & (
        (status == 2) | ((status == 3) & (args[:, 1] == events.thread_ids[thread]))))
    by_thread = np.argsort(thread, kind="stable")
    bound = np.where(binds, args[:, 0], -1)[by_thread]
    del binds
    first_of_thread = np.ones(len(kind), dtype=bool)
    first_of_thread[1:] = thread[by_thread][1:] != thread[by_thread][:-1]
    last_bind = np.maximum.accumulate(
        np.where((bound >= 0) | first_of_thread, np.arange(len(kind)), -1))
    before = np.full(len(kind), -1, dtype=np.int64)
    before[1:] = bound[last_bind[:-1]]
    before[first_of_thread] = -1
    del bound, last_bind, first_of_thread
    current = np.empty(len(kind), dtype=np.int64)
    current[by_thread] = before
    del before, by_thread
    # Transitions (goroutine, new state) at unique times; a GoSwitch's goroutine leaves first.
    named_state = np.where(is_status, _STATUS[np.clip(status, 0, 4)], _NAMED_STATE[kind])
    named = np.flatnonzero(named_state >= 0)
    leaving = np.flatnonzero((_CURRENT_STATE[kind] >= 0) & (current >= 0))
    key = np.concatenate([2 * events.time[leaving], 2 * events.time[named] + 1])
    in_order = np.argsort(key, kind="stable")
    del key
    goroutine = np.concatenate([current[leaving], args[named, 0]])[in_order]
    state = np.concatenate([_CURRENT_STATE[kind[leaving]], named_state[named]])[in_order]
    at = np.concatenate([events.time[leaving], events.time[named]])[in_order]
    del current, named_state, in_order
    by_goroutine = np.argsort(goroutine, kind="stable")
    ordered_state = state[by_goroutine]
    same = goroutine[by_goroutine][1:] == goroutine[by_goroutine][:-1]
    previous = np.full(len(state), _NOT_EXIST, dtype=np.int8)
    previous[by_goroutine[1:]] = np.where(same, ordered_state[:-1], _NOT_EXIST)
    del by_goroutine, ordered_state, same, goroutine
    alive = np.cumsum((state != _NOT_EXIST).astype(np.int64)
                      - (previous != _NOT_EXIST))
    runnable = np.cumsum((state == _RUNNABLE).astype(np.int64)
                         - (previous == _RUNNABLE))
    return at, alive, runnable
