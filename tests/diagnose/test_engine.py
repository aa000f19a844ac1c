"""The diagnosis engine on hand-made evidence: joins, ranking, thresholds, confidence, and
what it says when evidence is missing (it never guesses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.bundle.evidence import (
    CostEvidence,
    EscapeEvidence,
    EscapeSite,
    GcEvidence,
    LintEvidence,
    LintFinding,
    SiteValue,
)
from mapguard.diagnose.engine import WORK_INSIDE_A_CALL, LabelEvidence, diagnose
from mapguard.diagnose.knowledge import load_knowledge
from mapguard.evidence.site import Site

SERVICE = """package svc

type Server struct{ index map[string]int }

func (s *Server) Put(k string) { s.index[k] = 1 }

func Collect(rows []string, keep func(string) bool) int {
	seen := make(map[string]bool)
	for _, r := range rows {
		if keep(r) {
			seen[r] = true
		}
	}
	return len(seen)
}

func Batches(groups [][]string) int {
	n := 0
	var m map[string]bool
	for _, g := range groups {
		m = make(map[string]bool, 4)
		for _, k := range g {
			m[k] = true
		}
		n += len(m)
	}
	return n
}

func Fill(xs []string, into map[string]int) {
	for _, x := range xs {
		into[x]++
	}
}

func NewServer() *Server {
	return &Server{index: make(map[string]int)}
}
"""
# Lines of SERVICE (1-based).
PUT_INSERT, COLLECT_MAKE, KEEP_CALL, COLLECT_INSERT = 5, 8, 10, 11
BATCH_MAKE, BATCH_INSERT, FILL_INSERT, SERVER_MAKE = 21, 23, 32, 37
KNOWLEDGE = load_knowledge()


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "svc.go").write_text(SERVICE)
    return tmp_path


def _site(line: int, function: str = "svc.F") -> Site:
    # As a profile names it: the build machine's path.
    return Site("/build/machine/src/svc/svc.go", line, 0, function)


def _allocation(sites: list[tuple[int, str, int]], total: int = 10_000,
                requests: int | None = None) -> CostEvidence:
    values = tuple(SiteValue(_site(line), op, value) for line, op, value in sites)
    by_op: dict[str, int] = {}
    for value in values:
        by_op[value.op] = by_op.get(value.op, 0) + value.value
    return CostEvidence("profiles/x.allocs.pb.gz", "allocs", "bytes", total,
                        sum(v.value for v in values), by_op, values, requests=requests)


def _gc(percent: float | None = 10.0) -> GcEvidence:
    return GcEvidence("gc/x.log", 20, 10.0, percent, "window", 0.5, 1.0, 2.0, None, ())


def _lint(tree: Path, rule: str, line: int) -> LintEvidence:
    return LintEvidence("lint/x.json", (LintFinding(rule, "name", "warning",
                                                    str(tree / "svc" / "svc.go"), line, 2,
                                                    "message"),), 1)


def test_growth_without_lint_is_found_from_the_profile_and_the_source(tree: Path) -> None:
    evidence = LabelEvidence("x", tree, allocation=_allocation(
        [(COLLECT_INSERT, "grow", 4_000), (PUT_INSERT, "grow", 3_000)], requests=100),
        gc=_gc(10.0))
    result = diagnose(evidence, KNOWLEDGE)
    (found,) = result.causes
    assert found.cause.id == "map-grown-per-call"
    assert found.display == f"svc/svc.go:{COLLECT_MAKE}"  # where the fix goes
    assert found.confidence == "medium"  # measured, linked by reading the source, no lint
    assert found.cost is not None and found.cost.share == pytest.approx(0.4)
    assert found.cost.gc_cpu_percent == pytest.approx(4.0)  # 40 % of the bytes x 10 % GC CPU
    assert found.cost.per_request == pytest.approx(40.0)
    assert {e.kind for e in found.evidence} == {"source", "allocs"}
    # The field's growth is a long-lived map: followed to its constructor, measured, but no
    # cause claims it.
    (other,) = result.unexplained
    assert other.display == f"svc/svc.go:{SERVER_MAKE}" and "field index" in other.why
    # Its constructor is known, so reading library frames is no step to take.
    assert not any("library frames" in step for step in result.next_steps)


def test_map_work_inside_a_call_says_to_read_the_library_frames(tree: Path) -> None:
    evidence = LabelEvidence("x", tree, allocation=_allocation([(KEEP_CALL, "grow", 4_000)]),
                             gc=_gc())
    result = diagnose(evidence, KNOWLEDGE)
    assert result.causes == ()
    (inside,) = result.unexplained
    assert inside.display == f"svc/svc.go:{KEEP_CALL}" and inside.why == WORK_INSIDE_A_CALL
    assert any("library frames" in step for step in result.next_steps)


def test_a_lint_finding_and_its_measured_map_meet_at_the_creation(tree: Path) -> None:
    evidence = LabelEvidence(
        "x", tree, lint=(_lint(tree, "MG001", BATCH_MAKE),),
        allocation=_allocation([(BATCH_INSERT, "grow", 900), (BATCH_MAKE, "create", 300),
                                (COLLECT_INSERT, "grow", 2_000)]),
        escape=(EscapeEvidence("escape/x.json", (EscapeSite(
            Site(str(tree / "svc" / "svc.go"), BATCH_MAKE, 7), "make(map[string]bool, 4)",
            "heap", f"m escapes (assign at {tree}/svc/svc.go:{BATCH_MAKE}:7)"),)),),
        gc=_gc())
    result = diagnose(evidence, KNOWLEDGE)
    assert [d.cause.id for d in result.causes] == ["map-grown-per-call",
                                                   "rebuild-instead-of-clear"]
    rebuilt = result.causes[1]
    assert rebuilt.confidence == "high"
    assert rebuilt.cost is not None and rebuilt.cost.value == 1_200  # growth and creation
    assert {s.site.line for s in rebuilt.sites} == {BATCH_INSERT, BATCH_MAKE}
    assert {e.kind for e in rebuilt.evidence} == {"lint", "source", "escape", "allocs"}
    (escaped,) = [e for e in rebuilt.evidence if e.kind == "escape"]
    assert f"(m escapes (assign at svc/svc.go:{BATCH_MAKE}:7))" in escaped.statement
    impacts = [d.cost.impact for d in result.causes if d.cost]
    assert impacts == sorted(impacts, reverse=True)


def test_threshold_moves_a_measured_cause_below_it(tree: Path) -> None:
    evidence = LabelEvidence("x", tree, allocation=_allocation(
        [(COLLECT_INSERT, "grow", 50)], total=10_000))
    assert diagnose(evidence, KNOWLEDGE, threshold=0.01).causes == ()
    (below,) = diagnose(evidence, KNOWLEDGE, threshold=0.01).below
    assert below.cause.id == "map-grown-per-call"
    assert [d.cause.id for d in diagnose(evidence, KNOWLEDGE, threshold=0.001).causes] == \
        ["map-grown-per-call"]


def test_without_gc_it_ranks_by_bytes_and_asks_for_the_gc_trace(tree: Path) -> None:
    evidence = LabelEvidence("x", tree, allocation=_allocation([(COLLECT_INSERT, "grow", 500)]))
    result = diagnose(evidence, KNOWLEDGE)
    assert result.ranked_by == "share of the measured resource"
    assert result.causes[0].cost is not None and result.causes[0].cost.gc_cpu_percent is None
    assert any("GODEBUG=gctrace=1" in step for step in result.next_steps)


def test_lint_alone_names_no_cost_and_says_what_to_measure(tree: Path) -> None:
    evidence = LabelEvidence("x", tree, lint=(_lint(tree, "MG002", COLLECT_MAKE),
                                              _lint(tree, "MG004", PUT_INSERT)))
    result = diagnose(evidence, KNOWLEDGE)
    assert result.causes == () and result.below == ()
    (unmeasured,) = result.unmeasured
    assert unmeasured.cause.rule == "MG002" and unmeasured.confidence == "static"
    assert unmeasured.cost is None
    (risk,) = result.risks
    assert risk.cause.rule == "MG004"
    assert any(step.startswith("collect an allocation profile") for step in result.next_steps)
    assert any("MG002" in step for step in result.next_steps)


def test_without_source_the_sites_stay_where_the_profile_put_them(tmp_path: Path) -> None:
    evidence = LabelEvidence("x", None, allocation=_allocation([(COLLECT_INSERT, "grow", 900)]))
    result = diagnose(evidence, KNOWLEDGE)
    assert result.causes == ()  # no source: nothing says which map it is, so no cause
    (unexplained,) = result.unexplained
    assert unexplained.display.endswith(f"svc.go:{COLLECT_INSERT}")
    assert any("--source" in step for step in result.next_steps)


def test_no_evidence_at_all_only_lists_what_to_collect() -> None:
    result = diagnose(LabelEvidence("empty"), KNOWLEDGE)
    assert (result.causes, result.risks, result.unexplained) == ((), (), ())
    assert len(result.next_steps) >= 2
