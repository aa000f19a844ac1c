"""What the OpenSLO v1 features compute, checked by promtool on traffic with known answers:
Timeslices, RatioTimeslices, threshold metrics, calendar-aligned periods, alertWhenNoData."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mapguard.slo.generate import generate
from mapguard.slo.rules import render
from mapguard.slo.spec import load_specs

Write = Callable[[str, str], Path]

SPECS = """\
apiVersion: openslo/v1
kind: SLI
metadata: {name: requests}
spec:
  ratioMetric:
    counter: true
    good: {metricSource: {type: Prometheus, spec: {query: 'requests_total{code="200"}'}}}
    total: {metricSource: {type: Prometheus, spec: {query: requests_total}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: slices}
spec:
  service: shop
  indicatorRef: requests
  budgetingMethod: Timeslices
  objectives:
    - {target: 0.9, timeSliceTarget: 0.95, timeSliceWindow: 1m}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: ratio-slices}
spec:
  service: shop
  indicatorRef: requests
  budgetingMethod: RatioTimeslices
  objectives:
    - {target: 0.9, timeSliceWindow: 1}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: fast}
spec:
  service: shop
  indicator:
    metadata: {name: latency}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: latency_seconds}}
  budgetingMethod: Occurrences
  objectives: [{op: lt, value: 0.5, target: 0.9}]
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: calendar}
spec:
  service: shop
  indicatorRef: requests
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 1w
      calendar: {startTime: "1970-01-01 02:00:00", timeZone: UTC}
  objectives: [{target: 0.9}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: no-data}
      spec:
        alertWhenNoData: true
        alertWhenBreaching: false
        conditions:
          - kind: AlertCondition
            metadata: {name: hour}
            spec:
              severity: ticket
              condition: {kind: burnrate, op: gt, threshold: 1, lookbackWindow: 1h}
"""


def ratio(slo: str, window: str, value: float, at: str) -> dict[str, Any]:
    series = f'slo:sli_error:ratio_rate{window}{{mapguard_slo_id="shop-{slo}"}}'
    return {"expr": f"abs(vector(scalar({series})) - {value!r}) < bool 0.000001",
            "eval_time": at, "exp_samples": [{"labels": "{}", "value": 1}]}


@pytest.mark.slow
def test_openslo_features_compute_what_they_say(promtool: str, tmp_path: Path,
                                                write: Write) -> None:
    rules = tmp_path / "rules.yml"
    specs = load_specs([write("openslo.yaml", SPECS)])
    rules.write_text(render(generate(specs)))
    # 150 minutes: every 10th minute has 10 % errors, the others none (1000 requests a minute),
    # so 1 slice in 10 fails a 95 % slice target; on average 1 % of requests fail.
    good, bad = [], []
    for minute in range(150):
        failing = minute % 10 == 9
        good.append(900 if failing else 1000)
        bad.append(100 if failing else 0)

    def counter(increments: list[int]) -> str:
        values, total = ["0"], 0
        for increment in increments:
            total += increment
            values.append(str(total))
        return " ".join(values)

    # Latency samples: 3 in 10 minutes at 0.7 s (too slow), the rest at 0.2 s.
    latency = " ".join("0.7" if minute % 10 < 3 else "0.2" for minute in range(151))
    test = {
        "rule_files": [rules.name],
        # Every 5 minutes is enough for these answers, and a fifth of the work: a Timeslices
        # window is a subquery per slice (3d: 4320 of them) at every evaluation.
        "evaluation_interval": "5m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'requests_total{code="200"}', "values": counter(good)},
                    {"series": 'requests_total{code="500"}', "values": counter(bad)},
                    {"series": "latency_seconds", "values": latency},
                ],
                # A window [t-1h, t] holds 61 one-minute steps (Prometheus 2 ranges are closed):
                # at 02:30 the slices ending 01:30 ... 02:30, 7 of them failing.
                "promql_expr_test": [
                    ratio("slices", "1h", 7 / 61, "150m"),  # the share of failing slices
                    ratio("ratio-slices", "1h", 0.7 / 61, "150m"),  # their mean error ratio
                    ratio("fast", "1h", 19 / 61, "150m"),  # the share of slow samples
                    ratio("calendar", "1h", 0.01, "150m"),  # events: 600 of 60000 failed
                    # The calendar period started at 02:00: the week so far is 7 recorded 5m
                    # rates (02:00 ... 02:30, covering 01:55 ... 02:30): 4 failing minutes of 35.
                    ratio("calendar", "7d", 4 / 350, "150m"),
                ],
                "alert_rule_test": [{"eval_time": "150m", "alertname": "ShopCalendarNoData",
                                     "exp_alerts": []}],
            },
            {
                "name": "no data: the no-data alert fires",
                "interval": "1m",
                "input_series": [{"series": "unrelated", "values": "1+0x60"}],
                "alert_rule_test": [{
                    "eval_time": "30m", "alertname": "ShopCalendarNoData",
                    "exp_alerts": [{
                        "exp_labels": {"mapguard_slo_id": "shop-calendar", "severity": "warning",
                                       "mapguard_tier": "ticket"},
                        "exp_annotations": {
                            "summary": "shop calendar: no SLI data over the last 1h"},
                    }],
                }],
            },
        ],
    }
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_queries_sloth_accepts_pass_promtool(promtool: str, tmp_path: Path,
                                             write: Write) -> None:
    """Uppercase keywords, subqueries, @, offset and comments, in a Sloth spec."""
    spec = write("sloth.yaml", textwrap.dedent("""\
        version: prometheus/v1
        service: api
        slos:
          - name: odd-queries
            objective: 99
            sli:
              events:
                error_query: |
                  # errors, or nothing at all (a comment Sloth keeps in the template)
                  sum(rate(http_total{code=~"5.."}[{{ .window }}] offset 1m)) OR on() vector(0)
                total_query: sum(rate(http_total[{{.window}}] offset 1m))
            alerting:
              page_alert: {disable: true}
              ticket_alert: {disable: true}
          - name: subquery
            objective: 95
            sli:
              raw:
                error_ratio_query: >-
                  1 - avg_over_time((min(up{job="api"} @ end()))[{{.window}}:1m])
            alerting: {name: ApiUp}
    """))
    rules = tmp_path / "rules.yml"
    rules.write_text(render(generate(load_specs([spec]))))
    assert "# errors" not in rules.read_text()  # the comment would swallow a parenthesis
    proc = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
