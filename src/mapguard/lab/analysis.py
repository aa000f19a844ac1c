"""Reading the lab's results: samples by benchmark and parameter, pairwise comparisons with
the same statistics as `mapguard bench compare`, and crossover points stated in words.

A comparison of two strategies at one parameter value (a size, a read ratio) is a change only
when it is significant after Holm–Bonferroni across the values compared together, and larger
than the noise floor of the pair. Each strategy's floor comes from its own runs, as an A/A
comparison: the even rounds against the odd ones, relabelled pair of rounds by pair of rounds
(`mapguard bench calibrate`'s statistic), so a real difference between the strategies cannot
raise it. The pair's floor is the larger of the two. Half samples make it a cautious floor.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from mapguard.bench.calibrate import noise_floor
from mapguard.bench.projection import name_part
from mapguard.bench.statistics import ALPHA, compare_samples, holm, median
from mapguard.formats.benchfmt import BenchFile, split_name

# Time per op for single-goroutine benchmarks: CPU time, which other processes on a shared
# machine do not inflate. For benchmarks of several goroutines, wall-clock time (throughput).
CPU_TIME = "cpu-sec/op"
WALL_TIME = "sec/op"


def samples(results: BenchFile, function: str, unit: str,
            where: Mapping[str, str] | None = None) -> dict[str, list[float]]:
    """Values of `unit` per full benchmark name (GOMAXPROCS suffix dropped), in run order, for
    the benchmarks of `function` whose sub-benchmark keys match `where`."""
    found: dict[str, list[float]] = {}
    for result in results.results:
        if result.base_name != function:
            continue
        if where and any(name_part(result.name, "/" + key) != value
                         for key, value in where.items()):
            continue
        value = result.value(unit)
        if value is not None:
            found.setdefault(strip_procs(result.name), []).append(value)
    return found


def strip_procs(name: str) -> str:
    base, parts = split_name(name)
    return base + "".join(part for part in parts if not part.startswith("-"))


def series(results: BenchFile, function: str, unit: str, vary: str,
           where: Mapping[str, str]) -> dict[str, list[float]]:
    """Values per value of sub-benchmark key `vary`, the other keys fixed by `where`."""
    found: dict[str, list[float]] = {}
    for name, values in samples(results, function, unit, where).items():
        found.setdefault(name_part(name, "/" + vary), []).extend(values)
    return found


def median_or_none(values: Sequence[float]) -> float | None:
    return median(values) if values else None


def fact(facts: BenchFile, name: str, unit: str) -> float | None:
    """A fact benchmark's reported value ("FactMapValue", "map-value-B")."""
    for result in facts.results:
        if result.base_name == name:
            return result.value(unit)
    return None


@dataclass(frozen=True, slots=True)
class PairComparison:
    at: str  # the parameter value compared at, e.g. "1024"
    a: str
    b: str
    unit: str
    median_a: float
    median_b: float
    p: float
    p_holm: float
    floor: float
    n: tuple[int, int]
    alpha: float = ALPHA

    @property
    def ratio(self) -> float | None:
        """median(b) / median(a)."""
        if self.median_a == self.median_b:
            return 1.0
        return None if self.median_a == 0 else self.median_b / self.median_a

    @property
    def differs(self) -> bool:
        """Significant after Holm–Bonferroni and beyond the pair's noise floor."""
        ratio = self.ratio
        beyond = ratio is None or abs(ratio - 1) > self.floor
        return self.p_holm <= self.alpha and beyond

    @property
    def lower(self) -> str | None:
        """Which of the two is lower (cheaper, faster), or None when they do not differ."""
        if not self.differs:
            return None
        return self.a if self.median_a < self.median_b else self.b


def self_noise_floor(values: Sequence[float]) -> float:
    """A strategy's own noise floor: its even rounds against its odd rounds, as an A/A pair."""
    half = len(values) // 2
    if half == 0:
        return math.inf
    return noise_floor(values[0:2 * half:2], values[1:2 * half:2])


def compare_pairs(a_name: str, a: Mapping[str, Sequence[float]], b_name: str,
                  b: Mapping[str, Sequence[float]], unit: str,
                  order: Sequence[str] | None = None) -> list[PairComparison]:
    """a against b at every parameter value both have, Holm-adjusted across those values."""
    common = [key for key in (order or list(a)) if key in a and key in b and a[key] and b[key]]
    raw = []
    for key in common:
        comparison = compare_samples(a[key], b[key])
        floor = max(self_noise_floor(a[key]), self_noise_floor(b[key]))
        raw.append((key, comparison.p, floor, (len(a[key]), len(b[key]))))
    adjusted = holm([p for _key, p, _floor, _n in raw])
    return [
        PairComparison(key, a_name, b_name, unit, median(a[key]), median(b[key]), p, p_holm,
                       floor, n)
        for (key, p, floor, n), p_holm in zip(raw, adjusted, strict=True)
    ]


def ordered_keys(values: Iterable[str]) -> list[str]:
    """Parameter values in numeric order when they are numbers ("8", "64", "99.9")."""
    def key(text: str) -> tuple[int, float, str]:
        try:
            return (0, float(text), text)
        except ValueError:
            return (1, 0.0, text)
    return sorted(set(values), key=key)


def crossover(comparisons: Sequence[PairComparison], winner: str, loser: str,
              parameter: str) -> str:
    """When `winner` beats `loser` along the compared values, in words: "from 1024 entries",
    "at every size measured (8 to 65536)", "at none of ...", or "only at ...".

    `parameter` formats a value: "{} entries", "{} % reads"."""
    if not comparisons:
        return "not measured"
    values = [c.at for c in comparisons]
    wins = [c.lower == winner for c in comparisons]
    span = f"{parameter.format(values[0])} to {parameter.format(values[-1])}"
    if all(wins):
        return f"at every value measured ({span})"
    if not any(wins):
        losses = sum(c.lower == loser for c in comparisons)
        return (f"at none of the values measured ({span}): " +
                (f"it is slower at {losses} of them" if losses else "no significant difference"))
    # The first value from which it wins at every value measured (len(wins): nowhere).
    first = next(index for index in range(len(wins) + 1) if all(wins[index:]))
    if first < len(wins):
        return f"from {parameter.format(values[first])} up (measured {span})"
    places = ", ".join(parameter.format(c.at) for c, win in zip(comparisons, wins, strict=True)
                       if win)
    return f"only at {places} (measured {span})"
