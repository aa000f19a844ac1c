"""Read the annotated lint corpus (tests/fixtures/corpus*/README.md) and score findings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mapguard.lint.rule import Finding

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CORPORA = (FIXTURES / "corpus", FIXTURES / "corpus_go120")

_TRAILING = re.compile(r"//\s*want((?:\s+MG\d{3})+)\s*$")
_NEXT_LINE = re.compile(r"^\s*//\s*want-next((?:\s+MG\d{3})+)\s*$")

Expectation = tuple[Path, int, str]  # (file, line, rule)


def expectations(root: Path) -> set[Expectation]:
    wanted: set[Expectation] = set()
    for path in sorted(root.rglob("*.go")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines, start=1):
            if match := _NEXT_LINE.match(text):
                wanted.update((path, number + 1, code) for code in match.group(1).split())
            elif match := _TRAILING.search(text):
                wanted.update((path, number, code) for code in match.group(1).split())
    return wanted


@dataclass(frozen=True, slots=True)
class Score:
    rule: str
    true_positives: int
    false_positives: tuple[Expectation, ...]
    false_negatives: tuple[Expectation, ...]

    @property
    def precision(self) -> float:
        found = self.true_positives + len(self.false_positives)
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + len(self.false_negatives)
        return self.true_positives / expected if expected else 1.0


def score(rule: str, wanted: set[Expectation], findings: Iterable[Finding]) -> Score:
    expected = {e for e in wanted if e[2] == rule}
    actual = {(f.path, f.line, f.rule) for f in findings if f.rule == rule}
    return Score(rule, len(expected & actual), tuple(sorted(actual - expected)),
                 tuple(sorted(expected - actual)))
