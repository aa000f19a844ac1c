"""gctrace lines: Go 1.19+ and older shapes, notes, noise, malformed lines; bulk == streaming."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.formats.gctrace import GcCycle, GctraceParser, parse_gctrace

# Real lines from go1.27.3 (GODEBUG=gctrace=1) and the pre-1.19 shape (no stacks/globals).
NEW = ("gc 3 @0.039s 6%: 0.13+15+0.031 ms clock, 0.27+0.28/3.5/0.11+0.063 ms cpu, "
       "10->12->9 MB, 12 MB goal, 0 MB stacks, 0 MB globals, 2 P")
OLD = ("gc 1 @0.012s 2%: 0.026+0.39+0.10 ms clock, 0.21+0.88/0.52/0+0.84 ms cpu, "
       "4->4->0 MB, 5 MB goal, 8 P")
FORCED = ("gc 13 @0.191s 6%: 0.20+5.8+0.004 ms clock, 0.41+0/1.6/6.5+0.008 ms cpu, "
          "48->48->24 MB, 61 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)")


def test_go_1_19_line_fields() -> None:
    (cycle,) = parse_gctrace(NEW).cycles
    assert cycle == GcCycle(
        number=3, line=1, at_s=0.039, gc_cpu_percent=6,
        stw_sweep_term_ms=0.13, concurrent_mark_ms=15.0, stw_mark_term_ms=0.031,
        cpu_sweep_term_ms=0.27, cpu_assist_ms=0.28, cpu_background_ms=3.5, cpu_idle_ms=0.11,
        cpu_mark_term_ms=0.063, heap_start_mb=10, heap_end_mb=12, heap_live_mb=9,
        heap_goal_mb=12, stacks_mb=0, globals_mb=0, procs=2, notes=(),
    )  # fmt: skip
    assert cycle.pauses_ms == (0.13, 0.031)
    assert not cycle.forced


def test_old_line_has_no_stacks_or_globals() -> None:
    (cycle,) = parse_gctrace(OLD).cycles
    fields = (cycle.stacks_mb, cycle.globals_mb, cycle.procs, cycle.heap_live_mb)
    assert fields == (None, None, 8, 0)


def test_notes_forced_and_unknown_future_notes() -> None:
    text = "\n".join([FORCED, NEW + " (forced) (some new note)"])
    first, second = parse_gctrace(text).cycles
    assert first.forced and first.notes == ("forced",)
    assert second.notes == ("forced", "some new note")


def test_unknown_extra_size_field_is_tolerated() -> None:
    line = NEW.replace(", 2 P", ", 7 MB newthing, 2 P")
    (cycle,) = parse_gctrace(line).cycles
    assert (cycle.stacks_mb, cycle.globals_mb, cycle.procs) == (0, 0, 2)


def test_program_output_and_scavenger_lines_are_skipped() -> None:
    text = "\n".join([
        "starting server", "scvg: 0 MB released",
        "scvg0: inuse: 3, idle: 60, sys: 63, released: 0, consumed: 63 (MB)",
        "scav 0 KiB work (bg), 0 KiB work (eager), 1824 KiB now, 99% util",
        NEW, "gc is great", "half a line" + OLD,
    ])
    trace = parse_gctrace(text)
    assert [(c.number, c.line) for c in trace.cycles] == [(3, 5), (1, 7)]
    assert trace.other_lines == 5
    assert trace.malformed == ()


def test_malformed_lines_are_reported_with_line_numbers() -> None:
    text = "\n".join([NEW, "gc 4 @0.05s 6%: 0.13+15 ms clock", OLD, "gc 9 @1.0s 1%: garbage"])
    trace = parse_gctrace(text, "run.log")
    assert [c.number for c in trace.cycles] == [3, 1]
    malformed = [(bad.line, bad.text[:8]) for bad in trace.malformed]
    assert malformed == [(2, "gc 4 @0."), (4, "gc 9 @1.")]


@pytest.mark.parametrize("text", ["", "hello\nworld\n", "scvg: 0 MB released\n"])
def test_text_without_gctrace_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="no gctrace lines"):
        parse_gctrace(text, "x.log")


def test_only_malformed_gctrace_names_the_first_line() -> None:
    with pytest.raises(InputError, match=r"x.log: line 2: malformed gctrace line"):
        parse_gctrace("noise\ngc 1 @0.1s 5%: 1+2+3 ms clock\n", "x.log")


def test_crlf_and_trailing_newline() -> None:
    trace = parse_gctrace(NEW + "\r\n" + OLD + "\r\n")
    assert [c.number for c in trace.cycles] == [3, 1]
    assert trace.cycles[1].procs == 8


def test_cycles_view_slices_and_columns() -> None:
    trace = parse_gctrace("\n".join([NEW, FORCED, OLD]))
    assert len(trace.cycles[1:]) == 2
    assert trace.cycles.column("number") == [3, 13, 1]
    assert [c.number for c in trace.cycles] == [3, 13, 1]


def _streamed(text: str) -> tuple[list[GcCycle], list[tuple[int, str]], int]:
    parser = GctraceParser()
    cycles: list[GcCycle] = []
    malformed: list[tuple[int, str]] = []
    other = 0
    for line in text.split("\n"):
        cycle, broken = parser.feed(line)
        if cycle is not None:
            cycles.append(cycle)
        elif broken is not None:
            malformed.append((broken.line, broken.text))
        else:
            other += 1
    return cycles, malformed, other


def test_bulk_and_streaming_agree_on_a_mixed_log() -> None:
    lines = [NEW.replace("gc 3 ", f"gc {n} ") for n in range(1, 200)]
    lines[50] = FORCED
    lines[60] = "program says hi"
    lines[70] = "gc 71 @0.5s 6%: 1.2.3+15+0.031 ms clock"
    lines[80] = OLD
    text = "\n".join(lines)
    bulk = parse_gctrace(text)
    cycles, malformed, _ = _streamed(text)
    assert list(bulk.cycles) == cycles
    assert [(b.line, b.text) for b in bulk.malformed] == malformed


def test_bulk_rejects_numbers_streaming_rejects_too() -> None:
    # Same skeleton as good lines, but "1.2.3" and "" numbers: the bulk path must fall back.
    bad = NEW.replace("0.13+15", "1.2.3+15")
    empty = NEW.replace("0.13+15", "+15")
    trace = parse_gctrace("\n".join([NEW, bad, empty, NEW]))
    assert [c.line for c in trace.cycles] == [1, 4]
    assert [b.line for b in trace.malformed] == [2, 3]


_NUMBER = st.one_of(
    st.integers(0, 5000).map(str),
    st.tuples(st.integers(0, 99), st.integers(0, 999)).map(lambda t: f"{t[0]}.{t[1]}"),
)


@st.composite
def _gctrace_line(draw: st.DrawFn) -> str:
    n = draw
    head = (f"gc {n(st.integers(1, 10**6))} @{n(_NUMBER)}s {n(st.integers(0, 100))}%: "
            f"{n(_NUMBER)}+{n(_NUMBER)}+{n(_NUMBER)} ms clock, "
            f"{n(_NUMBER)}+{n(_NUMBER)}/{n(_NUMBER)}/{n(_NUMBER)}+{n(_NUMBER)} ms cpu, "
            f"{n(st.integers(0, 9999))}->{n(st.integers(0, 9999))}->{n(st.integers(0, 9999))} MB, "
            f"{n(st.integers(0, 9999))} MB goal")
    if n(st.booleans()):
        head += f", {n(st.integers(0, 99))} MB stacks, {n(st.integers(0, 99))} MB globals"
    return head + f", {n(st.integers(1, 256))} P" + (" (forced)" if n(st.booleans()) else "")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_gctrace_line(), st.text(max_size=60)), min_size=1, max_size=30))
def test_bulk_equals_streaming_on_generated_logs(lines: list[str]) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    try:
        bulk = parse_gctrace(text)
    except InputError:
        cycles, _, _ = _streamed(text)
        assert cycles == []
        return
    cycles, malformed, _ = _streamed(text)
    assert list(bulk.cycles) == cycles
    assert [(b.line, b.text) for b in bulk.malformed] == malformed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_or_is_an_input_error(text: str) -> None:
    try:
        trace = parse_gctrace(text)
    except InputError:
        return
    assert all(cycle.number >= 0 for cycle in trace.cycles)
