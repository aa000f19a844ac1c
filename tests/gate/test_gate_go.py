"""`mapguard gate` on a real Go module in a real git repository: each kind of regression fails
the gate (exit 1) on its own, and the fixed code passes (exit 0)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mapguard.cli import main
from mapguard.gotool import GoToolchain, run_go
from tests.realparts import require_executable

pytestmark = pytest.mark.slow

GO_MOD = "module example.com/svc\n\ngo 1.22\n"
FIXED = """package svc

// Count says how many distinct words there are, reusing the caller's map.
func Count(words []string, seen map[string]bool) int {
	clear(seen)
	for _, w := range words {
		seen[w] = true
	}
	return len(seen)
}

// Groups counts the distinct words of each group with one map, cleared per group.
func Groups(groups [][]string) int {
	seen := make(map[string]bool, 64)
	n := 0
	for _, g := range groups {
		clear(seen)
		for _, w := range g {
			seen[w] = true
		}
		n += len(seen)
	}
	return n
}

// prices by product id: the ids are dense, so a slice holds them.
var prices = makePrices(1024)

func makePrices(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i % 97
	}
	return p
}

// Total sums the prices of the products ordered.
func Total(ids []int) int {
	t := 0
	for _, id := range ids {
		t += prices[id]
	}
	return t
}
"""
GROUP_LOOP_LINE = 17  # of FIXED: clear(seen), where REBUILT_PER_PASS makes a map per group
# Each regression changes one thing of FIXED.
REBUILT_PER_PASS = FIXED.replace("\t\tclear(seen)\n\t\tfor _, w := range g {",
                                 "\t\tseen = make(map[string]bool, 64)\n"
                                 "\t\tfor _, w := range g {")
RETURNED_MAP = FIXED + """
// Index maps each word to its position.
func Index(words []string) map[string]int {
	m := make(map[string]int, len(words))
	for i, w := range words {
		m[w] = i
	}
	return m
}
"""
ALLOCATING_COUNT = FIXED.replace("""func Count(words []string, seen map[string]bool) int {
	clear(seen)""", """func Count(words []string, seen map[string]bool) int {
	seen = make(map[string]bool, 64) // a table per call""")
# The same prices in a map: every lookup in Total's loop is a map access.
PRICES_IN_A_MAP = FIXED.replace("""func makePrices(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i % 97
	}""", """func makePrices(n int) map[int]int {
	p := make(map[int]int, n)
	for i := 0; i < n; i++ {
		p[i] = i % 97
	}""")
BENCH_TEST = """package svc

import "testing"

func BenchmarkCount(b *testing.B) {
	words := []string{"a", "b", "c", "d", "a", "e"}
	seen := make(map[string]bool, 8)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		Count(words, seen)
	}
}
"""
PROFILED_CALLS = 300  # of svc.Groups by PROFILER: the operations of a bytes_per_op budget
PROFILER = """package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"example.com/svc"
)

var sink []byte

func main() {
	runtime.MemProfileRate = 1
	groups := make([][]string, 40)
	for i := range groups {
		for j := 0; j < 40; j++ {
			groups[i] = append(groups[i], fmt.Sprintf("w%d", j))
		}
	}
	total := 0
	for i := 0; i < PROFILED_CALLS; i++ {
		sink = make([]byte, 16<<10) // the rest of the work allocates too
		total += svc.Groups(groups)
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
	fmt.Println(total)
}
""".replace("PROFILED_CALLS", str(PROFILED_CALLS))
CPU_PROFILER = """package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"example.com/svc"
)

func main() {
	ids := make([]int, 4096)
	for i := range ids {
		ids[i] = (i * 7919) % 1024
	}
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		panic(err)
	}
	total := 0
	for start := time.Now(); time.Since(start) < 1500*time.Millisecond; {
		for i := 0; i < 100; i++ {
			total += svc.Total(ids)
		}
	}
	pprof.StopCPUProfile()
	f.Close()
	fmt.Println(total)
}
"""


LINT_CONFIG = """\
extend-select = ["MG001", "MG002"]
"""


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_executable("git", "apt-get install git")
    assert FIXED.splitlines()[GROUP_LOOP_LINE - 1].strip() == "clear(seen)"
    assert "map[string]bool, 64)" in REBUILT_PER_PASS.splitlines()[GROUP_LOOP_LINE - 1]
    root = tmp_path_factory.mktemp("gate") / "svc"
    (root / "cmd" / "prof").mkdir(parents=True)
    (root / "cmd" / "cpu").mkdir()
    (root / "go.mod").write_text(GO_MOD)
    (root / "svc.go").write_text(FIXED)
    (root / "svc_test.go").write_text(BENCH_TEST)
    (root / "cmd" / "prof" / "main.go").write_text(PROFILER)
    (root / "cmd" / "cpu" / "main.go").write_text(CPU_PROFILER)
    # MG001 is off by default; this project turns it on, as lint reads it, and so must the gate.
    (root / ".mapguard.toml").write_text(LINT_CONFIG)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "fixed")
    return root


@contextlib.contextmanager
def _changed(repo: Path, name: str, source: str) -> Iterator[None]:
    """The working tree on a branch that changes svc.go; back on main afterwards."""
    _git(repo, "checkout", "-q", "-b", name)
    (repo / "svc.go").write_text(source)
    _git(repo, "commit", "-q", "-am", name)
    try:
        yield
    finally:
        _git(repo, "checkout", "-q", "main")


def _gate(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["gate", str(repo), "--format", "json", *args])
    return status, json.loads(out.getvalue())


def _statuses(document: dict[str, Any]) -> dict[str, str]:
    return {check["check"]: check["status"] for check in document["checks"]}


def _bench(repo: Path, toolchain: GoToolchain, output: Path) -> Path:
    proc = run_go(["test", "-run", "^$", "-bench", ".", "-benchmem", "-count", "5",
                   "-benchtime", "2000x"], cwd=repo, toolchain=toolchain, timeout=300)
    assert proc.returncode == 0, proc.stderr
    output.write_text(proc.stdout)
    return output


def _profile(repo: Path, toolchain: GoToolchain, output: Path, profiler: str = "prof") -> Path:
    proc = run_go(["run", f"./cmd/{profiler}", str(output)], cwd=repo, toolchain=toolchain,
                  timeout=300)
    assert proc.returncode == 0, proc.stderr
    return output


def test_fixed_code_passes_every_check(repo: Path, go_toolchain: GoToolchain,
                                       tmp_path: Path) -> None:
    old = _bench(repo, go_toolchain, tmp_path / "old.txt")
    new = _bench(repo, go_toolchain, tmp_path / "new.txt")
    profile = _profile(repo, go_toolchain, tmp_path / "allocs.pb.gz")
    cpu = _profile(repo, go_toolchain, tmp_path / "cpu.pb.gz", "cpu")
    summary = tmp_path / "summary.md"
    status, document = _gate(repo, "--base", "main", "--lint", "--escape", "--bench",
                             f"{old},{new}", "--fail-on", "allocs/op>0", "--profile",
                             str(profile), "--profile", str(cpu), "--profile-budget",
                             "map.share<=20%", "--profile-budget",
                             f"site:svc.go:{GROUP_LOOP_LINE}.bytes_per_op<=1KiB",
                             "--profile-budget", "cpu.map.share<=10%",
                             "--ops", str(PROFILED_CALLS), "--summary", str(summary))
    assert status == 0, document
    assert _statuses(document) == {"lint": "pass", "escape": "pass", "bench": "pass",
                                   "profile": "pass"}
    profile_check = document["checks"][-1]
    assert profile_check["summary"].count("within budget") == 3, profile_check
    assert "mapguard gate passed" in summary.read_text()


def test_a_new_lint_finding_fails(repo: Path, tmp_path: Path) -> None:
    with _changed(repo, "rebuilt", REBUILT_PER_PASS):
        status, document = _gate(repo, "--base", "main", "--lint")
        sarif = tmp_path / "gate.sarif"
        assert main(["gate", str(repo), "--base", "main", "--lint", "--sarif", str(sarif),
                     "--format", "markdown"]) == 1
    assert status == 1 and _statuses(document) == {"lint": "fail"}
    (violation,) = document["checks"][0]["violations"]
    assert violation["rule"] == "MG001" and violation["file"] == "svc.go"
    run = json.loads(sarif.read_text())["runs"][0]
    assert run["results"][0]["ruleId"] == "MG001"
    assert run["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] == \
        violation["line"]


def test_the_gate_uses_the_rules_lint_uses(repo: Path) -> None:
    """Without the project's configuration MG001 is off, in lint and in the gate alike."""
    _git(repo, "checkout", "-q", "-b", "rebuilt-unconfigured")
    (repo / "svc.go").write_text(REBUILT_PER_PASS)
    (repo / ".mapguard.toml").unlink()
    _git(repo, "commit", "-q", "-am", "rebuilt, MG001 left off")
    try:
        assert main(["lint", str(repo) + "/...", "--no-cache", "--format", "json",
                     "-o", os.devnull]) == 0
        status, document = _gate(repo, "--base", "main", "--lint")
    finally:
        _git(repo, "checkout", "-q", "main")
    assert status == 0 and _statuses(document) == {"lint": "pass"}, document


def test_lint_against_a_baseline_file(repo: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    with _changed(repo, "rebuilt-baselined", REBUILT_PER_PASS):
        assert main(["lint", str(repo) + "/...", "--write-baseline", str(baseline)]) == 0
        status, document = _gate(repo, "--lint", "--baseline", str(baseline))
    assert status == 0 and _statuses(document) == {"lint": "pass"}


def test_a_new_heap_escaping_map_fails(repo: Path) -> None:
    with _changed(repo, "returned", RETURNED_MAP):
        lint_status, _ = _gate(repo, "--base", "main", "--lint")
        status, document = _gate(repo, "--base", "main", "--escape")
    assert lint_status == 0  # no rule finds it: the compiler does
    assert status == 1 and _statuses(document) == {"escape": "fail"}
    (violation,) = document["checks"][0]["violations"]
    assert violation["rule"] == "new-heap-map" and "make(map[string]int" in violation["message"]
    assert "Index" in violation["message"]
    assert str(repo.resolve()) not in violation["message"]  # the flow's positions, relative


def test_a_benchmark_regression_fails(repo: Path, go_toolchain: GoToolchain,
                                      tmp_path: Path) -> None:
    old = _bench(repo, go_toolchain, tmp_path / "old.txt")
    with _changed(repo, "allocating", ALLOCATING_COUNT):
        new = _bench(repo, go_toolchain, tmp_path / "new.txt")
    status, document = _gate(repo, "--bench", f"{old},{new}", "--fail-on", "allocs/op>0")
    assert status == 1 and _statuses(document) == {"bench": "fail"}
    (violation,) = document["checks"][0]["violations"]
    assert violation["message"].startswith("Count") and "allocs/op: 0 -> " in violation["message"]


def test_a_profile_over_budget_fails(repo: Path, go_toolchain: GoToolchain,
                                     tmp_path: Path) -> None:
    with _changed(repo, "rebuilt-profiled", REBUILT_PER_PASS):
        profile = _profile(repo, go_toolchain, tmp_path / "allocs.pb.gz")
        status, document = _gate(repo, "--profile", str(profile), "--profile-budget",
                                 "map.share<=20%")
    assert status == 1 and _statuses(document) == {"profile": "fail"}
    assert "OVER BUDGET" in document["checks"][0]["summary"]


def test_a_site_over_its_bytes_per_op_fails(repo: Path, go_toolchain: GoToolchain,
                                            tmp_path: Path) -> None:
    budget = f"site:svc.go:{GROUP_LOOP_LINE}.bytes_per_op<=1KiB"
    with _changed(repo, "rebuilt-per-op", REBUILT_PER_PASS):
        profile = _profile(repo, go_toolchain, tmp_path / "allocs.pb.gz")
        status, document = _gate(repo, "--profile", str(profile), "--profile-budget", budget,
                                 "--ops", str(PROFILED_CALLS))
    assert status == 1 and _statuses(document) == {"profile": "fail"}
    (violation,) = document["checks"][0]["violations"]
    assert violation["message"].startswith(budget) and "OVER BUDGET" in violation["message"]


def test_map_work_in_a_hot_loop_over_the_cpu_budget_fails(repo: Path, go_toolchain: GoToolchain,
                                                          tmp_path: Path) -> None:
    with _changed(repo, "prices-in-a-map", PRICES_IN_A_MAP):
        cpu = _profile(repo, go_toolchain, tmp_path / "cpu.pb.gz", "cpu")
        lint_status, _ = _gate(repo, "--base", "main", "--lint")
        status, document = _gate(repo, "--profile", str(cpu), "--profile-budget",
                                 "cpu.map.share<=10%")
    assert lint_status == 0  # no rule finds it: the CPU profile does
    assert status == 1 and _statuses(document) == {"profile": "fail"}
    (violation,) = document["checks"][0]["violations"]
    assert violation["message"].startswith("cpu.map.share<=10%: ")


def test_a_base_that_does_not_exist_is_a_usage_error(repo: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    assert main(["gate", str(repo), "--base", "no-such-branch", "--lint"]) == 2
    err = capsys.readouterr().err
    assert "no-such-branch" in err and "Traceback" not in err
