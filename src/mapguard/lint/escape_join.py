"""`mapguard lint --escape`: each finding next to the compiler's escape verdict for its map.

The join is by site: the map allocation on the finding's line at or after its column (MG001's
assignment holds its `make`, MG002 points at it). Findings without a map allocation on their
line are left without a verdict rather than paired with a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mapguard.evidence.escape_run import escape_facts_for, lookup_escape
from mapguard.evidence.site import Site
from mapguard.formats.escape import EscapeFact, Verdict
from mapguard.gotool import GoToolchain
from mapguard.lint.rule import Finding

Annotations = dict[Finding, EscapeFact]

_SAYS = {
    Verdict.STACK: "the compiler keeps this map on the stack",
    Verdict.HEAP: "the compiler puts this map on the heap",
    Verdict.MOVED: "the compiler moves the map variable to the heap",
}


def escape_annotations(findings: Sequence[Finding], targets: Sequence[str],
                       toolchain: GoToolchain | None = None) -> Annotations:
    """Build the packages of `targets` with -gcflags=-m=2 and pair findings with verdicts."""
    if not findings:
        return {}
    facts = escape_facts_for(targets, toolchain=toolchain)
    found: Annotations = {}
    for finding in findings:
        fact = lookup_escape(facts, Site(str(finding.path), finding.line, finding.column))
        if fact is not None:
            found[finding] = fact
    return found


def describe(fact: EscapeFact) -> str:
    why = fact.why
    return f"{_SAYS[fact.verdict]} ({fact.expr})" + (f": {why}" if why else "")


def to_json(fact: EscapeFact) -> dict[str, Any]:
    return {"verdict": str(fact.verdict), "expr": fact.expr, "why": fact.why}
