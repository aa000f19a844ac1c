"""`mapguard bench run|calibrate|compare --rev` with the real Go toolchain and a real git repo.

The repository holds one Go benchmark at two commits: the second does 20 % more work per
operation. The benchmark reports, next to wall-clock time, the CPU time its process spent per
operation (`cpu-ns/op`, from getrusage): on a machine shared with other jobs wall-clock time
varies several-fold from run to run, CPU time by a few percent. The gate is on CPU time, with
the noise floor calibrated on this machine first.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain
from tests.realparts import require_executable

pytestmark = pytest.mark.slow

WORK_GO = """\
package work

// Rounds is how much work one operation does.
const Rounds = {rounds}

//go:noinline
func Mix(seed uint64, rounds int) uint64 {{
	x := seed | 1
	for i := 0; i < rounds; i++ {{
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}}
	return x
}}
"""

WORK_TEST_GO = """\
package work

import (
	"syscall"
	"testing"
)

var sink uint64

// cpuNanos is the CPU time this process has used: unlike wall-clock time, it does not grow
// while other processes hold the CPU.
func cpuNanos() int64 {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return usage.Utime.Nano() + usage.Stime.Nano()
}

func BenchmarkMix(b *testing.B) {
	start := cpuNanos()
	for i := 0; i < b.N; i++ {
		sink = Mix(uint64(i), Rounds)
	}
	b.ReportMetric(float64(cpuNanos()-start)/float64(b.N), "cpu-ns/op")
}
"""

ROUNDS = ["--count", "12", "--benchtime", "40ms"]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.com", "-c", "user.name=test", *args],
                   cwd=repo, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, go_toolchain: GoToolchain) -> Path:
    require_executable("git", "apt-get install git")
    root = tmp_path_factory.mktemp("benchrepo")
    (root / "go.mod").write_text("module example.com/benchrepo\n\ngo 1.21\n")
    work = root / "work"
    work.mkdir()
    (work / "work_test.go").write_text(WORK_TEST_GO)
    (work / "work.go").write_text(WORK_GO.format(rounds=1000))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base")
    _git(root, "tag", "base")
    (work / "work.go").write_text(WORK_GO.format(rounds=1200))  # 20 % more work per op
    _git(root, "commit", "-qam", "slower")
    _git(root, "tag", "slower")
    _git(root, "checkout", "-q", "base")
    return root


def _compare(capsys: pytest.CaptureFixture[str], repo: Path, *args: str
             ) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        status = main(["bench", "compare", *args, "./work", *ROUNDS, "--format", "json"])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    return status, json.loads(out)


def _row(document: dict[str, object], unit: str) -> dict[str, object]:
    verdicts = document["verdicts"]
    assert isinstance(verdicts, list)
    return next(row for row in verdicts if row["unit"] == unit)


def test_gate_fails_on_a_real_regression_and_passes_a_a(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Calibrate, then gate a 20 % slower commit (exit 1, confirmed by a rerun) and the same
    commit against itself (exit 0). One test: under xdist each worker would calibrate again."""
    noise = tmp_path / "noise.json"
    assert main(["bench", "calibrate", str(repo / "work"), *ROUNDS, "-o", str(noise),
                 "--format", "json"]) == 0
    document = json.loads(noise.read_text())
    floors = {entry["unit"]: entry for entry in document["floors"]}
    assert document["kind"] == "mapguard-noise-floors" and document["go"].startswith("go1.")
    assert set(floors) >= {"sec/op", "cpu-sec/op", "B/op", "allocs/op"}
    assert floors["cpu-sec/op"]["runs"] == 24
    assert 0 <= floors["cpu-sec/op"]["floor"] < 0.15  # CPU time: a few percent at most
    assert floors["allocs/op"]["floor"] == 0.0  # every run allocates exactly nothing

    status, slower = _compare(capsys, repo, "--rev", "base", "--rev", "slower", "--noise",
                              str(noise), "--fail-on", "cpu-sec/op>+10%", "--confirm")
    row = _row(slower, "cpu-sec/op")
    assert status == 1, row
    assert row["verdict"] == "regression"
    assert 0.12 < float(row["relative"]) < 0.30  # type: ignore[arg-type]
    gate = slower["gate"]
    assert isinstance(gate, dict) and gate["failed"] and gate["confirmed"]

    # The same commit against itself passes the gate. The floor is the difference A/A runs
    # exceed 5 % of the time, so one A/A comparison in twenty may still call a difference
    # beyond it in either direction (a CI run saw "improvement"): --confirm reruns what broke
    # the rule, as a gate in CI would, and only a change that shows twice fails it.
    status, same = _compare(capsys, repo, "--rev", "base", "--rev", "base", "--noise",
                            str(noise), "--fail-on", "cpu-sec/op>+10%", "--confirm")
    row = _row(same, "cpu-sec/op")
    assert status == 0, row
    assert abs(float(row["relative"])) < 0.10  # type: ignore[arg-type]  # not `slower`'s 20 %
    gate = same["gate"]
    assert isinstance(gate, dict) and not gate["failed"]
    assert (row["baseline"], row["column"]) == ("base#1", "base#2")


def test_save_keeps_each_revisions_runs(repo: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    status, _document = _compare(capsys, repo, "--rev", "base", "--rev", "slower", "--save",
                                 str(tmp_path), "--bench", "Mix")
    assert status == 0  # no --fail-on: not gating
    saved = sorted(path.name for path in tmp_path.iterdir())
    assert saved == ["base.txt", "slower.txt"]
    assert (tmp_path / "base.txt").read_text().count("BenchmarkMix") == 12
    # The saved runs compare again as files.
    assert main(["bench", "compare", str(tmp_path / "base.txt"),
                 str(tmp_path / "slower.txt")]) == 0
    # The temporary worktrees are gone.
    listing = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout
    assert len(listing.splitlines()) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--rev", "base", "--rev", "no-such-rev"], "--rev no-such-rev: not a commit"),
    (["--rev", "base", "--rev", "slower", "--save", "/nonexistent/dir"],
     "--save /nonexistent/dir: not an existing directory"),
    (["--rev", "base", "--rev", "slower", "--benchtime", "fast"], "--benchtime fast"),
])
def test_revision_usage_errors(repo: Path, args: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    cwd = Path.cwd()
    os.chdir(repo)
    try:
        status = main(["bench", "compare", *args, "./work"])
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err


def test_rev_outside_git_is_a_usage_error(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "compare", "--rev", "a", "--rev", "b", str(tmp_path)])
    assert status == 2
    assert "not inside a git repository" in capsys.readouterr().err


def test_bench_run_saves_go_benchmark_format(repo: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(repo)
    output = tmp_path / "run.txt"
    status = main(["bench", "run", "./work", "-o", str(output), "--",
                   "-benchtime", "20ms", "-count", "2"])
    err = capsys.readouterr().err
    assert status == 0, err
    text = output.read_text()
    assert text.count("BenchmarkMix") == 2 and "B/op" in text  # -benchmem was added
    assert f"2 results saved to {output}" in err


def test_bench_run_errors(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(repo)
    assert main(["bench", "run", "./work", "-o", str(tmp_path / "no" / "x.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "go.mod").write_text("module example.com/broken\n\ngo 1.21\n")
    (broken / "b_test.go").write_text("package broken\n\nfunc BenchmarkX(b *testing.B) {}\n")
    monkeypatch.chdir(broken)
    status = main(["bench", "run", ".", "-o", str(tmp_path / "out.txt")])
    err = capsys.readouterr().err
    assert status == 2 and "`go test` exited with status" in err
