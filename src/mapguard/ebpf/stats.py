"""Per-site and per-map totals of timed calls, op counts, and the capped series to export.

Durations go into a log-bucketed histogram (2 % wide buckets, numpy): recording a batch costs
a fraction of a microsecond a value, where a pure-Python HdrHistogram takes about 6 µs, more
than the probe hit being measured. Percentiles are read from the buckets (within 2 %); the
maximum and the sum are exact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from mapguard.ebpf.plan import GROWTH
from mapguard.ebpf.timing import Call
from mapguard.evidence.site import Site
from mapguard.sitecap import SiteCap

# Prometheus buckets of `mapguard_map_growth_seconds` (upper bounds; +Inf is implied).
EXPORT_BOUNDS_S = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                   5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0)
_EXPORT_BOUNDS_NS = np.array([b * 1e9 for b in EXPORT_BOUNDS_S])
_FINE_BOUNDS_NS = np.geomspace(10.0, 100e9, num=int(math.log(1e10) / math.log(1.02)))
HOT_MAPS_KEPT = 10_000
SWISS_GROUP_SLOTS = 8
SWISS_MAX_TABLE = 1024
HMAP_BUCKET_SLOTS = 8


class Durations:
    """A histogram of nanosecond durations: percentiles within 2 %, exact max and sum."""

    def __init__(self) -> None:
        self.fine = np.zeros(len(_FINE_BOUNDS_NS) + 1, dtype=np.int64)
        self.export = np.zeros(len(_EXPORT_BOUNDS_NS) + 1, dtype=np.int64)
        self.count = 0
        self.sum_ns = 0
        self.max_ns = 0

    def add(self, values: list[int]) -> None:
        if not values:
            return
        array = np.asarray(values, dtype=np.float64)
        np.add.at(self.fine, np.searchsorted(_FINE_BOUNDS_NS, array, side="left"), 1)
        np.add.at(self.export, np.searchsorted(_EXPORT_BOUNDS_NS, array, side="left"), 1)
        self.count += len(values)
        self.sum_ns += int(array.sum())
        self.max_ns = max(self.max_ns, int(array.max()))

    def merge(self, other: Durations) -> None:
        self.fine += other.fine
        self.export += other.export
        self.count += other.count
        self.sum_ns += other.sum_ns
        self.max_ns = max(self.max_ns, other.max_ns)

    def percentile_ns(self, q: float) -> int:
        """The `q`-quantile (0 < q <= 1): the upper bound of its bucket, capped by the max."""
        if not self.count:
            return 0
        index = int(np.searchsorted(np.cumsum(self.fine), q * self.count, side="left"))
        bound = _FINE_BOUNDS_NS[index] if index < len(_FINE_BOUNDS_NS) else self.max_ns
        return int(min(bound, self.max_ns))

    def cumulative_buckets(self) -> list[tuple[float, int]]:
        """(upper bound in seconds, count at or below it), ending with +Inf."""
        counts = np.cumsum(self.export)
        return [*zip(EXPORT_BOUNDS_S, (int(c) for c in counts[:-1]), strict=True),
                (math.inf, int(counts[-1]))]


@dataclass(slots=True)
class SiteStats:
    role: str  # growth or clear
    site: Site | None  # None: no user frame in the stack
    by_kind: Counter[str] = field(default_factory=Counter)
    durations: Durations = field(default_factory=Durations)
    this_interval: int = 0  # calls so far in the current interval
    last_interval: int = 0  # calls in the last complete interval, for the per-second rate

    @property
    def count(self) -> int:
        return self.durations.count


@dataclass(slots=True)
class MapStats:
    pid: int
    address: int
    site: Site | None
    growths: int = 0
    length: int = 0  # entries when it last grew
    slots: int = 0  # slots of the table that last grew, after the growth
    kind: str = ""


def slots_after(call: Call) -> int:
    """How many slots the growing table (Swiss) or the map (hmap) has after this growth."""
    kind = call.spec.kind
    if kind == "small":
        return SWISS_GROUP_SLOTS
    if kind == "table":
        return 2 * SWISS_GROUP_SLOTS
    if kind == "grow":
        return call.detail
    if kind == "split":
        return SWISS_MAX_TABLE  # two tables of 1024 slots replace one
    if kind == "hashgrow":
        return HMAP_BUCKET_SLOTS << (call.detail + (1 if overloaded(call.length + 1,
                                                                    call.detail) else 0))
    return 0


def overloaded(count: int, log2_buckets: int) -> bool:
    """hmap's overLoadFactor: more than 8 entries and more than 6.5 per bucket on average.
    A hashGrow that is not overloaded is a same-size grow (too many overflow buckets)."""
    return count > HMAP_BUCKET_SLOTS and count > 13 * ((1 << log2_buckets) // 2)


class Totals:
    """Everything counted so far, by site and by map."""

    def __init__(self) -> None:
        self.sites: dict[tuple[str, Site | None], SiteStats] = {}
        self.maps: dict[tuple[int, int], MapStats] = {}
        self.ops: Counter[tuple[Site | None, str]] = Counter()  # sampled, scaled by period
        self.op_totals: Counter[str] = Counter()  # exact hits by op
        self.pids: set[int] = set()

    def add_calls(self, calls: Iterable[tuple[Call, Site | None]]) -> None:
        batches: dict[tuple[str, Site | None], list[int]] = {}
        for call, site in calls:
            key = (call.spec.role, site)
            stats = self.sites.get(key) or self.sites.setdefault(key, SiteStats(call.spec.role,
                                                                                 site))
            stats.by_kind[call.spec.kind] += 1
            stats.this_interval += 1
            batches.setdefault(key, []).append(call.duration_ns)
            self.pids.add(call.pid)
            if call.spec.role == GROWTH:
                self._grew(call, site)
        for key, values in batches.items():
            self.sites[key].durations.add(values)

    def close_interval(self) -> None:
        for stats in self.sites.values():
            stats.last_interval, stats.this_interval = stats.this_interval, 0

    def _grew(self, call: Call, site: Site | None) -> None:
        key = (call.pid, call.map_address)
        stats = self.maps.get(key)
        if stats is not None and call.length < stats.length:
            # Fewer entries than at its last growth: the address now holds another map (the
            # old one was freed; maps never shrink, and clear keeps the tables).
            del self.maps[key]
            stats = None
        if stats is None:
            if len(self.maps) >= HOT_MAPS_KEPT:
                coldest = min(self.maps, key=lambda k: self.maps[k].growths)
                del self.maps[coldest]
            stats = self.maps[key] = MapStats(call.pid, call.map_address, site)
        stats.growths += 1
        stats.length = call.length
        stats.slots = slots_after(call)
        stats.kind = call.spec.kind

    def by_role(self, role: str) -> list[SiteStats]:
        return sorted((s for s in self.sites.values() if s.role == role),
                      key=lambda s: (-s.count, -s.durations.sum_ns))

    def hot_maps(self, top: int) -> list[MapStats]:
        return sorted(self.maps.values(), key=lambda m: (-m.growths, -m.length))[:top]


def site_label(site: Site | None) -> str:
    """The `site` label and table key: `file:line` as the binary records it."""
    return "(no user frame)" if site is None else f"{site.file}:{site.line}"


@dataclass(slots=True)
class Series:
    count: int = 0
    durations: Durations = field(default_factory=Durations)


class CappedSeries:
    """The exported series of one metric family, capped as `mapguard watch` caps its sites
    (`SiteCap`)."""

    def __init__(self, top: int, idle_intervals: int) -> None:
        self.series: dict[str, Series] = {}
        self.cap = SiteCap(top, idle_intervals, lambda gone: self.series.pop(gone, None))

    def add(self, batch: dict[str, list[int]]) -> None:
        """One interval's durations by site label (largest sites placed first)."""
        self.cap.next_interval()
        for label, values in sorted(batch.items(), key=lambda item: -len(item[1])):
            if not values:
                continue
            series = self.series.setdefault(self.cap.admit(label), Series())
            series.count += len(values)
            series.durations.add(values)
