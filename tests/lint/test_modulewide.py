"""Module-wide concurrency: MG004/MG005 follow a handler's calls into other packages of its
module (tests/fixtures/corpus/mg004_module_wide: a server in cmd/server, a store in
internal/store, a helper package between them), cached like the per-package results."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from mapguard.lint import engine, modulewide
from mapguard.lint.engine import SHARD_MIN_FILES, LintOptions, lint, split_work
from mapguard.lint.registry import rule_for
from mapguard.lint.results import LintResult
from mapguard.source import loader
from mapguard.source.discover import Selection, expand

from .conftest import made_cache
from .corpus import FIXTURES

FIXTURE = FIXTURES / "corpus" / "mg004_module_wide"
STORE = Path("internal/store/store.go")
# Line 33 writes a package-level map (MG004); 17 and 49 write, 46 lazily sets up, what the
# handler hands on (its receiver's map): reachability only, MG014's.
WANTED = {("MG014", 17), ("MG004", 33), ("MG014", 46), ("MG014", 49)}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A copy of the fixture in a module of its own (same import paths as in the corpus)."""
    (tmp_path / "go.mod").write_text("module example.com/corpus\n\ngo 1.22\n")
    shutil.copytree(FIXTURE, tmp_path / FIXTURE.name)
    return tmp_path / FIXTURE.name


def _store_findings(result: LintResult, root: Path) -> set[tuple[str, int]]:
    assert not result.errors, result.errors
    return {(f.rule, f.line) for f in result.findings if f.path == root / STORE}


def test_handler_in_cmd_server_reaches_writes_in_internal_store(shop: Path) -> None:
    result = lint([f"{shop}/..."], LintOptions(jobs=1))
    assert _store_findings(result, shop) == WANTED
    assert {f.path for f in result.findings} == {shop / STORE}
    by_line = {f.line: f.message for f in result.findings}
    # The message names the handler and the call that leads to the write.
    assert "the HTTP handler server.ServeHTTP (mg004_module_wide/cmd/server/main.go:32)" in (
        by_line[17])
    assert "through the call at mg004_module_wide/internal/tally/tally.go:8" in by_line[17]


def test_findings_land_only_in_linted_packages(shop: Path) -> None:
    # The store alone: nothing concurrent calls it. The server alone: the writes are elsewhere.
    assert not lint([f"{shop}/internal/..."], LintOptions(jobs=1)).findings
    assert not lint([f"{shop}/cmd/..."], LintOptions(jobs=1)).findings


def test_rules_left_out_are_not_followed(shop: Path) -> None:
    result = lint([f"{shop}/..."], LintOptions(jobs=1, rules=(rule_for("MG004"),)))
    assert _store_findings(result, shop) == {("MG004", 33)}
    # MG014 alone follows the calls too, and reports what MG004 and MG005 leave.
    result = lint([f"{shop}/..."], LintOptions(jobs=1, rules=(rule_for("MG014"),)))
    assert _store_findings(result, shop) == {("MG014", 17), ("MG014", 46), ("MG014", 49)}


def test_a_second_run_takes_the_visits_from_the_cache(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    first = lint([f"{shop}/..."], options)

    def no_loading(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("a cached visit loaded its package again")

    monkeypatch.setattr(modulewide, "load_compiled_packages", no_loading)
    second = lint([f"{shop}/..."], options)
    assert second.findings == first.findings
    assert _store_findings(second, shop) == WANTED


@pytest.fixture
def loaded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files each visit parses (what reaches the loader)."""
    names: list[str] = []
    real_load = loader.load_packages

    def recording_load(package_dir: object, *args: object, **kwargs: object) -> object:
        assert isinstance(package_dir, modulewide.PackageDir)
        names.extend(f.path.name for f in package_dir.files)
        return real_load(package_dir, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "load_packages", recording_load)
    return names


def test_a_visit_reads_the_package_without_its_tests(shop: Path, loaded: list[str]) -> None:
    """The calls come from another package's code: the program that makes them is built
    without the visited package's `_test.go` files, so a visit neither reads them nor lets
    them change a verdict (and editing a test keeps the cached visit)."""
    test_file = shop / "internal" / "store" / "store_test.go"
    test_file.write_text("package store\n\nimport \"testing\"\n\n"
                         "func TestAdd(t *testing.T) {\n\tadd := (&Hits{}).Add\n"
                         "\tadd(\"/\")\n}\n")
    assert _store_findings(lint([f"{shop}/..."], LintOptions(jobs=1)), shop) == WANTED
    assert "store.go" in loaded
    assert not [name for name in loaded if name.endswith("_test.go")]
    store_dir = shop / "internal" / "store"
    unit = modulewide.Unit(modulewide.DirTarget(
        store_dir, tuple((path, False) for path in sorted(store_dir.glob("*.go"))), 0), ())
    before = modulewide.visit_key(unit, Selection(), "f")
    test_file.write_text(test_file.read_text() + "\n// edited\n")
    assert modulewide.visit_key(unit, Selection(), "f") == before


def test_the_cache_sees_a_fix_in_the_store(shop: Path, tmp_path: Path) -> None:
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    assert ("MG014", 17) in _store_findings(lint([f"{shop}/..."], options), shop)
    store = shop / STORE
    fixed = store.read_text().replace(
        "func (h *Hits) Add(path string) {\n",
        "func (h *Hits) Add(path string) {\n\tmu.Lock()\n\tdefer mu.Unlock()\n",
    ).replace('import "sync"', 'import "sync"\n\nvar mu sync.Mutex')
    store.write_text(fixed)
    assert ("MG014", 17 + 4) not in _store_findings(lint([f"{shop}/..."], options), shop)
    assert ("MG004", 33 + 4) in _store_findings(lint([f"{shop}/..."], options), shop)


def test_a_lock_at_the_call_covers_the_callee(shop: Path, tmp_path: Path) -> None:
    server = shop / "cmd" / "server" / "main.go"
    server.write_text(server.read_text().replace(
        "\ttally.Record(s.hits, r.URL.Path)\n",
        "\ts.mu.Lock()\n\ttally.Record(s.hits, r.URL.Path)\n\ts.mu.Unlock()\n",
    ))
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    assert ("MG014", 17) not in _store_findings(lint([f"{shop}/..."], options), shop)


def test_a_locked_use_elsewhere_is_named_but_leaves_the_finding_to_mg014(shop: Path) -> None:
    store = shop / STORE
    store.write_text(store.read_text() + (
        "\nvar countMu sync.Mutex\n\n"
        "// LockedCount reads the counter under a lock.\n"
        "func LockedCount(h *Hits, path string) int {\n"
        "\tcountMu.Lock()\n\tdefer countMu.Unlock()\n\treturn h.perPath[path]\n}\n"))
    locked_line = store.read_text().splitlines().index("\treturn h.perPath[path]") + 1
    result = lint([f"{shop}/..."], LintOptions(jobs=1))
    assert _store_findings(result, shop) == WANTED
    message = next(f.message for f in result.findings if f.line == 17)
    assert f"elsewhere it is accessed with a lock held (store.go:{locked_line})" in message


def test_an_ignore_comment_silences_a_module_wide_finding(shop: Path) -> None:
    store = shop / STORE
    store.write_text(store.read_text().replace(
        "\th.perPath[path]++ // want MG014",
        "\th.perPath[path]++ //mapguard:ignore MG004 callers serialise",
    ))
    result = lint([f"{shop}/..."], LintOptions(jobs=1))
    # MG014 holds what MG004 reported there before: an ignore comment naming MG004 still holds.
    assert ("MG014", 17) in WANTED and ("MG014", 17) not in _store_findings(result, shop)
    assert ("MG004", 33) in _store_findings(result, shop)


def test_a_split_package_hands_on_the_calls_of_every_part(shop: Path) -> None:
    server = shop / "cmd" / "server"
    for number in range(2 * SHARD_MIN_FILES):  # enough files for the package to be split
        (server / f"health{number}.go").write_text(
            f'package main\n\nimport "net/http"\n\nfunc health{number}(w http.ResponseWriter, '
            "r *http.Request) { w.WriteHeader(http.StatusOK) }\n"
        )
    targets = [t for t in expand([f"{shop}/..."], shop, Selection()).targets
               if t.directory == server]
    assert len(split_work(targets, [LintOptions()], jobs=2, shard_bytes=1)) == 2
    whole = lint([f"{shop}/..."], LintOptions(jobs=1))
    split = lint([f"{shop}/..."], LintOptions(jobs=2, shard_bytes=1))
    assert _store_findings(split, shop) == _store_findings(whole, shop) == WANTED


# Where _recording_visit_job notes the visits (process id and package): forked workers
# inherit it, and the function is found by name in them.
VISITS: list[Path] = []


class _RecordingFollower(modulewide.Follower):
    """Notes each package a visit follows calls into, and in which process: only a visit
    that the cache did not answer gets this far."""

    def from_requests(self, requests: list[modulewide.CallOut]) -> None:
        (VISITS[0] / f"{os.getpid()}-{self.package.directory.name}").touch()
        super().from_requests(requests)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the recording visit reaches workers by fork")
def test_workers_make_the_visits_of_a_round_with_the_same_result(
    shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = lint([f"{shop}/..."], LintOptions(jobs=1))
    monkeypatch.setattr(engine, "PARALLEL_THRESHOLD_BYTES", 0)  # workers even for this
    monkeypatch.setattr(modulewide, "Follower", _RecordingFollower)
    monkeypatch.setattr(sys.modules[__name__], "VISITS", [tmp_path / "visits"])
    (tmp_path / "visits").mkdir()
    options = LintOptions(jobs=2, cache_dir=made_cache(tmp_path / "cache"))
    assert lint([f"{shop}/..."], replace(options, cache_dir=None)).findings == whole.findings
    # The first round visits the store and the tally helper, in the workers (a round of
    # one package is visited here).
    visited = [path.name.split("-", 1) for path in (tmp_path / "visits").iterdir()]
    assert {name for pid, name in visited if int(pid) != os.getpid()} == {"store", "tally"}
    # With a cache: filled by the parent from the workers' visits, then read back by the
    # workers, which then visit nothing.
    assert lint([f"{shop}/..."], options).findings == whole.findings
    shutil.rmtree(tmp_path / "visits")
    (tmp_path / "visits").mkdir()
    again = lint([f"{shop}/..."], options)
    assert again.findings == whole.findings
    assert not list((tmp_path / "visits").iterdir())


RESULT_TYPED = FIXTURES / "corpus" / "mg004_result_typed"


@pytest.fixture
def tallies(tmp_path: Path) -> Path:
    """mg004_result_typed in a module of its own: receivers typed by another package's
    constructors (`var hits = store.New()`)."""
    (tmp_path / "go.mod").write_text("module example.com/corpus\n\ngo 1.22\n")
    shutil.copytree(RESULT_TYPED, tmp_path / RESULT_TYPED.name)
    return tmp_path / RESULT_TYPED.name


def test_a_receiver_typed_by_another_packages_result_is_followed(tallies: Path) -> None:
    result = lint([f"{tallies}/..."], LintOptions(jobs=1))
    assert _store_findings(result, tallies) == {
        ("MG014", 21), ("MG014", 39), ("MG014", 40), ("MG014", 129)}
    by_line = {f.line: f.message for f in result.findings}
    assert "the HTTP handler serveHits" in by_line[21]
    assert "through the call at mg004_result_typed/cmd/server/main.go:24" in by_line[21]
    # `methods = registry.Methods()`: typed by a method of the other package's type.
    assert "through the call at mg004_result_typed/cmd/server/main.go:30" in by_line[129]


def test_the_cache_sees_a_changed_result_type_in_the_other_package(
        tallies: Path, tmp_path: Path) -> None:
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    assert ("MG014", 21) in _store_findings(lint([f"{tallies}/..."], options), tallies)
    # The constructor now hands out the locking counters: cmd/server's files are unchanged,
    # but what its calls return is not, so its cached result must not be used.
    store = tallies / STORE
    text = store.read_text()
    store.write_text(text.replace(
        "func New() *Hits { return &Hits{perPath: map[string]int{}} }",
        "func New() *Guarded { return NewGuarded() }"))
    assert ("MG014", 21) not in _store_findings(lint([f"{tallies}/..."], options), tallies)


def test_visits_leave_out_files_only_old_toolchains_read(shop: Path, loaded: list[str]) -> None:
    """As the package's own analysis does: a shim for toolchains the module cannot be built
    with is never compiled, and its twin declarations must not stand in for the live ones."""
    store_dir = shop / "internal" / "store"
    (store_dir / "old.go").write_text("//go:build !go1.13\n\npackage store\n\n"
                                      "func legacy() {}\n")
    assert _store_findings(lint([f"{shop}/..."], LintOptions(jobs=1)), shop) == WANTED
    assert "store.go" in loaded  # the store was visited
    assert "old.go" not in loaded


FAN_OUT = {
    "go.mod": "module example.com/fan\n\ngo 1.22\n",
    "cmd/fan/main.go": """package main

import (
	"sync"

	"example.com/fan/internal/tally"
)

func main() {
	counts := map[string]int{}
	t := tally.New()
	var wg sync.WaitGroup
	for _, word := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tally.Add(counts, word)
			t.Note(word)
		}()
	}
	wg.Wait()
}
""",
    "internal/tally/tally.go": """package tally

type Tally struct{ seen map[string]bool }

func New() *Tally { return &Tally{seen: map[string]bool{}} }

func Add(counts map[string]int, word string) {
	counts[word]++
}

func (t *Tally) Note(word string) {
	t.seen[word] = true
}
""",
}


def test_a_map_every_goroutine_of_a_loop_captures_is_proven_shared_across_packages(
        tmp_path: Path) -> None:
    """`for ... { go func() { tally.Add(counts, w) }() }`: every goroutine of the loop hands
    the one map to the other package, which writes it: MG004, as in the goroutine's own body,
    and the same from the cached visit."""
    for name, text in FAN_OUT.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    options = LintOptions(jobs=1, cache_dir=made_cache(tmp_path / "cache"))
    tally = tmp_path / "internal" / "tally" / "tally.go"
    for _run in range(2):
        result = lint([f"{tmp_path}/..."], options)
        assert {(f.rule, f.path, f.line) for f in result.findings} == {
            ("MG004", tally, 8), ("MG004", tally, 12)}
        assert "which the goroutine started at cmd/fan/main.go:15" in result.findings[0].message
