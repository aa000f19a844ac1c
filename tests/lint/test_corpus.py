"""Every rule against the annotated corpus: each `// want` found, nothing else reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.registry import ALL_RULES
from mapguard.lint.results import LintResult

from .corpus import CORPORA, expectations, score


@pytest.fixture(scope="module", params=CORPORA, ids=lambda p: p.name)
def corpus(request: pytest.FixtureRequest) -> tuple[Path, LintResult]:
    root: Path = request.param
    return root, lint([f"{root}/..."], LintOptions(jobs=1))


@pytest.mark.parametrize("rule", [rule.code for rule in ALL_RULES])
def test_rule_matches_corpus_annotations(corpus: tuple[Path, LintResult], rule: str) -> None:
    root, result = corpus
    assert not result.errors, result.errors
    result_score = score(rule, expectations(root), result.findings)
    def show(items: tuple[tuple[Path, int, str], ...]) -> list[str]:
        return [f"{path.relative_to(root)}:{line}" for path, line, _ in items]

    assert not result_score.false_positives, f"unexpected: {show(result_score.false_positives)}"
    assert not result_score.false_negatives, f"missed: {show(result_score.false_negatives)}"


def test_corpus_is_not_trivially_small() -> None:
    wanted = expectations(CORPORA[0])
    # The evidence-only rules need a profile: tests/lint/test_profile_lint.py measures them.
    for rule in (r for r in ALL_RULES if not r.evidence_only):
        assert sum(1 for e in wanted if e[2] == rule.code) >= 20, rule.code


@pytest.mark.parametrize("root", CORPORA, ids=lambda p: p.name)
def test_a_rules_findings_do_not_depend_on_the_others_selected(root: Path) -> None:
    # Fewer rules parse fewer function bodies up front; an analysis that walks a body it was
    # not given complete (a goroutine's `wg.Done()`) used to answer differently.
    whole = lint([f"{root}/..."], LintOptions(jobs=1))
    for rule in (r for r in ALL_RULES if not r.evidence_only):
        alone = lint([f"{root}/..."], LintOptions(jobs=1, rules=(rule,)))
        assert {(f.path, f.line) for f in alone.findings if f.rule == rule.code} == {
            (f.path, f.line) for f in whole.findings if f.rule == rule.code}, rule.code
