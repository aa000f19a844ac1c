"""Parse + attribute a >= 50 MB allocation profile, side by side with `go tool pprof -top`.

    .venv/bin/python benchmarks/bench_profile.py [--samples N] [--keep DIR]

The profile is synthetic but shaped like Go's allocs profiles (four heap sample types, a
`bytes` label per sample, leaf-first stacks over shared locations, user leaves on Go lines that
insert into maps, create maps or allocate otherwise), so attribution does its full work,
including reading the Go source. Both tools read the same file; the best of --runs runs each
is reported.
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path

from mapguard.evidence.attribution import attribute_profile
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats import profile_pb2
from mapguard.formats.pprof import parse_profile
from mapguard.gotool import run_go

FUNCTIONS = 4000
LOCATIONS = 200_000
BODY = ("\tm[n] = n", "\tm = make(map[int]int, n)", "\ts = append(s, n)", "\tm[n]++",
        "\t_ = map[int]int{1: n}")


def start_line(function: int) -> int:
    """Where `func fN` is declared in `go_source()`: after the package clause, N-2 bodies."""
    return 3 + (function - 2) * (len(BODY) + 3)


def go_source() -> str:
    lines = ["package main", ""]
    for function in range(2, FUNCTIONS + 1):
        lines += [f"func f{function}(m map[int]int, s []int, n int) {{", *BODY, "}", ""]
    return "\n".join(lines) + "\n"


def synthetic_profile(samples: int, source_file: str, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    message = profile_pb2.Profile()
    strings = ["", "alloc_objects", "count", "alloc_space", "bytes", "inuse_objects",
               "inuse_space", "space", source_file, "/go/src/runtime/proc.go", "runtime.main"]
    for kind, unit in ((1, 2), (3, 4), (5, 2), (6, 4)):
        message.sample_type.add(type=kind, unit=unit)
    message.period_type.type, message.period_type.unit, message.period = 7, 4, 524288
    message.default_sample_type = 3
    message.function.add(id=1, name=10, system_name=10, filename=9)
    for f in range(2, FUNCTIONS + 1):
        strings.append(f"main.f{f}")
        message.function.add(id=f, name=len(strings) - 1, system_name=len(strings) - 1,
                             filename=8, start_line=start_line(f))
    for loc in range(1, LOCATIONS + 1):
        location = message.location.add(id=loc, mapping_id=1, address=0x400000 + 16 * loc)
        function = rng.randint(2, FUNCTIONS)
        location.line.add(function_id=function,
                          line=start_line(function) + rng.randint(1, len(BODY)))
    message.mapping.add(id=1, memory_start=0x400000, memory_limit=0x4000000, filename=8,
                        has_functions=True, has_filenames=True, has_line_numbers=True)
    message.string_table.extend(strings)
    sizes = (16, 48, 144, 208, 1152, 2304, 4864, 9472, 18432)
    add = message.sample.add
    for _ in range(samples):
        depth = rng.randint(8, 32)
        stack = [rng.randint(1, LOCATIONS) for _ in range(depth)]
        size = rng.choice(sizes)
        count = rng.randint(1, 50)
        live = rng.randint(0, count)
        sample = add(location_id=stack, value=[count, count * size, live, live * size])
        sample.label.add(key=4, num=size)
    return gzip.compress(message.SerializeToString(), compresslevel=6)


def best_of(runs: int, action: object) -> float:
    assert callable(action)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=800_000)
    parser.add_argument("--keep", type=Path, help="directory to keep (and reuse) the profile in")
    parser.add_argument("--runs", type=int, default=1, help="best of this many runs each")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="mapguard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    source = work / "main.go"
    source.write_text(go_source())
    path = work / f"allocs-{args.samples}.pb.gz"
    if not path.exists():
        started = time.perf_counter()
        path.write_bytes(synthetic_profile(args.samples, str(source)))
        print(f"generated {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    size_mb = path.stat().st_size / 1e6

    def mapguard() -> None:
        profile = parse_profile(path.read_bytes(), str(path))
        attribute_profile(profile, SourceFiles(work), sample_index="alloc_space")

    def pprof() -> None:
        proc = run_go(["tool", "pprof", "-top", "-sample_index=alloc_space", str(path)],
                      timeout=1200)
        assert proc.returncode == 0, proc.stderr

    ours = best_of(args.runs, mapguard)
    theirs = best_of(args.runs, pprof)
    result = attribute_profile(parse_profile(path.read_bytes(), str(path)), work,
                               sample_index="alloc_space")
    assert not result.unmatched, result.unmatched[:3]  # every function is read and classified
    print(f"profile: {size_mb:.1f} MB gzip, {args.samples} samples, map share "
          f"{result.map_total / result.total:.1%}")
    print(f"mapguard parse+attribute: {ours:6.2f} s")
    print(f"go tool pprof -top:       {theirs:6.2f} s")
    print(f"ratio mapguard/pprof:     {ours / theirs:6.2f}")
    return 0 if size_mb >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
