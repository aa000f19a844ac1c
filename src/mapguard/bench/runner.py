"""Running Go benchmarks: `go test -bench` for one-off runs, and compiled test binaries run in
rounds for comparisons, so that machine drift hits every side alike.

A comparison compiles each side once (`go test -c`), then runs round after round: side A once,
side B once, A, B... each run one pass over the selected benchmarks (`-test.count=1`). The output
of all of a side's runs together is that side's sample, in the Go benchmark format.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mapguard.errors import ToolError, UsageError
from mapguard.formats.benchfmt import split_name
from mapguard.gotool import GoToolchain, go_environment, run_go

BUILD_TIMEOUT_S = 600.0
RUN_TIMEOUT_S = 3600.0
_DURATION = re.compile(r"^(?:[0-9]+x|[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))$")

Progress = Callable[[int, int], None]  # (runs done, runs in all)


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """What each run of a test binary does."""

    bench: str = "."  # -test.bench regular expression
    count: int = 10  # rounds: runs per side
    benchtime: str | None = None  # -test.benchtime, e.g. "100ms" or "1000x"
    cpu: str | None = None  # -test.cpu list

    def __post_init__(self) -> None:
        if self.count < 1:
            raise UsageError(f"--count {self.count}: need at least one run per side")
        if self.benchtime is not None and not _DURATION.match(self.benchtime):
            raise UsageError(f"--benchtime {self.benchtime}: expected a duration like 100ms or "
                             f"2s, or a count like 1000x")
        try:
            re.compile(self.bench)
        except re.error as exc:
            raise UsageError(f"--bench {self.bench!r}: {exc}") from None

    def binary_args(self, bench: str | None = None) -> list[str]:
        args = ["-test.run=^$", f"-test.bench={bench or self.bench}", "-test.benchmem",
                "-test.count=1"]
        if self.benchtime:
            args.append(f"-test.benchtime={self.benchtime}")
        if self.cpu:
            args.append(f"-test.cpu={self.cpu}")
        return args


@dataclass(frozen=True, slots=True)
class Side:
    label: str
    binary: Path
    directory: Path  # the package directory: benchmarks may read testdata/ relative to it


def go_test_command(packages: Sequence[str], go_test_args: Sequence[str]) -> list[str]:
    """`go test` arguments for `mapguard bench run`: -run '^$', -bench . and -benchmem unless
    the user's arguments already say otherwise."""
    args = list(go_test_args)
    flags = {arg.split("=", 1)[0].lstrip("-") for arg in args if arg.startswith("-")}
    extra = []
    if "run" not in flags and "test.run" not in flags:
        extra += ["-run", "^$"]
    if "bench" not in flags and "test.bench" not in flags:
        extra += ["-bench", "."]
    if "benchmem" not in flags and "test.benchmem" not in flags:
        extra.append("-benchmem")
    return ["test", *extra, *args, *(packages or ["."])]


def build_test_binary(package_dir: Path, output: Path, toolchain: GoToolchain,
                      *, gcflags: str | None = None) -> Path:
    """Compile the package's tests into `output` (`go test -c`)."""
    if not package_dir.is_dir():
        raise UsageError(f"{package_dir}: not a directory (expected a Go package)")
    args = ["test", "-c", "-o", str(output)]
    if gcflags:
        args.append(f"-gcflags={gcflags}")
    proc = run_go([*args, "."], cwd=package_dir, toolchain=toolchain, timeout=BUILD_TIMEOUT_S)
    if proc.returncode != 0:
        detail = "; ".join(line.strip() for line in proc.stderr.splitlines()[:4])
        raise ToolError(f"`go test -c` in {package_dir} failed: {detail or proc.returncode}")
    if not output.is_file():
        raise ToolError(f"{package_dir}: no test files, so no benchmarks to run")
    return output


def run_binary(side: Side, args: Sequence[str], toolchain: GoToolchain,
               timeout: float = RUN_TIMEOUT_S) -> str:
    """One run of a compiled test binary; its standard output."""
    try:
        proc = subprocess.run(
            [str(side.binary), *args], cwd=side.directory, capture_output=True, text=True,
            timeout=timeout, env=go_environment(toolchain),
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{side.label}: benchmarks did not finish within {timeout:.0f} s") from exc
    except OSError as exc:
        raise ToolError(f"cannot run {side.binary}: {exc.strerror}") from exc
    if proc.returncode != 0:
        tail = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-4:]
        raise ToolError(f"{side.label}: benchmarks failed (exit {proc.returncode}): "
                        + "; ".join(tail))
    return proc.stdout


def run_rounds(sides: Sequence[Side], plan: RoundPlan, toolchain: GoToolchain, *,
               bench: str | None = None, progress: Progress | None = None) -> dict[str, str]:
    """`plan.count` rounds, each running every side once in turn; the output per side."""
    outputs: dict[str, list[str]] = {side.label: [] for side in sides}
    args = plan.binary_args(bench)
    total = plan.count * len(sides)
    done = 0
    for _round in range(plan.count):
        for side in sides:
            outputs[side.label].append(run_binary(side, args, toolchain))
            done += 1
            if progress is not None:
                progress(done, total)
    return {label: "".join(texts) for label, texts in outputs.items()}


def bench_regex_for(names: Sequence[str]) -> str:
    """A -test.bench expression selecting the benchmark functions of these result names."""
    functions = sorted({split_name(name)[0] for name in names})
    return "^Benchmark(" + "|".join(re.escape(function) for function in functions) + ")$"
