"""Prometheus rule groups, step by step as Sloth does: SLI recording rules, then metadata rules.

Every step is a function of one SLO that returns one `RuleGroup`; alerts (alerts.py) and map
guards (guards.py) are further steps; generate.py chains them; `render` writes the YAML.

The SLI error ratio is recorded for each window. Windows up to 6h are computed from the raw
queries. Windows of a day or more are built from the 5m event rates already recorded:
``sum_over_time(errors_5m[W]) / sum_over_time(total_5m[W])``. That is a ratio of event counts, so
every event weighs the same — unlike averaging 5m *ratios* (Sloth's shortcut), which over-weights
quiet minutes; it is exact up to the window's edges. Raw-ratio SLIs cannot be split into events,
so each of their windows is queried directly.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from mapguard.slo.durations import Duration
from mapguard.slo.model import SLO, LatencySLI, RawSLI
from mapguard.slo.numbers import exact_text
from mapguard.slo.promql import Matcher, fill_window
from mapguard.slo.yamltext import fast_dump

ERROR_EVENTS = "slo:sli_error_events:rate5m"
TOTAL_EVENTS = "slo:sli_total_events:rate5m"
INFO = "mapguard_slo_info"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
PERIOD_DAYS = "slo:time_period:days"
CURRENT_BURN = "slo:current_burn_rate:ratio"
PERIOD_BURN = "slo:period_burn_rate:ratio"
BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
PERIOD_SLI = "slo:period_sli:ratio"
# Windows at least this long are built from the recorded 5m event rates.
FROM_EVENTS_AT = Duration.parse("1d")


def error_ratio(window: Duration) -> str:
    return error_ratio_name(str(window))


def error_ratio_name(window: str) -> str:
    return f"slo:sli_error:ratio_rate{window}"


@dataclass(frozen=True, slots=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertingRule:
    alert: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    for_: Duration | None = None


Rule = RecordingRule | AlertingRule


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    rules: tuple[Rule, ...]
    interval: Duration | None = None


def slo_selector(slo: SLO) -> str:
    return "{" + str(Matcher("mapguard_slo_id", "=", slo.id)) + "}"


def record_labels(slo: SLO) -> dict[str, str]:
    return {**slo.identity_labels, **slo.labels}


def _events(slo: SLO) -> tuple[str, str]:
    sli = slo.sli
    assert not isinstance(sli, RawSLI)
    return sli.error_query, sli.total_query


def _query(query: str, window: Duration | str, indent: str = "") -> str:
    """A user query with its window filled in, re-indented to sit inside a larger expression."""
    text = textwrap.dedent(fill_window(query, str(window))).strip()
    return textwrap.indent(text, indent).removeprefix(indent)


def _errors_or_zero(error: str, total: str, indent: str = "") -> str:
    # No error series while there are requests means 0 errors, not "no data".
    return f"{indent}({error})\n{indent}or\n{indent}0 * ({total})"


def _direct_ratio(slo: SLO, window: Duration) -> str:
    if isinstance(slo.sli, RawSLI):
        return _query(slo.sli.error_ratio_query, window)
    error, total = (_query(q, window, "  ") for q in _events(slo))
    return f"(\n{_errors_or_zero(error, total, '  ')}\n)\n/\n({_query(_events(slo)[1], window)})"


def sli_rules(slo: SLO) -> RuleGroup:
    """Step 1: the SLI error ratio for every window."""
    labels = record_labels(slo)
    selector = slo_selector(slo)
    rules: list[Rule] = []
    raw = isinstance(slo.sli, RawSLI)
    if not raw:
        error, total = (_query(q, "5m") for q in _events(slo))
        rules += [
            RecordingRule(ERROR_EVENTS, _errors_or_zero(error, total), labels),
            RecordingRule(TOTAL_EVENTS, total, labels),
        ]
    for window in slo.windows:
        if raw or (window < FROM_EVENTS_AT and window != Duration.parse("5m")):
            expr = _direct_ratio(slo, window)
        elif window == Duration.parse("5m"):
            expr = f"{ERROR_EVENTS}{selector}\n/\n{TOTAL_EVENTS}{selector}"
        else:
            expr = (
                f"sum_over_time({ERROR_EVENTS}{selector}[{window}])\n/\n"
                f"sum_over_time({TOTAL_EVENTS}{selector}[{window}])"
            )
        rules.append(RecordingRule(error_ratio(window), expr, labels))
    return RuleGroup(f"mapguard-slo-sli-{slo.id}", tuple(rules), slo.intervals.sli)


def sli_type(slo: SLO) -> str:
    return {RawSLI: "raw", LatencySLI: "latency"}.get(type(slo.sli), "events")


def meta_rules(slo: SLO) -> RuleGroup:
    """Step 2: what the SLO is (objective, budget, period) and how much budget is left."""
    labels = record_labels(slo)
    selector = slo_selector(slo)
    budget = exact_text(slo.error_budget)
    period_ratio = f"{error_ratio(slo.period)}{selector}"
    info = {
        **labels,
        **slo.info_labels,
        "mapguard_objective": exact_text(slo.objective),
        "mapguard_period": str(slo.period),
        "mapguard_sli": sli_type(slo),
        "mapguard_alert": slo.alerting.name,
    }
    rules = (
        RecordingRule(INFO, "vector(1)", info),
        RecordingRule(OBJECTIVE, f"vector({exact_text(slo.target)})", labels),
        RecordingRule(ERROR_BUDGET, f"vector({budget})", labels),
        RecordingRule(
            PERIOD_DAYS, f"vector({exact_text(Fraction(slo.period.seconds, 86400))})", labels
        ),
        RecordingRule(CURRENT_BURN, f"{error_ratio(Duration.parse('5m'))}{selector}\n/\n{budget}",
                      labels),
        RecordingRule(PERIOD_BURN, f"{period_ratio}\n/\n{budget}", labels),
        RecordingRule(BUDGET_REMAINING, f"1 - {PERIOD_BURN}{selector}", labels),
        RecordingRule(PERIOD_SLI, f"1 - {period_ratio}", labels),
    )
    return RuleGroup(f"mapguard-slo-meta-{slo.id}", rules, slo.intervals.meta)


def recorded_names(groups: Iterable[RuleGroup]) -> set[str]:
    return {r.record for g in groups for r in g.rules if isinstance(r, RecordingRule)}


def _rule_document(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, RecordingRule):
        document: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
    else:
        document = {"alert": rule.alert, "expr": rule.expr}
        if rule.for_ is not None:
            document["for"] = str(rule.for_)
    if rule.labels:
        document["labels"] = dict(rule.labels)
    if isinstance(rule, AlertingRule) and rule.annotations:
        document["annotations"] = dict(rule.annotations)
    return document


def rules_document(groups: Iterable[RuleGroup]) -> dict[str, Any]:
    out = []
    for group in groups:
        entry: dict[str, Any] = {"name": group.name}
        if group.interval is not None:
            entry["interval"] = str(group.interval)
        entry["rules"] = [_rule_document(rule) for rule in group.rules]
        out.append(entry)
    return {"groups": out}


def render(groups: Iterable[RuleGroup], *, sources: Iterable[str] = ()) -> str:
    names = ", ".join(sources)
    header = (
        f"Generated by `mapguard slo generate`{' from ' + names if names else ''}.\n"
        "Do not edit: change the spec and generate again."
    )
    return fast_dump(rules_document(groups), header=header)
