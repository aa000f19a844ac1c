"""Files read by name (`Package._unread`): a call followed into a package (`modulewide.visit_unit`)
parses only the files whose text mentions a name it looks up. What a look-up or a listing
answers must be exactly what a package parsed file by file answers, build-tag twins included:
the first declaration in file order wins, whatever order the files were parsed in."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from mapguard.gotool import GoToolchain
from mapguard.goversion import NEWEST_KNOWN
from mapguard.lint import engine, modulewide
from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import select_rules
from mapguard.lint.results import DirResult
from mapguard.source.discover import PackageDir, SourceFile
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.package import FuncDecl, Package, TypeDecl, VarDecl

from ..lint.corpus import FIXTURES

# Twins for two platforms (both are read: mapguard analyses every platform at once), and a
# file that mentions neither twin.
FILES = {
    "a_linux.go": b"""package p

func F() int { return 1 }

type T struct{ a int }

var V, W = 1, 2

func (T) M() int { return 1 }
""",
    "b.go": b"""package p

func G() int { return F() }
""",
    "c_other.go": b"""//go:build !linux

package p

func F() int { return 2 }

func H() {}

type T struct{ c int }

var V, W = 3, 4

func (T) M() int { return 2 }
""",
}


def _load(directory: Path, files: dict[str, bytes], *, by_name: bool) -> Package:
    sources = tuple(SourceFile(directory / name, text) for name, text in sorted(files.items()))
    packages, errors = load_packages(
        PackageDir(directory, sources), lambda _module: VersionChoice(NEWEST_KNOWN, "default"),
        (), lazily=(lambda _path, _source: True) if by_name else None)
    assert not errors
    # The directory's package (beside it, generators of `package main` kept out by a tag).
    return max(packages, key=lambda package: len(package.files))


def _parsed(package: Package) -> list[str]:
    return sorted(f.path.name for f in package.files if f.parsed)


def _where(decl: FuncDecl | TypeDecl | VarDecl | None) -> tuple[str, int] | None:
    return None if decl is None else (decl.file.path.name, decl.node.start_byte)


def test_a_look_up_parses_only_the_files_that_mention_the_name(tmp_path: Path) -> None:
    package = _load(tmp_path, FILES, by_name=True)
    assert _parsed(package) == []
    assert _where(package.func_named("H")) is not None
    assert _parsed(package) == ["c_other.go"]
    assert package.func_named("Nothing") is None
    assert _parsed(package) == ["c_other.go"]  # no file mentions it


def test_the_first_twin_in_file_order_wins_whatever_was_parsed_first(tmp_path: Path) -> None:
    eager = _load(tmp_path, FILES, by_name=False)
    package = _load(tmp_path, FILES, by_name=True)
    package.func_named("H")  # parses c_other.go, with its twins of F, T, V, W and M, first
    assert _where(package.func_named("F")) == _where(eager.func_named("F"))
    assert package.func_named("F").file.path.name == "a_linux.go"  # type: ignore[union-attr]
    assert _where(package.type_named("T")) == _where(eager.type_named("T"))
    assert [_where(d) for d in package.type_variants("T")] == [
        _where(d) for d in eager.type_variants("T")]
    assert _where(package.method("T", "M")) == _where(eager.method("T", "M"))
    assert [_where(d) for d in package.functions_named("M") or []] == [
        _where(d) for d in eager.functions_named("M") or []]
    # W was built with V from c_other.go's spec before a_linux.go was read.
    assert _where(package.var_named("V")) == _where(eager.var_named("V"))
    assert _where(package.var_named("W")) == _where(eager.var_named("W"))


def test_a_listing_is_in_the_order_a_package_parsed_file_by_file_gives(tmp_path: Path) -> None:
    eager = _load(tmp_path, FILES, by_name=False)
    package = _load(tmp_path, FILES, by_name=True)
    package.func_named("H")
    package.var_named("W")
    assert _listing(package) == _listing(eager)
    assert _parsed(package) == sorted(FILES)


def _listing(package: Package) -> tuple[object, ...]:
    return (
        [(name, _where(decl)) for name, decl in package.funcs.items()],
        [(name, _where(decl)) for name, decl in package.types.items()],
        [(receiver, [(name, _where(decl)) for name, decl in by_name.items()])
         for receiver, by_name in package.methods.items()],
        [(name, _where(package.vars[name])) for name in package.vars],
    )


@pytest.mark.slow
@pytest.mark.parametrize("relative", ["runtime", "syscall", "os", "net", "internal/poll"])
def test_standard_library_packages_answer_every_look_up_as_when_parsed_file_by_file(
        go_toolchain: GoToolchain, relative: str) -> None:
    # Packages with many twins per platform; every name they declare is looked up, in a
    # shuffled order, then everything is listed.
    directory = go_toolchain.goroot / "src" / relative
    files = {path.name: path.read_bytes() for path in sorted(directory.glob("*.go"))
             if not path.name.endswith("_test.go")}
    eager = _load(directory, files, by_name=False)
    package = _load(directory, files, by_name=True)
    names = sorted({*eager.funcs, *eager.types, *eager.vars})
    methods = sorted((receiver, name) for receiver, by_name in eager.methods.items()
                     for name in by_name)
    assert len(names) > 100 and methods
    questions: list[tuple[str, ...]] = [(name,) for name in names] + list(methods)
    random.Random(len(questions)).shuffle(questions)
    for question in questions:
        if len(question) == 2:
            receiver, name = question
            assert _where(package.method(receiver, name)) == _where(eager.method(receiver, name))
            continue
        (name,) = question
        assert _where(package.func_named(name)) == _where(eager.func_named(name)), name
        assert _where(package.type_named(name)) == _where(eager.type_named(name)), name
        assert _where(package.var_named(name)) == _where(eager.var_named(name)), name
        assert [_where(d) for d in package.type_variants(name)] == [
            _where(d) for d in eager.type_variants(name)]
        assert [_where(d) for d in package.functions_named(name) or []] == [
            _where(d) for d in eager.functions_named(name) or []]
    assert _listing(package) == _listing(eager)


RULES = select_rules(None, [], extend=["MG008", "MG014"])


def test_module_wide_following_finds_the_same_reading_by_name_or_not(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The corpus holds modules whose handlers call into their other packages.
    corpus = FIXTURES / "corpus"
    options = LintOptions(rules=RULES, jobs=1)
    visited: list[Path] = []
    real_visit = modulewide.visit_unit

    def counting(unit: modulewide.Unit, *args: Any, **kwargs: Any
                 ) -> tuple[str | None, DirResult, bool]:
        visited.append(unit.target.directory)
        return real_visit(unit, *args, **kwargs)

    monkeypatch.setattr(engine, "visit_unit", counting)
    by_name = lint([f"{corpus}/..."], options, cwd=corpus)
    assert len(set(visited)) >= 3
    assert {f.rule for f in by_name.findings} >= {"MG004", "MG005", "MG008", "MG014"}
    monkeypatch.setattr(modulewide, "_read_by_name", lambda _path, _source: False)
    assert lint([f"{corpus}/..."], options, cwd=corpus).findings == by_name.findings
