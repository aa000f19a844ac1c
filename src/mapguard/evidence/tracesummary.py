"""What an execution trace says about GC: cycles, stop-the-world pauses, heap and goroutines.

Built from the event stream of `mapguard.formats.trace` in one pass and bounded memory: the
timelines keep at most `points` points each (the peak of each merged interval).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from mapguard.evidence.summarystats import PeakSeries
from mapguard.formats.trace import GoroutineTransition, MetricEvent, RangeEvent, TraceEvent
from mapguard.formats.tracewire import Ev, IntArray, WireEvents, WireTrace

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


def summarize_wire(trace: WireTrace, *, points: int = 200) -> TraceSummary:
    """The summary of a trace read by `read_trace_wire`, a generation at a time (bounded by the
    largest generation, not the trace). `go tool trace`'s times are unique, so time order is
    one sort of the events that need it."""
    summarizer = TraceSummarizer(points=points)
    series = {name: PeakSeries(points) for name in ("heap", "goal", "goroutines", "runnable")}
    goroutines = _GoroutineStates(trace.thread_ids)
    stopping: dict[int, str] = {}  # thread -> the stop-the-world it is in
    first: int | None = None
    last = count = 0
    procs: tuple[int, int] | None = None  # (time, GOMAXPROCS)
    for events in trace.events(WIRE_KINDS):
        if not events.count:
            continue
        first = events.first_time if first is None else first
        last, count = max(last, events.last_time), count + events.count
        _ranges(events, trace.strings, summarizer, stopping)
        kind, time, args = events.kind, events.time, events.args
        changes = np.flatnonzero(kind == Ev.PROCS_CHANGE)
        if len(changes):
            latest = changes[np.argmax(time[changes])]
            procs = (int(time[latest]), int(args[latest, 0]))
        for name, event_kind in (("heap", Ev.HEAP_ALLOC), ("goal", Ev.HEAP_GOAL)):
            chosen = np.flatnonzero(kind == event_kind)
            chosen = chosen[np.argsort(time[chosen], kind="stable")]
            series[name].extend(time[chosen], args[chosen, 0])
        changed_at, alive, runnable = goroutines.feed(events)
        series["goroutines"].extend(changed_at, alive)
        series["runnable"].extend(changed_at, runnable)
    summarizer.cover(first or 0, last, count)
    if procs is not None:
        summarizer.add(MetricEvent(procs[0], PROCS_METRIC, procs[1], 0))
    return summarizer.result({name: line.result(first or 0) for name, line in series.items()})


def _ranges(events: WireEvents, strings: Mapping[tuple[int, int], str],
            summarizer: TraceSummarizer, stopping: dict[int, str]) -> None:
    kind, time, args = events.kind, events.time, events.args
    ranges = np.flatnonzero(np.isin(kind, [*_RANGE_KINDS, Ev.STW_BEGIN, Ev.STW_END]))
    for index in ranges[np.argsort(time[ranges], kind="stable")]:
        event_kind, at, on = Ev(int(kind[index])), int(time[index]), int(events.thread[index])
        if event_kind in _RANGE_KINDS:
            range_kind, name = _RANGE_KINDS[event_kind]
            summarizer.add(RangeEvent(at, range_kind, name, "None", 0))
            continue
        # A stop-the-world begins and ends on the thread that stops the world.
        if event_kind == Ev.STW_BEGIN:
            reason = strings.get((events.generation, int(args[index, 0])), "?")
            stopping[on] = name = f"{STW_PREFIX}{reason})"
            summarizer.add(RangeEvent(at, "RangeBegin", name, f"Thread({on})", 0))
        elif on in stopping:
            summarizer.add(RangeEvent(at, "RangeEnd", stopping.pop(on), f"Thread({on})", 0))


def _table(mapping: Mapping[Ev, int]) -> npt.NDArray[np.int8]:
    table = np.full(256, -1, dtype=np.int8)
    for kind, state in mapping.items():
        table[kind] = state
    return table


_NAMED_STATE, _CURRENT_STATE = _table(_NAMED), _table(_CURRENT)


class _GoroutineStates:
    """Goroutines that exist and that wait for a P, after each state change, generation by
    generation. Events like GoStop name no goroutine: it is the one running on the event's
    M, the last one a GoStart, GoSwitch or running GoStatus put there (each M's events come in
    order). What a generation ends with (each goroutine's state, each M's goroutine, the
    counts) carries into the next."""

    def __init__(self, thread_ids: IntArray) -> None:
        self.thread_ids = thread_ids
        self.states: dict[int, int] = {}  # goroutines that exist -> state
        self.running: dict[int, int] = {}  # thread -> its goroutine
        self.alive = self.runnable = 0

    def feed(self, events: WireEvents) -> tuple[IntArray, IntArray, IntArray]:
        kind, thread, args = events.kind, events.thread, events.args
        is_status = np.isin(kind, _STATUSES)
        status = np.where(is_status, args[:, 2], 0).astype(np.int8)
        binds = np.isin(kind, [Ev.GO_START, Ev.GO_SWITCH, Ev.GO_SWITCH_DESTROY]) | (
            is_status & ((status == 2)
                         | ((status == 3) & (args[:, 1] == self.thread_ids[thread]))))
        current = self._current(thread, np.where(binds, args[:, 0], -1))
        # Transitions (goroutine, new state) at unique times; a GoSwitch's goroutine leaves
        # first.
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
        previous = self._previous(goroutine, state)
        alive = self.alive + np.cumsum((state != _NOT_EXIST).astype(np.int64)
                                       - (previous != _NOT_EXIST))
        runnable = self.runnable + np.cumsum((state == _RUNNABLE).astype(np.int64)
                                             - (previous == _RUNNABLE))
        if len(at):
            self.alive, self.runnable = int(alive[-1]), int(runnable[-1])
        return at, alive, runnable

    def _current(self, thread: npt.NDArray[np.int32], binding: IntArray) -> IntArray:
        """The goroutine running on each event's M just before it (-1: none known)."""
        by_thread = np.argsort(thread, kind="stable")  # each M's events, in their order
        bound = binding[by_thread]
        threads = thread[by_thread]
        count = len(bound)
        position = np.arange(count)
        first_of_thread = np.ones(count, dtype=bool)
        first_of_thread[1:] = threads[1:] != threads[:-1]
        starts = np.flatnonzero(first_of_thread)
        lengths = np.diff(np.append(starts, count))
        carried = np.repeat([self.running.get(int(t), -1) for t in threads[starts]], lengths)
        # The latest bind at or before each event, or its M's first event when none is.
        latest = np.maximum.accumulate(np.where((bound >= 0) | first_of_thread, position, -1))
        previous = np.empty(count, dtype=np.int64)
        previous[:1] = 0
        previous[1:] = latest[:-1]
        from_bind = ~first_of_thread & (bound[previous] >= 0)
        before = np.where(from_bind, bound[previous], carried)
        last_of_thread = np.append(starts[1:] - 1, count - 1) if count else starts
        for thread_number, end in zip(threads[starts].tolist(), last_of_thread.tolist(),
                                      strict=True):
            if bound[latest[end]] >= 0:
                self.running[thread_number] = int(bound[latest[end]])
        current = np.empty(count, dtype=np.int64)
        current[by_thread] = before
        return current

    def _previous(self, goroutine: IntArray, state: npt.NDArray[np.int8]
                  ) -> npt.NDArray[np.int8]:
        """Each transition's goroutine's state before it (the carried one for its first)."""
        by_goroutine = np.argsort(goroutine, kind="stable")
        ordered = goroutine[by_goroutine]
        ordered_state = state[by_goroutine]
        first = np.ones(len(ordered), dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        previous_sorted = np.empty(len(ordered), dtype=np.int8)
        previous_sorted[1:] = ordered_state[:-1]
        firsts = np.flatnonzero(first)
        previous_sorted[firsts] = [self.states.get(int(g), _NOT_EXIST) for g in ordered[firsts]]
        previous = np.empty(len(goroutine), dtype=np.int8)
        previous[by_goroutine] = previous_sorted
        lasts = np.append(firsts[1:] - 1, len(ordered) - 1) if len(ordered) else firsts
        for g, last_state in zip(ordered[lasts].tolist(), ordered_state[lasts].tolist(),
                                 strict=True):
            if last_state == _NOT_EXIST:
                self.states.pop(g, None)
            else:
                self.states[g] = last_state
        return previous
