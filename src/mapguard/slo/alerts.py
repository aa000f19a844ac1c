"""Step 3: multiwindow, multi-burn-rate alerts (SRE workbook, "Alerting on SLOs").

A burn window fires while the error ratio over both its long and its short window is above
factor × error budget, written exactly (``14.4 * 0.001``). How the alerts are named and labelled
follows the SLO's convention (conventions.py):

- sloth: one alerting rule per tier, named `alerting.name`, that fires while any of the tier's
  windows burns (Sloth's ``(short and long) or (short and long)`` expression, with the same
  `max(...) without (sloth_window)`), labelled `sloth_severity` plus the spec's labels as given,
  annotated with Sloth's `title` and `summary` unless the spec sets its own;
- mapguard: one rule per window, `<name>Page` / `<name>Ticket`, with `mapguard_tier`,
  `mapguard_window_pair`, a default `severity` and a summary and description in prose.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from mapguard.slo.conventions import Convention
from mapguard.slo.model import SLO, BurnWindow, NoDataAlert, Tier
from mapguard.slo.numbers import exact_text, round_significant, terminates
from mapguard.slo.rules import AlertingRule, RuleGroup, error_ratio, slo_naming, slo_selector

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
        f"{error_ratio(window.long)}{selector} {window.op} ({threshold})\n"
        "and\n"
        f"{error_ratio(window.short)}{selector} {window.op} ({threshold})"
    )


def sloth_alert_expr(slo: SLO, windows: list[BurnWindow]) -> str:
    """Sloth's shape: each window pair as `max(short) and max(long)`, pairs joined by `or`."""
    selector = slo_selector(slo)
    label = slo_naming(slo).window_label

    def side(duration_name: str, window: BurnWindow) -> str:
        return (f"    max({duration_name}{selector} {window.op} ({threshold_text(slo, window)}))"
                f" without ({label})")

    pairs = [
        f"(\n{side(error_ratio(w.short), w)}\n    and\n{side(error_ratio(w.long), w)}\n)"
        for w in windows
    ]
    return "\nor\n".join(pairs)


def alert_labels(slo: SLO, window: BurnWindow) -> dict[str, str]:
    """The labels an alerting rule for `window` sets (the SLI series adds its own)."""
    tier = slo.alerting.tier(window.tier)
    if slo.convention is Convention.SLOTH:
        return {slo_naming(slo).tier_label: window.tier.value,
                **slo.alerting.labels, **tier.labels}
    return {
        "severity": DEFAULT_SEVERITY[window.tier],
        **slo.alerting.labels,
        **tier.labels,
        "mapguard_tier": window.tier.value,
        "mapguard_window_pair": window.pair,
    }


def _sloth_annotations(slo: SLO, tier: Tier) -> dict[str, str]:
    service, name = (f"{{{{$labels.{label}}}}}" for label in (
        slo_naming(slo).service_label, slo_naming(slo).slo_label))
    return {
        "title": f"({tier.value}) {service} {name} SLO error budget burn rate is too fast.",
        "summary": f"{service} {name} SLO error budget burn rate is over expected.",
    }


def alert_annotations(slo: SLO, window: BurnWindow) -> dict[str, str]:
    tier = slo.alerting.tier(window.tier)
    if slo.convention is Convention.SLOTH:
        return {**_sloth_annotations(slo, window.tier), **slo.alerting.annotations,
                **tier.annotations}
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
            f"SLO {slo.objective} % over {slo.period} for {slo.service} {slo.name}: "
            f"{_comparison(window)} {percent_threshold} % of events failed over both the last "
            f"{window.long} and {window.short} (burn rate {_comparison(window, 'rate')} "
            f"{readable(window.factor)}{spent})."
        ),
    }
    if slo.alerting.runbook_url:
        annotations["runbook_url"] = slo.alerting.runbook_url
    if slo.alerting.dashboard_url:
        annotations["dashboard_url"] = slo.alerting.dashboard_url
    return {**annotations, **slo.alerting.annotations, **tier.annotations}


def _comparison(window: BurnWindow, noun: str = "") -> str:
    words = {">": ("more than", "above"), ">=": ("at least", "at or above"),
             "<": ("less than", "below"), "<=": ("at most", "at or below")}[window.op]
    return words[1] if noun else words[0]


def alert_rules(slo: SLO) -> RuleGroup:
    windows = slo.alerting.enabled_windows
    rules: list[AlertingRule] = []
    if slo.convention is Convention.SLOTH:
        for tier in Tier:
            mine = [w for w in windows if w.tier is tier]
            # One rule per tier; windows that wait differently (`for`) need rules of their own.
            for for_ in dict.fromkeys(w.for_ for w in mine):
                chosen = [w for w in mine if w.for_ == for_]
                rules.append(AlertingRule(
                    slo.alert_name(tier), sloth_alert_expr(slo, chosen),
                    alert_labels(slo, chosen[0]), alert_annotations(slo, chosen[0]), for_,
                ))
    else:
        rules += [
            AlertingRule(slo.alert_name(w.tier), alert_expr(slo, w), alert_labels(slo, w),
                         alert_annotations(slo, w), w.for_)
            for w in windows
        ]
    rules += [no_data_rule(slo, alert) for alert in slo.alerting.no_data]
    return RuleGroup(slo_naming(slo).group_names(slo.id)[2], tuple(rules), slo.intervals.alerts)


def no_data_name(slo: SLO) -> str:
    return f"{slo.alerting.name}NoData"


def no_data_rule(slo: SLO, alert: NoDataAlert) -> AlertingRule:
    """Fire while the SLI has no value: its series is absent, or NaN (no events at all)."""
    ratio = f"{error_ratio(alert.window)}{slo_selector(slo)}"
    tier = slo.alerting.tier(alert.tier)
    labels = {slo_naming(slo).tier_label: alert.tier.value, **slo.alerting.labels, **tier.labels}
    if slo.convention is Convention.MAPGUARD:
        labels = {"severity": DEFAULT_SEVERITY[alert.tier], **labels}
    return AlertingRule(
        no_data_name(slo),
        f"absent({ratio})\nor\n{ratio} != {ratio}",
        labels,
        {"summary": f"{slo.service} {slo.name}: no SLI data over the last {alert.window}",
         **slo.alerting.annotations, **tier.annotations},
        alert.for_,
    )
