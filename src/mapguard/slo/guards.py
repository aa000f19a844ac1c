"""Map guards: alerts on the causes that burn an SLO's budget, before the SLO notices.

- Map allocation rate (``mapguard_map_alloc_bytes_total{target,site,op}``, exported by
  `mapguard watch`) up more than N % (default 300 %) per site, against the
  same hour yesterday or, where yesterday has no data (a new deployment), the hour before the
  last 15 minutes. The
  baseline ends 15m ago so that the spike being measured is not averaged into its own baseline
  (against a plain last-hour average a 6× spike stops looking like one after six minutes).
  The three windows (5m rate, 1h baseline, 15m offset) are the guard's `alloc_window`,
  `baseline_window` and `baseline_offset`; the recording rules keep their names. A series
  has a baseline only once it covers the whole baseline window.
- GC pauses from Go's own metrics: ``go_gc_duration_seconds`` is a summary of per-cycle pause
  sums with quantiles 0, 0.25, 0.5, 0.75 and 1 only, over the last GC cycles. It has no 0.99
  quantile, so by default the bound is checked against quantile 1 (the largest recent cycle), an
  upper bound of the p99 held for `gc_for`; with ``gc_pause_source: histogram`` a true p99 of
  individual stop-the-world pauses comes from ``go_sched_pauses_total_gc_seconds_bucket``.
- Goroutines growing without bound: a 1h linear trend above N per hour, held for hours.
"""

from __future__ import annotations

from fractions import Fraction

from mapguard.slo.durations import Duration
from mapguard.slo.model import MapGuard, PauseSource
from mapguard.slo.numbers import decimal_text, exact_text
from mapguard.slo.promql import Matcher
from mapguard.slo.rules import AlertingRule, RecordingRule, Rule, RuleGroup

ALLOC_METRIC = "mapguard_map_alloc_bytes_total"
ALLOC_RATE = "mapguard:map_alloc_bytes:rate5m"
ALLOC_BASELINE = "mapguard:map_alloc_bytes:baseline_rate1h"
GC_PAUSE_MAX = "mapguard:go_gc_pause_seconds:max"
GC_PAUSE_P99 = "mapguard:go_gc_pause_seconds:p99"
GOROUTINE_TREND = "mapguard:go_goroutines:deriv1h"

ALLOC_ALERT = "MapguardMapAllocSpike"
GC_ALERT = "MapguardGCPauseHigh"
GOROUTINE_ALERT = "MapguardGoroutineGrowth"


def _target(guard: MapGuard) -> str:
    return "{" + str(Matcher("target", "=", guard.target)) + "}"


def _go(guard: MapGuard, *extra: str) -> str:
    parts = [part for part in (*extra, guard.go_selector) if part]
    return "{" + ",".join(parts) + "}"


def _labels(guard: MapGuard, kind: str) -> dict[str, str]:
    return {
        "severity": "warning", **guard.labels,
        "mapguard_tier": "ticket", "mapguard_guard": kind, "target": guard.target,
    }


def _annotations(guard: MapGuard, summary: str, description: str) -> dict[str, str]:
    found = {"summary": summary, "description": description}
    if guard.runbook_url:
        found["runbook_url"] = guard.runbook_url
    if guard.dashboard_url:
        found["dashboard_url"] = guard.dashboard_url
    return {**found, **guard.annotations}


def _alloc_rate(guard: MapGuard, window: str, offset: str | None = None) -> str:
    shifted = f" offset {offset}" if offset else ""
    return (
        f"sum by (target, site) (rate({ALLOC_METRIC}{_target(guard)}[{window}]{shifted}))"
    )


def _span(window: Duration) -> str:
    return "hour" if window == Duration(3600) else str(window)


def _baseline(guard: MapGuard, offset: Duration) -> str:
    """The rate over the baseline window, only where the series already existed when that
    window began: rate() over a window a new series covers only in part reads low, and every
    new site (a new target, a line moved by a deploy) would look like a spike."""
    window = guard.baseline_window
    return (
        f"{_alloc_rate(guard, str(window), str(offset))}\n  and on (target, site)\n"
        f"  sum by (target, site) ({ALLOC_METRIC}{_target(guard)} offset "
        f"{Duration(offset.seconds + window.seconds)})"
    )


def alloc_baseline_expr(guard: MapGuard) -> str:
    yesterday = _baseline(guard, Duration(86400))
    last_hour = _baseline(guard, guard.baseline_offset)
    if guard.baseline == "same_hour_yesterday":
        return yesterday
    if guard.baseline == "last_hour":
        return last_hour
    return f"{yesterday}\nor\n{last_hour}"


def alloc_rules(guard: MapGuard) -> tuple[Rule, ...]:
    selector = _target(guard)
    factor = exact_text(1 + Fraction(guard.alloc_increase_percent) / 100)
    floor = decimal_text(guard.min_alloc_bytes_per_second)
    percent = decimal_text(guard.alloc_increase_percent)
    return (
        # `target` is in the result already; as a rule label it keeps guards' rules distinct.
        RecordingRule(ALLOC_RATE, _alloc_rate(guard, str(guard.alloc_window)),
                      {"target": guard.target}),
        RecordingRule(ALLOC_BASELINE, alloc_baseline_expr(guard), {"target": guard.target}),
        AlertingRule(
            ALLOC_ALERT,
            f"{ALLOC_RATE}{selector}\n  > {factor} * {ALLOC_BASELINE}{selector}\n"
            f"and\n{ALLOC_RATE}{selector} > {floor}",
            _labels(guard, "alloc_spike"),
            _annotations(
                guard,
                f"{guard.target}: map allocation at {{{{ $labels.site }}}} is up more than "
                f"{percent} %",
                f"Map allocation bytes per second at {{{{ $labels.site }}}} in {guard.target} "
                f"have been more than {percent} % above their baseline (same hour yesterday, "
                f"else the {_span(guard.baseline_window)} before the last "
                f"{guard.baseline_offset}) for {guard.alloc_for}, "
                f"and above {floor} B/s. More garbage means more GC work and longer pauses.",
            ),
            guard.alloc_for,
        ),
    )


def gc_rules(guard: MapGuard) -> tuple[Rule, ...]:
    if guard.gc_pause_max_seconds is None:
        return ()
    labels = {"target": guard.target}
    if guard.gc_pause_source is PauseSource.HISTOGRAM:
        record = GC_PAUSE_P99
        expr = (
            "histogram_quantile(0.99, sum by (job, instance, le) "
            f"(rate(go_sched_pauses_total_gc_seconds_bucket{_go(guard)}[5m])))"
        )
        what = "p99 of stop-the-world GC pauses"
    else:
        record = GC_PAUSE_MAX
        selector = _go(guard, 'quantile="1"')
        expr = f"max by (job, instance) (go_gc_duration_seconds{selector})"
        what = "longest recent GC cycle pause (go_gc_duration_seconds quantile 1, >= p99)"
    bound = decimal_text(guard.gc_pause_max_seconds)
    return (
        RecordingRule(record, expr, labels),
        AlertingRule(
            GC_ALERT,
            f"{record}{_target(guard)} > {bound}",
            _labels(guard, "gc_pause"),
            _annotations(
                guard,
                f"{guard.target}: GC pauses above {bound} s",
                f"The {what} of {guard.target} has been above {bound} s for {guard.gc_for}.",
            ),
            guard.gc_for,
        ),
    )


def goroutine_rules(guard: MapGuard) -> tuple[Rule, ...]:
    if guard.goroutine_growth_per_hour is None:
        return ()
    growth = decimal_text(guard.goroutine_growth_per_hour)
    return (
        RecordingRule(GOROUTINE_TREND, f"deriv(go_goroutines{_go(guard)}[1h])",
                      {"target": guard.target}),
        AlertingRule(
            GOROUTINE_ALERT,
            f"{GOROUTINE_TREND}{_target(guard)} * 3600 > {growth}",
            _labels(guard, "goroutines"),
            _annotations(
                guard,
                f"{guard.target}: goroutines growing without bound",
                f"The goroutine count of {guard.target} has grown faster than {growth} per "
                f"hour for {guard.goroutine_for}: a leak (blocked senders, forgotten "
                "tickers, per-request goroutines that never exit) until proven otherwise.",
            ),
            guard.goroutine_for,
        ),
    )


def guard_groups(guard: MapGuard) -> tuple[RuleGroup, ...]:
    rules = (*alloc_rules(guard), *gc_rules(guard), *goroutine_rules(guard))
    return (RuleGroup(f"mapguard-guard-{guard.target}", rules),)
