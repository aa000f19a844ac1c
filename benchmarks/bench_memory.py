"""Peak memory of `mapguard gc` on a long log and of `gc` and `profile` on a gzip bomb.

    .venv/bin/python benchmarks/bench_memory.py [--cycles 1000000] [--bomb-gib 4]

Inputs are made here, in a temporary directory: a gctrace log of --cycles lines printed the way
the runtime prints them (bench_gctrace.synthetic_log), and a gzip bomb that inflates to
--bomb-gib GiB of zeros (one 64 MiB member, repeated). Each command runs in its own process;
its peak resident set (ru_maxrss) is reported next to the bar. Both tools must refuse the bomb
with exit status 2 and read the log with 0.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_gctrace import synthetic_log  # the sibling script's generator

_MEMBER = 64 << 20


def peak(command: list[str]) -> tuple[int, float, float]:
    """Exit status, peak RSS in MB and wall seconds of `command`, run in a fresh process."""
    probe = ("import resource, subprocess, sys; status = subprocess.run(sys.argv[1:], "
             "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
             "print(status, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]), int(out[1]) / 1024, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cycles", type=int, default=1_000_000)
    parser.add_argument("--bomb-gib", type=int, default=4)
    options = parser.parse_args()
    mapguard = str(Path(sys.executable).with_name("mapguard"))
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        log = Path(tmp) / "gctrace.log"
        log.write_text(synthetic_log(options.cycles, 0.0))
        member = gzip.compress(b"\0" * _MEMBER, compresslevel=9)
        bomb = Path(tmp) / "bomb.gz"
        with bomb.open("wb") as out:
            for _ in range((options.bomb_gib << 30) // _MEMBER):
                out.write(member)
        print(f"{options.cycles:,}-cycle log: {log.stat().st_size / 1e6:,.0f} MB; bomb: "
              f"{bomb.stat().st_size / 1e6:.1f} MB inflating to {options.bomb_gib} GiB; "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; baseline "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (this "
              "Python)")
        runs = [
            ("gc LOG", [mapguard, "gc", str(log)], 0, 100),
            ("gc LOG --format json", [mapguard, "gc", str(log), "--format", "json"], 0, 100),
            ("gc BOMB", [mapguard, "gc", str(bomb)], 2, 300),
            ("profile BOMB", [mapguard, "profile", str(bomb)], 2, 300),
        ]
        failed = False
        for label, command, expected, bar in runs:
            status, megabytes, seconds = peak(command)
            ok = status == expected and megabytes < bar
            failed |= not ok
            print(f"  {label:22s} peak {megabytes:7.1f} MB (bar < {bar} MB)  {seconds:6.1f} s  "
                  f"exit {status}{'' if ok else '  FAILS'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
