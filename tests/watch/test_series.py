"""The bounded state exported per target: capped site counters and the pause histogram."""

from __future__ import annotations

import math

from mapguard.sitecap import OTHER
from mapguard.watch.costs import Costs
from mapguard.watch.goruntime import GoRuntime, PauseHistogram
from mapguard.watch.series import SUMMARY_BOUNDS, PauseSeries, SiteCounters


def costs(total: int, **sites: int) -> Costs:
    return Costs(total, total // 10, {(site, "grow"): (n, n // 10) for site, n in sites.items()})


def test_site_counters_cap_sites_and_sum_the_rest_as_other() -> None:
    counters = SiteCounters(top=2, idle_intervals=3)
    counters.add(costs(0, a=500, b=300, c=100))
    counters.add(costs(0, a=10, c=1000))
    totals = {(s.site, s.op): s.bytes for s in counters.snapshot()}
    assert totals == {("a", "grow"): 510, ("b", "grow"): 300, (OTHER, "grow"): 1100}
    assert sum(totals.values()) == 500 + 300 + 100 + 10 + 1000  # nothing is lost


def test_an_idle_site_gives_its_place_up() -> None:
    counters = SiteCounters(top=1, idle_intervals=2)
    counters.add(costs(0, a=100))
    counters.add(costs(0, b=50))  # a idle for 1 interval: b goes to other
    counters.add(costs(0, b=50))  # a idle for 2: b takes its place
    assert {s.site for s in counters.snapshot()} == {OTHER, "b"}


def test_pauses_mirror_the_target_histogram() -> None:
    series = PauseSeries()
    buckets = tuple((b, float(i)) for i, b in enumerate((*[1e-6 * 2**k for k in range(60)],
                                                         math.inf)))
    series.update(GoRuntime(pause_histogram=PauseHistogram(buckets, None)))
    snapshot = series.snapshot()
    assert snapshot is not None
    assert len(snapshot.buckets) <= 40 and snapshot.buckets[-1] == (math.inf, 60.0)
    assert set(snapshot.buckets) <= set(buckets)  # a subset of bounds: exact, only coarser
    assert snapshot.sum > 0


def test_pauses_from_the_summary_count_new_cycles_at_their_mean() -> None:
    series = PauseSeries()
    series.update(GoRuntime(start_time=1.0, pause_summary=(0.010, 10)))
    series.update(GoRuntime(start_time=1.0, pause_summary=(0.014, 14)))  # 4 cycles of 1 ms
    snapshot = series.snapshot()
    assert snapshot is not None
    counts = dict(snapshot.buckets)
    assert counts[5e-4] == 0 and counts[1e-3] == 4 and counts[math.inf] == 4
    assert math.isclose(snapshot.sum, 0.004)
    series.update(GoRuntime(start_time=2.0, pause_summary=(0.02, 2)))  # restarted
    snapshot = series.snapshot()
    assert snapshot is not None and dict(snapshot.buckets)[math.inf] == 6
    assert len(snapshot.buckets) == len(SUMMARY_BOUNDS)
