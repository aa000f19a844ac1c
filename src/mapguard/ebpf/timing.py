"""Timed calls from probe hits: an entry and the exit that follows it on the same goroutine.

A goroutine can move to another thread (and its samples to another CPU's buffer) between the
entry and the exit of a growth, so hits are keyed by goroutine (`g`, read from R14), never by
thread, and taken in time order across all CPUs (`Reorder`).
"""

from __future__ import annotations

import heapq
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from mapguard.ebpf.perf import Sample
from mapguard.ebpf.plan import ProbeSpec
from mapguard.ebpf.tracefs import Field

# Fetch arguments, in the kernel's uprobe_events syntax. The map's entry count is the first
# word of its header in both map implementations.
GOROUTINE = "g=%r14:x64"
RETURN_ADDRESS = "ra=+0(%sp):x64"


def entry_fetch(spec: ProbeSpec) -> str:
    parts = [GOROUTINE, RETURN_ADDRESS]
    if spec.map_arg:
        parts += [f"map=%{spec.map_arg}:x64", f"len=+0(%{spec.map_arg}):u64"]
    parts += [f"{name}={arg}" for name, arg in spec.fetch]
    return " ".join(parts) if spec.timed else RETURN_ADDRESS


EXIT_FETCH = GOROUTINE


@dataclass(frozen=True, slots=True)
class ProbePoint:
    """One uprobe event: the entry or one exit of a probed function."""

    event: str  # the tracefs event name
    spec: ProbeSpec
    entry: bool
    address: int


@dataclass(frozen=True, slots=True)
class Call:
    """A completed call of a timed function."""

    spec: ProbeSpec
    pid: int
    start_ns: int
    duration_ns: int
    map_address: int
    length: int  # the map's entry count when the call began
    detail: int  # kind-specific: new table capacity (grow), log2 of buckets (hashgrow)
    stack: tuple[int, ...]  # innermost first, with the caller's return address


@dataclass(frozen=True, slots=True)
class Hit:
    point: ProbePoint
    sample: Sample


class Decoder:
    """Reads the fetched arguments out of a sample's raw record, by the event's format."""

    def __init__(self, fields: dict[str, Field]) -> None:
        self.fields = fields
        self._readers = {name: (field.offset, _FORMATS[field.size])
                         for name, field in fields.items() if field.size in _FORMATS}

    def value(self, raw: bytes, name: str) -> int:
        reader = self._readers.get(name)
        if reader is None or reader[0] + struct.calcsize(reader[1]) > len(raw):
            return 0
        return int(struct.unpack_from(reader[1], raw, reader[0])[0])


_FORMATS = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


def caller_stack(stack: tuple[int, ...], return_address: int) -> tuple[int, ...]:
    """The call chain with the probed function's caller in it. At a function's entry the frame
    pointer still is the caller's, so a frame-pointer walk skips the caller; its return address
    is on top of the stack (`ra`). Kernels that detect a function entry add it themselves."""
    if not stack or (len(stack) > 1 and stack[1] == return_address) or not return_address:
        return stack
    return (stack[0], return_address, *stack[1:])


class Pairer:
    """Pairs entries and exits per (process, goroutine, function)."""

    def __init__(self, decoders: dict[str, Decoder]) -> None:
        self.decoders = decoders
        self.pending: dict[tuple[int, int, str], Hit] = {}
        self.unmatched = 0  # exits without an entry, entries whose exit never came

    def feed(self, hits: Iterable[Hit]) -> Iterator[Call]:
        for hit in hits:
            point, sample = hit.point, hit.sample
            decoder = self.decoders[point.event]
            key = (sample.pid, decoder.value(sample.raw, "g"), point.spec.function)
            if point.entry:
                if key in self.pending:
                    self.unmatched += 1
                self.pending[key] = hit
                continue
            start = self.pending.pop(key, None)
            if start is None:
                self.unmatched += 1
                continue
            yield self._call(start, sample)

    def _call(self, start: Hit, end: Sample) -> Call:
        point, sample = start.point, start.sample
        decoder = self.decoders[point.event]
        raw = sample.raw
        detail_field = point.spec.fetch[0][0] if point.spec.fetch else ""
        return Call(point.spec, sample.pid, sample.time_ns, end.time_ns - sample.time_ns,
                    decoder.value(raw, "map"), decoder.value(raw, "len"),
                    decoder.value(raw, detail_field) if detail_field else 0,
                    caller_stack(sample.stack, decoder.value(raw, "ra")))

    def forget(self) -> None:
        """Drop pending entries: their probes were detached, their exits will not come."""
        self.unmatched += len(self.pending)
        self.pending.clear()


class Reorder:
    """Hands out hits in time order once every CPU's buffer has been read past them.

    A probe timestamps its sample a moment before the sample reaches its CPU's buffer
    (`slack_ns` is more than that moment). So whatever was timestamped before the reading
    began, less the slack, is in the buffers and is read: those hits are handed out. The clock
    is read before the buffers, never after: reading a burst takes long (200 ms on a busy
    machine), and meanwhile an entry can reach a buffer already read while its exit, on
    another CPU, reaches one still to be read; a watermark taken after the reading would hand
    that exit out before its entry.
    """

    def __init__(self, slack_ns: int, clock: Callable[[], int] = time.monotonic_ns) -> None:
        self.slack_ns = slack_ns
        self._clock = clock
        self._heap: list[tuple[int, int, Hit]] = []
        self._sequence = 0

    def take(self, read: Iterable[Hit], final: bool = False) -> list[Hit]:
        """Read `read` (everything the buffers hold now) and hand out, oldest first, the hits
        that no hit still unread can precede; all of them when `final` (the probes are
        detached: nothing more will come)."""
        watermark = self._clock() - self.slack_ns
        for hit in read:
            self._sequence += 1
            heapq.heappush(self._heap, (hit.sample.time_ns, self._sequence, hit))
        ready = []
        while self._heap and (final or self._heap[0][0] < watermark):
            ready.append(heapq.heappop(self._heap)[2])
        return ready
