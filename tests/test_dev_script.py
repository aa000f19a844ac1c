"""dev.py's choice of the interpreter it makes .venv with: the fastest CPython 3.11+ that can
make a virtual environment with pip, unless $MAPGUARD_PYTHON names one."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dev() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_python(directory: Path, name: str, answer: str, status: int = 0) -> Path:
    """An executable that answers the probe as `answer` says, whatever it is asked."""
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{answer}'\nexit {status}\n")
    path.chmod(0o755)
    return path


def test_the_probe_keeps_base_cpythons_of_3_11_or_newer_that_answer(
        dev: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_python(tmp_path, "python3", "cpython 3 13 False 0.020 /opt/py313/bin/python3.13")
    _fake_python(tmp_path, "python3.11", "cpython 3 11 False 0.030 /opt/py311/bin/python3.11")
    _fake_python(tmp_path, "python3.12", "cpython 3 12 True 0.001 /venv/bin/python3.12")
    _fake_python(tmp_path, "python3.14", "pypy 3 14 False 0.001 /opt/pypy/bin/python3.14")
    _fake_python(tmp_path, "python3.15", "cpython 3 15 False 0.001 /x", status=1)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python3"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert dev.timed_pythons() == {"/opt/py313/bin/python3.13": 0.020,
                                   "/opt/py311/bin/python3.11": 0.030}


def test_the_real_probe_times_the_interpreter_this_venv_was_made_from(
        dev: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    base = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    monkeypatch.setenv("PATH", str(base.parent))
    timings = dev.timed_pythons()
    assert str(base) in timings
    assert 0 < timings[str(base)] < 5


@pytest.mark.parametrize(("running", "fastest", "chosen"), [
    (0.030, 0.020, "fastest"),   # a third faster: worth the surprise
    (0.030, 0.028, "running"),   # within 10 %: the Python that runs dev.py
    (None, 0.028, "fastest"),    # the running one cannot make a venv with pip
])
def test_the_fastest_python_is_chosen_only_when_clearly_faster(
        dev: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        running: float | None, fastest: float, chosen: str) -> None:
    own = os.path.realpath(sys.executable)
    timings = {"/opt/fast/bin/python3.11": fastest} | ({own: running} if running else {})
    monkeypatch.delenv("MAPGUARD_PYTHON", raising=False)
    monkeypatch.setattr(dev, "timed_pythons", lambda: timings)
    expected = "/opt/fast/bin/python3.11" if chosen == "fastest" else sys.executable
    assert dev.venv_python() == expected
    said = capsys.readouterr().err
    assert ("making .venv with /opt/fast/bin/python3.11" in said) == (chosen == "fastest")


def test_mapguard_python_overrides_the_choice(
        dev: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAPGUARD_PYTHON", "/opt/mine/bin/python3.12")
    monkeypatch.setattr(dev, "timed_pythons", lambda: pytest.fail("no probe when one is named"))
    assert dev.venv_python() == "/opt/mine/bin/python3.12"
