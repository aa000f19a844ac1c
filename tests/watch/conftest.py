"""Fixtures for the watch tests: the Go fixture service, and processes that are always stopped."""

from __future__ import annotations

import fcntl
import socket
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain, run_go

MAPSVC = Path(__file__).parents[1] / "fixtures" / "watch" / "mapsvc"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mapsvc_binary(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fixtures/watch/mapsvc built once for all xdist workers (a lock in the shared tmp)."""
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if root.name.startswith("popen-gw") else root
    binary = shared / "mapsvc" / "mapsvc"
    binary.parent.mkdir(exist_ok=True)
    with (shared / "mapsvc.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            build = run_go(["build", "-o", str(binary), "."], cwd=MAPSVC,
                           toolchain=go_toolchain, timeout=300)
            assert build.returncode == 0, build.stderr
    return binary
