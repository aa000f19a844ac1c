"""A CPU chaos run: step the target's quota (or run stress-ng beside it) while a load command
runs, record each step, and undo everything on every way out.

Order on the way out, whatever ended the run (the last step, Ctrl-C, SIGTERM, the target or
the load command dying): the quota and the target's cgroup membership are restored first, then
stress-ng is stopped, then the load command is asked to stop (SIGINT: it reports what it
measured) and waited for.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mapguard.chaos.cgroups import (
    Hierarchy,
    QuotaCgroup,
    ThrottleStats,
    alive,
    leftovers,
    process_cgroup,
    remove_leftover,
    usable_hierarchy,
)
from mapguard.chaos.runtime import (
    GctraceWindow,
    Regime,
    RuntimeFigures,
    metrics_figures,
    regime,
    scrape,
)
from mapguard.chaos.steps import ChaosStep
from mapguard.errors import ToolError, UsageError
from mapguard.load.engine import RECORD_ENV, termination_as_interrupt
from mapguard.load.intervals import EngineRun, Interval, Start, parse_line

POLL_S = 0.05
RECORD_APPEARS_S = 5.0  # `mapguard load` opens its record file within this after it starts
LOAD_START_TIMEOUT_S = 330.0  # it may build its engine first
LOAD_STOP_TIMEOUT_S = 30.0
STRESS_STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class StepRecord:
    step: ChaosStep
    start_ns: int
    end_ns: int
    throttle: ThrottleStats | None  # None: no cgroup in this run
    quota_file: str  # the quota file as the kernel showed it during the step
    runtime: RuntimeFigures | None
    cut_short: bool


@dataclass(slots=True)
class ChaosRun:
    target: int
    steps: Sequence[ChaosStep]
    regime: Regime
    cpus: int
    hierarchy: Hierarchy | None = None
    cgroup: str | None = None
    records: list[StepRecord] = field(default_factory=list)
    ended: str = "every step ran"
    load_command: tuple[str, ...] = ()
    load_exit: int | None = None
    load_intervals: list[Interval] = field(default_factory=list)
    load_run: EngineRun | None = None
    restored: bool = False
    restore_problems: list[str] = field(default_factory=list)
    cleaned_leftovers: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def completed(self) -> bool:
        return self.ended == "every step ran"


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    target: int
    steps: Sequence[ChaosStep]
    command: Sequence[str] = ()
    gctrace: Path | None = None
    metrics_url: str | None = None


def run_chaos(options: ChaosOptions, *, say: Callable[[str], None] = lambda _m: None
              ) -> ChaosRun:
    if not alive(options.target):
        raise UsageError(f"--pid {options.target}: no such process")
    if options.target in (os.getpid(), 1):
        raise UsageError(f"--pid {options.target}: not a process mapguard may throttle")
    needs_cgroup = any(step.quota_cpus is not None for step in options.steps)
    hierarchy = None
    if needs_cgroup:
        hierarchy, reason = usable_hierarchy()
        if hierarchy is None:
            raise ToolError(f"CPU quota steps need a writable cgroup: {reason}")
    if any(step.stress_workers for step in options.steps) and shutil.which("stress-ng") is None:
        raise ToolError("--stress needs stress-ng (apt-get install stress-ng)")
    try:
        cpus = len(os.sched_getaffinity(options.target))
    except OSError:
        cpus = os.cpu_count() or 1
    run = ChaosRun(options.target, options.steps, regime(options.target), cpus, hierarchy,
                   load_command=tuple(options.command))
    with tempfile.TemporaryDirectory(prefix="mapguard-chaos-") as tmp:
        record = Path(tmp) / "load.jsonl"
        with termination_as_interrupt():
            _run(options, run, record, say)
        _read_load_record(run, record)
    return run


def _run(options: ChaosOptions, run: ChaosRun, record: Path, say: Callable[[str], None]
         ) -> None:
    cgroup: QuotaCgroup | None = None
    load: subprocess.Popen[bytes] | None = None
    stress: subprocess.Popen[bytes] | None = None
    try:
        if run.hierarchy is not None:
            _clean_leftovers(run, run.hierarchy, say)
            cgroup = QuotaCgroup.create(run.hierarchy, options.target)
            run.cgroup = str(cgroup.path)
            say(f"moved {len(cgroup.origins)} process(es) into {cgroup.path}")
        # Step deadlines are fixed on one timeline from the load's first measured moment (or
        # now), so time spent between steps (stress-ng starting, a scrape, a late look at the
        # load's record) never pushes the last step past a load sized to the steps' total.
        timeline = time.monotonic()
        if options.command:
            load = _start_load(options.command, record)
            timeline = _await_measurement(load, record, say) or time.monotonic()
        for step in options.steps:
            timeline += step.seconds
            if cgroup is not None:
                cgroup.set_quota(step.quota_cpus)
            stress = _start_stress(step) if step.stress_workers else None
            say(f"step {step.number}: {step.describe()} for {step.seconds:g}s")
            ended = _step(options, run, step, cgroup, load, deadline=timeline)
            _stop_stress(stress)
            stress = None
            if ended is not None:
                run.ended = ended
                break
    except KeyboardInterrupt:
        run.interrupted = True
        run.ended = "interrupted"
    finally:
        # Quota and membership first, with Ctrl-C and SIGTERM held back until it is done:
        # nothing may leave the target throttled.
        with _signals_deferred():
            run.restore_problems = cgroup.restore() if cgroup is not None else []
            run.restored = not run.restore_problems
        _stop_stress(stress)
        if load is not None:
            run.load_exit = _finish_load(load, early=not run.completed)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _step(options: ChaosOptions, run: ChaosRun, step: ChaosStep, cgroup: QuotaCgroup | None,
          load: subprocess.Popen[bytes] | None, *, deadline: float) -> str | None:
    """Wait out one step until `deadline` (monotonic); the reason when something ended the
    run during it."""
    gctrace = GctraceWindow(options.gctrace) if options.gctrace else None
    metrics_start = scrape(options.metrics_url) if options.metrics_url else None
    before = cgroup.stats() if cgroup else None
    quota_file = cgroup.quota_text() if cgroup else ""
    start = time.time_ns()
    ended: str | None = "interrupted"  # unless the loop below finishes
    try:
        ended = _wait_step(options, step, cgroup, load, deadline)
    finally:
        # Recorded on every way out: an interrupted step is reported as far as it went.
        end = time.time_ns()
        figures = None
        if gctrace is not None:
            figures = gctrace.take()
        elif metrics_start is not None and options.metrics_url and ended != "interrupted":
            figures = metrics_figures(metrics_start, scrape(options.metrics_url))
        throttle = cgroup.stats().since(before) if cgroup and before else None
        run.records.append(StepRecord(step, start, end, throttle, quota_file, figures,
                                      cut_short=ended is not None))
    return ended


def _wait_step(options: ChaosOptions, step: ChaosStep, cgroup: QuotaCgroup | None,
               load: subprocess.Popen[bytes] | None, deadline: float) -> str | None:
    while time.monotonic() < deadline:
        if not alive(options.target) or (cgroup is not None and not cgroup.members()):
            return f"the target (pid {options.target}) exited during step {step.number}"
        if load is not None and load.poll() is not None:
            return (f"the load command exited (status {load.returncode}) during step "
                    f"{step.number}")
        time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
    return None


def _clean_leftovers(run: ChaosRun, hierarchy: Hierarchy, say: Callable[[str], None]) -> None:
    """Chaos cgroups of runs that were killed outright (SIGKILL leaves no chance to clean),
    where this run would put its own: below the target's cgroup, or the hierarchy's root."""
    roots = [hierarchy.mount]
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{run.target}/cgroup").read_text(encoding="utf-8")
        relative = process_cgroup(text, hierarchy.version)
        if relative not in (None, "/"):
            roots.append(hierarchy.mount / str(relative).lstrip("/"))
    for path in leftovers(hierarchy, roots):
        remove_leftover(path)
        run.cleaned_leftovers.append(str(path))
        say(f"removed {path}, left by a run that was killed")


def _start_load(command: Sequence[str], record: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, RECORD_ENV: str(record)}
    try:
        # Its report goes to our stderr: our stdout is the chaos report (JSON with --format).
        return subprocess.Popen(list(command), env=env, stdin=subprocess.DEVNULL,
                                stdout=sys.stderr.fileno())
    except OSError as exc:
        raise ToolError(f"cannot run {command[0]}: {exc.strerror or exc}") from None


def _await_measurement(load: subprocess.Popen[bytes], record: Path,
                       say: Callable[[str], None]) -> float | None:
    """When the command is `mapguard load` (it opens the record file at once), the steps start
    when its measurement does: after its engine is built and its warm-up is over. Returns that
    moment on the monotonic clock (in the past when the record was read late), or None."""
    appear_by = time.monotonic() + RECORD_APPEARS_S
    while not record.exists():
        if time.monotonic() > appear_by or load.poll() is not None:
            return None  # not mapguard load: its figures will not be split by step
        time.sleep(POLL_S)
    start_by = time.monotonic() + LOAD_START_TIMEOUT_S
    while load.poll() is None and time.monotonic() < start_by:
        first = record.read_bytes().split(b"\n", 1)[0]
        if first.endswith(b"}"):
            started = parse_line(first)
            if isinstance(started, Start):
                wait_s = (started.measure_from_ns - time.time_ns()) / 1e9
                measure_from = time.monotonic() + wait_s
                say(f"the load measures from {max(0.0, wait_s):.1f}s from now; steps start then")
                time.sleep(max(0.0, wait_s))
                return measure_from
            return None
        time.sleep(POLL_S)
    return None


def _finish_load(load: subprocess.Popen[bytes], *, early: bool) -> int:
    """Wait for the load command (it is bounded by its own plan); ask it to stop first when
    the run ended early."""
    if early and load.poll() is None:
        load.send_signal(signal.SIGINT)
    try:
        return load.wait(timeout=LOAD_STOP_TIMEOUT_S if early else None)
    except subprocess.TimeoutExpired:
        load.kill()
        return load.wait()
    except KeyboardInterrupt:
        load.send_signal(signal.SIGINT)
        try:
            return load.wait(timeout=LOAD_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            load.kill()
            return load.wait()


def _start_stress(step: ChaosStep) -> subprocess.Popen[bytes]:
    command = ["stress-ng", "--cpu", str(step.stress_workers), "--timeout",
               f"{int(step.seconds) + 1}s", "--quiet"]
    try:
        # Its own session: stopping it stops its workers too.
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise ToolError(f"cannot run stress-ng: {exc.strerror or exc}") from None


def _stop_stress(stress: subprocess.Popen[bytes] | None) -> None:
    if stress is None:
        return
    if stress.poll() is None:
        try:
            os.killpg(stress.pid, signal.SIGTERM)
            stress.wait(timeout=STRESS_STOP_TIMEOUT_S)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(stress.pid, signal.SIGKILL)
    stress.wait()


def _read_load_record(run: ChaosRun, record: Path) -> None:
    try:
        lines = record.read_bytes().splitlines()
    except OSError:
        return
    engine = EngineRun()
    for line in lines:
        if line.strip():
            engine.add(parse_line(line))
    run.load_run = engine
    run.load_intervals = engine.intervals
