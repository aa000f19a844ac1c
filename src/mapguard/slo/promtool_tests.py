"""promtool unit tests derived from the spec: proof that the generated rules behave.

For each SLO, four scenarios on synthetic counters (synthetic.py) at one-minute resolution:

- fast burn: healthy traffic, then an error ratio far above the fastest page threshold (enough
  to page within the short window when the objective allows); the page must fire;
- slow burn: an error ratio between the highest ticket and the lowest page threshold; a ticket
  must fire and no page ever (checked on every evaluation through the ALERTS series);
- healthy: an error ratio at half the lowest threshold; nothing fires, and every recorded
  window's error ratio equals the configured one;
- recovery: a fast burn until the page fires, then healthy traffic; the page must clear.

When to assert comes from simulate.py, always at a minute whose state holds two minutes either
side. Map guards get their own scenarios (allocation spike, long GC pauses, goroutine growth).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from mapguard.slo import guards as g
from mapguard.slo.alerts import alert_annotations, alert_labels
from mapguard.slo.conventions import Convention
from mapguard.slo.durations import Duration
from mapguard.slo.model import SLO, BurnWindow, MapGuard, PauseSource, SpecSet, Tier
from mapguard.slo.numbers import decimal_text, round_significant, terminates
from mapguard.slo.promql import Matcher, Unsupported, parse_matchers
from mapguard.slo.rules import RuleGroup, error_ratio, record_labels, slo_naming, window_labels
from mapguard.slo.simulate import (
    Phase,
    SLISimulation,
    Timeline,
    first_stable,
    for_held,
    least_squares_slope,
    stable,
)
from mapguard.slo.synthetic import Series, Traffic, derive_traffic, labels_satisfying
from mapguard.slo.yamltext import fast_dump

EVENTS_PER_MINUTE = Fraction(1000)
COUNTER_START = Fraction(1_000_000)  # far from zero: rate() never clips extrapolation at 0
WARM_UP = 70  # minutes of healthy traffic before a burn (fills the 1h window)
SLOW_BURN = 150  # minutes a slow burn lasts at least (fills every window up to 2h)
HEALTHY = 130  # minutes of healthy traffic in the healthy scenario
_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


class ScenarioError(Unsupported):
    """The spec makes a scenario impossible (e.g. a page threshold above 100 % errors)."""


# ------------------------------------------------------------------------------- helpers


def minutes(value: int) -> str:
    return f"{value}m"


def counter_values(segments: Sequence[tuple[int, Fraction]], start: Fraction) -> str:
    """promtool expanding notation for a counter: `start` at 0, then (minutes, increment)s."""
    parts, value, first = [], start, True
    for length, increment in segments:
        if length <= 0:
            continue
        head = value if first else value + increment
        count = length if first else length - 1
        parts.append(f"{decimal_text(head)}+{decimal_text(increment)}x{count}")
        value = head + increment * count
        first = False
    return " ".join(parts)


def gauge_values(segments: Sequence[tuple[int, Fraction]]) -> str:
    """Piecewise-constant gauge, minutes 0..Σlength (the first segment includes minute 0)."""
    parts, first = [], True
    for length, level in segments:
        parts.append(f"{decimal_text(level)}+0x{length if first else length - 1}")
        first = False
    return " ".join(parts)


def render_template(text: str, labels: Mapping[str, str]) -> str:
    """Expand ``{{ $labels.x }}``, the one template form mapguard can predict."""
    rendered = _TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), text)
    if "{{" in rendered:
        raise Unsupported(f"annotation template in {text!r}")
    return rendered


def _nice(value: Fraction, digits: int = 2) -> Fraction:
    """A ratio with few significant digits whose decimal terminates (readable test inputs)."""
    rounded = round_significant(value, digits)
    return rounded if terminates(rounded) else round_significant(value, 6)


def _scale(traffic: Traffic) -> Fraction:
    """Events per minute large enough that every increment is a terminating decimal."""
    scale = EVENTS_PER_MINUTE
    for share in (*traffic.good.values(), *traffic.bad.values()):
        denominator = share.denominator
        for prime in (2, 5):
            while denominator % prime == 0:
                denominator //= prime
        scale *= denominator // math.gcd(denominator, scale.numerator)
    return scale


@dataclass(frozen=True, slots=True)
class _Case:
    """One test group under construction."""

    name: str
    series: list[dict[str, str]]
    alerts: list[dict[str, Any]]
    exprs: list[dict[str, Any]]
    length: int

    def document(self) -> dict[str, Any]:
        group: dict[str, Any] = {"name": self.name, "interval": "1m",
                                 "input_series": self.series}
        # Alert checks written as queries (an alert name shared with other SLOs) join the
        # query checks.
        alerts = [check for check in self.alerts if "alertname" in check]
        exprs = [check for check in self.alerts if "alertname" not in check] + self.exprs
        if alerts:
            group["alert_rule_test"] = alerts
        if exprs:
            group["promql_expr_test"] = exprs
        return group


# ------------------------------------------------------------------------------ SLOs


class SLOScenarios:
    def __init__(self, slo: SLO, shared_names: frozenset[str] = frozenset()) -> None:
        """`shared_names`: alert names other SLOs use too (Sloth's convention allows it), whose
        alerts are checked through ALERTS filtered on this SLO rather than by name alone."""
        self.slo = slo
        self.shared_names = shared_names
        self.traffic = derive_traffic(slo)
        self.per_minute = _scale(self.traffic)
        windows = list(slo.alerting.enabled_windows)
        self.pages = [w for w in windows if w.tier is Tier.PAGE]
        self.tickets = [w for w in windows if w.tier is Tier.TICKET]
        self.windows = windows
        budget = slo.error_budget
        factors = [w.factor for w in windows] or [Fraction(1)]
        self.healthy = _nice(budget * min(Fraction(1), min(factors)) / 2)
        labels = {**record_labels(slo), **self.traffic.result_labels}
        self.ratio_labels = labels
        for window in windows:  # fail early on annotations mapguard cannot predict
            self._expected_alert(window)

    # -- building blocks

    def _window_labels(self, window: Duration) -> dict[str, str]:
        return {**window_labels(self.slo, window), **self.traffic.result_labels}

    def _expected_alert(self, window: BurnWindow) -> dict[str, Any]:
        labels = {**self.ratio_labels, **alert_labels(self.slo, window)}
        annotations = {
            k: render_template(v, labels) for k, v in alert_annotations(self.slo, window).items()
        }
        return {"exp_labels": labels, "exp_annotations": annotations}

    def _whole_events(self, phases: Sequence[Phase]) -> Fraction:
        """Events per minute that make every counter increment a whole number.

        promtool expands `a+bxn` by adding b in float64 n times; with a fractional b the sum
        can end a hair above the next segment's exact start, which rate() reads as a counter
        reset (seen on a 28d latency SLO: a 1h ratio of -17). Whole numbers add exactly.
        """
        denominators = [
            increment.denominator
            for p in phases
            for increment in self.traffic.increments(p.error_ratio, self.per_minute).values()
        ]
        return self.per_minute * math.lcm(1, *denominators)

    def _series(self, phases: Sequence[Phase]) -> list[dict[str, str]]:
        per_minute = self._whole_events(phases)
        increments = [
            (p.minutes, self.traffic.increments(p.error_ratio, per_minute)) for p in phases
        ]
        return [
            {
                "series": series.notation(),
                "values": counter_values(
                    [(length, inc[series]) for length, inc in increments], COUNTER_START
                ),
            }
            for series in self.traffic.series
        ]

    def _alert_check(self, t: int, tier: Tier, firing: Iterable[BurnWindow]) -> dict[str, Any]:
        """What fires under `tier`'s alert name at minute t. In Sloth's convention both tiers
        share that name, so the other tier's alert is expected too."""
        sloth = self.slo.convention is Convention.SLOTH
        expected = []
        for each in (Tier if sloth else (tier,)):
            burning = [w for w in self.windows if w in set(firing) and w.tier is each]
            if sloth:
                burning = burning[:1]  # one rule per tier: its windows joined by `or`
            expected += [self._expected_alert(w) for w in burning]
        name = self.slo.alert_name(tier)
        if name in self.shared_names:
            selector = "{" + ",".join(str(m) for m in (
                Matcher("alertname", "=", name), Matcher("alertstate", "=", "firing"),
                self._id_matcher(),
            )) + "}"
            return {
                "expr": f"ALERTS{selector}",
                "eval_time": minutes(t),
                "exp_samples": [
                    {"labels": "ALERTS" + _labels_text({
                        **alert["exp_labels"], "alertname": name, "alertstate": "firing"}),
                     "value": 1}
                    for alert in expected
                ],
            }
        return {
            "eval_time": minutes(t),
            "alertname": name,
            "exp_alerts": expected,
        }

    def _never(self, tier: Tier, length: int) -> dict[str, Any]:
        selector = "{" + ",".join(str(m) for m in (
            Matcher("alertname", "=", self.slo.alert_name(tier)),
            Matcher("alertstate", "=", "firing"),
            Matcher(slo_naming(self.slo).id_label, "=", self.slo.id),
            Matcher(slo_naming(self.slo).tier_label, "=", tier.value),
        )) + "}"
        return {
            "expr": f"count_over_time(ALERTS{selector}[{length + 1}m])",
            "eval_time": minutes(length),
            "exp_samples": [],
        }

    def _id_matcher(self) -> Matcher:
        return Matcher(slo_naming(self.slo).id_label, "=", self.slo.id)

    def _simulate(self, phases: Sequence[Phase]) -> tuple[Timeline, list[tuple[BurnWindow, ...]]]:
        timeline = Timeline(phases, self.per_minute)
        return timeline, SLISimulation(self.slo, timeline).firing(self.windows)

    def _name(self, text: str) -> str:
        return f"{self.slo.id}: {text}"

    # -- scenarios

    def fast_burn_ratio(self) -> Fraction:
        budget = self.slo.error_budget
        possible = [w for w in self.pages if w.factor * budget < 1]
        if not possible:
            raise ScenarioError("every page threshold is above 100 % errors")
        fastest = max(possible, key=lambda w: w.factor)
        threshold = fastest.factor * budget
        # Enough for the long window to cross the threshold within the short one, if possible.
        wanted = threshold * Fraction(fastest.long.seconds, fastest.short.seconds) * 2
        return min(Fraction(1), _nice(wanted))

    def _until_page(self, warm_up: int) -> tuple[Fraction, int]:
        burn = self.fast_burn_ratio()
        _, states = self._simulate([Phase(warm_up, self.healthy), Phase(180, burn)])
        fired = first_stable(states, warm_up, _pages)
        if fired is None:
            raise ScenarioError(f"{decimal_text(burn)} errors do not page within 3h")
        return burn, fired

    def fast_burn(self) -> _Case:
        burn, fired = self._until_page(WARM_UP)
        length = fired + 3
        phases = [Phase(WARM_UP, self.healthy), Phase(length - WARM_UP, burn)]
        _, states = self._simulate(phases)
        before = WARM_UP - 3
        if not stable(states, before) or states[before]:
            raise ScenarioError("healthy traffic already alerts")
        return _Case(
            self._name(
                f"fast burn ({_percent(burn)} errors) pages {fired - WARM_UP} min after it "
                "starts"
            ),
            self._series(phases),
            [self._alert_check(before, Tier.PAGE, states[before]),
             self._alert_check(fired, Tier.PAGE, states[fired])],
            [],
            length,
        )

    def slow_burn(self) -> _Case:
        budget = self.slo.error_budget
        low_page = min((w.factor for w in self.pages), default=None)
        high_ticket = max((w.factor for w in self.tickets), default=None)
        if low_page is not None and high_ticket is not None:
            if high_ticket >= low_page:
                raise ScenarioError("a ticket threshold is not below every page threshold")
            factor = (low_page + high_ticket) / 2
        elif low_page is not None:
            factor = low_page / 2
        else:
            assert high_ticket is not None
            factor = high_ticket * Fraction(3, 2)
        burn = _nice(factor * budget, 3)
        phases = [Phase(WARM_UP, self.healthy), Phase(600, burn)]
        _, states = self._simulate(phases)
        if any(w.tier is Tier.PAGE for s in states for w in s):
            raise ScenarioError("the slow burn would page")  # pragma: no cover - by design
        alerts: list[dict[str, Any]] = []
        if self.tickets:
            fired = first_stable(states, WARM_UP, lambda s: bool(s))
            if fired is None:
                raise ScenarioError(f"{decimal_text(burn)} errors do not ticket within 10h")
            length = max(fired + 3, WARM_UP + SLOW_BURN)
            alerts.append(self._alert_check(fired, Tier.TICKET, states[fired]))
            title = f"slow burn ({_percent(burn)} errors) tickets after {fired - WARM_UP} " \
                    "min and never pages"
        else:
            length = WARM_UP + SLOW_BURN
            title = f"slow burn ({_percent(burn)} errors) never pages"
        phases = [Phase(WARM_UP, self.healthy), Phase(length - WARM_UP, burn)]
        exprs = [self._never(Tier.PAGE, length)] if self.pages else []
        alerts += [self._alert_check(t, Tier.PAGE, states[t])
                   for t in range(WARM_UP, length, 60) if self.pages and stable(states, t)]
        return _Case(self._name(title), self._series(phases), alerts, exprs, length)

    def healthy_traffic(self) -> _Case:
        length = HEALTHY
        phases = [Phase(length, self.healthy)]
        _, states = self._simulate(phases)
        if any(states):
            raise ScenarioError("healthy traffic alerts")
        alerts = [
            self._alert_check(t, tier, ())
            for t in range(30, length + 1, 50)
            for tier in dict.fromkeys(w.tier for w in self.windows)
            if tier is Tier.PAGE or self.slo.convention is Convention.MAPGUARD
            or not self.pages
        ]
        exprs = [self._never(tier, length) for tier in Tier
                 if any(w.tier is tier for w in self.windows)]
        # Every recorded window reports the configured error ratio (relative error < 1e-6).
        exprs += [
            {
                "expr": f"abs({error_ratio(window)}{{{self._id_matcher()}}} "
                        f"/ {decimal_text(self.healthy)} - 1) < bool 0.000001",
                "eval_time": minutes(length),
                "exp_samples": [{"labels": _labels_text(self._window_labels(window)),
                                 "value": 1}],
            }
            for window in self.slo.windows
        ]
        return _Case(
            self._name(f"healthy traffic ({_percent(self.healthy)} errors) fires nothing"),
            self._series(phases), alerts, exprs, length,
        )

    def recovery(self) -> _Case:
        burn, fired = self._until_page(WARM_UP)
        stop = fired + 3
        phases = [Phase(WARM_UP, self.healthy), Phase(stop - WARM_UP, burn),
                  Phase(600, self.healthy)]
        _, states = self._simulate(phases)
        cleared = first_stable(states, stop, lambda state: not _pages(state))
        if cleared is None:
            raise ScenarioError("the page does not clear within 10h of recovery")
        length = cleared + 3
        phases[-1] = Phase(length - stop, self.healthy)
        return _Case(
            self._name(f"recovery: the page clears {cleared - stop} min after errors stop"),
            self._series(phases),
            [self._alert_check(fired, Tier.PAGE, states[fired]),
             self._alert_check(cleared, Tier.PAGE, states[cleared])],
            [],
            length,
        )

    def cases(self) -> tuple[list[_Case], list[str]]:
        """Every scenario the SLO allows, and why the others were left out."""
        scenarios = [
            *([self.fast_burn] if self.pages else []),
            *([self.slow_burn] if self.windows else []),
            self.healthy_traffic,
            *([self.recovery] if self.pages else []),
        ]
        return _collect(scenarios, f"{self.slo.source}: {self.slo.path}")


def _pages(state: tuple[BurnWindow, ...]) -> bool:
    return any(w.tier is Tier.PAGE for w in state)


def _percent(ratio: Fraction) -> str:
    return f"{decimal_text(ratio * 100) if terminates(ratio) else f'{float(ratio):.4%}'} %"


def _labels_text(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(str(Matcher(k, "=", v)) for k, v in sorted(labels.items())) + "}"


# ------------------------------------------------------------------------- map guards


class GuardScenarios:
    def __init__(self, guard: MapGuard) -> None:
        self.guard = guard
        go_labels = labels_satisfying(parse_matchers(guard.go_selector))
        if go_labels is None:
            raise ScenarioError("no label values satisfy go_selector")
        self.go_labels = {**go_labels, "instance": go_labels.get("instance", "10.0.0.1:8080")}

    def _alert(self, alertname: str, t: int, labels: Mapping[str, str] | None,
               rule_labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict[str, Any]:
        expected = []
        if labels is not None:
            full = {**labels, **rule_labels}
            expected.append({
                "exp_labels": full,
                "exp_annotations": {k: render_template(v, full) for k, v in annotations.items()},
            })
        return {"eval_time": minutes(t), "alertname": alertname, "exp_alerts": expected}

    def _rule(self, alertname: str) -> Any:
        rules = [*g.alloc_rules(self.guard), *g.gc_rules(self.guard),
                 *g.goroutine_rules(self.guard)]
        return next(r for r in rules if getattr(r, "alert", None) == alertname)

    def alloc_spike(self) -> _Case:
        guard = self.guard
        floor = Fraction(guard.min_alloc_bytes_per_second)
        rate = max(2 * floor, Fraction(1048576))  # bytes per second
        factor = 1 + Fraction(guard.alloc_increase_percent) / 100
        spike = math.ceil(factor * 3 / 2 + 1)
        windows = (guard.alloc_window, guard.baseline_window, guard.baseline_offset)
        if any(w.seconds % 60 for w in windows) or guard.alloc_window.minutes < 2:
            raise ScenarioError("the tests run at one-minute resolution: the windows must be "
                                "whole minutes, alloc_window at least 2m")
        window, base_window, offset = (w.minutes for w in windows)
        yesterday = guard.baseline == "same_hour_yesterday"
        warm_up = (1440 if yesterday else 0) + max(
            120, (0 if yesterday else offset) + base_window + 45)
        per_minute = [rate * 60] * warm_up + [rate * 60 * spike] * 60
        counter = [COUNTER_START]
        for increment in per_minute:
            counter.append(counter[-1] + increment)
        conditions = []
        for t in range(len(counter)):
            current = (counter[t] - counter[t - window]) / (60 * window) if t >= window else None
            base_end = t - 1440 if yesterday else t - offset
            baseline = (counter[base_end] - counter[base_end - base_window]) / (
                60 * base_window) if base_end - base_window >= 0 else None
            conditions.append(
                current is not None and baseline is not None
                and current > factor * baseline and current > floor
            )
        states = for_held(conditions, guard.alloc_for.minutes)
        fired = first_stable(states, warm_up, bool)
        if fired is None:
            raise ScenarioError(f"a {spike}× allocation spike does not fire")
        length = fired + 3
        series = Series(g.ALLOC_METRIC, (("op", "assign"), ("site", "main.go:42"),
                                         ("target", guard.target)))
        rule = self._rule(g.ALLOC_ALERT)
        result = {"target": guard.target, "site": "main.go:42"}
        return _Case(
            f"guard {guard.target}: a {spike}x map allocation spike fires after "
            f"{fired - warm_up} min",
            [{"series": series.notation(), "values": counter_values(
                [(warm_up, rate * 60), (length - warm_up, rate * 60 * spike)], COUNTER_START)}],
            [self._alert(g.ALLOC_ALERT, warm_up - 3, None, rule.labels, rule.annotations),
             self._alert(g.ALLOC_ALERT, fired, result, rule.labels, rule.annotations)],
            [],
            length,
        )

    def gc_pauses(self) -> _Case | None:
        guard = self.guard
        if guard.gc_pause_max_seconds is None:
            return None
        bound = Fraction(guard.gc_pause_max_seconds)
        calm, long = 30, 30 + guard.gc_for.minutes + 10
        labels = {**self.go_labels}
        if guard.gc_pause_source is PauseSource.HISTOGRAM:
            series = self._pause_histogram(bound, calm, long - calm, labels)
            settle = 5  # rate(...[5m]) needs the new buckets to dominate
        else:
            name = Series("go_gc_duration_seconds",
                          tuple(sorted({**labels, "quantile": "1"}.items())))
            series = [{"series": name.notation(),
                       "values": gauge_values([(calm, bound / 2), (long - calm, bound * 2)])}]
            settle = 1
        fired = calm + settle + guard.gc_for.minutes + 3
        rule = self._rule(g.GC_ALERT)
        result = {"job": labels.get("job", ""), "instance": labels["instance"],
                  "target": guard.target}
        result = {k: v for k, v in result.items() if v}
        return _Case(
            f"guard {guard.target}: GC pauses at twice the bound fire after {guard.gc_for}",
            series,
            [self._alert(g.GC_ALERT, calm - 3, None, rule.labels, rule.annotations),
             self._alert(g.GC_ALERT, fired, result, rule.labels, rule.annotations)],
            [],
            long,
        )

    def _pause_histogram(self, bound: Fraction, calm: int, slow: int,
                         labels: Mapping[str, str]) -> list[dict[str, str]]:
        buckets = [(decimal_text(bound / 2), 100, 50), (decimal_text(bound * 2), 100, 100),
                   ("+Inf", 100, 100)]
        return [
            {
                "series": Series("go_sched_pauses_total_gc_seconds_bucket",
                                 tuple(sorted({**labels, "le": le}.items()))).notation(),
                "values": counter_values([(calm, Fraction(before)), (slow, Fraction(after))],
                                         COUNTER_START),
            }
            for le, before, after in buckets
        ]

    def goroutines(self) -> _Case | None:
        guard = self.guard
        if guard.goroutine_growth_per_hour is None:
            return None
        growth = Fraction(guard.goroutine_growth_per_hour)
        per_minute = Fraction(math.ceil(growth * 2 / 60))
        flat = 70
        total = flat + 60 + guard.goroutine_for.minutes + 30
        values = [100.0] * (flat + 1) + [
            100.0 + float(per_minute) * k for k in range(1, total - flat + 1)
        ]
        conditions = [
            t >= 1 and least_squares_slope(values[max(0, t - 60): t + 1]) * 60 > growth
            for t in range(len(values))
        ]
        states = for_held(conditions, guard.goroutine_for.minutes)
        fired = first_stable(states, flat, bool)
        if fired is None:
            raise ScenarioError("the goroutine growth does not fire")
        length = fired + 3
        name = Series("go_goroutines", tuple(sorted(self.go_labels.items())))
        rule = self._rule(g.GOROUTINE_ALERT)
        result = {**self.go_labels, "target": guard.target}
        return _Case(
            f"guard {guard.target}: goroutines growing by {decimal_text(per_minute * 60)}/h "
            f"fire after {fired - flat} min",
            [{"series": name.notation(),
              "values": counter_values([(flat, Fraction(0)), (length - flat, per_minute)],
                                       Fraction(100))}],
            [self._alert(g.GOROUTINE_ALERT, flat - 3, None, rule.labels, rule.annotations),
             self._alert(g.GOROUTINE_ALERT, fired, result, rule.labels, rule.annotations)],
            [],
            length,
        )

    def cases(self) -> tuple[list[_Case], list[str]]:
        return _collect([self.alloc_spike, self.gc_pauses, self.goroutines],
                        f"{self.guard.source}: {self.guard.path}")


def _collect(
    scenarios: Sequence[Callable[[], _Case | None]], where: str
) -> tuple[list[_Case], list[str]]:
    cases, warnings = [], []
    for scenario in scenarios:
        try:
            case = scenario()
        except ScenarioError as exc:
            name = scenario.__name__.replace("_", " ")
            warnings.append(f"{where}: no promtool test for the {name} scenario: {exc}")
            continue
        if case is not None:
            cases.append(case)
    return cases, warnings


# ------------------------------------------------------------------------------ file


def build_tests(
    specs: SpecSet, groups: Sequence[RuleGroup], rules_file: str
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The promtool test document, and a warning for each SLO or guard it could not test."""
    cases: list[_Case] = []
    warnings: list[str] = []
    names = [name for slo in specs.slos for name in {slo.alert_name(tier) for tier in Tier}]
    shared = frozenset(name for name in names if names.count(name) > 1 and name)
    for slo in specs.slos:
        try:
            found, skipped = SLOScenarios(slo, shared).cases()
        except Unsupported as exc:
            warnings.append(f"{slo.source}: {slo.path}: no promtool tests for SLO {slo.id!r}: "
                            f"mapguard cannot simulate {exc}")
            continue
        cases += found
        warnings += skipped
    for guard in specs.guards:
        try:
            found, skipped = GuardScenarios(guard).cases()
        except Unsupported as exc:
            warnings.append(f"{guard.source}: {guard.path}: no promtool tests: {exc}")
            continue
        cases += found
        warnings += skipped
    document = {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "group_eval_order": [group.name for group in groups],
        "tests": [case.document() for case in cases],
    }
    return document, tuple(warnings)


def render_tests(document: dict[str, Any]) -> str:
    header = (
        "promtool unit tests generated by `mapguard slo generate --tests`.\n"
        "Run: promtool test rules <this file>"
    )
    return fast_dump(document, header=header)
