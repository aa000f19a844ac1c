"""Lint whole Go trees cold, side by side with `gofmt -l` on the same files, one tree after
the other, and print a table: tree, files, gofmt s, lint s, ratio, CPU ratio, peak MiB, then
the same lint as a first run makes it (the default invocation, with its result cache, into an
empty cache directory: what a CI job that keeps no cache runs) and its ratio, then the second
run (which fills the cache the first made) and the third (which reuses it; nothing changed).

    .venv/bin/python benchmarks/bench_lint_trees.py [TREE ...] [--repeat N] [--against SRC]

Without TREE arguments: the real trees under /work/trees (if present) and GOROOT/src of the
newest Go found. The files are those `mapguard lint TREE/...` expands to (vendor, testdata
and directories starting with `.` or `_` left out), generated ones included for gofmt
(mapguard reads them as context). Per tree the runs alternate (gofmt, lint, gofmt, ...) so
that machine noise hits both alike; medians are shown. The CPU ratio compares the CPU seconds
(user + system, workers included) of the two, which a loaded machine disturbs less than wall
time. Peak memory is that of the whole lint process tree (workers included), sampled every
50 ms. mapguard's modules are byte-compiled first, as an installed wheel's are: a checkout
run with PYTHONDONTWRITEBYTECODE would otherwise compile its changed modules on every run.

`--against SRC` (the `src` directory of another version of mapguard, e.g. from `git archive
main src`) runs that version's lint too, alternating with this one's in the same minutes, and
adds its wall and CPU seconds and this version's over them: a change's effect, measured side
by side.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import mapguard
from bench_lint_stdlib import MAPGUARD, timed_cpu
from mapguard.gotool import find_newest_go
from mapguard.source.discover import Selection, expand

DEFAULT_TREES = ("prometheus", "nats-server", "etcd", "hugo", "traefik", "loki")
TREES_HOME = Path("/work/trees")


def lint_files(tree: Path) -> list[str]:
    expansion = expand([f"{tree}/..."], tree, Selection(include_generated=True))
    return [str(path) for target in expansion.targets for path, _ in target.files]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--against", type=Path,
                        help="the src directory of another mapguard, linted alternately")
    args = parser.parse_args()
    toolchain = find_newest_go()
    if toolchain is None:
        print("no Go toolchain: run `python3 dev.py test` first")
        return 1
    trees: list[Path] = [tree.resolve() for tree in args.trees] or [
        *(TREES_HOME / name for name in DEFAULT_TREES if (TREES_HOME / name).is_dir()),
        toolchain.goroot / "src"]
    missing = [str(tree) for tree in trees if not tree.is_dir()]
    if missing:
        print(f"not a directory: {', '.join(missing)}")
        return 2
    gofmt = str(toolchain.goroot / "bin" / "gofmt")
    compileall.compile_dir(Path(mapguard.__file__).parent, quiet=1)
    against_env: dict[str, str] | None = None
    if args.against is not None:
        if not (args.against / "mapguard" / "cli.py").is_file():
            print(f"{args.against}: not a mapguard src directory (no mapguard/cli.py)")
            return 2
        compileall.compile_dir(args.against / "mapguard", quiet=1)
        against_env = {**os.environ, "PYTHONPATH": str(args.against.resolve())}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    # The interpreter's build matters as much as the machine: a pyenv build without PGO/LTO
    # ran the lint 3-15 % slower than Debian's python3.11 (docs/lint.md, "Speed").
    print(f"python: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.path.realpath(sys.executable)}")
    print(f"gofmt of Go {toolchain.full_version}; load before: {os.getloadavg()}")
    print(f"{'tree':<28} {'files':>6} {'gofmt -l s':>10} {'lint s':>8} {'ratio':>6} "
          f"{'gofmt cpu':>9} {'lint cpu':>8} {'cpu ratio':>9} {'peak MiB':>8}"
          f" {'first s':>7} {'ratio':>6} {'second s':>8} {'third s':>7}"
          + (f" {'other s':>7} {'this/other':>10} {'other cpu':>9} {'this/other':>10}"
             if against_env is not None else ""))
    worst = 0.0
    for tree in trees:
        files = lint_files(tree)
        gofmt_runs: list[tuple[float, float]] = []
        lint_runs: list[tuple[float, float]] = []
        other_runs: list[tuple[float, float]] = []
        peaks: list[int] = []
        lint = [*MAPGUARD, "lint", f"{tree}/...", "--no-cache", "--format", "json",
                "-o", os.devnull]
        first_run = [*MAPGUARD, "lint", f"{tree}/...", "--format", "json", "-o", os.devnull]
        first_runs: list[float] = []
        seconds_runs: list[float] = []
        third_runs: list[float] = []
        for _ in range(args.repeat):
            seconds, cpu, _, _ = timed_cpu([gofmt, "-l", *files])
            gofmt_runs.append((seconds, cpu))
            seconds, cpu, peak, status = timed_cpu(lint)
            if status not in {0, 1, 2}:
                print(f"{tree}: mapguard lint failed with exit status {status}")
                return 1
            lint_runs.append((seconds, cpu))
            peaks.append(peak)
            if against_env is not None:
                seconds, cpu, _, status = timed_cpu(lint, against_env)
                if status not in {0, 1, 2}:
                    print(f"{tree}: the other mapguard's lint failed with exit status {status}")
                    return 1
                other_runs.append((seconds, cpu))
            first, second, third = _three_runs(first_run)
            first_runs.append(first)
            seconds_runs.append(second)
            third_runs.append(third)
        g = statistics.median(t for t, _ in gofmt_runs)
        c = statistics.median(t for t, _ in lint_runs)
        g_cpu = statistics.median(u for _, u in gofmt_runs)
        c_cpu = statistics.median(u for _, u in lint_runs)
        first = statistics.median(first_runs)
        worst = max(worst, c / g, first / g)
        name = tree.name if tree.name != "src" else f"GOROOT/src ({toolchain.full_version})"
        print(f"{name:<28} {len(files):>6} {g:>10.2f} {c:>8.2f} {c / g:>6.2f} "
              f"{g_cpu:>9.2f} {c_cpu:>8.2f} {c_cpu / g_cpu:>9.2f} {max(peaks):>8}"
              f" {first:>7.2f} {first / g:>6.2f} {statistics.median(seconds_runs):>8.2f}"
              f" {statistics.median(third_runs):>7.2f}"
              + _against_columns(c, c_cpu, other_runs),
              flush=True)
    print(f"worst ratio {worst:.2f}, with --no-cache or as a first run (bar: <= 1.00; memory "
          f"bar: < 1024 MiB); load after: {os.getloadavg()}")
    return 0


def _three_runs(command: list[str]) -> tuple[float, float, float]:
    """Wall seconds of `command` three times over one result cache directory, empty at first."""
    cache_home = tempfile.mkdtemp(prefix="mapguard-bench-cache-")
    try:
        env = {**os.environ, "XDG_CACHE_HOME": cache_home}
        first, second, third = (timed_cpu(command, env)[0] for _ in range(3))
    finally:
        shutil.rmtree(cache_home, ignore_errors=True)
    return first, second, third


def _against_columns(seconds: float, cpu: float, other_runs: list[tuple[float, float]]) -> str:
    """The other version's median wall and CPU seconds, each with this version's over it."""
    if not other_runs:
        return ""
    other_seconds = statistics.median(t for t, _ in other_runs)
    other_cpu = statistics.median(u for _, u in other_runs)
    return (f" {other_seconds:>7.2f} {seconds / other_seconds:>10.2f}"
            f" {other_cpu:>9.2f} {cpu / other_cpu:>10.2f}")


if __name__ == "__main__":
    sys.exit(main())
