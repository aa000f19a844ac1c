"""The generation chain, one step at a time, and promtool's verdict on the result."""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mapguard.slo import guards as g
from mapguard.slo.alerts import alert_rules
from mapguard.slo.conventions import Convention
from mapguard.slo.durations import Duration
from mapguard.slo.generate import generate
from mapguard.slo.model import Tier
from mapguard.slo.promql import metric_names, parse
from mapguard.slo.rules import (
    ERROR_EVENTS,
    TOTAL_EVENTS,
    AlertingRule,
    RecordingRule,
    meta_rules,
    render,
    sli_rules,
)
from mapguard.slo.spec import load_spec, load_specs

from .conftest import MAPGUARD_SPEC, OPENSLO_SPEC, SLOTH_SPEC

Write = Callable[[str, str], Path]


def recording(group_rules: tuple[object, ...]) -> dict[str, RecordingRule]:
    return {r.record: r for r in group_rules if isinstance(r, RecordingRule)}


def test_sli_step_reads_alert_windows_raw_and_builds_the_period_from_event_rates() -> None:
    slo = load_spec(SLOTH_SPEC).slos[0]
    rules = recording(sli_rules(slo).rules)
    windows = ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"]
    assert set(rules) == {ERROR_EVENTS, TOTAL_EVENTS} | {
        f"slo:sli_error:ratio_rate{w}" for w in windows
    }
    for window in windows[:-1]:  # every alert window: the raw queries over the window itself
        expr = rules[f"slo:sli_error:ratio_rate{window}"].expr
        assert f"[{window}]" in expr and metric_names(expr) == {"apiserver_request_total"}
        assert rules[f"slo:sli_error:ratio_rate{window}"].labels["sloth_window"] == window
    # The period: a ratio of summed 5m event rates (every event weighs the same).
    expr = rules["slo:sli_error:ratio_rate30d"].expr
    assert metric_names(expr) == {ERROR_EVENTS, TOTAL_EVENTS}
    assert f"sum_over_time({ERROR_EVENTS}" in expr and "[30d])" in expr
    # No error series while requests flow reads as zero errors, not as missing data.
    assert " or\n0 * (" in rules[ERROR_EVENTS].expr.replace(")\nor", ") or")
    for rule in rules.values():
        assert rule.labels["sloth_id"] == slo.id and rule.labels["cluster"] == "valhalla"
        parse(rule.expr)


def test_raw_sli_alert_windows_are_queried_and_the_period_averages_5m_ratios(
    write: Write
) -> None:
    path = write("raw.yaml", textwrap.dedent("""\
        version: prometheus/v1
        service: s
        slos:
          - name: r
            objective: 99
            sli: {raw: {error_ratio_query: "1 - avg_over_time(up{job=\\"x\\"}[{{.window}}])"}}
            alerting: {name: R}
    """))
    rules = recording(sli_rules(load_spec(path).slos[0]).rules)
    assert ERROR_EVENTS not in rules
    assert rules["slo:sli_error:ratio_rate3d"].expr == '(1 - avg_over_time(up{job="x"}[3d]))'
    ratio = 'slo:sli_error:ratio_rate5m{sloth_id="s-r", sloth_service="s", sloth_slo="r"}'
    assert rules["slo:sli_error:ratio_rate30d"].expr == (  # as Sloth writes it
        f"sum_over_time({ratio}[30d])\n/ ignoring (sloth_window)\ncount_over_time({ratio}[30d])"
    )


def test_meta_step_describes_the_slo_exactly() -> None:
    slo = load_specs([MAPGUARD_SPEC]).slos[0]  # 99.95 % over 28d
    rules = recording(meta_rules(slo).rules)
    assert rules["slo:objective:ratio"].expr == "vector(0.9995)"
    assert rules["slo:error_budget:ratio"].expr == "vector(0.0005)"
    assert rules["slo:time_period:days"].expr == "vector(28)"
    assert "slo:sli_error:ratio_rate28d" in rules["slo:period_burn_rate:ratio"].expr
    info = rules["mapguard_slo_info"].labels
    assert (info["mapguard_objective"], info["mapguard_period"]) == ("99.95", "28d")


def test_alert_step_is_the_workbook_with_exact_thresholds() -> None:
    slo = replace(load_spec(SLOTH_SPEC).slos[0], convention=Convention.MAPGUARD)
    alerts = [r for r in alert_rules(slo).rules if isinstance(r, AlertingRule)]
    assert [(a.alert, a.labels["mapguard_window_pair"]) for a in alerts] == [
        ("K8sApiserverAvailabilityAlertPage", "1h/5m"),
        ("K8sApiserverAvailabilityAlertPage", "6h/30m"),
        ("K8sApiserverAvailabilityAlertTicket", "1d/2h"),
        ("K8sApiserverAvailabilityAlertTicket", "3d/6h"),
    ]
    thresholds = ["(14.4 * 0.001)", "(6 * 0.001)", "(3 * 0.001)", "(1 * 0.001)"]
    for alert, threshold, (long, short) in zip(
        alerts, thresholds, [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")],
        strict=True,
    ):
        assert alert.expr.count(threshold) == 2
        assert metric_names(alert.expr) == {
            f"slo:sli_error:ratio_rate{long}", f"slo:sli_error:ratio_rate{short}"
        }
        assert alert.for_ is None
    page, ticket = alerts[0], alerts[3]
    assert (page.labels["severity"], page.labels["mapguard_tier"]) == ("critical", "page")
    assert (ticket.labels["severity"], ticket.labels["mapguard_tier"]) == ("warning", "ticket")
    assert page.labels["category"] == "availability"
    assert page.annotations["runbook"].startswith("https://github.com/kubernetes-monitoring")
    assert "1.44 %" in page.annotations["description"]


def test_sloth_alert_step_is_one_rule_per_tier_as_sloth_writes_it() -> None:
    slo = load_spec(SLOTH_SPEC).slos[0]
    page, ticket = alert_rules(slo).rules
    assert isinstance(page, AlertingRule) and isinstance(ticket, AlertingRule)
    assert page.alert == ticket.alert == "K8sApiserverAvailabilityAlert"
    assert page.labels == {"sloth_severity": "page", "category": "availability",
                           "severity": "critical"}
    assert ticket.labels["sloth_severity"] == "ticket" and "mapguard_tier" not in ticket.labels
    assert page.annotations["title"] == (
        "(page) {{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate "
        "is too fast."
    )
    assert metric_names(page.expr) == {f"slo:sli_error:ratio_rate{w}"
                                       for w in ("5m", "1h", "30m", "6h")}
    assert page.expr.count("without (sloth_window)") == 4 and "\nor\n" in page.expr


def test_disabled_tier_and_runbook_dashboard_annotations(write: Write) -> None:
    path = write("d.yaml", textwrap.dedent("""\
        version: mapguard/v1
        service: s
        slos:
          - name: a
            objective: 99
            sli: {latency: {histogram: h, le: "0.1"}}
            alerting:
              runbook_url: https://run.book/a
              dashboard_url: https://dash/a
              ticket_alert: {disable: true}
              page_alert: {labels: {severity: sev1}, annotations: {summary: custom}}
    """))
    alerts = alert_rules(load_spec(path).slos[0]).rules
    assert all(isinstance(a, AlertingRule) and a.alert == "SAPage" for a in alerts)
    assert len(alerts) == 2
    first = alerts[0]
    assert isinstance(first, AlertingRule)
    assert first.labels["severity"] == "sev1" and first.annotations["summary"] == "custom"
    assert first.annotations["runbook_url"] == "https://run.book/a"
    assert first.annotations["dashboard_url"] == "https://dash/a"


def test_map_guard_rules() -> None:
    guard = load_spec(MAPGUARD_SPEC).guards[0]
    (group,) = g.guard_groups(guard)
    alerts = {r.alert: r for r in group.rules if isinstance(r, AlertingRule)}
    spike = alerts[g.ALLOC_ALERT]
    # "up more than 300 %" is more than 4 times the baseline, and above the noise floor
    assert "> 4 * mapguard:map_alloc_bytes:baseline_rate1h" in spike.expr
    assert "> 1048576" in spike.expr and spike.for_ == Duration.parse("10m")
    baseline = recording(group.rules)[g.ALLOC_BASELINE].expr
    assert "offset 1d" in baseline and "offset 15m" in baseline and "\nor\n" in baseline
    assert 'quantile="1"' in recording(group.rules)[g.GC_PAUSE_MAX].expr
    assert alerts[g.GC_ALERT].expr.endswith("> 0.05")
    assert alerts[g.GOROUTINE_ALERT].expr.endswith("* 3600 > 500")
    for alert in alerts.values():
        assert alert.labels["mapguard_tier"] == "ticket"


def test_rules_are_yaml_prometheus_reads(promtool: str, tmp_path: Path, write: Write) -> None:
    histogram_guard = write("hist.yaml", textwrap.dedent("""\
        version: mapguard/v1
        service: other
        slos:
          - name: raw
            objective: 99.5
            period: 90d
            sli: {raw: {error_ratio_query: "sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))"}}
            alerting:
              windows: [{tier: page, long: 2h, short: 10m, burn_rate: 10, for: 5m}]
        map_guards:
          - target: other
            go_selector: job="other",env!="dev"
            baseline: last_hour
            gc_pause_max_seconds: 0.02
            gc_pause_source: histogram
    """))
    specs = load_specs([SLOTH_SPEC, MAPGUARD_SPEC, OPENSLO_SPEC, histogram_guard])
    rules_path = tmp_path / "rules.yml"
    rules_path.write_text(render(generate(specs)))
    proc = subprocess.run([promtool, "check", "rules", "--lint-fatal", str(rules_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_generation_is_deterministic() -> None:
    specs = load_specs([SLOTH_SPEC, MAPGUARD_SPEC])
    assert render(generate(specs)) == render(generate(load_specs([SLOTH_SPEC, MAPGUARD_SPEC])))
    tiers = {w.tier for s in specs.slos for w in s.alerting.windows}
    assert tiers == {Tier.PAGE, Tier.TICKET}
