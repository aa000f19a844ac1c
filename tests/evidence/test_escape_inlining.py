"""Escape facts for generic named map types, for functions that allocate the same expression
twice and are inlined (nested, too), and for stack maps that still grow onto the heap: the real
compiler on fixtures/escape_inlining, sites known by their `// site:` markers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.evidence.escape_run import run_escape_build
from mapguard.formats.escape import AllocKind, EscapeFact, EscapeReport, Verdict
from mapguard.gotool import GoToolchain

pytestmark = pytest.mark.slow

FIXTURE = (Path(__file__).parent.parent / "fixtures" / "escape_inlining").resolve()
SOURCE = FIXTURE / "main.go"


def _line(name: str) -> int:
    for number, text in enumerate(SOURCE.read_text().splitlines(), 1):
        if text.rstrip().endswith(f"// site: {name}"):
            return number
    raise AssertionError(f"no site {name}")


@pytest.fixture(scope="module")
def report(go_toolchain: GoToolchain) -> EscapeReport:
    return run_escape_build(["./..."], FIXTURE, toolchain=go_toolchain)


def _site(report: EscapeReport, name: str) -> EscapeFact:
    found = [fact for fact in report.map_sites() if fact.position.line == _line(name)
             and fact.inlined_from is None]
    assert len(found) == 1, [(str(f.position), f.expr) for f in report.map_sites()]
    return found[0]


def test_generic_named_map_types_are_map_sites(report: EscapeReport) -> None:
    generic = _site(report, "generic")
    assert generic.kind is AllocKind.MAKE_MAP and generic.verdict is Verdict.HEAP
    local = _site(report, "generic-local")
    assert local.kind is AllocKind.MAKE_MAP and local.verdict is Verdict.STACK


def test_each_inlined_copy_is_listed_once_under_its_own_origin(report: EscapeReport) -> None:
    first, second = _site(report, "pair-first"), _site(report, "pair-second")
    calls = [_line(name) for name in ("call-outer", "call-main", "call-nested")]
    for origin in (first, second):
        assert sorted(copy.position.line for copy in origin.inlined_copies) == sorted(calls)
    # `a` stays local wherever pair is inlined; `b` is returned out of outer and main's copy.
    by_line = {copy.position.line: copy.verdict for copy in second.inlined_copies}
    assert by_line[_line("call-outer")] is Verdict.HEAP
    assert by_line[_line("call-nested")] is Verdict.HEAP
    assert {copy.verdict for copy in first.inlined_copies} == {Verdict.STACK}
    # A later function allocating the same expression is not taken for pair's origin: its
    # only copy is where main inlines it.
    assert {copy.position.line for copy in _site(report, "later").inlined_copies} == {
        _line("call-later")}
    every_copy = [(str(copy.position), origin.expr, origin.position.line)
                  for origin in report.map_sites() for copy in origin.inlined_copies]
    assert len(every_copy) == len(set(every_copy))
    assert not [fact for fact in report.map_sites() if fact.inlined_from is not None]


def test_stack_maps_that_can_grow_say_so(report: EscapeReport) -> None:
    assert _site(report, "grows").verdict is Verdict.STACK
    assert _site(report, "grows").grows_on_heap
    assert _site(report, "generic-local").grows_on_heap  # a size hint that is not a constant
    assert not _site(report, "small").grows_on_heap  # one entry, never written


def test_cli_marks_growing_stack_maps(go_toolchain: GoToolchain,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escape", str(FIXTURE), "--format", "json"]) == 0
    sites = {site["line"]: site for site in json.loads(capsys.readouterr().out)["sites"]}
    assert sites[_line("grows")]["grows_on_heap"] is True
    assert sites[_line("small")]["grows_on_heap"] is False
    assert main(["escape", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "can grow onto the heap" in out and "stack*" in out
    assert f"main.go:{_line('call-nested')}:" in out  # every copy listed, none cut
