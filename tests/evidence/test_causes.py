"""The cause chain: growth sites linked to the creation that sized their map, with advice and
the lint rule that reports the creation. Profiles are built field by field over real Go files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.pprof_samples import HEAP_TYPES, Stack, build

from mapguard.cli import main
from mapguard.evidence.attribution import attribute_profile
from mapguard.evidence.causes import Cause, cause_chain
from mapguard.evidence.sourcetree import SourceFiles
from mapguard.formats.pprof import parse_profile

GO = """package p

type Store struct {
	index map[string]int
}

func NewStore() *Store {
	return &Store{index: make(map[string]int)}
}

func (s *Store) Add(key string) {
	s.index[key] = len(key)
}

func byName(names []string) map[string]int {
	m := map[string]int{}
	for i, name := range names {
		m[name] = i
	}
	return m
}

func batches(all [][]string) int {
	total := 0
	var seen map[string]bool
	for _, batch := range all {
		seen = make(map[string]bool)
		for _, name := range batch {
			seen[name] = true
		}
		total += len(seen)
	}
	return total
}

func fill(m map[int]int, n int) {
	for i := 0; i < n; i++ {
		m[i] = i
	}
}

func count(words []string) int {
	counts := make(map[string]int, 4)
	for _, w := range words {
		counts[w]++
	}
	return len(counts)
}
"""


def _line(text: str) -> int:
    return next(n for n, line in enumerate(GO.splitlines(), 1) if text in line)


GROWTH = {  # function -> the insert line
    "example.com/p.(*Store).Add": _line("s.index[key]"),
    "example.com/p.byName": _line("m[name] = i"),
    "example.com/p.batches": _line("seen[name] = true"),
    "example.com/p.fill": _line("m[i] = i"),
    "example.com/p.count": _line("counts[w]++"),
}


@pytest.fixture
def causes(tmp_path: Path) -> dict[str, Cause]:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    (tmp_path / "p.go").write_text(GO)
    file = "/build/ci/p/p.go"
    stacks = [Stack([(function, file, line, 0x1000 + 16 * i)], [3, 1152 + 2304 + 4608, 0, 0],
                    4608)
              for i, (function, line) in enumerate(GROWTH.items())]
    data = build(HEAP_TYPES, stacks, default="alloc_space")
    sources = SourceFiles(tmp_path)
    result = attribute_profile(parse_profile(data, "p.pb.gz"), sources)
    assert {cost.op for cost in result.sites} == {"grow"}
    found = cause_chain(result, sources, top=10)
    return {cause.growth.site.function or "": cause for cause in found}


def test_unsized_literal_in_the_same_function(causes: dict[str, Cause]) -> None:
    cause = causes["example.com/p.byName"]
    assert cause.creation is not None and cause.creation.site is not None
    assert cause.creation.site.line == _line("m := map[string]int{}")
    assert cause.creation.how == "in the same function" and not cause.creation.sized
    assert cause.rule == "MG002 missing-size-hint"
    assert any("no size hint" in a and "4.5 KiB" in a for a in cause.advice)
    # Returned to the caller: no pool.
    assert not any("sync.Pool" in a for a in cause.advice)


def test_made_anew_on_every_pass_of_a_loop(causes: dict[str, Cause]) -> None:
    cause = causes["example.com/p.batches"]
    assert cause.creation is not None and cause.creation.site is not None
    assert cause.creation.site.line == _line("seen = make(map[string]bool)")
    assert cause.creation.loop_line == _line("for _, batch := range all")
    assert any("clear()" in a for a in cause.advice)
    assert cause.rule is not None and cause.rule.startswith("MG001")


def test_field_set_in_a_constructor(causes: dict[str, Cause]) -> None:
    cause = causes["example.com/p.(*Store).Add"]
    assert cause.creation is not None and cause.creation.site is not None
    assert cause.creation.site.line == _line("return &Store{index:")
    assert cause.creation.how == "field index, set in NewStore"


def test_made_by_the_caller(causes: dict[str, Cause]) -> None:
    cause = causes["example.com/p.fill"]
    assert cause.creation is not None and cause.creation.site is None
    assert cause.creation.how == "by the caller"
    assert cause.advice and "size it where it is made" in cause.advice[0]


def test_sized_too_small_and_kept_in_the_function(causes: dict[str, Cause]) -> None:
    cause = causes["example.com/p.count"]
    assert cause.creation is not None and cause.creation.sized
    assert any("raise it" in a for a in cause.advice)
    assert any("sync.Pool" in a for a in cause.advice)


def test_no_chain_through_a_source_that_does_not_match(tmp_path: Path) -> None:
    (tmp_path / "p.go").write_text(GO)
    # The profiled build had byName elsewhere: its line is in another function here.
    frame = ("example.com/p.byName", "/b/p.go", GROWTH["example.com/p.fill"], 0x10)
    data = build(HEAP_TYPES, [Stack([frame], [1, 4608, 0, 0], 4608)], default="alloc_space")
    sources = SourceFiles(tmp_path)
    result = attribute_profile(parse_profile(data, "p"), sources)
    assert cause_chain(result, sources) == ()
    assert [cost.function for cost in result.unmatched] == ["example.com/p.byName"]


def test_the_command_prints_and_writes_the_chain(
        tmp_path: Path, causes: dict[str, Cause], capsys: pytest.CaptureFixture[str]) -> None:
    profile = tmp_path / "p.pb.gz"
    frame = ("example.com/p.byName", "/b/p/p.go", GROWTH["example.com/p.byName"], 0x10)
    profile.write_bytes(build(HEAP_TYPES, [Stack([frame], [1, 4608, 0, 0], 4608)],
                              default="alloc_space"))
    assert main(["profile", str(profile), "--source", str(tmp_path), "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    (cause,) = document["causes"]
    assert cause["creation"]["line"] == _line("m := map[string]int{}")
    assert cause["rule"] == "MG002 missing-size-hint"
    assert main(["profile", str(profile), "--source", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cause: p.go:" in out and "advice:" in out and "MG002" in out
