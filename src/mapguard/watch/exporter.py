"""The agent's own /metrics: every target's snapshot in the Prometheus exposition format.

A prometheus-client collector turns the watchers' immutable snapshots into metric families when
Prometheus scrapes; its HTTP server (a thread) serves them, in the text or OpenMetrics format as
the scraper asks. The agent's process metrics (CPU, resident memory) come along.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, ProcessCollector, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from mapguard.errors import UsageError
from mapguard.watch.config import Listen
from mapguard.watch.scrape import TargetSnapshot

PREFIX = "mapguard_"


class SnapshotCollector(Collector):
    def __init__(self, snapshots: Callable[[], Iterable[TargetSnapshot]]) -> None:
        self.snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        site_labels = ["target", "site", "op"]
        alloc_bytes = CounterMetricFamily(
            f"{PREFIX}map_alloc_bytes", "Bytes allocated by map operations, by source site and "
            "op (from the target's allocation profile, scaled for sampling).", labels=site_labels)
        alloc_objects = CounterMetricFamily(
            f"{PREFIX}map_alloc_objects", "Objects allocated by map operations, by source site "
            "and op.", labels=site_labels)
        share = GaugeMetricFamily(
            f"{PREFIX}map_alloc_share", "Map bytes over all bytes allocated in the last "
            "interval.", labels=["target"])
        pauses = HistogramMetricFamily(
            f"{PREFIX}gc_pause_seconds", "GC pauses from the target's Go metrics: its pause "
            "histogram, else per-cycle pause sums counted at each interval's mean.",
            labels=["target"])
        goroutines = GaugeMetricFamily(f"{PREFIX}goroutines", "Goroutines of the target.",
                                       labels=["target"])
        up = GaugeMetricFamily(f"{PREFIX}target_up", "1 if the last profile pull and "
                               "attribution succeeded, else 0.", labels=["target"])
        duration = GaugeMetricFamily(
            f"{PREFIX}scrape_duration_seconds", "Time of the last scrape, without the "
            "server-side delta window the target was asked to wait.", labels=["target"])
        errors = CounterMetricFamily(f"{PREFIX}scrape_errors", "Failed scrapes by reason.",
                                     labels=["target", "reason"])
        for snapshot in self.snapshots():
            target = snapshot.target
            for site in snapshot.sites:
                alloc_bytes.add_metric([target, site.site, site.op], site.bytes)
                alloc_objects.add_metric([target, site.site, site.op], site.objects)
            if snapshot.share is not None:
                share.add_metric([target], snapshot.share)
            if snapshot.pauses is not None:
                pauses.add_metric(
                    [target], [(_le(bound), count) for bound, count in snapshot.pauses.buckets],
                    snapshot.pauses.sum)
            if snapshot.goroutines is not None:
                goroutines.add_metric([target], snapshot.goroutines)
            if snapshot.up is not None:
                up.add_metric([target], 1.0 if snapshot.up else 0.0)
            if snapshot.scrape_seconds is not None:
                duration.add_metric([target], snapshot.scrape_seconds)
            for reason, count in snapshot.errors:
                errors.add_metric([target, reason], count)
        yield from (alloc_bytes, alloc_objects, share, pauses, goroutines, up, duration, errors)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def serve(listen: Listen, snapshots: Callable[[], Iterable[TargetSnapshot]]
          ) -> WSGIServer:
    """Serve /metrics on `listen` from a thread; the server's address tells the real port."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshots))
    ProcessCollector(registry=registry)
    try:
        server, _thread = start_http_server(listen.port, addr=listen.host or "0.0.0.0",
                                            registry=registry)
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    return server
