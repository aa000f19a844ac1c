"""Escape verdicts from the real compiler for map sites known by construction (fixtures/escape)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mapguard.cli import main
from mapguard.evidence.escape_run import (
    escape_facts_for,
    lookup_escape,
    read_escape_log,
    run_escape_build,
)
from mapguard.evidence.site import Site
from mapguard.formats.escape import AllocKind, EscapeFact, EscapeReport, Verdict
from mapguard.gotool import GoToolchain, run_go

FIXTURE = (Path(__file__).parent.parent / "fixtures" / "escape").resolve()
SOURCE = FIXTURE / "sites.go"

pytestmark = pytest.mark.slow


def _marked(name: str) -> tuple[int, str]:
    """Line number and text of the line marked `// site: NAME`."""
    for number, text in enumerate(SOURCE.read_text().splitlines(), 1):
        if text.rstrip().endswith(f"// site: {name}"):
            return number, text
    raise AssertionError(f"no site {name}")


def _column(text: str, token: str, offset: int = 0) -> int:
    """1-based byte column of `token` in the line, plus `offset`."""
    return text.encode().index(token.encode()) + 1 + offset


# (site, column of the compiler's position, verdict, kind). The compiler places `make(...)` at
# its parenthesis, a map literal at its brace and a variable at its name.
EXPECTED = {
    "stack": ("make(", 4, Verdict.STACK, AllocKind.MAKE_MAP, "countLocal"),
    "returned": ("make(", 4, Verdict.HEAP, AllocKind.MAKE_MAP, "buildIndex"),
    "address": ("{", 0, Verdict.HEAP, AllocKind.MAP_LITERAL, "publish"),
    "closure": ("make(", 4, Verdict.HEAP, AllocKind.MAKE_MAP, "background"),
}


@pytest.fixture(scope="session")
def m2_report(go_toolchain: GoToolchain) -> EscapeReport:
    return run_escape_build(["./..."], FIXTURE, toolchain=go_toolchain)


def _fact(report: EscapeReport, line: int, column: int) -> EscapeFact:
    found = [f for f in report.facts if (f.position.line, f.position.column) == (line, column)]
    assert len(found) == 1, [str(f.position) for f in report.facts]
    return found[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_map_site_verdicts(m2_report: EscapeReport, name: str) -> None:
    token, offset, verdict, kind, function = EXPECTED[name]
    line, text = _marked(name)
    fact = _fact(m2_report, line, _column(text, token, offset))
    assert fact.position.file == str(SOURCE)
    assert (fact.verdict, fact.kind, fact.function) == (verdict, kind, function)
    assert bool(fact.flows) == (verdict is not Verdict.STACK)


def test_why_names_the_escape(m2_report: EscapeReport) -> None:
    returned = _fact(m2_report, *_at("returned", "make(", 4))
    assert returned.flows[-1].steps[-1].why == "return"
    closure = _fact(m2_report, *_at("closure", "make(", 4))
    assert any(step.why == "captured by a closure" for step in closure.flows[-1].steps)


def test_address_taken_map_is_moved_to_heap(m2_report: EscapeReport) -> None:
    line, text = _marked("address")
    moved = _fact(m2_report, line, _column(text, "table"))
    assert (moved.expr, moved.verdict, moved.kind) == ("table", Verdict.MOVED,
                                                       AllocKind.MAP_VARIABLE)
    assert moved.flows[0].steps[0].why == "address-of"


def _at(name: str, token: str, offset: int) -> tuple[int, int]:
    line, text = _marked(name)
    return line, _column(text, token, offset)


def test_m1_and_json_outputs_agree_with_m2(go_toolchain: GoToolchain, tmp_path: Path,
                                          m2_report: EscapeReport) -> None:
    m1 = run_go(["build", "-gcflags=-m", "-o", str(tmp_path / "bin"), "."], cwd=FIXTURE,
                toolchain=go_toolchain)
    log = tmp_path / "build.log"
    log.write_text(m1.stderr)
    from_m1 = read_escape_log(log, FIXTURE)
    expected = {(str(f.position), f.verdict) for f in m2_report.map_sites()}
    assert {(str(f.position), f.verdict) for f in from_m1.map_sites()} == expected
    assert all(not f.flows for f in from_m1.facts)

    json_dir = tmp_path / "json"
    proc = run_go(["build", f"-gcflags=-json=0,file://{json_dir}", "-o", str(tmp_path / "bin2"),
                   "."], cwd=FIXTURE, toolchain=go_toolchain)
    assert proc.returncode == 0, proc.stderr
    from_json = read_escape_log(json_dir, FIXTURE)
    # JSON reports only what reaches the heap.
    escaping = {item for item in expected if item[1] is not Verdict.STACK}
    assert {(str(f.position), f.verdict) for f in from_json.map_sites()} == escaping


def test_escape_facts_for_joins_by_site(go_toolchain: GoToolchain) -> None:
    facts = escape_facts_for([FIXTURE], toolchain=go_toolchain)
    line, text = _marked("returned")
    site = Site(str(SOURCE), line, _column(text, "make(", 4))
    assert facts[site].verdict is Verdict.HEAP
    # A finding that places the literal at `map` (where a syntax tree starts it) still joins.
    line, text = _marked("address")
    literal = lookup_escape(facts, Site(str(SOURCE), line, _column(text, "map["), "publish"))
    assert literal is not None and literal.kind is AllocKind.MAP_LITERAL
    assert all(key.function is None for key in facts)
    assert {fact.kind.is_map for fact in facts.values()} == {True}


def test_cli_json_and_text(go_toolchain: GoToolchain, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["escape", str(FIXTURE), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["version"] == 1
    verdicts = sorted(site["verdict"] for site in document["sites"])
    assert verdicts == ["heap", "heap", "heap", "moved-to-heap", "stack"]
    assert main(["escape", str(FIXTURE), "--all"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"map\[string\]bool\)\s.*stack", text)
    assert "leaking parameters" in text


def test_broken_package_is_a_tool_error(tmp_path: Path, go_toolchain: GoToolchain,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_text("module example.com/broken\n\ngo 1.22\n")
    (tmp_path / "main.go").write_text("package main\n\nfunc main() { undefinedThing() }\n")
    assert main(["escape", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "undefined: undefinedThing" in err


def test_unreadable_build_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "build.log"
    log.write_bytes(b"\x00\x01\x02 not text")
    assert main(["escape", "--from", str(log)]) == 2
    (tmp_path / "empty.log").write_text("ok\n")
    assert main(["escape", "--from", str(tmp_path / "empty.log")]) == 2
    assert main(["escape", "--from", str(tmp_path / "missing.log")]) == 2
    assert len(capsys.readouterr().err.splitlines()) == 3


def test_partial_build_shows_what_compiled(tmp_path: Path, go_toolchain: GoToolchain,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "go.mod").write_text("module example.com/partial\n\ngo 1.22\n")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "good.go").write_text(
        "package good\n\nfunc Index() map[string]int { return make(map[string]int) }\n")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "bad.go").write_text("package bad\n\nfunc F() { undefinedThing() }\n")
    assert main(["escape", str(tmp_path), "--format", "json"]) == 2
    captured = capsys.readouterr()
    (site,) = json.loads(captured.out)["sites"]
    assert (site["file"], site["line"], site["verdict"]) == (
        str(tmp_path / "good" / "good.go"), 3, "heap")
    assert captured.err.count("\n") == 1 and "undefined: undefinedThing" in captured.err
