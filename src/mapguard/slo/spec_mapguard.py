"""mapguard's own `mapguard/v1` spec: Sloth's `prometheus/v1` plus what Sloth cannot say.

Added on top of Sloth: latency SLIs read from a histogram (`sli.latency` with an `le` bucket),
an SLO period of any length (`period`, per spec or per SLO), custom burn windows, runbook and
dashboard URLs, an optional `alerting.name`, and `map_guards`. Unknown keys are errors here.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, Loc, extras, validate
from mapguard.slo.model import (
    SLI,
    SLO,
    AllocBaseline,
    BurnWindow,
    LatencySLI,
    MapGuard,
    PauseSource,
    SpecSet,
    Tier,
    burn_factor,
)
from mapguard.slo.spec_fields import (
    LABELS_EXPECTED,
    OBJECTIVE_EXPECTED,
    DurationField,
    Labels,
    Matchers,
    MetricName,
    Name,
    NonNegative,
    Objective,
    Positive,
    SpecModel,
    Text,
    duration_field,
)
from mapguard.slo.spec_sloth import (
    DEFAULT_PERIOD,
    AlertingSpec,
    SLISpec,
    SloSpec,
    SlothSpec,
    camel_name,
    period_warnings,
    sli_from_spec,
    slo_from_spec,
)

MAPGUARD_VERSION = "mapguard/v1"


class BurnWindowSpec(SpecModel):
    tier: Tier = Field(description="page or ticket")
    long: DurationField = duration_field()
    short: DurationField = duration_field()
    budget_percent: Positive | None = Field(
        default=None, description="the share of the period's budget spent over `long`, e.g. 2"
    )
    burn_rate: Positive | None = Field(default=None, description="a burn-rate factor, e.g. 14.4")
    for_: DurationField | None = duration_field(alias="for")

    @model_validator(mode="after")
    def _consistent(self) -> BurnWindowSpec:
        if (self.budget_percent is None) == (self.burn_rate is None):
            raise ValueError("expected exactly one of budget_percent, burn_rate")
        if self.short >= self.long:
            raise ValueError(f"short window {self.short} is not shorter than long {self.long}")
        return self

    def window(self, period: Duration) -> BurnWindow:
        if self.budget_percent is not None:
            share = Fraction(self.budget_percent) / 100
            return BurnWindow(
                self.tier, self.long, self.short, burn_factor(share, period, self.long),
                share, self.for_,
            )
        assert self.burn_rate is not None
        return BurnWindow(
            self.tier, self.long, self.short, Fraction(self.burn_rate), None, self.for_
        )


class MapguardAlertingSpec(AlertingSpec):
    name: Name | None = Field(
        default=None, description="the alert name (default: from service and SLO)"
    )
    runbook_url: Text | None = None
    dashboard_url: Text | None = None
    windows: list[BurnWindowSpec] | None = Field(
        default=None, description="burn windows (default: the SRE workbook's four)"
    )


def _bucket(text: str) -> str:
    try:
        bound = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 < bound < float("inf"):
        raise ValueError(f"{text!r} is not a positive, finite bucket boundary")
    return text


Bucket = Annotated[Text, AfterValidator(_bucket)]


class LatencySpec(SpecModel):
    histogram: MetricName = Field(
        description="a histogram's base name, e.g. http_request_duration_seconds"
    )
    le: Bucket = Field(
        description='a positive, finite bucket boundary as its `le` label reads, e.g. "0.25"'
    )
    selector: Matchers = Field(default="", description='label matchers, e.g. job="api"')


class MapguardSLISpec(SLISpec):
    latency: LatencySpec | None = None

    @classmethod
    def sli_kinds(cls) -> tuple[str, ...]:
        return ("events", "raw", "latency", "plugin")


class MapguardSloSpec(SloSpec):
    objective: Objective = Field(description=OBJECTIVE_EXPECTED)
    period: DurationField | None = duration_field()
    sli: MapguardSLISpec = Field(description="an SLI with one of events, raw, latency")
    alerting: MapguardAlertingSpec = MapguardAlertingSpec()


class MapGuardSpec(SpecModel):
    target: Name = Field(description="the `target` label of mapguard_* metrics")
    go_selector: Matchers | None = Field(
        default=None, description='matchers for the target\'s Go metrics, e.g. job="checkout"'
    )
    alloc_increase_percent: Positive = Field(
        default=Decimal(300), description="a percentage, e.g. 300"
    )
    baseline: AllocBaseline = Field(
        AllocBaseline.AUTO, description="auto, same_hour_yesterday or last_hour"
    )
    min_alloc_bytes_per_second: NonNegative = Field(
        default=Decimal(1048576),
        description="bytes per second below which no spike is reported",
    )
    alloc_for: DurationField = duration_field(Duration.parse("10m"))
    alloc_window: DurationField = duration_field(Duration.parse("5m"))
    baseline_window: DurationField = duration_field(Duration.parse("1h"))
    baseline_offset: DurationField = duration_field(Duration.parse("15m"))
    gc_pause_max_seconds: Positive | None = Field(default=None, description="seconds, e.g. 0.05")
    gc_pause_source: PauseSource = Field(
        default=PauseSource.SUMMARY, description="summary or histogram"
    )
    gc_for: DurationField = duration_field(Duration.parse("15m"))
    goroutine_growth_per_hour: Positive | None = Field(
        default=None, description="goroutines per hour, e.g. 500"
    )
    goroutine_for: DurationField = duration_field(Duration.parse("3h"))
    labels: Labels = Field(default_factory=dict, description=LABELS_EXPECTED)
    annotations: dict[str, Text] = Field(default_factory=dict)
    runbook_url: Text | None = None
    dashboard_url: Text | None = None


class MapguardSpec(SlothSpec):
    version: Literal["mapguard/v1"] = Field(description='"mapguard/v1"')  # type: ignore[assignment]
    period: DurationField = duration_field(DEFAULT_PERIOD)
    slos: list[MapguardSloSpec] = Field(default_factory=list)  # type: ignore[assignment]
    map_guards: list[MapGuardSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> MapguardSpec:
        if not self.slos and not self.map_guards:
            raise ValueError("no slos and no map_guards; expected at least one of them")
        return self


def read_mapguard(document: Document) -> SpecSet:
    spec = validate(MapguardSpec, document)
    for where, key in extras(spec):
        raise document.error(where, f"unknown field {key!r}")
    plugins = [(("slo_plugins",), spec.slo_plugins)] + [
        (("slos", i, "plugins"), slo.plugins) for i, slo in enumerate(spec.slos)
    ]
    for where, chain in plugins:
        if chain is not None:
            raise document.error(where, "Sloth SLO plugins are not read in mapguard/v1",
                                 expected="the spec without plugins (or a Sloth prometheus/v1 "
                                 "spec, which reads the built-in ones)")
    slos = tuple(
        _slo(spec, slo, document, ("slos", index)) for index, slo in enumerate(spec.slos)
    )
    guards = tuple(
        _guard(guard, document, ("map_guards", index))
        for index, guard in enumerate(spec.map_guards)
    )
    return SpecSet(slos, guards, period_warnings(slos), (MAPGUARD_VERSION,))


def _slo(spec: MapguardSpec, slo: MapguardSloSpec, document: Document, loc: Loc) -> SLO:
    period = slo.period or spec.period
    alerting = slo.alerting
    windows = (
        tuple(window.window(period) for window in alerting.windows)
        if alerting.windows is not None else None
    )
    sli: SLI
    if slo.sli.latency is not None:
        latency = slo.sli.latency
        sli = LatencySLI(latency.histogram, latency.le, latency.selector)
    else:
        sli = sli_from_spec(slo.sli, document, (*loc, "sli"))
    return slo_from_spec(
        spec.service, spec.labels, slo, document, loc,
        period=period,
        alert_name=alerting.name or camel_name(spec.service, slo.name),
        windows=windows,
        sli=sli,
        runbook_url=alerting.runbook_url,
        dashboard_url=alerting.dashboard_url,
        period_loc=(*loc, "period") if slo.period else ("period",),
    )


def _guard(spec: MapGuardSpec, document: Document, loc: Loc) -> MapGuard:
    return MapGuard(
        target=spec.target,
        go_selector=spec.go_selector if spec.go_selector is not None else f'job="{spec.target}"',
        alloc_increase_percent=spec.alloc_increase_percent,
        baseline=spec.baseline,
        min_alloc_bytes_per_second=spec.min_alloc_bytes_per_second,
        alloc_for=spec.alloc_for,
        alloc_window=spec.alloc_window,
        baseline_window=spec.baseline_window,
        baseline_offset=spec.baseline_offset,
        gc_pause_max_seconds=spec.gc_pause_max_seconds,
        gc_pause_source=spec.gc_pause_source,
        gc_for=spec.gc_for,
        goroutine_growth_per_hour=spec.goroutine_growth_per_hour,
        goroutine_for=spec.goroutine_for,
        labels=dict(spec.labels),
        annotations=dict(spec.annotations),
        runbook_url=spec.runbook_url,
        dashboard_url=spec.dashboard_url,
        source=document.source,
        path=".".join(str(p) for p in loc),
    )
