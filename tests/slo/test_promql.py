"""The PromQL subset mapguard reads: parsing, metric names, linear SLI forms, regex examples."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from mapguard.slo.promql import (
    Matcher,
    PromQLSyntaxError,
    Selector,
    Unsupported,
    linear,
    metric_names,
    parse,
    parse_matchers,
    ratio_parts,
    regex_examples,
)

LATENCY = """(
  sum(rate(apiserver_request_duration_seconds_count{verb!="WATCH"}[{{.window}}]))
  -
  sum(rate(apiserver_request_duration_seconds_bucket{le="0.4",verb!="WATCH"}[{{.window}}]))
)"""


def test_linear_form_of_a_latency_error_query() -> None:
    form = linear(parse(LATENCY))
    count = Selector("apiserver_request_duration_seconds_count", (Matcher("verb", "!=", "WATCH"),))
    fast = Selector(
        "apiserver_request_duration_seconds_bucket",
        (Matcher("le", "=", "0.4"), Matcher("verb", "!=", "WATCH")),
    )
    assert form.terms == {count: 1, fast: -1}
    assert form.value({count: Fraction(10), fast: Fraction(7)}) == 3


def test_scalars_grouping_and_or_fallbacks() -> None:
    form = linear(parse(
        'sum by (route) (rate(a{x="1"}[{{ .window }}])) * 2 / 4 or vector(0)'
    ))
    assert list(form.terms.values()) == [Fraction(1, 2)]
    assert form.grouping == {"route"}


@pytest.mark.parametrize(
    "query",
    [
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
        "max(rate(x[5m]))",
        "rate(x[5m]) * rate(y[5m])",
        "sum without (a) (rate(x[5m]))",
        "1 - sum(rate(x[5m]))",
        "rate(x[5m] offset 1h)",
    ],
)
def test_queries_outside_the_linear_subset_are_reported(query: str) -> None:
    with pytest.raises(Unsupported):
        linear(parse(query))


@pytest.mark.parametrize(
    "query",
    ["sum(rate(x[5m])", 'x{a="b"', "rate(x[5m]))", "x{a=~\"(\"}", "x{a>\"b\"}", "x[5m"],
)
def test_syntax_errors(query: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        parse(query)


def test_metric_names_skip_functions_keywords_and_labels() -> None:
    expr = (
        "slo:sli_error:ratio_rate1h{mapguard_slo=~\"$slo\"}\n/ on (mapguard_slo_id) "
        "group_left () slo:error_budget:ratio{a=\"sum\"} > bool 1"
    )
    assert metric_names(expr) == {"slo:sli_error:ratio_rate1h", "slo:error_budget:ratio"}
    assert metric_names('{__name__="up", job="x"} offset 5m') == {"up"}


def test_raw_ratio_split() -> None:
    errors, total = ratio_parts(parse("sum(rate(e[5m])) / sum(rate(t[5m]))"))
    assert metric_names_of(errors) == "e" and metric_names_of(total) == "t"
    with pytest.raises(Unsupported):
        ratio_parts(parse("1 - avg_over_time(up[5m])"))


def metric_names_of(node: object) -> str:
    return next(iter(linear(node).terms)).name or ""  # type: ignore[arg-type]


def test_matchers_and_escapes() -> None:
    found = parse_matchers('job="api", path=~"/a\\\\.b|/c", code!~"2..", x!=""')
    assert [str(m) for m in found] == ['job="api"', 'path=~"/a\\\\.b|/c"', 'code!~"2.."', 'x!=""']
    assert found[1].matches({"path": "/a.b"}) and not found[1].matches({"path": "/aXb"})
    assert found[3].matches({"x": "1"}) and not found[3].matches({})


@pytest.mark.parametrize("pattern", ["5..", "(5..|429)", "2..|3..", ".*foo.*", "[^2].*", ".+",
                                     "GET|POST", "a{3}b?", r"\d+", "(?:ab)+c"])
def test_regex_examples_match_fully(pattern: str) -> None:
    examples = regex_examples(pattern)
    assert examples
    assert all(re.fullmatch(pattern, example) for example in examples)
