"""Markers are searched where the rules look (`engine._marker_searches`): a rule that reports
nothing in _test.go files is not run on a package whose only marker of it is in a test file,
and calls are followed only where code outside tests starts goroutines or handles requests.
What the rules find must be exactly what they find with every marker searched in all files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain
from mapguard.lint import engine
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import select_rules
from mapguard.lint.results import LintResult
from mapguard.source.discover import PackageDir, SourceFile

from .corpus import FIXTURES

EVERY_RULE = select_rules(None, [], extend=["MG001", "MG002", "MG008", "MG010", "MG013",
                                            "MG014"])


def summary(result: LintResult) -> tuple[object, ...]:
    return (result.findings, result.errors, result.files, result.versions, result.notes)


def _whole_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every marker and context searched in all the package's files, test files included."""
    def searches(files: Sequence[SourceFile]) -> tuple[bytes, engine.Holds, engine.Holds]:
        text = b"\0".join(f.content for f in files)
        holds = engine._memoised_search(text)
        return text, holds, holds
    monkeypatch.setattr(engine, "_marker_searches", searches)


@pytest.mark.parametrize("advice_everywhere", [False, True])
def test_the_corpus_gives_the_same_findings_with_markers_searched_in_every_file(
        monkeypatch: pytest.MonkeyPatch, advice_everywhere: bool) -> None:
    corpus = FIXTURES / "corpus"
    options = LintOptions(rules=EVERY_RULE, jobs=1, advice_everywhere=advice_everywhere)
    where_rules_look = lint([f"{corpus}/..."], options, cwd=corpus)
    assert where_rules_look.findings
    _whole_text(monkeypatch)
    assert summary(lint([f"{corpus}/..."], options, cwd=corpus)) == summary(where_rules_look)


@pytest.mark.slow
def test_the_standard_library_gives_the_same_findings_with_markers_searched_in_every_file(
        go_toolchain: GoToolchain, monkeypatch: pytest.MonkeyPatch) -> None:
    src = go_toolchain.goroot / "src"
    targets = [str(src / package) for package in (
        "net/http", "syscall", "internal/trace/traceviewer", "cmd/go/internal/modload",
        "sync", "runtime/pprof", "expvar", "database/sql", "reflect", "go/types")]
    options = LintOptions(rules=EVERY_RULE, jobs=2, shard_bytes=400_000)
    where_rules_look = lint(targets, options, cwd=src)
    assert len({finding.rule for finding in where_rules_look.findings}) >= 3
    _whole_text(monkeypatch)
    assert summary(lint(targets, options, cwd=src)) == summary(where_rules_look)


def test_a_marker_only_a_test_file_holds_runs_only_the_rules_that_report_in_tests(
        tmp_path: Path) -> None:
    code = SourceFile(tmp_path / "p.go", b"package p\n\nvar m = map[string]int{}\n")
    test = SourceFile(tmp_path / "p_test.go", b"package p\n\nimport \"testing\"\n\n"
                      b"func TestX(t *testing.T) {\n\tgo func() {}()\n\tfor k := range m {\n"
                      b"\t\tdelete(m, k)\n\t}\n}\n")
    package_dir = PackageDir(tmp_path, (code, test))
    default = engine._load(package_dir, LintOptions(rules=EVERY_RULE), None, lead=True,
                           whole=frozenset())
    asked = engine._load(package_dir, LintOptions(rules=EVERY_RULE, advice_everywhere=True),
                         None, lead=True, whole=frozenset())
    # The delete loop and the goroutine are in the test: MG003 (speed advice) and MG004,
    # MG005 (races: `go test -race` judges tests) have nothing to look at, and no call is
    # followed; asked for advice in tests too, MG003 runs.
    assert {"MG003", "MG004", "MG005"}.isdisjoint(rule.code for rule in default.rules)
    assert default.following == frozenset()
    assert "MG003" in {rule.code for rule in asked.rules}
