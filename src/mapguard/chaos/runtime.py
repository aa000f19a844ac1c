"""What the target's Go runtime did in each step: GOMAXPROCS and GC, and which regime it runs.

Go 1.25 made GOMAXPROCS follow the cgroup CPU limit: min(logical CPUs, max(2, ceil(quota)));
earlier versions, an explicit GOMAXPROCS, or GODEBUG=containermaxprocs=0 keep it at the CPU
count. Per step the figures come from the target's GC trace (`--gctrace FILE`, what it writes to
stderr with GODEBUG=gctrace=1: each cycle names its P count) or its Prometheus `/metrics`
(`--metrics URL`, client_golang's go_sched_gomaxprocs_threads and go_gc_duration_seconds).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from mapguard.formats.gctrace import GctraceParser
from mapguard.goversion import GoVersion

GO_FOLLOWS_LIMIT = GoVersion.parse("1.25")
_GO_VERSION = re.compile(rb"go1\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class Regime:
    go_version: str | None
    follows_limit: bool | None  # None: unknown (not a Go binary we could read)
    reason: str

    def expected_gomaxprocs(self, quota_cpus: float | None, cpus: int) -> int | None:
        if self.follows_limit is None:
            return None
        if not self.follows_limit or quota_cpus is None:
            return cpus
        return min(cpus, max(2, math.ceil(quota_cpus - 1e-9)))


def environment(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    found = {}
    for item in raw.split(b"\0"):
        name, _, value = item.partition(b"=")
        if name:
            found[name.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
    return found


def binary_go_version(pid: int) -> str | None:
    """The Go release the target was built with, read from its build info in the binary."""
    try:
        data = Path(f"/proc/{pid}/exe").read_bytes()
    except OSError:
        return None
    marker = data.find(b"\xff Go buildinf:")
    window = data[marker:marker + 4096] if marker >= 0 else b""
    found = _GO_VERSION.search(window)
    if found is None:
        return None
    return found.group(0).decode()


def regime(pid: int) -> Regime:
    env = environment(pid)
    version = binary_go_version(pid)
    if "GOMAXPROCS" in env:
        return Regime(version, False, f"GOMAXPROCS={env['GOMAXPROCS']} is set explicitly")
    if version is None:
        return Regime(None, None, "not a Go binary whose version could be read")
    godebug = env.get("GODEBUG", "")
    if GoVersion.parse(version.removeprefix("go")) < GO_FOLLOWS_LIMIT:
        return Regime(version, False, f"{version} sizes GOMAXPROCS from the CPU count only")
    if "containermaxprocs=0" in godebug:
        return Regime(version, False, "GODEBUG=containermaxprocs=0 ignores the CPU limit")
    updates = "updatemaxprocs=0" not in godebug
    return Regime(version, True, f"{version} sizes GOMAXPROCS from the cgroup CPU limit"
                  + (" and follows its changes" if updates else " at start only "
                     "(GODEBUG=updatemaxprocs=0)"))


@dataclass(frozen=True, slots=True)
class RuntimeFigures:
    gomaxprocs: tuple[int, ...]  # distinct values seen during the step
    gc_cycles: int | None
    gc_pause_max_ms: float | None
    source: str  # "gctrace" or "metrics"


class GctraceWindow:
    """Reads what a GC trace file grew by since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = self._size()

    def _size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def take(self) -> RuntimeFigures:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            chunk = b""
        complete = chunk[:chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        parser = GctraceParser()
        cycles = [cycle for line in complete.decode("utf-8", "replace").splitlines()
                  if (cycle := parser.feed(line)[0]) is not None]
        return RuntimeFigures(
            gomaxprocs=tuple(sorted({cycle.procs for cycle in cycles})),
            gc_cycles=len(cycles),
            gc_pause_max_ms=max((p for c in cycles for p in c.pauses_ms), default=None),
            source="gctrace",
        )


@dataclass(frozen=True, slots=True)
class MetricsSample:
    gomaxprocs: int | None
    gc_cycles: int | None


def parse_metrics(text: str) -> MetricsSample:
    from prometheus_client.parser import text_string_to_metric_families

    gomaxprocs = cycles = None
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "go_sched_gomaxprocs_threads":
                    gomaxprocs = int(sample.value)
                elif sample.name == "go_gc_duration_seconds_count":
                    cycles = int(sample.value)
    except ValueError:
        return MetricsSample(None, None)
    return MetricsSample(gomaxprocs, cycles)


def scrape(url: str) -> MetricsSample:
    import httpx

    try:
        response = httpx.get(url, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError:
        return MetricsSample(None, None)
    return parse_metrics(response.text)


def metrics_figures(start: MetricsSample, end: MetricsSample) -> RuntimeFigures:
    seen = tuple(sorted({v for v in (start.gomaxprocs, end.gomaxprocs) if v is not None}))
    cycles = (end.gc_cycles - start.gc_cycles
              if start.gc_cycles is not None and end.gc_cycles is not None else None)
    return RuntimeFigures(seen, cycles, None, "metrics")


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))
