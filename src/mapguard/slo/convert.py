"""Convert between spec formats: Sloth `prometheus/v1`, OpenSLO v1 and `mapguard/v1`.

Conversions go through the one model, so reading the output back generates the same rules.
What a target format cannot say is reported as a warning, never dropped silently: Sloth has no
per-SLO period, custom burn windows, latency SLIs (they become events queries) or map guards;
OpenSLO carries mapguard's extras in `mapguard.dev/` annotations (short window of each
multiwindow pair, the budget share a burn factor comes from, the alert name, URLs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from mapguard.slo.alerts import readable
from mapguard.slo.model import (
    ALL_STEPS,
    SLO,
    BurnWindow,
    EventsSLI,
    LatencySLI,
    MapGuard,
    RawSLI,
    SpecSet,
    TierAlert,
    workbook_windows,
)
from mapguard.slo.numbers import round_significant, terminates
from mapguard.slo.spec_mapguard import MAPGUARD_VERSION
from mapguard.slo.spec_openslo import (
    ALERT_NAME,
    BUDGET_PERCENT,
    DASHBOARD_URL,
    NAME,
    OPENSLO_VERSION,
    RUNBOOK_URL,
    SHORT_WINDOW,
    TIER,
)
from mapguard.slo.spec_sloth import DEFAULT_PERIOD, SLOTH_VERSION
from mapguard.slo.yamltext import dump_all

TARGETS = ("sloth", "openslo", "mapguard")


def _decimal(value: Fraction | Decimal) -> Decimal:
    """Exact when the decimal terminates; else 6 significant digits (OpenSLO thresholds are
    numbers: the exact factor travels in the `mapguard.dev/budget-percent` annotation)."""
    fraction = Fraction(value)
    if not terminates(fraction):
        fraction = round_significant(fraction, 6)
    return Decimal(fraction.numerator) / Decimal(fraction.denominator)


_OPS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def losses(slo: SLO, target: str) -> list[str]:
    """What of `slo` the target format cannot say (beyond each converter's own checks)."""
    where = f"{slo.source}: {slo.path}"
    found = []
    if slo.calendar_start is not None and target != "openslo":
        found.append(f"{where}: the calendar-aligned period has no {target} form; written as "
                     "a rolling period")
    if slo.alerting.no_data:
        found.append(f"{where}: the no-data alert (alertWhenNoData) is not converted")
    if target != "openslo" and any(w.op != ">" for w in slo.alerting.windows):
        found.append(f"{where}: burn alerts comparing with lt, lte or gte have no {target} "
                     "form; written as gt")
    if slo.steps != ALL_STEPS or not slo.optimized_period:
        found.append(f"{where}: the effect of Sloth's SLO plugins (left-out steps, "
                     "disableOptimized) is not converted")
    if slo.slo_id is not None and slo.slo_id != f"{slo.service}-{slo.name}":
        found.append(f"{where}: the SLO id {slo.slo_id!r} becomes "
                     f"{slo.service + '-' + slo.name!r}")
    return found


def _services(specs: SpecSet) -> dict[str, list[SLO]]:
    grouped: dict[str, list[SLO]] = {}
    for slo in specs.slos:
        grouped.setdefault(slo.service, []).append(slo)
    return grouped


def _tier(alert: TierAlert) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not alert.enabled:
        out["disable"] = True
    if alert.labels:
        out["labels"] = dict(alert.labels)
    if alert.annotations:
        out["annotations"] = dict(alert.annotations)
    return out


def _events(slo: SLO) -> dict[str, Any]:
    if isinstance(slo.sli, RawSLI):
        return {"raw": {"error_ratio_query": slo.sli.error_ratio_query}}
    return {"events": {"error_query": slo.sli.error_query, "total_query": slo.sli.total_query}}


def _alerting(slo: SLO, *, native: bool) -> dict[str, Any]:
    alerting = slo.alerting
    out: dict[str, Any] = {"name": alerting.name}
    if alerting.labels:
        out["labels"] = dict(alerting.labels)
    annotations = dict(alerting.annotations)
    if not native:  # Sloth: the URLs become the annotations mapguard would add anyway
        for key, url in (("runbook_url", alerting.runbook_url),
                         ("dashboard_url", alerting.dashboard_url)):
            if url:
                annotations[key] = url
    if annotations:
        out["annotations"] = annotations
    for key, tier in (("page_alert", alerting.page), ("ticket_alert", alerting.ticket)):
        if body := _tier(tier):
            out[key] = body
    if native:
        if alerting.runbook_url:
            out["runbook_url"] = alerting.runbook_url
        if alerting.dashboard_url:
            out["dashboard_url"] = alerting.dashboard_url
        if alerting.windows != workbook_windows(slo.period):
            out["windows"] = [_window(w) for w in alerting.windows]
    return out


def _window(window: BurnWindow) -> dict[str, Any]:
    out: dict[str, Any] = {"tier": window.tier.value, "long": str(window.long),
                           "short": str(window.short)}
    if window.budget_share is not None:
        out["budget_percent"] = _decimal(window.budget_share * 100)
    else:
        out["burn_rate"] = _decimal(window.factor)
    if window.for_ is not None:
        out["for"] = str(window.for_)
    return out


def _interval(slo: SLO) -> dict[str, str]:
    found = {"slierror": slo.intervals.sli, "metadata": slo.intervals.meta,
             "alert": slo.intervals.alerts}
    return {k: str(v) for k, v in found.items() if v is not None}


def _slo_common(slo: SLO) -> dict[str, Any]:
    out: dict[str, Any] = {"name": slo.name, "objective": slo.objective}
    if slo.description:
        out["description"] = slo.description
    if slo.labels:
        out["labels"] = dict(slo.labels)
    if slo.info_labels:
        out["infoLabels"] = dict(slo.info_labels)
    if interval := _interval(slo):
        out["interval"] = interval
    return out


def to_sloth(specs: SpecSet) -> tuple[list[dict[str, Any]], list[str]]:
    warnings = [f"{g.source}: {g.path}: map guards have no Sloth form; dropped"
                for g in specs.guards]
    documents = []
    for service, slos in _services(specs).items():
        entries = []
        for slo in slos:
            where = f"{slo.source}: {slo.path}"
            if slo.period != DEFAULT_PERIOD:
                warnings.append(f"{where}: Sloth has no per-SLO period; generate with "
                                f"`sloth generate --default-slo-period={slo.period}`")
            if slo.alerting.windows != workbook_windows(slo.period):
                warnings.append(f"{where}: custom burn windows have no Sloth form; Sloth "
                                "will use the SRE workbook's four")
            if isinstance(slo.sli, LatencySLI):
                warnings.append(f"{where}: the latency SLI is written as events queries")
            warnings += losses(slo, "sloth")
            entries.append({**_slo_common(slo), "sli": _events(slo),
                            "alerting": _alerting(slo, native=False)})
        documents.append({"version": SLOTH_VERSION, "service": service, "slos": entries})
    return documents, warnings


def _guard(guard: MapGuard) -> dict[str, Any]:
    out: dict[str, Any] = {"target": guard.target, "go_selector": guard.go_selector,
                           "alloc_increase_percent": guard.alloc_increase_percent,
                           "baseline": guard.baseline.value,
                           "min_alloc_bytes_per_second": guard.min_alloc_bytes_per_second,
                           "alloc_for": str(guard.alloc_for)}
    if guard.gc_pause_max_seconds is not None:
        out |= {"gc_pause_max_seconds": guard.gc_pause_max_seconds,
                "gc_pause_source": guard.gc_pause_source.value, "gc_for": str(guard.gc_for)}
    if guard.goroutine_growth_per_hour is not None:
        out |= {"goroutine_growth_per_hour": guard.goroutine_growth_per_hour,
                "goroutine_for": str(guard.goroutine_for)}
    for key, value in (("labels", guard.labels), ("annotations", guard.annotations)):
        if value:
            out[key] = dict(value)
    for key, url in (("runbook_url", guard.runbook_url), ("dashboard_url", guard.dashboard_url)):
        if url:
            out[key] = url
    return out


def to_mapguard(specs: SpecSet) -> tuple[list[dict[str, Any]], list[str]]:
    documents = []
    warnings: list[str] = []
    for service, slos in _services(specs).items():
        entries = []
        for slo in slos:
            warnings += losses(slo, "mapguard")
            sli: dict[str, Any]
            if isinstance(slo.sli, LatencySLI):
                sli = {"latency": {"histogram": slo.sli.histogram, "le": slo.sli.le}}
                if slo.sli.selector:
                    sli["latency"]["selector"] = slo.sli.selector
            else:
                sli = _events(slo)
            entries.append({**_slo_common(slo), "period": str(slo.period), "sli": sli,
                            "alerting": _alerting(slo, native=True)})
        documents.append({"version": MAPGUARD_VERSION, "service": service, "slos": entries})
    if specs.guards:
        guards = [_guard(g) for g in specs.guards]
        if documents:
            documents[0]["map_guards"] = guards
        else:
            documents.append({"version": MAPGUARD_VERSION, "service": "map-guards",
                              "map_guards": guards})
    return documents, warnings


def _policy(slo: SLO, name: str, window: BurnWindow) -> dict[str, Any]:
    tier = slo.alerting.tier(window.tier)
    annotations = {SHORT_WINDOW: str(window.short), TIER: window.tier.value}
    if window.budget_share is not None:
        annotations[BUDGET_PERCENT] = format(_decimal(window.budget_share * 100), "f")
    condition: dict[str, Any] = {
        "kind": "burnrate", "op": _OPS[window.op], "threshold": _decimal(window.factor),
        "lookbackWindow": str(window.long),
        "alertAfter": str(window.for_) if window.for_ is not None else "0m",
    }
    return {
        "apiVersion": OPENSLO_VERSION,
        "kind": "AlertPolicy",
        "metadata": {
            "name": f"{name}-{window.tier.value}-{window.long}",
            "labels": {**slo.alerting.labels, **tier.labels},
            "annotations": {**slo.alerting.annotations, **tier.annotations},
        },
        "spec": {
            "description": f"{window.tier.value} when {window.pair} burn faster than "
                           f"{readable(window.factor)}x the budget",
            "alertWhenBreaching": True,
            "alertWhenResolved": False,
            "alertWhenNoData": False,
            "conditions": [{
                "kind": "AlertCondition",
                "metadata": {"name": f"{name}-{window.tier.value}-{window.long}-burn",
                             "annotations": annotations},
                "spec": {"severity": window.tier.value, "condition": condition},
            }],
            "notificationTargets": [],
        },
    }


def _indicator(slo: SLO, name: str) -> dict[str, Any]:
    def metric(query: str) -> dict[str, Any]:
        return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}

    sli = slo.sli
    if isinstance(sli, RawSLI):
        ratio: dict[str, Any] = {"rawType": "failure", "raw": metric(sli.error_ratio_query)}
    else:
        assert isinstance(sli, EventsSLI | LatencySLI)
        ratio = {"counter": True, "bad": metric(sli.error_query), "total": metric(sli.total_query)}
    return {"metadata": {"name": f"{name}-sli"}, "spec": {"ratioMetric": ratio}}


def _time_window(slo: SLO) -> dict[str, Any]:
    if slo.calendar_start is None:
        return {"duration": str(slo.period), "isRolling": True}
    start = datetime.fromtimestamp(slo.calendar_start, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return {"duration": str(slo.period), "isRolling": False,
            "calendar": {"startTime": start, "timeZone": "UTC"}}


def to_openslo(specs: SpecSet) -> tuple[list[dict[str, Any]], list[str]]:
    warnings = [f"{g.source}: {g.path}: map guards have no OpenSLO form; dropped"
                for g in specs.guards]
    names = [slo.name for slo in specs.slos]
    documents: list[dict[str, Any]] = []
    for slo in specs.slos:
        name = slo.name if names.count(slo.name) == 1 else slo.id
        if slo.info_labels or _interval(slo):
            warnings.append(f"{slo.source}: {slo.path}: infoLabels and rule intervals have no "
                            "OpenSLO form; dropped")
        warnings += losses(slo, "openslo")
        annotations = {ALERT_NAME: slo.alerting.name}
        if slo.alerting.runbook_url:
            annotations[RUNBOOK_URL] = slo.alerting.runbook_url
        if slo.alerting.dashboard_url:
            annotations[DASHBOARD_URL] = slo.alerting.dashboard_url
        if name != slo.name:
            annotations[NAME] = slo.name
        windows = [w for w in slo.alerting.windows if slo.alerting.tier(w.tier).enabled]
        policies = [_policy(slo, name, w) for w in windows]
        spec: dict[str, Any] = {
            "service": slo.service,
            "indicator": _indicator(slo, name),
            "timeWindow": [_time_window(slo)],
            "budgetingMethod": "Occurrences",
            "objectives": [{"displayName": slo.name, "targetPercent": slo.objective}],
            "alertPolicies": [{"alertPolicyRef": p["metadata"]["name"]} for p in policies],
        }
        if slo.description:
            spec = {"description": slo.description, **spec}
        documents.append({
            "apiVersion": OPENSLO_VERSION,
            "kind": "SLO",
            "metadata": {"name": name, "labels": dict(slo.labels),
                         "annotations": annotations},
            "spec": spec,
        })
        documents += policies
        if not windows:
            warnings.append(f"{slo.source}: {slo.path}: no alerts enabled; OpenSLO readers "
                            "(mapguard included) will add the SRE workbook's")
    return documents, warnings


def convert(specs: SpecSet, target: str) -> tuple[str, list[str]]:
    """YAML text of `specs` in the `target` format, and what that format could not carry."""
    documents, warnings = {"sloth": to_sloth, "openslo": to_openslo,
                           "mapguard": to_mapguard}[target](specs)
    header = f"Converted by `mapguard slo convert --to {target}`."
    return dump_all(documents, header=header), warnings

