"""The promtool tests mapguard writes pass against its rules — and fail against broken ones."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from mapguard.slo import tools
from mapguard.slo.conventions import Convention
from mapguard.slo.generate import generate, with_options
from mapguard.slo.promtool_tests import build_tests, counter_values, render_tests
from mapguard.slo.rules import render
from mapguard.slo.spec import load_specs

from .conftest import MAPGUARD_SPEC, OPENSLO_SPEC, SLOTH_SPEC, SPECS

Write = Callable[[str, str], Path]


def write_suite(specs_paths: list[Path], directory: Path,
                convention: Convention | None = None) -> tuple[Path, Path, tuple[str, ...]]:
    specs = with_options(load_specs(specs_paths), convention=convention)
    groups = generate(specs)
    rules, tests = directory / "rules.yml", directory / "rules.test.yml"
    rules.write_text(render(groups))
    document, warnings = build_tests(specs, groups, "rules.yml")
    tests.write_text(render_tests(document))
    return rules, tests, warnings


def run(tests: Path) -> tools.Verdict:
    return tools.run_rule_tests(tests, jobs=1)


def test_counter_notation() -> None:
    from fractions import Fraction

    text = counter_values([(3, Fraction(10)), (2, Fraction(1, 2))], Fraction(100))
    assert text == "100+10x3 130.5+0.5x1"  # minutes 0..3 then 4..5


def test_generated_tests_cover_the_four_scenarios(tmp_path: Path) -> None:
    _, tests, warnings = write_suite([SLOTH_SPEC], tmp_path)
    assert warnings == ()
    names = [t["name"] for t in yaml.safe_load(tests.read_text())["tests"]]
    for slo in ("requests-availability", "requests-latency"):
        mine = [n for n in names if slo in n]
        assert [n.split(": ")[1].split(" ")[0].rstrip(":") for n in mine] == [
            "fast", "slow", "healthy", "recovery"
        ]
    assert any("never pages" in n for n in names)


@pytest.mark.slow
def test_generated_tests_pass_for_the_sloth_example(promtool: str, tmp_path: Path) -> None:
    _, tests, _ = write_suite([SLOTH_SPEC], tmp_path)
    verdict = run(tests)
    assert verdict.ok, verdict.output


def test_hand_written_burn_scenarios_for_the_sloth_example(promtool: str, tmp_path: Path) -> None:
    write_suite([SLOTH_SPEC], tmp_path, Convention.MAPGUARD)
    scenarios = tmp_path / "scenarios.yml"
    shutil.copy(SPECS / "sloth_k8s_apiserver.scenarios.yml", scenarios)
    verdict = run(scenarios)
    assert verdict.ok, verdict.output


@pytest.mark.slow
def test_generated_tests_pass_for_mapguard_and_openslo_specs(
    promtool: str, tmp_path: Path, write: Write
) -> None:
    extra = write("periods.yaml", textwrap.dedent("""\
        version: mapguard/v1
        service: periods
        slos:
          - name: week
            objective: 99.5
            period: 7d
            sli: {latency: {histogram: rpc_seconds, le: "0.25", selector: 'svc="a"'}}
          - name: quarter
            objective: 99
            period: 90d
            sli:
              events:
                error_query: sum by (svc) (rate(rpc_total{svc="b",code!~"2..|3.."}[{{.window}}]))
                total_query: sum by (svc) (rate(rpc_total{svc="b"}[{{.window}}]))
            alerting:
              windows:
                - {tier: page, long: 1h, short: 5m, budget_percent: 2, for: 2m}
                - {tier: ticket, long: 1d, short: 2h, budget_percent: 10}
    """))
    _, tests, warnings = write_suite([MAPGUARD_SPEC, OPENSLO_SPEC, extra], tmp_path)
    assert warnings == ()
    verdict = tools.run_rule_tests(tests, jobs=2)
    assert verdict.ok, verdict.output


@pytest.mark.slow
def test_generated_tests_pass_for_guard_variants(
    promtool: str, tmp_path: Path, write: Write
) -> None:
    # Yesterday's baseline needs a day of samples: a guard-only file keeps that cheap.
    guards = write("guards.yaml", textwrap.dedent("""\
        version: mapguard/v1
        service: guards
        map_guards:
          - target: periods
            go_selector: job="periods",env!="dev"
            baseline: same_hour_yesterday
            alloc_increase_percent: 150
            min_alloc_bytes_per_second: 0
            gc_pause_max_seconds: 0.01
            gc_pause_source: histogram
            goroutine_growth_per_hour: 30
            goroutine_for: 1h
    """))
    _, tests, warnings = write_suite([guards], tmp_path)
    assert warnings == ()
    assert len(yaml.safe_load(tests.read_text())["tests"]) == 3
    verdict = run(tests)
    assert verdict.ok, verdict.output


MUTATIONS = [
    ("(14.4 * 0.001)", "(144 * 0.001)"),  # fast burn no longer pages
    ("(3 * 0.001)", "(0.3 * 0.001)"),  # healthy traffic tickets
    ("\n      and\n", "\n      or\n"),  # one window is enough: pages on blips, slow to clear
    ("sum_over_time(slo:sli_error_events", "avg_over_time(slo:sli_total_events"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("before", "after"), MUTATIONS)
def test_generated_tests_catch_broken_rules(
    promtool: str, tmp_path: Path, before: str, after: str
) -> None:
    rules, tests, _ = write_suite([SLOTH_SPEC], tmp_path, Convention.MAPGUARD)
    text = rules.read_text()
    assert before in text
    rules.write_text(text.replace(before, after))
    assert not run(tests).ok


MONTH_LATENCY = """\
version: mapguard/v1
service: riskd
slos:
  - name: latency
    objective: 99
    period: 28d
    sli: {latency: {histogram: http_request_duration_seconds, le: "0.05", selector: 'job="riskd"'}}
"""


def test_counter_increments_are_whole_numbers(tmp_path: Path, write: Write) -> None:
    # promtool adds a fractional increment in float64 and can overshoot the next segment's
    # start: rate() then sees a counter reset. The 28d latency SLO hit exactly that.
    extra = write("month.yaml", MONTH_LATENCY)
    _, tests, _ = write_suite([SLOTH_SPEC, MAPGUARD_SPEC, OPENSLO_SPEC, extra], tmp_path)
    increments = [
        segment.split("+")[1].split("x")[0]
        for test in yaml.safe_load(tests.read_text())["tests"]
        if "map guard" not in test["name"] and "guard " not in test["name"]
        for series in test["input_series"]
        if series["series"].split("{")[0].endswith(("_total", "_count", "_bucket"))
        for segment in series["values"].split()
    ]
    assert increments
    assert [i for i in increments if not i.isdigit()] == []


@pytest.mark.slow
def test_generated_tests_pass_for_a_28_day_latency_slo(
    promtool: str, tmp_path: Path, write: Write
) -> None:
    _, tests, warnings = write_suite([write("month.yaml", MONTH_LATENCY)], tmp_path)
    assert warnings == ()
    verdict = run(tests)
    assert verdict.ok, verdict.output


@pytest.mark.slow
def test_generated_tests_pass_when_sloth_specs_share_an_alert_name(
    promtool: str, tmp_path: Path
) -> None:
    # Sloth's multifile example: two SLOs on the same queries, one alert name for both. A test
    # of one SLO sees the other's alerts fire under that name: its checks filter on sloth_id.
    multifile = SPECS.parent / "testdata" / "sloth" / "examples" / "multifile.yml"
    _, tests, warnings = write_suite([multifile], tmp_path)
    assert warnings == ()
    groups = yaml.safe_load(tests.read_text())["tests"]
    assert not any("alert_rule_test" in group for group in groups)
    assert any('sloth_id="myservice2-requests-availability"' in check["expr"]
               for group in groups for check in group["promql_expr_test"])
    verdict = tools.run_rule_tests(tests, jobs=2)
    assert verdict.ok, verdict.output
