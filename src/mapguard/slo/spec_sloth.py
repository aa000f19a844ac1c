"""Sloth's specs, read unchanged: `prometheus/v1` and the Kubernetes `PrometheusServiceLevel`.

Everything Sloth accepts loads: queries are Sloth's Go templates (``{{.window}}``) over any
PromQL Prometheus accepts, alerts may be disabled without a name, objectives go up to 100, label
names may be any UTF-8 text. The Kubernetes form spells its fields in camelCase (`errorQuery`,
`pageAlert`, `sloPlugins`); like Sloth, each form ignores the other's spelling (with a warning
here). Output keeps Sloth's identity by default (conventions.py).

Sloth's SLO plugins are Go code. The ones built into Sloth whose effect on the rules is known
are reproduced: `sloth.dev/core/{debug,noop,validate,sli_rules,metadata_rules,alert_rules}/v1`
and `sloth.dev/contrib/{info_labels,rule_intervals}/v1` (with `overridePrevious`, a chain that
omits a core rules plugin omits that step). Any other plugin, and every SLI plugin, is an error
that names it: mapguard cannot run Go plugins.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import Field, model_validator

from mapguard.errors import InputError, UsageError
from mapguard.slo.conventions import Convention
from mapguard.slo.durations import Duration, parse_duration
from mapguard.slo.loading import Document, Loc, SpecProblems, extras, field_path, validate
from mapguard.slo.model import (
    ALL_STEPS,
    SLI,
    SLO,
    Alerting,
    BurnWindow,
    EventsSLI,
    GroupIntervals,
    RawSLI,
    Resource,
    SpecSet,
    Step,
    TierAlert,
    workbook_windows,
)
from mapguard.slo.spec_fields import (
    LABEL_NAME,
    OBJECTIVE_EXPECTED,
    QUERY_EXPECTED,
    DurationField,
    Labels,
    Name,
    SlothObjective,
    SpecModel,
    Text,
    WindowedQuery,
    duration_field,
    labels_field,
)

SLOTH_VERSION = "prometheus/v1"
K8S_VERSION = "sloth.slok.dev/v1"
K8S_KIND = "PrometheusServiceLevel"
DEFAULT_PERIOD = Duration.parse("30d")
LONGEST_ALERT_WINDOW = Duration.parse("3d")
# The Kubernetes form's spelling of the fields prometheus/v1 writes in snake_case.
K8S_SPELLING = {
    "error_query": "errorQuery", "total_query": "totalQuery",
    "error_ratio_query": "errorRatioQuery", "page_alert": "pageAlert",
    "ticket_alert": "ticketAlert", "slo_plugins": "sloPlugins",
}
_SNAKE = {camel: snake for snake, camel in K8S_SPELLING.items()}


class TierAlertSpec(SpecModel):
    disable: bool = Field(default=False, description="true or false")
    labels: Labels = labels_field()
    annotations: dict[str, Text] = Field(default_factory=dict, description="a map of text")


class AlertingSpec(SpecModel):
    name: Name | None = Field(default=None, description="the alert name, e.g. CheckoutAvailability")
    labels: Labels = labels_field()
    annotations: dict[str, Text] = Field(default_factory=dict, description="a map of text")
    page_alert: TierAlertSpec = TierAlertSpec()
    ticket_alert: TierAlertSpec = TierAlertSpec()


class EventsSpec(SpecModel):
    error_query: WindowedQuery = Field(description=QUERY_EXPECTED)
    total_query: WindowedQuery = Field(description=QUERY_EXPECTED)

    @model_validator(mode="after")
    def _different(self) -> EventsSpec:
        if self.error_query == self.total_query:
            raise ValueError("error_query and total_query are the same query")
        return self


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


class PluginRef(SpecModel):
    id: Text = Field(description="a plugin id, e.g. sloth.dev/core/debug/v1")
    config: Any = None
    priority: int = 0


class PluginChain(SpecModel):
    overridePrevious: bool = False
    chain: list[PluginRef] = Field(default_factory=list)


class SloSpec(SpecModel):
    name: Name = Field(description="the SLO name, e.g. requests-availability")
    objective: SlothObjective = Field(description=OBJECTIVE_EXPECTED)
    description: Text = ""
    labels: Labels = labels_field()
    info_labels: Labels = Field(default_factory=dict, alias="infoLabels")
    sli: SLISpec = Field(description="an SLI with one of events, raw")
    alerting: AlertingSpec = AlertingSpec()
    interval: IntervalSpec | None = None
    plugins: PluginChain | None = None


class SlothSpec(SpecModel):
    version: Literal["prometheus/v1"] = Field(description='"prometheus/v1"')
    service: Name = Field(description="the service name")
    labels: Labels = labels_field()
    slo_plugins: PluginChain | None = None
    slos: list[SloSpec] = Field(min_length=1, description="a list of at least one SLO")


# ------------------------------------------------------------------------------ SLO plugins


@dataclass(frozen=True, slots=True)
class PluginEffects:
    steps: frozenset[Step] = ALL_STEPS
    optimized_period: bool = True
    info_labels: Mapping[str, str] = field(default_factory=dict)
    intervals: GroupIntervals | None = None


_CORE = "sloth.dev/core/"
_NO_EFFECT = {_CORE + "debug/v1", _CORE + "noop/v1", _CORE + "validate/v1"}
_STEP_PLUGINS = {
    _CORE + "sli_rules/v1": Step.SLI,
    _CORE + "metadata_rules/v1": Step.META,
    _CORE + "alert_rules/v1": Step.ALERTS,
}
INFO_LABELS = "sloth.dev/contrib/info_labels/v1"
RULE_INTERVALS = "sloth.dev/contrib/rule_intervals/v1"
SUPPORTED_PLUGINS = (*sorted(_NO_EFFECT), *_STEP_PLUGINS, INFO_LABELS, RULE_INTERVALS)


def _chain(group: PluginChain | None, own: PluginChain | None,
           loc: Loc) -> tuple[bool, list[tuple[PluginRef, Loc]]]:
    """Sloth's plugin list for one SLO: the spec's chain, then the SLO's (which may override)."""
    override = bool(group and group.overridePrevious)
    spec_loc = tuple(loc[:-2])  # the SLO's loc ends with ("slos", index)
    plugins: list[tuple[PluginRef, Loc]] = [
        (p, (*spec_loc, "slo_plugins", "chain", i)) for i, p in enumerate(group.chain)
    ] if group else []
    if own is not None:
        if own.overridePrevious:
            plugins, override = [], True
        plugins += [(p, (*loc, "plugins", "chain", i)) for i, p in enumerate(own.chain)]
    plugins.sort(key=lambda item: item[0].priority)  # stable, as Sloth's
    return override, plugins


def _plugin_problems(document: Document, data: Any, loc: Loc) -> list[InputError]:
    """Unsupported plugins in a spec that did not validate (read from the raw data)."""
    if not isinstance(data, dict):
        return []
    chains: list[tuple[Any, Loc]] = [(data.get("slo_plugins"), (*loc, "slo_plugins"))]
    slos = data.get("slos")
    for index, slo in enumerate(slos if isinstance(slos, list) else []):
        if isinstance(slo, dict):
            chains.append((slo.get("plugins"), (*loc, "slos", index, "plugins")))
    found = []
    for chain, where in chains:
        entries = chain.get("chain") if isinstance(chain, dict) else None
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            plugin = entry.get("id") if isinstance(entry, dict) else None
            if isinstance(plugin, str) and plugin not in SUPPORTED_PLUGINS:
                found.append(_unsupported(document, plugin, (*where, "chain", index)))
    return found


def _unsupported(document: Document, plugin: str, where: Loc) -> InputError:
    return document.error(
        (*where, "id"), f"SLO plugin {plugin!r} is Go code that mapguard does not run",
        expected="no plugin, or one whose effect mapguard reproduces: "
        + ", ".join(SUPPORTED_PLUGINS),
    )


def plugin_effects(document: Document, group: PluginChain | None, own: PluginChain | None,
                   loc: Loc) -> PluginEffects:
    override, plugins = _chain(group, own, loc)
    if override and not plugins:
        raise document.error((*loc, "plugins"), "overridePrevious is set but no plugins are "
                             "listed", expected="a plugin chain")
    effects = PluginEffects(steps=frozenset() if override else ALL_STEPS)
    for plugin, where in plugins:
        effects = _apply(document, plugin, where, effects)
    return effects


def _apply(document: Document, plugin: PluginRef, where: Loc,
           effects: PluginEffects) -> PluginEffects:
    config = plugin.config if isinstance(plugin.config, dict) else {}
    if plugin.id in _NO_EFFECT:
        return effects
    if plugin.id in _STEP_PLUGINS:
        step = _STEP_PLUGINS[plugin.id]
        optimized = effects.optimized_period
        if step is Step.SLI:
            optimized = not config.get("disableOptimized", False)
        return replace(effects, steps=effects.steps | {step}, optimized_period=optimized)
    if plugin.id == INFO_LABELS:
        labels = config.get("labels")
        metric = config.get("metricName", "sloth_slo_info")
        if not isinstance(labels, dict) or not labels:
            raise document.error((*where, "config", "labels"), "at least one label is required",
                                 expected="a map of label names to values")
        if metric != "sloth_slo_info":
            raise document.error((*where, "config", "metricName"),
                                 f"{metric!r}: only sloth_slo_info is written",
                                 expected="sloth_slo_info (the default)")
        return replace(effects, info_labels={**effects.info_labels,
                                             **{str(k): str(v) for k, v in labels.items()}})
    if plugin.id == RULE_INTERVALS:
        return replace(effects, intervals=_intervals(document, config, (*where, "config")))
    raise _unsupported(document, plugin.id, where)


def _intervals(document: Document, config: Mapping[str, Any], loc: Loc) -> GroupIntervals:
    interval = config.get("interval")
    if not isinstance(interval, dict) or not interval.get("default"):
        raise document.error((*loc, "interval", "default"), "missing",
                             expected="at least interval.default, e.g. 5m")
    found: dict[str, Duration] = {}
    for key in ("default", "sliError", "metadata", "alert"):
        if interval.get(key):
            try:
                found[key] = parse_duration(interval[key])
            except ValueError as exc:
                raise document.error((*loc, "interval", key), str(exc)) from None
    default = found["default"]
    return GroupIntervals(found.get("sliError", default), found.get("metadata", default),
                          found.get("alert", default))


# ------------------------------------------------------------------------------ reading


def read_sloth(
    document: Document, *, default_period: Duration = DEFAULT_PERIOD,
    catalog: Mapping[Duration, tuple[BurnWindow, ...]] | None = None,
) -> SpecSet:
    document, data, loc, version, warnings = _unwrap_kubernetes(document)
    try:
        spec = validate(SlothSpec, document, data, loc)
    except SpecProblems as exc:
        # Name the Go plugins too: they are why the spec cannot load, whatever else is wrong.
        raise SpecProblems([*_plugin_problems(document, data, loc), *exc.problems]) from None
    warnings += [_unknown_key_warning(document, (*loc, *where), key, version)
                 for where, key in extras(spec)]
    windows = _windows(catalog, default_period)
    slos = []
    for index, slo in enumerate(spec.slos):
        where = (*loc, "slos", index)
        effects = plugin_effects(document, spec.slo_plugins, slo.plugins, where)
        built = slo_from_spec(
            spec.service, spec.labels, slo, document, where,
            period=default_period, alert_name=slo.alerting.name, windows=windows,
            convention=Convention.SLOTH, spec_version=version,
        )
        slos.append(replace(
            built, steps=effects.steps, optimized_period=effects.optimized_period,
            info_labels={**built.info_labels, **effects.info_labels},
            intervals=effects.intervals or built.intervals,
            resource=_resource(document) if version == K8S_VERSION else None,
        ))
    found = tuple(slos)
    return SpecSet(found, (), (*warnings, *period_warnings(found)), (version,))


def _resource(document: Document) -> Resource:
    metadata = document.data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}

    def texts(key: str) -> dict[str, str]:
        found = metadata.get(key)
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise document.error(("metadata", "name"), "missing",
                             expected="the PrometheusServiceLevel's name")
    namespace = metadata.get("namespace")
    return Resource(name, namespace if isinstance(namespace, str) else None,
                    texts("labels"), texts("annotations"))


def _windows(catalog: Mapping[Duration, tuple[BurnWindow, ...]] | None,
             period: Duration) -> tuple[BurnWindow, ...] | None:
    if catalog is None:
        return None
    if period not in catalog:
        periods = ", ".join(str(p) for p in sorted(catalog))
        raise UsageError(f"--windows has no AlertWindows catalog for the SLO period {period} "
                         f"(it has {periods}); Sloth would refuse this too")
    return catalog[period]


def _unknown_key_warning(document: Document, loc: Loc, key: str, version: str) -> str:
    hint = ""
    if version == SLOTH_VERSION and key in _SNAKE:
        hint = f" (prometheus/v1 spells it {_SNAKE[key]}; Sloth ignores {key} too)"
    return f"{document.where(loc)}: unknown field {key!r} ignored{hint}"


def _snake_case(data: Any, loc: Loc, document: Document,
                warnings: list[str]) -> Any:
    """The Kubernetes form with prometheus/v1's field names; snake_case keys, which Sloth's
    Kubernetes decoder ignores, are dropped with a warning."""
    if isinstance(data, list):
        return [_snake_case(item, (*loc, i), document, warnings) for i, item in enumerate(data)]
    if not isinstance(data, dict):
        return data
    out = {}
    as_written = replace(document, spelling={})
    for key, value in data.items():
        if key in K8S_SPELLING:
            warnings.append(f"{as_written.where((*loc, key))}: unknown field {key!r} ignored "
                            f"(the Kubernetes form spells it {K8S_SPELLING[key]}; Sloth "
                            f"ignores {key} too)")
            continue
        # Label and annotation maps keep their keys as written.
        keep = key in {"labels", "annotations", "infoLabels", "options", "config"}
        inner = value if keep else _snake_case(value, (*loc, key), document, warnings)
        out[_SNAKE.get(key, key)] = inner
    return out


def _unwrap_kubernetes(document: Document) -> tuple[Document, Any, Loc, str, list[str]]:
    data = document.data
    warnings: list[str] = []
    if not (isinstance(data, dict) and data.get("kind") == K8S_KIND):
        return document, data, (), SLOTH_VERSION, warnings
    if data.get("apiVersion") != K8S_VERSION:
        raise document.error(("apiVersion",), f"{data.get('apiVersion')!r} is not read",
                             expected=f'"{K8S_VERSION}"')
    document = replace(document, spelling=K8S_SPELLING)
    spec = data.get("spec")
    if not isinstance(spec, dict):
        raise document.error(("spec",), "missing", expected="the PrometheusServiceLevel spec")
    converted = _snake_case(spec, ("spec",), document, warnings)
    return document, {"version": SLOTH_VERSION, **converted}, ("spec",), K8S_VERSION, warnings


def sli_from_spec(spec: SLISpec, document: Document, loc: Loc) -> SLI:
    if spec.events is not None:
        return EventsSLI(spec.events.error_query, spec.events.total_query)
    if spec.raw is not None:
        return RawSLI(spec.raw.error_ratio_query)
    plugin = spec.plugin.id if spec.plugin is not None else "?"
    raise document.error(
        (*loc, "plugin", "id"),
        f"SLI plugin {plugin!r} is Go code that mapguard cannot run",
        expected="the query it builds, written as sli.events or sli.raw",
    )


def tier_from_spec(spec: TierAlertSpec) -> TierAlert:
    return TierAlert(not spec.disable, dict(spec.labels), dict(spec.annotations))


@functools.cache
def fitting_windows(period: Duration) -> tuple[BurnWindow, ...]:
    """The workbook's windows that fit in `period` (a budget cannot burn over a longer span)."""
    return tuple(w for w in workbook_windows(period) if w.long <= period)


def slo_from_spec(
    service: str,
    service_labels: dict[str, str],
    spec: SloSpec,
    document: Document,
    loc: Loc,
    *,
    period: Duration,
    alert_name: str | None,
    windows: tuple[BurnWindow, ...] | None = None,
    sli: SLI | None = None,
    runbook_url: str | None = None,
    dashboard_url: str | None = None,
    period_loc: Loc | None = None,
    convention: Convention = Convention.MAPGUARD,
    spec_version: str = "",
) -> SLO:
    if period.seconds <= 0:
        raise UsageError("--default-period: not a positive duration")
    page, ticket = tier_from_spec(spec.alerting.page_alert), \
        tier_from_spec(spec.alerting.ticket_alert)
    if alert_name is None and (page.enabled or ticket.enabled):
        raise document.error(
            (*loc, "alerting", "name"), "missing",
            expected="the alert name (Sloth requires it unless page_alert and ticket_alert are "
            "both disabled)",
        )
    interval = spec.interval or IntervalSpec()
    alerting = Alerting(
        name=alert_name or "",
        windows=windows if windows is not None else fitting_windows(period),
        labels=dict(spec.alerting.labels),
        annotations=dict(spec.alerting.annotations),
        page=page,
        ticket=ticket,
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
        path=field_path((*document.prefix, *document.spelled(loc))),
        convention=convention,
        spec_version=spec_version,
    )


def period_warnings(slos: tuple[SLO, ...]) -> tuple[str, ...]:
    """What the rules will do that the spec may not expect: alerts that can never fire, a zero
    budget, windows that do not fit the period, label names that need Prometheus 3."""
    found = []
    for slo in slos:
        where = f"{slo.source}: {slo.path}"
        if slo.error_budget == 0:
            found.append(f"{where}: a 100 % objective leaves no error budget: every error "
                         "burns it, and the burn rates are infinite")
        for window in slo.alerting.enabled_windows:
            threshold = window.factor * slo.error_budget
            if threshold >= 1 and window.op in {">", ">="}:
                found.append(
                    f"{where}: the {window.tier} alert over {window.pair} "
                    f"needs an error ratio above {float(threshold):.4g} and can never fire "
                    "(the budget is too large for this burn rate: raise the objective, or "
                    "set custom windows in mapguard/v1)"
                )
        dropped = [w.pair for w in workbook_windows(slo.period) if w.long > slo.period]
        if dropped and slo.alerting.windows == fitting_windows(slo.period):
            found.append(f"{where}: the period {slo.period} is shorter than the "
                         f"{', '.join(dropped)} burn windows: no alert for those")
        names = {*slo.labels, *slo.alerting.labels, *slo.alerting.page.labels,
                 *slo.alerting.ticket.labels, *slo.info_labels}
        odd = sorted(n for n in names if not LABEL_NAME.fullmatch(n))
        if odd:
            found.append(f"{where}: label names {', '.join(odd)} need Prometheus 3 (UTF-8 "
                         "names); promtool and Prometheus 2 reject them")
    return tuple(found)


def camel_name(*parts: str) -> str:
    """`checkout`, `requests-availability` -> `CheckoutRequestsAvailability`."""
    words = [w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Slo"
