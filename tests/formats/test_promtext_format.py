"""The Prometheus text parser: kept families only, bad lines named, fuzzed."""

from __future__ import annotations

import contextlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mapguard.errors import InputError
from mapguard.formats.promtext import parse_samples

GO_METRICS = b"""\
# HELP go_gc_duration_seconds A summary of the wall-time pause duration in GC cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds{quantile="1"} 0.0021
go_gc_duration_seconds_sum 0.0206
go_gc_duration_seconds_count 85
# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 12
# TYPE http_requests_total counter
http_requests_total{code="200",handler="/a b"} 1027
http_requests_total{code="500",handler="/{x}"} 3
# TYPE go_sched_pauses_total_gc_seconds histogram
go_sched_pauses_total_gc_seconds_bucket{le="6.4e-06"} 83
go_sched_pauses_total_gc_seconds_bucket{le="+Inf"} 170
go_sched_pauses_total_gc_seconds_sum NaN
go_sched_pauses_total_gc_seconds_count 170
"""


def test_only_the_wanted_families_with_their_suffixes() -> None:
    samples = parse_samples(GO_METRICS, "m", ["go_gc_duration_seconds", "go_goroutines",
                                              "go_sched_pauses_total_gc_seconds"])
    names = [s.name for s in samples]
    assert "http_requests_total" not in names
    assert names.count("go_gc_duration_seconds") == 2
    by_name = {(s.name, s.labels): s.value for s in samples}
    assert by_name[("go_gc_duration_seconds_count", ())] == 85
    assert by_name[("go_goroutines", ())] == 12
    assert by_name[("go_sched_pauses_total_gc_seconds_bucket", (("le", "+Inf"),))] == 170
    assert math.isnan(by_name[("go_sched_pauses_total_gc_seconds_sum", ())])


def test_a_counter_keeps_its_exposed_name() -> None:
    (sample,) = parse_samples(GO_METRICS, "m", ["http_requests"])[:1]
    assert sample.name == "http_requests_total"
    assert sample.label("handler") == "/a b"


def test_untyped_samples_without_metadata() -> None:
    (sample,) = parse_samples(b"go_goroutines 3\n", "m", ["go_goroutines"])
    assert sample.value == 3


@pytest.mark.parametrize(("data", "where"), [
    (b"go_goroutines 1\ngo_goroutines{a=b} 2\n", "line 2"),
    (b"go_goroutines one\n", "line 1"),
    (b"# TYPE go_goroutines\ngo_goroutines 1\n", None),
])
def test_bad_lines_are_named(data: bytes, where: str | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_samples(data, "http://x/metrics", ["go_goroutines"])
    assert caught.value.source == "http://x/metrics"
    assert caught.value.where == where


def test_a_bad_line_of_an_unwanted_family_is_not_read() -> None:
    assert parse_samples(b"other{{{ garbage\ngo_goroutines 4\n", "m", ["go_goroutines"])


def test_not_utf8() -> None:
    with pytest.raises(InputError, match="not UTF-8"):
        parse_samples(b"go_goroutines 1\n\xff\xfe", "m", ["go_goroutines"])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_raises_only_input_error(data: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_samples(b"go_goroutines" + data, "m", ["go_goroutines"])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="go_rutines{}=\",.+-eE0123456789 #\nTYPEgauge", max_size=200))
def test_fuzz_text_raises_only_input_error(text: str) -> None:
    with contextlib.suppress(InputError):
        parse_samples(text.encode(), "m", ["go_goroutines"])
