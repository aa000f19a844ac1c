"""The one SLO model inside mapguard, whatever spec format it was read from.

Records are frozen; numbers are exact (`Decimal` objectives, `Fraction` budgets and factors).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from mapguard.slo.conventions import Convention, naming
from mapguard.slo.durations import Duration

WINDOW_TEMPLATE = re.compile(r"\{\{-?\s*\.window\s*-?\}\}")

# The SLI error ratio is recorded for these windows and for the SLO period (SRE workbook).
STANDARD_WINDOWS: tuple[Duration, ...] = tuple(
    Duration.parse(text) for text in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
)


class Tier(StrEnum):
    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True, slots=True)
class BurnWindow:
    """One multiwindow alert: fire while both windows burn faster than `factor` × budget."""

    tier: Tier
    long: Duration
    short: Duration
    factor: Fraction
    # Share of the period's budget spent over `long` at that burn (workbook style), if known.
    budget_share: Fraction | None = None
    for_: Duration | None = None
    # How the burn rate compares with the threshold: ">" (a burn alert) unless an OpenSLO
    # AlertCondition says otherwise (op: gte, lt, lte).
    op: str = ">"

    @property
    def pair(self) -> str:
        return f"{self.long}/{self.short}"


# (tier, long, short, share of the period's budget consumed at the threshold): SRE workbook.
WORKBOOK_WINDOWS: tuple[tuple[Tier, str, str, Fraction], ...] = (
    (Tier.PAGE, "1h", "5m", Fraction(2, 100)),
    (Tier.PAGE, "6h", "30m", Fraction(5, 100)),
    (Tier.TICKET, "1d", "2h", Fraction(10, 100)),
    (Tier.TICKET, "3d", "6h", Fraction(10, 100)),
)


def burn_factor(share: Fraction, period: Duration, long: Duration) -> Fraction:
    """The burn rate that spends `share` of the period's budget in `long`: share × period ÷ long."""
    return share * Fraction(period.seconds, long.seconds)


@functools.cache
def workbook_windows(period: Duration) -> tuple[BurnWindow, ...]:
    return tuple(
        BurnWindow(tier, long, short, burn_factor(share, period, long), share)
        for tier, long_text, short_text, share in WORKBOOK_WINDOWS
        for long, short in [(Duration.parse(long_text), Duration.parse(short_text))]
    )


@dataclass(frozen=True, slots=True)
class EventsSLI:
    """Bad events ÷ all events; both queries contain ``{{.window}}``."""

    error_query: str
    total_query: str


@dataclass(frozen=True, slots=True)
class RawSLI:
    """A query that already yields the error ratio over ``{{.window}}``."""

    error_ratio_query: str


@dataclass(frozen=True, slots=True)
class LatencySLI:
    """Requests slower than the histogram bucket `le` are the bad events."""

    histogram: str  # base name: <histogram>_bucket and <histogram>_count
    le: str  # the bucket boundary exactly as the `le` label writes it
    selector: str = ""  # extra label matchers, e.g. 'job="api",route!="/healthz"'

    def _selector(self, *extra: str) -> str:
        parts = [part for part in (self.selector.strip(), *extra) if part]
        return "{" + ",".join(parts) + "}" if parts else ""

    @property
    def total_query(self) -> str:
        return f"sum(rate({self.histogram}_count{self._selector()}[{{{{.window}}}}]))"

    @property
    def error_query(self) -> str:
        fast = self._selector(f'le="{self.le}"')
        return (
            f"{self.total_query} - "
            f"sum(rate({self.histogram}_bucket{fast}[{{{{.window}}}}]))"
        )


SLI = EventsSLI | RawSLI | LatencySLI


@dataclass(frozen=True, slots=True)
class TierAlert:
    enabled: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NoDataAlert:
    """Fire while the SLI has no value over `window` (OpenSLO's alertWhenNoData)."""

    tier: Tier
    window: Duration
    for_: Duration | None = None


@dataclass(frozen=True, slots=True)
class Alerting:
    name: str
    windows: tuple[BurnWindow, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    page: TierAlert = TierAlert()
    ticket: TierAlert = TierAlert()
    runbook_url: str | None = None
    dashboard_url: str | None = None
    no_data: tuple[NoDataAlert, ...] = ()

    def tier(self, tier: Tier) -> TierAlert:
        return self.page if tier is Tier.PAGE else self.ticket

    def alert_name(self, tier: Tier) -> str:
        """mapguard's convention: page and ticket have distinct names, so routing and
        silences can tell them apart (Sloth's convention uses `name` for both)."""
        return f"{self.name}{tier.value.capitalize()}"

    @property
    def enabled_windows(self) -> tuple[BurnWindow, ...]:
        return tuple(w for w in self.windows if self.tier(w.tier).enabled)


@dataclass(frozen=True, slots=True)
class GroupIntervals:
    """Evaluation interval per rule group (None: Prometheus' global evaluation_interval)."""

    sli: Duration | None = None
    meta: Duration | None = None
    alerts: Duration | None = None


@dataclass(frozen=True, slots=True)
class Resource:
    """The Kubernetes object an SLO was read from (Sloth's PrometheusServiceLevel)."""

    name: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


class Step(StrEnum):
    """The generation steps (Sloth's default SLO plugin chain)."""

    SLI = "sli"
    META = "meta"
    ALERTS = "alerts"


ALL_STEPS = frozenset(Step)


@dataclass(frozen=True, slots=True)
class SLO:
    service: str
    name: str
    objective: Decimal  # percent, e.g. 99.9
    period: Duration
    sli: SLI
    alerting: Alerting
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    info_labels: Mapping[str, str] = field(default_factory=dict)
    intervals: GroupIntervals = GroupIntervals()
    source: str = ""  # file the SLO came from
    path: str = ""  # its field path there, e.g. "slos[0]"
    convention: Convention = Convention.MAPGUARD
    spec_version: str = ""  # e.g. "prometheus/v1", written on Sloth's sloth_slo_info
    slo_id: str | None = None  # when the format names it (Sloth's OpenSLO: service-name-index)
    steps: frozenset[Step] = ALL_STEPS
    # The period's ratio is built from the recorded 5m rates (cheap); False reads it directly.
    optimized_period: bool = True
    # Calendar-aligned periods: the Unix time one period starts (the others follow every
    # `period`); None for a rolling period.
    calendar_start: int | None = None
    resource: Resource | None = None

    @property
    def id(self) -> str:
        return self.slo_id or f"{self.service}-{self.name}"

    def alert_name(self, tier: Tier) -> str:
        if self.convention is Convention.SLOTH:
            return self.alerting.name
        return self.alerting.alert_name(tier)

    @property
    def target(self) -> Fraction:
        return Fraction(self.objective) / 100

    @property
    def error_budget(self) -> Fraction:
        return 1 - self.target

    @property
    def windows(self) -> tuple[Duration, ...]:
        """Every window the SLI error ratio is recorded for, shortest first."""
        wanted = {*STANDARD_WINDOWS, self.period}
        for window in self.alerting.windows:
            wanted.update((window.long, window.short))
        return tuple(sorted(wanted))

    @property
    def alert_windows(self) -> tuple[Duration, ...]:
        """Every window an enabled alert reads, shortest first."""
        wanted = {d for w in self.alerting.enabled_windows for d in (w.long, w.short)}
        wanted.update(alert.window for alert in self.alerting.no_data)
        return tuple(sorted(wanted))

    @property
    def identity_labels(self) -> dict[str, str]:
        return naming(self.convention).identity(self.service, self.name, self.id)


_TEN_MINUTES = Duration(600)
_FIFTEEN_MINUTES = Duration(900)
_THREE_HOURS = Duration(3 * 3600)
_FIVE_MINUTES = Duration(300)
_ONE_HOUR = Duration(3600)


class AllocBaseline(StrEnum):
    AUTO = "auto"  # the same hour yesterday, else the last hour
    YESTERDAY = "same_hour_yesterday"
    LAST_HOUR = "last_hour"


class PauseSource(StrEnum):
    SUMMARY = "summary"  # go_gc_duration_seconds{quantile="1"}: max of recent cycles, >= p99
    HISTOGRAM = "histogram"  # go_sched_pauses_total_gc_seconds_bucket (client_golang >= 1.17)


@dataclass(frozen=True, slots=True)
class MapGuard:
    """Alerts on the map-level causes that burn a budget before the SLO notices."""

    target: str  # `target` label of mapguard_* metrics
    go_selector: str  # matchers selecting the target's Go runtime metrics
    alloc_increase_percent: Decimal = Decimal(300)
    baseline: AllocBaseline = AllocBaseline.AUTO
    min_alloc_bytes_per_second: Decimal = Decimal(1048576)
    alloc_for: Duration = _TEN_MINUTES
    # The spike is the rate over `alloc_window`; the last-hour baseline is the rate over
    # `baseline_window`, ending `baseline_offset` ago (the same hour yesterday ends 1d ago).
    alloc_window: Duration = _FIVE_MINUTES
    baseline_window: Duration = _ONE_HOUR
    baseline_offset: Duration = _FIFTEEN_MINUTES
    gc_pause_max_seconds: Decimal | None = None
    gc_pause_source: PauseSource = PauseSource.SUMMARY
    gc_for: Duration = _FIFTEEN_MINUTES
    goroutine_growth_per_hour: Decimal | None = None
    goroutine_for: Duration = _THREE_HOURS
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    runbook_url: str | None = None
    dashboard_url: str | None = None
    source: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True)
class SpecSet:
    """Everything read from one or more spec files."""

    slos: tuple[SLO, ...] = ()
    guards: tuple[MapGuard, ...] = ()
    warnings: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()  # format of each file read, e.g. "prometheus/v1"

    def merged(self, other: SpecSet) -> SpecSet:
        return SpecSet(
            self.slos + other.slos,
            self.guards + other.guards,
            self.warnings + other.warnings,
            self.formats + other.formats,
        )
