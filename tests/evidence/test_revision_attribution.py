"""A real fix across two revisions of one git checkout: each revision built (with its VCS
revision stamped), run and profiled; the profiles read against the checkout, whose work tree is
at the newer revision. Truth: `go tool pprof -diff_base` on the same files, and the source of
each revision read on its own."""

from __future__ import annotations

import fcntl
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.realparts import require_executable

from mapguard.cli import main
from mapguard.evidence.attribution import Attribution, attribute_profile
from mapguard.evidence.binary import read_binary
from mapguard.evidence.causes import cause_chain
from mapguard.evidence.sourcematch import SourceMatch
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats.pprof import Profile, parse_profile
from mapguard.gotool import GoToolchain, run_go

pytestmark = pytest.mark.slow

GO_MOD = "module example.com/fixdemo\n\ngo 1.21\n"

BEFORE = """package main

import (
	"os"
	"runtime"
	"runtime/pprof"
)

const value = "v"

var sink []map[int]string

// index builds one request's lookup table.
//
//go:noinline
func index(n int) map[int]string {
	m := map[int]string{} // want: create
	for i := 0; i < n; i++ {
		m[i] = value // want: grow
	}
	return m
}

func main() {
	runtime.MemProfileRate = 1
	for r := 0; r < 300; r++ {
		sink = append(sink, index(700))
		if len(sink) > 4 {
			sink = sink[1:]
		}
	}
	runtime.GC()
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		panic(err)
	}
	f.Close()
}
"""

# The fix: size the map. A helper added above moves `index` down, and puts a []byte make on
# the line where the old insert was: reading the old profile here would mislabel it.
AFTER = BEFORE.replace("""// index builds one request's lookup table.""", """//go:noinline
func scratch(n int) []byte {
	buf := make([]byte, n)
	return buf
}

// index builds one request's lookup table, sized up front.""").replace(
    "m := map[int]string{} // want: create", "m := make(map[int]string, n) // want: create")


@dataclass(frozen=True)
class Build:
    revision: str
    binary: Path
    profile_path: Path

    def profile(self) -> Profile:
        return parse_profile(self.profile_path.read_bytes(), str(self.profile_path))


@dataclass(frozen=True)
class Fix:
    repo: Path
    before: Build
    after: Build


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _commit_build_run(repo: Path, out: Path, name: str, source: str) -> Build:
    (repo / "main.go").write_text(source)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", name)
    revision = _git(repo, "rev-parse", "HEAD")
    binary = out / name
    built = run_go(["build", "-buildvcs=true", "-o", str(binary), "."], cwd=repo, timeout=300)
    assert built.returncode == 0, built.stderr
    profile = out / f"{name}.pb.gz"
    ran = subprocess.run([str(binary), str(profile)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr
    return Build(revision, binary, profile)


@pytest.fixture(scope="session")
def fix(go_toolchain: GoToolchain, tmp_path_factory: pytest.TempPathFactory) -> Fix:
    require_executable("git", "apt-get install git")
    root = tmp_path_factory.getbasetemp()
    shared = root.parent if root.name.startswith("popen-gw") else root
    out = shared / "fixdemo"
    with (shared / "fixdemo.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        repo = out / "repo"
        if not (out / "done.json").exists():
            repo.mkdir(parents=True)
            _git(repo, "init", "-q")
            (repo / "go.mod").write_text(GO_MOD)
            before = _commit_build_run(repo, out, "before", BEFORE)
            after = _commit_build_run(repo, out, "after", AFTER)
            (out / "done.json").write_text(json.dumps([before.revision, after.revision]))
        revisions = json.loads((out / "done.json").read_text())
    builds = [Build(revision, out / name, out / f"{name}.pb.gz")
              for revision, name in zip(revisions, ("before", "after"), strict=True)]
    return Fix(repo, *builds)


def _want(source: str, op: str) -> set[int]:
    return {n for n, line in enumerate(source.splitlines(), 1) if f"// want: {op}" in line}


def _sites(result: Attribution) -> set[tuple[str | None, int, str, int]]:
    return {(s.site.function, s.site.line, s.op, s.value) for s in result.sites}


def test_the_binary_names_its_revision(fix: Fix) -> None:
    info = read_binary(fix.before.binary)
    assert info.build is not None and info.build.vcs_revision == fix.before.revision
    assert not info.build.vcs_modified
    assert info.build.main_module == "example.com/fixdemo"
    # The profile's mapping carries the same build ID as the binary.
    assert info.gnu_build_id == fix.before.profile().mappings[0].build_id


def test_old_profile_against_the_new_work_tree_reads_its_own_revision(
        fix: Fix, tmp_path: Path) -> None:
    # Truth: the old revision on its own, as a plain directory.
    for name in ("go.mod", "main.go"):
        (tmp_path / name).write_text(_git(fix.repo, "show", f"{fix.before.revision}:{name}"))
    truth = attribute_profile(fix.before.profile(), tmp_path)
    assert truth.source is not None and truth.source.revision is None

    via_binary = attribute_profile(fix.before.profile(), fix.repo,
                                   binary=read_binary(fix.before.binary))
    assert via_binary.source is not None
    assert via_binary.source.revision == fix.before.revision
    assert via_binary.source.origin == "build info"
    assert _sites(via_binary) == _sites(truth)
    assert via_binary.map_total == truth.map_total and via_binary.map_total > 0
    assert {s.match for s in via_binary.sites} == {SourceMatch.EXACT}
    grow_lines = {s.site.line for s in via_binary.sites if s.op == "grow"}
    assert grow_lines == _want(BEFORE, "grow")

    by_name = attribute_profile(fix.before.profile(), fix.repo, revision=fix.before.revision[:8])
    assert _sites(by_name) == _sites(truth)


def test_without_the_revision_moved_functions_are_attributed_by_function_only(
        fix: Fix) -> None:
    # The work tree is at the fix: `index` moved and its old lines hold other code.
    result = attribute_profile(fix.before.profile(), fix.repo)
    assert result.source is not None and result.source.origin == "work tree"
    index = [cost for cost in result.unmatched if cost.function == "main.index"]
    assert index and index[0].match is SourceMatch.MOVED
    # Nothing is labelled from a moved line: no map site in main.index at all.
    assert not [s for s in result.sites if s.site.function == "main.index"]
    truth = attribute_profile(fix.before.profile(), fix.repo,
                              binary=read_binary(fix.before.binary))
    index_truth = sum(s.value for s in truth.sites if s.site.function == "main.index")
    assert index[0].value >= index_truth
    assert any("does not match" in note for note in result.notes)


_TOP_ROW = re.compile(r"^\s*(-?[\d.]+)B\s+-?[\d.]+%\s+-?[\d.]+%\s+-?[\d.]+B\s+-?[\d.]+%\s+(\S+)")


def _pprof_diff_flat(fix: Fix, function: str) -> int:
    proc = run_go(["tool", "pprof", "-top", "-unit=B", "-sample_index=alloc_space",
                   "-nodecount=1000", f"-diff_base={fix.before.profile_path}",
                   str(fix.after.profile_path)], timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        row = _TOP_ROW.match(line)
        if row and row.group(2) == function:
            return round(float(row.group(1)))
    raise AssertionError(f"{function} not in:\n{proc.stdout}")


def test_diff_of_the_fix_matches_pprof_diff_base(
        fix: Fix, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "diff", str(fix.before.profile_path), str(fix.after.profile_path),
                 "--source", str(fix.repo), "--base-binary", str(fix.before.binary),
                 "--binary", str(fix.after.binary), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    delta = document["map"]["total"]["delta"]
    # All of main.index's allocation is map memory in both revisions.
    truth = _pprof_diff_flat(fix, "main.index")
    assert truth < 0 and delta < 0
    assert abs(delta - truth) <= 0.05 * abs(truth), (delta, truth)
    assert document["source"]["base"]["revision"] == fix.before.revision
    assert document["source"]["new"]["revision"] == fix.after.revision
    grow = document["map"]["by_op"]["grow"]
    assert grow["new"] == 0 and grow["base"] > 0
    # The same comparison by revision names instead of binaries, in text.
    assert main(["profile", "diff", str(fix.before.profile_path), str(fix.after.profile_path),
                 "--source", str(fix.repo), "--base-revision", "HEAD~1",
                 "--revision", "HEAD"]) == 0
    out = capsys.readouterr().out
    assert f"at revision {fix.before.revision[:12]}" in out and "main.index" in out


def test_the_newer_profile_is_exact_against_its_own_work_tree(fix: Fix) -> None:
    result = attribute_profile(fix.after.profile(), fix.repo)
    assert {s.match for s in result.sites} == {SourceMatch.EXACT}
    assert {s.site.line for s in result.sites if s.op == "create"
            and s.site.function == "main.index"} == _want(AFTER, "create")


def test_the_old_growth_is_linked_to_its_creation_at_its_revision(fix: Fix) -> None:
    sources = SourceFiles(fix.repo, binary=read_binary(fix.before.binary))
    result = attribute_profile(fix.before.profile(), sources)
    (cause,) = [c for c in cause_chain(result, sources) if c.growth.site.function == "main.index"]
    assert cause.creation is not None and cause.creation.site is not None
    assert {cause.creation.site.line} == _want(BEFORE, "create")
    assert cause.creation.text == "map[int]string{}" and not cause.creation.sized
    assert any("no size hint" in advice for advice in cause.advice)
    # A counting loop up to a parameter: MG002 reports it once it covers that loop shape.
    assert cause.rule in (None, "MG002 missing-size-hint")
