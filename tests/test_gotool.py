from __future__ import annotations

import pytest

from mapguard import gotool
from mapguard.errors import ToolError
from mapguard.gotool import GoToolchain, run_go


def test_found_toolchain_reports_its_own_version(go_toolchain: GoToolchain) -> None:
    proc = run_go(["version"], toolchain=go_toolchain)
    assert proc.returncode == 0
    assert proc.stdout.split()[2] == go_toolchain.full_version
    assert (go_toolchain.goroot / "src" / "runtime").is_dir()


def test_broken_mapguard_go_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("MAPGUARD_GO", "/nonexistent/go")
    gotool.find_go.cache_clear()
    try:
        with pytest.raises(ToolError, match="MAPGUARD_GO=/nonexistent/go"):
            gotool.find_go()
    finally:
        monkeypatch.delenv("MAPGUARD_GO")
        gotool.find_go.cache_clear()


def test_missing_go_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gotool, "_candidates", list)
    gotool.find_go.cache_clear()
    try:
        with pytest.raises(ToolError, match=r"mapguard\[go\]"):
            gotool.require_go()
    finally:
        gotool.find_go.cache_clear()
