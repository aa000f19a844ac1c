"""_test.go files that no selected rule reports in are read lazily (`engine._read_lazily`):
parsed only when an analysis asks about their syntax or enumerates the package's declarations.
What the rules find must be exactly what they find with every file parsed up front."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain
from mapguard.lint import engine
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import select_rules
from mapguard.lint.results import LintResult
from mapguard.lint.rule import Rule
from mapguard.source.discover import PackageDir, SourceFile
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.package import package_clause_by_text

from .corpus import FIXTURES


def summary(result: LintResult) -> tuple[object, ...]:
    return (result.findings, result.errors, result.files, result.versions, result.notes)


# The rules on by default and the speed advice off by default (MG001 looks for the uses of a
# field in every file, test files included): none of them reports in a test file without its
# marker, so test files are read lazily under them.
RULES = select_rules(None, [], extend=["MG001", "MG002", "MG010"])


def _counted(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the run reads lazily, as they are chosen."""
    chosen: list[Path] = []
    decide_for = engine._read_lazily

    def counting(rules: Sequence[Rule], options: LintOptions) -> Callable[[Path, bytes], bool]:
        decide = decide_for(rules, options)

        def lazily(path: Path, source: bytes) -> bool:
            if decide(path, source):
                chosen.append(path)
                return True
            return False
        return lazily
    monkeypatch.setattr(engine, "_read_lazily", counting)
    return chosen


def _eagerly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "_read_lazily", lambda _rules, _options: (
        lambda _path, _source: False))


def test_the_corpus_gives_the_same_findings_read_lazily_or_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = FIXTURES / "corpus"  # its test files: a handler's test, a pool's benchmark...
    options = LintOptions(rules=RULES, jobs=1)
    chosen = _counted(monkeypatch)
    lazily = lint([f"{corpus}/..."], options, cwd=corpus)
    assert lazily.findings and chosen
    _eagerly(monkeypatch)
    assert summary(lint([f"{corpus}/..."], options, cwd=corpus)) == summary(lazily)


@pytest.mark.slow
def test_the_standard_library_gives_the_same_findings_read_lazily_or_not(
        go_toolchain: GoToolchain, monkeypatch: pytest.MonkeyPatch) -> None:
    # Large packages with many test files, handlers, goroutines and locks, split across two
    # workers as a run on two cores splits them.
    src = go_toolchain.goroot / "src"
    targets = [str(src / package) for package in (
        "net/http", "syscall", "internal/trace/traceviewer", "internal/profile",
        "cmd/go/internal/modload", "sync", "runtime/pprof", "expvar")]
    options = LintOptions(rules=RULES, jobs=1)
    chosen = _counted(monkeypatch)  # counted in this process: one job
    lazily = lint(targets, options, cwd=src)
    assert len({finding.rule for finding in lazily.findings}) >= 3 and len(chosen) >= 50
    split = LintOptions(rules=RULES, jobs=2, shard_bytes=400_000)
    assert summary(lint(targets, split, cwd=src)) == summary(lazily)
    _eagerly(monkeypatch)
    assert summary(lint(targets, split, cwd=src)) == summary(lazily)


HELPER_TEST = b"""package p

import "testing"

type fixture struct{ m map[string]int }

func newFixture() *fixture { return &fixture{m: map[string]int{}} }

func TestX(t *testing.T) { _ = newFixture() }
"""

CODE = b"""package p

func Run() map[string]int { return map[string]int{} }
"""


def _load(tmp_path: Path, files: dict[str, bytes]) -> tuple[list, list]:
    sources = tuple(SourceFile(tmp_path / name, text) for name, text in files.items())
    return load_packages(PackageDir(tmp_path, sources),
                         lambda _module: VersionChoice(engine.NEWEST_KNOWN, "default"),
                         lazily=lambda path, _source: path.name.endswith("_test.go"))


def test_a_test_file_read_lazily_is_parsed_only_when_its_declarations_are_enumerated(
        tmp_path: Path) -> None:
    packages, errors = _load(tmp_path, {"p.go": CODE, "p_test.go": HELPER_TEST})
    assert not errors and [p.name for p in packages] == ["p"]
    package = packages[0]
    test_file = next(f for f in package.files if f.is_test)
    # A look-up by name, as code of the package's other files makes, leaves it unparsed: such
    # code cannot name what a test file declares.
    assert package.func_named("Run") is not None
    assert package.func_named("newFixture") is None and not test_file.parsed
    # An enumeration is of everything declared.
    assert set(package.funcs) == {"Run", "newFixture", "TestX"}
    assert test_file.parsed and package.func_named("newFixture") is not None
    assert package.type_named("fixture") is not None


def test_declarations_outside_tests_are_listed_without_parsing_test_files(
        tmp_path: Path) -> None:
    # What passes test code over (gRPC services, locking wrappers) lists the package's other
    # declarations; the test files read lazily stay unparsed.
    packages, _errors = _load(tmp_path, {"p.go": CODE, "p_test.go": HELPER_TEST})
    package = packages[0]
    assert [decl.name for decl in package.funcs_outside_tests()] == ["Run"]
    assert package.types_outside_tests() == []
    assert not next(f for f in package.files if f.is_test).parsed
    # A file read lazily that is not a test file would declare for everyone: it is parsed.
    sources = (SourceFile(tmp_path / "p.go", CODE), SourceFile(tmp_path / "q.go",
                                                              b"package p\n\ntype Q int\n"))
    packages, _errors = load_packages(
        PackageDir(tmp_path, sources), lambda _module: VersionChoice(engine.NEWEST_KNOWN, "x"),
        lazily=lambda path, _source: path.name == "q.go")
    assert [decl.name for decl in packages[0].types_outside_tests()] == ["Q"]


def test_parsing_one_test_file_read_lazily_adds_every_test_files_declarations(
        tmp_path: Path) -> None:
    packages, _errors = _load(tmp_path, {"p.go": CODE, "a_test.go": HELPER_TEST,
                                         "b_test.go": b"package p\n\nfunc helper() {}\n"})
    package = packages[0]
    assert package.func_named("Run") is not None  # the table is built, without tests
    first = next(f for f in package.files if f.path.name == "a_test.go")
    # An analysis asks about a place in a test file: it reads test code, which can name what
    # any test file declares.
    assert first.node_at(0, 7) is not None
    assert package.func_named("helper") is not None
    assert all(f.parsed for f in package.files)


def test_a_syntax_error_in_a_test_file_read_lazily_is_reported_once_it_is_parsed(
        tmp_path: Path) -> None:
    broken = b"package p\n\nfunc helper( {\n}\n"
    packages, errors = _load(tmp_path, {"p.go": CODE, "p_test.go": broken})
    assert errors == []  # nothing has asked about it yet
    package = packages[0]
    assert "helper" not in package.funcs  # the enumeration parsed it: it declares nothing
    assert [(e.path.name, e.message.split(":")[0]) for e in errors] == [
        ("p_test.go", "syntax error at 3")]


def test_a_test_file_a_selected_rule_reports_in_is_parsed_up_front(tmp_path: Path) -> None:
    # MG009 reports `//go:linkname` pulls of runtime map internals, in tests too: a test file
    # holding its marker is parsed with the rest, and its syntax error reported as before.
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    (tmp_path / "p.go").write_bytes(CODE)
    (tmp_path / "p_test.go").write_bytes(
        b"package p\n\nimport _ \"unsafe\"\n\n//go:linkname h runtime.mapaccess1\nfunc h( {\n")
    (tmp_path / "q_test.go").write_bytes(b"package p\n\nfunc other( {\n")
    result = lint(["./..."], LintOptions(rules=select_rules(None, []), jobs=1), cwd=tmp_path)
    # q_test.go holds no marker of a rule reporting in tests, and nothing needed its syntax:
    # like a body nothing needed, its syntax error is not reported (docs/lint.md).
    assert [error.path.name for error in result.errors] == ["p_test.go"]


@pytest.mark.parametrize(("text", "name"), [
    (b"package p\n", "p"),
    (b"\xef\xbb\xbfpackage bom_1\n", "bom_1"),
    (b"//go:build linux\n\n// Package doc.\n/* block\npackage not_this */\npackage real\n",
     "real"),
    (b"package\tp_test // comment\n", "p_test"),
    (b"package caf\xc3\xa9\n", None),  # not ASCII: the file is parsed to read it
    (b"// no clause\nfunc f() {}\n", None),
])
def test_the_package_clause_is_read_from_the_text(text: bytes, name: str | None) -> None:
    assert package_clause_by_text(text) == name
