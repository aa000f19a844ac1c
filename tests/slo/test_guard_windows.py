"""The map allocation guard's windows: defaults unchanged, custom ones in the rules and tests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mapguard.errors import InputError
from mapguard.slo import guards as g
from mapguard.slo.rules import RecordingRule
from mapguard.slo.spec import load_specs

from .test_promtool_tests import Write, run, write_suite

CUSTOM = """\
version: mapguard/v1
service: windows
map_guards:
  - target: windows
    baseline: last_hour
    alloc_window: {alloc}
    baseline_window: {base}
    baseline_offset: {offset}
"""


def _rules(path: Path) -> dict[str, str]:
    (guard,) = load_specs([path]).guards
    (group,) = g.guard_groups(guard)
    return {rule.record: rule.expr for rule in group.rules if isinstance(rule, RecordingRule)}


def test_default_windows_are_the_documented_ones(write: Write) -> None:
    path = write("default.yaml", "version: mapguard/v1\nservice: d\nmap_guards: [{target: d}]\n")
    rules = _rules(path)
    assert "[5m]" in rules[g.ALLOC_RATE]
    assert "[1h] offset 1d" in rules[g.ALLOC_BASELINE]
    assert "[1h] offset 15m" in rules[g.ALLOC_BASELINE]


def test_custom_windows_reach_the_promql(write: Write) -> None:
    path = write("custom.yaml", CUSTOM.format(alloc="20s", base="40s", offset="10s"))
    rules = _rules(path)
    assert 'rate(mapguard_map_alloc_bytes_total{target="windows"}[20s])' in rules[g.ALLOC_RATE]
    assert "[40s] offset 10s))\n  and on (target, site)" in rules[g.ALLOC_BASELINE]
    assert rules[g.ALLOC_BASELINE].endswith('{target="windows"} offset 50s)')


def test_sub_minute_windows_get_no_promtool_test_and_say_why(write: Write,
                                                             tmp_path: Path) -> None:
    path = write("short.yaml", CUSTOM.format(alloc="20s", base="40s", offset="10s"))
    _, _, warnings = write_suite([path], tmp_path)
    assert len(warnings) == 1
    assert "alloc spike scenario: the tests run at one-minute resolution" in warnings[0]


@pytest.mark.slow
def test_generated_tests_pass_for_whole_minute_custom_windows(
    promtool: str, write: Write, tmp_path: Path
) -> None:
    path = write("custom.yaml", CUSTOM.format(alloc="10m", base="2h", offset="30m"))
    _, tests, warnings = write_suite([path], tmp_path)
    assert warnings == ()
    verdict = run(tests)
    assert verdict.ok, verdict.output


def test_a_baseline_needs_the_whole_window(write: Write) -> None:
    # Otherwise rate() over a partly covered window reads low and every new series spikes.
    path = write("default.yaml", "version: mapguard/v1\nservice: d\nmap_guards: [{target: d}]\n")
    baseline = _rules(path)[g.ALLOC_BASELINE]
    assert 'mapguard_map_alloc_bytes_total{target="d"} offset 25h)' in baseline
    assert 'mapguard_map_alloc_bytes_total{target="d"} offset 75m)' in baseline


def test_windows_are_validated(write: Write) -> None:
    path = write("bad.yaml", CUSTOM.format(alloc="5x", base="1h", offset="15m"))
    with pytest.raises(InputError, match=r"alloc_window"):
        load_specs([path])


NEW_SERIES_TEST = """\
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'mapguard_map_alloc_bytes_total{target="d",site="main.go:42",op="grow"}'
        values: '0+120000000x150'
    alert_rule_test:
"""


@pytest.mark.slow
def test_a_new_steady_series_never_fires(promtool: str, write: Write, tmp_path: Path) -> None:
    spec = write("d.yaml", "version: mapguard/v1\nservice: d\nmap_guards: [{target: d}]\n")
    rules, _, _ = write_suite([spec], tmp_path)
    checks = "".join(f"      - {{eval_time: {t}m, alertname: MapguardMapAllocSpike, "
                     "exp_alerts: []}\n" for t in range(20, 150, 5))
    tests = write("new.test.yml", NEW_SERIES_TEST + checks)
    assert run(tests).ok
    # Without the coverage condition the partly covered baseline reads low: a false spike.
    text = rules.read_text()
    uncovered = re.sub(r"\n\s*and on \(target, site\)\n\s*sum by \(target, site\) \([^\n]*"
                       r"offset (25h|75m)\)", "", text)
    assert uncovered != text
    rules.write_text(uncovered)
    assert not run(tests).ok
