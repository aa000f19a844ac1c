"""A tracing session: attach the plan's probes, read them every interval, keep the budget,
detach on every way out.

The probes are defined once (tracefs) and attached by opening perf events. Growth and clear
functions are timed (entry + every exit); op functions (`--ops`) are counted in the kernel and
sampled one hit in `OPS_PERIOD` for their call sites. Every interval the session reads the
samples, pairs entries and exits per goroutine, charges each call to its user site, and checks
the cost against the budget: over it, the op probes are detached first; if the growth probes
alone still cost too much, they are attached only one interval in every N (N chosen from the
measured cost), and the user is told.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mapguard.ebpf.binary import GoBinary
from mapguard.ebpf.cost import Budget, HitCost, measure_hit_cost
from mapguard.ebpf.disasm import Placement, ProbeSite
from mapguard.ebpf.perf import PerfSession
from mapguard.ebpf.plan import GROWTH, ProbePlan, ProbeSpec
from mapguard.ebpf.stats import CappedSeries, Totals, site_label
from mapguard.ebpf.symbols import Symbolizer
from mapguard.ebpf.timing import (
    EXIT_FETCH,
    Call,
    Decoder,
    Hit,
    Pairer,
    ProbePoint,
    Reorder,
    caller_stack,
    entry_fetch,
)
from mapguard.ebpf.tracefs import UprobeEvents, remove_stale
from mapguard.sitecap import OTHER

OPS_PERIOD = 64  # op probes sample one hit in 64 for its call site; every hit is counted
# A sample is taken in the probe handler a few microseconds before it reaches its buffer:
# hits newer than this (before the buffers are read) are held back until the next reading, so
# that entries and exits pair in order.
REORDER_SLACK_NS = 20_000_000
MAX_SAMPLING_PERIOD = 100  # growth probes attached at least one interval in 100
IDLE_INTERVALS = 3600  # a site without growth this many intervals gives its export slot up
BUDGET_CHECK_S = 0.25  # between ticks, the budget is checked at most this often


@dataclass(frozen=True, slots=True)
class Settings:
    interval_s: float = 1.0
    ops: bool = False
    budget: Budget = field(default_factory=lambda: Budget(0.02))
    top_sites: int = 20


@dataclass(slots=True)
class Point:
    """A probe point with what its hits cost, in seconds."""

    probe: ProbePoint
    cost: float
    hits: int = 0  # since attached, from the kernel's counter


@dataclass(slots=True)
class Health:
    """What the session says about itself: cost, budget actions, losses."""

    hit_cost: HitCost | None = None
    probe_seconds: float = 0.0  # target CPU spent in probe hits (estimated from hits x cost)
    own_seconds: float = 0.0  # mapguard's own CPU time while tracing
    wall_seconds: float = 0.0
    last_share: float = 0.0  # of one core, in the last interval
    ops_dropped: bool = False
    sampling_period: int = 1  # growth probes attached one interval in N
    attached_seconds: float = 0.0  # how long the growth probes were attached
    intervals: int = 0
    lost_samples: int = 0
    unmatched: int = 0
    other_processes: int = 0  # samples of processes other than --pid's
    notes: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        busy = self.probe_seconds + self.own_seconds
        return busy / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def sampled_fraction(self) -> float:
        """The share of the traced time the growth probes were attached."""
        if self.wall_seconds <= 0:
            return 1.0
        return min(1.0, self.attached_seconds / self.wall_seconds)


class Session:
    def __init__(self, binary: GoBinary, stream: BinaryIO, probe_path: str, plan: ProbePlan,
                 placements: dict[str, Placement], pid: int | None, settings: Settings,
                 say: Callable[[str], None]) -> None:
        self.binary = binary
        self.probe_path = probe_path
        self.plan = plan
        self.placements = placements
        self.pid = pid
        self.settings = settings
        self.say = say
        self.events = UprobeEvents()
        self.perf = PerfSession()
        self.symbolizer = Symbolizer(binary, stream)
        self.totals = Totals()
        self.health = Health()
        self.growth_export = CappedSeries(settings.top_sites, IDLE_INTERVALS)
        self.clear_export = CappedSeries(settings.top_sites, IDLE_INTERVALS)
        self.timed: dict[str, Point] = {}
        self.ops: dict[str, Point] = {}
        self.decoders: dict[str, Decoder] = {}
        self.reorder = Reorder(REORDER_SLACK_NS)
        self.pairer = Pairer(self.decoders)
        self._growth_attached = False
        self._attached_since = 0.0
        self._attach_at = 0  # the interval at which sampled growth probes attach again
        self._last_cpu = 0.0
        self._last_wall = 0.0

    @property
    def target(self) -> str:
        return self.binary.path.name if self.pid is None else _process_name(self.pid)

    # -- attaching ---------------------------------------------------------------------------

    def start(self) -> None:
        """Define the probes, measure their cost, attach them. On failure, undo all of it."""
        try:
            remove_stale(self.events.root)
            self.health.hit_cost = measure_hit_cost(self.events.root)
            self._define()
            self._attach_growth()
            if self.settings.ops:
                for name in self.ops:
                    self._open_op(name)
        except BaseException:
            self.stop()
            raise
        self._last_cpu = _own_cpu()
        self._last_wall = time.monotonic()

    def _define(self) -> None:
        cost = self.health.hit_cost
        assert cost is not None
        for index, spec in enumerate((*self.plan.timed, *(self.plan.ops if self.settings.ops
                                                          else ()))):
            placement = self.placements[spec.function]
            entry = ProbePoint(f"p{index}_in", spec, True, placement.entry.address)
            sample_cost = cost.chain_sample if spec.timed else cost.chain_sample / OPS_PERIOD
            self._define_point(entry, placement.entry, sample_cost, entry_fetch(spec))
            if not spec.timed:
                continue
            for exit_index, site in enumerate(placement.exits):
                point = ProbePoint(f"p{index}_out{exit_index}", spec, False, site.address)
                self._define_point(point, site, cost.plain_sample, EXIT_FETCH)

    def _define_point(self, point: ProbePoint, site: ProbeSite, sample_cost: float,
                      fetch: str) -> None:
        assert self.health.hit_cost is not None
        self.events.define(point.event, self.probe_path, self.binary.file_offset(site.address),
                           fetch)
        self.decoders[point.event] = Decoder(self.events.fields(point.event))
        table = self.timed if point.spec.timed else self.ops
        table[point.event] = Point(point, self.health.hit_cost.trap(site.emulated) + sample_cost)

    def _attach_growth(self) -> None:
        for name in self.timed:
            self.perf.open(name, self.events.event_id(name), callchain=self.timed[name].probe.entry)
        self._growth_attached = True
        self._attached_since = time.monotonic()

    def _detach_growth(self) -> None:
        self._drain(final=True)
        for name in self.timed:
            self.perf.close(name)
        self.pairer.forget()
        self._growth_attached = False
        self.health.attached_seconds += time.monotonic() - self._attached_since

    def _open_op(self, name: str) -> None:
        self.perf.open(name, self.events.event_id(name), callchain=True, period=OPS_PERIOD)

    # -- every interval ----------------------------------------------------------------------

    def tick(self) -> None:
        """Read what the probes saw since the last tick, keep the budget, and attach or
        detach the growth probes when they are sampled."""
        self.health.intervals += 1
        self._drain(final=False)
        self.totals.close_interval()
        self._keep_budget()
        self._schedule_growth()

    def ring_fds(self) -> list[int]:
        return self.perf.ring_fds()

    def drain(self) -> None:
        """Read the buffers between ticks, when one fills up; a burst that costs more than the
        budget is acted on then, not at the next tick."""
        self._drain(final=False)
        if time.monotonic() - self._last_wall >= BUDGET_CHECK_S:
            self._keep_budget()

    def _drain(self, final: bool) -> None:
        ops_batch: list[tuple[ProbeSpec, tuple[int, ...]]] = []

        def timed_hits() -> Iterator[Hit]:
            for name, sample in self.perf.samples():
                if self.pid is not None and sample.pid != self.pid:
                    self.health.other_processes += 1
                    continue
                point = self.timed.get(name)
                if point is not None:
                    yield Hit(point.probe, sample)
                    continue
                op = self.ops[name]
                ra = self.decoders[name].value(sample.raw, "ra")
                ops_batch.append((op.probe.spec, caller_stack(sample.stack, ra)))

        calls = list(self.pairer.feed(self.reorder.take(timed_hits(), final)))
        self._record(calls)
        for spec, stack in ops_batch:
            self.totals.ops[(self.symbolizer.site(stack), spec.kind)] += OPS_PERIOD
        self.health.lost_samples = self.perf.lost
        self.health.unmatched = self.pairer.unmatched

    def _record(self, calls: list[Call]) -> None:
        sited = [(call, self.symbolizer.site(call.stack)) for call in calls]
        self.totals.add_calls(sited)
        growth: dict[str, list[int]] = {}
        clear: dict[str, list[int]] = {}
        for call, site in sited:
            batch = growth if call.spec.role == GROWTH else clear
            batch.setdefault(site_label(site) if site else OTHER, []).append(call.duration_ns)
        self.growth_export.add(growth)
        self.clear_export.add(clear)

    def _account(self) -> tuple[float, float]:
        """Add the hits and CPU time since the last call; (busy seconds, wall seconds)."""
        health = self.health
        now, cpu = time.monotonic(), _own_cpu()
        wall, own = now - self._last_wall, cpu - self._last_cpu
        self._last_wall, self._last_cpu = now, cpu
        probe = 0.0
        for name, point in (*self.timed.items(), *self.ops.items()):
            hits = self.perf.count(name)
            probe += (hits - point.hits) * point.cost
            point.hits = hits
        health.probe_seconds += probe
        health.own_seconds += own
        health.wall_seconds += wall
        health.last_share = (probe + own) / wall if wall > 0 else 0.0
        return probe + own, wall

    def _keep_budget(self) -> None:
        health = self.health
        busy, wall = self._account()
        budget = self.settings.budget
        if not budget.over(busy, wall):
            if self._growth_attached and health.sampling_period > 1:
                self._resample(health.last_share)
            return
        if self.settings.ops and not health.ops_dropped:
            for name in self.ops:
                self.perf.close(name)
            health.ops_dropped = True
            self._note(f"over the budget ({health.last_share:.1%} of a core > "
                       f"{budget.share:.1%}): op probes detached")
        elif self._growth_attached:
            self._resample(health.last_share)

    def _resample(self, share_when_attached: float) -> None:
        """Attach the growth probes one interval in N, N from their cost when attached; over
        the budget they are detached at once."""
        health = self.health
        wanted = max(1, min(MAX_SAMPLING_PERIOD,
                            math.ceil(share_when_attached / self.settings.budget.share)))
        if wanted > 1 and health.sampling_period == 1:
            self._note(f"growth probes cost {share_when_attached:.1%} of a core: attached "
                       f"one interval in {wanted} from now on; counts are of those intervals")
        elif wanted == 1 and health.sampling_period > 1:
            self._note("growth probes attached all the time again")
        health.sampling_period = wanted
        if wanted > 1:
            self._detach_growth()
            self._attach_at = health.intervals + wanted

    def _schedule_growth(self) -> None:
        """At a tick: sampled probes attach for one interval in `sampling_period`."""
        health = self.health
        if self._growth_attached:
            if health.sampling_period > 1:
                self._detach_growth()
                self._attach_at = health.intervals + health.sampling_period - 1
        elif health.intervals >= self._attach_at:
            self._attach_growth()

    def _note(self, message: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {message}"
        self.health.notes.append(stamped)
        self.say(message)

    # -- detaching ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Read what is left, detach every probe, remove every definition. Idempotent."""
        try:
            if self.perf.rings:
                self._drain(final=True)
                self._account()
                if self._growth_attached:
                    self.health.attached_seconds += time.monotonic() - self._attached_since
        finally:
            self.perf.close_all()
            kept = self.events.remove_all()
            if kept:
                self.say(f"could not remove uprobe events {', '.join(kept)} of group "
                         f"{self.events.group}; the next run removes them")

    # -- reading the totals ------------------------------------------------------------------

    def op_totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for name, point in self.ops.items():
            totals[point.probe.spec.kind] = totals.get(point.probe.spec.kind, 0) + \
                self.perf.count(name)
        return totals


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _process_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or str(pid)
    except OSError:
        return str(pid)
