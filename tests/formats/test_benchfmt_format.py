"""The Go benchmark format: configuration, results, units, names; bad lines kept with their line
number; fuzzed so that no input makes the parser raise or guess."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.formats.benchfmt import (
    Measurement,
    parse_benchfmt,
    split_name,
    tidy_unit,
)

GO_TEST_OUTPUT = "\n".join([
    "goos: linux",
    "goarch: amd64",
    "pkg: example.com/cache",
    "cpu: AMD EPYC 7B13",
    "BenchmarkGet/size=1024-8         \t 5000000\t       231.5 ns/op\t       0 B/op\t"
    "       0 allocs/op",
    "BenchmarkGet/size=1024-8         \t 5000000\t       229 ns/op\t       0 B/op\t"
    "       0 allocs/op",
    "BenchmarkPut/kind=struct/n=8-8   \t  100000\t     10456 ns/op\t  123.45 MB/s\t"
    "    4096 B/op\t       3 allocs/op",
    "PASS",
    "ok  \texample.com/cache\t3.021s",
    "",
])


def test_go_test_output_results_and_configuration() -> None:
    parsed = parse_benchfmt(GO_TEST_OUTPUT, "old.txt")
    assert parsed.problems == ()
    assert [result.name for result in parsed.results] == [
        "Get/size=1024-8", "Get/size=1024-8", "Put/kind=struct/n=8-8"]
    first = parsed.results[0]
    assert first.line == 5 and first.source == "old.txt" and first.iterations == 5_000_000
    assert first.config == (("goos", "linux"), ("goarch", "amd64"), ("pkg", "example.com/cache"),
                            ("cpu", "AMD EPYC 7B13"))
    assert first.measurements[0] == Measurement(231.5e-9, "sec/op", 231.5, "ns/op")
    assert [m.unit for m in parsed.results[2].measurements] == [
        "sec/op", "B/s", "B/op", "allocs/op"]
    assert parsed.results[2].value("B/s") == 123.45e6
    assert parsed.results[2].value("allocs/op") == 3


def test_configuration_applies_to_later_results_and_empty_value_unsets() -> None:
    text = "note: before\nBenchmarkA 1 10 ns/op\nnote:\nBenchmarkA 1 11 ns/op\n" \
           "note: after\nBenchmarkA 1 12 ns/op\n"
    notes = [result.config_value("note") for result in parse_benchfmt(text).results]
    assert notes == ["before", "", "after"]


def test_lines_that_are_not_configuration() -> None:
    text = "\n".join([
        "Goos: linux",  # upper-case first letter
        "go os: linux",  # space in the key
        "goOS: linux",  # upper case inside the key
        "key:value",  # no blank after the colon
        ": value",  # no key
        "ok  \texample.com/cache\t3.021s",
        "--- FAIL: TestX (0.00s)",
        "BenchmarkA 1 1 ns/op",
    ])
    (result,) = parse_benchfmt(text).results
    assert result.config == ()


def test_unit_metadata_and_conflicts() -> None:
    text = "Unit ns/op better=lower\nUnit text-bytes assume=exact\nUnit text-bytes assume=exact\n" \
           "Unit text-bytes assume=nothing\nUnit x novalue\nUnit\n"
    parsed = parse_benchfmt(text, "u.txt")
    assert [(u.unit, u.key, u.value) for u in parsed.units] == [
        ("sec/op", "better", "lower"), ("text-bytes", "assume", "exact")]
    assert [str(problem) for problem in parsed.problems] == [
        "u.txt:4: metadata assume of unit text-bytes already set to exact",
        "u.txt:5: expected key=value, got 'novalue'",
        "u.txt:6: missing unit",
    ]


def test_bad_result_lines_are_problems_with_file_and_line() -> None:
    text = "\n".join([
        "BenchmarkA 100 12 ns/op",
        "BenchmarkB many 12 ns/op",
        "BenchmarkC 100",
        "BenchmarkD 100 12",
        "BenchmarkE 100 twelve ns/op",
        "BenchmarkF 1_000 12 ns/op",
        "BenchmarkG",  # -v prints the name alone before a benchmark's logs: not a result
        "BenchmarkH 100 12 ns/op 5",
    ])
    parsed = parse_benchfmt(text, "new.txt")
    assert [result.name for result in parsed.results] == ["A"]
    assert [str(problem) for problem in parsed.problems] == [
        "new.txt:2: parsing iteration count: invalid syntax: 'many'",
        "new.txt:3: missing measurements",
        "new.txt:4: missing units",
        "new.txt:5: parsing measurement: invalid syntax: 'twelve'",
        "new.txt:6: parsing iteration count: invalid syntax: '1_000'",
        "new.txt:8: missing units",
    ]


def test_numbers_as_go_reads_them() -> None:
    text = "BenchmarkA 1 1e3 x 2.5E-1 y .5 z NaN w +Inf v -3 u\r\n"
    (result,) = parse_benchfmt(text).results
    values = [m.value for m in result.measurements]
    assert values[:3] == [1000.0, 0.25, 0.5] and math.isnan(values[3])
    assert values[4:] == [math.inf, -3.0]
    assert result.measurements[-1].unit == "u"  # the \r of a CRLF file is not part of the unit


def test_names_split_into_base_parts_and_gomaxprocs() -> None:
    assert split_name("Encode/format=json-48") == ("Encode", ("/format=json", "-48"))
    assert split_name("CRC32/poly=IEEE/size=15/align=0-8") == (
        "CRC32", ("/poly=IEEE", "/size=15", "/align=0", "-8"))
    assert split_name("FloatSub/100-4") == ("FloatSub", ("/100", "-4"))
    assert split_name("X") == ("X", ())
    assert split_name("Sort-by-key") == ("Sort-by-key", ())
    assert split_name("-8") == ("-8", ())


def test_units_tidied_like_benchstat() -> None:
    assert tidy_unit("ns/op") == ("sec/op", 1e-9)
    assert tidy_unit("MB/s") == ("B/s", 1e6)
    assert tidy_unit("B/op") == ("B/op", 1.0)
    assert tidy_unit("ns/GC") == ("sec/GC", 1e-9)
    assert tidy_unit("MB*ns/op") == ("B*sec/op", 1e6 / 1e9)
    assert tidy_unit("op/ns") == ("op/ns", 1.0)  # a denominator keeps its unit
    assert tidy_unit("gc-pause-ns/op") == ("gc-pause-sec/op", 1e-9)


_NAME = st.from_regex(r"[A-Z][A-Za-z0-9_]{0,8}(/[a-z]{1,4}=[a-z0-9]{1,4}){0,2}(-[0-9]{1,2})?",
                      fullmatch=True)
_VALUE = st.floats(min_value=0, max_value=1e12, allow_nan=False).map(lambda v: f"{v:.6g}")
_UNIT = st.sampled_from(["ns/op", "B/op", "allocs/op", "MB/s", "gc-cycles/op", "x"])


@st.composite
def _result_line(draw: st.DrawFn) -> tuple[str, str, int, list[tuple[str, str]]]:
    name = draw(_NAME)
    iterations = draw(st.integers(min_value=1, max_value=10**9))
    pairs = draw(st.lists(st.tuples(_VALUE, _UNIT), min_size=1, max_size=4))
    spaces = draw(st.sampled_from([" ", "\t", "  \t "]))
    line = spaces.join([f"Benchmark{name}", str(iterations),
                        *[f"{value}{spaces}{unit}" for value, unit in pairs]])
    return line, name, iterations, pairs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_result_line(), st.text(max_size=60)), max_size=15))
def test_generated_results_read_back_exactly(items: list[object]) -> None:
    lines = [item[0] if isinstance(item, tuple) else str(item).replace("\n", " ")
             for item in items]
    parsed = parse_benchfmt("\n".join(lines), "gen.txt")
    expected = [item for item in items if isinstance(item, tuple)]
    # Random text may itself look like a result line: only check that ours all came through.
    by_line = {result.line: result for result in parsed.results}
    for number, item in enumerate(items, start=1):
        if not isinstance(item, tuple):
            continue
        _line, name, iterations, pairs = item
        result = by_line[number]
        assert (result.name, result.iterations) == (name, iterations)
        assert [(m.original_value, m.original_unit) for m in result.measurements] == [
            (float(value), unit) for value, unit in pairs]
    assert len(expected) <= len(parsed.results)
    for problem in parsed.problems:
        assert lines[problem.line - 1].startswith(("Benchmark", "Unit"))


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_benchfmt(text, "fuzz.txt")
    line_count = text.count("\n") + 1
    for record in (*parsed.results, *parsed.units, *parsed.problems):
        assert 1 <= record.line <= line_count
