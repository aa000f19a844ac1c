"""Fixtures for the SLO tests: example specs, and the Prometheus tools (skipped when absent)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.realparts import require_executable

SPECS = Path(__file__).parent / "specs"
SLOTH_SPEC = SPECS / "sloth_k8s_apiserver.yaml"
MAPGUARD_SPEC = SPECS / "mapguard_checkout.yaml"
OPENSLO_SPEC = SPECS / "openslo_search.yaml"
INSTALL = "run `python3 dev.py test` (installs Debian's prometheus, prometheus-alertmanager)"


def _tool(name: str) -> str:
    return require_executable(name, INSTALL)


@pytest.fixture
def promtool() -> str:
    return _tool("promtool")


@pytest.fixture
def amtool() -> str:
    return _tool("amtool")


@pytest.fixture
def prometheus_bin() -> str:
    return _tool("prometheus")


@pytest.fixture
def alertmanager_bin() -> str:
    return _tool("prometheus-alertmanager")


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{process.args!r} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} not ready within {timeout} s")
