"""The annotated lint corpus itself: it compiles, and its annotations are well-formed and plenty.

The corpus (tests/fixtures/corpus, and corpus_go120 for `go 1.20`) is what the lint rules are
measured against; see tests/fixtures/corpus/README.md for the annotation format.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from mapguard.gotool import GoToolchain, run_go
from mapguard.lint.registry import ALL_RULES

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "corpus"
CORPUS_GO120 = FIXTURES / "corpus_go120"
MODULES = [CORPUS, CORPUS_GO120]

# Rules that fire on source alone (the evidence-only ones need a profile, not an annotation).
KNOWN_CODES = {rule.code for rule in ALL_RULES if not rule.evidence_only}
SINGLE_GOROUTINE_RULES = ("MG001", "MG002", "MG003", "MG010")
MIN_POSITIVES = 25

# Anything that mentions `want` in a line comment must be one of the two documented shapes.
WANT_MENTION = re.compile(r"//\s*want\b")
WANT_TRAILING = re.compile(r"^\s*\S.*//\s*want((?:\s+MG\d{3})+)\s*$")
WANT_NEXT = re.compile(r"^\s*//\s*want-next((?:\s+MG\d{3})+)\s*$")

pytestmark = pytest.mark.slow


def _annotations(module: Path) -> list[tuple[Path, int, str]]:
    """(file, annotated line, code) for every want annotation of a module."""
    found: list[tuple[Path, int, str]] = []
    for path in sorted(module.rglob("*.go")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not WANT_MENTION.search(line):
                continue
            if match := WANT_NEXT.match(line):
                target = number + 1
                assert target <= len(lines) and lines[target - 1].strip(), (
                    f"{path}:{number}: want-next must be directly above a non-empty line"
                )
            elif match := WANT_TRAILING.match(line):
                target = number
            else:
                raise AssertionError(f"{path}:{number}: malformed want annotation: {line.strip()}")
            found.extend((path, target, code) for code in match.group(1).split())
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_corpus_module_vets(module: Path, go_toolchain: GoToolchain) -> None:
    proc = run_go(["vet", "./..."], cwd=module, toolchain=go_toolchain, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_want_codes_are_known_rules(module: Path) -> None:
    annotations = _annotations(module)
    assert annotations, f"{module} has no annotations"
    unknown = [f"{p}:{line}: {code}" for p, line, code in annotations if code not in KNOWN_CODES]
    assert not unknown, unknown
    duplicated = [key for key, n in Counter(annotations).items() if n > 1]
    assert not duplicated, f"a code annotated twice on one line: {duplicated}"


def test_enough_positives_per_rule() -> None:
    counts = Counter(code for _, _, code in _annotations(CORPUS))
    short = {rule: counts[rule] for rule in SINGLE_GOROUTINE_RULES if counts[rule] < MIN_POSITIVES}
    assert not short, f"fewer than {MIN_POSITIVES} positives: {short}"


def test_go120_corpus_has_no_clear_advice() -> None:
    # Under `go 1.20` the rules whose only advice is clear() (MG001, MG003) must stay silent;
    # MG006 still reports, advising the delete loop.
    codes = {code for _, _, code in _annotations(CORPUS_GO120)}
    assert not codes & {"MG001", "MG003"}
    assert "MG006" in codes
    go_mod = (CORPUS_GO120 / "go.mod").read_text(encoding="utf-8")
    assert re.search(r"^go 1\.20\s*$", go_mod, re.MULTILINE)
