"""Correlation over time: a planted relation is found at its lag; noise, and two unrelated
random walks (which fool a naive p-value), are not."""

from __future__ import annotations

import numpy as np
import pytest

from mapguard.diagnose.correlate import aligned, at_lag, correlate


def test_a_planted_relation_is_found_at_its_lag() -> None:
    rng = np.random.default_rng(1)
    rate = rng.gamma(2.0, 1000.0, 240)
    pauses = np.concatenate([[0.0, 0.0], rate[:-2]]) * 1e-6 + rng.normal(0, 2e-4, 240)
    noise = rng.gamma(2.0, 1000.0, 240)
    found = {c.site: c for c in correlate({"hot.go:10": rate, "idle.go:5": noise},
                                          {"GC pause time": pauses}, step_s=15, max_lag=3)}
    hot, idle = found["hot.go:10"], found["idle.go:5"]
    assert hot.lag_steps == 2 and hot.significant and hot.spearman > 0.5
    assert "30 s later" in hot.statement() and "moves with" in hot.statement()
    assert not idle.significant
    assert "no reliable relation" in idle.statement()


def test_random_walks_are_not_called_related() -> None:
    """Two independent random walks correlate strongly by chance; the effective sample size
    keeps that from passing as evidence."""
    rng = np.random.default_rng(7)
    false_alarms = 0
    naive_alarms = 0
    for _ in range(40):
        a = np.cumsum(rng.normal(size=200))
        b = np.cumsum(rng.normal(size=200))
        result = at_lag("a", "b", a, b, 0, 15)
        assert result is not None
        false_alarms += result.pearson_p < 0.05
        from scipy import stats

        naive_alarms += stats.pearsonr(a, b).pvalue < 0.05
    assert naive_alarms > 15  # what an uncorrected test would claim
    assert false_alarms <= 6


def test_too_few_points_or_flat_series_give_nothing() -> None:
    assert at_lag("a", "b", np.arange(5.0), np.arange(5.0), 0, 15) is None
    assert at_lag("a", "b", np.ones(50), np.arange(50.0), 0, 15) is None
    assert correlate({}, {"x": np.arange(10.0)}, step_s=15) == []


def test_series_are_aligned_on_common_timestamps() -> None:
    times, (a, b) = aligned([{1.0: 1.0, 2.0: 2.0, 3.0: 3.0}, {2.0: 20.0, 3.0: 30.0, 4.0: 4.0}])
    assert times.tolist() == [2.0, 3.0]
    assert a.tolist() == [2.0, 3.0] and b.tolist() == [20.0, 30.0]


def test_holm_covers_every_lag_tried() -> None:
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=60), rng.normal(size=60)
    (one,) = correlate({"s": x}, {"y": y}, step_s=1, max_lag=0)
    (many,) = correlate({"s": x}, {"y": y}, step_s=1, max_lag=4)
    assert many.p_adjusted >= min(many.pearson_p, many.spearman_p)
    assert one.p_adjusted == pytest.approx(min(one.pearson_p, one.spearman_p))
