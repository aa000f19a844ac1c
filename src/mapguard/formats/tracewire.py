"""Read an execution trace's wire format (Go 1.22+, "go 1.N trace" with N in `WIRE_MINORS`).

After the 16-byte header a trace is a sequence of batches: `EventBatch` (or `ExperimentalBatch`)
with a header of uvarints — generation, thread (M), base timestamp, size — then `size` bytes of
events; Go 1.26 adds a one-byte `EndOfGeneration`. A batch of ordinary events holds, per event,
its type (one byte below 0x80) and a fixed number of uvarint arguments, the first of them the
timestamp delta from the previous event of the batch. Other batches hold the string table
(`Strings`), stacks, CPU samples and the clock frequency (`Frequency`, or a `Sync` batch from Go
1.25). The event types and their argument counts are Go's own table
(internal/trace/tracev2/events.go), unchanged from 1.22 to 1.27 but for types added later.

Time is converted as `go tool trace` converts it: nanoseconds per tick from the generation's
frequency, each delta converted and truncated on its own, then added up.

The reader is vectorised: every uvarint of every event batch is located at once (numpy), the
event boundaries follow from the argument counts in one tight loop, and only the arguments
the caller asks for are decoded. Pure: bytes in, columns out; bad input raises `InputError`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import numpy.typing as npt

from mapguard.errors import InputError
from mapguard.formats.trace import HEADER_SIZE, parse_trace_header

IntArray = npt.NDArray[np.int64]
# Header minors whose wire format this reader knows (Go 1.22; 1.23-1.24; 1.25; 1.26-1.27).
WIRE_MINORS = frozenset({22, 23, 25, 26})
_MAX_BATCH_SIZE = 64 << 10  # Go's tracev2.MaxBatchSize
_GROUP = 2 << 20  # bytes of batches read at once: bounds the arrays kept per byte


class Ev(IntEnum):
    """Event types of the wire format (the values are the bytes on the wire)."""

    EVENT_BATCH = 1
    STACKS = 2
    STRINGS = 4
    STRING = 5
    CPU_SAMPLES = 6
    FREQUENCY = 8
    PROCS_CHANGE = 9
    GO_CREATE = 14
    GO_CREATE_SYSCALL = 15
    GO_START = 16
    GO_DESTROY = 17
    GO_DESTROY_SYSCALL = 18
    GO_STOP = 19
    GO_BLOCK = 20
    GO_UNBLOCK = 21
    GO_SYSCALL_BEGIN = 22
    GO_SYSCALL_END = 23
    GO_SYSCALL_END_BLOCKED = 24
    GO_STATUS = 25
    STW_BEGIN = 26
    STW_END = 27
    GC_ACTIVE = 28
    GC_BEGIN = 29
    GC_END = 30
    HEAP_ALLOC = 37
    HEAP_GOAL = 38
    GO_SWITCH = 45
    GO_SWITCH_DESTROY = 46
    GO_CREATE_BLOCKED = 47
    GO_STATUS_STACK = 48
    EXPERIMENTAL_BATCH = 49
    SYNC = 50
    END_OF_GENERATION = 52


# Arguments of each timed event type, the timestamp delta included (tracev2 `Args`).
_ARGUMENTS = {
    9: 3, 10: 3, 11: 1, 12: 4, 13: 3, 14: 4, 15: 2, 16: 3, 17: 1, 18: 1, 19: 3, 20: 3, 21: 4,
    22: 3, 23: 1, 24: 1, 25: 4, 26: 3, 27: 1, 28: 2, 29: 3, 30: 2, 31: 2, 32: 2, 33: 3, 34: 2,
    35: 2, 36: 1, 37: 2, 38: 2, 39: 2, 40: 5, 41: 3, 42: 4, 43: 4, 44: 5, 45: 3, 46: 3, 47: 4,
    48: 5,
}
# The last timed event type each format has (later ones are newer Go releases').
_LAST_TIMED = {22: 44, 23: 48, 25: 48, 26: 48}
_SPECIAL_BATCHES = frozenset({Ev.STACKS, Ev.STRINGS, Ev.CPU_SAMPLES, Ev.FREQUENCY, Ev.SYNC})
_CLOCK_SNAPSHOT = 51


@dataclass(frozen=True, slots=True, eq=False)
class WireEvents:
    """One generation's timed events of the kinds asked for, in batch order (each M's events in
    time order; across Ms, sort by `time`). `args[:, k]` is argument k + 1 (after the delta)."""

    generation: int
    count: int  # every timed event of the generation
    first_time: int  # of any timed event of the generation
    last_time: int
    kind: npt.NDArray[np.uint8]
    time: IntArray  # ns, Go's trace clock; unique and increasing in Go's order
    thread: npt.NDArray[np.int32]  # the M of the event's batch (`WireTrace.thread_ids`)
    args: npt.NDArray[np.int64]  # shape (n, 3); 0 where the event has fewer arguments


@dataclass(frozen=True, slots=True)
class _Batch:
    generation: int
    thread: int
    base: int  # ticks
    start: int  # offset of the batch's data in the file
    size: int


@dataclass(frozen=True, slots=True, eq=False)
class WireTrace:
    """A trace's structure, read at once (batch headers, strings, clocks); its events are read
    a generation at a time (`events`), so memory holds one generation's."""

    minor: int
    strings: dict[tuple[int, int], str]  # (generation, id) -> text
    thread_ids: IntArray  # the Ms' own IDs (as signed 64-bit), by thread number
    # The file ends inside a batch (a trace cut short): the events before it are read.
    truncated_at: int | None
    data: bytes
    source: str
    generations: tuple[tuple[int, tuple[_Batch, ...]], ...]  # event batches, in file order
    frequency: dict[int, float]  # ns per tick, by generation
    threads: dict[int, int]  # an M's own ID -> its number

    def events(self, kinds: frozenset[int]) -> Iterator[WireEvents]:
        """Each generation's events of `kinds` (`Ev` values), in order."""
        arguments = np.zeros(256, dtype=np.uint8)
        for kind, count in _ARGUMENTS.items():
            if kind <= _LAST_TIMED[self.minor]:
                arguments[kind] = count
        wanted = np.zeros(256, dtype=bool)
        wanted[list(kinds)] = True
        after: int | None = None
        for generation, batches in self.generations:
            events = _generation(self, generation, batches, arguments, wanted, after)
            after = events.last_time if events.count else after
            yield events


def read_trace_wire(data: bytes, source: str) -> WireTrace:
    """The structure of a Go 1.22+ trace (`data` must stay readable while its events are)."""
    minor = parse_trace_header(data[:HEADER_SIZE], source)
    if minor not in WIRE_MINORS:
        raise InputError(source, f"trace format go 1.{minor} is not one this reader knows",
                         expected="go 1.22, 1.23, 1.25 or 1.26 trace")
    batches, truncated_at = _batches(data, source)
    strings: dict[tuple[int, int], str] = {}
    frequency: dict[int, float] = {}
    generations: dict[int, list[_Batch]] = {}
    threads: dict[int, int] = {}
    for batch in batches:
        first = data[batch.start] if batch.size else 0
        if first == Ev.STRINGS:
            _strings(data, batch, strings, source)
        elif first in (Ev.FREQUENCY, Ev.SYNC):
            frequency[batch.generation] = _frequency(data, batch, minor, source)
        elif first not in _SPECIAL_BATCHES and batch.size:
            generations.setdefault(batch.generation, []).append(batch)
            threads.setdefault(batch.thread, len(threads))
    missing = generations.keys() - frequency.keys()
    if missing:
        raise InputError(source, f"generation {min(missing)} has no clock frequency",
                         expected="a complete trace")
    return WireTrace(minor, strings, np.array(list(threads), dtype=np.uint64).astype(np.int64),
                     truncated_at, data, source,
                     tuple((g, tuple(b)) for g, b in generations.items()), frequency, threads)


def _uvarint(data: bytes, position: int, source: str) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data):
            raise _Truncated(position)
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise InputError(source, "corrupt uvarint", where=f"offset {position}")


class _Truncated(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


def _batches(data: bytes, source: str) -> tuple[list[_Batch], int | None]:
    batches: list[_Batch] = []
    position = HEADER_SIZE
    while position < len(data):
        start = position
        kind = data[position]
        position += 1
        if kind == Ev.END_OF_GENERATION:
            continue
        if kind not in (Ev.EVENT_BATCH, Ev.EXPERIMENTAL_BATCH):
            raise InputError(source, f"expected a batch, found event type {kind}",
                             where=f"offset {start}")
        try:
            if kind == Ev.EXPERIMENTAL_BATCH:
                position += 1  # the experiment's ID: its batches are not read
            generation, position = _uvarint(data, position, source)
            thread, position = _uvarint(data, position, source)
            base, position = _uvarint(data, position, source)
            size, position = _uvarint(data, position, source)
        except _Truncated:
            return batches, start
        if size > _MAX_BATCH_SIZE:
            raise InputError(source, f"batch of {size} bytes (at most {_MAX_BATCH_SIZE})",
                             where=f"offset {start}")
        if position + size > len(data):
            return batches, start
        if kind == Ev.EVENT_BATCH:
            batches.append(_Batch(generation, thread, base, position, size))
        position += size
    return batches, None


def _strings(data: bytes, batch: _Batch, table: dict[tuple[int, int], str],
             source: str) -> None:
    position, end = batch.start + 1, batch.start + batch.size
    try:
        while position < end:
            if data[position] != Ev.STRING:
                raise InputError(source, f"expected a string, found event type "
                                 f"{data[position]}", where=f"offset {position}")
            identifier, position = _uvarint(data, position + 1, source)
            length, position = _uvarint(data, position, source)
            table[(batch.generation, identifier)] = data[position : position + length].decode(
                "utf-8", "replace")
            position += length
    except _Truncated as cut:
        raise InputError(source, "string table cut short", where=f"offset {cut.offset}") \
            from None


def _frequency(data: bytes, batch: _Batch, minor: int, source: str) -> float:
    """Nanoseconds per tick, as Go computes it: 1 / (ticks per second / 1e9)."""
    position, end = batch.start, batch.start + batch.size
    if data[position] == Ev.SYNC:
        position += 1
    try:
        while position < end:
            kind = data[position]
            if kind == Ev.FREQUENCY:
                ticks, _ = _uvarint(data, position + 1, source)
                if ticks == 0:
                    break
                return 1.0 / (ticks / 1e9)
            if kind == _CLOCK_SNAPSHOT and minor >= 25:
                position += 1
                for _ in range(4):
                    _, position = _uvarint(data, position, source)
                continue
            break
    except _Truncated:
        pass
    raise InputError(source, "no clock frequency in the sync batch",
                     where=f"offset {batch.start}")


@dataclass(frozen=True, slots=True)
class _Group:
    """Events of consecutive batches, read together."""

    time: IntArray  # every event, in batch order, before ties are moved apart
    chosen: IntArray  # positions (in `time`) of the events of the kinds asked for
    kind: npt.NDArray[np.uint8]
    args: npt.NDArray[np.int64]
    batch: npt.NDArray[np.int32]  # index into the batch list


def _generation(trace: WireTrace, generation: int, batches: tuple[_Batch, ...],
                arguments: npt.NDArray[np.uint8], wanted: npt.NDArray[np.bool_],
                after: int | None) -> WireEvents:
    buffer = np.frombuffer(trace.data, dtype=np.uint8)
    columns: dict[str, list[npt.NDArray[Any]]] = {name: [] for name in _Group.__slots__}
    first = read = 0
    while first < len(batches):  # groups of batches, to bound the per-byte arrays
        last, size = first, 0
        while last < len(batches) and (last == first or size + batches[last].size <= _GROUP):
            size += batches[last].size
            last += 1
        group = _read_group(buffer, batches, first, last, trace.frequency[generation],
                            arguments, wanted, trace.source)
        for name in _Group.__slots__:
            columns[name].append(getattr(group, name))
        columns["chosen"][-1] = group.chosen + read
        read += len(group.time)
        first = last
    threads = np.array([trace.threads[b.thread] for b in batches], dtype=np.int32)
    # One column at a time, each group's part let go once joined: memory holds the groups
    # and one joined column, not two copies of everything.
    time = _strictly_increasing(_join(columns, "time", np.int64), after)
    chosen = _join(columns, "chosen", np.int64)
    batch = _join(columns, "batch", np.int32)
    return WireEvents(
        generation=generation, count=len(time),
        first_time=int(time.min()) if len(time) else 0,
        last_time=int(time.max()) if len(time) else 0,
        kind=_join(columns, "kind", np.uint8), time=time[chosen], thread=threads[batch],
        args=np.concatenate(columns.pop("args")) if batches else np.zeros((0, 3), np.int64))


def _join(columns: dict[str, list[npt.NDArray[Any]]], name: str, dtype: type) -> Any:
    parts = columns.pop(name)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _read_group(buffer: npt.NDArray[np.uint8], batches: tuple[_Batch, ...], first: int,
                last: int, ns_per_tick: float, arguments: npt.NDArray[np.uint8],
                wanted: npt.NDArray[np.bool_], source: str) -> _Group:
    group = batches[first:last]
    starts = np.array([b.start for b in group], dtype=np.int64)
    sizes = np.array([b.size for b in group], dtype=np.int64)
    joined = np.concatenate([buffer[b.start : b.start + b.size] for b in group])
    joined_start = np.cumsum(sizes) - sizes  # where each batch's bytes begin in `joined`
    # Every uvarint ends at a byte below 0x80; an event type is a one-byte uvarint.
    ends = np.flatnonzero(joined < 0x80).astype(np.int32)
    token_start = np.empty(len(ends), dtype=np.int32)
    token_start[:1] = 0
    token_start[1:] = ends[:-1] + 1
    one_byte = ends == token_start
    first_byte = joined[token_start]
    step = np.where(one_byte, arguments[first_byte] + np.uint8(1), np.uint8(1))
    event_tokens = np.flatnonzero(np.frombuffer(_walk(step.tobytes()), dtype=np.bool_))
    kind = first_byte[event_tokens]
    bad = (~one_byte[event_tokens]) | (arguments[kind] == 0)
    bad[-1] |= event_tokens[-1] + int(step[event_tokens[-1]]) > len(ends)  # cut short
    batch_first_token = np.searchsorted(ends, joined_start)
    is_event = np.zeros(len(ends), dtype=bool)
    is_event[event_tokens] = True
    if bad.any() or not is_event[batch_first_token].all():
        at = int(token_start[event_tokens[np.argmax(bad)]]) if bad.any() else 0
        batch = int(np.searchsorted(joined_start, at, side="right") - 1)
        where = int(starts[batch] + at - joined_start[batch])
        raise InputError(source, "not a valid event where one should start",
                         where=f"offset {where}", expected="a Go execution trace")
    batch_of = np.searchsorted(batch_first_token, event_tokens, side="right") - 1
    deltas = _decode(joined, token_start, ends, event_tokens + 1)
    delta_ns = (deltas.astype(np.float64) * ns_per_tick).astype(np.int64)
    base_ns = (np.array([b.base for b in group], dtype=np.float64) * ns_per_tick).astype(
        np.int64)
    running = np.cumsum(delta_ns)
    first_event = np.searchsorted(batch_of, np.arange(len(group)))
    before_batch = np.where(first_event > 0, running[np.maximum(first_event - 1, 0)], 0)
    time = base_ns[batch_of] + running - before_batch[batch_of]
    chosen = np.flatnonzero(wanted[kind])
    chosen_kind = kind[chosen]
    args = np.zeros((len(chosen), 3), dtype=np.int64)
    for k in range(3):
        has = arguments[chosen_kind] > k + 1
        args[has, k] = _decode(joined, token_start, ends,
                               event_tokens[chosen[has]] + 2 + k).astype(np.int64)
    return _Group(time, chosen, chosen_kind, args, (batch_of[chosen] + first).astype(np.int32))


def _strictly_increasing(time: IntArray, after: int | None) -> IntArray:
    """As `go tool trace` reports them: in time order, an event no later than the one before
    it (`after`: the previous generation's last) is moved to 1 ns after it (the clocks of
    different threads can disagree by a little)."""
    order = np.argsort(time, kind="stable")
    ordered = time[order]
    if after is not None and len(ordered):
        ordered[0] = max(int(ordered[0]), after + 1)
    steps = np.arange(len(ordered), dtype=np.int64)
    fixed = np.empty_like(time)
    fixed[order] = np.maximum.accumulate(ordered - steps) + steps
    return fixed


def _walk(step: bytes) -> bytearray:
    """Marks (1) the tokens where events start: from the first token, each event's argument
    count says where the next one starts."""
    starts = bytearray(len(step))
    index, end = 0, len(step)
    while index < end:
        starts[index] = 1
        index += step[index]
    return starts


def _decode(joined: npt.NDArray[np.uint8], token_start: npt.NDArray[np.int32],
            ends: npt.NDArray[np.int32], tokens: IntArray) -> npt.NDArray[np.uint64]:
    """The values of the uvarints `tokens` (indices into the token arrays)."""
    first = token_start[tokens]
    length = ends[tokens] - first + 1
    value = (joined[first] & 0x7F).astype(np.uint64)
    for byte in range(1, int(length.max(initial=1))):
        longer = length > byte
        value[longer] |= (joined[first[longer] + byte] & 0x7F).astype(np.uint64) << np.uint64(
            7 * byte)
    return value
