"""Sloth's OpenSLO: `apiVersion: openslo/v1alpha`, `kind: SLO`, read as Sloth reads it.

Each objective is one SLO named `<metadata.name>-<index>` with the id
`<service>-<metadata.name>-<index>` (Sloth's names, so its dashboards and alerts keep working),
its SLI the ratio of `ratioMetrics.good` to `ratioMetrics.total` (Prometheus queries with
``{{.window}}``), its period `timeWindows[0].count` days (the default period without one), and no
alerts (Sloth generates none for OpenSLO). Output keeps Sloth's identity.

Sloth writes the error ratio as ``1 - good / total``, which is empty — 0 % errors to every alert
— when the good series is absent during a total outage; here it is ``total - (good or 0 *
total)`` over total, which reads 100 % errors then.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from mapguard.slo.conventions import Convention
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, extras, field_path, validate
from mapguard.slo.model import SLO, Alerting, EventsSLI, SpecSet, TierAlert
from mapguard.slo.spec_fields import Name, SpecModel, Text, WindowedQuery
from mapguard.slo.spec_sloth import DEFAULT_PERIOD, fitting_windows, period_warnings

OPENSLO_ALPHA = "openslo/v1alpha"
_QUERY = "a Prometheus query using {{.window}}"


class AlphaMetadata(SpecModel):
    name: Name = Field(description="the SLO name")
    displayName: Text | None = None


class AlphaQuery(SpecModel):
    source: Literal["prometheus", "sloth"] = Field(description="prometheus")
    queryType: Literal["promql"] = Field(description="promql")
    query: WindowedQuery = Field(description=_QUERY)


class RatioMetrics(SpecModel):
    good: AlphaQuery
    total: AlphaQuery


class AlphaObjective(SpecModel):
    ratioMetrics: RatioMetrics = Field(description="good and total queries")
    target: Decimal = Field(description="a ratio in (0, 1], e.g. 0.999")
    displayName: Text | None = None
    value: Decimal | None = None


class AlphaTimeWindow(SpecModel):
    count: int = Field(gt=0, description="a number of days, e.g. 30")
    unit: Text = Field(description="Day")
    isRolling: bool | None = None


class AlphaSpec(SpecModel):
    service: Name = Field(description="the service name")
    description: Text = ""
    budgetingMethod: Text = "Occurrences"
    objectives: list[AlphaObjective] = Field(min_length=1, description="at least one objective")
    timeWindows: list[AlphaTimeWindow] = Field(default_factory=list, max_length=1)


class AlphaSLO(SpecModel):
    apiVersion: Literal["openslo/v1alpha"] = Field(description='"openslo/v1alpha"')
    kind: Literal["SLO"] = Field(description="SLO")
    metadata: AlphaMetadata
    spec: AlphaSpec


def read_openslo_alpha(document: Document, *, default_period: Duration = DEFAULT_PERIOD
                       ) -> SpecSet:
    doc = validate(AlphaSLO, document)
    spec = doc.spec
    warnings = tuple(f"{document.where(where)}: unknown field {key!r} ignored"
                     for where, key in extras(doc))
    period = default_period
    if spec.timeWindows:
        window = spec.timeWindows[0]
        if window.unit.lower() != "day":
            raise document.error(("spec", "timeWindows", 0, "unit"),
                                 f"{window.unit!r} is not read", expected="Day (as Sloth)")
        period = Duration(window.count * 86400)
    slos = []
    for index, objective in enumerate(spec.objectives):
        loc = ("spec", "objectives", index)
        percent = (objective.target * 100).normalize()
        if not 0 < percent <= 100:
            raise document.error((*loc, "target"), f"{objective.target} is outside (0, 1]",
                                 expected="a ratio such as 0.999")
        good = objective.ratioMetrics.good.query
        total = objective.ratioMetrics.total.query
        slos.append(SLO(
            service=spec.service,
            name=f"{doc.metadata.name}-{index}",
            objective=percent,
            period=period,
            sli=EventsSLI(f"({total})\n-\n(({good}) or 0 * ({total}))", total),
            alerting=Alerting(name="", windows=fitting_windows(period),
                              page=TierAlert(enabled=False), ticket=TierAlert(enabled=False)),
            description=spec.description,
            source=document.source,
            path=field_path((*document.prefix, *loc)),
            convention=Convention.SLOTH,
            spec_version=OPENSLO_ALPHA,
            slo_id=f"{spec.service}-{doc.metadata.name}-{index}",
        ))
    found = tuple(slos)
    return SpecSet(found, (), (*warnings, *period_warnings(found)), (OPENSLO_ALPHA,))
