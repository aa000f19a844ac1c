"""Does a site's map allocation rate move with GC pauses or latency? Pearson and Spearman
correlation over time, at several lags, with p-values that do not over-claim.

Two things make p-values of time series too small: neighbouring points are not independent
(a rate averaged over a minute and sampled every 15 s repeats itself), and trying several lags
and sites is several tests. So the p-value of each correlation is computed with an effective
sample size, n (1 - r1 r2) / (1 + r1 r2), where r1 and r2 are the two series' lag-1
autocorrelations (Bretherton et al., 1999), and the p-values of all lags, sites and signals are
adjusted together with Holm-Bonferroni, as `mapguard bench` adjusts its comparisons. A
correlation counts only when its adjusted p is below 0.05; it says the two moved together, not
that one caused the other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from mapguard.bench.statistics import ALPHA, holm

MIN_POINTS = 8


@dataclass(frozen=True, slots=True)
class Correlation:
    site: str
    signal: str  # "GC pause time", "p99 latency"...
    lag_steps: int  # the site leads the signal by this many steps (negative: it follows)
    step_s: float
    n: int
    n_effective: float
    pearson: float
    pearson_p: float  # with the effective n
    spearman: float
    spearman_p: float
    p_adjusted: float = 1.0  # the smaller of the two p-values, Holm-adjusted across all tests

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA

    def statement(self) -> str:
        lag = ("at the same time" if self.lag_steps == 0 else
               f"{abs(self.lag_steps) * self.step_s:g} s "
               f"{'later' if self.lag_steps > 0 else 'earlier'}")
        verdict = ("moves with" if self.significant and self.spearman > 0 else
                   "moves against" if self.significant else "shows no reliable relation to")
        return (f"{self.site}'s map allocation rate {verdict} {self.signal} {lag}: "
                f"Spearman {self.spearman:+.2f}, Pearson {self.pearson:+.2f}, n={self.n} "
                f"(effective {self.n_effective:.0f}), p={self.p_adjusted:.3g} after Holm over "
                "all lags, sites and signals")

    def to_json(self) -> dict[str, object]:
        return {"site": self.site, "signal": self.signal, "lag_steps": self.lag_steps,
                "lag_seconds": self.lag_steps * self.step_s, "n": self.n,
                "n_effective": round(self.n_effective, 1), "pearson": round(self.pearson, 4),
                "pearson_p": self.pearson_p, "spearman": round(self.spearman, 4),
                "spearman_p": self.spearman_p, "p_adjusted": self.p_adjusted,
                "significant": self.significant, "statement": self.statement()}


def _lag1(values: np.ndarray) -> float:
    if len(values) < 3 or np.std(values) == 0:
        return 0.0
    r = float(np.corrcoef(values[:-1], values[1:])[0, 1])
    return 0.0 if math.isnan(r) else r


def _p_value(r: float, n_effective: float) -> float:
    """Two-sided p of a correlation r with n_effective independent points (t-test)."""
    dof = n_effective - 2
    if dof <= 0 or math.isnan(r):
        return 1.0
    if abs(r) >= 1.0:
        return 0.0
    t = r * math.sqrt(dof / (1 - r * r))
    return float(2 * stats.t.sf(abs(t), dof))


def at_lag(site: str, signal: str, x: np.ndarray, y: np.ndarray, lag: int,
           step_s: float) -> Correlation | None:
    """x (the site's rate) against y shifted so that x leads y by `lag` steps."""
    if lag > 0:
        x, y = x[:-lag], y[lag:]
    elif lag < 0:
        x, y = x[-lag:], y[:lag]
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n = len(x)
    if n < MIN_POINTS or np.std(x) == 0 or np.std(y) == 0:
        return None
    r1, r2 = _lag1(x), _lag1(y)
    factor = (1 - r1 * r2) / (1 + r1 * r2) if r1 * r2 > -1 else 1.0
    n_effective = max(2.0, min(float(n), n * factor))
    pearson = float(stats.pearsonr(x, y).statistic)
    spearman = float(stats.spearmanr(x, y).statistic)
    return Correlation(site, signal, lag, step_s, n, n_effective, pearson,
                       _p_value(pearson, n_effective), spearman,
                       _p_value(spearman, n_effective))


def correlate(sites: Mapping[str, np.ndarray], signals: Mapping[str, np.ndarray], *,
              step_s: float, max_lag: int = 2) -> list[Correlation]:
    """For every site and signal, the lag with the strongest Spearman correlation; p-values
    adjusted over every lag tried."""
    tried: list[Correlation] = []
    best: dict[tuple[str, str], int] = {}
    for site, rate in sites.items():
        for signal, values in signals.items():
            for lag in range(-max_lag, max_lag + 1):
                found = at_lag(site, signal, rate, values, lag, step_s)
                if found is None:
                    continue
                key = (site, signal)
                current = best.get(key)
                if current is None or abs(found.spearman) > abs(tried[current].spearman):
                    best[key] = len(tried)
                tried.append(found)
    adjusted = holm([min(c.pearson_p, c.spearman_p) for c in tried]) if tried else []
    chosen = [replace(tried[index], p_adjusted=adjusted[index]) for index in best.values()]
    return sorted(chosen, key=lambda c: (c.p_adjusted, -abs(c.spearman)))


def aligned(series: Sequence[Mapping[float, float]]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Points of several series at their common timestamps, in time order."""
    common = sorted(set.intersection(*(set(s) for s in series))) if series else []
    times = np.array(common, dtype=float)
    return times, [np.array([s[t] for t in common], dtype=float) for s in series]
