"""Benchmark statistics as benchstat computes them, and what mapguard adds on top.

Per sample (the values of one benchmark and unit in one column):
- units assumed to vary (the default): the median with a distribution-free confidence interval
  from order statistics (binomial, exact up to 30 values, normal approximation above);
- units declared exact (``Unit x assume=exact``): the value, and a note if the values differ.

Per pair of samples: the two-sided Mann-Whitney U test — exact (conditional on ties) for up to
50 values a side, 25 with ties; above that the normal approximation with tie and continuity
corrections. The rules benchstat uses for its notes ("need >= 6 samples for confidence
interval", "need >= 4 samples to detect a difference", "all samples are equal") are reproduced
word for word, so that verdicts can be checked against benchstat's own test data.

Beyond benchstat: Holm–Bonferroni adjustment across a family of comparisons.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
ALPHA = 0.05
# Largest samples for the exact U distribution; beyond, the normal approximation (benchstat's
# limits: the exact distribution with ties costs more to compute).
EXACT_LIMIT = 50
EXACT_LIMIT_WITH_TIES = 25
# Order statistics from the exact binomial up to this many values.
EXACT_CI_LIMIT = 30


def _normal_cdf(x: float, mean: float = 0.0, sigma: float = 1.0) -> float:
    # erfc keeps the far tails (NormalDist.cdf computes 1 + erf and loses them below 1e-16).
    return 0.5 * math.erfc(-(x - mean) / (sigma * math.sqrt(2)))


@dataclass(frozen=True, slots=True)
class Summary:
    center: float
    lo: float  # -inf / +inf when the sample is too small for the interval
    hi: float
    confidence: float
    warnings: tuple[str, ...] = ()

    def range_percent(self) -> str:
        """The interval as "± N%" shows it: the larger relative distance from the center."""
        if math.isinf(self.lo) or math.isinf(self.hi):
            return "∞"
        sign = _sign(self.center)
        if sign != _sign(self.lo) or sign != _sign(self.hi):
            return "?"
        if self.center == 0:
            return "0%"
        spread = max(self.hi / self.center - 1, 1 - self.lo / self.center)
        return f"{go_round(100 * spread, 0)}%"

    @property
    def has_interval(self) -> bool:
        return not (math.isinf(self.lo) or math.isinf(self.hi))


@dataclass(frozen=True, slots=True)
class Comparison:
    """A test of whether two samples come from one distribution. p is 0 for exact units."""

    p: float
    n1: int
    n2: int
    alpha: float
    warnings: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        return self.p <= self.alpha

    def label(self) -> str:
        """benchstat's "p=0.002 n=10" (or "n=10+12"; no p for exact units)."""
        p = f"p={go_round(self.p, 3)} " if self.p != 0 else ""
        n = f"n={self.n1}" if self.n1 == self.n2 else f"n={self.n1}+{self.n2}"
        return p + n

    def delta(self, old: float, new: float) -> str:
        """benchstat's delta column: "~" when not significant, else the change in percent."""
        if not self.significant:
            return "~"
        if old == new:
            return "0.00%"
        if old == 0:
            return "?"
        return f"{go_signed(((new / old) - 1.0) * 100.0, 2)}%"


# --- summaries ------------------------------------------------------------------------------


def quantile(ordered: Sequence[float], q: float) -> float:
    """The q-th quantile of sorted values, interpolated (Hyndman and Fan's R8, as benchstat)."""
    if q <= 0:
        return ordered[0]
    if q >= 1:
        return ordered[-1]
    position = 1 / 3.0 + q * (len(ordered) + 1 / 3.0)
    fraction, whole = math.modf(position)
    k = int(whole)
    if k <= 0:
        return ordered[0]
    if k >= len(ordered):
        return ordered[-1]
    return ordered[k - 1] + fraction * (ordered[k] - ordered[k - 1])


def median(values: Sequence[float]) -> float:
    return quantile(sorted(values), 0.5)


@dataclass(frozen=True, slots=True)
class OrderInterval:
    """The order statistics (1-based; 0 and n+1 mean unbounded) that bound a quantile's
    confidence interval, and the confidence they actually give."""

    lo_order: int
    hi_order: int
    confidence: float


def quantile_interval(n: int, q: float, confidence: float) -> OrderInterval:
    """Which order statistics bound the q-th quantile with at least `confidence`.

    The number of values below the population quantile is Binomial(n, q): starting at its mode,
    add the more likely neighbour (the left one on a tie) until the mass reaches `confidence`.
    Above `EXACT_CI_LIMIT` values, a normal approximation with continuity correction.
    """
    if confidence >= 1:
        return OrderInterval(0, n + 1, 1.0)
    if n <= EXACT_CI_LIMIT:
        lo, hi, reached = _binomial_band(n, q, confidence)
    else:
        lo, hi, reached = _normal_band(n, q, confidence)
    return OrderInterval(max(lo, 0), min(hi, n + 1), reached)


def _binomial_pmf(n: int, q: float, k: int) -> float:
    if k < 0 or k > n:
        return 0.0
    return math.comb(n, k) * q**k * (1 - q) ** (n - k)


def _binomial_band(n: int, q: float, confidence: float) -> tuple[int, int, float]:
    mode = 0 if q == 0 else math.ceil((n + 1) * q) - 1
    mass = _binomial_pmf(n, q, mode)
    lo, hi = mode, mode + 1  # the band [lo, hi) of intervals between order statistics
    left, right = _binomial_pmf(n, q, lo - 1), _binomial_pmf(n, q, hi)
    while mass < confidence and (left > 0 or right > 0):
        if left >= right:
            mass += left
            lo -= 1
            left = _binomial_pmf(n, q, lo - 1)
        else:
            mass += right
            hi += 1
            right = _binomial_pmf(n, q, hi)
    return lo, hi, mass


def _normal_band(n: int, q: float, confidence: float) -> tuple[int, int, float]:
    normal = NormalDist(n * q, math.sqrt(n * q * (1 - q)))
    left_edge = normal.inv_cdf((1 - confidence) / 2)
    right_edge = 2 * normal.mean - left_edge
    # Point k of the binomial is the band [k-0.5, k+0.5] of the normal: round out to
    # half-integers, then back to order statistics.
    lo = math.floor(math.floor(left_edge - 0.5) + 0.5) + 1
    hi = math.floor(math.ceil(right_edge - 0.5) + 0.5) + 1

    def mass(lo: int, hi: int) -> float:
        return (_normal_cdf(hi - 0.5, normal.mean, normal.stdev)
                - _normal_cdf(lo - 0.5, normal.mean, normal.stdev))

    reached = mass(lo, hi)
    # The band is symmetric; one step less on the right may still be enough.
    narrower = mass(lo, hi - 1)
    if confidence <= narrower < reached:
        reached, hi = narrower, hi - 1
    if lo <= 0 and hi >= n + 1:
        reached = 1.0
    return lo, hi, reached


def _min_samples_for_interval(confidence: float) -> str:
    limit = 50
    for n in range(2, limit + 1):
        interval = quantile_interval(n, 0.5, confidence)
        if interval.lo_order > 0 and interval.hi_order <= n:
            return f">= {n}"
    return f"> {limit}"


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Summary:
    """Median and its confidence interval (no assumption about the distribution)."""
    ordered = sorted(values)
    interval = quantile_interval(len(ordered), 0.5, confidence)
    center = quantile(ordered, 0.5)
    lo = ordered[interval.lo_order - 1] if interval.lo_order >= 1 else -math.inf
    hi = ordered[interval.hi_order - 1] if interval.hi_order <= len(ordered) else math.inf
    warnings: tuple[str, ...] = ()
    if math.isinf(lo) or math.isinf(hi):
        need = _min_samples_for_interval(confidence)
        warnings = (f"need {need} samples for confidence interval at level "
                    f"{go_value(confidence)}",)
    return Summary(center, lo, hi, interval.confidence, warnings)


def summarize_exact(values: Sequence[float]) -> Summary:
    """For units measured exactly: the most frequent value, and a note if they differ."""
    ordered = sorted(values)
    mode, best = ordered[0], 0
    run_value, run = ordered[0], 0
    for value in ordered:
        run = run + 1 if value == run_value else 1
        run_value = value
        if run > best:
            mode, best = value, run
    warnings: tuple[str, ...] = ()
    if best != len(ordered):
        warnings = (f"exact distribution expected, but values range from "
                    f"{go_value(ordered[0])} to {go_value(ordered[-1])}",)
    return Summary(mode, ordered[0], ordered[-1], 1.0, warnings)


# --- comparisons ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UTest:
    u: float  # U of the first sample; ties count one half
    p: float  # two-sided
    exact: bool


class SamplesEqual(ValueError):
    """Every value of both samples is the same: the test has nothing to rank."""


def mann_whitney(first: Sequence[float], second: Sequence[float]) -> UTest:
    """Two-sided Mann-Whitney U test. Raises `SamplesEqual` when all values are equal."""
    n1, n2 = len(first), len(second)
    if n1 == 0 or n2 == 0:
        raise ValueError("Mann-Whitney U test of an empty sample")
    merged = sorted([(value, 0) for value in first] + [(value, 1) for value in second])
    ties: list[int] = []  # size of each run of equal values, in rank order
    from_first: list[int] = []  # how many of each run came from the first sample
    rank_sum = 0.0
    index = 0
    while index < len(merged):
        start, value, count_first = index, merged[index][0], 0
        while index < len(merged) and merged[index][0] == value:
            count_first += merged[index][1] == 0
            index += 1
        rank_sum += (start + 1 + index) / 2 * count_first
        ties.append(index - start)
        from_first.append(count_first)
    u1 = rank_sum - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    has_ties = any(size > 1 for size in ties)
    limit = EXACT_LIMIT_WITH_TIES if has_ties else EXACT_LIMIT
    if n1 <= limit and n2 <= limit:
        if len(ties) == 1:
            raise SamplesEqual("all samples are equal")
        if u1 == u2:
            return UTest(u1, 1.0, exact=True)
        below, above = _u_tails(n1, ties, u1) if has_ties else _u_tails_without_ties(n1, n2, u1)
        return UTest(u1, min(1.0, 2 * min(below, above)), exact=True)
    n = n1 + n2
    tie_term = sum(size**3 - size for size in ties)
    sigma = math.sqrt(n1 * n2 * ((n + 1) - tie_term / (n * (n - 1))) / 12)
    if sigma == 0:
        raise SamplesEqual("all samples are equal")
    numerator = u1 - n1 * n2 / 2
    numerator -= _sign(numerator) * 0.5  # continuity correction
    z = numerator / sigma
    cdf = _normal_cdf(z)
    return UTest(u1, 2 * min(cdf, 1 - cdf), exact=False)


def _u_tails_without_ties(n1: int, n2: int, u: float) -> tuple[float, float]:
    """P(U <= u) and P(U >= u) without ties. The number of arrangements with U = k is the
    coefficient of q^k in the Gaussian binomial [n1+n2 choose n1]_q, the product over
    i = 1..n1 of (1 - q^(n2+i)) / (1 - q^i): a multiplication and a division of polynomials
    per i, each one pass over the n1*n2+1 coefficients."""
    length = n1 * n2 + 1
    counts = np.zeros(length)
    counts[0] = 1.0
    for i in range(1, n1 + 1):
        counts[n2 + i:] -= counts[: length - n2 - i].copy()  # times (1 - q^(n2+i))
        # Divided by (1 - q^i): a running sum along every i-th coefficient.
        padded = np.zeros(-(-length // i) * i)
        padded[:length] = counts
        counts = np.cumsum(padded.reshape(-1, i), axis=0).reshape(-1)[:length]
    arrangements = math.comb(n1 + n2, n1)
    k = round(u)
    return float(counts[: k + 1].sum()) / arrangements, float(counts[k:].sum()) / arrangements


def _u_tails(n1: int, ties: Sequence[int], u: float) -> tuple[float, float]:
    """P(U <= u) and P(U >= u) for a first sample of n1 values, given the runs of ties: every
    way of taking n1 of the ranked values is equally likely. Counts ways by (values taken,
    twice their rank sum) one run at a time; a run of t values at positions a+1..a+t has
    mid-rank (2a+t+1)/2. With ties the distribution is not symmetric: both tails are counted."""
    total = sum(ties)
    width = 2 * sum(range(total - n1 + 1, total + 1)) + 1  # twice the largest rank sum, + 1
    ways = np.zeros((n1 + 1, width))
    ways[0, 0] = 1.0
    before = 0
    for size in ties:
        twice_rank = 2 * before + size + 1
        updated = ways.copy()  # taking none of this run
        for taken in range(1, min(size, n1) + 1):
            shift = taken * twice_rank
            if shift >= width:
                break
            updated[taken:, shift:] += math.comb(size, taken) * ways[: n1 + 1 - taken,
                                                                     : width - shift]
        ways = updated
        before += size
    # U = R - n1(n1+1)/2: compare twice the rank sums, which are whole numbers.
    twice_rank_sum = round(2 * u) + n1 * (n1 + 1)
    counts = ways[n1]
    arrangements = math.comb(total, n1)
    below = float(counts[: twice_rank_sum + 1].sum()) / arrangements
    above = float(counts[twice_rank_sum:].sum()) / arrangements
    return below, above


def min_samples_to_detect(alpha: float) -> str:
    """How many values a side the exact U test needs before any p can reach alpha."""
    for n in range(1, 10):
        if 2 / math.comb(2 * n, n) <= alpha:
            return f">= {n}"
    return "> 9"


def compare_samples(first: Sequence[float], second: Sequence[float],
                    alpha: float = ALPHA) -> Comparison:
    """benchstat's comparison of two samples with no assumption about their distribution."""
    n1, n2 = len(first), len(second)
    try:
        test = mann_whitney(first, second)
    except SamplesEqual as equal:
        return Comparison(1.0, n1, n2, alpha, (str(equal),))
    warnings: tuple[str, ...] = ()
    if test.p > alpha:
        need = min_samples_to_detect(alpha)
        threshold = int(need.split()[1])
        if n1 < threshold and n2 < threshold:
            warnings = (f"need {need} samples to detect a difference at alpha level "
                        f"{go_value(alpha)}",)
    return Comparison(test.p, n1, n2, alpha, warnings)


def compare_exact(first: Sequence[float], second: Sequence[float]) -> Comparison:
    """Exact units need no test: any difference is real."""
    return Comparison(0.0, len(first), len(second), 0.0)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (step-down; monotone; capped at 1)."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    count = len(p_values)
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (count - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def geomean(values: Sequence[float]) -> float | None:
    """Geometric mean (a running mean of logs, as benchstat); None unless all are > 0."""
    if not values:
        return None
    mean = 0.0
    for index, value in enumerate(values):
        if value <= 0:
            return None
        mean += (math.log(value) - mean) / (index + 1)
    return math.exp(mean)


# --- Go's number formatting -----------------------------------------------------------------


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def go_round(value: float, places: int) -> str:
    """Go's ``%.Nf``: round half to even on the exact binary value, as Python's format does."""
    return f"{value:.{places}f}"


def go_signed(value: float, places: int) -> str:
    """Go's ``%+.Nf``."""
    return f"{value:+.{places}f}"


def go_value(value: float) -> str:
    """Go's ``%v`` of a float64: shortest digits, exponent form below 1e-4 or from 1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    leading = len(text) + exponent - 1  # decimal exponent of the first digit
    prefix = "-" if sign else ""
    if leading < -4 or leading >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if leading < 0 else '+'}{abs(leading):02d}"
    return prefix + format(Decimal(repr(abs(value))).normalize(), "f")
