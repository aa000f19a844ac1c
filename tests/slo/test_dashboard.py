"""The Grafana dashboard is valid JSON and every query reads only generated recording rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from mapguard.slo.dashboard import render_dashboard
from mapguard.slo.generate import generate
from mapguard.slo.promql import metric_names
from mapguard.slo.rules import recorded_names
from mapguard.slo.spec import load_specs

from .conftest import MAPGUARD_SPEC, SLOTH_SPEC


def queries(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            elif key == "query" and isinstance(value, dict) and "query" in value:
                yield value["query"]
            else:
                yield from queries(value)
    elif isinstance(node, list):
        for item in node:
            yield from queries(item)


def variable_metric(query: str) -> str:
    # label_values(METRIC{...}, label)
    inner = query.removeprefix("label_values(").rsplit(",", 1)[0]
    return next(iter(metric_names(inner)))


def test_every_panel_query_reads_recording_rules_only() -> None:
    specs = load_specs([SLOTH_SPEC, MAPGUARD_SPEC])
    groups = generate(specs)
    board = json.loads(render_dashboard(specs, groups))
    recorded = recorded_names(groups)
    exprs = list(queries(board["panels"]))
    assert len(exprs) >= 10
    for expr in exprs:
        names = metric_names(expr.replace("$", "x"))
        assert names and names <= recorded, expr
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable_metric(variable["query"]["query"]) in recorded
    titles = {panel["title"] for panel in board["panels"]}
    assert {"SLI per window", "Error budget left", "Burn rate per window",
            "Map allocation by site", "GC pauses"} <= titles


def test_layout_and_identity() -> None:
    specs = load_specs([SLOTH_SPEC])
    board = json.loads(render_dashboard(specs, generate(specs)))
    assert not any("Map" in panel["title"] for panel in board["panels"])  # no guards, no panels
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"].startswith("mapguard-") and len(board["uid"]) <= 40
    for panel in board["panels"]:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])


def test_sloth_specs_get_a_dashboard_on_sloth_labels() -> None:
    specs = load_specs([SLOTH_SPEC])
    board = json.loads(render_dashboard(specs, generate(specs)))
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["service"]["query"]["query"] == "label_values(sloth_slo_info, sloth_service)"
    exprs = list(queries(board["panels"]))
    assert all("mapguard_" not in expr for expr in exprs)
    assert any('sloth_slo=~"$slo"' in expr for expr in exprs)
