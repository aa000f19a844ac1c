"""The fixes of MG001-MG003 and MG010, checked against golden files as x/tools' analysistest
does: for every corpus file that the safe fixes change, `<file>.golden` holds the expected
text (and a golden next to a file that must stay unchanged says so). A changed fix is then a
reviewed diff. `MAPGUARD_UPDATE_GOLDENS=1` rewrites the golden files from the current fixes.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import pytest

from mapguard.lint.engine import LintOptions, lint
from mapguard.lint.fixes import plan_fixes
from mapguard.lint.registry import select_rules
from mapguard.lint.rule import Finding

from .corpus import CORPORA

RULES = select_rules(["MG001", "MG002", "MG003", "MG010"], [])
UPDATE = os.environ.get("MAPGUARD_UPDATE_GOLDENS") == "1"
# The packages written for these rules (others may hold such code too: their fixes are
# vetted by test_fixed_corpus_packages_still_vet, not compared here).
OWN_PACKAGES = ("mg001_", "mg002_", "mg003_", "mg010_", "review_mg001_", "review_mg002_",
                "review_mg003_", "review_mg010_")


def _fixed_texts(root: Path) -> dict[Path, bytes]:
    """Every file of the corpus after its safe fixes (unchanged files included)."""
    result = lint([f"{root}/..."], LintOptions(rules=RULES, jobs=1))
    by_file: dict[Path, list[Finding]] = defaultdict(list)
    for finding in result.findings:
        by_file[finding.path].append(finding)
    texts = {}
    for path in sorted(root.rglob("*.go")):
        if not path.parent.name.startswith(OWN_PACKAGES):
            continue
        plan = plan_fixes(path, path.read_bytes(), by_file.get(path, []))
        assert plan.parse_error is None, f"{path}: {plan.parse_error}"
        texts[path] = plan.fixed
    return texts


@pytest.mark.parametrize("root", CORPORA, ids=lambda p: p.name)
def test_safe_fixes_match_the_golden_files(root: Path) -> None:
    texts = _fixed_texts(root)
    mismatched, missing = [], []
    for path, fixed in texts.items():
        golden = path.with_name(path.name + ".golden")
        changed = fixed != path.read_bytes()
        if UPDATE and (changed or golden.exists()):
            golden.write_bytes(fixed)
            continue
        if golden.exists():
            if golden.read_bytes() != fixed:
                mismatched.append(str(path.relative_to(root)))
        elif changed:
            missing.append(str(path.relative_to(root)))
    assert not missing, f"fixed without a golden file: {missing}"
    assert not mismatched, f"fixes differ from the golden files: {mismatched}"


def test_goldens_belong_to_corpus_files() -> None:
    for root in CORPORA:
        for golden in root.rglob("*.go.golden"):
            assert golden.with_suffix("").exists(), golden
