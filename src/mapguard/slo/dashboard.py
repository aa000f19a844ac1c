"""A Grafana dashboard (JSON model) for the generated rules.

Every panel query reads only series recorded by the generated rules — never the raw metrics —
so the dashboard is as cheap to load as the rules are to evaluate, and shows exactly what the
alerts see. Panels for map guards appear only when the specs define guards.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from mapguard.slo import conventions as c
from mapguard.slo import guards as g
from mapguard.slo import rules as r
from mapguard.slo.model import STANDARD_WINDOWS, SpecSet

TARGET_FILTER = '{target=~"$target"}'
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _panel(
    panel_id: int, title: str, kind: str, targets: Sequence[tuple[str, str]], unit: str,
    grid: tuple[int, int, int, int], description: str = "", **options: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit, **options.pop("defaults", {})},
                        "overrides": []},
        "options": options,
        "targets": [_target(expr, legend, chr(ord("A") + i))
                    for i, (expr, legend) in enumerate(targets)],
    }


def _row(panel_id: int, title: str, y: int) -> dict[str, Any]:
    return {"id": panel_id, "type": "row", "title": title, "collapsed": False,
            "gridPos": {"x": 0, "y": y, "w": 24, "h": 1}, "panels": []}


def _variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
        "query": {"query": query, "refId": name}, "definition": query,
        "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2, "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    }


def _filter(naming: c.Naming) -> str:
    return f'{{{naming.service_label}=~"$service",{naming.slo_label}=~"$slo"}}'


def _slo_panels(y: int, naming: c.Naming) -> list[dict[str, Any]]:
    slo_filter = _filter(naming)
    stat = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value", "graphMode": "area", "textMode": "value_and_name"}
    legend = f"{{{{{naming.service_label}}}}} {{{{{naming.slo_label}}}}}"
    windows = [str(w) for w in STANDARD_WINDOWS]
    return [
        _row(1, "SLOs", y),
        _panel(2, "SLI over the SLO period", "stat",
               [(f"{c.PERIOD_SLI}{slo_filter}", legend)], "percentunit", (0, y + 1, 8, 5),
               "Share of good events over the whole period", **stat,
               defaults={"decimals": 3}),
        _panel(3, "Error budget left", "gauge",
               [(f"{c.BUDGET_REMAINING}{slo_filter}", legend)], "percentunit",
               (8, y + 1, 8, 5), "1 - period burn rate", defaults={"min": 0, "max": 1}),
        _panel(4, "Burn rate now (5m)", "stat",
               [(f"{c.CURRENT_BURN}{slo_filter}", legend)], "x", (16, y + 1, 8, 5),
               "1 spends exactly the budget over the period", **stat),
        _panel(5, "SLI per window", "timeseries",
               [(f"1 - {c.error_ratio_name(w)}{slo_filter}", f"{legend} {w}") for w in windows],
               "percentunit", (0, y + 6, 12, 9), "1 - error ratio over each window"),
        _panel(6, "Burn rate per window", "timeseries",
               [(f"{c.error_ratio_name(w)}{slo_filter}\n/ on ({naming.id_label}) group_left ()\n"
                 f"{c.ERROR_BUDGET}{slo_filter}", f"{legend} {w}") for w in windows],
               "x", (12, y + 6, 12, 9),
               "Error ratio over the error budget; page thresholds are 14.4 (1h) and 6 (6h) "
               "for a 30d period"),
        _panel(7, "Error budget left over time", "timeseries",
               [(f"{c.BUDGET_REMAINING}{slo_filter}", legend)], "percentunit",
               (0, y + 15, 24, 7)),
    ]


def _guard_panels(y: int, recorded: set[str]) -> list[dict[str, Any]]:
    panels = [_row(20, "Map guards", y)]
    if g.ALLOC_RATE in recorded:
        panels += [
            _panel(21, "Map allocation by site", "timeseries",
                   [(f"sum by (site) ({g.ALLOC_RATE}{TARGET_FILTER})", "{{site}}")],
                   "Bps", (0, y + 1, 12, 9), "Bytes per second allocated by map operations"),
            _panel(22, "Map allocation against its baseline", "timeseries",
                   [(f"{g.ALLOC_RATE}{TARGET_FILTER}", "now {{site}}"),
                    (f"{g.ALLOC_BASELINE}{TARGET_FILTER}", "baseline {{site}}")],
                   "Bps", (12, y + 1, 12, 9)),
        ]
    pauses = [(f"{name}{TARGET_FILTER}", label) for name, label in (
        (g.GC_PAUSE_MAX, "longest recent cycle {{instance}}"),
        (g.GC_PAUSE_P99, "p99 {{instance}}"),
    ) if name in recorded]
    if pauses:
        panels.append(_panel(23, "GC pauses", "timeseries", pauses, "s", (0, y + 10, 12, 8)))
    if g.GOROUTINE_TREND in recorded:
        panels.append(_panel(24, "Goroutine growth per hour", "timeseries",
                             [(f"{g.GOROUTINE_TREND}{TARGET_FILTER} * 3600", "{{instance}}")],
                             "short", (12, y + 10, 12, 8)))
    return panels


def dashboard(specs: SpecSet, groups: Sequence[r.RuleGroup]) -> dict[str, Any]:
    recorded = r.recorded_names(groups)
    services = sorted({slo.service for slo in specs.slos})
    targets = sorted({guard.target for guard in specs.guards})
    key = json.dumps([services, targets]).encode()
    # One label convention per dashboard: the first SLO's (mixed specs are rare; see docs).
    naming = c.naming(specs.slos[0].convention) if specs.slos else c.MAPGUARD
    panels = _slo_panels(0, naming) if specs.slos else []
    if specs.guards:
        panels += _guard_panels(23 if panels else 0, recorded)
    variables = [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                  "query": "prometheus", "refresh": 1}]
    if specs.slos:
        variables += [
            _variable("service", "Service",
                      f"label_values({naming.info_metric}, {naming.service_label})"),
            _variable("slo", "SLO", f"label_values({naming.info_metric}"
                      f'{{{naming.service_label}=~"$service"}}, {naming.slo_label})'),
        ]
    if specs.guards and g.ALLOC_RATE in recorded:
        variables.append(_variable("target", "Target", f"label_values({g.ALLOC_RATE}, target)"))
    return {
        "uid": "mapguard-" + hashlib.sha256(key).hexdigest()[:12],
        "title": "mapguard SLOs: " + ", ".join(services + targets),
        "tags": ["mapguard", "slo"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def render_dashboard(specs: SpecSet, groups: Sequence[r.RuleGroup]) -> str:
    return json.dumps(dashboard(specs, groups), indent=2, ensure_ascii=False) + "\n"
