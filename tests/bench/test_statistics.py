"""The statistics under benchstat's verdicts, checked against brute force and SciPy."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from scipy import stats

from mapguard.bench.statistics import (
    SamplesEqual,
    compare_samples,
    geomean,
    go_value,
    holm,
    mann_whitney,
    quantile_interval,
    summarize,
    summarize_exact,
)


def _brute_force_p(first: list[float], second: list[float]) -> float:
    """Twice the smaller tail of U, over every way of choosing which values are the first
    sample (ties count one half), capped at 1."""
    pooled = first + second
    n1 = len(first)

    def u_of(chosen: tuple[int, ...]) -> float:
        mine = [pooled[i] for i in chosen]
        other = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        return sum((a > b) + 0.5 * (a == b) for a in mine for b in other)

    observed = u_of(tuple(range(n1)))
    if observed == n1 * len(second) - observed:
        return 1.0
    all_u = [u_of(chosen) for chosen in itertools.combinations(range(len(pooled)), n1)]
    below = sum(u <= observed for u in all_u) / len(all_u)
    above = sum(u >= observed for u in all_u) / len(all_u)
    return min(1.0, 2 * min(below, above))


@pytest.mark.parametrize("seed", range(25))
def test_exact_u_test_equals_brute_force_with_and_without_ties(seed: int) -> None:
    rng = random.Random(seed)
    n1, n2 = rng.randint(1, 7), rng.randint(1, 7)
    levels = rng.choice([3, 5, 1000])  # few levels: many ties
    first = [float(rng.randrange(levels)) for _ in range(n1)]
    second = [float(rng.randrange(levels) + rng.choice([0, 1])) for _ in range(n2)]
    if len(set(first + second)) == 1:
        with pytest.raises(SamplesEqual):
            mann_whitney(first, second)
        return
    test = mann_whitney(first, second)
    assert test.exact
    assert test.p == pytest.approx(_brute_force_p(first, second), abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_exact_u_test_without_ties_equals_scipy(seed: int) -> None:
    rng = random.Random(seed)
    values = rng.sample(range(10_000), 40)
    first, second = [float(v) for v in values[:18]], [float(v) + 300 for v in values[18:]]
    ours = mann_whitney(first, second).p
    theirs = stats.mannwhitneyu(first, second, alternative="two-sided", method="exact").pvalue
    assert ours == pytest.approx(theirs, rel=1e-9)


@pytest.mark.parametrize("seed", range(10))
def test_large_samples_use_normal_approximation_with_tie_correction(seed: int) -> None:
    rng = random.Random(seed)
    first = [float(rng.randrange(40)) for _ in range(60)]
    second = [float(rng.randrange(40) + rng.choice([0, 2])) for _ in range(55)]
    test = mann_whitney(first, second)
    assert not test.exact
    theirs = stats.mannwhitneyu(first, second, alternative="two-sided", method="asymptotic",
                                use_continuity=True).pvalue
    assert test.p == pytest.approx(theirs, rel=1e-9)


def test_too_few_samples_and_equal_samples_are_explained() -> None:
    assert compare_samples([100.0], [101.0]).warnings == (
        "need >= 4 samples to detect a difference at alpha level 0.05",)
    assert compare_samples([1.0] * 5, [1.0] * 5).warnings == ("all samples are equal",)
    assert compare_samples([1.0, 2, 3, 4], [5.0, 6, 7, 8]).p == pytest.approx(2 / 70)


def test_median_confidence_interval_order_statistics() -> None:
    # Binomial(10, 1/2): the 2nd and 9th of 10 values bound the median with 97.9 %.
    interval = quantile_interval(10, 0.5, 0.95)
    assert (interval.lo_order, interval.hi_order) == (2, 9)
    assert interval.confidence == pytest.approx(1 - 2 * 11 / 1024)
    summary = summarize([5.0, 1, 4, 2, 3])
    assert summary.center == 3 and math.isinf(summary.lo)
    assert summary.warnings == ("need >= 6 samples for confidence interval at level 0.95",)
    assert summarize([1.0, 2, 3, 4, 5, 6]).range_percent() == "71%"
    large = quantile_interval(100, 0.5, 0.95)  # normal approximation
    assert (large.lo_order, large.hi_order) == (40, 60) and large.confidence >= 0.95


def test_exact_units_take_the_mode_and_say_when_values_differ() -> None:
    assert summarize_exact([3.0, 3.0, 3.0]).warnings == ()
    summary = summarize_exact([101.0, 100.0, 101.0])
    assert summary.center == 101.0
    assert summary.warnings == ("exact distribution expected, but values range from 100 to 101",)


def test_holm_bonferroni_step_down() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_geomean_needs_positive_values() -> None:
    assert geomean([2.0, 8.0]) == pytest.approx(4.0)
    assert geomean([0.0, 1.0]) is None
    assert geomean([]) is None


@pytest.mark.parametrize(("value", "text"), [
    (100.0, "100"), (1e6, "1e+06"), (123456.0, "123456"), (1234567.0, "1.234567e+06"),
    (1234567890.0, "1.23456789e+09"), (0.0001, "0.0001"), (0.00001, "1e-05"), (0.05, "0.05"),
    (171717171716.0, "1.71717171716e+11"), (1.7180000000000001e-06, "1.7180000000000001e-06"),
    (-2.5, "-2.5"), (0.0, "0"),
])
def test_floats_print_as_go_prints_them(value: float, text: str) -> None:
    assert go_value(value) == text
