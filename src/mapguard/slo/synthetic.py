"""Synthetic counters that make an SLI query see exactly the error ratio a test wants.

The SLI's error and total queries are read as linear combinations of counter rates (promql.py).
For every selector we build one series that matches it and, for each of its matchers, one that
matches all but that matcher; then we look for a small set of those series that is all-good
(errors 0, total 1) and one that is all-bad (errors = total). Any error ratio r is then
``(1 - r) × good + r × bad``. Queries outside the linear subset raise `Unsupported`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

from mapguard.slo.model import SLO, RawSLI
from mapguard.slo.promql import (
    Linear,
    Matcher,
    Selector,
    Unsupported,
    linear,
    parse,
    ratio_parts,
    regex_examples,
)

_FILLER_VALUES = ("", "x", "mapguard", "0", "200", "500", "GET")


@dataclass(frozen=True, slots=True, order=True)
class Series:
    name: str
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)

    def notation(self) -> str:
        """``name{a="b"}`` as promtool's input_series expects it."""
        inner = ",".join(str(Matcher(k, "=", v)) for k, v in self.labels)
        return f"{self.name}{{{inner}}}" if inner else self.name


@dataclass(frozen=True, slots=True)
class Traffic:
    """Per unit of traffic: how much each series grows when all events are good or bad."""

    good: Mapping[Series, Fraction]
    bad: Mapping[Series, Fraction]
    result_labels: Mapping[str, str]  # labels the SLI series carry (from `sum by`)

    @property
    def series(self) -> tuple[Series, ...]:
        return tuple(sorted({*self.good, *self.bad}))

    def increments(self, error_ratio: Fraction, total: Fraction) -> dict[Series, Fraction]:
        return {
            s: total * ((1 - error_ratio) * self.good.get(s, Fraction(0))
                        + error_ratio * self.bad.get(s, Fraction(0)))
            for s in self.series
        }


def _candidates_for_label(name: str, matchers: Iterable[Matcher]) -> list[str]:
    values: list[str] = list(_FILLER_VALUES)
    for matcher in matchers:
        if matcher.op in {"=", "!="}:
            values.append(matcher.value)
        else:
            values += regex_examples(matcher.value)
    return list(dict.fromkeys(values))


def labels_satisfying(
    required: Iterable[Matcher], violated: Matcher | None = None
) -> dict[str, str] | None:
    """Label values meeting every `required` matcher and failing `violated` (None: impossible)."""
    required = [m for m in required if m.name != "__name__"]
    names = {m.name for m in required} | ({violated.name} if violated else set())
    labels: dict[str, str] = {}
    for name in sorted(names):
        own = [m for m in required if m.name == name]
        pool = _candidates_for_label(name, [*own, *([violated] if violated else [])])
        for value in pool:
            trial = {name: value} if value else {}
            if all(m.matches(trial) for m in own) and (
                violated is None or violated.name != name or not violated.matches(trial)
            ):
                if value:
                    labels[name] = value
                break
        else:
            return None
    return labels


def _series_for(selector: Selector) -> list[Series]:
    if selector.name is None:
        raise Unsupported(f"selector {selector} has no metric name")
    found = []
    for violated in (None, *selector.matchers):
        required = [m for m in selector.matchers if m is not violated]
        labels = labels_satisfying(required, violated)
        if labels is not None:
            found.append(Series(selector.name, tuple(sorted(labels.items()))))
    return found


def _value(form: Linear, chosen: Iterable[Series]) -> Fraction:
    total = Fraction(0)
    for series in chosen:
        for selector, coefficient in form.terms.items():
            if selector.matches(series.name, series.label_map):
                total += coefficient
    return total


def _forms(slo: SLO) -> tuple[Linear, Linear]:
    if isinstance(slo.sli, RawSLI):
        numerator, denominator = ratio_parts(parse(slo.sli.error_ratio_query))
        return linear(numerator), linear(denominator)
    return linear(parse(slo.sli.error_query)), linear(parse(slo.sli.total_query))


def derive_traffic(slo: SLO, max_set: int = 3) -> Traffic:
    """Series and increments realising any error ratio for `slo`'s SLI, or raise Unsupported."""
    errors, total = _forms(slo)
    functions = errors.functions | total.functions
    if "increase" in functions and functions - {"increase"}:
        raise Unsupported("a mix of increase() and rate()")
    selectors = sorted({*errors.terms, *total.terms}, key=str)
    candidates = sorted({s for selector in selectors for s in _series_for(selector)})
    good = bad = None
    for size in range(1, max_set + 1):
        for chosen in combinations(candidates, size):
            e, t = _value(errors, chosen), _value(total, chosen)
            if t <= 0:
                continue
            if good is None and e == 0:
                good = dict.fromkeys(chosen, 1 / t)
            if bad is None and e == t:
                bad = dict.fromkeys(chosen, 1 / t)
        if good is not None and bad is not None:
            break
    if good is None or bad is None:
        raise Unsupported("no set of series gives all-good and all-bad traffic")
    return Traffic(good, bad, _result_labels(errors, total, [*good, *bad]))


def _result_labels(errors: Linear, total: Linear, series: list[Series]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name in sorted(errors.grouping | total.grouping):
        values = {s.label_map.get(name, "") for s in series}
        if len(values) > 1:
            raise Unsupported(f"the test series differ in the grouping label {name!r}")
        value = values.pop()
        if value:
            labels[name] = value
    return labels
