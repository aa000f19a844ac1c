"""`mapguard chaos cpu` on real cgroups: throttling per step, and restoration on every way out
(the end, the load command killed, the target killed, SIGINT, SIGTERM, a SIGKILLed run)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapguard.chaos.cgroups import NAME_PREFIX, Hierarchy, process_cgroup, usable_hierarchy
from mapguard.gotool import GoToolchain
from tests.load.servers import build_stall_server, interruptible, serving
from tests.realparts import missing_real_part, require_executable

pytestmark = pytest.mark.slow
MAPGUARD = [sys.executable, "-m", "mapguard.cli"]


@pytest.fixture(scope="module")
def hierarchy() -> Hierarchy:
    found, reason = usable_hierarchy()
    if found is None:
        missing_real_part(f"no writable cgroup cpu controller: {reason}")
    assert found is not None
    return found


@pytest.fixture(scope="module")
def server_binary(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_stall_server(go_toolchain, tmp_path_factory.mktemp("chaos-server"))


@pytest.fixture
def target(server_binary: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with serving(server_binary) as served:
        yield served


def _cgroup_of(pid: int, hierarchy: Hierarchy) -> str | None:
    return process_cgroup(Path(f"/proc/{pid}/cgroup").read_text(), hierarchy.version)


def _chaos_dirs(hierarchy: Hierarchy, owner: int) -> list[Path]:
    return sorted(hierarchy.mount.rglob(f"{NAME_PREFIX}{owner}-*"))


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*MAPGUARD, "chaos", "cpu", "--format", "json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=interruptible)


def _finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, dict[str, Any]]:
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert out.strip(), err
    return process.returncode, json.loads(out)


def _wait_for(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _assert_restored(hierarchy: Hierarchy, pid: int, before: str | None, owner: int) -> None:
    if Path(f"/proc/{pid}").exists():
        assert _cgroup_of(pid, hierarchy) == before
    assert _chaos_dirs(hierarchy, owner) == []


def _load_args(url: str, seconds: int) -> list[str]:
    return ["--", *MAPGUARD, "load", url + "/", "--rate", "200", "--duration", f"{seconds}s",
            "--warmup", "0s", "--format", "json"]


def test_quota_steps_throttle_and_are_undone(hierarchy: Hierarchy, tmp_path: Path) -> None:
    """A busy loop under no quota then 5% of a CPU: throttled in most periods of the second
    step (even a loaded machine gives it more than 5 ms per 100 ms), back in its own cgroup
    afterwards."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        before = _cgroup_of(busy.pid, hierarchy)
        process = _start(["--pid", str(busy.pid), "--quota", "none,5%", "--step", "2s"])
        status, document = _finish(process)
        _assert_restored(hierarchy, busy.pid, before, process.pid)
    finally:
        busy.kill()
        busy.wait()
    assert status == 0, document
    assert document["restored"] is True and document["completed"] is True
    first, second = document["steps"]
    assert first["quota"] is None and first["throttle"]["throttled"] == 0
    assert second["quota"] == "5%"
    throttle = second["throttle"]
    assert throttle["periods"] >= 10 and throttle["throttled"] >= 0.5 * throttle["periods"]
    expected_quota = "5000" if hierarchy.version == 1 else "5000 100000"
    assert second["quota_file"] == expected_quota
    assert document["cgroup"]["path"].startswith(str(hierarchy.mount))


def test_load_figures_per_step_with_slo(hierarchy: Hierarchy, target: tuple[Any, str],
                                         tmp_path: Path) -> None:
    server, url = target
    before = _cgroup_of(server.pid, hierarchy)
    process = _start(["--pid", str(server.pid), "--quota", "none,50%", "--step", "2s",
                      "--slo", str(Path(__file__).parent / "latency.slo.yaml"),
                      *_load_args(url, 5)])
    status, document = _finish(process)
    _assert_restored(hierarchy, server.pid, before, process.pid)
    assert document["load_exit"] == 0 and document["restored"] is True
    loads = [step["load"] for step in document["steps"]]
    assert all(load is not None and load["answered"] >= 200 for load in loads), loads
    assert {v["step"] for v in document["slo"]} == {1, 2}
    assert status == (1 if any(v["held"] is False for v in document["slo"]) else 0)


def test_killing_the_load_mid_step_restores(hierarchy: Hierarchy,
                                            target: tuple[Any, str]) -> None:
    server, url = target
    before = _cgroup_of(server.pid, hierarchy)
    process = _start(["--pid", str(server.pid), "--quota", "50%,20%,10%", "--step", "3s",
                      *_load_args(url, 30)])
    _wait_for(lambda: _chaos_dirs(hierarchy, process.pid))
    _wait_for(lambda: _children(process.pid))
    time.sleep(2)  # into the steps
    os.kill(_children(process.pid)[0], signal.SIGKILL)
    status, document = _finish(process)
    _assert_restored(hierarchy, server.pid, before, process.pid)
    assert status == 1
    assert "the load command exited (status -9)" in document["ended"]
    assert document["restored"] is True and document["load_exit"] == -9


def test_killing_the_target_mid_step_restores(hierarchy: Hierarchy,
                                              target: tuple[Any, str]) -> None:
    server, url = target
    process = _start(["--pid", str(server.pid), "--quota", "50%,20%", "--step", "3s",
                      *_load_args(url, 20)])
    _wait_for(lambda: _chaos_dirs(hierarchy, process.pid))
    time.sleep(2)
    server.kill()
    server.wait()
    status, document = _finish(process)
    assert _chaos_dirs(hierarchy, process.pid) == []
    assert status == 1
    assert f"the target (pid {server.pid}) exited" in document["ended"]
    assert document["restored"] is True
    assert document["load_exit"] in (0, 1, 130)  # stopped early, with what it measured


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_step_restores(hierarchy: Hierarchy, target: tuple[Any, str],
                                    how: signal.Signals) -> None:
    server, url = target
    before = _cgroup_of(server.pid, hierarchy)
    process = _start(["--pid", str(server.pid), "--quota", "30%,10%", "--step", "20s",
                      *_load_args(url, 40)])
    _wait_for(lambda: _chaos_dirs(hierarchy, process.pid))
    _wait_for(lambda: any(_children(load) for load in _children(process.pid)))  # the engine
    time.sleep(2)  # into the first step
    assert _cgroup_of(server.pid, hierarchy) != before  # moved, throttled
    process.send_signal(how)
    status, document = _finish(process)
    _assert_restored(hierarchy, server.pid, before, process.pid)
    assert status == 130
    assert document["interrupted"] is True and document["restored"] is True
    assert document["steps"][0]["cut_short"] is True


def test_a_killed_run_is_cleaned_up_by_the_next(hierarchy: Hierarchy,
                                                target: tuple[Any, str]) -> None:
    server, _ = target
    before = _cgroup_of(server.pid, hierarchy)
    killed = _start(["--pid", str(server.pid), "--quota", "10%", "--step", "60s"])
    _wait_for(lambda: _chaos_dirs(hierarchy, killed.pid))
    _wait_for(lambda: _cgroup_of(server.pid, hierarchy) != before)
    killed.kill()  # SIGKILL: no chance to restore
    killed.communicate(timeout=30)
    left = _chaos_dirs(hierarchy, killed.pid)
    assert left  # left behind, the target still inside
    again = _start(["--pid", str(server.pid), "--quota", "50%", "--step", "1s"])
    status, document = _finish(again)
    assert status == 0
    assert {str(path) for path in left} <= set(document["removed_leftovers"])
    assert _chaos_dirs(hierarchy, killed.pid) == []
    _assert_restored(hierarchy, server.pid, before, again.pid)


def test_stress_ng_steps_leave_nothing_running(target: tuple[Any, str]) -> None:
    require_executable("stress-ng", "apt-get install stress-ng")
    server, url = target
    process = _start(["--pid", str(server.pid), "--stress", "0,1", "--step", "2s",
                      *_load_args(url, 4)])
    stress: list[int] = []
    _wait_for(lambda: stress.extend(pid for pid in _children(process.pid)
                                    if _name(pid) == "stress-ng") or stress)
    status, document = _finish(process)
    assert status in (0, 1), document
    assert document["cgroup"] is None and document["completed"] is True
    assert [s["stress_workers"] for s in document["steps"]] == [0, 1]
    # One timeline: starting stress-ng between the steps does not push the last step past the
    # load sized to the steps' total (it did, and the run ended 'the load command exited').
    first, last = document["steps"][0], document["steps"][-1]
    assert (last["end_unix_ns"] - first["start_unix_ns"]) / 1e9 <= 4.0 + 0.2, document["steps"]
    # stress-ng ran in its own session; nothing of that session is left.
    assert [pid for pid in _all_pids() if _session_of(pid) == stress[0]] == []


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _session_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(child) for child in path.read_text().split()]
    except OSError:
        return []
