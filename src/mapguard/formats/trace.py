"""Parse execution traces: the file header, and `go tool trace -d=parsed` text (Go 1.22+ traces).

Go has no public parser for its trace format; `go tool trace -d=parsed FILE` prints one event
per line through `internal/trace.Event.String()`::

    M=9591 P=0 G=11 RangeBegin Time=622631903104 Name="GC concurrent mark phase" Scope=None
    M=9591 P=0 G=1 Metric Time=622629431680 Name="/gc/heap/goal:bytes" Value=Value{Uint64(4194304)}
    M=9591 P=0 G=9 StateTransition Time=622629460000 GoID=12 Running->Waiting Reason="sync"

followed by indented stack lines. That text is not a stable interface: this parser knows the
shape printed by Go 1.22 to 1.27 (both ``Value=Uint64(N)`` and ``Value=Value{Uint64(N)}``) and
raises `InputError` naming the line when an event line has another shape. Events mapguard does
not use (labels, tasks, regions, logs, experimental) are skipped. Pure: lines in, events out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from mapguard.errors import InputError

_HEADER = re.compile(rb"go 1\.(\d+) trace\x00\x00\x00")
HEADER_SIZE = 16
# The first Go release whose traces `go tool trace -d=parsed` prints event by event (format v2).
FIRST_PARSED_MINOR = 22

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_RANGE = re.compile(rf"Name={_QUOTED} Scope=(\S+)")
_METRIC = re.compile(rf"Name={_QUOTED} Value=(.*)$")
_VALUE = re.compile(r"(?:Value\{)?(Uint64|Float64)\(([-+.\w]*)\)\}?$")
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
# Event kinds Go prints that mapguard reads nothing from; any other kind is an unknown format.
_SKIPPED_KINDS = frozenset({
    "Label", "TaskBegin", "TaskEnd", "RegionBegin", "RegionEnd", "Log", "Experimental", "Sync",
    "StackSample",
})


class RangeEvent(NamedTuple):
    """A range begins, is found active at the start of the trace, or ends (GC, STW, sweep...)."""

    time: int  # ns, trace clock
    kind: str  # "RangeBegin", "RangeActive" or "RangeEnd"
    name: str  # e.g. "stop-the-world (GC mark termination)", "GC concurrent mark phase"
    scope: str  # e.g. "Goroutine(11)", "Proc(0)", "None"
    line: int


class MetricEvent(NamedTuple):
    time: int
    name: str  # a runtime/metrics name, e.g. "/gc/heap/goal:bytes"
    value: int | float | str
    line: int


class GoroutineTransition(NamedTuple):
    time: int
    goroutine: int
    old: str  # "NotExist", "Runnable", "Running", "Syscall", "Waiting", "Undetermined"
    new: str
    reason: str
    line: int


TraceEvent = RangeEvent | MetricEvent | GoroutineTransition


def parse_trace_header(head: bytes, source: str) -> int:
    """The trace format version (the ``N`` of ``go 1.N trace``) from a trace file's first bytes."""
    match = _HEADER.match(head)
    if match is None:
        raise InputError(source, "not a Go execution trace", where="offset 0",
                         expected='a file that starts with "go 1.N trace"')
    return int(match.group(1))


def go_unquote(text: str) -> str:
    """The value of a Go string literal body written by %q (escapes resolved)."""
    if "\\" not in text:
        return text

    def resolve(match: re.Match[str]) -> str:
        escape = match.group(0)[1:]
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        return _SIMPLE_ESCAPES.get(escape, escape)

    return _ESCAPE.sub(resolve, text)


def _metric_value(text: str) -> int | float | str:
    value = _VALUE.match(text)
    if value is None:
        return text  # a string metric, or a kind this parser does not know: keep it as printed
    try:
        return int(value.group(2)) if value.group(1) == "Uint64" else float(value.group(2))
    except ValueError:
        return text


def parse_parsed_events(lines: Iterable[str], source: str) -> Iterator[TraceEvent]:
    """Events of `go tool trace -d=parsed` output, in order; raises `InputError` on a shape it
    does not know. A generator, so a trace of any size streams through in constant memory."""
    for number, line in enumerate(lines, 1):
        first = line[:1]
        if first == "\t":
            continue  # a stack frame: most lines
        if first != "M":
            # "Stack=" / "TransitionStack=" open the frames; blank lines close them.
            if first in ("", "\n", " ") or line.startswith(("Stack=", "TransitionStack=")):
                continue
            raise _unknown(source, number, line)
        parts = line.rstrip("\n").split(" ", 5)
        try:
            if len(parts) < 5 or parts[1][:2] != "P=" or parts[2][:2] != "G=" or \
                    parts[4][:5] != "Time=" or parts[0][:2] != "M=":
                raise ValueError(line)
            kind, time = parts[3], int(parts[4][5:])
        except ValueError:
            raise _unknown(source, number, line) from None
        rest = parts[5] if len(parts) == 6 else ""
        if kind == "Metric":
            metric = _METRIC.match(rest)
            if metric is None:
                raise _unknown(source, number, line)
            value = _metric_value(metric.group(2))
            yield MetricEvent(time, go_unquote(metric.group(1)), value, number)
        elif kind in ("RangeBegin", "RangeActive", "RangeEnd"):
            span = _RANGE.match(rest)
            if span is None:
                raise _unknown(source, number, line)
            yield RangeEvent(time, kind, go_unquote(span.group(1)), span.group(2), number)
        elif kind == "StateTransition":
            if not rest.startswith("GoID="):
                continue  # procs, threads: not used
            # The most frequent event by far: split rather than match a pattern.
            goroutine, states, reason = [*rest.split(" ", 2), "", ""][:3]
            old, arrow, new = states.partition("->")
            if not arrow or not reason.startswith('Reason="') or not reason.endswith('"'):
                raise _unknown(source, number, line)
            try:
                goid = int(goroutine[5:])
            except ValueError:
                raise _unknown(source, number, line) from None
            yield GoroutineTransition(time, goid, old, new, go_unquote(reason[8:-1]), number)
        elif kind not in _SKIPPED_KINDS:
            raise _unknown(source, number, line)


def _unknown(source: str, number: int, line: str) -> InputError:
    return InputError(
        source,
        f"unknown `go tool trace -d=parsed` output: {line.rstrip()[:100]!r}",
        where=f"line {number}",
        expected="the event format of Go 1.22-1.27; run mapguard with the Go toolchain it knows",
    )
