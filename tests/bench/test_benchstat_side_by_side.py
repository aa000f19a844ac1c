"""mapguard and the real benchstat, side by side, on generated benchmark data.

benchstat (golang.org/x/perf/cmd/benchstat, pinned) is built from the Go module proxy; each
generated file mixes small and large samples, ties, constant samples, exact units, benchmarks
missing on one side and several scales. The tables must hold the same text: every number,
"~", p, n, note and footnote. (Column widths may differ by a space where a header is wider
than the values below it: benchstat spreads the extra width in an order its unstable sort
decides.)
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
from pathlib import Path

import pytest

from mapguard.bench.projection import Projection
from mapguard.bench.render import render_tables_text
from mapguard.bench.tables import LabelledFile, build_tables
from mapguard.formats.benchfmt import parse_benchfmt
from mapguard.gotool import GoToolchain, go_environment
from tests.realparts import missing_real_part

pytestmark = pytest.mark.slow

BENCHSTAT = "golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da"
SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 20, 25, 26, 30, 31, 40, 51, 60]


@pytest.fixture(scope="module")
def benchstat(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bin_dir = tmp_path_factory.mktemp("benchstat-bin")
    env = go_environment(go_toolchain, {
        "GOBIN": str(bin_dir), "GOPROXY": "https://proxy.golang.org", "GOFLAGS": "",
        "GOTOOLCHAIN": "local",
    })
    proc = subprocess.run([str(go_toolchain.go), "install", BENCHSTAT], capture_output=True,
                          text=True, env=env, timeout=600, cwd=bin_dir)
    if proc.returncode != 0:
        missing_real_part(f"cannot build {BENCHSTAT} from the Go module proxy: "
                          f"{proc.stderr.strip().splitlines()[-1:]}")
    return bin_dir / "benchstat"


EXACT_TEST_LIMIT = 25  # with ties, benchstat's exact U test runs up to 25 values a side


def generated_file(seed: int) -> str:
    """Several benchmarks before and after, with sample sizes around every limit of the
    statistics. Where the U test is exact (both sides of a row at most 25 values) all values of
    a row differ: with ties there, benchstat's exact p-values are wrong (see
    test_benchstat_tie_divergence) and the outputs are expected to differ. Above, values repeat
    and whole samples are constant, as B/op and allocs/op usually are."""
    rng = random.Random(seed)
    unique = itertools.count(1)
    lines = ["Unit text-bytes assume=exact", "goos: linux", "pkg: example.com/gen"]
    names = [f"Bench{i}/size={rng.choice([8, 64, 1024])}-{rng.choice([1, 2, 8])}"
             for i in range(rng.randint(1, 6))]
    plans = {}
    for name in names:
        sizes = (rng.choice(SIZES), rng.choice(SIZES))
        distinct = max(sizes) <= EXACT_TEST_LIMIT
        plans[name] = (sizes, distinct, rng.choice([1.0, 1.0, 1.02, 0.9, 1.3]),
                       10 ** rng.uniform(0, 7))
    sections: dict[str, list[str]] = {"before": [], "after": []}
    for name, (sizes, distinct, shift, center) in plans.items():
        for side, n in zip(("before", "after"), sizes, strict=True):
            if rng.random() < 0.08:
                continue  # missing on this side
            middle = center * (shift if side == "after" else 1)
            spread = rng.choice([0.01, 0.05, 0.2] if distinct else [0.0, 0.01, 0.2])
            digits = 9 if distinct else rng.choice([2, 3, 4])
            allocs = rng.choice([0, 3, 17])
            size = rng.choice([0, 4096, 123456789])
            for index in range(n):
                tick = next(unique)
                time = f"{middle * rng.lognormvariate(0, spread) + tick * 1e-6:.{digits}g}"
                throughput = f"{100 + tick * 0.01:.2f}" if distinct else \
                    f"{rng.uniform(100, 102):.1f}"
                bytes_per_op = size + tick if distinct else size
                allocs_per_op = allocs * 1000 + tick if distinct else allocs
                text = f"{100 + rng.randint(0, 1)}" if rng.random() < 0.1 else "100"
                sections[side].append(
                    f"Benchmark{name} {1000 + index} {time} ns/op {throughput} MB/s "
                    f"{bytes_per_op} B/op {allocs_per_op} allocs/op {text} text-bytes"
                )
    for side, results in sections.items():
        lines += ["", f"note: {side}", "", *results]
    return "\n".join(lines) + "\n"


def _benchstat(benchstat: Path, directory: Path, *args: str) -> str:
    proc = subprocess.run([str(benchstat), *args], cwd=directory, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "GOFLAGS": ""})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("seed", range(40))
def test_same_tables_as_benchstat(benchstat: Path, tmp_path: Path, seed: int) -> None:
    text = generated_file(seed)
    path = tmp_path / f"gen{seed}.txt"
    path.write_text(text)
    theirs = _benchstat(benchstat, tmp_path, "-col", "note", path.name)
    files = [LabelledFile(path.name, parse_benchfmt(text, path.name))]
    ours = render_tables_text(build_tables(files, Projection(col=("note",))))
    assert _words(ours) == _words(theirs)


def _words(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


def test_benchstat_tie_divergence(benchstat: Path, tmp_path: Path) -> None:
    """Where mapguard and benchstat deliberately differ: exact U tests with ties.

    Two runs at 33 µs against five at about 5 ns, two of them equal: only 2 of the 21 ways to
    split these seven values put the two largest first, so the two-sided p is 2/21 = 0.095 and
    five runs against two cannot show a difference. benchstat's tie-aware U distribution
    returns p=0 here and reports a significant -99.98 %.
    """
    text = ("note: before\nBenchmarkX 1 33036.3 ns/op\nBenchmarkX 1 33036.4 ns/op\n"
            "note: after\n" + "".join(f"BenchmarkX 1 {v} ns/op\n"
                                       for v in ("5.0", "5.1", "5.1", "5.2", "5.3")))
    (tmp_path / "ties.txt").write_text(text)
    theirs = _benchstat(benchstat, tmp_path, "-col", "note", "ties.txt")
    assert "-99.98% (n=2+5)" in theirs  # no p printed: benchstat's p is exactly 0
    (table,) = build_tables([LabelledFile("ties.txt", parse_benchfmt(text, "ties.txt"))],
                            Projection(col=("note",)))
    cell = next(cell for cell in table.cells.values() if cell.comparison is not None)
    assert cell.comparison is not None
    assert cell.comparison.p == pytest.approx(2 / 21)
    assert "~ (p=0.095 n=2+5)" in render_tables_text([table])
