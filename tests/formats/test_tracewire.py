"""The execution-trace wire reader on traces built byte by byte, and the timeline reduction it
feeds. (Real traces: tests/evidence/test_trace_go.py, against `go tool trace`.)"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.evidence.summarystats import PeakSeries
from mapguard.formats.tracewire import Ev, WireEvents, read_trace_wire

TICKS_PER_SECOND = 15_600_000  # a typical TSC-derived trace clock: not a whole ns per tick
NS_PER_TICK = 1.0 / (TICKS_PER_SECOND / 1e9)


def uvarint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def batch(generation: int, thread: int, base: int, body: bytes) -> bytes:
    return (bytes([Ev.EVENT_BATCH]) + uvarint(generation) + uvarint(thread) + uvarint(base)
            + uvarint(len(body)) + body)


def event(kind: int, *args: int) -> bytes:
    return bytes([kind]) + b"".join(uvarint(a) for a in args)


def trace(*batches: bytes, minor: int = 26) -> bytes:
    frequency = batch(1, 0, 0, bytes([Ev.SYNC]) + event(Ev.FREQUENCY, TICKS_PER_SECOND))
    strings = batch(1, 0, 0, bytes([Ev.STRINGS]) + bytes([Ev.STRING]) + uvarint(7)
                    + uvarint(len(b"GC mark termination")) + b"GC mark termination")
    return f"go 1.{minor} trace\x00\x00\x00".encode() + frequency + strings + b"".join(batches)


def parse_trace_wire(data: bytes, source: str, kinds: frozenset[int]) -> WireEvents:
    """The one generation of the traces built here."""
    (events,) = read_trace_wire(data, source).events(kinds)
    return events


BASE = 10_000_000_000  # ticks, beyond what one byte holds
BIG_GOROUTINE = 1 << 40


def _two_threads() -> bytes:
    first = batch(1, 5, BASE, event(Ev.GO_START, 3, BIG_GOROUTINE, 1)
                  + event(Ev.STW_BEGIN, 200, 7, 0) + event(Ev.STW_END, 1_000_000))
    second = batch(1, (1 << 64) - 1, BASE + 100, event(Ev.HEAP_ALLOC, 10, 123_456_789)
                   + event(Ev.PROCS_CHANGE, 1, 8, 0))
    return trace(first, second, bytes([Ev.END_OF_GENERATION]))


def test_events_times_and_arguments() -> None:
    every = frozenset({Ev.GO_START, Ev.STW_BEGIN, Ev.STW_END, Ev.HEAP_ALLOC, Ev.PROCS_CHANGE})
    events = parse_trace_wire(_two_threads(), "t", every)
    assert events.count == 5 and read_trace_wire(_two_threads(), "t").truncated_at is None
    assert events.kind.tolist() == [Ev.GO_START, Ev.STW_BEGIN, Ev.STW_END, Ev.HEAP_ALLOC,
                                    Ev.PROCS_CHANGE]
    # As go tool trace: the base and every delta converted on their own, truncated, added.
    base = int(BASE * NS_PER_TICK)
    first = base + int(3 * NS_PER_TICK)
    second = first + int(200 * NS_PER_TICK)
    assert events.time[:3].tolist() == [first, second, second + int(1_000_000 * NS_PER_TICK)]
    assert events.args[0].tolist() == [BIG_GOROUTINE, 1, 0]
    assert events.args[3, 0] == 123_456_789
    trace = read_trace_wire(_two_threads(), "t")
    assert trace.strings[(1, 7)] == "GC mark termination"
    assert events.thread.tolist() == [0, 0, 0, 1, 1]
    assert trace.thread_ids.tolist() == [5, -1]  # NoThread
    assert events.first_time == first


def test_only_the_kinds_asked_for() -> None:
    events = parse_trace_wire(_two_threads(), "t", frozenset({Ev.HEAP_ALLOC}))
    assert events.count == 5 and events.kind.tolist() == [Ev.HEAP_ALLOC]


def test_ties_move_one_nanosecond_later_as_go_does() -> None:
    a = batch(1, 1, BASE, event(Ev.HEAP_ALLOC, 0, 1))
    b = batch(1, 2, BASE, event(Ev.HEAP_ALLOC, 0, 2))
    events = parse_trace_wire(trace(a, b), "t", frozenset({Ev.HEAP_ALLOC}))
    assert events.time[1] - events.time[0] == 1


def test_a_trace_cut_inside_a_batch_keeps_what_came_before() -> None:
    data = _two_threads()
    cut = data[: len(data) - 8]
    trace = read_trace_wire(cut, "t")
    (events,) = trace.events(frozenset({Ev.GO_START}))
    assert trace.truncated_at is not None and events.kind.tolist() == [Ev.GO_START]


@pytest.mark.parametrize(("data", "message"), [
    (trace(b"\x07garbage"), "expected a batch"),
    (trace(batch(1, 1, 0, event(Ev.HEAP_ALLOC, 1, 2) + b"\x7e\x01")), "not a valid event"),
    (trace(batch(2, 1, 0, event(Ev.HEAP_ALLOC, 1, 2))), "no clock frequency"),
    (trace(minor=24), "not one this reader knows"),
    (b"go 1.26 trac", "not a Go execution trace"),
])
def test_bad_input(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        list(read_trace_wire(data, "t").events(frozenset({Ev.HEAP_ALLOC})))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=400), st.integers(2, 12),
       st.lists(st.integers(1, 60), max_size=8))
def test_extending_a_series_is_adding_one_by_one(values: list[int], limit: int,
                                                 cuts: list[int]) -> None:
    one_by_one = PeakSeries(limit)
    for time, value in enumerate(values):
        one_by_one.add(time, value)
    in_parts = PeakSeries(limit)
    times, array = np.arange(len(values), dtype=np.int64), np.array(values, dtype=np.int64)
    start = 0
    for cut in [*cuts, len(values)]:
        in_parts.extend(times[start : start + cut], array[start : start + cut])
        start += cut
    assert in_parts.result(0) == one_by_one.result(0)


def test_an_event_cut_short_at_the_end_of_its_batch() -> None:
    # A HeapAlloc needs two arguments; the batch ends after one.
    data = trace(batch(1, 1, 0, event(Ev.HEAP_ALLOC, 1, 2) + bytes([Ev.HEAP_ALLOC, 1])))
    with pytest.raises(InputError, match="not a valid event"):
        list(read_trace_wire(data, "t").events(frozenset({Ev.HEAP_ALLOC})))


def test_generations_one_after_the_other() -> None:
    """Times keep increasing across generations; each generation has its own strings."""
    second_frequency = batch(2, 0, 0, bytes([Ev.SYNC]) + event(Ev.FREQUENCY, TICKS_PER_SECOND))
    data = trace(batch(1, 1, BASE, event(Ev.HEAP_ALLOC, 0, 1)), second_frequency,
                 batch(2, 1, BASE, event(Ev.HEAP_ALLOC, 0, 2)))
    first, second = read_trace_wire(data, "t").events(frozenset({Ev.HEAP_ALLOC}))
    assert (first.generation, second.generation) == (1, 2)
    assert second.time[0] == first.time[0] + 1  # same clock reading: 1 ns later
