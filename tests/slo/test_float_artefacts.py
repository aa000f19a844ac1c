"""No float noise in anything generated: thresholds, budgets, test inputs, conversions."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mapguard.slo.alertmanager import render_alertmanager
from mapguard.slo.convert import convert
from mapguard.slo.dashboard import render_dashboard
from mapguard.slo.generate import generate
from mapguard.slo.promtool_tests import build_tests, render_tests
from mapguard.slo.rules import render
from mapguard.slo.spec import load_specs

# 0.9990000000000001, 0.30000000000000004, 14.399999999999999, 1e-05: what floats print.
# No spec number needs 12 decimals; binary floats printed back need 15 to 17.
ARTEFACT = re.compile(r"\d\.\d{12,}|\d[eE][-+]?\d")

OBJECTIVES = ["99", "99.5", "99.9", "99.95", "99.99", "99.999", "95", "97.3", "98.7", "99.123"]
PERIODS = ["7d", "14d", "28d", "30d", "90d"]


def test_the_pattern_catches_what_floats_print() -> None:
    for noisy in (1 - 0.999, 14.4 * 0.001, 0.1 + 0.2, 0.7 * 3, 1e-5, 100 - 99.9):
        assert ARTEFACT.search(repr(noisy)), repr(noisy)
    for clean in ("0.001", "14.4 * 0.001", "(14 / 15) * 0.0005", "vector(0.99999)", "1048576",
                  "5m", "0.000005"):
        assert not ARTEFACT.search(clean)


LATENCY = "latency: {histogram: h, le: '0.3'}"
EVENTS = (
    "events: {error_query: 'sum(rate(r{c=~\"5..\"}[{{.window}}]))', "
    "total_query: 'sum(rate(r[{{.window}}]))'}"
)


def spec_text(objectives: list[str], period: str) -> str:
    slos = "".join(
        f"""
  - name: o{index}
    objective: {objective}
    period: {period}
    sli:
      {LATENCY if index % 2 else EVENTS}
"""
        for index, objective in enumerate(objectives)
    )
    return f"version: mapguard/v1\nservice: s{period}\nslos:{slos}"


@pytest.mark.parametrize("period", PERIODS)
def test_generated_files_have_no_float_artefacts(
    period: str, write: Callable[[str, str], Path]
) -> None:
    specs = load_specs([write(f"{period}.yaml", spec_text(OBJECTIVES, period))])
    groups = generate(specs)
    tests, _ = build_tests(specs, groups, "rules.yml")
    outputs = {
        "rules": render(groups),
        "tests": render_tests(tests),
        "alertmanager": render_alertmanager(specs),
        "dashboard": render_dashboard(specs, groups),
        **{f"convert {target}": convert(specs, target)[0]
           for target in ("sloth", "openslo", "mapguard")},
    }
    for name, text in outputs.items():
        for number, line in enumerate(text.splitlines(), 1):
            assert not ARTEFACT.search(line), f"{name} line {number}: {line}"
    thresholds = [line for line in outputs["rules"].splitlines() if " > (" in line]
    assert len(thresholds) == 2 * 4 * len(OBJECTIVES)


def test_every_objective_and_period_combination_is_exact(
    write: Callable[[str, str], Path]
) -> None:
    for objective, period in itertools.product(OBJECTIVES, PERIODS):
        path = write(f"{objective}-{period}.yaml", spec_text([objective], period))
        assert not ARTEFACT.search(render(generate(load_specs([path]))))
