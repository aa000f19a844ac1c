"""Step 3: multiwindow, multi-burn-rate alerts (SRE workbook, "Alerting on SLOs").

One alerting rule per window pair: it fires while the error ratio over both the long and the
short window is above factor × error budget, written exactly (``14.4 * 0.001``). Page and ticket
alerts have distinct names (`<name>Page`, `<name>Ticket`); each carries `mapguard_tier`
(page/ticket, what inhibition keys on), `mapguard_window_pair` and a `severity`.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from mapguard.slo.model import SLO, BurnWindow, Tier
from mapguard.slo.numbers import exact_text, round_significant, terminates
from mapguard.slo.rules import AlertingRule, RuleGroup, error_ratio, slo_selector

DEFAULT_SEVERITY = {Tier.PAGE: "critical", Tier.TICKET: "warning"}


def threshold_text(slo: SLO, window: BurnWindow) -> str:
    """``14.4 * 0.001``: the burn factor times the error budget, both exact."""
    return f"{exact_text(window.factor)} * {exact_text(slo.error_budget)}"


def readable(value: Fraction, digits: int = 4) -> str:
    """A number for prose: exact when short, else ``≈`` and a few significant digits."""
    if terminates(value) and len(exact_text(value)) <= 8:
        return exact_text(value)
    rounded = round_significant(value, digits)
    return "≈" + format(Decimal(rounded.numerator) / Decimal(rounded.denominator), "f").rstrip(
        "0"
    ).rstrip(".")


def alert_expr(slo: SLO, window: BurnWindow) -> str:
    selector = slo_selector(slo)
    threshold = threshold_text(slo, window)
    return (
        f"{error_ratio(window.long)}{selector} > ({threshold})\n"
        "and\n"
        f"{error_ratio(window.short)}{selector} > ({threshold})"
    )


def alert_labels(slo: SLO, window: BurnWindow) -> dict[str, str]:
    tier = slo.alerting.tier(window.tier)
    return {
        "severity": DEFAULT_SEVERITY[window.tier],
        **slo.alerting.labels,
        **tier.labels,
        "mapguard_tier": window.tier.value,
        "mapguard_window_pair": window.pair,
    }


def alert_annotations(slo: SLO, window: BurnWindow) -> dict[str, str]:
    budget = slo.error_budget
    percent_threshold = readable(window.factor * budget * 100)
    spent = (
        f", spending {readable(window.budget_share * 100)} % of the {slo.period} budget "
        f"in {window.long}" if window.budget_share is not None else ""
    )
    annotations = {
        "summary": (
            f"{slo.service} {slo.name}: error budget burning {readable(window.factor)}× "
            f"too fast ({window.tier.value}, {window.pair})"
        ),
        "description": (
            f"SLO {slo.objective} % over {slo.period} for {slo.service} {slo.name}: more than "
            f"{percent_threshold} % of events failed over both the last {window.long} and "
            f"{window.short} (burn rate above {readable(window.factor)}{spent})."
        ),
    }
    if slo.alerting.runbook_url:
        annotations["runbook_url"] = slo.alerting.runbook_url
    if slo.alerting.dashboard_url:
        annotations["dashboard_url"] = slo.alerting.dashboard_url
    tier = slo.alerting.tier(window.tier)
    return {**annotations, **slo.alerting.annotations, **tier.annotations}


def alert_rule(slo: SLO, window: BurnWindow) -> AlertingRule:
    return AlertingRule(
        slo.alerting.alert_name(window.tier),
        alert_expr(slo, window),
        alert_labels(slo, window),
        alert_annotations(slo, window),
        window.for_,
    )


def alert_rules(slo: SLO) -> RuleGroup:
    rules = tuple(
        alert_rule(slo, window)
        for window in slo.alerting.windows
        if slo.alerting.tier(window.tier).enabled
    )
    return RuleGroup(f"mapguard-slo-alerts-{slo.id}", rules, slo.intervals.alerts)
