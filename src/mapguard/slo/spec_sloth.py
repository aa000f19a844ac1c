"""Sloth's `prometheus/v1` spec, read unchanged, into mapguard's model.

Sloth users switch without edits: the alert name comes from `alerting.name` (mapguard appends
`Page`/`Ticket`), `page_alert`/`ticket_alert` carry labels, annotations and `disable`, queries use
`{{.window}}`. The Kubernetes form (`kind: PrometheusServiceLevel`) is read too. Keys Sloth
would ignore are warnings here; Sloth's SLI plugins are Go code mapguard cannot run: an error.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from mapguard.errors import UsageError
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, Loc, extras, field_path, validate
from mapguard.slo.model import (
    SLI,
    SLO,
    Alerting,
    BurnWindow,
    EventsSLI,
    GroupIntervals,
    RawSLI,
    SpecSet,
    TierAlert,
    workbook_windows,
)
from mapguard.slo.spec_fields import (
    OBJECTIVE_EXPECTED,
    QUERY_EXPECTED,
    DurationField,
    Labels,
    Name,
    Objective,
    SpecModel,
    Text,
    WindowedQuery,
    duration_field,
    labels_field,
)

SLOTH_VERSION = "prometheus/v1"
DEFAULT_PERIOD = Duration.parse("30d")
LONGEST_ALERT_WINDOW = Duration.parse("3d")


class TierAlertSpec(SpecModel):
    disable: bool = Field(default=False, description="true or false")
    labels: Labels = labels_field()
    annotations: dict[str, Text] = Field(default_factory=dict, description="a map of text")


class AlertingSpec(SpecModel):
    name: Name = Field(description="the alert name, e.g. CheckoutAvailability")
    labels: Labels = labels_field()
    annotations: dict[str, Text] = Field(default_factory=dict, description="a map of text")
    page_alert: TierAlertSpec = TierAlertSpec()
    ticket_alert: TierAlertSpec = TierAlertSpec()


class EventsSpec(SpecModel):
    error_query: WindowedQuery = Field(description=QUERY_EXPECTED)
    total_query: WindowedQuery = Field(description=QUERY_EXPECTED)


class RawSpec(SpecModel):
    error_ratio_query: WindowedQuery = Field(description=QUERY_EXPECTED)


class PluginSpec(SpecModel):
    id: Text = Field(description="a Sloth SLI plugin id")
    options: dict[str, Text] = Field(default_factory=dict)


SLI_KINDS = ("events", "raw", "plugin")


class SLISpec(SpecModel):
    events: EventsSpec | None = None
    raw: RawSpec | None = None
    plugin: PluginSpec | None = Field(default=None, description="not supported: use events or raw")

    @model_validator(mode="after")
    def _exactly_one(self) -> SLISpec:
        given = [kind for kind in type(self).sli_kinds() if getattr(self, kind) is not None]
        if len(given) != 1:
            kinds = ", ".join(type(self).sli_kinds())
            raise ValueError(
                f"{'both ' + ' and '.join(given) if given else 'no SLI'} given; "
                f"expected exactly one of {kinds}"
            )
        return self

    @classmethod
    def sli_kinds(cls) -> tuple[str, ...]:
        return SLI_KINDS


class IntervalSpec(SpecModel):
    all: DurationField | None = duration_field()
    slierror: DurationField | None = duration_field()
    metadata: DurationField | None = duration_field()
    alert: DurationField | None = duration_field()


class SloSpec(SpecModel):
    name: Name = Field(description="the SLO name, e.g. requests-availability")
    objective: Objective = Field(description=OBJECTIVE_EXPECTED)
    description: Text = ""
    labels: Labels = labels_field()
    info_labels: Labels = Field(default_factory=dict, alias="infoLabels")
    sli: SLISpec = Field(description="an SLI with one of events, raw")
    alerting: AlertingSpec = Field(description="alerting with at least a name")
    interval: IntervalSpec | None = None


class SlothSpec(SpecModel):
    version: Literal["prometheus/v1"] = Field(description='"prometheus/v1"')
    service: Name = Field(description="the service name")
    labels: Labels = labels_field()
    slos: list[SloSpec] = Field(min_length=1, description="a list of at least one SLO")


def read_sloth(document: Document, *, default_period: Duration = DEFAULT_PERIOD) -> SpecSet:
    data, loc = _unwrap_kubernetes(document)
    spec = validate(SlothSpec, document, data, loc)
    warnings = tuple(
        f"{document.source}: {field_path((*document.prefix, *loc, *where))}: "
        f"unknown field {key!r} ignored"
        for where, key in extras(spec)
    )
    slos = tuple(
        slo_from_spec(
            spec.service, spec.labels, slo, document, (*loc, "slos", index),
            period=default_period, alert_name=slo.alerting.name,
        )
        for index, slo in enumerate(spec.slos)
    )
    return SpecSet(slos, (), warnings + period_warnings(slos), (SLOTH_VERSION,))


def _unwrap_kubernetes(document: Document) -> tuple[Any, Loc]:
    data = document.data
    if isinstance(data, dict) and data.get("kind") == "PrometheusServiceLevel":
        spec = data.get("spec")
        return ({"version": SLOTH_VERSION, **spec} if isinstance(spec, dict) else spec), ("spec",)
    return data, ()


def sli_from_spec(spec: SLISpec, document: Document, loc: Loc) -> SLI:
    if spec.events is not None:
        return EventsSLI(spec.events.error_query, spec.events.total_query)
    if spec.raw is not None:
        return RawSLI(spec.raw.error_ratio_query)
    raise document.error(
        (*loc, "plugin"), "Sloth SLI plugins are Go code that mapguard cannot run",
        expected="an events or raw SLI",
    )


def tier_from_spec(spec: TierAlertSpec) -> TierAlert:
    return TierAlert(not spec.disable, dict(spec.labels), dict(spec.annotations))


def slo_from_spec(
    service: str,
    service_labels: dict[str, str],
    spec: SloSpec,
    document: Document,
    loc: Loc,
    *,
    period: Duration,
    alert_name: str,
    windows: tuple[BurnWindow, ...] | None = None,
    sli: SLI | None = None,
    runbook_url: str | None = None,
    dashboard_url: str | None = None,
    period_loc: Loc | None = None,
) -> SLO:
    if period < LONGEST_ALERT_WINDOW:
        problem = f"{period} is shorter than the 3d alert window"
        if period_loc is None:
            raise UsageError(f"--default-period: {problem}; use at least 3d, e.g. 30d")
        raise document.error(
            period_loc, problem, expected="a period of at least 3d, e.g. 7d, 28d, 30d, 90d"
        )
    interval = spec.interval or IntervalSpec()
    alerting = Alerting(
        name=alert_name,
        windows=windows if windows is not None else workbook_windows(period),
        labels=dict(spec.alerting.labels),
        annotations=dict(spec.alerting.annotations),
        page=tier_from_spec(spec.alerting.page_alert),
        ticket=tier_from_spec(spec.alerting.ticket_alert),
        runbook_url=runbook_url,
        dashboard_url=dashboard_url,
    )
    return SLO(
        service=service,
        name=spec.name,
        objective=spec.objective,
        period=period,
        sli=sli if sli is not None else sli_from_spec(spec.sli, document, (*loc, "sli")),
        alerting=alerting,
        description=spec.description,
        labels={**service_labels, **spec.labels},
        info_labels=dict(spec.info_labels),
        intervals=GroupIntervals(
            interval.slierror or interval.all,
            interval.metadata or interval.all,
            interval.alert or interval.all,
        ),
        source=document.source,
        path=field_path((*document.prefix, *loc)),
    )


def period_warnings(slos: tuple[SLO, ...]) -> tuple[str, ...]:
    """Alerts whose threshold is at least 100 % errors can never fire: say so."""
    found = []
    for slo in slos:
        for window in slo.alerting.windows:
            threshold = window.factor * slo.error_budget
            if threshold >= 1 and slo.alerting.tier(window.tier).enabled:
                found.append(
                    f"{slo.source}: {slo.path}: the {window.tier} alert over {window.pair} "
                    f"needs an error ratio above {float(threshold):.4g} and can never fire "
                    "(the budget is too large for this burn rate: raise the objective, or "
                    "set custom windows in mapguard/v1)"
                )
    return tuple(found)


def camel_name(*parts: str) -> str:
    """`checkout`, `requests-availability` -> `CheckoutRequestsAvailability`."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Slo"
