"""Fixtures of the load tests: the built engine and the Go stall server."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain
from mapguard.load.engine import engine_binary
from tests.load.servers import build_stall_server


@pytest.fixture(scope="session")
def engine(go_toolchain: GoToolchain) -> Path:
    return engine_binary(go_toolchain)


@pytest.fixture(scope="session")
def stall_server(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_stall_server(go_toolchain, tmp_path_factory.mktemp("stallserver"))
