"""Stage 3 of `mapguard demo`: request latency of riskd before and after its fixes, under the
same open-loop load, while a CPU quota steps down.

Both versions run at once, unprofiled (`GODEBUG=gctrace=1` only: the default memprofilerate,
since profiling every allocation would distort latency), each moved into its own chaos cgroup
(`chaos.cgroups`) when the machine lets mapguard write one. For each quota step the two are
loaded in turn by `mapguard load`'s engine at the same rate with the same request bodies, in
rounds whose order alternates (before, after, after, before, ...): load that the machine's
other work puts on one side lands on the other too. Every run is one sample: the runs' p99s are
compared with the Mann-Whitney U test the evidence stage uses, and "~" says the difference is
within noise (with 4 runs a side, only a difference every run agrees on passes; the seconds of
one run are not independent samples, since a burst of other work spans several of them). Each
version's SLO compliance per step comes from riskd's own SLO spec. Nothing here is expected to
come out one way: the figures are reported as measured.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.chaos.cgroups import Hierarchy, QuotaCgroup, ThrottleStats, usable_hierarchy
from mapguard.chaos.runtime import GctraceWindow, Regime, RuntimeFigures, regime
from mapguard.demo.comparison import Comparison, mann_whitney_p
from mapguard.demo.service import VERSIONS, Service, build, running_service
from mapguard.errors import ToolError
from mapguard.gotool import GoToolchain
from mapguard.load.engine import engine_binary, run_engine
from mapguard.load.plan import LoadPlan, Step
from mapguard.load.results import StepResult, make_step, step_results
from mapguard.load.slo_verdict import Objective, StepVerdict, judge, objectives
from mapguard.slo.spec import load_specs

RATE = 600  # POST /decide per second
QUOTAS: tuple[float | None, ...] = (None, 0.25, 0.10)  # shares of one CPU per 100 ms period
RUN_S = 2.0
ROUNDS = 4
WARMUP_S = 0.5
TIMEOUT_S = 2.0
CONNECTIONS = 256
BODY_SEED = 7
BODIES_TIMEOUT_S = 60.0
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Side:
    """One version in one quota step: its runs, and what its cgroup and runtime did."""

    version: str
    runs: tuple[StepResult, ...]
    merged: StepResult  # the runs as one step
    run_p99s: tuple[float, ...]  # the p99 of every run: the samples of the comparison
    throttle: ThrottleStats | None
    gomaxprocs: tuple[int, ...]
    gc_cycles: int
    slo: tuple[StepVerdict, ...]


def _side(version: str, runs: Sequence[StepResult], throttle: ThrottleStats | None,
          figures: RuntimeFigures, found: Sequence[Objective]) -> Side:
    intervals = [interval for run in runs for interval in run.intervals]
    merged = make_step(1, Step(RATE, sum(run.seconds for run in runs)), intervals, CONNECTIONS,
                       complete=True)
    p99s = tuple(run.latency.at(99.0) for run in runs if run.latency is not None)
    return Side(version, tuple(runs), merged, p99s, throttle, figures.gomaxprocs,
                figures.gc_cycles or 0, tuple(judge(objective, merged) for objective in found))


@dataclass(frozen=True, slots=True)
class QuotaStep:
    quota_cpus: float | None
    before: Side
    after: Side
    p99: Comparison


def _quota_comparison(quota: float | None, before: Side, after: Side) -> QuotaStep:
    a, b = before.merged.latency, after.merged.latency
    # A side whose generator could not hold the rate has no latency to compare (withheld).
    tested = a is not None and b is not None
    p99 = Comparison("p99_ms", "ms", a.at(99.0) if a else None, b.at(99.0) if b else None,
                     mann_whitney_p(before.run_p99s, after.run_p99s) if tested else None,
                     (len(before.run_p99s), len(after.run_p99s)), sample_kind="runs")
    return QuotaStep(quota, before, after, p99)


@dataclass(frozen=True, slots=True)
class LatencyStage:
    steps: tuple[QuotaStep, ...]
    cgroup: str | None  # "cgroup v1 at /sys/fs/cgroup/cpu"; None: no quota steps
    no_quota_reason: str | None
    regime: Regime
    restored: bool
    restore_problems: tuple[str, ...]
    exit_statuses: tuple[int, int]  # riskd before/, after/ after SIGTERM
    load_average: tuple[float, float, float]


def run_latency_stage(root: Path, toolchain: GoToolchain, spec: Path, *,
                      progress: Progress | None = None) -> LatencyStage:
    say = progress or (lambda _message: None)
    found, _skipped = objectives(load_specs([spec]))
    hierarchy, reason = usable_hierarchy()
    quotas = QUOTAS if hierarchy is not None else (None,)
    engine = engine_binary(toolchain)
    with tempfile.TemporaryDirectory(prefix="mapguard-demo-latency-") as tmp:
        work = Path(tmp)
        binaries = {}
        for version in VERSIONS:
            say(f"{version}/: go build")
            (work / version).mkdir()
            binaries[version] = build((root / version).resolve(), work / version, toolchain)
        runs_per_version = len(quotas) * ROUNDS
        per_run = round(RATE * (RUN_S + WARMUP_S))
        bodies = _bodies(binaries["after"][1], runs_per_version * per_run)
        cache = ("-cache-size", str(len(bodies) + 1000))  # never full: no eviction bursts
        with running_service(binaries["before"][0], work / "before", args=cache) as before, \
                running_service(binaries["after"][0], work / "after", args=cache) as after:
            services = {"before": before, "after": after}
            target_regime = regime(before.process.pid)
            with _cgroups(services, hierarchy) as cgroups:
                steps = []
                for index, quota in enumerate(quotas):
                    run_bodies = [bodies[(index * ROUNDS + r) * per_run:
                                         (index * ROUNDS + r + 1) * per_run]
                                  for r in range(ROUNDS)]
                    say(f"quota {'none' if quota is None else f'{100 * quota:g}%'}: "
                        f"{ROUNDS} rounds of {RUN_S:g}s per version at {RATE}/s")
                    steps.append(_quota_step(quota, services, cgroups, run_bodies, engine,
                                             found))
                problems = cgroups.restore()
        statuses = (before.exit_status, after.exit_status)
    return LatencyStage(
        steps=tuple(steps),
        cgroup=None if hierarchy is None else f"cgroup v{hierarchy.version} at "
                                              f"{hierarchy.mount}",
        no_quota_reason=None if hierarchy is not None else reason,
        regime=target_regime, restored=not problems, restore_problems=tuple(problems),
        exit_statuses=statuses, load_average=os.getloadavg(),
    )


class _Cgroups:
    """One chaos cgroup per version (none when cgroups cannot be written)."""

    def __init__(self) -> None:
        self.by_version: dict[str, QuotaCgroup] = {}
        self.problems: list[str] = []

    def set_quota(self, quota: float | None) -> None:
        for cgroup in self.by_version.values():
            cgroup.set_quota(quota)

    def restore(self) -> list[str]:
        for cgroup in self.by_version.values():
            self.problems += cgroup.restore()
        return self.problems


@contextlib.contextmanager
def _cgroups(services: dict[str, Service], hierarchy: Hierarchy | None) -> Iterator[_Cgroups]:
    cgroups = _Cgroups()
    try:
        if hierarchy is not None:
            for version, service in services.items():
                cgroups.by_version[version] = QuotaCgroup.create(hierarchy, service.process.pid)
        yield cgroups
    finally:
        cgroups.restore()  # idempotent: a second call after the normal one changes nothing


def _quota_step(quota: float | None, services: dict[str, Service], cgroups: _Cgroups,
                run_bodies: Sequence[Sequence[str]], engine: Path,
                found: Sequence[Objective]) -> QuotaStep:
    cgroups.set_quota(quota)
    stats = {v: c.stats() for v, c in cgroups.by_version.items()}
    traces = {v: GctraceWindow(s.stderr) for v, s in services.items()}
    runs: dict[str, list[StepResult]] = {version: [] for version in VERSIONS}
    for round_index, bodies in enumerate(run_bodies):
        order = VERSIONS if round_index % 2 == 0 else tuple(reversed(VERSIONS))
        for version in order:
            service = services[version]
            plan = LoadPlan(service.url + "/decide", "POST",
                            (Step(RATE, WARMUP_S, warmup=True), Step(RATE, RUN_S)),
                            bodies=tuple(bodies),
                            headers=(("Content-Type", "application/json"),
                                     ("User-Agent", "mapguard-demo")),
                            max_connections=CONNECTIONS, timeout_s=TIMEOUT_S)
            run = run_engine(plan, binary=engine)
            if run.interrupted:  # Ctrl-C or SIGTERM: the demo stops (the quota is undone)
                raise KeyboardInterrupt
            result = step_results(plan, run)
            service.check_alive()
            runs[version].extend(result.steps)
    sides = {}
    for version in VERSIONS:
        cgroup = cgroups.by_version.get(version)
        throttle = cgroup.stats().since(stats[version]) if cgroup else None
        sides[version] = _side(version, runs[version], throttle, traces[version].take(), found)
    return _quota_comparison(quota, sides["before"], sides["after"])


def _bodies(load: Path, count: int) -> list[str]:
    """Request bodies from riskd's own load generator (its request mix, a fixed seed)."""
    try:
        proc = subprocess.run([str(load), "-print-bodies", str(count), "-seed", str(BODY_SEED)],
                              capture_output=True, text=True, timeout=BODIES_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"riskd's load generator could not print request bodies: {exc}") \
            from None
    bodies = proc.stdout.splitlines()
    if proc.returncode != 0 or len(bodies) != count:
        raise ToolError(f"riskd's load generator printed {len(bodies)} of {count} bodies: "
                        f"{proc.stderr.strip()[:200]}")
    return bodies

