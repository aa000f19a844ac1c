"""OpenSLO v1 (`apiVersion: openslo/v1`): SLO, SLI, AlertPolicy and AlertCondition documents.

Mapping onto mapguard's model (mapguard's label convention by default):

- an SLO with several objectives becomes one mapguard SLO per objective (an objective may bring
  its own indicator, as composite SLOs do; `compositeWeight` other than 1 is an error);
- SLIs: `ratioMetric` good/total, bad/total or raw (rawType success/failure), and
  `thresholdMetric`. Queries are PromQL: with ``{{.window}}`` as in Sloth, or a bare selector —
  a counter (`counter: true`) is read as ``sum(rate(SEL[{{.window}}]))``, anything else as
  samples summed over the window. A good/total ratio reads the absent good series of a total
  outage as 0 good events (``total - (good or 0 * total)``), never as no errors. A threshold
  metric counts the samples (one a minute) that break `op` `value`;
- budgeting: Occurrences counts events; Timeslices counts the `timeSliceWindow` slices whose good
  ratio misses `timeSliceTarget` (a slice without events counts as good); RatioTimeslices
  averages the slices' error ratios (slices without events are left out);
- `timeWindow`: rolling, or calendar-aligned (`calendar.startTime` in `calendar.timeZone`): burn
  alerts stay rolling, the period's budget counts from the start of the current period;
- each burn-rate AlertCondition is one multiwindow alert: `lookbackWindow` is the long window,
  the short one comes from the annotation ``mapguard.dev/short-window`` (default: long ÷ 12, as
  in the SRE workbook), `threshold` is the burn factor (exact when the annotation
  ``mapguard.dev/budget-percent`` gives the budget share it was derived from), `op` compares
  (gt, gte, lt, lte), `alertAfter` is the rule's `for`, and `severity` page/critical makes it a
  page (else a ticket); `alertWhenNoData` adds an alert for an SLI without data over the
  lookback window;
- an SLO without alert policies (or `alertPolicies: null`) gets the SRE workbook's four alerts.

Not supported (an error naming the field, never a silent approximation): calendar periods in
months, quarters or years (no fixed length), non-PromQL queries.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, model_validator

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
    NoDataAlert,
    RawSLI,
    SpecSet,
    Tier,
    TierAlert,
    burn_factor,
)
from mapguard.slo.promql import PromQLSyntaxError, Unsupported, VectorSel, fill_window, parse
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
from mapguard.slo.spec_sloth import DEFAULT_PERIOD, camel_name, fitting_windows, period_warnings

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
_QUERY_HINT = "a PromQL query using {{.window}}, or a bare selector (counter: true for a counter)"
SAMPLE_STEP = "1m"  # resolution at which threshold metrics and expressions are sampled
# Burn-rate comparison per AlertCondition op; a threshold objective's op says what is good.
_BURN_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_BAD_WHEN = {"lt": ">=", "lte": ">", "gt": "<=", "gte": "<"}


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
    thresholdMetric: Metric | None = None
    ratioMetric: RatioMetric | None = None


class InlineIndicator(SpecModel):
    metadata: Metadata | None = None
    spec: SLISpec


def _local_time(value: Any) -> Any:
    # YAML reads an unquoted 2022-01-01 12:00:00 as a timestamp: take it back as written.
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else value


class Calendar(SpecModel):
    startTime: Annotated[Text, BeforeValidator(_local_time)] = Field(
        description="a local time such as 2022-01-01 12:00:00"
    )
    timeZone: Text = Field(description="an IANA time zone such as America/New_York")


class TimeWindow(SpecModel):
    duration: Text = Field(description="a duration such as 28d, 4w or 1h")
    isRolling: bool | None = None
    calendar: Calendar | None = None


def _slice_window(value: Any) -> Any:
    # A bare number is minutes (OpenSLO's default unit for timeSliceWindow).
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value}m"
    return value


class Objective(SpecModel):
    displayName: Text | None = None
    op: Literal["lt", "lte", "gt", "gte"] | None = Field(default=None,
                                                         description="lt, lte, gt or gte")
    value: Decimal | None = None
    target: Decimal | None = Field(default=None, description="a ratio in (0, 1), e.g. 0.999")
    targetPercent: Decimal | None = Field(
        default=None, description="a percentage in (0, 100), e.g. 99.9"
    )
    timeSliceTarget: Decimal | None = Field(default=None, description="a ratio in (0, 1]")
    timeSliceWindow: DurationField | None = duration_field()
    indicator: InlineIndicator | None = None
    indicatorRef: Text | None = None
    compositeWeight: Decimal | None = None

    @model_validator(mode="before")
    @classmethod
    def _minutes(cls, data: Any) -> Any:
        if isinstance(data, dict) and "timeSliceWindow" in data:
            return {**data, "timeSliceWindow": _slice_window(data["timeSliceWindow"])}
        return data

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
    op: Literal["gt", "gte", "lt", "lte"] = Field(default="gt", description="gt, gte, lt, lte")
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
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"] = Field(
        description="Occurrences, Timeslices or RatioTimeslices"
    )
    timeWindow: list[TimeWindow] = Field(default_factory=list, max_length=1)
    objectives: list[Objective] = Field(min_length=1)
    alertPolicies: list[PolicyEntry | Text] | None = None


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
            f"{document.where((*loc, *where))}: unknown field {key!r} ignored"
            for where, key in extras(model)
        ]
        parsed[kind].append((document, loc, model))
    reader = _Reader(parsed, default_period)
    slos = tuple(slo for entry in parsed["SLO"] for slo in reader.slos(*entry))
    # An indicator shared by several objectives is read once per objective: say things once.
    found = dict.fromkeys((*warnings, *reader.warnings, *period_warnings(slos)))
    return SpecSet(slos, (), tuple(found), (OPENSLO_VERSION,))


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
        period, calendar_start = self._period(document, loc, spec)
        windows, tiers, no_data = self._alerts(document, loc, spec, period)
        labels = self._labels(document, (*loc, "metadata", "labels"), doc.metadata.labels)
        annotations = doc.metadata.annotations
        many = len(spec.objectives) > 1
        name = annotations.get(NAME, doc.metadata.name)
        found = []
        for index, objective in enumerate(spec.objectives):
            where = (*loc, "spec", "objectives", index)
            slo_name = _objective_name(name, objective, index) if many else name
            alerting = Alerting(
                name=(annotations[ALERT_NAME] + (str(index) if many else "")
                      if ALERT_NAME in annotations else camel_name(spec.service, slo_name)),
                windows=windows,
                page=tiers[Tier.PAGE],
                ticket=tiers[Tier.TICKET],
                runbook_url=annotations.get(RUNBOOK_URL),
                dashboard_url=annotations.get(DASHBOARD_URL),
                no_data=no_data,
            )
            found.append(SLO(
                service=spec.service,
                name=slo_name,
                objective=self._objective(document, where, objective),
                period=period,
                sli=self._sli(document, loc, spec, objective, where),
                alerting=alerting,
                description=spec.description,
                labels=labels,
                source=document.source,
                path=field_path((*document.prefix, *where)),
                spec_version=OPENSLO_VERSION,
                calendar_start=calendar_start,
            ))
        return found

    def _objective(self, document: Document, loc: Loc, objective: Objective) -> Decimal:
        percent = objective.percent.normalize()
        if not 0 < percent < 100:
            field = "target" if objective.target is not None else "targetPercent"
            raise document.error(
                (*loc, field), f"{percent} % is outside (0, 100)",
                expected="target in (0, 1) or targetPercent in (0, 100)",
            )
        if objective.compositeWeight is not None and objective.compositeWeight != 1:
            raise document.error(
                (*loc, "compositeWeight"), "a weighted composite error budget is not supported",
                expected="no compositeWeight (each objective is an SLO of its own)",
            )
        return percent

    def _period(self, document: Document, loc: Loc, spec: SLOSpec) -> tuple[Duration, int | None]:
        if not spec.timeWindow:
            return self.default_period, None
        window = spec.timeWindow[0]
        where = (*loc, "spec", "timeWindow", 0)
        text = window.duration.strip()
        if text[-1:] in {"M", "Q", "Y"}:
            raise document.error(
                (*where, "duration"), f"{text!r}: months, quarters and years have no fixed "
                "length and are not supported", expected="a period in m, h, d or w, e.g. 4w",
            )
        try:
            period = Duration.parse(text)
        except ValueError as exc:
            raise document.error((*where, "duration"), str(exc)) from None
        aligned = window.calendar is not None or window.isRolling is False
        if not aligned:
            return period, None
        if window.calendar is None:
            raise document.error(where, "isRolling is false but there is no calendar",
                                 expected="calendar.startTime and calendar.timeZone")
        return period, self._calendar_start(document, (*where, "calendar"), window.calendar)

    def _calendar_start(self, document: Document, loc: Loc, calendar: Calendar) -> int:
        try:
            zone = ZoneInfo(calendar.timeZone)
        except (ZoneInfoNotFoundError, ValueError):
            raise document.error((*loc, "timeZone"), f"{calendar.timeZone!r} is not a time "
                                 "zone", expected="an IANA name such as Europe/Berlin") from None
        try:
            local = datetime.strptime(calendar.startTime.strip(), "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise document.error((*loc, "startTime"), f"{calendar.startTime!r} is not a date "
                                 "and time", expected="YYYY-MM-DD hh:mm:ss") from None
        start = local.replace(tzinfo=zone)
        offsets = {datetime(start.year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
        if len(offsets) > 1:
            self.warnings.append(
                f"{document.where(loc)}: period boundaries keep {calendar.timeZone}'s UTC offset "
                f"at startTime ({start.strftime('%z')}); across a daylight-saving change they "
                "fall an hour off local time"
            )
        return int(start.timestamp())

    def _indicator(self, document: Document, loc: Loc, inline: InlineIndicator | None,
                   ref: str | None) -> tuple[Document, Loc, SLISpec] | None:
        if inline is not None:
            return document, (*loc, "indicator", "spec"), inline.spec
        if ref is None:
            return None
        found = self.by_name["SLI"].get(ref)
        if found is None:
            raise document.error(
                (*loc, "indicatorRef"), f"no SLI named {ref!r} in this file",
                expected="the metadata.name of an SLI document",
            )
        sli_document, sli_loc, sli = found
        return sli_document, (*sli_loc, "spec"), sli.spec

    def _sli(self, document: Document, loc: Loc, spec: SLOSpec, objective: Objective,
             objective_loc: Loc) -> SLI:
        found = self._indicator(document, objective_loc, objective.indicator,
                                objective.indicatorRef) \
            or self._indicator(document, (*loc, "spec"), spec.indicator, spec.indicatorRef)
        if found is None:
            raise document.error((*loc, "spec"), "no indicator",
                                 expected="indicator or indicatorRef")
        sli_document, sli_loc, sli = found
        base = _sli_from(sli_document, sli_loc, sli, objective, objective_loc, document,
                         self.warnings)
        if spec.budgetingMethod == "Occurrences":
            return base
        return _timeslices(document, objective_loc, base, objective, spec.budgetingMethod)

    def _alerts(
        self, document: Document, loc: Loc, spec: SLOSpec, period: Duration
    ) -> tuple[tuple[BurnWindow, ...], dict[Tier, TierAlert], tuple[NoDataAlert, ...]]:
        tiers: dict[Tier, TierAlert] = {Tier.PAGE: TierAlert(), Tier.TICKET: TierAlert()}
        if not spec.alertPolicies:
            return fitting_windows(period), tiers, ()
        windows: list[BurnWindow] = []
        no_data: list[NoDataAlert] = []
        for index, entry in enumerate(spec.alertPolicies):
            where = (*loc, "spec", "alertPolicies", index)
            policy_doc, policy_loc, metadata, policy = self._policy(document, where, entry)
            policy_labels = self._labels(policy_doc, (*policy_loc, "metadata", "labels"),
                                         metadata.labels)
            for c_index, condition_entry in enumerate(policy.conditions):
                c_doc, c_loc, c_meta, condition = self._condition(
                    policy_doc, (*policy_loc, "spec", "conditions", c_index), condition_entry
                )
                window = _window(c_doc, c_loc, c_meta, condition, period, self.warnings)
                if policy.alertWhenNoData:
                    no_data.append(NoDataAlert(window.tier, window.long, window.for_))
                if policy.alertWhenBreaching:
                    windows.append(window)
                previous = tiers[window.tier]
                tiers[window.tier] = TierAlert(
                    True,
                    {**previous.labels, **policy_labels},
                    {**previous.annotations, **{
                        k: v for k, v in metadata.annotations.items()
                        if not k.startswith(_RESERVED_ANNOTATION_PREFIXES)
                    }},
                )
            if not policy.alertWhenBreaching and not policy.alertWhenNoData:
                self.warnings.append(
                    f"{policy_doc.where(policy_loc)}: alertWhenBreaching and alertWhenNoData "
                    "are false: no alert generated"
                )
        for tier in Tier:
            if not any(w.tier is tier for w in windows) and not any(
                    a.tier is tier for a in no_data):
                tiers[tier] = TierAlert(enabled=False)
        return tuple(windows), tiers, tuple(no_data)

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
            period: Duration, warnings: list[str]) -> BurnWindow:
    condition = spec.condition
    if condition.op in {"lt", "lte"}:
        warnings.append(
            f"{document.where((*loc, 'spec', 'condition', 'op'))}: op {condition.op} fires "
            f"while the burn rate is below {condition.threshold}, as written (a burn alert "
            "uses gt or gte)"
        )
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
    return BurnWindow(tier, long, short, factor, share, for_, _BURN_OPS[condition.op])


# ------------------------------------------------------------------------------ SLIs


def _sli_from(document: Document, loc: Loc, spec: SLISpec, objective: Objective,
              objective_loc: Loc, objective_doc: Document, warnings: list[str]) -> SLI:
    if (spec.thresholdMetric is None) == (spec.ratioMetric is None):
        raise document.error(loc, "expected exactly one of thresholdMetric, ratioMetric")
    if spec.thresholdMetric is not None:
        return _threshold(document, (*loc, "thresholdMetric"), spec.thresholdMetric, objective,
                          objective_loc, objective_doc, warnings)
    assert spec.ratioMetric is not None
    ratio = spec.ratioMetric
    where = (*loc, "ratioMetric")
    if ratio.raw is not None:
        if ratio.rawType is None:
            raise document.error((*where, "rawType"), "missing", expected="success or failure")
        query = _query(document, (*where, "raw"), ratio.raw, warnings, average=True)
        return RawSLI(query if ratio.rawType == "failure" else f"1 - ({query})")
    if ratio.total is None or (ratio.good is None) == (ratio.bad is None):
        raise document.error(where, "incomplete ratio",
                             expected="total with exactly one of good, bad; or raw with rawType")
    total = _query(document, (*where, "total"), ratio.total, warnings, counter=ratio.counter)
    if ratio.bad is not None:
        return EventsSLI(
            _query(document, (*where, "bad"), ratio.bad, warnings, counter=ratio.counter), total
        )
    assert ratio.good is not None
    good = _query(document, (*where, "good"), ratio.good, warnings, counter=ratio.counter)
    # An absent good series (a total outage) is 0 good events, never "no errors".
    return EventsSLI(f"({total})\n-\n(({good}) or 0 * ({total}))", total)


def _threshold(document: Document, loc: Loc, metric: Metric, objective: Objective,
               objective_loc: Loc, objective_doc: Document, warnings: list[str]) -> SLI:
    if objective.op is None or objective.value is None:
        missing = "op" if objective.op is None else "value"
        raise objective_doc.error((*objective_loc, missing), "missing (a thresholdMetric SLI "
                                  "compares each sample with op and value)",
                                  expected="op (lt, lte, gt, gte) and value")
    query = _promql(document, loc, metric, warnings)
    if WINDOW_TEMPLATE.search(query):
        raise document.error((*loc, "metricSource", "spec", "query"),
                             "a threshold query is read sample by sample, without {{.window}}",
                             expected="an instant query such as a gauge selector")
    bad = f"({query}) {_BAD_WHEN[objective.op]} {objective.value}"
    window = f"[{{{{.window}}}}:{SAMPLE_STEP}]"
    return EventsSLI(f"sum(count_over_time(({bad}){window}))",
                     f"sum(count_over_time(({query}){window}))")


def _promql(document: Document, loc: Loc, metric: Metric, warnings: list[str]) -> str:
    source = metric.metricSource
    query = source.spec.get("query") or source.spec.get("promql")
    where = (*loc, "metricSource", "spec", "query")
    if not isinstance(query, str) or not query.strip():
        raise document.error(where, "missing", expected=_QUERY_HINT)
    query = query.strip()
    try:
        parse(query)
    except PromQLSyntaxError as exc:
        kind = f"a {source.type} query, " if source.type else ""
        raise document.error(where, f"{kind}not PromQL: {exc}",
                             expected="a Prometheus query") from None
    except Unsupported:
        pass
    if source.type is not None and source.type.lower() != "prometheus":
        warnings.append(f"{document.where((*loc, 'metricSource', 'type'))}: {source.type!r} "
                        "read as Prometheus: its query is PromQL")
    return query


def _query(document: Document, loc: Loc, metric: Metric, warnings: list[str], *,
           counter: bool = False, average: bool = False) -> str:
    """A ratio part as a query over ``{{.window}}``."""
    query = _promql(document, loc, metric, warnings)
    if WINDOW_TEMPLATE.search(query):
        return query
    try:
        node = parse(query)
    except Unsupported:
        node = None
    bare = isinstance(node, VectorSel) and node.range is None
    if counter:
        if not bare:
            raise InputError(
                f"{document.source}:{document.line_of((*loc, 'metricSource')) or 0}",
                "a counter needs {{.window}} in its query or a bare selector to take rate() of",
                where=field_path((*document.prefix, *loc, "metricSource", "spec", "query")),
                expected=_QUERY_HINT,
            )
        return f"sum(rate({query}[{{{{.window}}}}]))"
    over_time = "avg_over_time" if average else "sum_over_time"
    inner = f"{query}[{{{{.window}}}}]" if bare \
        else f"({query})[{{{{.window}}}}:{SAMPLE_STEP}]"
    return f"sum({over_time}({inner}))" if not average else f"{over_time}({inner})"


def _timeslices(document: Document, loc: Loc, base: SLI, objective: Objective,
                method: str) -> RawSLI:
    if objective.timeSliceWindow is None:
        raise document.error((*loc, "timeSliceWindow"), "missing",
                             expected=f"the slice length for {method}, e.g. 1m")
    step = str(objective.timeSliceWindow)
    if isinstance(base, RawSLI):
        slice_errors = f"({fill_window(base.error_ratio_query, step)})"
    else:
        assert isinstance(base, EventsSLI)
        error, total = (fill_window(q, step) for q in (base.error_query, base.total_query))
        slice_errors = f"((({error}) or 0 * ({total})) / ({total}))"
    window = f"[{{{{.window}}}}:{step}]"
    if method == "RatioTimeslices":
        # The slices' error ratios averaged; `>= 0` leaves out slices without events (NaN).
        return RawSLI(f"avg_over_time(({slice_errors} >= 0){window})")
    if objective.timeSliceTarget is None:
        raise document.error((*loc, "timeSliceTarget"), "missing",
                             expected="the good ratio a slice needs, e.g. 0.99")
    bad = _BAD_WHEN[objective.op or "gte"]
    # A bad slice is 1, a good one 0; a slice without events compares NaN: 0, good.
    return RawSLI(f"avg_over_time(((1 - {slice_errors}) {bad} bool "
                  f"{objective.timeSliceTarget}){window})")
