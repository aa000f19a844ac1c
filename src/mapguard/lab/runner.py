"""Run the lab: generate the Go module, build it, and collect every measurement and fact.

The module (standard library only) is copied from mapguard's data into a temporary directory
with a generated parameters file and a go.mod for the toolchain mapguard found, so every number
is for the user's Go version and machine. Then:

- the test binary is built once and run `rounds` times; each run goes once through every
  selected benchmark (`-test.count=1`), so machine drift spreads over all strategies alike,
  and every other run takes the ways compared at one parameter in reverse order
  (`-maplab.reverse`), so none of them always runs right after a heavier one;
- the fact benchmarks run once (`-test.benchtime=1x`): crashes, sizes, retention, pools;
- the compiler is asked what it made of the strategies: assembly listings (default, `-N -l`,
  `-race`), escape analysis (`mapguard escape`'s library);
- small programs show what the linker and the race detector do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mapguard.bench.calibrate import machine_description
from mapguard.errors import MapguardError, ToolError
from mapguard.evidence.escape_run import run_escape_build
from mapguard.formats.asmlisting import calls_by_function
from mapguard.formats.benchfmt import BenchFile, parse_benchfmt
from mapguard.formats.escape import EscapeReport
from mapguard.gotool import GoToolchain, go_environment, run_go
from mapguard.goversion import GoVersion
from mapguard.lab.plan import LabPlan

MIN_GO = GoVersion(1, 21)  # clear, the maps package
PACKAGE = "maplab"
BUILD_TIMEOUT_S = 600.0
ROUND_TIMEOUT_S = 3600.0
# Steps besides the benchmark rounds, for the progress bar: build, facts, three listings,
# escape analysis, three linkname builds, race build and two race runs.
FIXED_STEPS = 12

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class BuildCheck:
    ok: bool
    output: str  # what the toolchain said, first lines


@dataclass(frozen=True, slots=True)
class RaceRun:
    reported: bool  # "WARNING: DATA RACE" in the output
    exit_status: int


@dataclass(frozen=True, slots=True)
class LabRun:
    plan: LabPlan
    go_version: str
    timings: BenchFile  # every round, in the Go benchmark format
    timings_text: str
    facts: BenchFile
    facts_text: str
    listings: dict[str, dict[str, tuple[str, ...]] | str]  # build -> calls, or why it failed
    escape: EscapeReport | str
    linkname: dict[str, BuildCheck]
    race: dict[str, RaceRun] | str
    swiss_tables: bool
    machine: dict[str, object]
    elapsed_s: float


def _template() -> Path:
    return Path(str(resources.files("mapguard") / "data" / "lab"))


def write_module(directory: Path, plan: LabPlan, toolchain: GoToolchain) -> Path:
    """The lab's Go module, ready to build; returns the package directory."""
    shutil.copytree(_template(), directory, dirs_exist_ok=True)
    version = toolchain.version
    (directory / "go.mod").write_text(
        f"module mapguard.lab\n\ngo {version.major}.{version.minor}\n", encoding="utf-8")
    package = directory / PACKAGE
    (package / "params_test.go").write_text(plan.params_go(), encoding="utf-8")
    return package


class _Steps:
    def __init__(self, total: int, progress: Progress | None) -> None:
        self.done, self.total, self.progress = 0, total, progress

    def advance(self, count: int = 1) -> None:
        self.done += count
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))


def run_lab(plan: LabPlan, toolchain: GoToolchain, progress: Progress | None = None) -> LabRun:
    if toolchain.version < MIN_GO:
        raise ToolError(f"mapguard lab needs Go {MIN_GO} or newer (clear, maps); found "
                        f"{toolchain.full_version}")
    started = time.monotonic()
    steps = _Steps(FIXED_STEPS + plan.rounds * plan.expected_results(), progress)
    with tempfile.TemporaryDirectory(prefix="mapguard-lab-") as scratch:
        module = Path(scratch) / "module"
        package = write_module(module, plan, toolchain)
        binary = Path(scratch) / "maplab.test"
        _go_or_fail(["test", "-c", "-o", str(binary), f"./{PACKAGE}"], module, toolchain)
        steps.advance()
        facts_text = _run_binary(binary, package, toolchain, [
            "-test.bench=^BenchmarkFact", "-test.benchtime=1x"], None)
        steps.advance()
        listings = {name: _listing(module, toolchain, flags)
                    for name, flags in (("default", ["-gcflags=-S"]),
                                        ("-N -l", ["-gcflags=-N -l -S"]),
                                        ("-race", ["-race", "-gcflags=-S"]))}
        steps.advance(3)
        escape = _escape(module, toolchain)
        steps.advance()
        linkname = _linkname(module, toolchain)
        steps.advance(3)
        race = _race(module, toolchain)
        steps.advance(3)
        texts = []
        for round_number in range(plan.rounds):
            texts.append(_run_binary(binary, package, toolchain, [
                f"-test.bench={plan.bench_regex()}", f"-test.benchtime={plan.benchtime}",
                *(["-maplab.reverse"] if round_number % 2 else []),
            ], steps.advance))
    timings_text = "".join(texts)
    return LabRun(
        plan=plan, go_version=toolchain.full_version,
        timings=parse_benchfmt(timings_text, "lab benchmarks"), timings_text=timings_text,
        facts=parse_benchfmt(facts_text, "lab facts"), facts_text=facts_text,
        listings=listings, escape=escape, linkname=linkname, race=race,
        swiss_tables=(toolchain.goroot / "src" / "internal" / "runtime" / "maps").is_dir(),
        machine=machine_description(), elapsed_s=time.monotonic() - started,
    )


def _first_lines(text: str, count: int = 6) -> str:
    return "\n".join([line for line in text.splitlines() if line.strip()][:count])


def _go_or_fail(args: Sequence[str], cwd: Path, toolchain: GoToolchain) -> str:
    proc = run_go(args, cwd=cwd, toolchain=toolchain, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise ToolError(f"`go {' '.join(args)}` failed in the lab module: "
                        + "; ".join(proc.stderr.strip().splitlines()[:4]))
    return proc.stderr


def _run_binary(binary: Path, package: Path, toolchain: GoToolchain, args: Sequence[str],
                on_result: Callable[[], None] | None) -> str:
    """One run of the lab's test binary; `on_result` is called for each result line."""
    command = [str(binary), "-test.run=^$", "-test.benchmem", "-test.count=1", *args]
    lines: list[str] = []
    with subprocess.Popen(command, cwd=package, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True,
                          env=go_environment(toolchain)) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        deadline = time.monotonic() + ROUND_TIMEOUT_S
        for line in proc.stdout:
            lines.append(line)
            if on_result is not None and line.startswith("Benchmark") and len(line.split()) > 2:
                on_result()
            if time.monotonic() > deadline:
                proc.kill()
                raise ToolError(f"lab benchmarks did not finish within {ROUND_TIMEOUT_S:.0f} s")
        errors = proc.stderr.read()
        status = proc.wait()
    if status != 0:
        tail = [line for line in ("".join(lines) + errors).splitlines() if line.strip()][-4:]
        raise ToolError(f"lab benchmarks failed (exit {status}): " + "; ".join(tail))
    return "".join(lines)


def _listing(module: Path, toolchain: GoToolchain, flags: Sequence[str]
             ) -> dict[str, tuple[str, ...]] | str:
    proc = run_go(["build", *flags, "-o", os.devnull, f"./{PACKAGE}"], cwd=module,
                  toolchain=toolchain, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        return _first_lines(proc.stderr)
    return calls_by_function(proc.stderr)


def _escape(module: Path, toolchain: GoToolchain) -> EscapeReport | str:
    try:
        return run_escape_build([f"./{PACKAGE}"], module, toolchain=toolchain)
    except MapguardError as exc:
        return str(exc)


def _linkname(module: Path, toolchain: GoToolchain) -> dict[str, BuildCheck]:
    checks = {}
    for name, target, flags in (("denied", "./linkname/denied", []),
                                ("allowed", "./linkname/allowed", []),
                                ("denied-unchecked", "./linkname/denied",
                                 ["-ldflags=-checklinkname=0"])):
        proc = run_go(["build", *flags, "-o", os.devnull, target], cwd=module,
                      toolchain=toolchain, timeout=BUILD_TIMEOUT_S)
        checks[name] = BuildCheck(proc.returncode == 0, _first_lines(proc.stderr))
    return checks


def _race(module: Path, toolchain: GoToolchain) -> dict[str, RaceRun] | str:
    binary = module / "racefacts.bin"
    proc = run_go(["build", "-race", "-o", str(binary), "./racefacts"], cwd=module,
                  toolchain=toolchain, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        return "the race detector is not available: " + _first_lines(proc.stderr)
    runs = {}
    for mode in ("map-write", "published-write"):
        try:
            done = subprocess.run([str(binary), mode], capture_output=True, text=True,
                                  timeout=120, env=go_environment(toolchain))
        except subprocess.TimeoutExpired:
            return f"racefacts {mode} did not finish within 120 s"
        runs[mode] = RaceRun("WARNING: DATA RACE" in done.stderr + done.stdout, done.returncode)
    return runs
