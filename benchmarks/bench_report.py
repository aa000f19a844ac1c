"""What the demo's report stage costs, beside what it replaces, in one run on one machine.

    .venv/bin/python benchmarks/bench_report.py [--runs 5] [--requests 2000] [--bundle DIR]

A bundle of riskd before/ and after/ is made once with `mapguard demo --stage evidence`
(skipped with --bundle DIR of an earlier run). Then, alternating, each --runs times:

- `mapguard diagnose --bundle DIR` (both labels: attribution of four heap profiles, lint and
  escape evidence, GC traces, the cause library),
- `mapguard report --bundle DIR` (the same diagnosis plus the plots and the HTML),
- the anchor: `go tool pprof -top` on the same four profiles, the least a person would run to
  look at them (it answers nothing about causes);

then the report is opened in headless Chromium (load event after navigation) --runs times.
Each command is a fresh process, as a user runs it. Reported: median and best wall seconds,
the ratio to the anchor, the report's size, and the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}): {proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--bundle", type=Path)
    args = parser.parse_args()
    mapguard = str(Path(sys.executable).parent / "mapguard")
    from mapguard.gotool import require_go

    go = str(require_go().go)
    with tempfile.TemporaryDirectory(prefix="mapguard-bench-report-") as scratch:
        bundle = args.bundle
        if bundle is None:
            bundle = Path(scratch) / "bundle"
            print(f"making the bundle: mapguard demo --stage evidence --requests "
                  f"{args.requests} ...", flush=True)
            subprocess.run([mapguard, "demo", "--stage", "lint", "--bundle", str(bundle)],
                           check=True, capture_output=True)
            subprocess.run([mapguard, "demo", "--stage", "evidence", "--requests",
                            str(args.requests), "--bundle", str(bundle)], check=True,
                           capture_output=True)
        profiles = sorted((bundle / "profiles").glob("*.pb.gz"))
        report = Path(scratch) / "report.html"
        timings: dict[str, list[float]] = {"diagnose": [], "report": [], "pprof -top": []}
        for _ in range(args.runs):
            timings["diagnose"].append(_timed([mapguard, "diagnose", "--bundle", str(bundle)]))
            timings["report"].append(_timed([mapguard, "report", "--bundle", str(bundle), "-o",
                                             str(report)]))
            timings["pprof -top"].append(sum(_timed([go, "tool", "pprof", "-top", str(p)])
                                             for p in profiles))
        from tests.report.browser import Chromium

        loads = []
        with Chromium() as browser:
            for _ in range(args.runs):
                visit, _values = browser.visit(report)
                assert not visit.errors, visit.errors
                loads.append(visit.load_seconds)
        size = report.stat().st_size
    anchor = statistics.median(timings["pprof -top"])
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load average {os.getloadavg()}")
    print(f"{len(profiles)} profiles in the bundle; {args.runs} runs each, alternating\n")
    print(f"{'':28} {'median s':>9} {'best s':>8} {'x anchor':>9}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:28} {median:9.2f} {min(values):8.2f} {median / anchor:9.2f}")
    print(f"{'report load in Chromium':28} {statistics.median(loads):9.3f} {min(loads):8.3f}")
    print(f"\nreport size: {size:,} bytes")


if __name__ == "__main__":
    main()
