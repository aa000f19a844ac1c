"""Stage 2 of `mapguard demo`: what riskd's map patterns cost, measured, before and after the fixes.

For each version the compiler's escape analysis counts the map allocation sites by verdict; then
the service runs with ``GODEBUG=gctrace=1,memprofilerate=1`` on a free loopback port and its own
load generator drives it in batches of POST /decide. Around every batch a heap profile is taken
with ``gc=1`` (a forced GC makes the profile current): the difference of two profiles is that
batch's allocation, attributed to map creation and growth by `evidence.attribution`, and the
forced cycles in the GC trace mark where each batch starts and ends.

``memprofilerate=1`` records every allocation, so a batch's bytes are counted, not estimated from
the runtime's 512 KiB samples (a few thousand requests would give a few dozen samples). It slows
allocation: latency, throughput and GC CPU share are not production figures here.

Both versions get the same requests (same seeds, no /feedback: before/ dies under concurrent
feedback, EXPECTED.md). Each batch is one sample; before and after are compared with a
Mann-Whitney U test, and a difference with p >= 0.05 is reported as "~", as benchstat does.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from mapguard.demo.comparison import Comparison, mann_whitney_p
from mapguard.demo.service import VERSIONS, build, read_text, running_service
from mapguard.errors import MapguardError, ToolError
from mapguard.evidence.attribution import ALLOCATION_OPS, Attribution, attribute_profile
from mapguard.evidence.escape_run import run_escape_build
from mapguard.evidence.gcsummary import GcSummary, summarize_gctrace
from mapguard.evidence.profile_commands import fetch
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats.escape import EscapeFact, Verdict
from mapguard.formats.gctrace import Cycles, GcCycle, GcTrace, parse_gctrace
from mapguard.formats.pprof import parse_profile
from mapguard.gotool import GoToolchain

SERVICE_PACKAGES = (".", "./internal/...")  # riskd itself; cmd/load is the load generator
BATCHES = 5
WARMUP_REQUESTS = 200
WORKERS = 4
SEED_STRIDE = 100  # the load generator seeds worker w with seed + w
BATCH_TIMEOUT_S = 120.0
TOP_SITES = 3
DEFAULT_CACHE_ENTRIES = 10_000  # riskd's default -cache-size
CACHE_MARGIN = 1_000
# Every allocation is recorded: the bytes of a batch are counted, not estimated from samples.
GODEBUG_EXTRA = "memprofilerate=1"

_LOAD_LINE = re.compile(r"requests=(\d+) failed=(\d+) elapsed=(\S+)")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?)(h|ms|us|µs|ns|m|s)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class EscapeCounts:
    """Map allocation sites of riskd's own packages by the compiler's verdict."""

    heap: int
    moved: int
    stack: int


@dataclass(frozen=True, slots=True)
class SiteDelta:
    """Bytes one map site allocated over the measured batches."""

    function: str | None
    file: str  # relative to the version's directory
    line: int
    op: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of load: its requests and what the service allocated and collected meanwhile."""

    requests: int
    failed: int
    seconds: float
    map_bytes_by_op: Mapping[str, int]
    total_bytes: int
    gc_cycles: int  # cycles the allocation started; the forced ones around the batch excluded

    @property
    def map_bytes(self) -> int:
        return sum(self.map_bytes_by_op.values())

    def per_request(self, value: float) -> float:
        return value / self.requests if self.requests else math.nan


@dataclass(frozen=True, slots=True)
class VersionEvidence:
    version: str
    escape: EscapeCounts
    batches: tuple[Batch, ...]
    gc: GcSummary  # the cycles during the batches, forced ones excluded
    pauses_ms: tuple[float, ...]  # their stop-the-world pauses, two per cycle
    top_sites: tuple[SiteDelta, ...]
    unattributed_bytes: int  # map-related bytes the attribution could not split
    exit_status: int  # of riskd after SIGTERM
    # Kept for the evidence bundle: the heap profiles before the first batch and after the
    # last (their difference is the batches' allocation), the measured GC cycles, and the
    # compiler's verdicts for riskd's own map sites.
    profiles: tuple[bytes, ...] = ()
    cycles: tuple[GcCycle, ...] = ()
    escape_facts: tuple[EscapeFact, ...] = ()

    @property
    def requests(self) -> int:
        return sum(b.requests for b in self.batches)

    @property
    def failed(self) -> int:
        return sum(b.failed for b in self.batches)

    def map_bytes_per_request(self, op: str | None = None) -> float:
        total = sum(b.map_bytes if op is None else b.map_bytes_by_op.get(op, 0)
                    for b in self.batches)
        return total / self.requests if self.requests else math.nan

    @property
    def map_share(self) -> float:
        total = sum(b.total_bytes for b in self.batches)
        return sum(b.map_bytes for b in self.batches) / total if total else math.nan

    @property
    def gc_cycles_per_1000(self) -> float:
        cycles = sum(b.gc_cycles for b in self.batches)
        return 1000 * cycles / self.requests if self.requests else math.nan


@dataclass(frozen=True, slots=True)
class EvidenceStage:
    before: VersionEvidence
    after: VersionEvidence
    requests_per_batch: int
    comparisons: tuple[Comparison, ...]

    def comparison(self, metric: str) -> Comparison:
        return next(c for c in self.comparisons if c.metric == metric)

    @property
    def fewer_map_bytes(self) -> bool:
        """after/ allocates fewer map bytes per request, and the batches say so beyond noise."""
        found = self.comparison("map_bytes_per_request")
        return (found.significant and found.before is not None and found.after is not None
                and found.after < found.before)


def run_evidence_stage(root: Path, toolchain: GoToolchain, *, requests: int,
                       progress: Progress | None = None) -> EvidenceStage:
    """Measure both versions one after the other (never side by side: they would share CPUs)."""
    say = progress or (lambda _message: None)
    if requests < BATCHES:
        raise ValueError(f"at least {BATCHES} requests, got {requests}")
    per_batch = requests // BATCHES
    with tempfile.TemporaryDirectory(prefix="mapguard-demo-") as tmp:
        measured = {
            version: measure_version(root / version, Path(tmp) / version, toolchain,
                                     per_batch, say)
            for version in VERSIONS
        }
    before, after = measured["before"], measured["after"]
    return EvidenceStage(before, after, per_batch, compare(before, after))


def measure_version(module: Path, workdir: Path, toolchain: GoToolchain, per_batch: int,
                    say: Progress) -> VersionEvidence:
    module = module.resolve()
    version = module.name
    workdir.mkdir(parents=True)
    say(f"{version}/: escape analysis")
    facts = own_map_sites(module, toolchain)
    escape = escape_counts(facts)
    say(f"{version}/: go build")
    server, load = build(module, workdir, toolchain)
    sources = SourceFiles(module)
    snapshots: list[Attribution] = []
    raw: list[bytes] = []
    loads: list[LoadResult] = []
    cache = ("-cache-size", str(cache_entries(WARMUP_REQUESTS + BATCHES * per_batch)))
    with running_service(server, workdir, godebug_extra=GODEBUG_EXTRA, args=cache) as service:
        drive(load, service.url, WARMUP_REQUESTS, seed=1)
        snapshots.append(snapshot(service.url, sources, raw))
        for index in range(BATCHES):
            say(f"{version}/: batch {index + 1}/{BATCHES}, {per_batch} requests")
            loads.append(drive(load, service.url, per_batch, seed=(index + 1) * SEED_STRIDE + 1))
            service.check_alive()  # a crash says more than the failed profile request would
            snapshots.append(snapshot(service.url, sources, raw))
    windows = batch_cycles(_read_cycles(service.stderr), BATCHES)
    measured = [cycle for window in windows for cycle in window]
    return VersionEvidence(
        version=version, escape=escape,
        batches=tuple(_batch(result, start, end, len(window)) for result, (start, end), window
                      in zip(loads, pairwise(snapshots), windows, strict=True)),
        gc=summarize_gctrace(GcTrace(Cycles.from_rows(measured), (), 0)),
        pauses_ms=tuple(pause for cycle in measured for pause in cycle.pauses_ms),
        top_sites=site_deltas(snapshots[0], snapshots[-1], module),
        unattributed_bytes=snapshots[-1].unattributed - snapshots[0].unattributed,
        exit_status=service.exit_status,
        profiles=(raw[0], raw[-1]), cycles=tuple(measured), escape_facts=facts,
    )


def cache_entries(requests: int) -> int:
    """A decision cache larger than every request of the run. A full cache evicts a quarter of
    its entries at once and the map regrows: the batch in which that happens allocates more
    map bytes in both versions. With 20,000 requests it was the fifth of five batches, and the
    jump took the before/after difference below significance; a cache that never fills keeps
    the batches alike."""
    return max(DEFAULT_CACHE_ENTRIES, requests + CACHE_MARGIN)


def _batch(load: LoadResult, start: Attribution, end: Attribution, gc_cycles: int) -> Batch:
    """A batch's figures: the difference of the profiles taken before and after it."""
    return Batch(
        requests=load.requests, failed=load.failed, seconds=load.seconds,
        map_bytes_by_op={op: end.by_op.get(op, 0) - start.by_op.get(op, 0)
                         for op in ALLOCATION_OPS},
        total_bytes=end.total - start.total,
        gc_cycles=gc_cycles,
    )


def own_map_sites(module: Path, toolchain: GoToolchain) -> tuple[EscapeFact, ...]:
    """The compiler's verdicts for riskd's own map sites (inlined copies, the standard library
    and the load generator left out)."""
    report = run_escape_build(SERVICE_PACKAGES, module, toolchain=toolchain)
    return tuple(fact for fact in report.map_sites()
                 if fact.inlined_from is None and Path(fact.position.file).is_relative_to(module))


def escape_counts(facts: Sequence[EscapeFact]) -> EscapeCounts:
    verdicts = Counter(fact.verdict for fact in facts)
    return EscapeCounts(verdicts[Verdict.HEAP], verdicts[Verdict.MOVED], verdicts[Verdict.STACK])


@dataclass(frozen=True, slots=True)
class LoadResult:
    requests: int
    failed: int
    seconds: float


def drive(load: Path, url: str, requests: int, *, seed: int) -> LoadResult:
    """`requests` POST /decide from the bundled load generator (it exits 1 when some failed)."""
    command = [str(load), "-target", url, "-n", str(requests), "-c", str(WORKERS),
               "-duration", f"{BATCH_TIMEOUT_S / 2:.0f}s", "-feedback-every", "0",
               "-seed", str(seed)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=BATCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ToolError(f"the load generator did not finish within {BATCH_TIMEOUT_S:.0f} s") \
            from None
    found = _LOAD_LINE.search(proc.stdout)
    if found is None:
        output = (proc.stdout + proc.stderr).strip() or f"exit status {proc.returncode}"
        raise ToolError(f"the load generator said: {output.splitlines()[-1]}")
    return LoadResult(int(found.group(1)), int(found.group(2)), go_duration_s(found.group(3)))


def go_duration_s(text: str) -> float:
    """Seconds in a Go `time.Duration` string: ``1.5s``, ``886.762µs``, ``1m2.5s``."""
    parts = _GO_DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ToolError(f"not a Go duration: {text!r}")
    return math.fsum(float(number) * _SECONDS[unit] for number, unit in parts)


def snapshot(url: str, sources: SourceFiles, raw: list[bytes]) -> Attribution:
    """Allocation since start, current: `gc=1` runs a GC first (the allocation counts of a
    profile are those of the last completed cycle). The profile itself is appended to `raw`."""
    source = f"{url}/debug/pprof/heap?gc=1"
    raw.append(fetch(source))
    return attribute_profile(parse_profile(raw[-1], source), sources,
                             sample_index="alloc_space")


def _read_cycles(path: Path) -> Cycles:
    try:
        return parse_gctrace(read_text(path), str(path)).cycles
    except MapguardError as exc:
        raise ToolError(f"riskd's GC trace: {exc}") from None


def batch_cycles(cycles: Sequence[GcCycle], batches: int) -> list[list[GcCycle]]:
    """The cycles of each batch: between the forced cycle of the profile before it and the one
    after it. Expects one forced cycle per profile (batches + 1)."""
    forced = [index for index, cycle in enumerate(cycles) if cycle.forced]
    if len(forced) != batches + 1:
        raise ToolError(f"riskd's GC trace has {len(forced)} forced cycles, expected "
                        f"{batches + 1} (one per profile)")
    return [list(cycles[start + 1:end]) for start, end in pairwise(forced)]


def site_deltas(first: Attribution, last: Attribution, module: Path) -> tuple[SiteDelta, ...]:
    """The map sites that allocated most between two profiles."""
    start = {(cost.site, cost.op): cost.value for cost in first.sites}
    deltas = []
    for cost in last.sites:
        value = cost.value - start.get((cost.site, cost.op), 0)
        if value > 0:
            path = Path(cost.site.file)
            file = path.relative_to(module).as_posix() if path.is_relative_to(module) else path.name
            deltas.append(SiteDelta(cost.site.function, file, cost.site.line, cost.op, value))
    deltas.sort(key=lambda delta: (-delta.bytes, delta.file, delta.line))
    return tuple(deltas[:TOP_SITES])


# --- comparison ----------------------------------------------------------------------------


def _sample_comparison(metric: str, unit: str, before: VersionEvidence, after: VersionEvidence,
                       pooled: Callable[[VersionEvidence], float],
                       per_batch: Callable[[Batch], float]) -> Comparison:
    a = [per_batch(b) for b in before.batches]
    b = [per_batch(b) for b in after.batches]
    return Comparison(metric, unit, _number(pooled(before)), _number(pooled(after)),
                      mann_whitney_p(a, b), (len(a), len(b)))


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _op_comparison(op: str, before: VersionEvidence, after: VersionEvidence) -> Comparison:
    return _sample_comparison(f"map_{op}_bytes_per_request", "bytes", before, after,
                              lambda v: v.map_bytes_per_request(op),
                              lambda b: b.per_request(b.map_bytes_by_op.get(op, 0)))


def compare(before: VersionEvidence, after: VersionEvidence) -> tuple[Comparison, ...]:
    found = [
        _sample_comparison("map_bytes_per_request", "bytes", before, after,
                           lambda v: v.map_bytes_per_request(),
                           lambda b: b.per_request(b.map_bytes)),
    ]
    for op in ("create", "grow"):
        found.append(_op_comparison(op, before, after))
    found += [
        _sample_comparison("map_share_of_allocated_bytes", "ratio", before, after,
                           lambda v: v.map_share,
                           lambda b: b.map_bytes / b.total_bytes if b.total_bytes else 0.0),
        _sample_comparison("gc_cycles_per_1000_requests", "cycles", before, after,
                           lambda v: v.gc_cycles_per_1000,
                           lambda b: 1000 * b.gc_cycles / b.requests if b.requests else 0.0),
    ]
    # Pauses: every stop-the-world pause is a sample; a p99 of a few dozen is their maximum.
    pauses_before, pauses_after = before.gc.pauses_ms, after.gc.pauses_ms
    found.append(Comparison("gc_pause_p99_ms", "ms", pauses_before.p99, pauses_after.p99,
                            mann_whitney_p(before.pauses_ms, after.pauses_ms),
                            (pauses_before.count, pauses_after.count), sample_kind="pauses"))
    found.append(Comparison("gc_cpu_percent", "percent", before.gc.gc_cpu_window_percent,
                            after.gc.gc_cpu_window_percent, None, (1, 1)))
    for verdict, attribute_name in (("heap", "heap"), ("moved_to_heap", "moved"),
                                    ("stack", "stack")):
        found.append(Comparison(
            f"escape_{verdict}_map_sites", "sites", getattr(before.escape, attribute_name),
            getattr(after.escape, attribute_name), None, (1, 1), exact=True,
        ))
    return tuple(found)
