"""OpenSLO v1 (`apiVersion: openslo/v1`): SLO, SLI, AlertPolicy and AlertCondition documents.

Mapping onto mapguard's model:

- an SLO with several objectives becomes one mapguard SLO per objective;
- `ratioMetric` good/total, bad/total or raw (Prometheus queries; `{{.window}}` as in Sloth, or a
  bare counter selector with `counter: true`, which is read as ``sum(rate(SEL[{{.window}}]))``);
- each burn-rate AlertCondition is one multiwindow alert: `lookbackWindow` is the long window,
  the short one comes from the annotation ``mapguard.dev/short-window`` (default: long ÷ 12, as
  in the SRE workbook), `threshold` is the burn factor (exact when the annotation
  ``mapguard.dev/budget-percent`` gives the budget share it was derived from), `alertAfter` is the
  rule's `for`, and `severity` page/critical makes it a page (else a ticket);
- an SLO without alert policies gets the SRE workbook's four alerts.

Not supported (an error, never a silent approximation): thresholdMetric SLIs, Timeslices
budgeting, calendar-aligned windows, non-Prometheus metric sources.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field, model_validator

from mapguard.errors import InputError
from mapguard.slo.durations import Duration
from mapguard.slo.loading import Document, Loc, extras, field_path, validate
from mapguard.slo.model import (
    SLI,
    SLO,
    WINDOW_TEMPLATE,
    Alerting,
    BurnWindow,
    EventsSLI,
    RawSLI,
    SpecSet,
    Tier,
    TierAlert,
    burn_factor,
    workbook_windows,
)
from mapguard.slo.promql import PromQLSyntaxError, Unsupported, VectorSel, parse
from mapguard.slo.spec_fields import (
    LABEL_NAME,
    DurationField,
    DurationOrZero,
    Name,
    Positive,
    SpecModel,
    Text,
    duration_field,
)
from mapguard.slo.spec_sloth import (
    DEFAULT_PERIOD,
    LONGEST_ALERT_WINDOW,
    camel_name,
    period_warnings,
)

OPENSLO_VERSION = "openslo/v1"
ANNOTATION_PREFIX = "mapguard.dev/"
SHORT_WINDOW = ANNOTATION_PREFIX + "short-window"
BUDGET_PERCENT = ANNOTATION_PREFIX + "budget-percent"
TIER = ANNOTATION_PREFIX + "tier"
ALERT_NAME = ANNOTATION_PREFIX + "alert-name"
RUNBOOK_URL = ANNOTATION_PREFIX + "runbook-url"
DASHBOARD_URL = ANNOTATION_PREFIX + "dashboard-url"
NAME = ANNOTATION_PREFIX + "name"  # the SLO's name when metadata.name had to be made unique
_RESERVED_ANNOTATION_PREFIXES = ("openslo.com/", ANNOTATION_PREFIX)
_WINDOW_TEMPLATE_HINT = (
    "a Prometheus query using {{.window}}, or a counter selector with counter: true"
)


class Metadata(SpecModel):
    name: Name = Field(description="an object name")
    displayName: Text | None = None
    labels: dict[str, Text | list[Text]] = Field(default_factory=dict)
    annotations: dict[str, Text] = Field(default_factory=dict)


class MetricSource(SpecModel):
    metricSourceRef: Text | None = None
    type: Text | None = None
    spec: dict[str, Any] = Field(default_factory=dict)


class Metric(SpecModel):
    metricSource: MetricSource


class RatioMetric(SpecModel):
    counter: bool = False
    good: Metric | None = None
    bad: Metric | None = None
    total: Metric | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: Metric | None = None


class SLISpec(SpecModel):
    description: Text = ""
    thresholdMetric: dict[str, Any] | None = None
    ratioMetric: RatioMetric | None = None


class InlineIndicator(SpecModel):
    metadata: Metadata | None = None
    spec: SLISpec


class TimeWindow(SpecModel):
    duration: DurationField = duration_field()
    isRolling: bool | None = None
    calendar: dict[str, Any] | None = None


class Objective(SpecModel):
    displayName: Text | None = None
    target: Decimal | None = Field(default=None, description="a ratio in (0, 1), e.g. 0.999")
    targetPercent: Decimal | None = Field(
        default=None, description="a percentage in (0, 100), e.g. 99.9"
    )

    @model_validator(mode="after")
    def _one_target(self) -> Objective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("expected exactly one of target, targetPercent")
        return self

    @property
    def percent(self) -> Decimal:
        if self.targetPercent is not None:
            return self.targetPercent
        return 100 * (self.target or Decimal(0))


class Condition(SpecModel):
    kind: Literal["burnrate"] = Field(default="burnrate", description="burnrate")
    op: Literal["gt", "gte", "lt", "lte"] | None = None
    threshold: Positive = Field(description="a burn-rate factor, e.g. 14.4")
    lookbackWindow: DurationField = duration_field()
    alertAfter: DurationOrZero | None = duration_field()


class AlertConditionSpec(SpecModel):
    description: Text = ""
    severity: Text = Field(description="a severity such as page or ticket")
    condition: Condition


class ConditionEntry(SpecModel):
    conditionRef: Text | None = None
    kind: Literal["AlertCondition"] | None = None
    metadata: Metadata | None = None
    spec: AlertConditionSpec | None = None


class AlertPolicySpec(SpecModel):
    description: Text = ""
    alertWhenNoData: bool = False
    alertWhenResolved: bool = False
    alertWhenBreaching: bool = True
    conditions: list[ConditionEntry] = Field(min_length=1)
    notificationTargets: list[Any] = Field(default_factory=list)


class PolicyEntry(SpecModel):
    alertPolicyRef: Text | None = None
    kind: Literal["AlertPolicy"] | None = None
    metadata: Metadata | None = None
    spec: AlertPolicySpec | None = None


class SLOSpec(SpecModel):
    description: Text = ""
    service: Name = Field(description="the service name")
    indicator: InlineIndicator | None = None
    indicatorRef: Text | None = None
    budgetingMethod: Text = Field(description="Occurrences")
    timeWindow: list[TimeWindow] = Field(default_factory=list, max_length=1)
    objectives: list[Objective] = Field(min_length=1)
    alertPolicies: list[PolicyEntry | Text] = Field(default_factory=list)


class Envelope(SpecModel):
    apiVersion: Literal["openslo/v1"] = Field(description='"openslo/v1"')
    kind: Text
    metadata: Metadata


class SLODoc(Envelope):
    spec: SLOSpec


class SLIDoc(Envelope):
    spec: SLISpec


class AlertPolicyDoc(Envelope):
    spec: AlertPolicySpec


class AlertConditionDoc(Envelope):
    spec: AlertConditionSpec


_KINDS: dict[str, type[Envelope]] = {
    "SLO": SLODoc, "SLI": SLIDoc, "AlertPolicy": AlertPolicyDoc,
    "AlertCondition": AlertConditionDoc,
}
_IGNORED_KINDS = {"Service", "DataSource", "AlertNotificationTarget"}


def _objects(documents: list[Document]) -> list[tuple[Document, Loc, Any]]:
    found = []
    for document in documents:
        items = document.data if isinstance(document.data, list) else [document.data]
        for index, item in enumerate(items):
            loc: Loc = (index,) if isinstance(document.data, list) else ()
            found.append((document, loc, item))
    return found


def read_openslo(
    documents: list[Document], *, default_period: Duration = DEFAULT_PERIOD
) -> SpecSet:
    """Read every OpenSLO object of one file; references resolve within that file."""
    parsed: dict[str, list[tuple[Document, Loc, Any]]] = {kind: [] for kind in _KINDS}
    warnings: list[str] = []
    for document, loc, item in _objects(documents):
        kind = item.get("kind") if isinstance(item, dict) else None
        if kind in _IGNORED_KINDS:
            continue
        if kind not in _KINDS:
            raise document.error(
                (*loc, "kind"), f"kind {kind!r} is not read",
                expected="SLO, SLI, AlertPolicy, AlertCondition (Service, DataSource, "
                "AlertNotificationTarget are ignored)",
            )
        model = validate(_KINDS[kind], document, item, loc)
        warnings += [
            f"{document.source}: {field_path((*document.prefix, *loc, *where))}: "
            f"unknown field {key!r} ignored"
            for where, key in extras(model)
        ]
        parsed[kind].append((document, loc, model))
    reader = _Reader(parsed, default_period)
    slos = tuple(slo for entry in parsed["SLO"] for slo in reader.slos(*entry))
    return SpecSet(slos, (), (*warnings, *reader.warnings, *period_warnings(slos)),
                   (OPENSLO_VERSION,))


class _Reader:
    def __init__(self, parsed: dict[str, list[tuple[Document, Loc, Any]]],
                 default_period: Duration) -> None:
        self.by_name = {
            kind: {model.metadata.name: (doc, loc, model) for doc, loc, model in entries}
            for kind, entries in parsed.items()
        }
        self.default_period = default_period
        self.warnings: list[str] = []

    def slos(self, document: Document, loc: Loc, doc: SLODoc) -> list[SLO]:
        spec = doc.spec
        if spec.budgetingMethod != "Occurrences":
            raise document.error(
                (*loc, "spec", "budgetingMethod"), f"{spec.budgetingMethod!r} is not supported",
                expected="Occurrences (Prometheus burn-rate alerts count events)",
            )
        period = self._period(document, loc, spec)
        sli = self._sli(document, loc, spec)
        windows, tiers = self._alerts(document, loc, spec, period)
        labels = self._labels(document, (*loc, "metadata", "labels"), doc.metadata.labels)
        annotations = doc.metadata.annotations
        alerting = Alerting(
            name=annotations.get(ALERT_NAME)
            or camel_name(spec.service, annotations.get(NAME, doc.metadata.name)),
            windows=windows,
            page=tiers[Tier.PAGE],
            ticket=tiers[Tier.TICKET],
            runbook_url=annotations.get(RUNBOOK_URL),
            dashboard_url=annotations.get(DASHBOARD_URL),
        )
        many = len(spec.objectives) > 1
        name = annotations.get(NAME, doc.metadata.name)
        return [
            SLO(
                service=spec.service,
                name=_objective_name(name, objective, index) if many else name,
                objective=self._objective(document, (*loc, "spec", "objectives", index), objective),
                period=period,
                sli=sli,
                alerting=alerting,
                description=spec.description,
                labels=labels,
                source=document.source,
                path=field_path((*document.prefix, *loc, "spec", "objectives", index)),
            )
            for index, objective in enumerate(spec.objectives)
        ]

    def _objective(self, document: Document, loc: Loc, objective: Objective) -> Decimal:
        percent = objective.percent.normalize()
        if not 0 < percent < 100:
            field = "target" if objective.target is not None else "targetPercent"
            raise document.error(
                (*loc, field), f"{percent} % is outside (0, 100)",
                expected="target in (0, 1) or targetPercent in (0, 100)",
            )
        return percent

    def _period(self, document: Document, loc: Loc, spec: SLOSpec) -> Duration:
        if not spec.timeWindow:
            return self.default_period
        window = spec.timeWindow[0]
        where = (*loc, "spec", "timeWindow", 0)
        if window.calendar is not None or window.isRolling is False:
            raise document.error(
                where, "calendar-aligned windows are not supported",
                expected="a rolling window (isRolling: true)",
            )
        if window.duration < LONGEST_ALERT_WINDOW:
            raise document.error(
                (*where, "duration"), f"{window.duration} is shorter than the 3d alert window",
                expected="a period of at least 3d, e.g. 7d, 28d, 30d, 90d",
            )
        return window.duration

    def _sli(self, document: Document, loc: Loc, spec: SLOSpec) -> SLI:
        if spec.indicator is not None:
            return _sli_from(document, (*loc, "spec", "indicator", "spec"), spec.indicator.spec)
        if spec.indicatorRef is None:
            raise document.error(
                (*loc, "spec"), "no indicator", expected="indicator or indicatorRef"
            )
        found = self.by_name["SLI"].get(spec.indicatorRef)
        if found is None:
            raise document.error(
                (*loc, "spec", "indicatorRef"), f"no SLI named {spec.indicatorRef!r} in this file",
                expected="the metadata.name of an SLI document",
            )
        sli_document, sli_loc, sli = found
        return _sli_from(sli_document, (*sli_loc, "spec"), sli.spec)

    def _alerts(
        self, document: Document, loc: Loc, spec: SLOSpec, period: Duration
    ) -> tuple[tuple[BurnWindow, ...], dict[Tier, TierAlert]]:
        tiers: dict[Tier, TierAlert] = {Tier.PAGE: TierAlert(), Tier.TICKET: TierAlert()}
        if not spec.alertPolicies:
            return workbook_windows(period), tiers
        windows: list[BurnWindow] = []
        for index, entry in enumerate(spec.alertPolicies):
            where = (*loc, "spec", "alertPolicies", index)
            policy_doc, policy_loc, metadata, policy = self._policy(document, where, entry)
            if not policy.alertWhenBreaching:
                self.warnings.append(
                    f"{policy_doc.source}: {field_path((*policy_doc.prefix, *policy_loc))}: "
                    "alertWhenBreaching is false: no alert generated"
                )
                continue
            for c_index, condition_entry in enumerate(policy.conditions):
                c_doc, c_loc, c_meta, condition = self._condition(
                    policy_doc, (*policy_loc, "spec", "conditions", c_index), condition_entry
                )
                window = _window(c_doc, c_loc, c_meta, condition, period)
                windows.append(window)
                previous = tiers[window.tier]
                tiers[window.tier] = TierAlert(
                    True,
                    {**previous.labels, **self._labels(
                        policy_doc, (*policy_loc, "metadata", "labels"), metadata.labels)},
                    {**previous.annotations, **{
                        k: v for k, v in metadata.annotations.items()
                        if not k.startswith(_RESERVED_ANNOTATION_PREFIXES)
                    }},
                )
        for tier in Tier:
            if not any(w.tier is tier for w in windows):
                tiers[tier] = TierAlert(enabled=False)
        return tuple(windows), tiers

    def _policy(
        self, document: Document, loc: Loc, entry: PolicyEntry | str
    ) -> tuple[Document, Loc, Metadata, AlertPolicySpec]:
        reference = entry if isinstance(entry, str) else entry.alertPolicyRef
        if reference is None:
            assert not isinstance(entry, str)
            if entry.spec is None or entry.metadata is None:
                raise document.error(loc, "neither alertPolicyRef nor an inline AlertPolicy",
                                     expected="alertPolicyRef or kind/metadata/spec")
            return document, loc, entry.metadata, entry.spec
        found = self.by_name["AlertPolicy"].get(reference)
        if found is None:
            raise document.error(loc, f"no AlertPolicy named {reference!r} in this file",
                                 expected="the metadata.name of an AlertPolicy document")
        policy_document, policy_loc, policy = found
        return policy_document, policy_loc, policy.metadata, policy.spec

    def _condition(
        self, document: Document, loc: Loc, entry: ConditionEntry
    ) -> tuple[Document, Loc, Metadata, AlertConditionSpec]:
        if entry.conditionRef is None:
            if entry.spec is None or entry.metadata is None:
                raise document.error(loc, "neither conditionRef nor an inline AlertCondition",
                                     expected="conditionRef or kind/metadata/spec")
            return document, loc, entry.metadata, entry.spec
        found = self.by_name["AlertCondition"].get(entry.conditionRef)
        if found is None:
            raise document.error(
                (*loc, "conditionRef"), f"no AlertCondition named {entry.conditionRef!r}",
                expected="the metadata.name of an AlertCondition document in this file",
            )
        c_document, c_loc, condition = found
        return c_document, c_loc, condition.metadata, condition.spec

    def _labels(self, document: Document, loc: Loc,
                labels: dict[str, str | list[str]]) -> dict[str, str]:
        out = {}
        for key, value in labels.items():
            if not LABEL_NAME.fullmatch(key) or key.startswith(("__", "mapguard_")):
                raise document.error((*loc, key), f"{key!r} cannot be a Prometheus label",
                                     expected="label names matching [a-zA-Z_][a-zA-Z0-9_]*")
            out[key] = value if isinstance(value, str) else ",".join(value)
        return out


def _objective_name(name: str, objective: Objective, index: int) -> str:
    suffix = re.sub(r"[^a-z0-9]+", "-", (objective.displayName or "").lower()).strip("-")
    return f"{name}-{suffix or index}"


def _window(document: Document, loc: Loc, metadata: Metadata, spec: AlertConditionSpec,
            period: Duration) -> BurnWindow:
    condition = spec.condition
    if condition.op in {"lt", "lte"}:
        raise document.error((*loc, "spec", "condition", "op"),
                             f"{condition.op!r} would alert on a low burn rate",
                             expected="gt or gte")
    long = condition.lookbackWindow
    annotations = metadata.annotations
    try:
        short = Duration.parse(annotations[SHORT_WINDOW]) if SHORT_WINDOW in annotations \
            else Duration(max(60, long.seconds // 12 // 60 * 60))
    except ValueError as exc:
        raise document.error((*loc, "metadata", "annotations", SHORT_WINDOW), str(exc)) from None
    if short >= long:
        raise document.error((*loc, "metadata", "annotations", SHORT_WINDOW),
                             f"{short} is not shorter than lookbackWindow {long}")
    tier_text = annotations.get(TIER, spec.severity).lower()
    tier = Tier.PAGE if tier_text in {"page", "critical"} else Tier.TICKET
    share: Fraction | None = None
    if BUDGET_PERCENT in annotations:
        try:
            share = Fraction(Decimal(annotations[BUDGET_PERCENT].rstrip("%"))) / 100
        except ArithmeticError:
            raise document.error((*loc, "metadata", "annotations", BUDGET_PERCENT),
                                 "not a percentage", expected="a number such as 2") from None
    factor = (
        burn_factor(share, period, long) if share is not None
        else Fraction(condition.threshold)
    )
    for_ = condition.alertAfter if condition.alertAfter and condition.alertAfter.seconds else None
    return BurnWindow(tier, long, short, factor, share, for_)


def _sli_from(document: Document, loc: Loc, spec: SLISpec) -> SLI:
    if spec.thresholdMetric is not None or spec.ratioMetric is None:
        raise document.error((*loc, "thresholdMetric"), "threshold SLIs are not supported",
                             expected="a ratioMetric")
    ratio = spec.ratioMetric
    where = (*loc, "ratioMetric")
    if ratio.raw is not None:
        query = _query(document, (*where, "raw"), ratio.raw, counter=False)
        return RawSLI(query if ratio.rawType != "success" else f"1 - ({query})")
    if ratio.total is None or (ratio.good is None) == (ratio.bad is None):
        raise document.error(where, "incomplete ratio",
                             expected="total with exactly one of good, bad; or raw with rawType")
    total = _query(document, (*where, "total"), ratio.total, counter=ratio.counter)
    if ratio.bad is not None:
        return EventsSLI(_query(document, (*where, "bad"), ratio.bad, counter=ratio.counter), total)
    good = _query(document, (*where, "good"), ratio.good, counter=ratio.counter)  # type: ignore[arg-type]
    return EventsSLI(f"({total}) - ({good})", total)


def _query(document: Document, loc: Loc, metric: Metric, *, counter: bool) -> str:
    source = metric.metricSource
    if source.type is not None and source.type.lower() != "prometheus":
        raise document.error((*loc, "metricSource", "type"), f"{source.type!r} is not read",
                             expected="Prometheus")
    query = source.spec.get("query") or source.spec.get("promql")
    where = (*loc, "metricSource", "spec", "query")
    if not isinstance(query, str) or not query.strip():
        raise document.error(where, "missing", expected=_WINDOW_TEMPLATE_HINT)
    query = query.strip()
    try:
        node = parse(query)
    except PromQLSyntaxError as exc:
        raise document.error(where, f"not PromQL: {exc}") from None
    except Unsupported:
        node = None
    if WINDOW_TEMPLATE.search(query):
        return query
    if counter and isinstance(node, VectorSel) and node.range is None:
        return f"sum(rate({query}[{{{{.window}}}}]))"
    raise InputError(
        f"{document.source}:{document.line_of(where) or 0}",
        "the query has no {{.window}} and is not a bare counter selector",
        where=field_path((*document.prefix, *where)), expected=_WINDOW_TEMPLATE_HINT,
    )
