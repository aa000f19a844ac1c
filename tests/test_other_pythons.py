"""mapguard on the other CPython 3.11+ interpreters this machine has: installed with its dev
tools into a fresh virtual environment, type-checked against that interpreter's own stubs, and
linting the rule corpus exactly as this interpreter does.

The README promises Python 3.11 or newer, and pip picks other releases of the dependencies for
other Pythons: numpy 2.5 needs 3.12 and writes its stubs in 3.12 syntax, which a type check
pinned to 3.11 reads only in part, so `python3 dev.py test` once failed on a fresh 3.13 machine
while it passed on 3.11. Interpreters are looked for as `python3.N` on PATH and under pyenv's
versions; one per minor version, the running one's left out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mapguard.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "corpus"
MINIMUM = (3, 11)


def other_pythons() -> list[tuple[str, Path]]:
    """("3.N", interpreter) for each other CPython 3.11+ found, oldest first."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(MINIMUM[1], 16)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates += [str(p) for p in sorted(pyenv.glob("3.*/bin/python3"))]
    found: dict[tuple[int, int], Path] = {}
    for candidate in candidates:
        if candidate is None:
            continue
        try:
            # ensurepip: what `venv` needs to give the environment a pip (Debian splits it off).
            probe = subprocess.run(
                [candidate, "-c", "import sys, ensurepip; print(sys.implementation.name, "
                 "*sys.version_info[:2])"], capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if probe.returncode != 0:
            continue  # a pyenv shim of a version not selected, a Python without ensurepip
        name, major, minor = probe.stdout.split()
        version = (int(major), int(minor))
        if name == "cpython" and version >= MINIMUM and version != sys.version_info[:2]:
            found.setdefault(version, Path(candidate))
    return [(f"{major}.{minor}", path) for (major, minor), path in sorted(found.items())]


OTHERS = other_pythons()


def _run(command: list[str | Path], *, timeout: float, cwd: Path | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=cwd)


@pytest.mark.slow
@pytest.mark.parametrize(("version", "python"), OTHERS or [pytest.param(
    "", Path(), marks=pytest.mark.skip(reason="no other CPython 3.11+ on this machine "
                                              "(python3.N on PATH or under pyenv)"))])
def test_mapguard_installs_type_checks_and_lints_alike(
        version: str, python: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    environment = tmp_path / "venv"
    try:
        _check(version, python, environment, tmp_path, capsys)
    finally:
        # 0.5 GB each (numpy, matplotlib, mypy...): not left for pytest's last three runs.
        shutil.rmtree(environment, ignore_errors=True)


def _check(version: str, python: Path, environment: Path, tmp_path: Path,
           capsys: pytest.CaptureFixture[str]) -> None:
    # Within pytest's 900 s for the whole test: 120 + 420 + 240 + 90.
    made = _run([python, "-m", "venv", environment], timeout=120)
    if made.returncode != 0:
        pytest.skip(f"Python {version} ({python}) cannot make a virtual environment: "
                    f"{made.stderr.strip().splitlines()[-1:]}")
    bin_dir = environment / "bin"
    installed = _run([bin_dir / "python", "-m", "pip", "install", "--quiet",
                      "--disable-pip-version-check", "--no-input", f"{ROOT}[dev]"], timeout=420)
    assert installed.returncode == 0, installed.stderr[-3000:]

    typed = _run([bin_dir / "python", "-m", "mypy", "--cache-dir", tmp_path / "mypy-cache"],
                 cwd=ROOT, timeout=240)
    assert typed.returncode == 0, f"mypy on Python {version}:\n{typed.stdout[-5000:]}"

    linted = _run([bin_dir / "mapguard", "lint", "--no-cache", "--format", "json", "./..."],
                  cwd=CORPUS, timeout=90)
    assert linted.returncode in {0, 1}, linted.stderr
    cwd = Path.cwd()
    os.chdir(CORPUS)
    try:
        status = main(["lint", "--no-cache", "--format", "json", "./..."])
    finally:
        os.chdir(cwd)
    here = json.loads(capsys.readouterr().out)
    there = json.loads(linted.stdout)
    assert here["findings"], "the corpus has findings: the comparison would be empty"
    assert (linted.returncode, there) == (status, here)
