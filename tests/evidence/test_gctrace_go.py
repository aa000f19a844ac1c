"""Real gctrace from a Go program that fills maps: parsed from stderr and from a live run."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mapguard.evidence.gcrun import run_with_gctrace
from mapguard.evidence.gcsummary import summarize_gctrace
from mapguard.formats.gctrace import parse_gctrace
from mapguard.gotool import GoToolchain, run_go

FIXTURE = Path(__file__).parent.parent / "fixtures" / "gc"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def gc_program(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("gcfixture") / "gcfixture"
    proc = run_go(["build", "-o", str(binary), "."], cwd=FIXTURE, toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    return binary


def test_gctrace_of_a_real_run(gc_program: Path) -> None:
    env = {**os.environ, "GODEBUG": "gctrace=1"}
    proc = subprocess.run([str(gc_program)], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0
    trace = parse_gctrace(proc.stderr, "stderr")
    assert len(trace.cycles) >= 3  # ~20 MB of maps against a 4 MB initial goal
    assert [c.number for c in trace.cycles] == list(range(1, len(trace.cycles) + 1))
    assert trace.cycles[-1].forced  # the program ends with runtime.GC()
    assert trace.malformed == ()
    assert trace.other_lines == 1  # "stderr: program line"
    assert all(c.stacks_mb is not None and c.procs >= 1 for c in trace.cycles)
    summary = summarize_gctrace(trace)
    assert summary.pauses_ms.count == 2 * len(trace.cycles)
    assert summary.heap_live_mb is not None and summary.heap_live_mb.max > 0


def test_run_mode_passes_stderr_through_untouched(gc_program: Path) -> None:
    sink = io.BytesIO()
    run = run_with_gctrace([str(gc_program)], passthrough=sink)
    assert run.exit_status == 0 and not run.interrupted
    passed = sink.getvalue().decode()
    assert "stderr: program line\n" in passed
    # Every gctrace line went through as well, and every one was parsed.
    gc_lines = [line for line in passed.splitlines() if line.startswith("gc ")]
    assert len(gc_lines) == run.aggregate.cycles >= 3


def test_cli_run_mode_keeps_child_stdout_and_appends_godebug(gc_program: Path,
                                                             tmp_path: Path) -> None:
    report = tmp_path / "gc.json"
    env = {**os.environ, "GODEBUG": "madvdontneed=1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mapguard.cli", "gc", "--format", "json", "-o", str(report),
         "--", str(gc_program)],
        capture_output=True, text=True, env=env, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "stdout: maps kept 3\n"  # the child's stdout, and nothing else
    assert "stderr: program line" in proc.stderr
    document = json.loads(report.read_text())
    assert document["child"] == {"command": [str(gc_program)], "exit_status": 0,
                                 "interrupted": False, "killed": False}
    assert document["summary"]["cycles"] == len(document["cycles"]) >= 3


def test_ctrl_c_keeps_what_was_collected(gc_program: Path, tmp_path: Path) -> None:
    report = tmp_path / "gc.json"
    mapguard = subprocess.Popen(
        [sys.executable, "-m", "mapguard.cli", "gc", "--format", "json", "-o", str(report),
         "--", str(gc_program), "-wait"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
    )
    assert mapguard.stdout is not None
    deadline = time.monotonic() + 60
    while mapguard.stdout.readline().strip() != "ready":
        assert time.monotonic() < deadline and mapguard.poll() is None
    time.sleep(0.5)
    # Like a terminal's Ctrl-C: SIGINT to the whole foreground process group.
    os.killpg(mapguard.pid, signal.SIGINT)
    rest, _ = mapguard.communicate(timeout=60)
    assert mapguard.returncode == 0
    assert "interrupted" in rest
    document = json.loads(report.read_text())
    assert document["child"]["interrupted"] is True
    assert document["child"]["exit_status"] == 3
    assert document["summary"]["cycles"] >= 3


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found += [int(child) for child in text]
    return found


def _gone(pid: int, timeout: float = 30.0) -> bool:
    """The process ended (a zombie nobody reaps counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def _start_mapguard(gc_program: Path, report: Path, *, ignore_sigint: bool = False,
                    ) -> tuple[subprocess.Popen[str], int]:
    """mapguard gc running the fixture in -loop mode; returns it and the child's pid once the
    child has written a gctrace line."""

    def prepare() -> None:
        os.setsid()
        if ignore_sigint:  # as a script's background job starts
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    mapguard = subprocess.Popen(
        [sys.executable, "-m", "mapguard.cli", "gc", "--format", "json", "-o", str(report),
         "--grace", "1", "--", str(gc_program), "-loop"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, preexec_fn=prepare,
    )
    assert mapguard.stderr is not None
    deadline = time.monotonic() + 60
    while not mapguard.stderr.readline().startswith("gc "):
        assert time.monotonic() < deadline and mapguard.poll() is None
    (child,) = _children(mapguard.pid)
    return mapguard, child


@pytest.mark.parametrize("ignore_sigint", [False, True])
def test_sigterm_and_sigint_end_the_child_and_keep_the_report(
        gc_program: Path, tmp_path: Path, ignore_sigint: bool) -> None:
    report = tmp_path / "gc.json"
    mapguard, child = _start_mapguard(gc_program, report, ignore_sigint=ignore_sigint)
    # SIGINT to mapguard alone: a child that ignores it (inherited) gets SIGTERM after --grace.
    mapguard.send_signal(signal.SIGINT if ignore_sigint else signal.SIGTERM)
    mapguard.communicate(timeout=60)
    assert mapguard.returncode == 0
    assert _gone(child)
    document = json.loads(report.read_text())
    assert document["child"]["interrupted"] is True
    assert document["child"]["exit_status"] == -signal.SIGTERM
    assert document["child"]["killed"] is ignore_sigint
    assert document["summary"]["cycles"] >= 1


def test_the_child_does_not_outlive_a_killed_mapguard(gc_program: Path, tmp_path: Path) -> None:
    mapguard, child = _start_mapguard(gc_program, tmp_path / "gc.json")
    mapguard.kill()
    mapguard.communicate(timeout=60)
    assert _gone(child)
