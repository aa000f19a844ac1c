"""Conversions keep meaning: reading the output back generates the very same rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mapguard.slo.conventions import Convention
from mapguard.slo.convert import convert
from mapguard.slo.generate import generate, with_options
from mapguard.slo.rules import render
from mapguard.slo.spec import load_specs

from .conftest import MAPGUARD_SPEC, OPENSLO_SPEC, SLOTH_SPEC

Write = Callable[[str, str], Path]


def rules_of(paths: list[Path]) -> str:
    # Each format has its own default label convention: compare meaning in one of them.
    return render(generate(with_options(load_specs(paths), convention=Convention.MAPGUARD)))


@pytest.mark.parametrize(
    ("source", "target"),
    [(SLOTH_SPEC, "openslo"), (SLOTH_SPEC, "sloth"), (SLOTH_SPEC, "mapguard"),
     (OPENSLO_SPEC, "openslo"), (OPENSLO_SPEC, "mapguard")],
)
def test_round_trip_generates_identical_rules(source: Path, target: str, write: Write) -> None:
    text, warnings = convert(load_specs([source]), target)
    assert warnings == []
    converted = write(f"converted.{target}.yaml", text)
    assert rules_of([converted]) == rules_of([source])
    back, _ = convert(load_specs([converted]), "sloth" if source == SLOTH_SPEC else "openslo")
    assert rules_of([write("back.yaml", back)]) == rules_of([source])


def test_openslo_carries_the_second_window_in_annotations() -> None:
    text, _ = convert(load_specs([SLOTH_SPEC]), "openslo")
    assert text.count("mapguard.dev/short-window: 5m") == 2  # two SLOs, one 1h/5m page each
    assert "lookbackWindow: 1h" in text and "threshold: 14.4" in text
    assert "kind: AlertPolicy" in text and "kind: AlertCondition" in text


def test_mapguard_round_trip_is_lossless(write: Write) -> None:
    text, warnings = convert(load_specs([MAPGUARD_SPEC]), "mapguard")
    assert warnings == []
    assert rules_of([write("m.yaml", text)]) == rules_of([MAPGUARD_SPEC])


def test_custom_windows_to_sloth_are_reported() -> None:
    _, warnings = convert(load_specs([OPENSLO_SPEC]), "sloth")
    assert any("custom burn windows have no Sloth form" in w for w in warnings)


def test_what_sloth_cannot_say_is_reported() -> None:
    _, warnings = convert(load_specs([MAPGUARD_SPEC]), "sloth")
    text = "\n".join(warnings)
    assert "map guards have no Sloth form" in text
    assert "--default-slo-period=28d" in text and "--default-slo-period=7d" in text
    assert "latency SLI is written as events queries" in text
