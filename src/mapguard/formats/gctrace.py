"""Parse the runtime's `GODEBUG=gctrace=1` lines (docs/go-facts.md, "Compiler and runtime output").

One line per GC cycle, e.g. (Go 1.19+; older releases lack the stacks/globals fields)::

    gc 3 @0.039s 6%: 0.13+15+0.031 ms clock, 0.27+0.28/3.5/0.11+0.063 ms cpu,
        10->12->9 MB, 12 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)

The clock triple is STW sweep termination + concurrent mark + STW mark termination; the cpu
fields are STW + assist/background/idle mark + STW; the heap is start -> end -> live. Anything
after `N P` is parenthesised notes (`(forced)` today, possibly others later).

gctrace shares stderr with the program, so other lines (program output, `scvg`/`scav` lines) are
skipped. A line that starts like a gctrace line but does not parse is kept as `MalformedLine`.
Pure: text in, records out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, NamedTuple, TypeVar, overload

from mapguard.errors import InputError

_START = re.compile(r"gc \d+ @")
_NOTE = re.compile(r"\(([^()]*)\)")
_NOTES = re.compile(r"(?: \([^()]*\))*\s*")
EXPECTED_SHAPE = "gc N @T.s P%: a+b+c ms clock, a+b/c/d+e ms cpu, s->e->l MB, G MB goal, ..., N P"


class _Malformed(ValueError):
    """A line that starts like a gctrace line but does not parse; carries the line text."""


class GcCycle(NamedTuple):
    """One GC cycle as gctrace reports it. Times in ms unless named otherwise; sizes in MB.

    A NamedTuple rather than a frozen dataclass: equally immutable and typed, and ten times
    cheaper to build. `GcTrace` keeps its cycles as columns and makes a `GcCycle` on access: a
    million GC-tracked records would have Python's collector rescan them again and again while
    a long log is parsed.
    """

    number: int
    line: int  # 1-based line number in the input
    at_s: float  # seconds since program start
    gc_cpu_percent: int  # share of CPU spent in GC since program start, as the runtime computes it
    stw_sweep_term_ms: float
    concurrent_mark_ms: float
    stw_mark_term_ms: float
    cpu_sweep_term_ms: float
    cpu_assist_ms: float
    cpu_background_ms: float
    cpu_idle_ms: float
    cpu_mark_term_ms: float
    heap_start_mb: int
    heap_end_mb: int
    heap_live_mb: int
    heap_goal_mb: int
    stacks_mb: int | None  # Go 1.19+
    globals_mb: int | None  # Go 1.19+
    procs: int
    notes: tuple[str, ...] = ()

    @property
    def forced(self) -> bool:
        """The cycle was started by `runtime.GC()` / `debug.FreeOSMemory()`."""
        return "forced" in self.notes

    @property
    def pauses_ms(self) -> tuple[float, float]:
        """The cycle's two stop-the-world pauses: sweep termination and mark termination."""
        return (self.stw_sweep_term_ms, self.stw_mark_term_ms)


@dataclass(frozen=True, slots=True)
class MalformedLine:
    """A line that starts like a gctrace line (`gc N @`) but does not have its shape."""

    line: int
    text: str


class Cycles(Sequence[GcCycle]):
    """Read-only sequence of `GcCycle`, stored as one list per field (in `GcCycle` order).

    Columns are what summaries read, and what the bulk parser produces without building a
    tuple per cycle; a `GcCycle` is made when one is asked for.
    """

    __slots__ = ("_columns",)

    def __init__(self, columns: Sequence[Sequence[Any]]) -> None:
        if len(columns) != len(GcCycle._fields):
            raise ValueError(f"{len(columns)} columns for {len(GcCycle._fields)} fields")
        self._columns = tuple(columns)

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Any, ...]]) -> Cycles:
        if not rows:
            return cls([[] for _ in GcCycle._fields])
        return cls([list(column) for column in zip(*rows, strict=True)])

    def __len__(self) -> int:
        return len(self._columns[0])

    @overload
    def __getitem__(self, index: int) -> GcCycle: ...
    @overload
    def __getitem__(self, index: slice) -> Cycles: ...
    def __getitem__(self, index: int | slice) -> GcCycle | Cycles:
        if isinstance(index, slice):
            return Cycles([column[index] for column in self._columns])
        return GcCycle._make([column[index] for column in self._columns])

    def __iter__(self) -> Iterator[GcCycle]:
        return map(GcCycle._make, zip(*self._columns, strict=True))

    def column(self, field: str) -> list[Any]:
        """One field of every cycle, without building the records."""
        return list(self._columns[GcCycle._fields.index(field)])


@dataclass(frozen=True, slots=True)
class GcTrace:
    cycles: Cycles
    malformed: tuple[MalformedLine, ...]
    other_lines: int  # lines that were not gctrace at all (program output, scvg, ...)


_Key = TypeVar("_Key", str, bytes)


class _Memo(dict[_Key, Any], Generic[_Key]):
    """Parsed value of a recurring piece of text. gctrace repeats itself a lot (two significant
    digits per time, a steady heap, the same goal for many cycles): looking a piece up is several
    times cheaper than parsing it again. Bounded, so unique pieces cannot grow it without end.
    """

    __slots__ = ("_parse",)
    _parse: Callable[[_Key], Any]
    _LIMIT = 65536

    def __init__(self, parse: Callable[[_Key], Any]) -> None:
        super().__init__()
        self._parse = parse

    def __missing__(self, key: _Key) -> Any:
        if len(self) >= self._LIMIT:
            self.clear()
        value = self[key] = self._parse(key)
        return value


def _number(text: str) -> float:
    # float() also takes "1e3", "inf", "nan", " 1" and "1_0": the runtime prints none of them.
    if not text or not text.replace(".", "", 1).isdigit():
        raise _Malformed(text)
    return float(text)


def _integer(text: str) -> int:
    if not text.isdigit():
        raise _Malformed(text)
    return int(text)


class _LineParser:
    """Turns one gctrace line into a row in `GcCycle` field order (None if it is not one)."""

    __slots__ = ("_heap", "_number", "_percent", "_tail")

    def __init__(self) -> None:
        self._number: _Memo[str] = _Memo(_number)
        self._percent: _Memo[str] = _Memo(_percent)
        self._heap: _Memo[str] = _Memo(_heap)
        self._tail: _Memo[str] = _Memo(_tail)

    def row(self, text: str, lineno: int) -> tuple[Any, ...] | None:
        """`text` starts with ``gc `` and has no line terminator."""
        pieces = text.split(", ", 3)
        if len(pieces) != 4:
            return None
        head = pieces[0].split(" ")
        if len(head) != 7 or head[5] != "ms" or head[6] != "clock":
            return None
        at = head[2]
        clock = head[4].split("+")
        cpu = pieces[1]
        marks = cpu[:-7].replace("/", "+").split("+")
        if (
            at[:1] != "@" or at[-1:] != "s" or len(clock) != 3 or len(marks) != 5
            or not cpu.endswith(" ms cpu") or cpu.count("/") != 2
        ):
            return None
        number = self._number
        try:
            return (
                _integer(head[1]), lineno, _number(at[1:-1]), self._percent[head[3]],
                number[clock[0]], number[clock[1]], number[clock[2]],
                number[marks[0]], number[marks[1]], number[marks[2]], number[marks[3]],
                number[marks[4]], *self._heap[pieces[2]], *self._tail[pieces[3]],
            )  # fmt: skip
        except (_Malformed, ValueError):
            return None

    def classify(
        self, line: str, lineno: int
    ) -> tuple[tuple[Any, ...] | None, MalformedLine | None]:
        """(row, None) for a gctrace line, (None, broken) for a malformed one, else (None, None)."""
        line = line.rstrip("\r\n")
        # `gc N @` anywhere: a program that wrote a partial line just before the runtime's line
        # leaves a prefix on it.
        start = line.find("gc ")
        if start < 0:
            return None, None
        text = line[start:] if start else line
        row = self.row(text, lineno)
        if row is None and _START.match(text):
            return None, MalformedLine(lineno, line)
        return row, None


class GctraceParser:
    """Line by line, for a live child's stderr: `feed` each line as it arrives and get the cycle
    it describes, or the malformed line it is (both None for other output). Keeps nothing but
    the line count: the caller decides what to keep.

    Pure: no I/O. One parser per input; it numbers the lines it is fed from 1.
    """

    __slots__ = ("_lineno", "_lines")

    def __init__(self) -> None:
        self._lines = _LineParser()
        self._lineno = 0

    def feed(self, line: str) -> tuple[GcCycle | None, MalformedLine | None]:
        """Take one line (with or without its newline)."""
        self._lineno += 1
        row, broken = self._lines.classify(line, self._lineno)
        return (GcCycle._make(row) if row is not None else None), broken


# The bulk path. A saved log can hold a million cycles; one Python-level pass per line costs
# several microseconds, so lines are grouped by their skeleton (the line without digits and
# dots): a group of well-formed lines of one shape is turned into columns with a few C-level
# operations (translate, split, map) and zipped into rows. Groups that do not fit, and chunks
# whose numbers do not convert, go through the line parser, which reports them precisely.
_NUMERIC = b"0123456789."
_TO_SPACES = bytes(c if c in _NUMERIC else 0x20 for c in range(256))
_CHUNK_LINES = 1 << 15
# Tokens of a Go 1.19+ line (with stacks and globals) and of an older one.
_TOKENS_WITH_EXTRAS = 18
_TOKENS_WITHOUT_EXTRAS = 16


@dataclass(frozen=True, slots=True)
class _Shape:
    tokens: int


def _bulk_shape(line: bytes, lines: _LineParser) -> _Shape | None:
    """The shape of the lines that share this line's skeleton, if the bulk path can take them."""
    if not line.startswith(b"gc "):
        return None
    row = lines.row(line.decode("ascii", "replace").rstrip("\r"), 0)
    if row is None:
        return None
    cycle = GcCycle._make(row)
    tokens = len(line.translate(_TO_SPACES).split())
    extras = (cycle.stacks_mb is not None, cycle.globals_mb is not None)
    expected = {(True, True): _TOKENS_WITH_EXTRAS, (False, False): _TOKENS_WITHOUT_EXTRAS}
    if tokens != expected.get(extras):
        return None  # other extra fields, or digits inside notes
    return _Shape(tokens)


def _bulk_columns(
    block: bytes, linenos: list[int], notes: list[tuple[str, ...]], shape: _Shape,
    floats: _Memo[bytes], ints: _Memo[bytes],
) -> list[list[Any]] | None:
    tokens = block.translate(_TO_SPACES).split()
    count, width = len(linenos), shape.tokens
    if len(tokens) != count * width:
        return None
    try:
        columns: list[list[Any]] = [
            list(map(int, tokens[0::width])),
            linenos,
            list(map(float, tokens[1::width])),
            list(map(ints.__getitem__, tokens[2::width])),
        ]
        columns += [list(map(floats.__getitem__, tokens[k::width])) for k in range(3, 11)]
        columns += [list(map(ints.__getitem__, tokens[k::width])) for k in range(11, width)]
    except ValueError:
        return None
    if width == _TOKENS_WITHOUT_EXTRAS:
        columns[-1:-1] = [[None] * count, [None] * count]  # stacks, globals
    columns.append(notes)
    return columns


def _notes_of(skeleton: bytes) -> tuple[bytes, tuple[str, ...] | None]:
    """(skeleton without its notes, the notes) — None when the tail is not only notes.

    Lines that differ only in their notes (``(forced)``) share one bulk group."""
    head, found, tail = skeleton.partition(b" P")
    if not found:
        return skeleton, None
    text = tail.decode("utf-8", "replace").rstrip("\r")
    if not _NOTES.fullmatch(text):
        return skeleton, None
    return head, tuple(note.strip() for note in _NOTE.findall(text))


class _Columns:
    """Columns gathered chunk by chunk; put in line order at the end if chunks interleave."""

    def __init__(self) -> None:
        self.columns: list[list[Any]] = [[] for _ in GcCycle._fields]

    def extend(self, columns: Sequence[Sequence[Any]]) -> None:
        for mine, more in zip(self.columns, columns, strict=True):
            mine += more

    def in_line_order(self) -> list[list[Any]]:
        lines = self.columns[1]
        if lines == sorted(lines):  # one shape of line: chunks came in order
            return self.columns
        order = sorted(range(len(lines)), key=lines.__getitem__)
        return [[column[i] for i in order] for column in self.columns]


def _parse_block(data: bytes, first_line: int = 1) -> GcTrace:
    """Parse whole lines; the first is line `first_line` of the input."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    skeletons = data.translate(None, _NUMERIC).split(b"\n")[: len(lines)]
    shapes = {skeleton: _notes_of(skeleton) for skeleton in set(skeletons)}
    groups: list[Sequence[int]]
    if len({key for key, _ in shapes.values()}) == 1:
        groups = [range(len(lines))]  # the usual log: one shape of line, perhaps with notes
    else:
        by_key: dict[bytes, list[int]] = {}
        for index, skeleton in enumerate(skeletons):
            key = shapes[skeleton][0]
            group = by_key.get(key)
            if group is None:
                group = by_key[key] = []
            group.append(index)
        groups = list(by_key.values())

    line_parser = _LineParser()
    floats: _Memo[bytes] = _Memo(float)
    ints: _Memo[bytes] = _Memo(int)
    gathered = _Columns()
    malformed: list[MalformedLine] = []
    other = 0
    for indices in groups:
        shape = _bulk_shape(lines[indices[0]], line_parser)
        for start in range(0, len(indices), _CHUNK_LINES):
            chunk = indices[start : start + _CHUNK_LINES]
            if shape is not None:
                block = (
                    b"\n".join(lines[chunk[0] : chunk[-1] + 1]) if isinstance(chunk, range)
                    else b"\n".join([lines[index] for index in chunk])
                )  # fmt: skip
                notes = [shapes[skeletons[index]][1] or () for index in chunk]
                linenos = [index + first_line for index in chunk]
                columns = _bulk_columns(block, linenos, notes, shape, floats, ints)
                if columns is not None:
                    gathered.extend(columns)
                    continue
            rows = []
            for index in chunk:
                text_line = lines[index].decode("utf-8", "replace")
                row, broken = line_parser.classify(text_line, index + first_line)
                if row is not None:
                    rows.append(row)
                elif broken is not None:
                    malformed.append(broken)
                else:
                    other += 1
            if rows:
                gathered.extend(Cycles.from_rows(rows)._columns)
    malformed.sort(key=attrgetter("line"))
    return GcTrace(Cycles(gathered.in_line_order()), tuple(malformed), other)


def _percent(text: str) -> int:
    if not text.endswith("%:"):
        raise _Malformed(text)
    return _integer(text[:-2])


def _heap(text: str) -> tuple[int, int, int]:
    if not text.endswith(" MB"):
        raise _Malformed(text)
    parts = text[:-3].split("->")
    if len(parts) != 3:
        raise _Malformed(text)
    return (_integer(parts[0]), _integer(parts[1]), _integer(parts[2]))


def _tail(text: str) -> tuple[int, int | None, int | None, int, tuple[str, ...]]:
    """``G MB goal[, N MB stacks][, N MB globals][, ...], N P[ (note)...]``."""
    items = text.split(", ")
    goal = items[0].split(" ")
    if len(items) < 2 or len(goal) != 3 or goal[1:] != ["MB", "goal"]:
        raise _Malformed(text)
    extras: dict[str, int] = {}
    for item in items[1:-1]:
        size, unit, name = item.split(" ") if item.count(" ") == 2 else ("", "", "")
        if unit != "MB" or not name.isalpha():
            raise _Malformed(text)
        extras[name] = _integer(size)
    procs, _, notes_text = items[-1].partition(" P")
    if not _NOTES.fullmatch(notes_text):
        raise _Malformed(text)
    notes = tuple(note.strip() for note in _NOTE.findall(notes_text))
    return (_integer(goal[0]), extras.get("stacks"), extras.get("globals"), _integer(procs), notes)


class GctraceStream:
    """A saved log read in chunks of any size: `feed` each, then `finish`; each returns the
    parsed block of whole lines it completed (or None). Memory holds one block at a time, so
    a log of any length goes through; a "line" longer than `MAX_LINE` bytes (no gctrace line
    is: binary data, a gzip bomb's zeros) is skipped and counted as another line.

    Pure: no I/O. Lines are numbered from 1 across blocks."""

    BLOCK = 1 << 20
    MAX_LINE = 1 << 16

    __slots__ = ("_line", "_overlong", "_pending")

    def __init__(self) -> None:
        self._pending = bytearray()
        self._line = 1  # number of the first line in `_pending`
        self._overlong = False  # `_pending` continues a line too long to keep

    def feed(self, data: bytes) -> GcTrace | None:
        self._pending += data
        cut = self._pending.rfind(b"\n")
        if cut < 0:
            if len(self._pending) > self.MAX_LINE:
                self._overlong = True
                self._pending.clear()
            return None
        if cut + 1 < self.BLOCK:
            return None
        block = bytes(self._pending[: cut + 1])
        del self._pending[: cut + 1]
        return self._parse(block)

    def finish(self) -> GcTrace | None:
        block = bytes(self._pending)
        self._pending.clear()
        return self._parse(block) if block or self._overlong else None

    def _parse(self, block: bytes) -> GcTrace:
        skipped = 0
        if self._overlong:  # the block starts with the end of an overlong line
            end = block.find(b"\n")
            block = block[end + 1 :] if end >= 0 else b""
            self._overlong, skipped = False, 1
            self._line += 1
        trace = _parse_block(block, self._line) if block else GcTrace(Cycles.from_rows([]), (), 0)
        self._line += block.count(b"\n")
        return GcTrace(trace.cycles, trace.malformed, trace.other_lines + skipped)


def parse_gctrace(text: str, source: str = "<gctrace>") -> GcTrace:
    """Parse a saved gctrace log (usually a program's whole stderr).

    Raises `InputError` when the text holds no gctrace line at all: it is not a gctrace.
    """
    trace = _parse_block(text.encode("utf-8", "replace"))
    if not trace.cycles:
        if trace.malformed:
            first = trace.malformed[0]
            raise InputError(
                source,
                f"malformed gctrace line: {first.text[:120]!r}",
                where=f"line {first.line}",
                expected=EXPECTED_SHAPE,
            )
        raise InputError(
            source,
            "no gctrace lines found",
            expected="the stderr of a Go program run with GODEBUG=gctrace=1",
        )
    return trace
