"""One finding per problem: what the engine does when two rules report the same code.

A rule may declare that it *supersedes* another (`Rule.supersedes`): a finding of the other
rule that lies inside this rule's reported node is the same problem seen from a weaker angle,
and only the stronger finding is kept (MG001's "reuse the map with clear" makes MG002's "size
the new map" moot on the same statement). Findings of different rules that share a line and
still both stand give different advice about that code: neither keeps its automatic fix, so
that `--fix` never settles between them. A rule that fires only on a profile's evidence
(`Rule.evidence_only`) yields to any other rule's finding on its line: that finding carries
the evidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from mapguard.lint.rule import Finding, Rule


def one_finding_per_problem(findings: Sequence[Finding], rules: Iterable[Rule]
                            ) -> list[Finding]:
    rules = list(rules)
    superseded_by = {rule.code: set(rule.supersedes) for rule in rules if rule.supersedes}
    evidence_only = {rule.code for rule in rules if rule.evidence_only}
    by_file: dict[Path, list[Finding]] = defaultdict(list)
    for finding in findings:
        by_file[finding.path].append(finding)
    kept: list[Finding] = []
    for same_file in by_file.values():
        if len(same_file) == 1:
            kept.extend(same_file)
            continue
        standing = [f for f in same_file if not _superseded(f, same_file, superseded_by)
                    and not _yields(f, same_file, evidence_only)]
        kept.extend(_without_conflicting_fixes(standing))
    return kept


def _superseded(finding: Finding, others: list[Finding],
                superseded_by: dict[str, set[str]]) -> bool:
    return any(finding.rule in superseded_by.get(other.rule, ()) and _inside(finding, other)
               for other in others if other is not finding)


def _yields(finding: Finding, others: list[Finding], evidence_only: set[str]) -> bool:
    return finding.rule in evidence_only and any(
        other.rule not in evidence_only and other.line <= finding.line <= other.end_line
        for other in others)


def _inside(inner: Finding, outer: Finding) -> bool:
    return ((outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


def _without_conflicting_fixes(findings: list[Finding]) -> Iterable[Finding]:
    for finding in findings:
        if finding.fix is not None and any(
            other.rule != finding.rule and other.line <= finding.end_line
            and finding.line <= other.end_line
            for other in findings
        ):
            yield replace(finding, fix=None)
        else:
            yield finding
