"""SLO status from a live Prometheus: SLI and burn rate per window, budget left, firing alerts.

Everything is read from the generated recording rules over the HTTP API (`/api/v1/query`), in
either label convention — so rules that Sloth itself generated are read too: `sloth_slo_info` or
`mapguard_slo_info` lists the SLOs, `slo:sli_error:ratio_rate<window>` gives each window's error
ratio (the worst series when an SLI is split by labels), `slo:error_budget:ratio`,
`slo:time_period:days` and `slo:period_error_budget_remaining:ratio` the budget, and `ALERTS`
what fires (`sloth_severity` or `mapguard_tier` tells page from ticket).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from mapguard.errors import ToolError
from mapguard.slo import conventions as c
from mapguard.slo.durations import Duration

_RATIO_PREFIX = "slo:sli_error:ratio_rate"


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Mapping[str, str]
    value: float | None  # None for NaN (no traffic in the window)


class PrometheusAPI:
    """The instant-query endpoint of a Prometheus server."""

    def __init__(self, url: str, *, timeout: float = 10.0,
                 client: httpx.Client | None = None) -> None:
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)

    def query(self, expr: str) -> list[Sample]:
        try:
            response = self.client.get(f"{self.url}/api/v1/query", params={"query": expr})
        except httpx.HTTPError as exc:
            raise ToolError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise ToolError(
                f"{self.url}/api/v1/query answered HTTP {response.status_code} without JSON: "
                "is this a Prometheus server?"
            ) from None
        if response.status_code != 200 or body.get("status") != "success":
            raise ToolError(f"Prometheus rejected {expr!r}: {body.get('error', response.text)}")
        data = body.get("data", {})
        if data.get("resultType") != "vector":
            raise ToolError(f"unexpected {data.get('resultType')!r} result for {expr!r}")
        return [_sample(item) for item in data.get("result", [])]


def _sample(item: dict[str, Any]) -> Sample:
    value = float(item["value"][1])
    return Sample(item.get("metric", {}), None if math.isnan(value) else value)


@dataclass(frozen=True, slots=True)
class WindowStatus:
    window: str
    error_ratio: float | None

    def sli(self) -> float | None:
        return None if self.error_ratio is None else 1 - self.error_ratio

    def burn_rate(self, budget: float | None) -> float | None:
        if self.error_ratio is None or not budget:
            return None
        return self.error_ratio / budget


@dataclass(frozen=True, slots=True)
class FiringAlert:
    name: str
    tier: str
    labels: Mapping[str, str]

    @property
    def detail(self) -> str:
        extra = self.labels.get("mapguard_window_pair") or self.labels.get("site") \
            or self.labels.get("instance") or ""
        return f"{self.tier}{', ' + extra if extra else ''}"


@dataclass(frozen=True, slots=True)
class SLOStatus:
    slo_id: str
    service: str
    name: str
    objective: str
    period: str
    error_budget: float | None
    budget_remaining: float | None
    windows: tuple[WindowStatus, ...]
    alerts: tuple[FiringAlert, ...] = ()


@dataclass(frozen=True, slots=True)
class StatusReport:
    prometheus: str
    slos: tuple[SLOStatus, ...]
    guard_alerts: tuple[FiringAlert, ...] = field(default=())

    @property
    def firing(self) -> bool:
        return bool(self.guard_alerts) or any(s.alerts for s in self.slos)


_NAMINGS = (c.SLOTH, c.MAPGUARD)


def slo_id_of(labels: Mapping[str, str]) -> str | None:
    """The SLO a series belongs to, in either convention."""
    return next((labels[n.id_label] for n in _NAMINGS if n.id_label in labels), None)


def _tier(labels: Mapping[str, str]) -> str | None:
    return next((labels[n.tier_label] for n in _NAMINGS if n.tier_label in labels), None)


def _by_id(samples: Iterable[Sample], worst: Any = max) -> dict[str, float | None]:
    found: dict[str, list[float]] = {}
    for sample in samples:
        slo_id = slo_id_of(sample.labels)
        if slo_id is None:
            continue
        values = found.setdefault(slo_id, [])
        if sample.value is not None:
            values.append(sample.value)
    return {slo_id: (worst(values) if values else None) for slo_id, values in found.items()}


def _infos(api: PrometheusAPI) -> dict[str, dict[str, str]]:
    """id -> service, slo, objective and period (when the info series says), both conventions."""
    found: dict[str, dict[str, str]] = {}
    for naming, objective, period in ((c.SLOTH, "sloth_objective", None),
                                      (c.MAPGUARD, "mapguard_objective", "mapguard_period")):
        for sample in api.query(naming.info_metric):
            labels = sample.labels
            if naming.id_label not in labels:
                continue
            found[labels[naming.id_label]] = {
                "service": labels.get(naming.service_label, ""),
                "slo": labels.get(naming.slo_label, ""),
                "objective": labels.get(objective, ""),
                "period": labels.get(period, "") if period else "",
            }
    return found


def _days(value: float | None) -> str:
    if value is None:
        return ""
    seconds = round(value * 86400)
    return str(Duration(seconds)) if seconds > 0 else ""


def fetch_status(api: PrometheusAPI, *, only: Iterable[str] = ()) -> StatusReport:
    """Query Prometheus; `only` restricts to SLO ids or names."""
    wanted = set(only)
    infos = _infos(api)
    if wanted:
        infos = {k: v for k, v in infos.items() if k in wanted or v["slo"] in wanted}
    ratios: dict[tuple[str, str], list[float | None]] = {}
    for sample in api.query(f'{{__name__=~"{_RATIO_PREFIX}.+"}}'):
        slo_id = slo_id_of(sample.labels)
        if slo_id is None:
            continue
        window = sample.labels.get("__name__", "").removeprefix(_RATIO_PREFIX)
        ratios.setdefault((slo_id, window), []).append(sample.value)
    budgets = _by_id(api.query(c.ERROR_BUDGET))
    remaining = _by_id(api.query(c.BUDGET_REMAINING), worst=min)
    periods = _by_id(api.query(c.PERIOD_DAYS))
    alerts = [
        FiringAlert(s.labels.get("alertname", "?"), _tier(s.labels) or "?", s.labels)
        for s in api.query('ALERTS{alertstate="firing"}')
        if _tier(s.labels) is not None
    ]
    if not infos and not alerts and not wanted:
        raise ToolError(
            f"no SLO rules are loaded in Prometheus at {api.url} ({c.SLOTH.info_metric} and "
            f"{c.MAPGUARD.info_metric} are empty): load the output of `mapguard slo generate` "
            "(or of Sloth)"
        )
    slos = []
    for slo_id, info in sorted(infos.items()):
        windows = sorted(
            (window for (owner, window) in ratios if owner == slo_id), key=_window_key
        )
        slos.append(SLOStatus(
            slo_id=slo_id,
            service=info["service"],
            name=info["slo"],
            objective=info["objective"],
            period=info["period"] or _days(periods.get(slo_id)),
            error_budget=budgets.get(slo_id),
            budget_remaining=remaining.get(slo_id),
            windows=tuple(
                WindowStatus(w, _worst(ratios[(slo_id, w)])) for w in windows
            ),
            alerts=tuple(a for a in alerts if slo_id_of(a.labels) == slo_id),
        ))
    guard_alerts = tuple(a for a in alerts if slo_id_of(a.labels) is None)
    return StatusReport(api.url, tuple(slos), guard_alerts)


def _worst(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def _window_key(window: str) -> int:
    try:
        return Duration.parse(window).seconds
    except ValueError:
        return 0


def _percent(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value * 100:.{digits}f} %"


def _times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}×"


def render_text(report: StatusReport) -> str:
    lines = [f"Prometheus {report.prometheus}"]
    for slo in report.slos:
        lines += [
            "",
            f"{slo.service} {slo.name}: objective {slo.objective} % over {slo.period}, "
            f"error budget left {_percent(slo.budget_remaining, 2)}",
            f"  {'window':<8} {'SLI':>11} {'errors':>11} {'burn rate':>10}",
        ]
        for window in slo.windows:
            burn = _times(window.burn_rate(slo.error_budget))
            lines.append(
                f"  {window.window:<8} {_percent(window.sli()):>11} "
                f"{_percent(window.error_ratio):>11} {burn:>10}"
            )
        for alert in slo.alerts:
            lines.append(f"  FIRING {alert.name} ({alert.detail})")
        if not slo.alerts:
            lines.append("  no alert firing")
    if report.guard_alerts:
        lines += ["", "map guards:"]
        lines += [f"  FIRING {a.name} ({a.detail}) target={a.labels.get('target', '?')}"
                  for a in report.guard_alerts]
    return "\n".join(lines)


def report_json(report: StatusReport) -> dict[str, Any]:
    def alert(a: FiringAlert) -> dict[str, Any]:
        return {"alertname": a.name, "tier": a.tier, "labels": dict(a.labels)}

    return {
        "prometheus": report.prometheus,
        "firing": report.firing,
        "slos": [
            {
                "id": s.slo_id, "service": s.service, "slo": s.name,
                "objective_percent": s.objective, "period": s.period,
                "error_budget": s.error_budget, "budget_remaining": s.budget_remaining,
                "windows": [
                    {"window": w.window, "error_ratio": w.error_ratio, "sli": w.sli(),
                     "burn_rate": w.burn_rate(s.error_budget)}
                    for w in s.windows
                ],
                "alerts": [alert(a) for a in s.alerts],
            }
            for s in report.slos
        ],
        "guard_alerts": [alert(a) for a in report.guard_alerts],
    }
