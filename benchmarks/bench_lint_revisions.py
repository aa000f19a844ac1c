"""Cold lint of this checkout side by side with another revision: did a change make lint slower?

    .venv/bin/python benchmarks/bench_lint_revisions.py REV [--repeat 5] [TARGET ...]

REV is any git revision of this repository (its `src/` is extracted to a temporary directory;
the installed dependencies are shared). TARGET defaults to GOROOT/src of the Go toolchain
mapguard finds. Runs alternate (base, head, base, head...) so that machine noise hits both
alike; medians of wall time and of CPU time (user + system of the lint process and its
workers: the steadier measure on a busy machine), their ratios and the machine are printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from mapguard.gotool import require_go

ROOT = Path(__file__).resolve().parent.parent


def extract_src(revision: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", revision, "src"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    extract_archive(archive, into)
    return into / "src"


def extract_archive(archive: bytes, into: Path) -> None:
    """Unpack a `git archive` tar into `into`, refusing members that would land outside it.
    Python 3.11.4+ does that with tarfile's "data" filter; Debian 12's 3.11.2 (which dev.py
    picks where it is the fastest) has no filters, so there the check is made here."""
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, filter="data")
            return
        root = into.resolve()
        for member in tar.getmembers():
            inside = [root / member.name]
            if member.issym():
                inside.append((root / member.name).parent / member.linkname)
            elif member.islnk():
                inside.append(root / member.linkname)
            if not all(path.resolve().is_relative_to(root) for path in inside) or not (
                    member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise tarfile.ExtractError(f"{member.name}: would be extracted outside {root}")
        tar.extractall(into)  # every member checked above


def lint_seconds(src: Path, targets: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one cold lint."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    command = [sys.executable, "-m", "mapguard.cli", "lint", *targets, "--no-cache",
               "--format", "json", "-o", os.devnull]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    status = subprocess.run(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if status not in {0, 1, 2}:
        raise SystemExit(f"mapguard lint ({src}) failed with exit status {status}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision")
    parser.add_argument("targets", nargs="*")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_intermixed_args()
    targets = args.targets or [f"{require_go().goroot / 'src'}/..."]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as scratch:
        base_src = extract_src(args.revision, Path(scratch))
        head_src = ROOT / "src"
        base: list[tuple[float, float]] = []
        head: list[tuple[float, float]] = []
        for _ in range(args.repeat):
            base.append(lint_seconds(base_src, targets))
            head.append(lint_seconds(head_src, targets))
    print(f"targets: {' '.join(targets)}")
    for label, index in (("wall", 0), ("cpu", 1)):
        b = statistics.median(run[index] for run in base)
        h = statistics.median(run[index] for run in head)
        print(f"{label}: {args.revision} median {b:6.2f} s "
              f"{[f'{run[index]:.2f}' for run in base]}; this tree median {h:6.2f} s "
              f"{[f'{run[index]:.2f}' for run in head]}; ratio this/{args.revision} {h / b:.3f}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
