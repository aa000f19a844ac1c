"""Time `mapguard lab --quick` (the bar: <= 2 minutes on 2 cores) and the full lab (<= 15).

    .venv/bin/python benchmarks/bench_lab.py [--skip-full] [-o DIR]

Each runs the installed command as a user would, into DIR/quick and DIR/full (default: a
temporary directory), and reports wall time, the CPU time of the whole process tree, the lab's
own phase split (build and checks, benchmark rounds) and the machine's load before and after:
on a shared machine the load says how much of the wall time was waiting for a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MAPGUARD = Path(sys.executable).with_name("mapguard")
BARS_S = {"quick": 120.0, "full": 900.0}


def uptime() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(mode: str, directory: Path) -> dict[str, object]:
    args = [str(MAPGUARD), "lab", "-o", str(directory), "--format", "json"]
    if mode == "quick":
        args.insert(2, "--quick")
    load_before, cpu_before = uptime(), children_cpu_s()
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"{mode}: mapguard lab failed ({proc.returncode}): {proc.stderr.strip()}")
    document = json.loads(proc.stdout)
    verdicts: dict[str, int] = {}
    for claim in document["claims"]:
        verdicts[claim["verdict"]] = verdicts.get(claim["verdict"], 0) + 1
    return {
        "mode": mode, "wall_s": round(wall, 1), "cpu_s": round(children_cpu_s() - cpu_before, 1),
        "bar_s": BARS_S[mode], "within_bar": wall <= BARS_S[mode],
        "load_before": load_before, "load_after": uptime(), "go": document["go"],
        "cpus": document["machine"]["cpus"], "claims": verdicts,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-full", action="store_true", help="time only --quick")
    parser.add_argument("-o", "--output", type=Path, help="keep the labs' outputs here")
    options = parser.parse_args()
    base = options.output or Path(tempfile.mkdtemp(prefix="bench-lab-"))
    base.mkdir(parents=True, exist_ok=True)
    modes = ["quick"] if options.skip_full else ["quick", "full"]
    for mode in modes:
        result = run(mode, base / mode)
        print(json.dumps(result))
    print(f"outputs in {base}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
