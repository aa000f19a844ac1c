"""A large package split across workers gives exactly what it gives analysed whole, and the
cache holds the same result either way."""

from __future__ import annotations

import multiprocessing
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain
from mapguard.lint import engine
from mapguard.lint.engine import SHARD_MIN_FILES, LintOptions, lint, split_work
from mapguard.lint.registry import ALL_RULES, rule_for
from mapguard.lint.results import LintResult
from mapguard.source.discover import Selection, expand

from .conftest import made_cache
from .corpus import FIXTURES

# Packages of the standard library with findings of several rules, one of them large.
PACKAGES = ("net/http", "syscall", "internal/trace/traceviewer", "internal/profile",
            "cmd/go/internal/modload")


def summary(result: LintResult) -> tuple[object, ...]:
    return (result.findings, result.errors, result.files, result.versions, result.notes,
            result.digests)


def forked_groups(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """Start workers even for a small lint, and record the shard groups handed to them (each
    read by one worker, which forks a process per other shard)."""
    monkeypatch.setattr(engine, "PARALLEL_THRESHOLD_BYTES", 0)
    groups: list[tuple[int, ...]] = []
    shard_groups = engine._shard_groups

    def recording(work: list[engine.Work]) -> list[tuple[int, ...]]:
        found = shard_groups(work)
        groups.extend(found)
        return found

    monkeypatch.setattr(engine, "_shard_groups", recording)
    return groups


@pytest.mark.slow
def test_split_packages_give_the_whole_package_result(go_toolchain: GoToolchain,
                                                      tmp_path: Path) -> None:
    src = go_toolchain.goroot / "src"
    targets = [str(src / package) for package in PACKAGES]
    whole = lint(targets, LintOptions(jobs=1))
    assert len({f.rule for f in whole.findings}) >= 3 and not whole.errors
    split_options = LintOptions(jobs=2, shard_bytes=1, cache_dir=made_cache(tmp_path / "cache"))
    expansion = expand(targets, src, Selection())
    work = split_work(list(expansion.targets), [split_options] * len(expansion.targets), 2, 1)
    # Every package big enough to be split (a few files at least) is split in two.
    splittable = [t for t in expansion.targets if len(t.files) >= 2 * SHARD_MIN_FILES]
    assert len(splittable) >= 3
    assert sum(1 for unit in work if unit.shard is not None) == 2 * len(splittable)
    split = lint(targets, split_options)
    assert summary(split) == summary(whole)
    # The cache filled by the split run serves the whole-package run the same result.
    cached = lint(targets, replace(split_options, jobs=1, shard_bytes=None))
    assert cached.cached_packages == len(expansion.targets)
    assert summary(cached) == summary(whole)



HANDLER = """package p

import "net/http"

var strikes = map[string]int{}

func Handle(w http.ResponseWriter, r *http.Request) {
	forget(strikes)
}
"""

FORGET = """package p

// {padding}
func forget(m map[string]int) {{
	for k := range m {{
		delete(m, k)
	}}
}}
"""


def test_overlaps_across_shards_are_settled_as_in_the_whole_package(tmp_path: Path) -> None:
    # MG014 (MG004's analysis: a map handed to a helper) runs in the second shard only (MG004
    # goes to the lead); its finding on the delete shares a line with MG003's on the loop, in
    # a file of the lead: as in a whole run, MG003 loses its fix (the two rules advise
    # differently there).
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.24\n")
    (tmp_path / "handler.go").write_text(HANDLER)
    (tmp_path / "forget.go").write_text(FORGET.format(padding="x" * 4000))
    for index in range(2 * SHARD_MIN_FILES):
        (tmp_path / f"f{index}.go").write_text(f"package p\n\nfunc F{index}() {{}}\n")
    targets = [str(tmp_path)]
    whole = lint(targets, LintOptions(jobs=1))
    assert [(f.rule, f.line, f.fix) for f in whole.findings] == [("MG003", 5, None),
                                                                 ("MG014", 6, None)]
    split_options = LintOptions(jobs=2, shard_bytes=1)
    expansion = expand(targets, tmp_path, Selection())
    work = split_work(list(expansion.targets), [split_options], 2, 1)
    assert [(unit.lead, unit.whole) for unit in work] == [(True, {"MG004"}), (False, {"MG014"})]
    assert tmp_path / "forget.go" in (work[0].shard or ())
    assert summary(lint(targets, split_options)) == summary(whole)


def test_a_lead_shard_with_files_of_its_own_gives_the_whole_package_result(tmp_path: Path
                                                                           ) -> None:
    # With every rule, the whole-package rules are dealt out over the two shards (MG004 to the
    # lead, MG014 to the other), each shard checking files of its own as well (forget.go
    # weighs most: it goes to the lead, the two starting alike); with one whole-package rule
    # selected the lead runs it, and the result is still the whole package's.
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.24\n")
    (tmp_path / "handler.go").write_text(HANDLER)
    (tmp_path / "forget.go").write_text(FORGET.format(padding="x" * 4000))
    for index in range(2 * SHARD_MIN_FILES):
        (tmp_path / f"f{index}.go").write_text(f"package p\n\nfunc F{index}() {{}}\n")
    targets = [str(tmp_path)]
    expansion = expand(targets, tmp_path, Selection())
    every_rule = LintOptions(jobs=2, shard_bytes=1)
    work = split_work(list(expansion.targets), [every_rule], 2, 1)
    assert [(unit.lead, unit.whole, len(unit.shard or ())) for unit in work] == [
        (True, {"MG004"}, 1), (False, {"MG014"}, 17)]
    assert tmp_path / "forget.go" in (work[0].shard or ())
    assert summary(lint(targets, every_rule)) == summary(lint(targets, replace(
        every_rule, jobs=1, shard_bytes=None)))
    two_rules = replace(every_rule, rules=tuple(rule_for(code) for code in ("MG003", "MG014")))
    work = split_work(list(expansion.targets), [two_rules], 2, 1)
    assert [(unit.lead, unit.whole) for unit in work] == [(True, {"MG014"}), (False, set())]
    assert all(unit.shard for unit in work)
    whole = lint(targets, replace(two_rules, jobs=1, shard_bytes=None))
    assert [f.rule for f in whole.findings] == ["MG003", "MG014"]
    assert summary(lint(targets, two_rules)) == summary(whole)


GETTER = """package p

import "sync"

type Series struct {{
	mu     sync.RWMutex
	labels map[string]string
}}

// {padding}
func (s *Series) Labels() map[string]string {{
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.labels
}}
"""

SETTER = """package p

func (s *Series) Set(k, v string) {
	s.mu.Lock()
	s.labels[k] = v
	s.mu.Unlock()
}
"""


def test_a_getter_in_another_shard_is_reported_once_as_in_the_whole_package(tmp_path: Path
                                                                            ) -> None:
    # MG014 (whole-package) reports the getter MG013 used to report from whichever shard held
    # it: one finding, the whole package's, however the package is split.
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.24\n")
    (tmp_path / "series.go").write_text(GETTER.format(padding="x" * 4000))
    (tmp_path / "setter.go").write_text(SETTER)
    for index in range(2 * SHARD_MIN_FILES):
        (tmp_path / f"f{index}.go").write_text(f"package p\n\nfunc F{index}() {{}}\n")
    targets = [str(tmp_path)]
    for codes in (("MG013", "MG014"), tuple(rule.code for rule in ALL_RULES)):
        options = LintOptions(jobs=2, shard_bytes=1,
                              rules=tuple(rule_for(code) for code in codes))
        whole = lint(targets, replace(options, jobs=1, shard_bytes=None))
        assert [(f.rule, f.path.name, f.line) for f in whole.findings] == [
            ("MG014", "series.go", 14)]
        assert summary(lint(targets, options)) == summary(whole)


# The corpus packages of the rules that analyse the package as a whole, and of following
# calls from handlers and goroutines (MG004, MG005, MG008, MG014's shapes).
CONCURRENCY_FIXTURES = ("mg004", "mg005", "mg008", "mg013")


def test_concurrency_fixtures_split_by_rule_give_the_whole_package_result(tmp_path: Path
                                                                          ) -> None:
    # Each fixture padded with files enough to be split in two: MG004 (and the following of
    # calls) runs in one shard, MG014 in the other, each shard judges the nil checks of its
    # own files (MG005), and their findings, and what following reached, are joined into
    # exactly what the unsplit packages give, with every rule.
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "go.mod").write_text((FIXTURES / "corpus" / "go.mod").read_text())
    copied = 0
    for fixture in sorted((FIXTURES / "corpus").iterdir()):
        if not fixture.is_dir() or not fixture.name.startswith(CONCURRENCY_FIXTURES):
            continue
        shutil.copytree(fixture, root / fixture.name)
        for directory in {path.parent for path in (root / fixture.name).rglob("*.go")}:
            name = next(line.split()[1] for path in sorted(directory.glob("*.go"))
                        if not path.name.endswith("_test.go")
                        for line in path.read_text().splitlines()
                        if line.startswith("package "))
            for index in range(2 * SHARD_MIN_FILES):
                (directory / f"pad{index}.go").write_text(
                    f"package {name}\n\nfunc pad{index}() {{}}\n")
        copied += 1
    assert copied >= 40
    every_rule = LintOptions(jobs=2, shard_bytes=1)
    expansion = expand([f"{root}/..."], root, Selection())
    work = split_work(list(expansion.targets), [every_rule] * len(expansion.targets), 2, 1)
    assert {frozenset(unit.whole or ()) for unit in work if unit.shard is not None} == {
        frozenset({"MG004"}), frozenset({"MG014"})}
    for rules in (every_rule.rules, tuple(rule for rule in ALL_RULES if rule.on_by_default)):
        split = lint([f"{root}/..."], replace(every_rule, rules=rules))
        whole = lint([f"{root}/..."], replace(every_rule, rules=rules, jobs=1,
                                              shard_bytes=None))
        assert len({f.rule for f in whole.findings} & {"MG004", "MG005"}) == 2
        assert summary(split) == summary(whole)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the shards of a package share its parse by fork")
def test_split_packages_parsed_once_per_worker_give_the_whole_package_result(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # With worker processes, a split package's shards go to one worker together, which parses
    # the package once and forks a process per other shard (`_forked_shards`): the joined
    # result is still the whole package's, with the cache or without.
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "go.mod").write_text((FIXTURES / "corpus" / "go.mod").read_text())
    for fixture in sorted((FIXTURES / "corpus").iterdir()):
        if fixture.is_dir() and fixture.name.startswith(("mg004", "mg005")):
            shutil.copytree(fixture, root / fixture.name)
    (root / "p").mkdir()
    (root / "p" / "handler.go").write_text(HANDLER)
    (root / "p" / "forget.go").write_text(FORGET.format(padding="x" * 4000))
    for directory in {path.parent for path in root.rglob("*.go")}:
        name = next(line.split()[1] for path in sorted(directory.glob("*.go"))
                    if not path.name.endswith("_test.go")
                    for line in path.read_text().splitlines() if line.startswith("package "))
        for index in range(2 * SHARD_MIN_FILES):
            (directory / f"pad{index}.go").write_text(f"package {name}\n\nfunc pad{index}() {{}}\n")
    targets = [f"{root}/..."]
    whole = lint(targets, LintOptions(jobs=1))
    assert {f.rule for f in whole.findings} >= {"MG003", "MG004", "MG005", "MG014"}
    groups = forked_groups(monkeypatch)
    split_options = LintOptions(jobs=2, shard_bytes=1)
    assert summary(lint(targets, split_options)) == summary(whole)
    assert len(groups) >= 20 and all(len(group) == 2 for group in groups)
    cached_options = replace(split_options, cache_dir=made_cache(tmp_path / "cache"))
    assert summary(lint(targets, cached_options)) == summary(whole)
    cached = lint(targets, cached_options)
    assert cached.cached_packages and summary(cached) == summary(whole)
    # A forked shard that fails is checked again, from scratch, by the worker that forked it.
    analysed = engine._analysed

    def failing_in_children(unit: engine.Work, *args: object, **kwargs: object
                            ) -> engine._Outcome:
        if not unit.lead and len(args) > 3:
            raise RuntimeError("a forked shard failed")
        return analysed(unit, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "_analysed", failing_in_children)
    assert summary(lint(targets, split_options)) == summary(whole)


HANDLERS = """package dashboard

import (
	"html/template"
	"net/http"
)

var pageTmpl *template.Template

// {padding}
func handleDashboard(w http.ResponseWriter, r *http.Request) {{
	if pageTmpl == nil {{
		pageTmpl = template.Must(template.New("dash").Parse("<h1>ops</h1>"))
	}}
	_ = pageTmpl.Execute(w, nil)
}}
"""

ROUTES = """package dashboard

import (
	"net/http"
	"time"
)

var apiClient *http.Client

// {padding}
func Routes(mux *http.ServeMux) {{
	mux.HandleFunc("/", handleDashboard)
	mux.HandleFunc("/upstream", func(w http.ResponseWriter, r *http.Request) {{
		if apiClient == nil {{
			apiClient = &http.Client{{Timeout: 5 * time.Second}}
		}}
		w.Header().Set("X-Timeout", apiClient.Timeout.String())
	}})
}}
"""


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the shards of a package share its parse by fork")
def test_each_forked_shard_judges_the_nil_checks_of_its_own_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # MG005 is no whole-package rule: with the package's goroutine model built before the
    # fork, the lead and the forked shard each judge the nil checks in their own files, and
    # the joined findings are the whole package's.
    (tmp_path / "go.mod").write_text("module example.com/dashboard\n\ngo 1.24\n")
    (tmp_path / "handlers.go").write_text(HANDLERS.format(padding="x" * 4000))
    (tmp_path / "routes.go").write_text(ROUTES.format(padding="x" * 3500))
    for index in range(2 * SHARD_MIN_FILES):
        (tmp_path / f"pad{index}.go").write_text(f"package dashboard\n\nfunc pad{index}() {{}}\n")
    targets = [str(tmp_path)]
    whole = lint(targets, LintOptions(jobs=1))
    assert [(f.rule, f.path.name) for f in whole.findings] == [
        ("MG005", "handlers.go"), ("MG005", "routes.go")]
    split_options = LintOptions(jobs=2, shard_bytes=1)
    work = split_work(list(expand(targets, tmp_path, Selection()).targets), [split_options], 2, 1)
    assert [(unit.lead, unit.whole) for unit in work] == [(True, {"MG004"}), (False, {"MG014"})]
    assert tmp_path / "handlers.go" in (work[0].shard or ())
    assert tmp_path / "routes.go" in (work[1].shard or ())
    groups = forked_groups(monkeypatch)
    assert summary(lint(targets, split_options)) == summary(whole)
    assert groups == [(0, 1)]  # one worker read the package, and forked the second shard
