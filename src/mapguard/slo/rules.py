"""Prometheus rule groups, step by step as Sloth does: SLI recording rules, then metadata rules.

Every step is a function of one SLO that returns one `RuleGroup`; alerts (alerts.py) and map
guards (guards.py) are further steps; generate.py chains them; `render` writes the YAML. Label
and metric names come from conventions.py (Sloth's or mapguard's).

The SLI error ratio is recorded for every window an alert reads, straight from the user's
queries (``rate(x[1d])`` reads a day of raw history), so rules deployed in the middle of a burn
see the whole window from their first evaluation — as Sloth's do. Only the SLO period (30d),
which no alert reads, is built from recorded 5m rates to stay cheap: for events SLIs from the
recorded event rates, ``sum_over_time(errors_5m[30d]) / sum_over_time(total_5m[30d])`` (every
event weighs the same), for raw ratio SLIs as Sloth does, the average of the recorded 5m ratios.
It fills in over one period after the rules are first deployed.

An events SLI's error query is read as 0 when it returns nothing while there is traffic
(``(errors) or 0 * (total)``): no error series means no errors, not no data.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from mapguard import __version__
from mapguard.slo.conventions import (
    BUDGET_REMAINING,
    CURRENT_BURN,
    ERROR_BUDGET,
    ERROR_EVENTS,
    OBJECTIVE,
    PERIOD_BURN,
    PERIOD_DAYS,
    PERIOD_SLI,
    TOTAL_EVENTS,
    Convention,
    Naming,
    error_ratio_name,
    naming,
)
from mapguard.slo.durations import Duration
from mapguard.slo.model import SLO, LatencySLI, RawSLI
from mapguard.slo.numbers import exact_text
from mapguard.slo.promql import Matcher, fill_window, without_comments
from mapguard.slo.yamltext import fast_dump

FIVE_MINUTES = Duration.parse("5m")
# Sloth's `sloth_mode` per input format.
SLOTH_MODES = {"sloth.slok.dev/v1": "cli-gen-k8s", "openslo/v1alpha": "cli-gen-openslo"}


def error_ratio(window: Duration) -> str:
    return error_ratio_name(str(window))


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


def slo_naming(slo: SLO) -> Naming:
    return naming(slo.convention)


def slo_selector(slo: SLO) -> str:
    """The matchers that pick one SLO's series (Sloth filters on all three identity labels)."""
    identity = slo.identity_labels
    if slo.convention is Convention.MAPGUARD:
        identity = {slo_naming(slo).id_label: slo.id}
    return "{" + ", ".join(str(Matcher(k, "=", v)) for k, v in identity.items()) + "}"


def record_labels(slo: SLO) -> dict[str, str]:
    # The spec's labels come last: Sloth lets them override its own, and so do we.
    return {**slo.identity_labels, **slo.labels}


def window_labels(slo: SLO, window: Duration) -> dict[str, str]:
    """The labels of one window's error ratio series."""
    label = slo_naming(slo).window_label
    if label is None:
        return record_labels(slo)
    return {**slo.identity_labels, label: str(window), **slo.labels}


def _events(slo: SLO) -> tuple[str, str]:
    sli = slo.sli
    assert not isinstance(sli, RawSLI)
    return sli.error_query, sli.total_query


def query_text(query: str, window: Duration | str, indent: str = "") -> str:
    """A user query with its window filled in (and its comments out), re-indented to sit inside
    a larger expression."""
    text = textwrap.dedent(without_comments(fill_window(query, str(window)))).strip()
    return textwrap.indent(text, indent).removeprefix(indent)


def _errors_or_zero(error: str, total: str, indent: str = "") -> str:
    # No error series while there are requests means 0 errors, not "no data".
    return f"{indent}({error})\n{indent}or\n{indent}0 * ({total})"


def direct_ratio(slo: SLO, window: Duration) -> str:
    """The error ratio over `window`, read from the user's queries."""
    if isinstance(slo.sli, RawSLI):
        return f"({query_text(slo.sli.error_ratio_query, window)})"
    error, total = (query_text(q, window, "  ") for q in _events(slo))
    return (f"(\n{_errors_or_zero(error, total, '  ')}\n)\n/\n"
            f"({query_text(_events(slo)[1], window)})")


def from_recorded_rates(slo: SLO, window: Duration) -> bool:
    """Is this window's ratio built from recorded 5m rates (only the period, which no alert
    reads), rather than read from the raw queries?"""
    if window != slo.period or window in slo.alert_windows:  # (the period is checked first)
        return False
    return slo.calendar_start is not None or (slo.optimized_period and window != FIVE_MINUTES)


def in_current_period(slo: SLO) -> str:
    """A condition true at the steps of a subquery that fall in the calendar period holding the
    rule's evaluation time (`@ end()` reads that time from inside the subquery)."""
    assert slo.calendar_start is not None
    index = f"floor((%s - {slo.calendar_start}) / {slo.period.seconds})"
    now = index % "max_over_time(vector(time())[1m:1m] @ end())"
    return f"({index % 'vector(time())'} == on() {now})"


def _period_from_recorded(slo: SLO, window: Duration) -> str:
    selector = slo_selector(slo)
    if isinstance(slo.sli, RawSLI):
        # Sloth's form: the 5m ratios summed over the period, divided by how many there are.
        ratio = f"{error_ratio(FIVE_MINUTES)}{selector}"
        label = slo_naming(slo).window_label
        ignoring = f" ignoring ({label})" if label else ""
        over = ("sum_over_time", "count_over_time")
        parts: tuple[str, str] = (ratio, ratio)
        joiner = f"\n/{ignoring}\n"
    else:
        over = ("sum_over_time", "sum_over_time")
        parts = (f"{ERROR_EVENTS}{selector}", f"{TOTAL_EVENTS}{selector}")
        joiner = "\n/\n"
    if slo.calendar_start is None:
        return joiner.join(f"{fn}({part}[{window}])" for fn, part in zip(over, parts, strict=True))
    # Calendar-aligned: only the 5m steps since the current period started count.
    keep = in_current_period(slo)
    return joiner.join(f"{fn}(({part} and on() {keep})[{window}:5m])"
                       for fn, part in zip(over, parts, strict=True))


def sli_rules(slo: SLO) -> RuleGroup:
    """Step 1: the SLI error ratio for every window."""
    rules: list[Rule] = []
    if not isinstance(slo.sli, RawSLI):
        error, total = (query_text(q, FIVE_MINUTES) for q in _events(slo))
        labels = record_labels(slo)
        rules += [
            RecordingRule(ERROR_EVENTS, _errors_or_zero(error, total), labels),
            RecordingRule(TOTAL_EVENTS, total, labels),
        ]
    for window in slo.windows:
        expr = (_period_from_recorded(slo, window) if from_recorded_rates(slo, window)
                else direct_ratio(slo, window))
        rules.append(RecordingRule(error_ratio(window), expr, window_labels(slo, window)))
    sli_group = slo_naming(slo).group_names(slo.id)[0]
    return RuleGroup(sli_group, tuple(rules), slo.intervals.sli)


def sli_type(slo: SLO) -> str:
    return {RawSLI: "raw", LatencySLI: "latency"}.get(type(slo.sli), "events")


def _info_labels(slo: SLO) -> dict[str, str]:
    labels = record_labels(slo)
    if slo.convention is Convention.SLOTH:
        return {
            **labels,
            "sloth_version": f"mapguard-{__version__}",
            "sloth_mode": SLOTH_MODES.get(slo.spec_version, "cli-gen-prom"),
            "sloth_spec": slo.spec_version,
            "sloth_objective": exact_text(slo.objective),
            **slo.info_labels,
        }
    return {
        **labels,
        **slo.info_labels,
        "mapguard_objective": exact_text(slo.objective),
        "mapguard_period": str(slo.period),
        "mapguard_sli": sli_type(slo),
        "mapguard_alert": slo.alerting.name,
    }


def meta_rules(slo: SLO) -> RuleGroup:
    """Step 2: what the SLO is (objective, budget, period) and how much budget is left."""
    labels = record_labels(slo)
    selector = slo_selector(slo)
    budget = exact_text(slo.error_budget)
    period_ratio = f"{error_ratio(slo.period)}{selector}"
    rules = (
        RecordingRule(OBJECTIVE, f"vector({exact_text(slo.target)})", labels),
        RecordingRule(ERROR_BUDGET, f"vector({budget})", labels),
        RecordingRule(
            PERIOD_DAYS, f"vector({exact_text(Fraction(slo.period.seconds, 86400))})", labels
        ),
        RecordingRule(CURRENT_BURN, f"{error_ratio(current_window(slo))}{selector}\n/\n{budget}",
                      labels),
        RecordingRule(PERIOD_BURN, f"{period_ratio}\n/\n{budget}", labels),
        RecordingRule(BUDGET_REMAINING, f"1 - {PERIOD_BURN}{selector}", labels),
        RecordingRule(PERIOD_SLI, f"1 - {period_ratio}", labels),
        RecordingRule(slo_naming(slo).info_metric, "vector(1)", _info_labels(slo)),
    )
    return RuleGroup(slo_naming(slo).group_names(slo.id)[1], rules, slo.intervals.meta)


def current_window(slo: SLO) -> Duration:
    """The window the current burn rate is read over: the shortest page window (as Sloth)."""
    shorts = [w.short for w in slo.alerting.windows if w.tier.value == "page"]
    return min(shorts, default=FIVE_MINUTES)


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
