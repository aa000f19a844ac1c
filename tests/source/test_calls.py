"""The cheap look before the search for a function handed to a sync.Once changes no answer,
and neither does judging call sites as they are found (runs_under_once)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mapguard.gotool import GoToolchain
from mapguard.goversion import GO_1_21
from mapguard.source.calls import (
    _CLOSING,
    _ONCE_CALL_BEFORE,
    _ONCE_CALL_LAST,
    call_sites,
    run_by_once,
    runs_under_once,
)
from mapguard.source.discover import Selection, expand, read_target
from mapguard.source.loader import VersionChoice, load_packages
from mapguard.source.package import GoFile, Package
from mapguard.source.parser import parse_go
from mapguard.source.typeinfo import TypeInfo, word_hits

PIECES = st.sampled_from(["once.Do(", "sync.OnceFunc(", "sync.OnceValue[int](", "OnceValues(",
                          "x.", "s.cfg.", "(", ".", " ", "\t", "\n", "\r", "\v", "\f", "a",
                          "_", "9", "Do", ")", "[", "]", "é"])


@given(st.lists(PIECES, max_size=8))
@settings(max_examples=400, deadline=None)
def test_the_byte_before_the_name_rules_out_only_what_the_search_would(pieces: list[str]
                                                                      ) -> None:
    before = "".join(pieces).encode()
    if before[-1:] not in _ONCE_CALL_LAST:
        assert _ONCE_CALL_BEFORE.search(before, max(0, len(before) - 120), len(before)) is None


HANDING = st.sampled_from(["once.Do(", "sync.OnceFunc(", "sync.OnceValue[int](", "OnceValues(",
                           ".Do(", "x.", "s.cfg.", "f", "g", "f)", "g )", ")", "(", " ", "\n",
                           "\t", "a", "_", "9", "[", "]", " " * 130])


def _named_as_handed(source: bytes, name: str) -> bool:
    """run_by_once's definition, name by name: an occurrence of the name that reads as handed
    to a Once (the package calls `.Do(` somewhere)."""
    return b".Do(" in source and any(
        source[start - 1:start] in _ONCE_CALL_LAST
        and _ONCE_CALL_BEFORE.search(source, max(0, start - 120), start) is not None
        and _CLOSING.match(source, end) is not None
        for start, end in word_hits(source, name))


@given(st.lists(HANDING, max_size=12))
@example(["once.Do(", " " * 130, "f)"])  # the name too far from the call: not handed
@example(["x.", "OnceFunc(", "f)", ".Do("])
@example(["once.Do(", "x.", "\n", "f)"])  # a selector broken after its dot: handed
@example(["once.Do(", "x.", "\n", "\t", "f)"])
@settings(max_examples=400, deadline=None)
def test_names_read_from_the_once_calls_are_those_found_name_by_name(pieces: list[str]) -> None:
    # run_by_once reads every name handed to a Once from the calls, once per package; each
    # answer is the one a search of the package for that name gives.
    source = "".join(pieces).encode()
    package = Package(Path("/p"), "p", [GoFile(Path("/p/p.go"), source, parse_go(source), "p",
                                               {})], None, GO_1_21, "flag")
    for name in {"f", "g", "x", "s", "cfg", "a", "Do", "OnceFunc", "_", "9"}:
        assert run_by_once(package, name) == _named_as_handed(source, name), name


ONCE_PACKAGE = {
    "once.go": """package p

import "sync"

type T struct {
	once sync.Once
	m    map[string]int
}

func (t *T) init() { t.m = map[string]int{} }

func (t *T) setup() { t.init() }

func (t *T) Get() int {
	t.once.Do(func() { t.setup() })
	return len(t.m)
}

func helper() {}

func viaHelper() { helper() }

func Run() {
	var once sync.Once
	once.Do(viaHelper)
	once.Do(func() { helper() })
}

func shared() {}

func Twice() {
	var once sync.Once
	once.Do(func() { shared() })
	shared()
}

func valued() {}

func Hand() func() {
	var once sync.Once
	once.Do(func() { valued() })
	return valued
}

func cycleA() { cycleB() }

func cycleB() { cycleA() }
""",
    "once_test.go": """package p

import "testing"

func TestInit(t *testing.T) {
	var v T
	v.init()
	helper()
}
""",
}


def _package(directory: Path) -> Package:
    found = read_target(expand([str(directory)], directory, Selection()).targets[0],
                        Selection())[0]
    assert found is not None
    packages, errors = load_packages(found, lambda _module: VersionChoice(GO_1_21, "flag"))
    assert not errors
    return next(p for p in packages if not p.name.endswith("_test"))


def _verdicts(package: Package, *, sites_first: bool) -> dict[str, bool]:
    info = TypeInfo(package)
    functions = sorted(package.all_functions(), key=lambda f: (f.receiver_type or "", f.name))
    if sites_first:  # every call site known before: runs_under_once only reads them
        for function in functions:
            call_sites(package, info, function)
    return {f"{function.receiver_type or ''}.{function.name}":
            runs_under_once(package, info, function)
            for function in functions}


@pytest.mark.parametrize("where", ["fixture", "mime", "crypto/x509", "time"])
def test_once_verdicts_found_while_searching_equal_those_from_all_call_sites(
    where: str, tmp_path: Path, go_toolchain: GoToolchain
) -> None:
    # runs_under_once judges call sites as the search finds them and stops at the first
    # that settles it; the verdicts are those of judging the full list of call sites.
    if where == "fixture":
        for name, text in ONCE_PACKAGE.items():
            (tmp_path / name).write_text(text)
        directory = tmp_path
    else:
        directory = go_toolchain.goroot / "src" / where
    searching = _verdicts(_package(directory), sites_first=False)
    listed = _verdicts(_package(directory), sites_first=True)
    assert searching == listed
    if where == "fixture":
        # T.init and helper are also called by a test, valued is used as a value.
        assert {name for name, under in searching.items() if under} == {
            "T.setup", ".viaHelper"}
