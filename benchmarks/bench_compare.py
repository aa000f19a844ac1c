"""`mapguard bench compare` side by side with benchstat, its anchor, on the same files.

    .venv/bin/python benchmarks/bench_compare.py [--runs R] [--benchmarks N] [--count C]

Builds the real benchstat from the Go module proxy (GOPROXY must reach it), then times both
commands, as a user runs them, on benchstat's own crc-old.txt/crc-new.txt (72 rows) and on a
generated pair of files (N benchmarks x C runs, sec/op, B/op and allocs/op). Reported: the best
wall time and the best CPU time of R runs each, and the ratios mapguard / benchstat (on a busy
machine the CPU time is the fair one: the wall time is mostly waiting for a CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "bench" / "testdata" / "benchstat"
MAPGUARD = Path(sys.executable).with_name("mapguard")
BENCHSTAT = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"


def build_benchstat(directory: Path) -> Path:
    env = {**os.environ, "GOBIN": str(directory), "GOPROXY": "https://proxy.golang.org",
           "GOFLAGS": "", "GOTOOLCHAIN": "local"}
    subprocess.run(["go", "install", BENCHSTAT], env=env, check=True, cwd=directory)
    return directory / "benchstat"


def generated(path: Path, benchmarks: int, count: int, shift: float, seed: int) -> None:
    rng = random.Random(seed)
    lines = ["goos: linux", "goarch: amd64", "pkg: example.com/gen"]
    for index in range(benchmarks):
        center = 10 ** rng.uniform(1, 6) * (shift if index % 3 == 0 else 1.0)
        for _ in range(count):
            lines.append(f"BenchmarkGen{index}/size={8 << (index % 8)}-8 1000 "
                         f"{center * rng.lognormvariate(0, 0.03):.6g} ns/op "
                         f"{index * 16} B/op {index % 5} allocs/op")
    path.write_text("\n".join(lines) + "\n")


def best_of(runs: int, command: list[str]) -> tuple[float, float]:
    """The best wall time and the best CPU time (user + system) of `runs` runs."""
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--benchmarks", type=int, default=300)
    parser.add_argument("--count", type=int, default=20)
    options = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    benchstat = build_benchstat(scratch)
    old, new = scratch / "old.txt", scratch / "new.txt"
    generated(old, options.benchmarks, options.count, 1.0, 1)
    generated(new, options.benchmarks, options.count, 1.1, 2)
    cases = {
        "crc (benchstat testdata)": [str(DATA / "crc-old.txt"), str(DATA / "crc-new.txt")],
        f"generated {options.benchmarks}x{options.count}": [str(old), str(new)],
    }
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", file=sys.stderr)
    for name, files in cases.items():
        ours, our_cpu = best_of(options.runs, [str(MAPGUARD), "bench", "compare", *files])
        theirs, their_cpu = best_of(options.runs, [str(benchstat), *files])
        print(json.dumps({
            "case": name, "mapguard_wall_s": round(ours, 3), "benchstat_wall_s": round(theirs, 3),
            "wall_ratio": round(ours / theirs, 1), "mapguard_cpu_s": round(our_cpu, 3),
            "benchstat_cpu_s": round(their_cpu, 3),
            "cpu_ratio": round(our_cpu / their_cpu, 1) if their_cpu else None,
        }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
