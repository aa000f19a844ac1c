"""`--export HOST:PORT`: the session's totals as Prometheus metrics.

Label names and the cardinality cap are those of `mapguard watch`: `target` names the traced
program, `site` is `file:line` of the first user frame, capped per target to the first
`--top-sites` sites (largest first), the rest summed as `site="other"`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from mapguard.ebpf.session import Session
from mapguard.ebpf.stats import CappedSeries
from mapguard.errors import UsageError

PREFIX = "mapguard_"


class SessionCollector(Collector):
    def __init__(self, session: Session, lock: threading.Lock) -> None:
        self.session = session
        self.lock = lock

    def collect(self) -> Iterator[Metric]:
        with self.lock:
            yield from self._families()

    def _families(self) -> Iterator[Metric]:
        session = self.session
        target = session.target
        for what, series, help_ in (
                ("growth", session.growth_export, "Map growths (a table allocated and "
                 "entries copied), by the first user frame that inserted"),
                ("clear", session.clear_export, "Map clears, by the first user frame")):
            yield from _capped(f"{PREFIX}map_{what}", help_, target, series)
        if session.settings.ops:
            ops = CounterMetricFamily(f"{PREFIX}map_ops", "Map operations counted by uprobes "
                                      "(every call; stops when the op probes are dropped).",
                                      labels=["target", "op"])
            for op, count in sorted(session.op_totals().items()):
                ops.add_metric([target, op], count)
            yield ops
        health = session.health
        hits = CounterMetricFamily(f"{PREFIX}ebpf_probe_hits", "Uprobe hits in the target.",
                                   labels=["target"])
        hits.add_metric([target], sum(p.hits for p in (*session.timed.values(),
                                                       *session.ops.values())))
        overhead = GaugeMetricFamily(f"{PREFIX}ebpf_overhead_ratio", "CPU of probe hits and "
                                     "of mapguard, as a share of one core, last interval.",
                                     labels=["target"])
        overhead.add_metric([target], health.last_share)
        sampled = GaugeMetricFamily(f"{PREFIX}ebpf_growth_sampled_ratio", "Share of "
                                    "intervals the growth probes were attached (1: all).",
                                    labels=["target"])
        sampled.add_metric([target], health.sampled_fraction)
        lost = CounterMetricFamily(f"{PREFIX}ebpf_lost_samples", "Samples the kernel dropped "
                                   "because mapguard read too slowly.", labels=["target"])
        lost.add_metric([target], health.lost_samples)
        yield from (hits, overhead, sampled, lost)


def _capped(name: str, help_: str, target: str, series: CappedSeries) -> Iterator[Metric]:
    total = CounterMetricFamily(name, help_ + ".", labels=["target", "site"])
    seconds = HistogramMetricFamily(f"{name}_seconds", help_ + ": time in the runtime "
                                    "function, entry to return.", labels=["target", "site"])
    for site, values in sorted(series.series.items()):
        total.add_metric([target, site], values.count)
        buckets = [(_le(bound), count) for bound, count in values.durations.cumulative_buckets()]
        seconds.add_metric([target, site], buckets, values.durations.sum_ns / 1e9)
    yield from (total, seconds)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def serve(host: str, port: int, session: Session, lock: threading.Lock) -> WSGIServer:
    """Serve /metrics from a thread; the server's address tells the real port."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SessionCollector(session, lock))
    try:
        server, _thread = start_http_server(port, addr=host or "0.0.0.0", registry=registry)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return server
