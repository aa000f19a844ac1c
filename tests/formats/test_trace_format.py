"""`go tool trace -d=parsed` text and trace headers (lines in the go1.27.3 shape)."""
# ruff: noqa: E501  (tool output is quoted as the tool writes it)

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.formats.trace import (
    GoroutineTransition,
    MetricEvent,
    RangeEvent,
    go_unquote,
    parse_parsed_events,
    parse_trace_header,
)

PARSED = """\
M=-1 P=-1 G=-1 Sync Time=622629382720 N=1 Trace=622629408448 Mono=622629408417 Wall=2026-11-23T23:14:19.550971401Z
M=9591 P=-1 G=-1 StateTransition Time=622629423616 ProcID=0 Undetermined->Running Reason=""
M=9591 P=0 G=1 Metric Time=622629430848 Name="/sched/gomaxprocs:threads" Value=Value{Uint64(2)}
Stack=
\truntime.traceLocker.Gomaxprocs @ 0x46c043
\t\t/go/src/runtime/traceruntime.go:282

M=9591 P=0 G=1 RangeBegin Time=622629431488 Name="stop-the-world (start trace)" Scope=Goroutine(1)
M=9591 P=0 G=1 RangeEnd Time=622629453888 Name="stop-the-world (start trace)" Scope=Goroutine(1) Attributes=[]
M=9593 P=1 G=10 RangeEnd Time=622630400000 Name="GC incremental sweep" Scope=Proc(1) Attributes=["bytes swept"=Value{Uint64(8192)} "bytes reclaimed"=Value{Uint64(8064)}]
M=9591 P=0 G=18 Label Time=622630483648 Label="GC (fractional)" Resource=Goroutine(18)
M=9591 P=0 G=9 StateTransition Time=622629460000 GoID=12 Running->Waiting Reason="chan receive"
TransitionStack=
\tmain.main @ 0x4a122c
\t\t/tmp/main.go:17

M=9591 P=0 G=1 Metric Time=622629500000 Name="/gc/heap/goal:bytes" Value=Uint64(4194304)
"""


def test_events_of_interest_in_order() -> None:
    events = list(parse_parsed_events(PARSED.splitlines(keepends=True), "t.out"))
    assert events == [
        MetricEvent(622629430848, "/sched/gomaxprocs:threads", 2, 3),
        RangeEvent(622629431488, "RangeBegin", "stop-the-world (start trace)", "Goroutine(1)", 8),
        RangeEvent(622629453888, "RangeEnd", "stop-the-world (start trace)", "Goroutine(1)", 9),
        RangeEvent(622630400000, "RangeEnd", "GC incremental sweep", "Proc(1)", 10),
        GoroutineTransition(622629460000, 12, "Running", "Waiting", "chan receive", 12),
        # The Go 1.22 shape of a value, without the Value{} wrapper.
        MetricEvent(622629500000, "/gc/heap/goal:bytes", 4194304, 17),
    ]


@pytest.mark.parametrize("line", [
    "time=1 something else",
    "M=1 P=0 G=1 Teleport Time=5 Where=Mars",
    "M=1 P=0 G=1 Metric Time=5 Label=oops",
    "M=x P=0 G=1 Metric Time=5",
])
def test_unknown_shapes_fail_with_the_line(line: str) -> None:
    with pytest.raises(InputError, match=r"t.out: line 2: unknown `go tool trace -d=parsed`"):
        list(parse_parsed_events(["M=-1 P=-1 G=-1 Sync Time=1 N=1", line], "t.out"))


def test_header_versions() -> None:
    assert parse_trace_header(b"go 1.26 trace\x00\x00\x00", "t") == 26
    assert parse_trace_header(b"go 1.22 trace\x00\x00\x00\x01\x02", "t") == 22
    for bad in (b"", b"go 1.26 trac", b"\x1f\x8b\x08\x00", b"go 2.1 trace\x00\x00\x00"):
        with pytest.raises(InputError, match="not a Go execution trace"):
            parse_trace_header(bad, "t")


def test_go_unquote() -> None:
    assert go_unquote(r"a\"b\\c\n\x41\u00e9") == 'a"b\\c\nAé'


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(PARSED.splitlines()), st.text(max_size=80)),
                max_size=30))
def test_any_lines_parse_or_raise_input_error(lines: list[str]) -> None:
    try:
        for event in parse_parsed_events(lines, "fuzz"):
            assert event.line >= 1
    except InputError:
        pass
