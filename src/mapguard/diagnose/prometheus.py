"""Evidence from a Prometheus holding per-site map allocation metrics: map bytes by site over a
span, and the time series correlation needs (each site's allocation rate, GC pause time,
latency).

Metric names are those `mapguard watch` exports (the SLO map guards alert on the same
names): `mapguard_map_alloc_bytes_total{target,site,op}`,
`mapguard_map_alloc_share{target}`, `mapguard_gc_pause_seconds{target}`. The rate window of the
series is four steps, so a rate never reads a window without two samples.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mapguard.bundle.evidence import CostEvidence, SiteValue, parse_site_label
from mapguard.diagnose.correlate import Correlation, aligned, correlate
from mapguard.errors import ToolError, UsageError

ALLOC = "mapguard_map_alloc_bytes_total"
SHARE = "mapguard_map_alloc_share"
PAUSES = "mapguard_gc_pause_seconds"
MAX_POINTS = 11_000  # Prometheus refuses a range query of more points than this


@dataclass(frozen=True, slots=True)
class Series:
    labels: Mapping[str, str]
    points: Mapping[float, float]  # unix seconds -> value


class RangeAPI:
    def __init__(self, url: str, *, timeout: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"--prometheus {url!r}: expected an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)

    def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.get(f"{self.url}{path}", params=params)
        except httpx.HTTPError as exc:
            raise ToolError(f"cannot reach Prometheus at {self.url}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise ToolError(f"{self.url}{path} answered HTTP {response.status_code} without "
                            "JSON: is this a Prometheus server?") from None
        if response.status_code != 200 or body.get("status") != "success":
            raise ToolError(f"Prometheus rejected {params.get('query')!r}: "
                            f"{body.get('error', response.text)}")
        data: dict[str, Any] = body.get("data", {})
        return data

    def instant(self, query: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": query, "time": at})
        if data.get("resultType") != "vector":
            raise ToolError(f"unexpected {data.get('resultType')!r} result for {query!r}")
        return [Series(item.get("metric", {}), {float(item["value"][0]):
                                                 float(item["value"][1])})
                for item in data.get("result", [])]

    def range(self, query: str, start: float, end: float, step: float) -> list[Series]:
        data = self._get("/api/v1/query_range",
                         {"query": query, "start": start, "end": end, "step": step})
        if data.get("resultType") != "matrix":
            raise ToolError(f"unexpected {data.get('resultType')!r} result for {query!r}")
        return [Series(item.get("metric", {}),
                       {float(t): float(v) for t, v in item.get("values", [])
                        if not math.isnan(float(v))})
                for item in data.get("result", [])]


@dataclass(frozen=True, slots=True)
class Window:
    start: float
    end: float
    step: float

    @classmethod
    def last(cls, since_s: float, step_s: float, now: float | None = None) -> Window:
        end = now if now is not None else time.time()
        if since_s / step_s > MAX_POINTS:
            raise UsageError(f"--since {since_s:g}s with --step {step_s:g}s is more than "
                             f"{MAX_POINTS} points: use a larger --step")
        return cls(end - since_s, end, step_s)

    @property
    def span(self) -> str:
        return f"{round(self.end - self.start)}s"

    @property
    def rate_window(self) -> str:
        return f"{round(4 * self.step)}s"


def _selector(target: str) -> str:
    escaped = target.replace("\\", "\\\\").replace('"', '\\"')
    return f'{{target="{escaped}"}}'


def watch_costs(api: RangeAPI, target: str, window: Window) -> CostEvidence:
    """Map bytes by site and op over the window; all bytes from the exported share."""
    selector = _selector(target)
    by_site = api.instant(f"sum by (site, op) (increase({ALLOC}{selector}[{window.span}]))",
                          window.end)
    if not by_site:
        raise ToolError(f"Prometheus has no {ALLOC} for target {target!r} in the last "
                        f"{window.span}: is mapguard watch scraped, and the target named so?")
    sites = sorted((SiteValue(parse_site_label(s.labels.get("site", "other")),
                              s.labels.get("op", "grow"), round(next(iter(s.points.values()))))
                    for s in by_site), key=lambda s: -s.value)
    map_total = sum(s.value for s in sites)
    share = api.instant(f"avg_over_time({SHARE}{selector}[{window.span}])", window.end)
    mean_share = next(iter(share[0].points.values())) if share else 0.0
    total = round(map_total / mean_share) if mean_share > 0 else map_total
    notes = () if mean_share > 0 else (
        f"no {SHARE} for {target}: shares are of map bytes, not of all allocation",)
    by_op: dict[str, int] = {}
    for site in sites:
        by_op[site.op] = by_op.get(site.op, 0) + site.value
    return CostEvidence(f"prometheus: {ALLOC}{selector}", "watch", "bytes", total, map_total,
                        by_op, tuple(s for s in sites if s.value > 0), {},
                        window.end - window.start, notes=notes)


def correlations(api: RangeAPI, target: str, window: Window, *,
                 latency_query: str | None = None, top_sites: int = 10,
                 max_lag: int = 2) -> list[Correlation]:
    """Each of the top sites' allocation rate against GC pause time (and latency)."""
    selector = _selector(target)
    rate = window.rate_window
    site_series = api.range(f"sum by (site) (rate({ALLOC}{selector}[{rate}]))",
                            window.start, window.end, window.step)
    site_series = sorted(site_series, key=lambda s: -sum(s.points.values()))[:top_sites]
    signals = {"GC pause time": api.range(f"sum(rate({PAUSES}_sum{selector}[{rate}]))",
                                          window.start, window.end, window.step)}
    if latency_query:
        signals["latency"] = api.range(latency_query, window.start, window.end, window.step)
    available = {name: found[0].points for name, found in signals.items() if found}
    if not site_series or not available:
        return []
    names = [s.labels.get("site", "other") for s in site_series]
    everything = [s.points for s in site_series] + list(available.values())
    _, columns = aligned(everything)
    rates = dict(zip(names, columns[:len(names)], strict=True))
    values = dict(zip(available, columns[len(names):], strict=True))
    return correlate(rates, values, step_s=window.step, max_lag=max_lag)


def series_for_plot(api: RangeAPI, target: str, window: Window, top_sites: int = 5
                    ) -> dict[str, Any]:
    """Rates over time for the report: the top sites' map allocation and GC pause time."""
    selector = _selector(target)
    rate = window.rate_window
    sites = api.range(f"sum by (site) (rate({ALLOC}{selector}[{rate}]))", window.start,
                      window.end, window.step)
    sites = sorted(sites, key=lambda s: -sum(s.points.values()))[:top_sites]
    pauses = api.range(f"sum(rate({PAUSES}_sum{selector}[{rate}]))", window.start,
                       window.end, window.step)
    return {
        "sites": {s.labels.get("site", "other"): _pairs(s.points) for s in sites},
        "gc_pause_seconds_per_second": _pairs(pauses[0].points) if pauses else [],
    }


def _pairs(points: Mapping[float, float]) -> list[list[float]]:
    return [[t, points[t]] for t in sorted(points)]


def costs_json(target: str, costs: CostEvidence) -> dict[str, Any]:
    """The window's map bytes in the bundle's watch/ shape (one interval, by site)."""
    return {"target": target, "seconds": costs.seconds, "total_bytes": costs.total,
            "map_bytes": costs.map_total,
            "sites": [{"site": f"{s.site.file}:{s.site.line}" if s.site.line
                       else s.site.function or "other", "op": s.op, "bytes": s.value}
                      for s in costs.sites]}
